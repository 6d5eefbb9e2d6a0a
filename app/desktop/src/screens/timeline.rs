//! The open conversation: a window of its history (newest pages first, older
//! pages loaded on demand) and its layout as variable-height blocks.
//!
//! A block is a day separator, an integrity event or one message bubble.
//! Block heights come from measuring the text with the font's glyph widths
//! and wrapping at spaces, once per width change or new data — never per
//! frame — and their running tops let the chat view draw only the blocks in
//! view (binary search), however long the history is.

use std::collections::HashMap;
use std::sync::Arc;

use cairn_core::client::TimelineItem;
use cairn_core::store::{Direction, MessageRecord, PageCursor};
use egui::{FontId, Galley};

use crate::clock::Zone;

/// Messages per page asked from the backend.
pub const PAGE: usize = 200;
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
}

/// Laid-out text of one bubble, kept while it is on screen.
pub struct Rendered {
    /// One galley per wrapped line (colour applied when painting).
    pub lines: Vec<Arc<Galley>>,
    /// Time and status.
    pub meta: Arc<Galley>,
}

/// The open conversation.
#[derive(Default)]
pub struct Timeline {
    /// Contact name.
    pub name: String,
    /// Loaded items, oldest first.
    pub items: Vec<TimelineItem>,
    /// Where the next older page starts; `None` once everything is loaded.
    pub older: Option<PageCursor>,
    /// An older page was asked for and has not arrived yet.
    pub loading_older: bool,
    /// Content height before the last prepended page, so the view can keep
    /// what the user was reading in place.
    pub(crate) prepended_from: Option<f32>,
    pub(crate) layout: Option<Layout>,
    /// Frames drawn since loaded (the scroll position settles on the first ones).
    pub(crate) frames: u32,
    widths: HashMap<char, f32>,
    widths_key: (u32, u32),
    /// Text of bubbles drawn recently, by item index.
    pub(crate) rendered: HashMap<usize, Rendered>,
}

impl std::fmt::Debug for Timeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeline")
            .field("name", &self.name)
            .field("items", &self.items.len())
            .field("older", &self.older)
            .finish_non_exhaustive()
    }
}

impl Timeline {
    /// A fully loaded history (tests, benchmarks).
    pub fn new(name: String, items: Vec<TimelineItem>) -> Self {
        Self::page(name, items, None)
    }

    /// The newest page(s); `older` says where more history starts.
    pub fn page(name: String, items: Vec<TimelineItem>, older: Option<PageCursor>) -> Self {
        Self {
            name,
            items,
            older,
            ..Self::default()
        }
    }

    /// Adds an older page at the top.
    pub fn prepend(&mut self, mut items: Vec<TimelineItem>, older: Option<PageCursor>) {
        self.prepended_from = self.layout.as_ref().map(Layout::height);
        items.append(&mut self.items);
        self.items = items;
        self.older = older;
        self.loading_older = false;
        self.invalidate();
    }

    /// Forgets the layout (data changed).
    pub fn invalidate(&mut self) {
        self.layout = None;
        self.rendered.clear();
    }

    /// Index of the message with this row id.
    pub fn item_of_message(&self, id: i64) -> Option<usize> {
        self.items
            .iter()
            .position(|i| matches!(i, TimelineItem::Message(m) if m.id == id))
    }

    /// The message at `item`, if it is one.
    pub fn message(&self, item: usize) -> Option<&MessageRecord> {
        match self.items.get(item) {
            Some(TimelineItem::Message(m)) => Some(m),
            _ => None,
        }
    }

    /// The current layout, if made.
    pub fn layout(&self) -> Option<&Layout> {
        self.layout.as_ref()
    }

    /// Makes the layout for `width` if it is missing or stale; returns it.
    pub fn ensure_layout(
        &mut self,
        ctx: &egui::Context,
        width: f32,
        zone: &Zone,
        today: i64,
    ) -> &Layout {
        let key = (
            ctx.pixels_per_point().to_bits(),
            body_font(ctx).size.to_bits(),
        );
        if self.widths_key != key {
            self.widths.clear();
            self.widths_key = key;
            self.layout = None;
            self.rendered.clear();
        }
        let stale = self
            .layout
            .as_ref()
            .is_none_or(|l| (l.width - width).abs() > 0.5 || l.today != today);
        if stale {
            self.rendered.clear();
            let layout = build_layout(ctx, &self.items, &mut self.widths, width, zone, today);
            self.layout = Some(layout);
        }
        self.layout.get_or_insert_with(Layout::default)
    }
}

/// Font of message text.
pub fn body_font(ctx: &egui::Context) -> FontId {
    ctx.global_style()
        .text_styles
        .get(&egui::TextStyle::Body)
        .cloned()
        .unwrap_or_else(|| FontId::proportional(14.0))
}

/// Time (and, for ours, delivery status) shown in a bubble: when it arrived,
/// by our clock; when the sender's claimed time differs by more than five
/// minutes ([`MessageRecord::clock_differs`]), that too, marked.
pub fn meta_text(m: &MessageRecord, zone: &Zone) -> String {
    let time = zone.format_time(m.arrived_ms());
    if m.direction == Direction::Outgoing {
        format!("{time}  {}", super::chat::status_text(m.status))
    } else if m.clock_differs() {
        format!(
            "{time}  ⚠ sent {} by their clock",
            zone.format_datetime(m.sent_ms)
        )
    } else {
        time
    }
}

