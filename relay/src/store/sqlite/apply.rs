//! What the writer thread executes inside a group-commit transaction: one
//! [`WriteOp`] at a time, as SQL.
//!
//! Mailbox usage counters (`msg_count`, `msg_bytes`) and each mailbox's
//! number (`mailboxes.num`, how `messages` refers to it) are read once per
//! batch for the mailboxes a batch touches, kept in a [`UsageMap`], and the
//! counters are written back before the commit, so quota checks cost no
//! extra query per message.

use std::collections::HashMap;

use cairn_protocol::envelope::MailboxId;
use rusqlite::{OptionalExtension, params};

use super::super::{Appended, SendLock, StoreError, admits};
use super::writer::Key;
use super::writer::{Finish, WriteOp, Writer};

/// Highest storage position used so far.
pub(super) const MAX_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) FROM messages";
/// The send lock comes with the counters: one lookup per mailbox per batch.
const LOAD_USAGE: &str = "SELECT num, msg_count, msg_bytes, send_lock FROM mailboxes WHERE id = ?1";
const WRITE_USAGE: &str = "UPDATE mailboxes SET msg_count = ?2, msg_bytes = ?3 WHERE num = ?1";
const CREATE_MAILBOX: &str =
    "INSERT INTO mailboxes (id, auth_key, created_at, send_lock) VALUES (?1, ?2, ?3, ?4)";
const INSERT_MESSAGE: &str = "INSERT INTO messages (seq, mailbox, msg_id, expires_at, envelope) \
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (mailbox, msg_id) DO NOTHING";
const DELETE_ACKED: &str = "DELETE FROM messages WHERE mailbox = ?1 AND msg_id = ?2 \
     RETURNING length(envelope)";
const DELETE_MAILBOX_MESSAGES: &str = "DELETE FROM messages WHERE mailbox = ?1";
const DELETE_MAILBOX: &str = "DELETE FROM mailboxes WHERE num = ?1";
const PURGE: &str = "DELETE FROM messages WHERE seq IN \
     (SELECT seq FROM messages WHERE expires_at <= ?1 LIMIT ?2) \
     RETURNING mailbox, length(envelope)";
const MAILBOX_OF_NUM: &str = "SELECT id FROM mailboxes WHERE num = ?1";
const CREATE_TOKEN: &str = "INSERT INTO tokens (hash, id, role, created_at, expires_at, revoked, label) \
     VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)";
const REVOKE_TOKEN: &str = "UPDATE tokens SET revoked = 1 WHERE id = ?1";

/// Every statement the writer runs, for the query-plan test.
#[cfg(test)]
pub(super) const STATEMENTS: &[&str] = &[
    MAX_SEQ,
    LOAD_USAGE,
    WRITE_USAGE,
    CREATE_MAILBOX,
    INSERT_MESSAGE,
    DELETE_ACKED,
    DELETE_MAILBOX_MESSAGES,
    DELETE_MAILBOX,
    PURGE,
    MAILBOX_OF_NUM,
    CREATE_TOKEN,
    REVOKE_TOKEN,
];

/// A mailbox as seen by the current batch.
#[derive(Clone, Copy)]
pub(super) struct Usage {
    /// `mailboxes.num`: how `messages` refers to the mailbox.
    num: i64,
    count: u64,
    bytes: u64,
    dirty: bool,
    /// SHA-256 of the send key; `None`: open.
    send_lock: Option<SendLock>,
}

/// Mailboxes the current batch touched; `None`: the mailbox does not exist.
pub(super) type UsageMap = HashMap<MailboxId, Option<Usage>>;

impl Writer {
    /// Executes one operation of the batch; its answer is sent after the commit.
    pub(super) fn apply(&mut self, op: WriteOp, usage: &mut UsageMap) -> rusqlite::Result<Finish> {
        Ok(match op {
            WriteOp::Create {
                mailbox,
                auth_key,
                send_lock,
                now,
                reply,
            } => {
                let result = if self.usage(usage, mailbox)?.is_some() {
                    Err(StoreError::MailboxExists)
                } else {
                    self.conn.prepare_cached(CREATE_MAILBOX)?.execute(params![
                        &mailbox.0[..],
                        &auth_key[..],
                        now as i64,
                        send_lock.as_ref().map(|l| &l.0[..]),
                    ])?;
                    let created = Usage {
                        num: self.conn.last_insert_rowid(),
                        count: 0,
                        bytes: 0,
                        dirty: false,
                        send_lock,
                    };
                    usage.insert(mailbox, Some(created));
                    Ok(())
                };
                Finish::Unit(reply, result)
            }
            WriteOp::Append {
                mailbox,
                message,
                envelope,
                sent_with,
                expires_at,
                seq,
                reply,
            } => {
                let result = self.append(
                    usage,
                    (mailbox, message),
                    seq,
                    (&envelope, sent_with),
                    expires_at,
                )?;
                Finish::Appended(reply, result)
            }
            WriteOp::Ack {
                mailbox,
                message,
                reply,
            } => {
                let removed = self.delete_acked(usage, (mailbox, message))?;
                Finish::Bool(reply, Ok(removed))
            }
            WriteOp::AckMany { acks, reply } => {
                let mut removed = 0;
                for key in acks {
                    removed += u64::from(self.delete_acked(usage, key)?);
                }
                Finish::Count(reply, Ok(removed))
            }
            WriteOp::DeleteMailbox { mailbox, reply } => {
                let existed = match self.usage(usage, mailbox)? {
                    Some(u) => {
                        self.conn
                            .prepare_cached(DELETE_MAILBOX_MESSAGES)?
                            .execute(params![u.num])?;
                        self.conn
                            .prepare_cached(DELETE_MAILBOX)?
                            .execute(params![u.num])?;
                        true
                    }
                    None => false,
                };
                usage.insert(mailbox, None);
                Finish::Bool(reply, Ok(existed))
            }
            WriteOp::PurgeExpired { now, limit, reply } => {
                let purged = self.purge(usage, now, limit)?;
                Finish::Count(reply, Ok(purged))
            }
            WriteOp::CreateToken {
                hash,
                record,
                reply,
            } => {
                self.conn.prepare_cached(CREATE_TOKEN)?.execute(params![
                    &hash[..],
                    record.id,
                    record.role.as_str(),
                    record.created_at as i64,
                    record.expires_at.map(|e| e as i64),
                    record.label,
                ])?;
                Finish::Unit(reply, Ok(()))
            }
            WriteOp::RevokeToken { id, reply } => {
                let n = self
                    .conn
                    .prepare_cached(REVOKE_TOKEN)?
                    .execute(params![id])?;
                Finish::Bool(reply, Ok(n > 0))
            }
            // Both are routed around batches (`Writer::route`): never here.
            WriteOp::Shutdown { reply } | WriteOp::EraseLog { reply } => {
                Finish::Unit(reply, Ok(()))
            }
        })
    }

