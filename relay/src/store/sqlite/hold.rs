//! Appends of envelopes already pushed to an online recipient, held back
//! from the database for a moment.
//!
//! Most such envelopes are acknowledged by their recipient within a few
//! milliseconds. If the ack reaches the writer while the append is still
//! held, the pair cancels out: the envelope is never inserted (nor deleted),
//! and the sender's append resolves with the recipient's ack as its proof
//! of safety. An append nobody acks within [`HOLD`] is written like any
//! other. Nothing here is acknowledged to anyone before either happens, so
//! a crash loses only envelopes no sender was told are safe.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use cairn_protocol::envelope::{MailboxId, MessageId};

use super::writer::{Reply, WriteOp};
use crate::store::Appended;

/// Longest an append waits for its recipient's ack before it is written.
pub(super) const HOLD: Duration = Duration::from_millis(50);

/// Most appends held at once; beyond this the oldest are written at once.
const MAX_HELD: usize = 16_384;

/// Acks that found nothing, remembered in case their append arrives late.
const MAX_MISSES: usize = 4096;

/// A held envelope is identified by mailbox and message id.
pub(super) type Key = (MailboxId, MessageId);

/// Held appends in arrival order, plus recent acks that matched nothing.
#[derive(Default)]
pub(super) struct Held {
    ops: HashMap<Key, WriteOp>,
    order: VecDeque<(Instant, Key)>,
    misses: HashSet<Key>,
    miss_order: VecDeque<Key>,
}

impl Held {
    /// Holds a live append until `now + HOLD`. Returns it back if it cannot be
    /// held (same key already held: it goes to the database directly), or its
    /// reply if an ack for it already came (cancelled at once).
    pub(super) fn hold(&mut self, key: Key, op: WriteOp, now: Instant) -> Held1 {
        if self.misses.remove(&key) {
            return match op {
                WriteOp::Append { reply, seq, .. } => Held1::Cancelled(reply, seq),
                other => Held1::Write(other),
            };
        }
        if self.ops.contains_key(&key) {
            return Held1::Write(op);
        }
        self.ops.insert(key, op);
        self.order.push_back((now + HOLD, key));
        Held1::Held
    }

    /// An ack arrived: if its append is held, it is cancelled and its reply
    /// returned with the storage position it was given.
    pub(super) fn cancel(&mut self, key: &Key) -> Option<(Reply<Appended>, u64)> {
        match self.ops.remove(key) {
            Some(WriteOp::Append { reply, seq, .. }) => Some((reply, seq)),
            Some(other) => {
                // Only appends are ever held; put anything else back untouched.
                self.ops.insert(*key, other);
                None
            }
            None => None,
        }
    }

    /// Remembers an ack that matched nothing held and nothing stored.
    pub(super) fn missed(&mut self, key: Key) {
        if self.misses.insert(key) {
            self.miss_order.push_back(key);
        }
        while self.miss_order.len() > MAX_MISSES {
            if let Some(old) = self.miss_order.pop_front() {
                self.misses.remove(&old);
            }
        }
    }

    /// When the oldest held append is due, if any.
    pub(super) fn next_due(&mut self) -> Option<Instant> {
        self.drop_stale();
        self.order.front().map(|(due, _)| *due)
    }

    /// Moves appends due by `now` (and any beyond the cap) to `out`.
    pub(super) fn take_due(&mut self, now: Instant, out: &mut Vec<WriteOp>) {
        loop {
            self.drop_stale();
            let Some(&(due, key)) = self.order.front() else {
                return;
            };
            if due > now && self.ops.len() <= MAX_HELD {
                return;
            }
            self.order.pop_front();
            if let Some(op) = self.ops.remove(&key) {
                out.push(op);
            }
        }
    }

    /// Moves every held append to `out` (shutdown).
    pub(super) fn take_all(&mut self, out: &mut Vec<WriteOp>) {
        while let Some((_, key)) = self.order.pop_front() {
            if let Some(op) = self.ops.remove(&key) {
                out.push(op);
            }
        }
    }

    /// Forgets queue entries whose append was cancelled.
    fn drop_stale(&mut self) {
        while let Some((_, key)) = self.order.front() {
            if self.ops.contains_key(key) {
                return;
            }
            self.order.pop_front();
        }
    }
}

/// What [`Held::hold`] did.
pub(super) enum Held1 {
    /// Held.
    Held,
    /// Not held: write it now.
    Write(WriteOp),
    /// Its ack came first: never written; answer it (with its position).
    Cancelled(Reply<Appended>, u64),
}
