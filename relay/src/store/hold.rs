//! Appends of envelopes already pushed to an online recipient, held back
//! from the store for a moment, in the relay process itself.
//!
//! Most envelopes pushed to a subscribed recipient are acknowledged within
//! a few milliseconds. [`HoldingStore`] keeps such an append in memory for
//! up to [`HOLD`]; if the recipient's ack arrives meanwhile, the two cancel
//! out: the envelope is never written (nor deleted), and the sender's
//! append resolves with the recipient's ack as its proof of safety
//! (PROTOCOL.md §18.4). An append nobody acks in time is written like any
//! other. Nothing is acknowledged to a sender before either happens, so a
//! crash loses only envelopes no sender was told are safe.
//!
//! Holding here, not in the backend, keeps the live path off the storage
//! thread entirely: a pushed-and-acked envelope costs two map operations
//! and no cross-thread wakeup.
//!
//! Order (§18.4): a held append keeps its place. Before anything else
//! touches a mailbox with held appends — a plain append, a backlog fetch,
//! a mailbox deletion — those appends are written first, in arrival order.
//! This relies on the inner store taking an operation's place in its order
//! when the operation is *called*, not when its future is first polled
//! (true of the SQLite and Redis backends).
//!
//! Only for a single instance: with a fan-out (several instances on one
//! store), pushes come back from the store after it wrote the envelope.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};
use futures_util::FutureExt;
use futures_util::future::Shared;
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use super::{
    Appended, MailboxKeys, MailboxStore, SendLock, StoreError, StoreFuture, StoreStats,
    StoredEnvelope,
};

/// Longest an append waits for its recipient's ack before it is written.
pub const HOLD: Duration = Duration::from_millis(50);

/// Most appends held at once; beyond this the oldest are written at once.
const MAX_HELD: usize = 16_384;

/// A held envelope is identified by mailbox and message id.
type Key = (MailboxId, MessageId);

/// A write handed to the inner store, awaited by its sender and maybe a fetch.
type Written = Shared<StoreFuture<Appended>>;

/// How a held append ended.
enum Outcome {
    /// The recipient acknowledged it first; it was never written.
    Acked,
    /// It was handed to the inner store.
    Written(Written),
}

/// One held append.
struct Entry {
    envelope: Bytes,
    /// The sender's send lock, checked again by the inner store if written.
    sent_with: Option<SendLock>,
    /// Arrival time (unix seconds), from which the store computes expiry.
    now: u64,
    sender: oneshot::Sender<Outcome>,
}

/// Held appends in arrival order.
#[derive(Default)]
struct Held {
    entries: HashMap<Key, Entry>,
    /// Arrival order with due times; keys no longer held are skipped lazily.
    order: VecDeque<(Instant, Key)>,
    /// How many appends each mailbox has held, to skip flushes cheaply.
    per_mailbox: HashMap<MailboxId, usize>,
    /// The flusher sleeps until a deadline (no need to wake it on insert).
    armed: bool,
    /// Shut down: nothing is held any more.
    closed: bool,
}

impl Held {
    fn insert(&mut self, key: Key, entry: Entry, now: Instant) {
        self.entries.insert(key, entry);
        self.order.push_back((now + HOLD, key));
        *self.per_mailbox.entry(key.0).or_default() += 1;
    }

    fn remove(&mut self, key: &Key) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        if let Some(n) = self.per_mailbox.get_mut(&key.0) {
            *n -= 1;
            if *n == 0 {
                self.per_mailbox.remove(&key.0);
            }
        }
        Some(entry)
    }

    /// Forgets queue entries whose append is no longer held.
    fn drop_stale(&mut self) {
        while let Some((_, key)) = self.order.front() {
            if self.entries.contains_key(key) {
                return;
            }
            self.order.pop_front();
        }
    }
}

/// State shared by the store handle and its flusher task.
struct Core {
    inner: Arc<dyn MailboxStore>,
    held: Mutex<Held>,
    /// Wakes the flusher when an append is held while it is not armed.
    wake: Arc<Notify>,
    cancelled: AtomicU64,
}

