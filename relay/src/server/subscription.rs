//! Subscriptions: stored backlog first, then live pushes, nothing lost in between.
//!
//! On subscribe the connection registers with the hub *before* reading the
//! backlog, so every envelope sent afterwards is pushed (and one sent just
//! before but stored only after the backlog read is pushed again once
//! stored: see `hub`). The connection loop reads the backlog a page at a
//! time and writes it out; meanwhile live pushes for that mailbox are held
//! back. When the last page is written, held pushes whose message id the
//! backlog already sent are dropped, the rest follow in order. If more
//! pushes pile up meanwhile than `--outbound-queue`, the connection
//! is a slow reader and is disconnected (everything not acknowledged stays
//! stored for its next subscription).

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use cairn_protocol::envelope::{Envelope, MailboxId, MessageId};
use cairn_protocol::frames::RelayFrame;
use futures_util::stream::FuturesUnordered;

use super::connection::Conn;
use super::hub::{Push, Subscriber};
use super::{Shared, now_unix};
use crate::store::{StoreError, StoredEnvelope};

/// Envelopes read from the store per backlog page.
const PAGE: usize = 256;

/// Where one subscription of a connection stands.
pub(crate) enum SubState {
    /// Backlog being sent (boxed: most subscriptions are live, and the map
    /// entry of every idle subscription stays pointer-sized).
    Backfilling(Box<Backfill>),
    /// Backlog sent; pushes go straight out.
    Live,
}

/// A subscription's backlog in progress.
pub(crate) struct Backfill {
    /// Which subscription the pages in flight belong to.
    token: u64,
    /// Storage position of the last envelope sent.
    last: u64,
    /// Message ids the backlog sent.
    sent: HashSet<MessageId>,
    /// Live pushes waiting for the backlog to finish.
    held: Vec<Arc<Push>>,
}

/// One backlog page read: mailbox, subscription token, the envelopes.
pub(crate) type Page = (MailboxId, u64, Result<Vec<StoredEnvelope>, StoreError>);

/// A backlog page being read.
pub(crate) type PageFuture = Pin<Box<dyn Future<Output = Page> + Send>>;

/// Reads the page after `after`; the first page waits until envelopes
/// stored by other instances reach this one (with a fan-out).
fn read_page(shared: Arc<Shared>, mailbox: MailboxId, token: u64, after: u64) -> PageFuture {
    Box::pin(async move {
        if after == 0 {
            shared.hub.ready(mailbox).await;
        }
        let page = shared.store.fetch(mailbox, after, PAGE, now_unix()).await;
        (mailbox, token, page)
    })
}

impl Conn {
    /// Registers a proven subscription and starts reading its backlog.
    pub(crate) fn subscribe(&mut self, mailbox: MailboxId) {
        let pushes = self.live_sender();
        self.shared.hub.subscribe(
            mailbox,
            Subscriber {
                conn: self.id,
                pushes,
                kick: Arc::clone(&self.kick),
            },
        );
        self.next_token += 1;
        let token = self.next_token;
        self.pages
            .get_or_insert_with(FuturesUnordered::new)
            .push(read_page(Arc::clone(&self.shared), mailbox, token, 0));
        self.subs.insert(
            mailbox,
            SubState::Backfilling(Box::new(Backfill {
                token,
                last: 0,
                sent: HashSet::new(),
                held: Vec::new(),
            })),
        );
    }

    pub(crate) fn unsubscribe(&mut self, mailbox: &MailboxId) {
        self.shared.hub.unsubscribe(mailbox, self.id);
        // A page still being read for it is dropped when it arrives (no state).
        self.subs.remove(mailbox);
    }

    /// Drops every subscription (connection closing).
    pub(crate) fn unsubscribe_all(&mut self) {
        let all: Vec<MailboxId> = self.subs.keys().copied().collect();
        for mailbox in all {
            self.unsubscribe(&mailbox);
        }
    }

    /// A live push from the hub.
    pub(crate) async fn on_push(&mut self, push: Arc<Push>) {
        let limit = self.shared.config.limits.outbound_queue;
        match self.subs.get_mut(&push.mailbox) {
            None => {}
            Some(SubState::Backfilling(backfill)) => {
                if backfill.held.len() < limit {
                    backfill.held.push(push);
                } else {
                    // Slow reader: disconnect; the envelopes stay stored.
                    self.kick.notify_one();
                }
            }
            Some(SubState::Live) => self.deliver(push.frame.clone()).await,
        }
    }

    /// A backlog page arrived: send it, then read the next or go live.
    pub(crate) async fn on_page(&mut self, (mailbox, token, page): Page) {
        let Some(SubState::Backfilling(backfill)) = self.subs.get_mut(&mailbox) else {
            return;
        };
        let Backfill {
            token: current,
            last,
            sent,
            ..
        } = &mut **backfill;
        if *current != token {
            return; // a page of an earlier subscription to the same mailbox
        }
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                // The envelopes stay stored; the client gets them on its next subscribe.
                tracing::warn!(error = %e, "backlog fetch failed");
                Vec::new()
            }
        };
        let full = page.len() == PAGE;
        for stored in &page {
            if let Ok(parsed) = Envelope::parse(&stored.envelope) {
                sent.insert(parsed.id);
            }
        }
        if let Some(stored) = page.last() {
            *last = stored.seq;
        }
        let after = *last;
        for stored in page {
            let frame = RelayFrame::Deliver {
                envelope: &stored.envelope,
            }
            .encode(0);
            self.deliver(Bytes::from(frame)).await;
        }
        if full {
            let next = read_page(Arc::clone(&self.shared), mailbox, token, after);
            self.pages
                .get_or_insert_with(FuturesUnordered::new)
                .push(next);
            return;
        }
        self.go_live(mailbox).await;
    }

    /// The backlog is sent: release held pushes it did not already send.
    async fn go_live(&mut self, mailbox: MailboxId) {
        let Some(SubState::Backfilling(backfill)) = self.subs.insert(mailbox, SubState::Live)
        else {
            return;
        };
        for push in backfill.held {
            if !backfill.sent.contains(&push.message) {
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