    /// Deletes an acked envelope; `false` if it was not stored.
    fn delete_acked(
        &mut self,
        usage: &mut UsageMap,
        (mailbox, message): Key,
    ) -> rusqlite::Result<bool> {
        let len: Option<i64> = match self.usage(usage, mailbox)? {
            Some(u) => self
                .conn
                .prepare_cached(DELETE_ACKED)?
                .query_row(params![u.num, &message.0[..]], |r| r.get(0))
                .optional()?,
            None => None,
        };
        if let Some(len) = len {
            self.release(usage, mailbox, len)?;
        }
        Ok(len.is_some())
    }

    fn append(
        &mut self,
        usage: &mut UsageMap,
        (mailbox, message): Key,
        seq: u64,
        (envelope, sent_with): (&[u8], Option<SendLock>),
        expires_at: u64,
    ) -> rusqlite::Result<Result<Appended, StoreError>> {
        let Some(current) = self.usage(usage, mailbox)? else {
            return Ok(Err(StoreError::NoSuchMailbox));
        };
        if !admits(current.send_lock.as_ref(), sent_with.as_ref()) {
            return Ok(Err(StoreError::SendKeyRefused));
        }
        let len = envelope.len() as u64;
        if current.count >= self.limits.max_messages
            || current.bytes.saturating_add(len) > self.limits.max_bytes
        {
            return Ok(Err(StoreError::QuotaFull));
        }
        let inserted = self.conn.prepare_cached(INSERT_MESSAGE)?.execute(params![
            seq as i64,
            current.num,
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
                ..current
            }),
        );
        Ok(Ok(Appended {
            seq,
            duplicate: false,
        }))
    }

    fn purge(&mut self, usage: &mut UsageMap, now: u64, limit: u32) -> rusqlite::Result<u64> {
        let rows: Vec<(i64, i64)> = self
            .conn
            .prepare_cached(PURGE)?
            .query_map(params![now as i64, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut ids: HashMap<i64, Option<MailboxId>> = HashMap::new();
        for (num, len) in &rows {
            let id = match ids.get(num) {
                Some(id) => *id,
                None => {
                    let id: Option<Vec<u8>> = self
                        .conn
                        .prepare_cached(MAILBOX_OF_NUM)?
                        .query_row(params![num], |r| r.get(0))
                        .optional()?;
                    let id = id.and_then(|v| <[u8; 32]>::try_from(v).ok()).map(MailboxId);
                    ids.insert(*num, id);
                    id
                }
            };
            if let Some(id) = id {
                self.release(usage, id, *len)?;
            }
        }
        Ok(rows.len() as u64)
    }

    /// Subtracts one removed envelope of `len` bytes from a mailbox's usage.
    fn release(
        &mut self,
        usage: &mut UsageMap,
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
                    ..u
                }),
            );
        }
        Ok(())
    }

    /// A mailbox as of this batch; `None` if it does not exist.
    fn usage(&self, usage: &mut UsageMap, mailbox: MailboxId) -> rusqlite::Result<Option<Usage>> {
        if let Some(known) = usage.get(&mailbox) {
            return Ok(*known);
        }
        let loaded = self
            .conn
            .prepare_cached(LOAD_USAGE)?
            .query_row(params![&mailbox.0[..]], |r| {
                let send_lock = super::lock_column(r.get(3)?);
                Ok(Usage {
                    num: r.get(0)?,
                    count: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                    bytes: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                    dirty: false,
                    send_lock,
                })
            })
            .optional()?;
        usage.insert(mailbox, loaded);
        Ok(loaded)
    }

    /// Writes back the counters this batch changed (before its commit).
    pub(super) fn write_usage(&self, usage: &UsageMap) -> rusqlite::Result<()> {
        let mut stmt = self.conn.prepare_cached(WRITE_USAGE)?;
        for u in usage.values().flatten().filter(|u| u.dirty) {
            stmt.execute(params![u.num, u.count as i64, u.bytes as i64])?;
        }
        Ok(())
    }
}
