//! The chat history as fixed-height rows, so `ScrollArea::show_rows` only lays
//! out what is visible: smooth with 100,000 messages.
//!
//! A message becomes one row per wrapped line (bubbles are drawn as stacked
//! segments); a day separator and each integrity event take one row. Rows are
//! rebuilt only when the timeline changes, never per frame.

use cairn_core::client::TimelineItem;

use crate::clock::day_of;

/// Characters per wrapped line of a message.
pub const WRAP: usize = 64;

/// One fixed-height row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    /// "Today", "Yesterday" or a date.
    Day(i64),
    /// An integrity event (index into the items).
    Event(usize),
    /// A line of a message.
    Line {
        /// Index into the items.
        item: usize,
        /// Byte range of the line in the message body.
        start: u32,
        /// End of that range.
        end: u32,
        /// First line of the message (rounded top corners).
        first: bool,
        /// Last line (rounded bottom, shows time and status).
        last: bool,
    },
}

/// The open conversation.
#[derive(Debug, Default)]
pub struct Timeline {
    /// Contact name.
    pub name: String,
    /// Items as the core returned them.
    pub items: Vec<TimelineItem>,
    /// Rows derived from `items`.
    pub rows: Vec<Row>,
}

impl Timeline {
    /// Builds rows for `items`.
    pub fn new(name: String, items: Vec<TimelineItem>) -> Self {
        let rows = build_rows(&items);
        Self { name, items, rows }
    }

    /// Row of the first line of the message with this row id.
    pub fn row_of_message(&self, id: i64) -> Option<usize> {
        self.rows.iter().position(|r| match r {
            Row::Line {
                item, first: true, ..
            } => {
                matches!(self.items.get(*item), Some(TimelineItem::Message(m)) if m.id == id)
            }
            _ => false,
        })
    }
}

/// Day separators, event rows and wrapped message lines.
pub fn build_rows(items: &[TimelineItem]) -> Vec<Row> {
    let mut rows = Vec::with_capacity(items.len() + items.len() / 4 + 8);
    let mut day = None;
    for (i, item) in items.iter().enumerate() {
        let d = day_of(item.at_ms());
        if day != Some(d) {
            rows.push(Row::Day(d));
            day = Some(d);
        }
        match item {
            TimelineItem::Event(_) => rows.push(Row::Event(i)),
            TimelineItem::Message(m) => {
                let lines = wrap(&m.body);
                let n = lines.len();
                for (k, (start, end)) in lines.into_iter().enumerate() {
                    rows.push(Row::Line {
                        item: i,
                        start: start as u32,
                        end: end as u32,
                        first: k == 0,
                        last: k + 1 == n,
                    });
                }
            }
        }
    }
    rows
}

/// Byte ranges of the lines of `text`: split at newlines, then every `WRAP`
/// characters (at the last space if there is one). Always at least one line.
pub fn wrap(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split('\n') {
        let mut start = 0;
        let bytes: Vec<(usize, char)> = line.char_indices().collect();
        while bytes.len() - start > WRAP {
            let window = &bytes[start..start + WRAP];
            let cut = window
                .iter()
                .rposition(|(_, c)| *c == ' ')
                .filter(|p| *p > 0)
                .map_or(start + WRAP, |p| start + p + 1);
            let (from, _) = bytes[start];
            let (to, _) = bytes[cut];
            out.push((offset + from, offset + to));
            start = cut;
        }
        let from = bytes.get(start).map_or(line.len(), |(b, _)| *b);
        out.push((offset + from, offset + line.len()));
        offset += line.len() + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::store::{ContactId, Direction, MessageRecord, MessageStatus};

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
    fn wraps_long_lines_and_newlines() {
        let text = format!("{}\nshort", "word ".repeat(30));
        let lines = wrap(&text);
        assert!(lines.len() >= 3);
        let rebuilt: Vec<&str> = lines.iter().map(|(a, b)| &text[*a..*b]).collect();
        assert_eq!(*rebuilt.last().unwrap(), "short");
        assert!(rebuilt.iter().all(|l| l.chars().count() <= WRAP));
        assert_eq!(wrap(""), vec![(0, 0)]);
        let unicode = "é".repeat(100);
        for (a, b) in wrap(&unicode) {
            assert!(unicode.is_char_boundary(a) && unicode.is_char_boundary(b));
        }
    }

    #[test]
    fn day_separators_between_days() {
        let day = 86_400_000;
        let items = vec![msg(1, day, "a"), msg(2, day + 5, "b"), msg(3, 2 * day, "c")];
        let t = Timeline::new("x".into(), items);
        assert_eq!(t.rows.len(), 5);
        assert!(matches!(t.rows[0], Row::Day(1)));
        assert!(matches!(t.rows[3], Row::Day(2)));
        assert_eq!(t.row_of_message(3), Some(4));
    }
}
