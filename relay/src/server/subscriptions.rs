//! A connection's subscriptions as a plain state machine: stored backlog
//! first, then live pushes, nothing lost in between and nothing twice.
//!
//! No I/O here: the connection feeds in what happened (a subscription
//! proven, a backlog page read, a live push, an unsubscribe, the mailbox
//! deleted) and does what comes back (write these `Deliver` frames, read
//! this page, disconnect). So the ordering rules below are unit-tested
//! without sockets, store or hub.
//!
//! The connection registers a subscription with the hub *before* it asks
//! for the first backlog page (the hub's generation is an input of
//! [`Subscriptions::subscribe`], so it cannot be done the other way round):
//! every envelope sent afterwards is pushed, and one sent just before but
//! stored only after the backlog read is pushed again once stored (see
//! `hub`). While the backlog is read and written a page at a time, live
//! pushes for that mailbox are held. After the last page, held pushes whose
//! message id the backlog already sent are dropped and the rest follow in
//! arrival order. More held pushes than the outbound queue holds make the
//! connection a slow reader, disconnected like one whose queue overflows
//! (everything not acknowledged stays stored for its next subscription).

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use cairn_protocol::envelope::{Envelope, MailboxId, MessageId};
use cairn_protocol::frames::RelayFrame;

use super::hub::Push;
use crate::store::{StoreError, StoredEnvelope};

/// Envelopes read from the store per backlog page.
pub(crate) const PAGE: usize = 256;

/// One connection's subscriptions.
pub(crate) struct Subscriptions {
    subs: HashMap<MailboxId, Sub>,
    /// Tells a subscription's pages from those of an earlier one.
    next_token: u64,
    /// Most pushes held per backfilling subscription (`--outbound-queue`).
    hold_limit: usize,
}

/// One subscription: the hub registration it belongs to, and where it stands.
struct Sub {
    /// The hub's generation of this connection's registration: a deletion
    /// notice for an older one must not end a newer subscription.
    generation: u64,
    state: State,
}

/// Where a subscription stands.
enum State {
    /// Backlog being sent (boxed: most subscriptions are live, and an idle
    /// subscription's map entry stays small).
    Backfilling(Box<Backfill>),
    /// Backlog sent; pushes go straight out.
    Live,
}

/// A subscription's backlog in progress.
struct Backfill {
    /// Which subscription the pages in flight belong to.
    token: u64,
    /// Message ids the backlog sent.
    sent: HashSet<MessageId>,
    /// Live pushes waiting for the backlog to finish: message id and frame.
    held: Vec<(MessageId, Bytes)>,
}

/// A backlog page to read: envelopes of `mailbox` stored after `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fetch {
    pub mailbox: MailboxId,
    /// The subscription it is for.
    pub token: u64,
    /// Storage position of the last envelope already sent (0: from the start).
    pub after: u64,
}

/// What to do with a live push.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Write this `Deliver` frame now.
    Deliver(Bytes),
    /// Held until the backlog is sent.
    Held,
    /// Not subscribed (any more): nothing.
    Dropped,
    /// More pushes held than allowed: disconnect the slow reader.
    Overflow,
}

/// What to do after a backlog page was read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Backlog {
    /// `Deliver` frames to write, in this order.
    pub frames: Vec<Bytes>,
    pub next: Next,
}

/// How a subscription goes on after a page.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// Read this page next.
    Fetch(Fetch),
    /// The backlog is sent; the subscription is live.
    Live,
    /// The mailbox no longer exists (or is no longer the one proven): the
    /// subscription is over; unregister it from the hub.
    Gone,
    /// The page was for a subscription that has ended since: nothing.
    Stale,
}

impl Subscriptions {
    /// No subscriptions; each may hold up to `hold_limit` pushes while backfilling.
    pub(crate) fn new(hold_limit: usize) -> Self {
        Self {
            subs: HashMap::new(),
            next_token: 0,
            hold_limit,
        }
    }

    pub(crate) fn contains(&self, mailbox: &MailboxId) -> bool {
        self.subs.contains_key(mailbox)
    }

    pub(crate) fn len(&self) -> usize {
        self.subs.len()
    }

