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
//! Appends of envelopes already pushed to an online recipient wait in
//! [`Held`] for up to [`super::hold::HOLD`]: if the recipient's ack arrives
//! meanwhile, neither the insert nor the delete is ever executed.
//!
//! Mailbox usage counters (`msg_count`, `msg_bytes`) are read once per
//! batch for the mailboxes a batch touches, updated in memory and written
//! back before the commit, so quota checks cost no extra query per message.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use super::super::{Appended, StoreError, StoreLimits};
use super::hold::{Held, Held1, Key};
use crate::tokens::TokenRecord;

/// Most operations committed in one transaction.
pub(super) const MAX_BATCH: usize = 4096;

/// Where an operation's answer goes.
pub(super) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One change for the writer thread.
pub(super) enum WriteOp {
    Create {
        mailbox: MailboxId,
        auth_key: [u8; 32],
        now: u64,
        reply: Reply<()>,
    },
    Append {
        mailbox: MailboxId,
        message: MessageId,
        envelope: Bytes,
        expires_at: u64,
        /// Already pushed to an online subscriber: may wait for its ack (see `hold`).
        hold: bool,
        /// Storage position, given by the writer on arrival (callers pass 0).
        /// Given on arrival, not on insert, so a held append keeps its place
        /// ahead of appends that arrive after it but are written before it:
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

#[derive(Clone, Copy)]
struct Usage {
    count: u64,
    bytes: u64,
    dirty: bool,
}

/// An answer computed inside the transaction, delivered after the commit.
type Finish = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

fn finish<T: Send + 'static>(reply: Reply<T>, result: Result<T, StoreError>) -> Finish {
    Box::new(move |commit| {
        // A dropped receiver means the client went away; nothing to tell.
        let _ = reply.send(commit.and(result));
    })
}

/// State of the writer thread between batches.
pub(super) struct Writer {
    conn: Connection,
    limits: StoreLimits,
    next_seq: u64,
    held: Held,
    /// Waits with a deadline while appends are held.
    timer: tokio::runtime::Runtime,
    /// Appends cancelled by their recipient's ack (never written).
    cancelled: Arc<AtomicU64>,
}

/// What the writer woke up for.
enum Wake {
    Op(WriteOp),
    Due,
    Closed,
}

impl Writer {
    pub(super) fn new(
        conn: Connection,
        limits: StoreLimits,
        cancelled: Arc<AtomicU64>,
    ) -> Result<Self, StoreError> {
        let max: i64 = conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM messages", [], |r| {
                r.get(0)
            })
            .map_err(unavailable)?;
        let timer = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(Self {
            conn,
            limits,
            next_seq: u64::try_from(max).unwrap_or(0) + 1,
            held: Held::default(),
            timer,
            cancelled,
        })
    }

    /// Runs until the channel closes or a `Shutdown` arrives.
    pub(super) fn run(mut self, mut rx: mpsc::Receiver<WriteOp>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut cancelled = Vec::new();
        let mut shutdown = None;
        loop {
            let mut closed = false;
            match self.wait(&mut rx) {
                Wake::Op(op) => self.route(op, &mut batch, &mut cancelled, &mut shutdown),
                Wake::Due => {}
                Wake::Closed => closed = true,
            }
            while batch.len() < MAX_BATCH && shutdown.is_none() {
                match rx.try_recv() {
                    Ok(op) => self.route(op, &mut batch, &mut cancelled, &mut shutdown),
                    Err(_) => break,
                }
            }
            if let Some(reply) = shutdown.take() {
                rx.close();
                while let Ok(op) = rx.try_recv() {
                    self.route(op, &mut batch, &mut cancelled, &mut shutdown);
                }
                self.held.take_all(&mut batch);
                self.commit_batch(&mut batch, &mut cancelled);
                let result = self
                    .conn
                    .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                    .map_err(unavailable);
                tracing::info!(
                    cancelled = self.cancelled.load(Ordering::Relaxed),
                    "writer stopped (appends never written: acked while held)"
                );
                let _ = reply.send(result);
                return;
            }
            if closed {
                self.held.take_all(&mut batch);
            } else {
                self.held.take_due(Instant::now(), &mut batch);
            }
            if !batch.is_empty() || !cancelled.is_empty() {
                self.commit_batch(&mut batch, &mut cancelled);
            }
            if closed {
                return;
            }
        }
    }

    /// Blocks for the next operation, or until the oldest held append is due.
    fn wait(&mut self, rx: &mut mpsc::Receiver<WriteOp>) -> Wake {
        let Some(due) = self.held.next_due() else {
            return rx.blocking_recv().map_or(Wake::Closed, Wake::Op);
        };
        let due = tokio::time::Instant::from_std(due);
        // The timer must be created inside the runtime: hence the async block.
        match self
            .timer
            .block_on(async { tokio::time::timeout_at(due, rx.recv()).await })
        {
            Ok(Some(op)) => Wake::Op(op),
            Ok(None) => Wake::Closed,
            Err(_) => Wake::Due,
        }
    }

    /// Sorts an incoming operation: held, cancelled against a held append, or batched.
    fn route(
        &mut self,
        mut op: WriteOp,
        batch: &mut Vec<WriteOp>,
        cancelled: &mut Vec<(Reply<Appended>, u64)>,
        shutdown: &mut Option<Reply<()>>,
    ) {
        if let WriteOp::Append { seq, .. } = &mut op {
            *seq = self.next_seq;
            self.next_seq += 1;
        }
        match op {
            WriteOp::Append {
                mailbox,
                message,
                hold: true,
                ..
            } => match self.held.hold((mailbox, message), op, Instant::now()) {
                Held1::Held => {}
                Held1::Write(op) => batch.push(op),
                Held1::Cancelled(reply, seq) => cancelled.push((reply, seq)),
            },
            WriteOp::Ack {
                mailbox, message, ..
            } => {
                cancelled.extend(self.held.cancel(&(mailbox, message)));
                batch.push(op);
            }
            WriteOp::AckMany { ref acks, .. } => {
                for key in acks {
                    cancelled.extend(self.held.cancel(key));
                }
                batch.push(op);
            }
            WriteOp::Shutdown { reply } => *shutdown = Some(reply),
            op => batch.push(op),
        }
    }

    /// Applies and commits `batch` (emptying it), then answers its operations
    /// and the `cancelled` appends (whose recipient acked them in this batch).
    fn commit_batch(
        &mut self,
        batch: &mut Vec<WriteOp>,
        cancelled: &mut Vec<(Reply<Appended>, u64)>,
    ) {
        let mut done: Vec<Finish> = Vec::with_capacity(batch.len() + cancelled.len());
        let mut usage: HashMap<MailboxId, Option<Usage>> = HashMap::new();
        self.cancelled
            .fetch_add(cancelled.len() as u64, Ordering::Relaxed);
        for (reply, seq) in cancelled.drain(..) {
            done.push(finish(
                reply,
                Ok(Appended {
                    seq,
                    duplicate: false,
                }),
            ));
        }
        let outcome = self.begin().and_then(|()| {
            for op in batch.drain(..) {
                done.push(self.apply(op, &mut usage)?);
            }
            self.write_usage(&usage)?;
            self.conn.execute_batch("COMMIT")
        });
        let commit = match outcome {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::error!(error = %e, "storage batch failed; rolled back");
                let _ = self.conn.execute_batch("ROLLBACK");
                // Positions given out stay used (held appends keep theirs):
                // gaps in `seq` are harmless, reuse would collide.
                Err(unavailable(e))
            }
        };
        // Ops left in the batch after a failure never ran: their replies drop,
        // which their callers see as `Unavailable` too.
        batch.clear();
        for f in done {
            f(commit.clone());
        }
    }

    fn begin(&self) -> rusqlite::Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE")
    }

    fn apply(
        &mut self,
        op: WriteOp,
        usage: &mut HashMap<MailboxId, Option<Usage>>,
    ) -> rusqlite::Result<Finish> {
        Ok(match op {
            WriteOp::Create {
                mailbox,
                auth_key,
                now,
                reply,
            } => {
                let result = if self.usage(usage, mailbox)?.is_some() {
                    Err(StoreError::MailboxExists)
                } else {
                    self.conn
                        .prepare_cached(
                            "INSERT INTO mailboxes (id, auth_key, created_at) VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![&mailbox.0[..], &auth_key[..], now as i64])?;
                    usage.insert(
                        mailbox,
                        Some(Usage {
                            count: 0,
                            bytes: 0,
                            dirty: false,
                        }),
                    );
                    Ok(())
                };
                finish(reply, result)
            }
            WriteOp::Append {
                mailbox,
                message,
                envelope,
                expires_at,
                seq,
                reply,
                ..
            } => {
                let result = self.append(usage, (mailbox, message), seq, &envelope, expires_at)?;
                finish(reply, result)
            }
            WriteOp::Ack {
                mailbox,
                message,
                reply,
            } => {
                let removed = self.delete_acked(usage, (mailbox, message))?;
                finish(reply, Ok(removed))
            }
            WriteOp::AckMany { acks, reply } => {
                let mut removed = 0;
                for key in acks {
                    removed += u64::from(self.delete_acked(usage, key)?);
                }
                finish(reply, Ok(removed))
            }
            WriteOp::DeleteMailbox { mailbox, reply } => {
                self.conn
                    .prepare_cached("DELETE FROM messages WHERE mailbox = ?1")?
                    .execute(params![&mailbox.0[..]])?;
                let n = self
                    .conn
                    .prepare_cached("DELETE FROM mailboxes WHERE id = ?1")?
                    .execute(params![&mailbox.0[..]])?;
                usage.insert(mailbox, None);
                finish(reply, Ok(n > 0))
            }
            WriteOp::PurgeExpired { now, limit, reply } => {
                let purged = self.purge(usage, now, limit)?;
                finish(reply, Ok(purged))
            }
            WriteOp::CreateToken {
                hash,
                record,
                reply,
            } => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO tokens (hash, id, role, created_at, expires_at, revoked) \
                         VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                    )?
                    .execute(params![
                        &hash[..],
                        record.id,
                        record.role.as_str(),
                        record.created_at as i64,
                        record.expires_at.map(|e| e as i64),
                    ])?;
                finish(reply, Ok(()))
            }
            WriteOp::RevokeToken { id, reply } => {
                let n = self
                    .conn
                    .prepare_cached("UPDATE tokens SET revoked = 1 WHERE id = ?1")?
                    .execute(params![id])?;
                finish(reply, Ok(n > 0))
            }
            WriteOp::Shutdown { reply } => finish(reply, Ok(())),
        })
    }

    /// Deletes an acked envelope; an ack that finds nothing is remembered,
    /// in case its (held) append is still on its way.
    fn delete_acked(
        &mut self,
        usage: &mut HashMap<MailboxId, Option<Usage>>,
        (mailbox, message): Key,
    ) -> rusqlite::Result<bool> {
        let len: Option<i64> = self
            .conn
            .prepare_cached(
                "DELETE FROM messages WHERE mailbox = ?1 AND msg_id = ?2 \
                 RETURNING length(envelope)",
            )?
            .query_row(params![&mailbox.0[..], &message.0[..]], |r| r.get(0))
            .optional()?;
        match len {
            Some(len) => self.release(usage, mailbox, len)?,
            None => self.held.missed((mailbox, message)),
        }
        Ok(len.is_some())
    }

    fn append(
        &mut self,
        usage: &mut HashMap<MailboxId, Option<Usage>>,
        (mailbox, message): Key,
        seq: u64,
        envelope: &[u8],
        expires_at: u64,
    ) -> rusqlite::Result<Result<Appended, StoreError>> {
        let Some(current) = self.usage(usage, mailbox)? else {
            return Ok(Err(StoreError::NoSuchMailbox));
        };
        let len = envelope.len() as u64;
        if current.count >= self.limits.max_messages
            || current.bytes.saturating_add(len) > self.limits.max_bytes
        {
            return Ok(Err(StoreError::QuotaFull));
        }
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO messages (seq, mailbox, msg_id, expires_at, envelope) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (mailbox, msg_id) DO NOTHING",
            )?
            .execute(params![
                seq as i64,
                &mailbox.0[..],
                &message.0[..],
                expires_at as i64,
                envelope
            ])?;
        if inserted == 0 {
            // Same message id already stored: a sender's retry. Idempotent.
            return Ok(Ok(Appended {
                seq,
                duplicate: true,
            }));
        }
        usage.insert(
            mailbox,
            Some(Usage {
                count: current.count + 1,
                bytes: current.bytes + len,
                dirty: true,
            }),
        );
        Ok(Ok(Appended {
            seq,
            duplicate: false,
        }))
    }

    fn purge(
        &mut self,
        usage: &mut HashMap<MailboxId, Option<Usage>>,
        now: u64,
        limit: u32,
    ) -> rusqlite::Result<u64> {
        let rows: Vec<(Vec<u8>, i64)> = self
            .conn
            .prepare_cached(
                "DELETE FROM messages WHERE seq IN \
                 (SELECT seq FROM messages WHERE expires_at <= ?1 LIMIT ?2) \
                 RETURNING mailbox, length(envelope)",
            )?
            .query_map(params![now as i64, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (mailbox, len) in &rows {
            if let Ok(id) = <[u8; 32]>::try_from(mailbox.as_slice()) {
                self.release(usage, MailboxId(id), *len)?;
            }
        }
        Ok(rows.len() as u64)
    }

    /// Subtracts one removed envelope of `len` bytes from a mailbox's usage.
    fn release(
        &mut self,
        usage: &mut HashMap<MailboxId, Option<Usage>>,
        mailbox: MailboxId,
        len: i64,
    ) -> rusqlite::Result<()> {
        if let Some(u) = self.usage(usage, mailbox)? {
            usage.insert(
                mailbox,
                Some(Usage {
                    count: u.count.saturating_sub(1),
                    bytes: u.bytes.saturating_sub(u64::try_from(len).unwrap_or(0)),
                    dirty: true,
                }),
            );
        }
        Ok(())
    }

    /// Usage of a mailbox as of this batch; `None` if it does not exist.
    fn usage(
        &self,
        usage: &mut HashMap<MailboxId, Option<Usage>>,
        mailbox: MailboxId,
    ) -> rusqlite::Result<Option<Usage>> {
        if let Some(known) = usage.get(&mailbox) {
            return Ok(*known);
        }
        let loaded = self
            .conn
            .prepare_cached("SELECT msg_count, msg_bytes FROM mailboxes WHERE id = ?1")?
            .query_row(params![&mailbox.0[..]], |r| {
                Ok(Usage {
                    count: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                    bytes: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                    dirty: false,
                })
            })
            .optional()?;
        usage.insert(mailbox, loaded);
        Ok(loaded)
    }

    fn write_usage(&self, usage: &HashMap<MailboxId, Option<Usage>>) -> rusqlite::Result<()> {
        let mut stmt = self
            .conn
            .prepare_cached("UPDATE mailboxes SET msg_count = ?2, msg_bytes = ?3 WHERE id = ?1")?;
        for (mailbox, u) in usage {
            if let Some(u) = u.filter(|u| u.dirty) {
                stmt.execute(params![&mailbox.0[..], u.count as i64, u.bytes as i64])?;
            }
        }
        Ok(())
    }
}

pub(super) fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}
