//! Live delivery: which connections are subscribed to which mailbox.
//!
//! As soon as a `Send` is decoded, the sender's connection publishes the
//! envelope here (before it is durable: see PROTOCOL.md §18.4); every
//! subscribed connection gets it through its bounded push queue. Once the
//! store has it, the sender publishes it again *only to subscriptions made
//! since* (their backlog read may have missed the not-yet-written envelope).
//! A connection whose queue is full is a slow reader: it is kicked
//! (disconnected), and its envelopes stay stored for the next connection.
//!
//! Deleting a mailbox ends every subscription to it ([`Hub::end`]): the
//! registrations go at once, and each connection is told through its queue,
//! after any push it was already given. Whoever creates the same id next
//! never feeds a subscription proven with the old owner's key.
//!
//! Send locks: an envelope is pushed early only to subscriptions whose
//! mailbox lock (read with the auth key when the subscription was proven)
//! admits the send key the sender presented. Held appends whose recipient
//! acks them are never checked by the store, so this is where the lock
//! of a live send is enforced; the store checks every append it writes.
//!
//! With a [`Fanout`] (several instances on a shared store) the hub pushes
//! nothing on its own: the store publishes every stored envelope and the
//! fan-out brings it back to each instance with subscribers, this one
//! included ([`Hub::on_remote`]); `publish` and `publish_since` are no-ops.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};
use tokio::sync::{Notify, mpsc};

use super::remote::Remote;
use crate::fanout::{Fanout, FanoutEvent};
use crate::store::{SendLock, admits};

/// An envelope on its way to a subscriber.
#[derive(Debug, Clone)]
pub(crate) struct Push {
    /// Mailbox it is addressed to.
    pub mailbox: MailboxId,
    /// Message id, to drop what a backlog fetch already sent.
    pub message: MessageId,
    /// The encoded `Deliver` frame, shared by all subscribers.
    pub frame: Bytes,
}

/// What a connection's live queue carries.
#[derive(Debug)]
pub(crate) enum Live {
    /// An envelope for a subscribed mailbox.
    Push(Push),
    /// The mailbox was deleted: the registration made at `generation` is gone.
    Ended { mailbox: MailboxId, generation: u64 },
}

/// A connection's entry point for pushes.
#[derive(Clone)]
pub(crate) struct Subscriber {
    /// Connection id, to unsubscribe the right entry.
    pub conn: u64,
    /// Bounded push queue (`Arc`: a queue slot stays pointer-sized, which
    /// keeps the queue's first block small on every idle connection).
    pub pushes: mpsc::Sender<Arc<Live>>,
    /// Notified when the queue overflowed.
    pub kick: Arc<Notify>,
    /// The mailbox's send lock as read when the subscription was proven;
    /// early pushes go only to subscriptions it admits.
    pub send_lock: Option<SendLock>,
}

/// Mailbox id → subscribed connections (with the generation they subscribed at).
#[derive(Default)]
pub(crate) struct Hub {
    subs: Mutex<Subs>,
    /// Cross-instance delivery; `None` for a single relay.
    remote: Option<Remote>,
}

#[derive(Default)]
struct Subs {
    map: HashMap<MailboxId, Vec<(u64, Subscriber)>>,
    /// Bumped by every subscribe; see [`Hub::publish_since`].
    generation: u64,
}

impl Hub {
    /// A hub whose pushes come from `fanout` (shared store, several instances).
    pub(crate) fn with_fanout(fanout: Arc<dyn Fanout>) -> Self {
        Self {
            subs: Mutex::default(),
            remote: Some(Remote::new(fanout)),
        }
    }

    /// Registers a connection's subscription; returns the generation of its
    /// registration (the existing one if the connection already has one).
    pub(crate) fn subscribe(&self, mailbox: MailboxId, sub: Subscriber) -> u64 {
        let Ok(mut subs) = self.subs.lock() else {
            return 0;
        };
        subs.generation += 1;
        let generation = subs.generation;
        let list = subs.map.entry(mailbox).or_default();
        if let Some((existing, _)) = list.iter().find(|(_, s)| s.conn == sub.conn) {
            return *existing;
        }
        list.push((generation, sub));
        if list.len() == 1
            && let Some(remote) = &self.remote
        {
            remote.watch(mailbox);
        }
        generation
    }

    /// Resolves once envelopes stored by other instances reach this mailbox's
    /// subscribers (at once without a fan-out); backlog reads wait for it.
    pub(crate) async fn ready(&self, mailbox: MailboxId) {
        if let Some(remote) = &self.remote {
            remote.ready(mailbox).await;
        }
    }

