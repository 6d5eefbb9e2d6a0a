//! Mailbox storage: the only state the relay keeps.
//!
//! The relay never interprets what it stores: mailbox ids, mailbox auth
//! public keys, opaque envelopes, their sizes and expiry times, and hashed
//! access tokens. Everything sits behind [`MailboxStore`] and [`TokenStore`]
//! so the embedded SQLite default and a shared Redis backend (scale-out,
//! several relay instances) can serve the same connection handler.
//!
//! Every method returns a boxed `'static` future so the handler can keep
//! many operations in flight per connection (pipelining) without borrowing
//! the store. Time is a parameter (`now`, unix seconds), never read inside.

pub mod hold;
mod memory;
#[cfg(feature = "redis")]
pub mod redis;
mod send_lock;
pub mod sqlite;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};
use thiserror::Error;

pub use self::hold::HoldingStore;
#[cfg(feature = "redis")]
pub use self::redis::{RedisOptions, RedisStore};
pub use memory::MemoryStore;
pub use send_lock::{SendLock, admits};
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};

use crate::tokens::TokenRecord;

/// A store operation in flight.
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'static>>;

/// Why a store operation did not happen. Refusals are the client's fault and
/// map to error frames; `Unavailable` and `Closed` are the relay's.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// The mailbox does not exist.
    #[error("no such mailbox")]
    NoSuchMailbox,
    /// `create_mailbox` for an id already taken.
    #[error("mailbox already exists")]
    MailboxExists,
    /// Storing the envelope would exceed the mailbox's count or byte quota.
    #[error("mailbox quota exceeded")]
    QuotaFull,
    /// The mailbox is send-locked and the append carried no key or a wrong one.
    #[error("send key missing or wrong")]
    SendKeyRefused,
    /// The backend failed (disk full, I/O error, corrupt database); nothing was changed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The store was shut down.
    #[error("store is closed")]
    Closed,
}

/// Per-mailbox limits and message lifetime, enforced by every backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLimits {
    /// Most envelopes a mailbox holds before senders get `QuotaFull`.
    pub max_messages: u64,
    /// Most envelope bytes a mailbox holds before senders get `QuotaFull`.
    pub max_bytes: u64,
    /// Seconds an unacknowledged envelope is kept before it is purged.
    pub ttl_secs: u64,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self {
            max_messages: 10_000,
            max_bytes: 100 * 1024 * 1024,
            ttl_secs: 21 * 24 * 3600,
        }
    }
}

/// An envelope waiting in a mailbox, with its delivery-order position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEnvelope {
    /// Strictly increasing within a mailbox in storage order; fetches resume after it.
    pub seq: u64,
    /// The envelope exactly as sent.
    pub envelope: Bytes,
}

/// Result of a successful append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Position of the envelope in its mailbox.
    pub seq: u64,
    /// The same message id was already stored: nothing new was written, and
    /// the envelope must not be pushed to subscribers again.
    pub duplicate: bool,
}

/// What a mailbox was created with: who may read it, and who may send to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxKeys {
    /// Ed25519 public key that signs `Subscribe` and `DeleteMailbox`.
    pub auth_key: [u8; 32],
    /// SHA-256 of the send key; `None` for an open mailbox (anyone with the id may send).
    pub send_lock: Option<SendLock>,
}

/// Relay-wide totals for the admin `Stats` frame and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Mailboxes that exist.
    pub mailboxes: u64,
    /// Envelopes stored.
    pub messages: u64,
    /// Bytes of stored envelopes.
    pub bytes: u64,
}

