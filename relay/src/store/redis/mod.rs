//! The shared store for running several relay instances: Redis or Redis Cluster.
//!
//! Same contract as the SQLite store (the conformance suite in
//! `store::tests` runs against both): an `append` takes its place in the
//! mailbox's order when it is called, not when its future is first polled
//! ([`appender`]: queued at once, stored in batches, one script call per
//! mailbox at a time), and resolves only after the Lua script that stored
//! the envelope has returned; quotas and message-id dedupe are checked
//! inside that script (atomic per mailbox), `ack`
//! deletes, `fetch` skips expired envelopes, `purge_expired` deletes them.
//! What "durable" means here depends on the server's AOF settings: see
//! [`durability`]; the relay logs a warning at startup when they are weaker
//! than `appendfsync always`.
//!
//! Every key of a mailbox carries the hash tag `{<mailbox hex>}` ([`keys`]),
//! so a mailbox lives in one Cluster slot. The append script also publishes
//! the envelopes it stored (one message per call) on the mailbox's live
//! channel (same slot: `SPUBLISH` on a cluster, `PUBLISH` on a single
//! server), which is how instances deliver to subscribers connected
//! elsewhere ([`fanout`]).
//!
//! `purge_expired` and `stats` walk the keyspace with `SCAN` on every
//! primary (no global key that every append would have to touch, which a
//! cluster could not update atomically anyway); they cost O(mailboxes) and
//! run once per purge interval, per admin stats request and per `/metrics`
//! scrape.

mod appender;
mod conn;
pub mod durability;
pub mod fanout;
mod keys;
mod scripts;

#[cfg(any(test, feature = "test-support"))]
pub mod test_server;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};
use redis::{AsyncCommands, Cmd, ErrorKind, RedisResult, Script, ServerErrorKind, Value};

use super::{
    Appended, MailboxKeys, MailboxStore, SendLock, StoreError, StoreFuture, StoreLimits,
    StoreStats, StoredEnvelope, TokenStore,
};
use crate::tokens::{Role, TokenRecord};
use appender::Appender;
use conn::RedisConn;
pub use durability::Durability;
pub use fanout::RedisFanout;
use scripts::Scripts;

/// Expired envelopes deleted per script call, so a purge never blocks Redis for long.
const PURGE_CHUNK: u32 = 1000;
/// Keys asked for per `SCAN` step.
const SCAN_COUNT: u32 = 1000;

/// Where the Redis deployment is and what to enforce.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `redis://[user:pass@]host:port[/db]` URLs: one for a single server,
    /// one or more cluster nodes (seeds) for a cluster.
    pub urls: Vec<String>,
    /// Treat a single URL as a cluster seed.
    pub cluster: bool,
    /// Quotas and TTL.
    pub limits: StoreLimits,
}

impl RedisOptions {
    /// True when the URLs describe a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.cluster || self.urls.len() > 1
    }
}

/// The Redis [`MailboxStore`] and [`TokenStore`].
pub struct RedisStore {
    conn: RedisConn,
    /// Where appends queue, in call order ([`appender`]).
    appender: Appender,
    scripts: Arc<Scripts>,
    limits: StoreLimits,
    closed: Arc<AtomicBool>,
    durability: Durability,
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Int(i) => Some(*i),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}

fn to_u64(i: i64) -> u64 {
    u64::try_from(i).unwrap_or(0)
}

/// An `EVALSHA` of `script` over one mailbox's four keys (the caller adds
/// the arguments), built directly so arguments are copied once.
fn evalsha(script: &Script, keys: &[String; 4], args: usize, bytes: usize) -> Cmd {
    let mut cmd = Cmd::with_capacity(7 + args, 200 + bytes);
    cmd.arg("EVALSHA")
        .arg(script.get_hash())
        .arg(keys.len())
        .arg(&keys[..]);
    cmd
}

/// Runs an [`evalsha`] command, loading the script once if the server lacks
/// it (after a restart). `NOSCRIPT` means nothing ran, so the retry is safe.
async fn invoke(conn: &mut RedisConn, script: &Script, cmd: &Cmd) -> RedisResult<Value> {
    match cmd.query_async::<Value>(conn).await {
        Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            script.load_async(conn).await?;
            cmd.query_async(conn).await
        }
        other => other,
    }
}

