//! Read-only, paged access to a conversation and per-contact summaries.
//!
//! A UI that loads a whole 100,000-message history at start is slow to open
//! and holds all of it in memory. These queries walk the
//! `messages_by_arrival (contact_id, arrived_ms, id)` index from the newest end
//! with keyset cursors, so opening a chat reads one page whatever the history
//! size, and the contact list needs one short query per contact instead of
//! every timeline. Nothing here writes.

use rusqlite::OptionalExtension;

use super::{ContactId, Db, MessageRecord, StoreResult};
use crate::client::{Client, ClientResult, TimelineItem};

/// Position of a message in store order (arrival by our clock, then row id):
/// where the next older page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    /// Arrival time ([`MessageRecord::arrived_ms`], [`TimelineItem::at_ms`]) of
    /// the oldest message already loaded: events older than this belong to
    /// the next page.
    pub at_ms: u64,
    /// Its row id (breaks ties between equal times).
    pub id: i64,
}

/// One page of a conversation, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelinePage {
    /// Messages and integrity events in time order.
    pub items: Vec<TimelineItem>,
    /// Where the next older page starts; `None` once the start of the history is loaded.
    pub older: Option<PageCursor>,
}

/// What the contact list shows for one conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSummary {
    /// The conversation.
    pub contact: ContactId,
    /// Incoming, visible messages not yet shown to the user.
    pub unread: usize,
    /// The newest visible message.
    pub last: Option<MessageRecord>,
    /// Time of the newest item, message or integrity event (0 if none).
    pub last_at_ms: u64,
}

impl Db<'_> {
    /// Row ids of up to `limit` visible messages strictly older than `before`
    /// (or the newest ones), newest first.
    fn page_ids(
        &self,
        contact: ContactId,
        before: Option<PageCursor>,
        limit: usize,
    ) -> StoreResult<Vec<i64>> {
        let limit = limit.min(i64::MAX as usize) as i64;
        let ids = match before {
            None => {
                let mut stmt = self.conn.prepare_cached(
                    "SELECT id FROM messages WHERE contact_id = ?1 AND held = 0
                     ORDER BY arrived_ms DESC, id DESC LIMIT ?2",
                )?;
                let rows = stmt.query_map(rusqlite::params![contact.0, limit], |r| r.get(0))?;
                rows.collect::<Result<Vec<i64>, _>>()?
            }
            Some(c) => {
                let mut stmt = self.conn.prepare_cached(
                    "SELECT id FROM messages WHERE contact_id = ?1 AND held = 0
                       AND (arrived_ms < ?2 OR (arrived_ms = ?2 AND id < ?3))
                     ORDER BY arrived_ms DESC, id DESC LIMIT ?4",
                )?;
                let rows = stmt.query_map(
                    rusqlite::params![contact.0, c.at_ms as i64, c.id, limit],
                    |r| r.get(0),
                )?;
                rows.collect::<Result<Vec<i64>, _>>()?
            }
        };
        Ok(ids)
    }

    /// A page of at most `limit` visible messages older than `before` (the
    /// newest page when `None`), with the integrity events of the same span.
    pub fn timeline_page(
        &self,
        contact: ContactId,
        before: Option<PageCursor>,
        limit: usize,
    ) -> StoreResult<TimelinePage> {
        let mut ids = self.page_ids(contact, before, limit.saturating_add(1))?;
        let more = ids.len() > limit;
        ids.truncate(limit);
        let mut messages = Vec::with_capacity(ids.len());
        for id in ids.iter().rev() {
            messages.push(self.message(*id)?);
        }
        let older = if more {
            messages.first().map(|m| PageCursor {
                at_ms: m.arrived_ms(),
                id: m.id,
            })
        } else {
            None
        };
        // Events in [lower, upper): the next older page takes everything below `lower`.
        let lower = older.map_or(0, |c| c.at_ms);
        let upper = before.map_or(u64::MAX, |c| c.at_ms);
        let events = self
            .events(Some(contact))?
            .into_iter()
            .filter(|e| e.at_ms >= lower && e.at_ms < upper);
        let mut items: Vec<TimelineItem> = messages
            .into_iter()
            .map(TimelineItem::Message)
            .chain(events.map(TimelineItem::Event))
            .collect();
        // Stable, as in `Client::timeline`: store order among equal times.
        items.sort_by_key(TimelineItem::at_ms);
        Ok(TimelinePage { items, older })
    }

    /// How many visible messages of `contact` come after message `id` in store order.
    pub fn messages_after(&self, contact: ContactId, id: i64) -> StoreResult<usize> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM messages m, messages t
             WHERE t.id = ?2 AND m.contact_id = ?1 AND m.held = 0
               AND (m.arrived_ms > t.arrived_ms OR (m.arrived_ms = t.arrived_ms AND m.id > t.id))",
            rusqlite::params![contact.0, id],
            |r| r.get(0),
        )?;
        Ok(n.max(0) as usize)
    }

    /// Unread count, newest message and last activity of one conversation.
    pub fn chat_summary(&self, contact: ContactId) -> StoreResult<ChatSummary> {
        let unread: i64 = self
            .conn
            .prepare_cached(UNREAD_COUNT_SQL)?
            .query_row([contact.0], |r| r.get(0))?;
        let last = match self.page_ids(contact, None, 1)?.first() {
            Some(id) => Some(self.message(*id)?),
            None => None,
        };
        let last_event: Option<i64> = self
            .conn
            .prepare_cached("SELECT max(at_ms) FROM integrity_events WHERE contact_id = ?1")?
            .query_row([contact.0], |r| r.get(0))
            .optional()?
            .flatten();
        let last_msg = last.as_ref().map_or(0, MessageRecord::arrived_ms);
        Ok(ChatSummary {
            contact,
            unread: unread.max(0) as usize,
            last,
            last_at_ms: last_msg.max(last_event.map_or(0, |v| v.max(0) as u64)),
        })
    }
}