/// Mailboxes and their envelopes.
///
/// Contract shared by all backends (tested by the conformance suite in
/// `store::tests`): `append` resolves only once the envelope survives a
/// crash of the relay process; appends to one mailbox get increasing `seq`
/// in the order `append` was *called*, not the order its future is first
/// polled (the connection handler and [`HoldingStore`] rely on it);
/// a message id is stored at most once per mailbox; `fetch` never returns
/// expired envelopes; quotas count stored (not yet acknowledged or purged)
/// envelopes. An append to a send-locked mailbox is refused with
/// `SendKeyRefused` unless it carries the lock ([`admits`]), checked in the
/// same lookup that finds the mailbox, after existence and before dedupe
/// and quota.
pub trait MailboxStore: Send + Sync + 'static {
    /// Registers a mailbox with its auth key and, if `send_lock` is given,
    /// locks it: only appends carrying that lock are accepted.
    fn create_locked_mailbox(
        &self,
        mailbox: MailboxId,
        auth_key: [u8; 32],
        send_lock: Option<SendLock>,
        now: u64,
    ) -> StoreFuture<()>;

    /// Registers an open mailbox and its auth key.
    fn create_mailbox(&self, mailbox: MailboxId, auth_key: [u8; 32], now: u64) -> StoreFuture<()> {
        self.create_locked_mailbox(mailbox, auth_key, None, now)
    }

    /// The mailbox's auth key and send lock, or `None` if it does not exist.
    fn mailbox_keys(&self, mailbox: MailboxId) -> StoreFuture<Option<MailboxKeys>>;

    /// The mailbox's auth key, or `None` if it does not exist.
    fn auth_key(&self, mailbox: MailboxId) -> StoreFuture<Option<[u8; 32]>> {
        let keys = self.mailbox_keys(mailbox);
        Box::pin(async move { Ok(keys.await?.map(|k| k.auth_key)) })
    }

    /// Durably stores an envelope addressed to `mailbox`; `sent_with` is
    /// the lock of the send key the sender presented (`None`: a plain `Send`).
    fn append_keyed(
        &self,
        mailbox: MailboxId,
        message: MessageId,
        envelope: Bytes,
        sent_with: Option<SendLock>,
        now: u64,
    ) -> StoreFuture<Appended>;

    /// [`MailboxStore::append_keyed`] without a send key (a plain `Send`).
    fn append(
        &self,
        mailbox: MailboxId,
        message: MessageId,
        envelope: Bytes,
        now: u64,
    ) -> StoreFuture<Appended> {
        self.append_keyed(mailbox, message, envelope, None, now)
    }

    /// Deletes one envelope after the recipient's ack; `false` if it was not there.
    fn ack(&self, mailbox: MailboxId, message: MessageId) -> StoreFuture<bool>;

    /// Like [`MailboxStore::append_keyed`], for an envelope the relay already
    /// pushed to an online subscriber (so the hub already found `sent_with`
    /// admitted by the lock the subscription was proven with).
    /// [`HoldingStore`] holds it back briefly: if the recipient's ack arrives
    /// first, the envelope is never written (the recipient's ack is what
    /// makes it safe), and the future resolves then. The default simply appends.
    fn append_delivered_keyed(
        &self,
        mailbox: MailboxId,
        message: MessageId,
        envelope: Bytes,
        sent_with: Option<SendLock>,
        now: u64,
    ) -> StoreFuture<Appended> {
        self.append_keyed(mailbox, message, envelope, sent_with, now)
    }

    /// [`MailboxStore::append_delivered_keyed`] without a send key.
    fn append_delivered(
        &self,
        mailbox: MailboxId,
        message: MessageId,
        envelope: Bytes,
        now: u64,
    ) -> StoreFuture<Appended> {
        self.append_delivered_keyed(mailbox, message, envelope, None, now)
    }

    /// Acks several envelopes at once (a batch-ack frame); returns how many
    /// were there. The default acks them one after another.
    fn ack_many(&self, acks: Vec<(MailboxId, MessageId)>) -> StoreFuture<u64> {
        let futures: Vec<_> = acks.into_iter().map(|(m, id)| self.ack(m, id)).collect();
        Box::pin(async move {
            let mut removed = 0;
            for f in futures {
                removed += u64::from(f.await?);
            }
            Ok(removed)
        })
    }

    /// Up to `limit` unexpired envelopes with `seq > after`, in order.
    fn fetch(
        &self,
        mailbox: MailboxId,
        after: u64,
        limit: usize,
        now: u64,
    ) -> StoreFuture<Vec<StoredEnvelope>>;

    /// Deletes a mailbox and all its envelopes; `false` if it did not exist.
    fn delete_mailbox(&self, mailbox: MailboxId) -> StoreFuture<bool>;

    /// Deletes every envelope whose TTL has passed; returns how many.
    fn purge_expired(&self, now: u64) -> StoreFuture<u64>;

    /// Current totals.
    fn stats(&self) -> StoreFuture<StoreStats>;

    /// Finishes queued writes, makes them durable and stops accepting new ones.
    fn shutdown(&self) -> StoreFuture<()>;

    /// Appends never written because their online recipient acked them while
    /// they were held (see [`MailboxStore::append_delivered`]), for `/metrics`.
    /// `None` for backends that do not hold appends.
    fn appends_cancelled(&self) -> Option<u64> {
        None
    }
}

/// Access tokens, stored only as SHA-256 hashes.
pub trait TokenStore: Send + Sync + 'static {
    /// Saves a new token record under the hash of its secret.
    fn create_token(&self, hash: [u8; 32], record: TokenRecord) -> StoreFuture<()>;

    /// The record of a valid (known, unrevoked, unexpired) token.
    fn check_token(&self, hash: [u8; 32], now: u64) -> StoreFuture<Option<TokenRecord>>;

    /// Every token record, including revoked and expired ones.
    fn list_tokens(&self) -> StoreFuture<Vec<TokenRecord>>;

    /// Marks a token revoked by its public id; `false` if no such token.
    fn revoke_token(&self, id: String) -> StoreFuture<bool>;
}
