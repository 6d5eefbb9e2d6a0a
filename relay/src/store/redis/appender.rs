//! Appends in call order, many per round trip.
//!
//! Why: PROTOCOL.md §18.4 promises that a mailbox's envelopes are stored in
//! the order the relay received the `Send`s. The server keeps each request's
//! future in a per-connection `FuturesOrdered`, and nothing promises which
//! future is polled first; a store that issued its command on first poll
//! (as this one once did) could store two pipelined sends in either order,
//! and the cluster client's own routing reordered them further. So
//! [`Appender::append`] queues the envelope *synchronously, when called*,
//! on one channel to one task; that task keeps a queue per mailbox and runs
//! at most one script call per mailbox at a time, each storing every
//! envelope queued for that mailbox since the previous call (up to
//! [`MAX_BATCH`] / [`MAX_BATCH_BYTES`]). One script is atomic, so a batch is
//! stored entirely or not at all, and a batch is only sent once the one
//! before it has answered: storage order is call order even across errors,
//! reconnects and cluster redirections.
//!
//! Batching is also what makes the Redis path cheaper: one `EVALSHA`, one
//! key set and one reply per batch instead of per envelope (and, with
//! `appendfsync always`, the batch shares one fsync). Different mailboxes
//! run concurrently (different cluster slots; on one server the multiplexed
//! connection pipelines them into the same round trip).
//!
//! The ack rule is unchanged: an append resolves only once Redis has
//! answered the script that stored it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use redis::Value;
use tokio::sync::{mpsc, oneshot};

use super::conn::RedisConn;
use super::keys;
use super::scripts::Scripts;
use super::{evalsha, int, invoke, to_u64, unavailable};
use crate::store::{Appended, SendLock, StoreError, StoreFuture, StoreLimits};

/// Most envelopes stored by one script call.
pub(super) const MAX_BATCH: usize = 256;
/// Most envelope bytes per script call (a call always takes at least one
/// envelope), so one call never blocks Redis for long.
pub(super) const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// Most queued appends taken in one turn of the task before it looks at finished calls.
const DRAIN_LIMIT: usize = 4096;

type Reply = oneshot::Sender<Result<Appended, StoreError>>;

/// One queued append.
struct Job {
    mailbox: MailboxId,
    message: MessageId,
    envelope: Bytes,
    /// Lock of the send key presented; `None`: a plain `Send`.
    sent_with: Option<SendLock>,
    expires_at: u64,
    reply: Reply,
}

/// The handle the store keeps; cheap to call from any task.
pub(super) struct Appender {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Appender {
    /// Starts the appending task (needs a Tokio runtime).
    pub(super) fn start(conn: RedisConn, scripts: Arc<Scripts>, limits: StoreLimits) -> Self {
        let (jobs, rx) = mpsc::unbounded_channel();
        let publish = if conn.is_cluster() {
            "SPUBLISH"
        } else {
            "PUBLISH"
        };
        tokio::spawn(run(
            rx,
            Batcher {
                conn,
                scripts,
                limits,
                publish,
            },
        ));
        Self { jobs }
    }

    /// Queues the append now (this fixes its place in the mailbox's order);
    /// the future resolves once Redis has stored it or refused it.
    pub(super) fn append(
        &self,
        mailbox: MailboxId,
        message: MessageId,
        envelope: Bytes,
        sent_with: Option<SendLock>,
        expires_at: u64,
    ) -> StoreFuture<Appended> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            mailbox,
            message,
            envelope,
            sent_with,
            expires_at,
            reply,
        };
        if self.jobs.send(job).is_err() {
            return Box::pin(std::future::ready(Err(StoreError::Closed)));
        }
        Box::pin(async move { answer.await.unwrap_or(Err(StoreError::Closed)) })
    }
}

/// What a batch call needs.
struct Batcher {
    conn: RedisConn,
    scripts: Arc<Scripts>,
    limits: StoreLimits,
    publish: &'static str,
}

type Call = Pin<Box<dyn Future<Output = MailboxId> + Send>>;