    /// An event from the fan-out: deliver a push, end the subscriptions of a
    /// mailbox deleted through any instance, or drop every subscriber after a
    /// lost connection (they reconnect and read the backlog).
    pub(crate) fn on_remote(&self, event: FanoutEvent) {
        if let FanoutEvent::Deleted(mailbox) = event {
            self.end(&mailbox);
            return;
        }
        let Ok(subs) = self.subs.lock() else {
            return;
        };
        match event {
            FanoutEvent::Push(live) => {
                if subs.map.contains_key(&live.mailbox) {
                    let push = Push {
                        mailbox: live.mailbox,
                        message: live.message,
                        frame: Bytes::from(
                            cairn_protocol::frames::RelayFrame::Deliver {
                                envelope: &live.envelope,
                            }
                            .encode(0),
                        ),
                    };
                    // Stored, so the store has checked the send lock.
                    offer(&subs, &push, 0, |_| true);
                }
            }
            FanoutEvent::Lost => {
                for (_, sub) in subs.map.values().flatten() {
                    sub.kick.notify_one();
                }
            }
            FanoutEvent::Unwatched(mailbox) => {
                for (_, sub) in subs.map.get(&mailbox).into_iter().flatten() {
                    sub.kick.notify_one();
                }
            }
            FanoutEvent::Deleted(_) => {}
        }
    }

    /// The mailbox was deleted: ends every subscription to it. Each
    /// connection hears it after the pushes already in its queue; one whose
    /// queue is full is kicked (a slow reader either way).
    pub(crate) fn end(&self, mailbox: &MailboxId) {
        let Ok(mut subs) = self.subs.lock() else {
            return;
        };
        let Some(list) = subs.map.remove(mailbox) else {
            return;
        };
        if let Some(remote) = &self.remote {
            remote.unwatch(*mailbox);
        }
        for (generation, sub) in list {
            let ended = Arc::new(Live::Ended {
                mailbox: *mailbox,
                generation,
            });
            if let Err(mpsc::error::TrySendError::Full(_)) = sub.pushes.try_send(ended) {
                sub.kick.notify_one();
            }
        }
    }

    pub(crate) fn unsubscribe(&self, mailbox: &MailboxId, conn: u64) {
        if let Ok(mut subs) = self.subs.lock()
            && let Some(list) = subs.map.get_mut(mailbox)
        {
            list.retain(|(_, s)| s.conn != conn);
            if list.is_empty() {
                subs.map.remove(mailbox);
                if let Some(remote) = &self.remote {
                    remote.unwatch(*mailbox);
                }
            }
        }
    }

    /// True if some connection is subscribed to `mailbox`.
    #[cfg(test)]
    pub(crate) fn has_subscribers(&self, mailbox: &MailboxId) -> bool {
        self.subs
            .lock()
            .is_ok_and(|subs| subs.map.contains_key(mailbox))
    }

    /// True if some subscription to `mailbox` admits an envelope sent with
    /// `sent_with` (see [`Hub::publish`]): it will be pushed before it is durable.
    pub(crate) fn has_admitting_subscribers(
        &self,
        mailbox: &MailboxId,
        sent_with: Option<&SendLock>,
    ) -> bool {
        self.subs.lock().is_ok_and(|subs| {
            subs.map.get(mailbox).is_some_and(|list| {
                list.iter()
                    .any(|(_, s)| admits(s.send_lock.as_ref(), sent_with))
            })
        })
    }

    /// Offers the push, sent with `sent_with`, to every subscriber whose
    /// mailbox lock admits it. Returns how many took it and the generation
    /// to pass to [`Hub::publish_since`] once the envelope is stored.
    pub(crate) fn publish(&self, push: &Push, sent_with: Option<&SendLock>) -> (usize, u64) {
        if self.remote.is_some() {
            return (0, 0);
        }
        let Ok(subs) = self.subs.lock() else {
            return (0, 0);
        };
        let took = offer(&subs, push, 0, |s| admits(s.send_lock.as_ref(), sent_with));
        (took, subs.generation)
    }

    /// Offers the push only to subscriptions made after `generation`.
    pub(crate) fn publish_since(&self, push: &Push, generation: u64) -> usize {
        if self.remote.is_some() {
            return 0;
        }
        let Ok(subs) = self.subs.lock() else {
            return 0;
        };
        if subs.generation <= generation {
            return 0;
        }
        // Stored, so the store has checked the send lock.
        offer(&subs, push, generation, |_| true)
    }
}

