//! Layout of a conversation as variable-height blocks.
//!
//! A block is a day separator, an integrity event or one message bubble.
//! Block heights come from measuring the text with the font's glyph widths
//! and wrapping at spaces. A layout is made once per width and then only
//! extended (new items at the bottom) or patched (one bubble whose status
//! changed): never rebuilt per frame or per message. Running tops let the
//! chat view draw only the blocks in view (binary search), however long the
//! history is.

use std::collections::HashMap;

use cairn_core::client::TimelineItem;
use cairn_core::store::Direction;
use egui::FontId;

use super::format::meta_text;
use crate::clock::Zone;

/// Horizontal padding inside a bubble.
pub const PAD_X: f32 = 12.0;
/// Vertical padding inside a bubble.
pub const PAD_Y: f32 = 7.0;
/// Space between bubbles of different senders (or after a separator).
pub const GAP: f32 = 10.0;
/// Space between consecutive bubbles of the same sender.
pub const GAP_GROUPED: f32 = 3.0;
/// Height of a day separator.
pub const DAY_HEIGHT: f32 = 34.0;
/// Height of an integrity event line.
pub const EVENT_HEIGHT: f32 = 26.0;
/// Size of the time and status text inside a bubble.
pub const META_SIZE: f32 = 11.0;

/// One drawable block of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// "Today", "Yesterday" or a date (local day number).
    Day(i64),
    /// An integrity event (index into the items).
    Event(usize),
    /// A message bubble.
    Message {
        /// Index into the items.
        item: usize,
        /// Byte ranges of the wrapped lines of the body.
        lines: Vec<(u32, u32)>,
        /// Width of the widest line, in points.
        text_width: f32,
        /// Time and status go on a line of their own (the last line is too wide).
        meta_below: bool,
        /// Space above the bubble.
        gap: f32,
    },
}

/// Layout of the whole window of history for one width.
#[derive(Default)]
pub struct Layout {
    /// Width the layout was made for.
    pub width: f32,
    /// Local day of "now" when laid out ("Today" labels).
    pub today: i64,
    /// The blocks, oldest first.
    pub blocks: Vec<Block>,
    /// Top of each block, plus the total height at the end (`blocks.len() + 1` entries).
    pub tops: Vec<f32>,
    /// Height of a body text line.
    pub line_height: f32,
    /// Width of the widest bubble text area.
    pub max_text: f32,
    /// Items laid out so far (the next extension starts here).
    pub(crate) items: usize,
    /// Where the next block goes, and what it follows (for separators and grouping).
    end: f32,
    last_day: Option<i64>,
    last_dir: Option<Direction>,
}

impl Layout {
    /// Total height of the content.
    pub fn height(&self) -> f32 {
        self.tops.last().copied().unwrap_or(0.0)
    }

    /// Indices of the blocks overlapping `y0..y1` (content coordinates).
    pub fn visible(&self, y0: f32, y1: f32) -> std::ops::Range<usize> {
        let n = self.blocks.len();
        if n == 0 {
            return 0..0;
        }
        let first = self.tops[1..=n].partition_point(|bottom| *bottom <= y0);
        let end = self.tops[..n].partition_point(|top| *top < y1);
        first.min(n)..end.max(first.min(n))
    }

    /// Content-space top and bottom of the block of message `item`.
    pub fn bounds_of_item(&self, item: usize) -> Option<(f32, f32)> {
        let b = self.block_of_item(item)?;
        Some((*self.tops.get(b)?, *self.tops.get(b + 1)?))
    }

    fn block_of_item(&self, item: usize) -> Option<usize> {
        self.blocks.iter().position(
            |b| matches!(b, Block::Message { item: i, .. } | Block::Event(i) if *i == item),
        )
    }
}

/// What measuring needs: fonts, the zone and cached glyph widths.
pub(crate) struct Measure<'a> {
    pub ctx: &'a egui::Context,
    pub zone: &'a Zone,
    pub widths: &'a mut HashMap<char, f32>,
}

/// Font of message text.
pub fn body_font(ctx: &egui::Context) -> FontId {
    ctx.global_style()
        .text_styles
        .get(&egui::TextStyle::Body)
        .cloned()
        .unwrap_or_else(|| FontId::proportional(14.0))
}

/// Widest bubble text area for a chat pane `width` points wide.
pub fn max_text_width(width: f32) -> f32 {
    ((width - 24.0) * 0.72).clamp(120.0, 600.0) - 2.0 * PAD_X
}

