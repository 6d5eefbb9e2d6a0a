//! Contact-list rows (unread count, last message preview) from the core's
//! per-contact summary query: one short indexed query per contact, never a
//! whole history. Only conversations touched by a sync are asked again.

use std::collections::HashMap;

use cairn_core::client::{Client, ClientResult};
use cairn_core::store::{ChatSummary, Contact};

use crate::commands::ContactSummary;

/// Cached summaries by contact name.
#[derive(Default)]
pub(super) struct Summaries {
    by_name: HashMap<String, ContactSummary>,
}

impl Summaries {
    /// Forgets everything (on lock).
    pub(super) fn clear(&mut self) {
        self.by_name.clear();
    }

    /// Recomputes the named contacts (all of them if `only` is `None`) and
    /// returns the list sorted by most recent activity.
    pub(super) fn refresh(
        &mut self,
        client: &Client,
        only: Option<&[String]>,
    ) -> ClientResult<Vec<ContactSummary>> {
        match only {
            None => {
                self.by_name = client
                    .chat_summaries()?
                    .into_iter()
                    .map(|(contact, s)| (contact.name.clone(), row(contact, &s)))
                    .collect();
            }
            Some(names) => {
                let contacts = client.contacts()?;
                self.by_name
                    .retain(|name, _| contacts.iter().any(|c| &c.name == name));
                for contact in contacts {
                    if names.contains(&contact.name) || !self.by_name.contains_key(&contact.name) {
                        let (contact, s) = client.chat_summary(&contact.name)?;
                        self.by_name.insert(contact.name.clone(), row(contact, &s));
                    } else if let Some(s) = self.by_name.get_mut(&contact.name) {
                        s.contact = contact;
                    }
                }
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
    pub(super) fn mark_read(&mut self, name: &str) {
        if let Some(s) = self.by_name.get_mut(name) {
            s.unread = 0;
        }
    }
}

/// One contact-list row.
fn row(contact: Contact, s: &ChatSummary) -> ContactSummary {
    ContactSummary {
        contact,
        unread: s.unread,
        last_preview: s.last.as_ref().map(|m| preview(&m.body)),
        last_at_ms: s.last_at_ms,
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
