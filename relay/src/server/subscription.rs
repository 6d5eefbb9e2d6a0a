//! Subscriptions: stored backlog first, then live pushes, nothing lost in between.
//!
//! On subscribe the connection registers with the hub *before* reading the
//! backlog, so every envelope sent afterwards is pushed (and one sent just
//! before but stored only after the backlog read is pushed again once
//! stored: see `hub`). While a backfill task pages through the store, live
//! pushes for that mailbox are held back; when it finishes, held pushes
//! whose message id the backlog already sent are dropped, the rest follow
//! in order. If more pushes pile up meanwhile than the outbound queue
//! holds, the connection is a slow reader and is disconnected (everything
//! not acknowledged stays stored for its next subscription).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use cairn_protocol::envelope::{Envelope, MailboxId, MessageId};
use cairn_protocol::relay::RelayFrame;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::connection::Conn;
use super::hub::{Push, Subscriber};
use super::outbound::{self, Out, Outbound};
use super::{Shared, now_unix};

/// Envelopes read from the store per backlog page.
const PAGE: usize = 256;

/// Where one subscription of a connection stands.
pub(crate) enum SubState {
    /// Backlog being sent; live pushes wait here.
    Backfilling {
        task: JoinHandle<()>,
        held: Vec<Arc<Push>>,
    },
    /// Backlog sent; pushes go straight out.
    Live,
}

/// Sent by a backfill task when the stored backlog has been queued.
pub(crate) struct BackfillDone {
    pub mailbox: MailboxId,
    /// Message ids the backlog sent.
    pub sent: HashSet<MessageId>,
}

impl Conn {
    /// Registers a proven subscription and starts its backlog.
    pub(crate) fn subscribe(&mut self, mailbox: MailboxId) {
        let (pushes, _) = self.live_queues();
        self.shared.hub.subscribe(
            mailbox,
            Subscriber {
                conn: self.id,
                pushes,
                kick: Arc::clone(&self.kick),
            },
        );
        let task = self.spawn_backfill(mailbox);
        self.subs.insert(
            mailbox,
            SubState::Backfilling {
                task,
                held: Vec::new(),
            },
        );
    }

    pub(crate) fn unsubscribe(&mut self, mailbox: &MailboxId) {
        self.shared.hub.unsubscribe(mailbox, self.id);
        if let Some(SubState::Backfilling { task, .. }) = self.subs.remove(mailbox) {
            task.abort();
        }
    }

    /// Drops every subscription (connection closing).
    pub(crate) fn unsubscribe_all(&mut self) {
        let all: Vec<MailboxId> = self.subs.keys().copied().collect();
        for mailbox in all {
            self.unsubscribe(&mailbox);
        }
    }

    fn spawn_backfill(&mut self, mailbox: MailboxId) -> JoinHandle<()> {
        let (_, done) = self.live_queues();
        tokio::spawn(backfill(
            Arc::clone(&self.shared),
            mailbox,
            self.out.clone(),
            done,
        ))
    }

    /// A live push from the hub.
    pub(crate) async fn on_push(&mut self, push: Arc<Push>) {
        let limit = self.shared.config.limits.outbound_queue;
        match self.subs.get_mut(&push.mailbox) {
            None => {}
            Some(SubState::Backfilling { held, .. }) => {
                if held.len() < limit {
                    held.push(push);
                } else {
                    // Slow reader: disconnect; the envelopes stay stored.
                    self.kick.notify_one();
                }
            }
            Some(SubState::Live) => self.deliver(push.frame.clone()).await,
        }
    }

    /// The backlog task finished: release held pushes it did not already send.
    pub(crate) async fn on_backfill_done(&mut self, done: Box<BackfillDone>) {
        if !matches!(
            self.subs.get(&done.mailbox),
            Some(SubState::Backfilling { .. })
        ) {
            return;
        }
        let Some(SubState::Backfilling { held, .. }) =
            self.subs.insert(done.mailbox, SubState::Live)
        else {
            return;
        };
        for push in held {
            if !done.sent.contains(&push.message) {
                self.deliver(push.frame.clone()).await;
            }
        }
    }

    async fn deliver(&mut self, frame: Bytes) {
        self.shared.metrics.messages_out.fetch_add(1, Relaxed);
        self.shared
            .metrics
            .bytes_out
            .fetch_add(frame.len() as u64, Relaxed);
        self.send_frame(frame).await;
    }
}

/// Pages the stored backlog into the connection's outbound queue.
async fn backfill(
    shared: Arc<Shared>,
    mailbox: MailboxId,
    out: Outbound,
    done: mpsc::Sender<Box<BackfillDone>>,
) {
    // With a fan-out, pushes from other instances must flow before the backlog read.
    shared.hub.ready(mailbox).await;
    let mut last = 0;
    let mut sent = HashSet::new();
    loop {
        let page = match shared.store.fetch(mailbox, last, PAGE, now_unix()).await {
            Ok(page) => page,
            Err(e) => {
                // The envelopes stay stored; the client gets them on its next subscribe.
                tracing::warn!(error = %e, "backlog fetch failed");
                break;
            }
        };
        let full = page.len() == PAGE;
        for stored in page {
            let frame = RelayFrame::Deliver {
                envelope: &stored.envelope,
            }
            .encode(0);
            shared.metrics.messages_out.fetch_add(1, Relaxed);
            shared
                .metrics
                .bytes_out
                .fetch_add(frame.len() as u64, Relaxed);
            if !outbound::send(&out, &shared.metrics, Out::Frame(Bytes::from(frame))).await {
                return;
            }
            last = stored.seq;
            if let Ok(parsed) = Envelope::parse(&stored.envelope) {
                sent.insert(parsed.id);
            }
        }
        if !full {
            break;
        }
    }
    let _ = done.send(Box::new(BackfillDone { mailbox, sent })).await;
}