/// A new, empty layout for `width` (extend it with [`extend`]).
pub(crate) fn empty(ctx: &egui::Context, width: f32, today: i64) -> Layout {
    let body = body_font(ctx);
    Layout {
        width,
        today,
        line_height: ctx.fonts_mut(|f| f.row_height(&body)),
        max_text: max_text_width(width),
        tops: vec![GAP],
        ..Layout::default()
    }
}

/// Lays out `items[layout.items..]` after what is there.
pub(crate) fn extend(layout: &mut Layout, items: &[TimelineItem], m: &mut Measure<'_>) {
    let start = layout.items.min(items.len());
    if start == items.len() {
        return;
    }
    // The total-height entry is replaced by the new blocks' tops.
    layout.tops.pop();
    for (i, item) in items.iter().enumerate().skip(start) {
        let d = m.zone.day_of(item.at_ms());
        if layout.last_day != Some(d) {
            layout.tops.push(layout.end);
            layout.blocks.push(Block::Day(d));
            layout.end += DAY_HEIGHT;
            layout.last_day = Some(d);
            layout.last_dir = None;
        }
        layout.tops.push(layout.end);
        match item {
            TimelineItem::Event(_) => {
                layout.blocks.push(Block::Event(i));
                layout.end += EVENT_HEIGHT;
                layout.last_dir = None;
            }
            TimelineItem::Message(msg) => {
                let gap = if layout.last_dir == Some(msg.direction) {
                    GAP_GROUPED
                } else {
                    GAP
                };
                let (block, height) = message_block(layout, i, item, gap, m);
                layout.blocks.push(block);
                layout.end += height;
                layout.last_dir = Some(msg.direction);
            }
        }
    }
    layout.tops.push(layout.end + GAP);
    layout.items = items.len();
}

/// Lays out message `item` again where it is (its status changed, so its
/// time-and-status line did), moving the blocks below by the height change.
pub(crate) fn relayout_item(
    layout: &mut Layout,
    items: &[TimelineItem],
    item: usize,
    m: &mut Measure<'_>,
) {
    let Some(b) = layout.block_of_item(item) else {
        return;
    };
    let Some(Block::Message { gap, .. }) = layout.blocks.get(b) else {
        return;
    };
    let gap = *gap;
    let Some(it) = items.get(item) else {
        return;
    };
    let (block, height) = message_block(layout, item, it, gap, m);
    // The last block ends at `end`; its `tops` entry below is the total height.
    let bottom = if b + 1 < layout.blocks.len() {
        layout.tops.get(b + 1).copied()
    } else {
        Some(layout.end)
    };
    let (Some(top), Some(bottom)) = (layout.tops.get(b), bottom) else {
        return;
    };
    let delta = top + height - bottom;
    layout.blocks[b] = block;
    if delta.abs() > f32::EPSILON {
        for t in &mut layout.tops[b + 1..] {
            *t += delta;
        }
        layout.end += delta;
    }
}

/// A message's block and height.
fn message_block(
    layout: &Layout,
    i: usize,
    item: &TimelineItem,
    gap: f32,
    m: &mut Measure<'_>,
) -> (Block, f32) {
    let TimelineItem::Message(msg) = item else {
        return (Block::Event(i), EVENT_HEIGHT);
    };
    let body = body_font(m.ctx);
    let meta_font = FontId::proportional(META_SIZE);
    let max_text = layout.max_text;
    let widths = &mut *m.widths;
    let meta = meta_text(msg, m.zone);
    let (wrapped, meta_w) = m.ctx.fonts_mut(|fonts| {
        let wrapped = wrap_measured(&msg.body, max_text, &mut |c| {
            *widths
                .entry(c)
                .or_insert_with(|| fonts.glyph_width(&body, c))
        });
        let meta_w: f32 = meta.chars().map(|c| fonts.glyph_width(&meta_font, c)).sum();
        (wrapped, meta_w)
    });
    let meta_below = wrapped.last_width + 10.0 + meta_w > max_text;
    let text_width = wrapped.max_width.max(if meta_below {
        meta_w
    } else {
        wrapped.last_width + 10.0 + meta_w
    });
    let height = gap
        + wrapped.lines.len() as f32 * layout.line_height
        + 2.0 * PAD_Y
        + if meta_below { META_SIZE + 4.0 } else { 0.0 };
    (
        Block::Message {
            item: i,
            lines: wrapped.lines,
            text_width,
            meta_below,
            gap,
        },
        height,
    )
}

/// Wrapped lines of a text.
#[derive(Debug, Default, PartialEq)]
pub struct Wrapped {
    /// Byte ranges, one per line (at least one).
    pub lines: Vec<(u32, u32)>,
    /// Width of the widest line.
    pub max_width: f32,
    /// Width of the last line.
    pub last_width: f32,
}