    /// True if the connection holds no subscription.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A subscription was proven and registered with the hub at
    /// `generation`. Returns the first backlog page to read, or `None` if
    /// this registration is already subscribed (a repeated `Subscribe`).
    pub(crate) fn subscribe(&mut self, mailbox: MailboxId, generation: u64) -> Option<Fetch> {
        if self
            .subs
            .get(&mailbox)
            .is_some_and(|sub| sub.generation == generation)
        {
            return None;
        }
        // New, or the old registration was ended by a deletion whose notice
        // has not arrived yet: start afresh.
        self.next_token += 1;
        let token = self.next_token;
        let backfill = Backfill {
            token,
            sent: HashSet::new(),
            held: Vec::new(),
        };
        self.subs.insert(
            mailbox,
            Sub {
                generation,
                state: State::Backfilling(Box::new(backfill)),
            },
        );
        Some(Fetch {
            mailbox,
            token,
            after: 0,
        })
    }

    /// Ends a subscription (`Unsubscribe`, or this connection deleted the
    /// mailbox). A page still being read for it is ignored when it arrives.
    /// Returns whether it existed.
    pub(crate) fn unsubscribe(&mut self, mailbox: &MailboxId) -> bool {
        self.subs.remove(mailbox).is_some()
    }

    /// The hub ended the registration made at `generation` (the mailbox was
    /// deleted). A newer subscription to the same id stays.
    pub(crate) fn ended(&mut self, mailbox: &MailboxId, generation: u64) -> bool {
        let current = self
            .subs
            .get(mailbox)
            .is_some_and(|sub| sub.generation == generation);
        if current {
            self.subs.remove(mailbox);
        }
        current
    }

    /// Ends every subscription (the connection is closing); returns the mailboxes.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = MailboxId> + '_ {
        self.subs.drain().map(|(mailbox, _)| mailbox)
    }

    /// A live push from the hub.
    pub(crate) fn push(&mut self, push: &Push) -> Pushed {
        match self.subs.get_mut(&push.mailbox).map(|sub| &mut sub.state) {
            None => Pushed::Dropped,
            Some(State::Live) => Pushed::Deliver(push.frame.clone()),
            Some(State::Backfilling(backfill)) => {
                if backfill.held.len() < self.hold_limit {
                    backfill.held.push((push.message, push.frame.clone()));
                    Pushed::Held
                } else {
                    Pushed::Overflow
                }
            }
        }
    }

    /// A backlog page was read for `fetch`. A read that failed is logged by
    /// the caller and ends the backlog early (the envelopes stay stored; the
    /// client gets them on its next subscription), except `NoSuchMailbox`:
    /// the mailbox is gone, and so is the subscription.
    pub(crate) fn page(
        &mut self,
        fetch: Fetch,
        read: Result<Vec<StoredEnvelope>, StoreError>,
    ) -> Backlog {
        let stale = Backlog {
            frames: Vec::new(),
            next: Next::Stale,
        };
        let Some(sub) = self.subs.get_mut(&fetch.mailbox) else {
            return stale;
        };
        let State::Backfilling(backfill) = &mut sub.state else {
            return stale;
        };
        if backfill.token != fetch.token {
            return stale; // a page of an earlier subscription to the same mailbox
        }
        let page = match read {
            Ok(page) => page,
            Err(StoreError::NoSuchMailbox) => {
                self.subs.remove(&fetch.mailbox);
                return Backlog {
                    frames: Vec::new(),
                    next: Next::Gone,
                };
            }
            Err(_) => Vec::new(),
        };
        let full = page.len() == PAGE;
        let mut frames = Vec::with_capacity(page.len());
        for stored in &page {
            if let Ok(parsed) = Envelope::parse(&stored.envelope) {
                backfill.sent.insert(parsed.id);
            }
            let frame = RelayFrame::Deliver {
                envelope: &stored.envelope,
            };
            frames.push(Bytes::from(frame.encode(0)));
        }
        if full && let Some(last) = page.last() {
            let next = Fetch {
                after: last.seq,
                ..fetch
            };
            return Backlog {
                frames,
                next: Next::Fetch(next),
            };
        }
        // The backlog is sent: release held pushes it did not already send.
        if let State::Backfilling(backfill) = std::mem::replace(&mut sub.state, State::Live) {
            frames.extend(
                backfill
                    .held
                    .into_iter()
                    .filter(|(message, _)| !backfill.sent.contains(message))
                    .map(|(_, frame)| frame),
            );
        }
        Backlog {
            frames,
            next: Next::Live,
        }
    }
}

#[cfg(test)]
mod tests;
