//! In-memory store: the reference semantics for the conformance tests and
//! a backend for unit tests. Not durable; never used by `cairn-relay serve`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};

use super::{
    Appended, MailboxKeys, MailboxStore, SendLock, StoreError, StoreFuture, StoreLimits,
    StoreStats, StoredEnvelope, TokenStore, admits,
};
use crate::tokens::TokenRecord;

#[derive(Default)]
struct Mailbox {
    auth_key: [u8; 32],
    send_lock: Option<SendLock>,
    messages: BTreeMap<u64, (MessageId, u64, Bytes)>,
    bytes: u64,
}

#[derive(Default)]
struct State {
    mailboxes: HashMap<MailboxId, Mailbox>,
    tokens: HashMap<[u8; 32], TokenRecord>,
    next_seq: u64,
    closed: bool,
}

/// A [`MailboxStore`] and [`TokenStore`] kept in a mutex-guarded map.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    limits: StoreLimits,
}

impl MemoryStore {
    /// An empty store enforcing `limits`.
    pub fn new(limits: StoreLimits) -> Self {
        Self {
            state: Arc::default(),
            limits,
        }
    }

    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut State, &StoreLimits) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<T> {
        let state = Arc::clone(&self.state);
        let limits = self.limits;
        Box::pin(async move {
            let mut guard = lock(&state);
            if guard.closed {
                return Err(StoreError::Closed);
            }
            f(&mut guard, &limits)
        })
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MailboxStore for MemoryStore {
    fn create_locked_mailbox(
        &self,
        mailbox: MailboxId,
        auth_key: [u8; 32],
        send_lock: Option<SendLock>,
        _now: u64,
    ) -> StoreFuture<()> {
        self.run(move |s, _| {
            if s.mailboxes.contains_key(&mailbox) {
                return Err(StoreError::MailboxExists);
            }
            s.mailboxes.insert(
                mailbox,
                Mailbox {
                    auth_key,
                    send_lock,
                    ..Mailbox::default()
                },
            );
            Ok(())
        })
    }

    fn mailbox_keys(&self, mailbox: MailboxId) -> StoreFuture<Option<MailboxKeys>> {
        self.run(move |s, _| {
            Ok(s.mailboxes.get(&mailbox).map(|m| MailboxKeys {
                auth_key: m.auth_key,
                send_lock: m.send_lock,
            }))
        })
    }

    fn append_keyed(
        &self,
        mailbox: MailboxId,
        message: MessageId,
        envelope: Bytes,
        sent_with: Option<SendLock>,
        now: u64,
    ) -> StoreFuture<Appended> {
        self.run(move |s, limits| {
            let seq = s.next_seq + 1;
            let mb = s
                .mailboxes
                .get_mut(&mailbox)
                .ok_or(StoreError::NoSuchMailbox)?;
            if !admits(mb.send_lock.as_ref(), sent_with.as_ref()) {
                return Err(StoreError::SendKeyRefused);
            }
            if let Some((&seq, _)) = mb.messages.iter().find(|(_, m)| m.0 == message) {
                return Ok(Appended {
                    seq,
                    duplicate: true,
                });
            }
            let len = envelope.len() as u64;
            if mb.messages.len() as u64 >= limits.max_messages || mb.bytes + len > limits.max_bytes
            {
                return Err(StoreError::QuotaFull);
            }
            mb.bytes += len;
            let expires = now.saturating_add(limits.ttl_secs);
            mb.messages.insert(seq, (message, expires, envelope));
            s.next_seq = seq;
            Ok(Appended {
                seq,
                duplicate: false,
            })
        })
    }

    fn ack(&self, mailbox: MailboxId, message: MessageId) -> StoreFuture<bool> {
        self.run(move |s, _| {
            let Some(mb) = s.mailboxes.get_mut(&mailbox) else {
                return Ok(false);
            };
            let found = mb
                .messages
                .iter()
                .find(|(_, m)| m.0 == message)
                .map(|(k, _)| *k);
            Ok(match found.and_then(|seq| mb.messages.remove(&seq)) {
                Some((_, _, env)) => {
                    mb.bytes -= env.len() as u64;
                    true
                }
                None => false,
            })
        })
    }

    fn fetch(
        &self,
        mailbox: MailboxId,
        after: u64,
        limit: usize,
        now: u64,
    ) -> StoreFuture<Vec<StoredEnvelope>> {
        self.run(move |s, _| {
            let Some(mb) = s.mailboxes.get(&mailbox) else {
                return Ok(Vec::new());
            };
            Ok(mb
                .messages
                .range(after.saturating_add(1)..)
                .filter(|(_, (_, expires, _))| *expires > now)
                .take(limit)
                .map(|(&seq, (_, _, envelope))| StoredEnvelope {
                    seq,
                    envelope: envelope.clone(),
                })
                .collect())
        })
    }

    fn delete_mailbox(&self, mailbox: MailboxId) -> StoreFuture<bool> {
        self.run(move |s, _| Ok(s.mailboxes.remove(&mailbox).is_some()))
    }

    fn purge_expired(&self, now: u64) -> StoreFuture<u64> {
        self.run(move |s, _| {
            let mut purged = 0;
            for mb in s.mailboxes.values_mut() {
                let before = mb.messages.len();
                mb.messages.retain(|_, (_, expires, _)| *expires > now);
                purged += (before - mb.messages.len()) as u64;
                mb.bytes = mb.messages.values().map(|m| m.2.len() as u64).sum();
            }
            Ok(purged)
        })
    }

    fn stats(&self) -> StoreFuture<StoreStats> {
        self.run(|s, _| {
            Ok(StoreStats {
                mailboxes: s.mailboxes.len() as u64,
                messages: s.mailboxes.values().map(|m| m.messages.len() as u64).sum(),
                bytes: s.mailboxes.values().map(|m| m.bytes).sum(),
            })
        })
    }

    fn shutdown(&self) -> StoreFuture<()> {
        self.run(|s, _| {
            s.closed = true;
            Ok(())
        })
    }
}

impl TokenStore for MemoryStore {
    fn create_token(&self, hash: [u8; 32], record: TokenRecord) -> StoreFuture<()> {
        self.run(move |s, _| {
            s.tokens.insert(hash, record);
            Ok(())
        })
    }

    fn check_token(&self, hash: [u8; 32], now: u64) -> StoreFuture<Option<TokenRecord>> {
        self.run(move |s, _| {
            Ok(s.tokens.get(&hash).and_then(|t| {
                let live = !t.revoked && t.expires_at.is_none_or(|e| e > now);
                live.then(|| t.clone())
            }))
        })
    }

    fn list_tokens(&self) -> StoreFuture<Vec<TokenRecord>> {
        self.run(|s, _| {
            let mut all: Vec<_> = s.tokens.values().cloned().collect();
            all.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(all)
        })
    }

    fn revoke_token(&self, id: String) -> StoreFuture<bool> {
        self.run(move |s, _| {
            let mut found = false;
            for t in s.tokens.values_mut().filter(|t| t.id == id) {
                t.revoked = true;
                found = true;
            }
            Ok(found)
        })
    }
}