impl RedisStore {
    /// Connects, checks the persistence settings (logging what they mean) and loads nothing else:
    /// scripts are loaded on first use.
    pub async fn connect(options: &RedisOptions) -> Result<Self, StoreError> {
        let mut conn = RedisConn::connect(&options.urls, options.cluster)
            .await
            .map_err(unavailable)?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let durability = durability::check(&mut conn).await;
        durability::log(&durability);
        let scripts = Arc::new(Scripts::new());
        Ok(Self {
            appender: Appender::start(conn.clone(), Arc::clone(&scripts), options.limits),
            conn,
            scripts,
            limits: options.limits,
            closed: Arc::default(),
            durability,
        })
    }

    /// The weakest persistence setting found on the primaries at startup.
    pub fn durability(&self) -> &Durability {
        &self.durability
    }

    /// Runs `f` with a connection handle unless the store is shut down.
    fn run<T, F>(&self, f: impl FnOnce(RedisConn, Arc<Scripts>) -> F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        if self.closed.load(Ordering::Acquire) {
            return Box::pin(std::future::ready(Err(StoreError::Closed)));
        }
        Box::pin(f(self.conn.clone(), Arc::clone(&self.scripts)))
    }
}

/// Walks every key matching a pattern on every primary, one `SCAN` batch at a time.
struct Scan {
    conn: RedisConn,
    nodes: Vec<Option<(String, u16)>>,
    cursor: u64,
    pattern: String,
}

impl Scan {
    async fn new(mut conn: RedisConn, pattern: String) -> Result<Self, StoreError> {
        let mut nodes = conn.primaries().await.map_err(unavailable)?;
        nodes.reverse();
        Ok(Self {
            conn,
            nodes,
            cursor: 0,
            pattern,
        })
    }

    /// The next batch of keys (possibly empty), or `None` when every primary is done.
    async fn next(&mut self) -> Result<Option<Vec<String>>, StoreError> {
        let Some(node) = self.nodes.last().cloned() else {
            return Ok(None);
        };
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(self.cursor)
            .arg("MATCH")
            .arg(&self.pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT);
        let value = self.conn.on_node(&node, cmd).await.map_err(unavailable)?;
        let (next, keys): (u64, Vec<String>) =
            redis::from_redis_value(value).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        if next == 0 {
            self.nodes.pop();
        }
        self.cursor = next;
        Ok(Some(keys))
    }
}

impl MailboxStore for RedisStore {
    fn create_locked_mailbox(
        &self,
        mailbox: MailboxId,
        auth_key: [u8; 32],
        send_lock: Option<SendLock>,
        now: u64,
    ) -> StoreFuture<()> {
        self.run(move |mut conn, scripts| async move {
            let keys = keys::mailbox_keys(&mailbox);
            let lock: &[u8] = send_lock.as_ref().map_or(&[], |l| &l.0[..]);
            let created: i64 = scripts
                .create
                .key(&keys[0])
                .arg(&auth_key[..])
                .arg(now)
                .arg(lock)
                .invoke_async(&mut conn)
                .await
                .map_err(unavailable)?;
            if created == 1 {
                Ok(())
            } else {
                Err(StoreError::MailboxExists)
            }
        })
    }