/// Splits `text` at newlines, then wraps each paragraph at the last space
/// that keeps a line within `max` points (mid-word only when a single word is
/// wider than a line). Trailing spaces do not count towards a line's width.
pub fn wrap_measured(text: &str, max: f32, width: &mut impl FnMut(char) -> f32) -> Wrapped {
    let mut out = Wrapped::default();
    let push = |out: &mut Wrapped, start: usize, end: usize, w: f32| {
        out.lines.push((start as u32, end as u32));
        out.max_width = out.max_width.max(w);
        out.last_width = w;
    };
    let mut offset = 0;
    for para in text.split('\n') {
        let mut start = 0; // byte offset of the line in `para`
        let mut w = 0.0; // width of para[start..pos], trailing spaces included
        let mut trimmed_w = 0.0; // same without trailing spaces
        let mut trimmed_end = 0; // end of para[start..] without trailing spaces
        // Last break opportunity: (end of the text before the spaces, start of the next word,
        // width up to the end of the text, width up to the next word).
        let mut brk: Option<(usize, usize, f32, f32)> = None;
        for (pos, c) in para.char_indices() {
            let cw = width(c);
            if c == ' ' {
                if trimmed_end > start && brk.is_none_or(|b| b.0 != trimmed_end) {
                    brk = Some((trimmed_end, pos, trimmed_w, w));
                }
                w += cw;
                if let Some(b) = brk.as_mut()
                    && b.0 == trimmed_end
                {
                    b.1 = pos + 1;
                    b.3 = w;
                }
                continue;
            }
            if trimmed_w > 0.0 && w + cw > max {
                match brk.take() {
                    Some((end, next, end_w, next_w)) => {
                        push(&mut out, offset + start, offset + end, end_w);
                        start = next;
                        w -= next_w;
                    }
                    None => {
                        push(&mut out, offset + start, offset + pos, trimmed_w);
                        start = pos;
                        w = 0.0;
                    }
                }
            }
            w += cw;
            trimmed_w = w;
            trimmed_end = pos + c.len_utf8();
        }
        let end = if trimmed_end > start {
            trimmed_end
        } else {
            start
        };
        push(&mut out, offset + start, offset + end, trimmed_w.max(0.0));
        offset += para.len() + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines<'a>(text: &'a str, w: &Wrapped) -> Vec<&'a str> {
        w.lines
            .iter()
            .map(|(a, b)| &text[*a as usize..*b as usize])
            .collect()
    }

    #[test]
    fn wraps_at_spaces_within_the_width() {
        let mut unit = |_c: char| 1.0;
        let text = "the quick brown fox jumps over the lazy dog";
        let w = wrap_measured(text, 10.0, &mut unit);
        assert_eq!(
            lines(text, &w),
            ["the quick", "brown fox", "jumps over", "the lazy", "dog"]
        );
        assert_eq!(w.max_width, 10.0);
        assert_eq!(w.last_width, 3.0);
        // A word longer than a line is cut; newlines always break.
        let text = "abcdefghijklmno\nhi";
        let w = wrap_measured(text, 6.0, &mut unit);
        assert_eq!(lines(text, &w), ["abcdef", "ghijkl", "mno", "hi"]);
        assert_eq!(wrap_measured("", 5.0, &mut unit).lines, vec![(0, 0)]);
        // Every line fits and multi-byte text stays on char boundaries.
        let text = "é".repeat(40) + " ü " + &"ß".repeat(7);
        let w = wrap_measured(&text, 9.0, &mut unit);
        for (a, b) in &w.lines {
            assert!(text.is_char_boundary(*a as usize) && text.is_char_boundary(*b as usize));
            assert!(text[*a as usize..*b as usize].chars().count() <= 9);
        }
    }

    #[test]
    fn wide_glyphs_wrap_sooner() {
        let mut widths = |c: char| if c == 'W' { 3.0 } else { 1.0 };
        let w = wrap_measured("WWW iii WWW", 9.0, &mut widths);
        assert_eq!(w.lines.len(), 3);
        let w = wrap_measured("iii iii iii", 9.0, &mut widths);
        assert_eq!(w.lines.len(), 2);
    }

    #[test]
    fn visible_range_is_found_by_position() {
        let layout = Layout {
            blocks: vec![Block::Day(0), Block::Event(0), Block::Event(1)],
            tops: vec![0.0, 10.0, 30.0, 60.0],
            ..Layout::default()
        };
        assert_eq!(layout.visible(0.0, 5.0), 0..1);
        assert_eq!(layout.visible(12.0, 31.0), 1..3);
        assert_eq!(layout.visible(59.0, 100.0), 2..3);
        assert_eq!(layout.visible(70.0, 100.0), 3..3);
    }
}
