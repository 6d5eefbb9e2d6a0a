//! The hub's link to a [`Fanout`] (several relay instances on one shared
//! store): which mailboxes this instance watches, and when each watch is
//! active, so a new subscription reads its backlog only once pushes from
//! other instances are flowing (nothing published in between is missed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cairn_protocol::envelope::MailboxId;
use tokio::sync::watch;

use crate::fanout::Fanout;

/// Watches the mailboxes that have local subscribers.
pub(super) struct Remote {
    fanout: Arc<dyn Fanout>,
    /// Mailbox → becomes `true` once its watch is active.
    active: Mutex<HashMap<MailboxId, watch::Receiver<bool>>>,
}

impl Remote {
    pub(super) fn new(fanout: Arc<dyn Fanout>) -> Self {
        Self {
            fanout,
            active: Mutex::default(),
        }
    }

    /// The first local subscriber arrived. Called under the hub's lock, so
    /// watch and unwatch reach the fan-out in the order they happened.
    pub(super) fn watch(&self, mailbox: MailboxId) {
        let (tx, rx) = watch::channel(false);
        if let Ok(mut active) = self.active.lock() {
            active.insert(mailbox, rx);
        }
        let started = self.fanout.watch(mailbox);
        tokio::spawn(async move {
            started.await;
            let _ = tx.send(true);
        });
    }

    /// The last local subscriber left (under the hub's lock).
    pub(super) fn unwatch(&self, mailbox: MailboxId) {
        if let Ok(mut active) = self.active.lock() {
            active.remove(&mailbox);
        }
        self.fanout.unwatch(mailbox);
    }

    /// Resolves once pushes for `mailbox` flow (at once if it is not watched).
    pub(super) async fn ready(&self, mailbox: MailboxId) {
        let rx = self
            .active
            .lock()
            .ok()
            .and_then(|active| active.get(&mailbox).cloned());
        if let Some(mut rx) = rx {
            // An error means the watch was dropped (unsubscribed): nothing to wait for.
            let _ = rx.wait_for(|active| *active).await;
        }
    }
}
