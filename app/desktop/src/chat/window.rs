//! The open conversation: a window of its history (newest pages first,
//! older pages loaded on demand), kept up to date by the backend's events
//! (a message added, a status raised) without reloading, and its layout.

use std::collections::HashMap;
use std::sync::Arc;

use cairn_core::client::TimelineItem;
use cairn_core::store::{ContactId, MessageRecord, MessageStatus, PageCursor};
use egui::Galley;

use super::layout::{self, Layout, Measure, body_font};
use crate::clock::Zone;

/// Laid-out text of one bubble, kept while it is on screen.
pub struct Rendered {
    /// One galley per wrapped line (colour applied when painting).
    pub lines: Vec<Arc<Galley>>,
    /// Time and status.
    pub meta: Arc<Galley>,
}

/// How much layout work the window did: what "one re-layout per message"
/// is checked against.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LayoutWork {
    /// Layouts made from scratch (first frame, width or font change, older page).
    pub full: u32,
    /// Extensions by new items at the bottom.
    pub appended: u32,
    /// Single bubbles laid out again (a status change).
    pub patched: u32,
}

/// The open conversation.
#[derive(Default)]
pub struct Timeline {
    /// Whose conversation.
    pub contact: ContactId,
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
    /// Messages whose status changed since the last frame (items to re-lay).
    changed: Vec<usize>,
    /// Layout work done so far.
    pub work: LayoutWork,
}

impl std::fmt::Debug for Timeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeline")
            .field("contact", &self.contact)
            .field("items", &self.items.len())
            .field("older", &self.older)
            .finish_non_exhaustive()
    }
}

impl Timeline {
    /// A fully loaded history (tests, benchmarks).
    pub fn new(contact: ContactId, items: Vec<TimelineItem>) -> Self {
        Self::page(contact, items, None)
    }

    /// The newest page(s); `older` says where more history starts.
    pub fn page(contact: ContactId, items: Vec<TimelineItem>, older: Option<PageCursor>) -> Self {
        Self {
            contact,
            items,
            older,
            ..Self::default()
        }
    }

    /// Adds an older page at the top (the layout is made again).
    pub fn prepend(&mut self, mut items: Vec<TimelineItem>, older: Option<PageCursor>) {
        self.prepended_from = self.layout.as_ref().map(Layout::height);
        items.append(&mut self.items);
        self.items = items;
        self.older = older;
        self.loading_older = false;
        self.invalidate();
    }

    /// Adds a new message or event at the bottom; the next frame lays out
    /// only that item. A message already shown (the same row) is ignored.
    pub fn push(&mut self, item: TimelineItem) {
        if let TimelineItem::Message(m) = &item
            && self.item_of_message(m.id).is_some()
        {
            return;
        }
        self.items.push(item);
    }

    /// Raises the status of our messages with these counters; the next frame
    /// lays out only those bubbles again. Returns how many changed.
    pub fn set_status(&mut self, counters: &[u64], status: MessageStatus) -> usize {
        let mut n = 0;
        for (i, item) in self.items.iter_mut().enumerate().rev() {
            if let TimelineItem::Message(m) = item
                && m.direction == cairn_core::store::Direction::Outgoing
                && counters.contains(&m.counter)
                && m.status < status
            {
                m.status = status;
                self.rendered.remove(&i);
                self.changed.push(i);
                n += 1;
                if n == counters.len() {
                    break;
                }
            }
        }
        n
    }

    /// Forgets the layout (data changed everywhere).
    pub fn invalidate(&mut self) {
        self.layout = None;
        self.rendered.clear();
        self.changed.clear();
    }

