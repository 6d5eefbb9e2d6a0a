//! Live delivery: which connections are subscribed to which mailbox.
//!
//! After an envelope is durably stored, the sender's connection publishes
//! it here; every subscribed connection gets it through its bounded push
//! queue. A connection whose queue is full is a slow reader: it is kicked
//! (disconnected), and its envelopes stay stored for the next connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cairn_protocol::envelope::MailboxId;
use tokio::sync::{Notify, mpsc};

/// An envelope on its way to a subscriber.
#[derive(Debug, Clone)]
pub(crate) struct Push {
    /// Mailbox it was stored in.
    pub mailbox: MailboxId,
    /// Storage position, to drop what a backlog fetch already sent.
    pub seq: u64,
    /// The encoded `Deliver` frame, shared by all subscribers.
    pub frame: Bytes,
}

/// A connection's entry point for pushes.
#[derive(Clone)]
pub(crate) struct Subscriber {
    /// Connection id, to unsubscribe the right entry.
    pub conn: u64,
    /// Bounded push queue.
    pub pushes: mpsc::Sender<Push>,
    /// Notified when the queue overflowed.
    pub kick: Arc<Notify>,
}

/// Mailbox id → subscribed connections.
#[derive(Default)]
pub(crate) struct Hub {
    subs: Mutex<HashMap<MailboxId, Vec<Subscriber>>>,
}

impl Hub {
    pub(crate) fn subscribe(&self, mailbox: MailboxId, sub: Subscriber) {
        if let Ok(mut subs) = self.subs.lock() {
            let list = subs.entry(mailbox).or_default();
            if !list.iter().any(|s| s.conn == sub.conn) {
                list.push(sub);
            }
        }
    }

    pub(crate) fn unsubscribe(&self, mailbox: &MailboxId, conn: u64) {
        if let Ok(mut subs) = self.subs.lock()
            && let Some(list) = subs.get_mut(mailbox)
        {
            list.retain(|s| s.conn != conn);
            if list.is_empty() {
                subs.remove(mailbox);
            }
        }
    }

    /// Offers the push to every subscriber; returns how many took it.
    pub(crate) fn publish(&self, push: &Push) -> usize {
        let Ok(subs) = self.subs.lock() else {
            return 0;
        };
        let Some(list) = subs.get(&push.mailbox) else {
            return 0;
        };
        let mut delivered = 0;
        for sub in list {
            match sub.pushes.try_send(push.clone()) {
                Ok(()) => delivered += 1,
                Err(mpsc::error::TrySendError::Full(_)) => sub.kick.notify_one(),
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        delivered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(mailbox: MailboxId) -> Push {
        Push {
            mailbox,
            seq: 1,
            frame: Bytes::from_static(b"x"),
        }
    }

    #[tokio::test]
    async fn publishes_to_subscribers_and_kicks_full_queues() {
        let hub = Hub::default();
        let m = MailboxId([1; 32]);
        let (tx, mut rx) = mpsc::channel(1);
        let kick = Arc::new(Notify::new());
        hub.subscribe(
            m,
            Subscriber {
                conn: 1,
                pushes: tx,
                kick: Arc::clone(&kick),
            },
        );
        assert_eq!(hub.publish(&push(m)), 1);
        assert_eq!(hub.publish(&push(m)), 0, "queue full");
        kick.notified().await;
        assert!(rx.recv().await.is_some());
        assert_eq!(hub.publish(&push(MailboxId([2; 32]))), 0);
        hub.unsubscribe(&m, 1);
        assert_eq!(hub.publish(&push(m)), 0);
    }
}