impl Core {
    fn lock(&self) -> MutexGuard<'_, Held> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Hands one held append to the inner store and tells its sender.
    fn write(&self, (mailbox, message): Key, entry: Entry) -> Written {
        let written = self
            .inner
            .append_keyed(mailbox, message, entry.envelope, entry.sent_with, entry.now)
            .shared();
        let _ = entry.sender.send(Outcome::Written(written.clone()));
        written
    }

    /// Writes every held append of `mailbox`, in arrival order.
    fn flush_mailbox(&self, held: &mut Held, mailbox: MailboxId) -> Vec<Written> {
        if !held.per_mailbox.contains_key(&mailbox) {
            return Vec::new();
        }
        let keys: Vec<Key> = held
            .order
            .iter()
            .map(|(_, key)| *key)
            .filter(|key| key.0 == mailbox)
            .collect();
        keys.into_iter()
            .filter_map(|key| held.remove(&key).map(|entry| self.write(key, entry)))
            .collect()
    }

    /// Writes held appends that are due (or over the cap); returns when the
    /// next one is due, disarming the flusher if none is held.
    fn flush_due(&self, now: Instant) -> Option<Instant> {
        let mut held = self.lock();
        loop {
            held.drop_stale();
            let Some(&(due, key)) = held.order.front() else {
                held.armed = false;
                return None;
            };
            if due > now && held.entries.len() <= MAX_HELD {
                held.armed = true;
                return Some(due);
            }
            held.order.pop_front();
            if let Some(entry) = held.remove(&key) {
                // Queued in the inner store now; its sender awaits the result.
                drop(self.write(key, entry));
            }
        }
    }
}

/// A [`MailboxStore`] that holds live appends back for their recipient's ack.
pub struct HoldingStore {
    core: Arc<Core>,
}

impl HoldingStore {
    /// Wraps `inner` and starts the flusher task (needs a tokio runtime).
    pub fn new(inner: Arc<dyn MailboxStore>) -> Self {
        let wake = Arc::new(Notify::new());
        let core = Arc::new(Core {
            inner,
            held: Mutex::default(),
            wake: Arc::clone(&wake),
            cancelled: AtomicU64::new(0),
        });
        tokio::spawn(flusher(Arc::downgrade(&core), wake));
        Self { core }
    }

    /// Appends never written because their recipient acked them while held
    /// (each saved an insert and a delete).
    pub fn cancelled_writes(&self) -> u64 {
        self.core.cancelled.load(Ordering::Relaxed)
    }

    /// Resolves a held append by its recipient's ack; `true` if it was held.
    fn cancel(&self, held: &mut Held, key: &Key) -> bool {
        let Some(entry) = held.remove(key) else {
            return false;
        };
        let _ = entry.sender.send(Outcome::Acked);
        self.core.cancelled.fetch_add(1, Ordering::Relaxed);
        true
    }
}

impl Drop for HoldingStore {
    fn drop(&mut self) {
        // The flusher holds only a weak reference; wake it so it sees we are gone.
        self.core.wake.notify_one();
    }
}

