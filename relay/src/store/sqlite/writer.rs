//! The single writer thread: group commit.
//!
//! Every change goes through one channel to one thread. The thread takes
//! everything queued (up to [`MAX_BATCH`]), applies it inside one
//! transaction and commits once; only then does any operation of the batch
//! get its answer. A sender is therefore acknowledged only after the
//! transaction holding its envelope is committed, while one commit (and,
//! with `synchronous = FULL`, one fsync) is shared by everyone who arrived
//! meanwhile.
//!
//! Appends of envelopes already pushed to an online recipient are held in
//! the relay process, before they reach this thread
//! ([`crate::store::HoldingStore`]): one acked meanwhile never gets here.
//!
//! The SQL each operation runs is in [`super::apply`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::super::{Appended, SendLock, StoreError, StoreLimits};
use super::apply::UsageMap;
use crate::tokens::TokenRecord;

/// Most operations committed in one transaction.
pub(super) const MAX_BATCH: usize = 4096;

/// An envelope is identified by mailbox and message id.
pub(super) type Key = (MailboxId, MessageId);

/// Where an operation's answer goes.
pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One change for the writer thread.
pub(super) enum WriteOp {
    Create {
        mailbox: MailboxId,
        auth_key: [u8; 32],
        send_lock: Option<SendLock>,
        now: u64,
        reply: Reply<()>,
    },
    Append {
        mailbox: MailboxId,
        message: MessageId,
        envelope: Bytes,
        /// Lock of the send key the sender presented; `None`: a plain `Send`.
        sent_with: Option<SendLock>,
        expires_at: u64,
        /// Storage position, given by the writer on arrival (callers pass 0):
        /// a mailbox's backlog is in arrival order.
        seq: u64,
        reply: Reply<Appended>,
    },
    Ack {
        mailbox: MailboxId,
        message: MessageId,
        reply: Reply<bool>,
    },
    AckMany {
        acks: Vec<Key>,
        reply: Reply<u64>,
    },
    DeleteMailbox {
        mailbox: MailboxId,
        reply: Reply<bool>,
    },
    PurgeExpired {
        now: u64,
        limit: u32,
        reply: Reply<u64>,
    },
    /// Checkpoints and truncates the write-ahead log, so the deleted
    /// content it still holds (overwritten in the database by
    /// `secure_delete`) is gone from the files too.
    EraseLog {
        reply: Reply<()>,
    },
    CreateToken {
        hash: [u8; 32],
        record: TokenRecord,
        reply: Reply<()>,
    },
    RevokeToken {
        id: String,
        reply: Reply<bool>,
    },
    Shutdown {
        reply: Reply<()>,
    },
}

/// An answer computed inside the transaction, delivered after the commit.
/// An enum rather than a boxed closure: one allocation less per operation.
pub(super) enum Finish {
    Unit(Reply<()>, Result<(), StoreError>),
    Appended(Reply<Appended>, Result<Appended, StoreError>),
    Bool(Reply<bool>, Result<bool, StoreError>),
    Count(Reply<u64>, Result<u64, StoreError>),
}

impl Finish {
    /// Sends the answer, or the commit's failure. A dropped receiver means
    /// the client went away; nothing to tell.
    fn send(self, commit: &Result<(), StoreError>) {
        fn go<T>(reply: Reply<T>, result: Result<T, StoreError>, commit: &Result<(), StoreError>) {
            let _ = reply.send(commit.clone().and(result));
        }
        match self {
            Finish::Unit(r, v) => go(r, v, commit),
            Finish::Appended(r, v) => go(r, v, commit),
            Finish::Bool(r, v) => go(r, v, commit),
            Finish::Count(r, v) => go(r, v, commit),
        }
    }
}

/// State of the writer thread between batches.
pub(super) struct Writer {
    pub(super) conn: Connection,
    pub(super) limits: StoreLimits,
    next_seq: u64,
    counters: Arc<Counters>,
}

/// What the writer has done, for metrics and tests.
#[derive(Default)]
pub(super) struct Counters {
    /// Transactions run (group commits, failed ones included).
    pub(super) commits: AtomicU64,
    /// Operations executed in those transactions.
    pub(super) committed_ops: AtomicU64,
}