    fn mailbox_keys(&self, mailbox: MailboxId) -> StoreFuture<Option<MailboxKeys>> {
        self.run(move |mut conn, _| async move {
            let keys = keys::mailbox_keys(&mailbox);
            let (key, lock): (Option<Vec<u8>>, Option<Vec<u8>>) = redis::cmd("HMGET")
                .arg(&keys[0])
                .arg("k")
                .arg("l")
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            Ok(key
                .and_then(|k| k.try_into().ok())
                .map(|auth_key| MailboxKeys {
                    auth_key,
                    // Not 32 bytes (corruption): a lock no key opens, never open.
                    send_lock: lock.map(|l| SendLock(l.try_into().unwrap_or([0; 32]))),
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
        if self.closed.load(Ordering::Acquire) {
            return Box::pin(std::future::ready(Err(StoreError::Closed)));
        }
        let expires_at = now.saturating_add(self.limits.ttl_secs);
        self.appender
            .append(mailbox, message, envelope, sent_with, expires_at)
    }

    fn ack(&self, mailbox: MailboxId, message: MessageId) -> StoreFuture<bool> {
        let removed = self.ack_many(vec![(mailbox, message)]);
        Box::pin(async move { Ok(removed.await? > 0) })
    }

    /// One script call per mailbox (all mailboxes concurrently), not one per envelope.
    fn ack_many(&self, acks: Vec<(MailboxId, MessageId)>) -> StoreFuture<u64> {
        self.run(move |conn, scripts| async move {
            let mut by_mailbox: Vec<(MailboxId, Vec<MessageId>)> = Vec::new();
            let mut index: std::collections::HashMap<MailboxId, usize> =
                std::collections::HashMap::new();
            for (mailbox, message) in acks {
                let at = *index.entry(mailbox).or_insert_with(|| {
                    by_mailbox.push((mailbox, Vec::new()));
                    by_mailbox.len() - 1
                });
                if let Some((_, ids)) = by_mailbox.get_mut(at) {
                    ids.push(message);
                }
            }
            let calls = by_mailbox.into_iter().map(|(mailbox, ids)| {
                let mut conn = conn.clone();
                let scripts = Arc::clone(&scripts);
                async move {
                    let keys = keys::mailbox_keys(&mailbox);
                    let mut cmd = evalsha(&scripts.ack, &keys, ids.len(), 20 * ids.len());
                    for id in &ids {
                        cmd.arg(&id.0[..]);
                    }
                    let removed = invoke(&mut conn, &scripts.ack, &cmd)
                        .await
                        .map_err(unavailable)?;
                    Ok::<u64, StoreError>(int(Some(&removed)).map_or(0, to_u64))
                }
            });
            Ok(futures_util::future::try_join_all(calls)
                .await?
                .into_iter()
                .sum())
        })
    }

    fn fetch(
        &self,
        mailbox: MailboxId,
        after: u64,
        limit: usize,
        now: u64,
    ) -> StoreFuture<Vec<StoredEnvelope>> {
        self.run(move |mut conn, scripts| async move {
            let keys = keys::mailbox_keys(&mailbox);
            let flat: Vec<Value> = scripts
                .fetch
                .key(&keys[0])
                .key(&keys[1])
                .key(&keys[2])
                .key(&keys[3])
                .arg(after)
                .arg(limit.max(1))
                .arg(now)
                .invoke_async(&mut conn)
                .await
                .map_err(unavailable)?;
            let mut out = Vec::with_capacity(flat.len() / 2);
            let mut items = flat.into_iter();
            while let (Some(seq), Some(envelope)) = (items.next(), items.next()) {
                let seq = int(Some(&seq))
                    .ok_or_else(|| StoreError::Unavailable("bad seq in fetch reply".into()))?;
                let Value::BulkString(envelope) = envelope else {
                    // Deleted between ZRANGE and HGET cannot happen inside one script.
                    continue;
                };
                out.push(StoredEnvelope {
                    seq: to_u64(seq),
                    envelope: Bytes::from(envelope),
                });
            }
            Ok(out)
        })
    }

    fn delete_mailbox(&self, mailbox: MailboxId) -> StoreFuture<bool> {
        self.run(move |mut conn, scripts| async move {
            let keys = keys::mailbox_keys(&mailbox);
            let publish = if conn.is_cluster() {
                "SPUBLISH"
            } else {
                "PUBLISH"
            };
            let existed: i64 = scripts
                .delete
                .key(&keys[0])
                .key(&keys[1])
                .key(&keys[2])
                .key(&keys[3])
                .arg(publish)
                .arg(keys::live_channel(&mailbox))
                .invoke_async(&mut conn)
                .await
                .map_err(unavailable)?;
            Ok(existed == 1)
        })
    }

    fn purge_expired(&self, now: u64) -> StoreFuture<u64> {
        self.run(move |mut conn, scripts| async move {
            let mut total = 0u64;
            let mut scan = Scan::new(conn.clone(), keys::scan_pattern("x")).await?;
            while let Some(found) = scan.next().await? {
                for keys in found.iter().filter_map(|k| keys::keys_from(k)) {
                    loop {
                        let n: u64 = scripts
                            .purge
                            .key(&keys[0])
                            .key(&keys[1])
                            .key(&keys[2])
                            .key(&keys[3])
                            .arg(now)
                            .arg(PURGE_CHUNK)
                            .invoke_async(&mut conn)
                            .await
                            .map_err(unavailable)?;
                        total += n;
                        if n < u64::from(PURGE_CHUNK) {
                            break;
                        }
                    }
                }
            }
            Ok(total)
        })
    }

    fn stats(&self) -> StoreFuture<StoreStats> {
        self.run(move |conn, _| async move {
            let mut stats = StoreStats::default();
            let mut scan = Scan::new(conn.clone(), keys::scan_pattern("mb")).await?;
            while let Some(found) = scan.next().await? {
                let usage = found.into_iter().map(|key| {
                    let mut conn = conn.clone();
                    async move {
                        let v: (Option<u64>, Option<u64>) = redis::cmd("HMGET")
                            .arg(&key)
                            .arg("n")
                            .arg("b")
                            .query_async(&mut conn)
                            .await
                            .map_err(unavailable)?;
                        Ok::<_, StoreError>(v)
                    }
                });
                for (n, b) in futures_util::future::try_join_all(usage).await? {
                    stats.mailboxes += 1;
                    stats.messages += n.unwrap_or(0);
                    stats.bytes += b.unwrap_or(0);
                }
            }
            Ok(stats)
        })
    }

    fn shutdown(&self) -> StoreFuture<()> {
        // Every acknowledged write is already in Redis; nothing to flush.
        self.closed.store(true, Ordering::Release);
        Box::pin(std::future::ready(Ok(())))
    }
}

/// A token record as stored: `id role created expires|- revoked(0|1) label`
/// (records written before labels end after `revoked`).
fn encode_token(record: &TokenRecord) -> String {
    format!(
        "{} {} {} {} {} {}",
        record.id,
        record.role.as_str(),
        record.created_at,
        record.expires_at.map_or("-".to_owned(), |e| e.to_string()),
        u8::from(record.revoked),
        record.label
    )
}

fn decode_token(text: &str) -> Option<TokenRecord> {
    let mut parts = text.split(' ');
    let id = parts.next()?.to_owned();
    let role: Role = parts.next()?.parse().ok()?;
    let created_at = parts.next()?.parse().ok()?;
    let expires_at = match parts.next()? {
        "-" => None,
        e => Some(e.parse().ok()?),
    };
    let revoked = parts.next()? == "1";
    let label = parts.next().unwrap_or_default().to_owned();
    Some(TokenRecord {
        id,
        role,
        created_at,
        expires_at,
        revoked,
        label,
    })
}

impl TokenStore for RedisStore {
    fn create_token(&self, hash: [u8; 32], record: TokenRecord) -> StoreFuture<()> {
        self.run(move |mut conn, _| async move {
            let _: i64 = conn
                .hset(keys::TOKENS, hex::encode(hash), encode_token(&record))
                .await
                .map_err(unavailable)?;
            Ok(())
        })
    }

    fn check_token(&self, hash: [u8; 32], now: u64) -> StoreFuture<Option<TokenRecord>> {
        self.run(move |mut conn, _| async move {
            let text: Option<String> = conn
                .hget(keys::TOKENS, hex::encode(hash))
                .await
                .map_err(unavailable)?;
            Ok(text.as_deref().and_then(decode_token).and_then(|t| {
                let live = !t.revoked && t.expires_at.is_none_or(|e| e > now);
                live.then_some(t)
            }))
        })
    }

    fn list_tokens(&self) -> StoreFuture<Vec<TokenRecord>> {
        self.run(move |mut conn, _| async move {
            let all: Vec<String> = conn.hvals(keys::TOKENS).await.map_err(unavailable)?;
            let mut records: Vec<TokenRecord> =
                all.iter().filter_map(|t| decode_token(t)).collect();
            records.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(records)
        })
    }

    fn revoke_token(&self, id: String) -> StoreFuture<bool> {
        self.run(move |mut conn, scripts| async move {
            let found: i64 = scripts
                .revoke_token
                .key(keys::TOKENS)
                .arg(id)
                .invoke_async(&mut conn)
                .await
                .map_err(unavailable)?;
            Ok(found == 1)
        })
    }
}