/// Writes held appends as they fall due.
async fn flusher(core: Weak<Core>, wake: Arc<Notify>) {
    loop {
        let next = match core.upgrade() {
            Some(core) => core.flush_due(Instant::now()),
            None => return,
        };
        match next {
            Some(due) => {
                tokio::select! {
                    () = tokio::time::sleep_until(due) => {}
                    () = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

impl MailboxStore for HoldingStore {
    fn create_locked_mailbox(
        &self,
        mailbox: MailboxId,
        auth_key: [u8; 32],
        send_lock: Option<SendLock>,
        now: u64,
    ) -> StoreFuture<()> {
        self.core
            .inner
            .create_locked_mailbox(mailbox, auth_key, send_lock, now)
    }

    fn mailbox_keys(&self, mailbox: MailboxId) -> StoreFuture<Option<MailboxKeys>> {
        self.core.inner.mailbox_keys(mailbox)
    }

    fn append_keyed(
        &self,
        mailbox: MailboxId,
        message: MessageId,
        envelope: Bytes,
        sent_with: Option<SendLock>,
        now: u64,
    ) -> StoreFuture<Appended> {
        let mut held = self.core.lock();
        self.core.flush_mailbox(&mut held, mailbox);
        self.core
            .inner
            .append_keyed(mailbox, message, envelope, sent_with, now)
    }

    /// Holds the append without checking `sent_with`: the caller pushed it
    /// only to subscriptions whose lock admits it (`Hub::publish`), and the
    /// inner store checks it again if it is written.
    fn append_delivered_keyed(
        &self,
        mailbox: MailboxId,
        message: MessageId,
        envelope: Bytes,
        sent_with: Option<SendLock>,
        now: u64,
    ) -> StoreFuture<Appended> {
        let key = (mailbox, message);
        let mut held = self.core.lock();
        if held.closed || held.entries.contains_key(&key) {
            // A retry of a held message: write both, the retry second (a duplicate).
            self.core.flush_mailbox(&mut held, mailbox);
            return self
                .core
                .inner
                .append_keyed(mailbox, message, envelope, sent_with, now);
        }
        let (sender, outcome) = oneshot::channel();
        held.drop_stale();
        held.insert(
            key,
            Entry {
                envelope,
                sent_with,
                now,
                sender,
            },
            Instant::now(),
        );
        if held.entries.len() > MAX_HELD {
            while let Some((_, oldest)) = held.order.pop_front() {
                if let Some(entry) = held.remove(&oldest) {
                    drop(self.core.write(oldest, entry));
                    break;
                }
            }
        }
        if !held.armed {
            held.armed = true;
            self.core.wake.notify_one();
        }
        drop(held);
        Box::pin(async move {
            match outcome.await {
                Ok(Outcome::Acked) => Ok(Appended {
                    seq: 0,
                    duplicate: false,
                }),
                Ok(Outcome::Written(written)) => written.await,
                Err(_) => Err(StoreError::Closed),
            }
        })
    }

    fn ack(&self, mailbox: MailboxId, message: MessageId) -> StoreFuture<bool> {
        let mut held = self.core.lock();
        if self.cancel(&mut held, &(mailbox, message)) {
            return Box::pin(std::future::ready(Ok(true)));
        }
        drop(held);
        self.core.inner.ack(mailbox, message)
    }

    fn ack_many(&self, acks: Vec<(MailboxId, MessageId)>) -> StoreFuture<u64> {
        let mut held = self.core.lock();
        let mut cancelled = 0;
        let rest: Vec<Key> = acks
            .into_iter()
            .filter(|key| {
                let was_held = self.cancel(&mut held, key);
                cancelled += u64::from(was_held);
                !was_held
            })
            .collect();
        drop(held);
        if rest.is_empty() {
            return Box::pin(std::future::ready(Ok(cancelled)));
        }
        let removed = self.core.inner.ack_many(rest);
        Box::pin(async move { Ok(cancelled + removed.await?) })
    }

    fn fetch(
        &self,
        mailbox: MailboxId,
        after: u64,
        limit: usize,
        now: u64,
    ) -> StoreFuture<Vec<StoredEnvelope>> {
        let written = {
            let mut held = self.core.lock();
            self.core.flush_mailbox(&mut held, mailbox)
        };
        let inner = Arc::clone(&self.core.inner);
        Box::pin(async move {
            // The backlog must include what was held, in its place.
            for w in written {
                let _ = w.await;
            }
            inner.fetch(mailbox, after, limit, now).await
        })
    }

    fn delete_mailbox(&self, mailbox: MailboxId) -> StoreFuture<bool> {
        let mut held = self.core.lock();
        self.core.flush_mailbox(&mut held, mailbox);
        self.core.inner.delete_mailbox(mailbox)
    }

    fn purge_expired(&self, now: u64) -> StoreFuture<u64> {
        self.core.inner.purge_expired(now)
    }

    fn stats(&self) -> StoreFuture<StoreStats> {
        self.core.inner.stats()
    }

    fn shutdown(&self) -> StoreFuture<()> {
        let written: Vec<Written> = {
            let mut held = self.core.lock();
            held.closed = true;
            let keys: Vec<Key> = held.order.drain(..).map(|(_, key)| key).collect();
            keys.into_iter()
                .filter_map(|key| held.remove(&key).map(|entry| self.core.write(key, entry)))
                .collect()
        };
        let inner = Arc::clone(&self.core.inner);
        Box::pin(async move {
            for w in written {
                let _ = w.await;
            }
            inner.shutdown().await
        })
    }

    fn appends_cancelled(&self) -> Option<u64> {
        Some(self.cancelled_writes())
    }
}

#[cfg(test)]
mod tests;