/// Widest bubble text area for a chat pane `width` points wide.
pub fn max_text_width(width: f32) -> f32 {
    ((width - 24.0) * 0.72).clamp(120.0, 600.0) - 2.0 * PAD_X
}

fn build_layout(
    ctx: &egui::Context,
    items: &[TimelineItem],
    widths: &mut HashMap<char, f32>,
    width: f32,
    zone: &Zone,
    today: i64,
) -> Layout {
    let body = body_font(ctx);
    let meta_font = FontId::proportional(META_SIZE);
    let max_text = max_text_width(width);
    ctx.fonts_mut(|fonts| {
        let line_height = fonts.row_height(&body);
        let mut meta_widths: HashMap<char, f32> = HashMap::new();
        let mut blocks = Vec::with_capacity(items.len() + 16);
        let mut tops = Vec::with_capacity(items.len() + 17);
        let mut y = 0.0;
        let mut day = None;
        let mut prev_dir: Option<Direction> = None;
        for (i, item) in items.iter().enumerate() {
            let d = zone.day_of(item.at_ms());
            if day != Some(d) {
                tops.push(y);
                blocks.push(Block::Day(d));
                y += DAY_HEIGHT;
                day = Some(d);
                prev_dir = None;
            }
            tops.push(y);
            match item {
                TimelineItem::Event(_) => {
                    blocks.push(Block::Event(i));
                    y += EVENT_HEIGHT;
                    prev_dir = None;
                }
                TimelineItem::Message(m) => {
                    let wrapped = wrap_measured(&m.body, max_text, &mut |c| {
                        *widths
                            .entry(c)
                            .or_insert_with(|| fonts.glyph_width(&body, c))
                    });
                    let meta_w: f32 = meta_text(m, zone)
                        .chars()
                        .map(|c| {
                            *meta_widths
                                .entry(c)
                                .or_insert_with(|| fonts.glyph_width(&meta_font, c))
                        })
                        .sum();
                    let meta_below = wrapped.last_width + 10.0 + meta_w > max_text;
                    let text_width = wrapped.max_width.max(if meta_below {
                        meta_w
                    } else {
                        wrapped.last_width + 10.0 + meta_w
                    });
                    let gap = if prev_dir == Some(m.direction) {
                        GAP_GROUPED
                    } else {
                        GAP
                    };
                    let lines = wrapped.lines.len() as f32;
                    y += gap
                        + lines * line_height
                        + 2.0 * PAD_Y
                        + if meta_below { META_SIZE + 4.0 } else { 0.0 };
                    blocks.push(Block::Message {
                        item: i,
                        lines: wrapped.lines,
                        text_width,
                        meta_below,
                        gap,
                    });
                    prev_dir = Some(m.direction);
                }
            }
        }
        tops.push(y + GAP);
        Layout {
            width,
            today,
            blocks,
            tops,
            line_height,
            max_text,
        }
    })
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
    use cairn_core::store::{ContactId, MessageStatus};

    fn msg(id: i64, at: u64, body: &str) -> TimelineItem {
        TimelineItem::Message(MessageRecord {
            id,
            contact: ContactId(1),
            direction: Direction::Incoming,
            counter: id as u64,
            body: body.into(),
            sent_ms: at,
            received_ms: Some(at),
            status: MessageStatus::Read,
            envelope_id: None,
        })
    }

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
    fn day_separators_follow_the_local_zone() {
        // 22:30 and 23:30 UTC on one day: the same day in UTC, two days at UTC+1.
        let day = 20_775 * 86_400_000;
        let items = vec![msg(1, day + 81_000_000, "a"), msg(2, day + 84_600_000, "b")];
        let days = |zone: Zone| {
            let ctx = egui::Context::default();
            let mut t = Timeline::new("x".into(), items.clone());
            let mut found = Vec::new();
            let mut out = ctx.run_ui(Default::default(), |ui| {
                let layout = t.ensure_layout(ui.ctx(), 600.0, &zone, 0);
                found = layout
                    .blocks
                    .iter()
                    .filter(|b| matches!(b, Block::Day(_)))
                    .cloned()
                    .collect();
            });
            out.textures_delta.clear();
            assert_eq!(t.item_of_message(2), Some(1));
            found
        };
        assert_eq!(days(Zone::utc()), [Block::Day(20_775)]);
        assert_eq!(
            days(Zone::fixed(3600)),
            [Block::Day(20_775), Block::Day(20_776)]
        );
    }

    #[test]
    fn a_claimed_time_far_from_arrival_is_shown_and_marked() {
        let zone = Zone::utc();
        let day = 20_775 * 86_400_000;
        let TimelineItem::Message(mut m) = msg(1, day + 3_600_000, "hi") else {
            unreachable!()
        };
        assert_eq!(meta_text(&m, &zone), "01:00");
        m.sent_ms = day - 86_400_000 + 7_200_000; // claims the day before
        assert_eq!(
            meta_text(&m, &zone),
            format!(
                "01:00  ⚠ sent {} by their clock",
                zone.format_datetime(m.sent_ms)
            )
        );
        assert!(meta_text(&m, &zone).contains("02:00"));
        // The bubble is laid out for the longer line, by arrival.
        let ctx = egui::Context::default();
        let mut t = Timeline::new("x".into(), vec![TimelineItem::Message(m)]);
        let mut out = ctx.run_ui(Default::default(), |ui| {
            let layout = t.ensure_layout(ui.ctx(), 300.0, &zone, 0);
            assert!(matches!(
                layout.blocks[..],
                [Block::Day(20_775), Block::Message { .. }]
            ));
        });
        out.textures_delta.clear();
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
