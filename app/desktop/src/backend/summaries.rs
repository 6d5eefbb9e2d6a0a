//! Contact-list rows (unread count, last message preview) from the core's
//! per-contact summary query: one short indexed query per contact, never a
//! whole history. Only contacts an event touched are asked again.

use std::collections::HashMap;

use cairn_core::messenger::{Messenger, MessengerError};
use cairn_core::store::{ChatSummary, Contact, ContactId};

use crate::commands::ContactSummary;

/// The rows the UI holds, by contact.
#[derive(Default)]
pub(crate) struct Summaries {
    by_id: HashMap<ContactId, ContactSummary>,
}

impl Summaries {
    /// The contact's name, if known.
    pub(crate) fn name(&self, id: ContactId) -> Option<String> {
        self.by_id.get(&id).map(|s| s.contact.name.clone())
    }

    /// Recomputes the rows of `only` (all of them if `None`) and returns
    /// them; for all, sorted by most recent activity.
    pub(crate) async fn refresh(
        &mut self,
        messenger: &Messenger,
        only: Option<&[ContactId]>,
    ) -> Result<Vec<ContactSummary>, MessengerError> {
        let ids = only.map(<[ContactId]>::to_vec);
        let rows: Vec<(Contact, ChatSummary)> = messenger
            .query(move |c| match ids {
                None => c.chat_summaries(),
                Some(ids) => ids
                    .into_iter()
                    .filter_map(|id| match c.chat_summary(id) {
                        // A contact deleted meanwhile has no row any more.
                        Err(cairn_core::client::ClientError::Store(
                            cairn_core::store::StoreError::NotFound { .. },
                        )) => None,
                        other => Some(other),
                    })
                    .collect(),
            })
            .await??;
        if only.is_none() {
            self.by_id.clear();
        }
        let mut out: Vec<ContactSummary> = Vec::with_capacity(rows.len());
        for (contact, s) in rows {
            let row = row(contact, &s);
            self.by_id.insert(row.contact.id, row.clone());
            out.push(row);
        }
        if only.is_none() {
            out.sort_by(|a, b| {
                b.last_at_ms
                    .cmp(&a.last_at_ms)
                    .then_with(|| a.contact.name.cmp(&b.contact.name))
            });
        }
        Ok(out)
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