/// Offers `push` to subscriptions made after `after` that `admit` it.
fn offer(subs: &Subs, push: &Push, after: u64, admit: impl Fn(&Subscriber) -> bool) -> usize {
    let Some(list) = subs.map.get(&push.mailbox) else {
        return 0;
    };
    let push = Arc::new(Live::Push(push.clone()));
    let mut delivered = 0;
    for (_, sub) in list.iter().filter(|(g, s)| *g > after && admit(s)) {
        match sub.pushes.try_send(Arc::clone(&push)) {
            Ok(()) => delivered += 1,
            Err(mpsc::error::TrySendError::Full(_)) => sub.kick.notify_one(),
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
    delivered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(mailbox: MailboxId) -> Push {
        Push {
            mailbox,
            message: MessageId([1; 16]),
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
                send_lock: None,
            },
        );
        assert_eq!(hub.publish(&push(m), None).0, 1);
        assert_eq!(hub.publish(&push(m), None).0, 0, "queue full");
        kick.notified().await;
        assert!(rx.recv().await.is_some());
        assert_eq!(hub.publish(&push(MailboxId([2; 32])), None).0, 0);
        hub.unsubscribe(&m, 1);
        assert_eq!(hub.publish(&push(m), None).0, 0);
    }

    #[tokio::test]
    async fn publish_since_reaches_only_later_subscriptions() {
        let hub = Hub::default();
        let m = MailboxId([1; 32]);
        let sub = |conn, tx| Subscriber {
            conn,
            pushes: tx,
            kick: Arc::new(Notify::new()),
            send_lock: None,
        };
        let (early_tx, mut early_rx) = mpsc::channel(8);
        hub.subscribe(m, sub(1, early_tx));
        let (took, generation) = hub.publish(&push(m), None);
        assert_eq!(took, 1);
        assert_eq!(hub.publish_since(&push(m), generation), 0, "nobody new");
        let (late_tx, mut late_rx) = mpsc::channel(8);
        hub.subscribe(m, sub(2, late_tx));
        assert_eq!(hub.publish_since(&push(m), generation), 1);
        assert!(late_rx.try_recv().is_ok());
        assert!(early_rx.try_recv().is_ok());
        assert!(
            early_rx.try_recv().is_err(),
            "the early subscriber got it once"
        );
    }

    #[tokio::test]
    async fn early_pushes_reach_only_subscriptions_whose_lock_admits_the_key() {
        let hub = Hub::default();
        let m = MailboxId([1; 32]);
        let lock = SendLock::of_key(&[5; 32]);
        let (tx, mut rx) = mpsc::channel(8);
        hub.subscribe(
            m,
            Subscriber {
                conn: 1,
                pushes: tx,
                kick: Arc::new(Notify::new()),
                send_lock: Some(lock),
            },
        );
        let wrong = SendLock::of_key(&[6; 32]);
        assert!(!hub.has_admitting_subscribers(&m, None), "plain send");
        assert!(!hub.has_admitting_subscribers(&m, Some(&wrong)));
        assert!(hub.has_admitting_subscribers(&m, Some(&lock)));
        assert_eq!(hub.publish(&push(m), None).0, 0);
        assert_eq!(hub.publish(&push(m), Some(&wrong)).0, 0);
        assert!(rx.try_recv().is_err(), "nothing pushed without the key");
        assert_eq!(hub.publish(&push(m), Some(&lock)).0, 1);
        assert!(rx.try_recv().is_ok());
    }

    #[tokio::test]
    async fn ending_a_mailbox_tells_each_subscriber_after_its_pushes() {
        let hub = Hub::default();
        let (m, other) = (MailboxId([1; 32]), MailboxId([2; 32]));
        let sub = |conn, tx| Subscriber {
            conn,
            pushes: tx,
            kick: Arc::new(Notify::new()),
            send_lock: None,
        };
        let (tx, mut rx) = mpsc::channel(8);
        let first = hub.subscribe(m, sub(1, tx.clone()));
        assert_eq!(
            hub.subscribe(m, sub(1, tx.clone())),
            first,
            "already registered"
        );
        hub.subscribe(other, sub(1, tx));
        let (full_tx, _full_rx) = mpsc::channel(1);
        let full = sub(2, full_tx);
        let kicked = Arc::clone(&full.kick);
        hub.subscribe(m, full);
        assert_eq!(hub.publish(&push(m), None).0, 2);

        hub.end(&m);
        assert!(!hub.has_subscribers(&m));
        assert!(hub.has_subscribers(&other), "other mailboxes stay");
        assert!(matches!(&*rx.recv().await.unwrap(), Live::Push(_)));
        let ended = rx.recv().await.unwrap();
        assert!(
            matches!(&*ended, Live::Ended { mailbox, generation } if *mailbox == m && *generation == first),
            "{ended:?}"
        );
        kicked.notified().await; // its queue was full: a slow reader
        assert_eq!(hub.publish(&push(m), None).0, 0);
        // A deletion through another instance ends them the same way.
        hub.on_remote(FanoutEvent::Deleted(other));
        assert!(!hub.has_subscribers(&other));
        assert!(matches!(&*rx.recv().await.unwrap(), Live::Ended { .. }));
    }
}