impl Writer {
    pub(super) fn new(
        conn: Connection,
        limits: StoreLimits,
        counters: Arc<Counters>,
    ) -> Result<Self, StoreError> {
        let max: i64 = conn
            .query_row(super::apply::MAX_SEQ, [], |r| r.get(0))
            .map_err(unavailable)?;
        Ok(Self {
            conn,
            limits,
            next_seq: u64::try_from(max).unwrap_or(0) + 1,
            counters,
        })
    }

    /// Runs until the channel closes or a `Shutdown` arrives.
    pub(super) fn run(mut self, mut rx: mpsc::Receiver<WriteOp>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut shutdown = None;
        loop {
            let Some(op) = rx.blocking_recv() else {
                return;
            };
            self.route(op, &mut batch, &mut shutdown);
            while batch.len() < MAX_BATCH && shutdown.is_none() {
                match rx.try_recv() {
                    Ok(op) => self.route(op, &mut batch, &mut shutdown),
                    Err(_) => break,
                }
            }
            if let Some(reply) = shutdown.take() {
                rx.close();
                while let Ok(op) = rx.try_recv() {
                    self.route(op, &mut batch, &mut shutdown);
                }
                self.commit_batch(&mut batch);
                let result = self
                    .conn
                    .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                    .map_err(unavailable);
                tracing::info!(
                    commits = self.counters.commits.load(Ordering::Relaxed),
                    ops = self.counters.committed_ops.load(Ordering::Relaxed),
                    "writer stopped"
                );
                let _ = reply.send(result);
                return;
            }
            self.commit_batch(&mut batch);
        }
    }

    /// Numbers an append on arrival; batches everything but `Shutdown` and
    /// `EraseLog` (a checkpoint runs outside any transaction: the batch so far
    /// is committed first).
    fn route(
        &mut self,
        mut op: WriteOp,
        batch: &mut Vec<WriteOp>,
        shutdown: &mut Option<Reply<()>>,
    ) {
        if let WriteOp::Append { seq, .. } = &mut op {
            *seq = self.next_seq;
            self.next_seq += 1;
        }
        match op {
            WriteOp::Shutdown { reply } => *shutdown = Some(reply),
            WriteOp::EraseLog { reply } => {
                self.commit_batch(batch);
                let _ = reply.send(self.erase_log());
            }
            op => batch.push(op),
        }
    }

    /// Copies the log into the database and truncates it to nothing. If a
    /// reader still needs part of it, it is left for the next pass.
    fn erase_log(&mut self) -> Result<(), StoreError> {
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .map_err(unavailable)?;
        if busy != 0 {
            tracing::debug!("write-ahead log in use by a reader; erased at the next pass");
        }
        Ok(())
    }

    /// Applies and commits `batch` (emptying it), then answers its
    /// operations. An empty batch commits nothing.
    fn commit_batch(&mut self, batch: &mut Vec<WriteOp>) {
        if batch.is_empty() {
            return;
        }
        self.counters.commits.fetch_add(1, Ordering::Relaxed);
        self.counters
            .committed_ops
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let mut done: Vec<Finish> = Vec::with_capacity(batch.len());
        let mut usage = UsageMap::new();
        let outcome = self.begin().and_then(|()| {
            for op in batch.drain(..) {
                done.push(self.apply(op, &mut usage)?);
            }
            self.write_usage(&usage)?;
            self.conn.prepare_cached("COMMIT")?.execute([]).map(drop)
        });
        let commit = match outcome {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::error!(error = %e, "storage batch failed; rolled back");
                let _ = self.conn.execute_batch("ROLLBACK");
                // Positions given out stay used: gaps in `seq` are
                // harmless, reuse would collide.
                Err(unavailable(e))
            }
        };
        // Ops left in the batch after a failure never ran: their replies drop,
        // which their callers see as `Unavailable` too.
        batch.clear();
        for f in done {
            f.send(&commit);
        }
    }

    fn begin(&self) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached("BEGIN IMMEDIATE")?
            .execute([])
            .map(drop)
    }
}

pub(super) fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}