/// Unread messages of one contact; answered from the `messages_unread`
/// partial index (migration V4), whose filter these literals must match.
pub(super) const UNREAD_COUNT_SQL: &str = "SELECT count(*) FROM messages
     WHERE contact_id = ?1 AND direction = 0 AND held = 0 AND status = 'received'";

impl Client {
    /// A page of the conversation with `contact`: the newest `limit` messages
    /// when `before` is `None`, else the `limit` before that cursor.
    pub fn timeline_page(
        &self,
        contact: ContactId,
        before: Option<PageCursor>,
        limit: usize,
    ) -> ClientResult<TimelinePage> {
        Ok(self.store().read().timeline_page(contact, before, limit)?)
    }

    /// The newest messages of `contact` back to message `id` (and `extra` older
    /// ones for context): for jumping to a search hit.
    pub fn timeline_through(
        &self,
        contact: ContactId,
        id: i64,
        extra: usize,
    ) -> ClientResult<TimelinePage> {
        let db = self.store().read();
        let newer = db.messages_after(contact, id)?;
        Ok(db.timeline_page(contact, None, newer + 1 + extra)?)
    }

    /// Summary of every conversation, in contact-name order.
    pub fn chat_summaries(&self) -> ClientResult<Vec<(crate::store::Contact, ChatSummary)>> {
        let db = self.store().read();
        let mut out = Vec::new();
        for contact in db.contacts()? {
            let summary = db.chat_summary(contact.id)?;
            out.push((contact, summary));
        }
        Ok(out)
    }

