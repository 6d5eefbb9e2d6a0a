//! Subscriptions: stored backlog first, then live pushes, nothing lost in between.
//!
//! On subscribe the connection registers with the hub *before* reading the
//! backlog, so every envelope committed afterwards is pushed. While a
//! backfill task pages through the store, live pushes for that mailbox are
//! held back; when it finishes at storage position `last`, held pushes with
//! `seq <= last` were already sent from the store and are dropped, the rest
//! follow in order. If too many pushes pile up meanwhile, they are dropped
//! and the backfill simply runs again from `last` (they are in the store).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use cairn_protocol::envelope::MailboxId;
use cairn_protocol::relay::RelayFrame;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use super::connection::Conn;
use super::hub::{Push, Subscriber};
use super::outbound::{self, Outbound};
use super::{Shared, now_unix};

/// Envelopes read from the store per backlog page.
const PAGE: usize = 256;

/// Where one subscription of a connection stands.
pub(crate) enum SubState {
    /// Backlog being sent; live pushes wait here.
    Backfilling {
        task: JoinHandle<()>,
        held: Vec<Push>,
        overflowed: bool,
    },
    /// Backlog sent; pushes go straight out.
    Live,
}

/// Sent by a backfill task when the stored backlog has been queued.
pub(crate) struct BackfillDone {
    pub mailbox: MailboxId,
    /// Storage position of the last envelope sent (or where it started).
    pub last: u64,
}

impl Conn {
    /// Registers a proven subscription and starts its backlog.
    pub(crate) fn subscribe(&mut self, mailbox: MailboxId) {
        self.shared.hub.subscribe(
            mailbox,
            Subscriber {
                conn: self.id,
                pushes: self.pushes_tx.clone(),
                kick: Arc::clone(&self.kick),
            },
        );
        let task = self.spawn_backfill(mailbox, 0);
        self.subs.insert(
            mailbox,
            SubState::Backfilling {
                task,
                held: Vec::new(),
                overflowed: false,
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

    fn spawn_backfill(&self, mailbox: MailboxId, after: u64) -> JoinHandle<()> {
        tokio::spawn(backfill(
            Arc::clone(&self.shared),
            mailbox,
            after,
            self.out.clone(),
            self.backfill_tx.clone(),
        ))
    }

    /// A live push from the hub.
    pub(crate) async fn on_push(&mut self, push: Push) {
        let limit = self.shared.config.limits.outbound_queue;
        match self.subs.get_mut(&push.mailbox) {
            None => {}
            Some(SubState::Backfilling {
                held, overflowed, ..
            }) => {
                if held.len() < limit {
                    held.push(push);
                } else {
                    *overflowed = true;
                }
            }
            Some(SubState::Live) => self.deliver(push.frame).await,
        }
    }

    /// The backlog task finished: release held pushes, or go again if some were dropped.
    pub(crate) async fn on_backfill_done(&mut self, done: BackfillDone) {
        let overflowed = match self.subs.get(&done.mailbox) {
            Some(SubState::Backfilling { overflowed, .. }) => *overflowed,
            _ => return,
        };
        if overflowed {
            let task = self.spawn_backfill(done.mailbox, done.last);
            self.subs.insert(
                done.mailbox,
                SubState::Backfilling {
                    task,
                    held: Vec::new(),
                    overflowed: false,
                },
            );
            return;
        }
        let Some(SubState::Backfilling { held, .. }) =
            self.subs.insert(done.mailbox, SubState::Live)
        else {
            return;
        };
        for push in held.into_iter().filter(|p| p.seq > done.last) {
            self.deliver(push.frame).await;
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
    mut last: u64,
    out: Outbound,
    done: mpsc::Sender<BackfillDone>,
) {
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
            if !outbound::send(&out, &shared.metrics, Message::Binary(Bytes::from(frame))).await {
                return;
            }
            last = stored.seq;
        }
        if !full {
            break;
        }
    }
    let _ = done.send(BackfillDone { mailbox, last }).await;
}
