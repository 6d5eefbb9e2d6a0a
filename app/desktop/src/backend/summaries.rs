//! Contact-list rows (unread count, last message) computed from the core.
//!
//! The core has no per-contact summary query yet, so this reads each
//! contact's timeline once and keeps the result; only conversations touched
//! by a sync are recomputed.

use std::collections::HashMap;

use cairn_core::client::{Client, ClientResult, TimelineItem};
use cairn_core::store::{Contact, Direction, MessageStatus};

use crate::commands::ContactSummary;

/// Cached summaries by contact name.
#[derive(Default)]
pub struct Summaries {
    by_name: HashMap<String, ContactSummary>,
}

impl Summaries {
    /// Forgets everything (on lock).
    pub fn clear(&mut self) {
        self.by_name.clear();
    }

    /// Recomputes the named contacts (all of them if `only` is `None`) and
    /// returns the list sorted by most recent activity.
    pub fn refresh(
        &mut self,
        client: &Client,
        only: Option<&[String]>,
    ) -> ClientResult<Vec<ContactSummary>> {
        let contacts = client.contacts()?;
        self.by_name
            .retain(|name, _| contacts.iter().any(|c| &c.name == name));
        for contact in contacts {
            let stale = match only {
                None => true,
                Some(names) => {
                    names.contains(&contact.name) || !self.by_name.contains_key(&contact.name)
                }
            };
            if stale {
                let items = client.timeline(&contact.name)?;
                let summary = summarize(contact, &items);
                self.by_name.insert(summary.contact.name.clone(), summary);
            } else if let Some(s) = self.by_name.get_mut(&contact.name) {
                s.contact = contact;
            }
        }
        let mut list: Vec<ContactSummary> = self.by_name.values().cloned().collect();
        list.sort_by(|a, b| {
            b.last_at_ms
                .cmp(&a.last_at_ms)
                .then_with(|| a.contact.name.cmp(&b.contact.name))
        });
        Ok(list)
    }

    /// Notes that `name`'s messages were all shown.
    pub fn mark_read(&mut self, name: &str) {
        if let Some(s) = self.by_name.get_mut(name) {
            s.unread = 0;
        }
    }
}

/// One row from a timeline.
pub fn summarize(contact: Contact, items: &[TimelineItem]) -> ContactSummary {
    let mut unread = 0;
    let mut last_preview = None;
    let mut last_at_ms = 0;
    for item in items {
        last_at_ms = last_at_ms.max(item.at_ms());
        if let TimelineItem::Message(m) = item {
            if m.direction == Direction::Incoming && m.status == MessageStatus::Received {
                unread += 1;
            }
            last_preview = Some(m.body.clone());
        }
    }
    let last_preview = last_preview.map(|p| preview(&p));
    ContactSummary {
        contact,
        unread,
        last_preview,
        last_at_ms,
    }
}

/// First line, at most 60 characters.
fn preview(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut out: String = line.chars().take(60).collect();
    if line.chars().count() > 60 || text.lines().nth(1).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_are_short_single_lines() {
        assert_eq!(preview("hello"), "hello");
        assert_eq!(preview("a\nb"), "a…");
        assert_eq!(preview(&"x".repeat(70)).chars().count(), 61);
    }
}