    /// Index of the message with this row id.
    pub fn item_of_message(&self, id: i64) -> Option<usize> {
        self.items
            .iter()
            .rposition(|i| matches!(i, TimelineItem::Message(m) if m.id == id))
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

    /// Brings the layout up to date for `width`: made from scratch when
    /// missing or stale (width, font, day), otherwise extended by new items
    /// and patched where a status changed. Returns it.
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
            self.invalidate();
        }
        let stale = self
            .layout
            .as_ref()
            .is_none_or(|l| (l.width - width).abs() > 0.5 || l.today != today);
        let mut measure = Measure {
            ctx,
            zone,
            widths: &mut self.widths,
        };
        if stale {
            self.rendered.clear();
            self.changed.clear();
            let mut fresh = layout::empty(ctx, width, today);
            layout::extend(&mut fresh, &self.items, &mut measure);
            self.layout = Some(fresh);
            self.work.full += 1;
        } else if let Some(l) = self.layout.as_mut() {
            for item in std::mem::take(&mut self.changed) {
                if item < l.items {
                    layout::relayout_item(l, &self.items, item, &mut measure);
                    self.work.patched += 1;
                }
            }
            if l.items < self.items.len() {
                layout::extend(l, &self.items, &mut measure);
                self.work.appended += 1;
            }
        }
        self.layout.get_or_insert_with(Layout::default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::layout::Block;
    use cairn_core::store::Direction;

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

    #[test]
    fn day_separators_follow_the_local_zone() {
        // 22:30 and 23:30 UTC on one day: the same day in UTC, two days at UTC+1.
        let day = 20_775 * 86_400_000;
        let items = vec![msg(1, day + 81_000_000, "a"), msg(2, day + 84_600_000, "b")];
        let days = |zone: Zone| {
            let ctx = egui::Context::default();
            let mut t = Timeline::new(ContactId(1), items.clone());
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

    fn layout_of(t: &mut Timeline, ctx: &egui::Context) -> (usize, f32) {
        let mut out = (0, 0.0);
        let mut frame = ctx.run_ui(Default::default(), |ui| {
            let l = t.ensure_layout(ui.ctx(), 600.0, &Zone::utc(), 0);
            out = (l.blocks.len(), l.height());
        });
        frame.textures_delta.clear();
        out
    }

    fn ours(id: i64, at: u64) -> TimelineItem {
        let TimelineItem::Message(mut m) = msg(id, at, "a reply that is long enough") else {
            unreachable!()
        };
        m.direction = Direction::Outgoing;
        m.status = MessageStatus::Pending;
        TimelineItem::Message(m)
    }

    #[test]
    fn new_items_extend_the_layout_and_a_status_patches_one_bubble() {
        let ctx = egui::Context::default();
        let day = 20_775 * 86_400_000;
        let mut t = Timeline::new(ContactId(1), vec![msg(1, day, "hi")]);
        let (blocks, h1) = layout_of(&mut t, &ctx);
        assert_eq!(
            (blocks, t.work.full),
            (2, 1),
            "a day separator and a bubble"
        );
        t.push(ours(2, day + 1_000));
        t.push(ours(2, day + 1_000));
        let (blocks, h2) = layout_of(&mut t, &ctx);
        assert_eq!(blocks, 3, "the same row twice is shown once");
        assert!(h2 > h1);
        assert_eq!(
            t.work,
            LayoutWork {
                full: 1,
                appended: 1,
                patched: 0
            }
        );
        assert_eq!(t.set_status(&[2], MessageStatus::Read), 1);
        assert_eq!(t.set_status(&[2], MessageStatus::Sent), 0, "never lowered");
        let (blocks, _) = layout_of(&mut t, &ctx);
        assert_eq!(blocks, 3);
        assert_eq!(
            t.work,
            LayoutWork {
                full: 1,
                appended: 1,
                patched: 1
            }
        );
        // The patched layout equals one made from scratch.
        let tops = t.layout().map(|l| l.tops.clone());
        t.invalidate();
        layout_of(&mut t, &ctx);
        assert_eq!(t.layout().map(|l| l.tops.clone()), tops);
        assert!(matches!(
            t.layout().map(|l| &l.blocks[2]),
            Some(Block::Message { item: 1, .. })
        ));
    }
}