    /// Summary of one conversation.
    pub fn chat_summary(
        &self,
        contact: ContactId,
    ) -> ClientResult<(crate::store::Contact, ChatSummary)> {
        let db = self.store().read();
        let contact = db.contact(contact)?;
        let summary = db.chat_summary(contact.id)?;
        Ok((contact, summary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::contacts::tests::add;
    use crate::store::test_support::temp_store;
    use crate::store::{Direction, EventKind, MessageStatus, NewMessage};

    fn fill(db: &Db<'_>, c: ContactId, n: u64) {
        for i in 0..n {
            let body = format!("m{i}");
            db.insert_message(&NewMessage {
                contact: c,
                direction: if i % 2 == 0 {
                    Direction::Incoming
                } else {
                    Direction::Outgoing
                },
                counter: i,
                body: &body,
                sent_ms: 1_000 + i * 10,
                received_ms: (i % 2 == 0).then_some(1_000 + i * 10),
                status: if i % 2 == 0 {
                    MessageStatus::Received
                } else {
                    MessageStatus::Sent
                },
                held: i == 3,
                envelope_id: None,
            })
            .unwrap();
        }
    }

    fn bodies(page: &TimelinePage) -> Vec<String> {
        page.items
            .iter()
            .map(|i| match i {
                TimelineItem::Message(m) => m.body.clone(),
                TimelineItem::Event(e) => format!("event {}", e.at_ms),
            })
            .collect()
    }

    #[test]
    fn pages_walk_back_without_gaps_or_overlap() {
        let (_dir, mut store) = temp_store();
        let a = add(&mut store, "alice", 1);
        let b = add(&mut store, "bob", 2);
        let db = store.read();
        fill(&db, a, 10);
        fill(&db, b, 4);
        db.add_event(Some(a), EventKind::Gap, "x", 1_035).unwrap();
        db.add_event(Some(a), EventKind::Verified, "y", 1_005)
            .unwrap();

        let p1 = db.timeline_page(a, None, 4).unwrap();
        assert_eq!(bodies(&p1), ["m6", "m7", "m8", "m9"]);
        let p2 = db.timeline_page(a, p1.older, 4).unwrap();
        // m3 is held: skipped; the gap event at 1035 sits between m3's slot and m4.
        assert_eq!(bodies(&p2), ["m1", "m2", "event 1035", "m4", "m5"]);
        let p3 = db.timeline_page(a, p2.older, 4).unwrap();
        assert_eq!(bodies(&p3), ["m0", "event 1005"]);
        assert_eq!(p3.older, None);
        // Everything once, in the same order as the full timeline.
        let all = db.timeline_page(a, None, 100).unwrap();
        let mut walked = bodies(&p3);
        walked.extend(bodies(&p2));
        walked.extend(bodies(&p1));
        assert_eq!(walked, bodies(&all));
        assert_eq!(all.older, None);
    }

    #[test]
    fn summary_counts_unread_and_finds_newest() {
        let (_dir, mut store) = temp_store();
        let a = add(&mut store, "alice", 1);
        let b = add(&mut store, "bob", 2);
        let db = store.read();
        fill(&db, a, 10);
        let s = db.chat_summary(a).unwrap();
        // Incoming: 0, 2, 4, 6, 8 — none held (3 is held but outgoing).
        assert_eq!(s.unread, 5);
        assert_eq!(s.last.as_ref().map(|m| m.body.as_str()), Some("m9"));
        assert_eq!(s.last_at_ms, 1_090);
        db.mark_incoming_read(a, &[0, 2]).unwrap();
        assert_eq!(db.chat_summary(a).unwrap().unread, 3);
        db.add_event(Some(a), EventKind::Gap, "x", 5_000).unwrap();
        assert_eq!(db.chat_summary(a).unwrap().last_at_ms, 5_000);
        let empty = db.chat_summary(b).unwrap();
        assert_eq!((empty.unread, empty.last, empty.last_at_ms), (0, None, 0));
        // Jumping to m2: m4..m9 are newer (m3 is held).
        let m2 = db.timeline_page(a, None, 100).unwrap().items[2].clone();
        let TimelineItem::Message(m2) = m2 else {
            panic!("expected a message")
        };
        assert_eq!(m2.body, "m2");
        assert_eq!(db.messages_after(a, m2.id).unwrap(), 6);
    }

    #[test]
    fn order_is_arrival_not_the_senders_claimed_time() {
        const MIN: u64 = 60_000;
        let (_dir, mut store) = temp_store();
        let a = add(&mut store, "alice", 1);
        let db = store.read();
        // (body, direction, claimed sent_ms, arrival)
        let rows = [
            ("on time", Direction::Incoming, 10 * MIN, Some(10 * MIN)),
            (
                "from the future",
                Direction::Incoming,
                100_000 * MIN,
                Some(15 * MIN),
            ),
            ("backdated", Direction::Incoming, MIN, Some(20 * MIN)),
            ("mine", Direction::Outgoing, 30 * MIN, None),
        ];
        for (i, (body, direction, sent_ms, received_ms)) in rows.iter().enumerate() {
            db.insert_message(&NewMessage {
                contact: a,
                direction: *direction,
                counter: i as u64,
                body,
                sent_ms: *sent_ms,
                received_ms: *received_ms,
                status: MessageStatus::Read,
                held: false,
                envelope_id: None,
            })
            .unwrap();
        }
        let arrival = ["on time", "from the future", "backdated", "mine"];
        let history: Vec<String> = db.history(a).unwrap().into_iter().map(|m| m.body).collect();
        assert_eq!(history, arrival);
        // Pages walk back by arrival: a claimed time cannot pull a message
        // into an older page or keep it on the newest.
        let newest = db.timeline_page(a, None, 2).unwrap();
        assert_eq!(bodies(&newest), ["backdated", "mine"]);
        let older = db.timeline_page(a, newest.older, 2).unwrap();
        assert_eq!(bodies(&older), ["on time", "from the future"]);
        assert_eq!(
            db.chat_summary(a).unwrap().last.map(|m| m.body).as_deref(),
            Some("mine")
        );
        let first = db.history(a).unwrap()[0].id;
        assert_eq!(db.messages_after(a, first).unwrap(), 3);
        // The claimed time is kept, and a large difference is flagged.
        let flagged: Vec<(String, bool)> = db
            .history(a)
            .unwrap()
            .into_iter()
            .map(|m| (m.body.clone(), m.clock_differs()))
            .collect();
        assert_eq!(
            flagged,
            [
                ("on time".to_owned(), false),
                ("from the future".to_owned(), true),
                ("backdated".to_owned(), true),
                ("mine".to_owned(), false),
            ]
        );
        assert_eq!(db.history(a).unwrap()[2].sent_ms, MIN);
    }
}