/// Receives jobs in call order and keeps one script call per mailbox in flight.
async fn run(mut rx: mpsc::UnboundedReceiver<Job>, batcher: Batcher) {
    let mut queued: HashMap<MailboxId, VecDeque<Job>> = HashMap::new();
    let mut busy: HashSet<MailboxId> = HashSet::new();
    let mut calls: FuturesUnordered<Call> = FuturesUnordered::new();
    let mut open = true;
    while open || !calls.is_empty() {
        tokio::select! {
            job = rx.recv(), if open => {
                let Some(job) = job else {
                    open = false;
                    continue;
                };
                let mut touched = Vec::new();
                let mut next = Some(job);
                let mut taken = 0usize;
                // Take what is already queued (bounded, so finished calls are
                // still serviced under a steady stream), so batches form under load.
                while let Some(job) = next {
                    let queue = queued.entry(job.mailbox).or_default();
                    if queue.is_empty() && !busy.contains(&job.mailbox) {
                        touched.push(job.mailbox);
                    }
                    queue.push_back(job);
                    taken += 1;
                    next = if taken < DRAIN_LIMIT { rx.try_recv().ok() } else { None };
                }
                for mailbox in touched {
                    if !busy.contains(&mailbox)
                        && let Some(call) = batcher.take(mailbox, &mut queued)
                    {
                        busy.insert(mailbox);
                        calls.push(call);
                    }
                }
            }
            Some(mailbox) = calls.next(), if !calls.is_empty() => {
                busy.remove(&mailbox);
                if let Some(call) = batcher.take(mailbox, &mut queued) {
                    busy.insert(mailbox);
                    calls.push(call);
                }
            }
        }
    }
}

impl Batcher {
    /// The call storing the next batch of `mailbox`'s queue (oldest first),
    /// or `None` if nothing waits.
    fn take(
        &self,
        mailbox: MailboxId,
        queued: &mut HashMap<MailboxId, VecDeque<Job>>,
    ) -> Option<Call> {
        let queue = queued.get_mut(&mailbox)?;
        let mut batch = Vec::new();
        let mut bytes = 0usize;
        while let Some(len) = queue.front().map(|job| job.envelope.len()) {
            if !batch.is_empty() && (batch.len() >= MAX_BATCH || bytes + len > MAX_BATCH_BYTES) {
                break;
            }
            bytes += len;
            batch.extend(queue.pop_front());
        }
        if queue.is_empty() {
            queued.remove(&mailbox);
        }
        (!batch.is_empty()).then(|| self.call(mailbox, batch))
    }

    /// One script call storing `batch` (all for `mailbox`, in order); answers every job.
    fn call(&self, mailbox: MailboxId, batch: Vec<Job>) -> Call {
        let mut conn = self.conn.clone();
        let scripts = Arc::clone(&self.scripts);
        let keys = keys::mailbox_keys(&mailbox);
        let bytes: usize = batch.iter().map(|job| job.envelope.len() + 72).sum();
        let mut cmd = evalsha(&scripts.append, &keys, 4 + 4 * batch.len(), bytes);
        cmd.arg(self.limits.max_messages)
            .arg(self.limits.max_bytes)
            .arg(self.publish)
            .arg(keys::live_channel(&mailbox));
        for job in &batch {
            let lock: &[u8] = job.sent_with.as_ref().map_or(&[], |l| &l.0[..]);
            cmd.arg(&job.message.0[..])
                .arg(&job.envelope[..])
                .arg(job.expires_at)
                .arg(lock);
        }
        Box::pin(async move {
            let reply = match invoke(&mut conn, &scripts.append, &cmd).await {
                Ok(value) => decode(value, batch.len()),
                Err(e) => Err(unavailable(e)),
            };
            match reply {
                Ok(results) => {
                    for (job, result) in batch.into_iter().zip(results) {
                        let _ = job.reply.send(result);
                    }
                }
                Err(e) => {
                    for job in batch {
                        let _ = job.reply.send(Err(e.clone()));
                    }
                }
            }
            mailbox
        })
    }
}

/// `{-1}` (no mailbox) or one `status, seq` pair per envelope.
fn decode(value: Value, n: usize) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
    let Value::Array(items) = value else {
        return Err(StoreError::Unavailable(format!(
            "unexpected append reply {value:?}"
        )));
    };
    if items.len() == 1 && int(items.first()) == Some(-1) {
        return Err(StoreError::NoSuchMailbox);
    }
    if items.len() != 2 * n {
        return Err(StoreError::Unavailable(format!(
            "append reply has {} values for {n} envelopes",
            items.len()
        )));
    }
    Ok(items
        .chunks(2)
        .map(|pair| match (int(pair.first()), int(pair.get(1))) {
            (Some(0), Some(seq)) => Ok(Appended {
                seq: to_u64(seq),
                duplicate: false,
            }),
            (Some(1), Some(seq)) => Ok(Appended {
                seq: to_u64(seq),
                duplicate: true,
            }),
            (Some(-2), _) => Err(StoreError::QuotaFull),
            (Some(-3), _) => Err(StoreError::SendKeyRefused),
            other => Err(StoreError::Unavailable(format!(
                "unexpected append reply {other:?}"
            ))),
        })
        .collect())
}
