//! Live delivery across relay instances with Redis pub/sub.
//!
//! Why pub/sub and not streams: a live push is only an optimisation on top
//! of the durable store (the envelope is already stored when it is
//! published), so fire-and-forget delivery is exactly right: no consumer
//! groups, no trimming, no second copy of each envelope kept in Redis. An
//! instance that misses pushes (connection drop) loses nothing: its
//! subscribers reconnect and read the backlog from the store.
//!
//! One channel per mailbox (`cairn:{H}:live2`, same hash tag as its keys);
//! one message carries every envelope one append call stored.
//! An instance subscribes only to mailboxes that have a subscriber
//! connected to it, so each envelope reaches only the instances that need
//! it. On a cluster the channels are *sharded* (`SSUBSCRIBE`/`SPUBLISH`,
//! Redis ≥ 7.0): a message travels only within the shard that owns the
//! mailbox's slot instead of being broadcast over the cluster bus, so
//! fan-out scales with the shards. The append script publishes, so pushes
//! for a mailbox leave Redis in storage order and only after the envelope
//! is stored (and, with `appendfsync always`, fsynced: Redis writes
//! replies and pushes after flushing the AOF).
//!
//! Subscriptions use a dedicated RESP3 connection (one per node on a
//! cluster) so bulk commands never delay pushes; the client library
//! resubscribes after a reconnect, and the relay treats the disconnect as
//! [`FanoutEvent::Lost`].

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind, RedisResult, Value};
use tokio::sync::{mpsc, oneshot};

use super::conn::RESPONSE_TIMEOUT;
use super::keys;
use super::{RedisOptions, unavailable};
use crate::fanout::{Fanout, FanoutEvent, FanoutSink, LivePush, WatchFuture};
use crate::store::StoreError;

enum Command {
    Watch(MailboxId, oneshot::Sender<()>),
    Unwatch(MailboxId),
}

/// The subscribing connection.
enum SubConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl SubConn {
    async fn connect(
        options: &RedisOptions,
        pushes: mpsc::UnboundedSender<PushInfo>,
    ) -> RedisResult<Self> {
        if options.is_cluster() {
            let client = ClusterClientBuilder::new(options.urls.clone())
                .use_protocol(ProtocolVersion::RESP3)
                .response_timeout(RESPONSE_TIMEOUT)
                .push_sender(pushes)
                .build()?;
            Ok(Self::Cluster(client.get_async_connection().await?))
        } else {
            let url = options
                .urls
                .first()
                .map_or("redis://127.0.0.1:6379", String::as_str);
            let info = url.into_connection_info()?;
            let settings = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3);
            let client = redis::Client::open(info.set_redis_settings(settings))?;
            let config = ConnectionManagerConfig::new()
                .set_response_timeout(Some(RESPONSE_TIMEOUT))
                .set_push_sender(pushes)
                .set_automatic_resubscription();
            Ok(Self::Single(
                client.get_connection_manager_with_config(config).await?,
            ))
        }
    }

    async fn subscribe(&mut self, channel: String) -> RedisResult<()> {
        match self {
            Self::Single(c) => c.subscribe(channel).await,
            Self::Cluster(c) => c.ssubscribe(channel).await,
        }
    }

    async fn unsubscribe(&mut self, channel: String) -> RedisResult<()> {
        match self {
            Self::Single(c) => c.unsubscribe(channel).await,
            Self::Cluster(c) => c.sunsubscribe(channel).await,
        }
    }
}

/// The Redis [`Fanout`].
pub struct RedisFanout {
    commands: mpsc::UnboundedSender<Command>,
    sink: Arc<OnceLock<FanoutSink>>,
}

impl RedisFanout {
    /// Opens the subscribing connection and starts its tasks.
    pub async fn connect(options: &RedisOptions) -> Result<Self, StoreError> {
        let (push_tx, push_rx) = mpsc::unbounded_channel();
        let conn = SubConn::connect(options, push_tx)
            .await
            .map_err(unavailable)?;
        let sink: Arc<OnceLock<FanoutSink>> = Arc::default();
        tokio::spawn(receive(push_rx, Arc::clone(&sink)));
        let (commands, command_rx) = mpsc::unbounded_channel();
        tokio::spawn(run_commands(conn, command_rx, Arc::clone(&sink)));
        Ok(Self { commands, sink })
    }
}

impl Fanout for RedisFanout {
    fn attach(&self, sink: FanoutSink) {
        let _ = self.sink.set(sink);
    }

    fn watch(&self, mailbox: MailboxId) -> WatchFuture {
        let (done, active) = oneshot::channel();
        let _ = self.commands.send(Command::Watch(mailbox, done));
        Box::pin(async move {
            let _ = active.await;
        })
    }

    fn unwatch(&self, mailbox: MailboxId) {
        let _ = self.commands.send(Command::Unwatch(mailbox));
    }
}

/// Applies watch/unwatch requests in order.
async fn run_commands(
    mut conn: SubConn,
    mut commands: mpsc::UnboundedReceiver<Command>,
    sink: Arc<OnceLock<FanoutSink>>,
) {
    while let Some(command) = commands.recv().await {
        match command {
            Command::Watch(mailbox, done) => {
                if let Err(e) = conn.subscribe(keys::live_channel(&mailbox)).await {
                    // Its subscribers are disconnected: they reconnect, subscribe
                    // again and read the backlog, instead of silently missing pushes.
                    tracing::warn!(error = %e, "redis: live subscription failed");
                    if let Some(sink) = sink.get() {
                        sink(FanoutEvent::Unwatched(mailbox));
                    }
                }
                let _ = done.send(());
            }
            Command::Unwatch(mailbox) => {
                if let Err(e) = conn.unsubscribe(keys::live_channel(&mailbox)).await {
                    tracing::debug!(error = %e, "redis: unsubscribe failed");
                }
            }
        }
    }
}

/// Turns pushes from Redis into fan-out events.
async fn receive(mut pushes: mpsc::UnboundedReceiver<PushInfo>, sink: Arc<OnceLock<FanoutSink>>) {
    while let Some(push) = pushes.recv().await {
        let Some(sink) = sink.get() else { continue };
        match push.kind {
            PushKind::Message | PushKind::SMessage => {
                if let Some(mailbox) = deleted(&push.data) {
                    sink(FanoutEvent::Deleted(mailbox));
                    continue;
                }
                for live in decode(push.data) {
                    sink(FanoutEvent::Push(live));
                }
            }
            PushKind::Disconnection => {
                tracing::warn!("redis: pub/sub connection lost; subscribers will reconnect");
                sink(FanoutEvent::Lost);
            }
            _ => {}
        }
    }
}

/// `[channel, ""]`: the mailbox was deleted (`scripts::DELETE`); an append
/// never publishes an empty payload.
fn deleted(data: &[Value]) -> Option<MailboxId> {
    match data {
        [Value::BulkString(channel), Value::BulkString(payload), ..] if payload.is_empty() => {
            std::str::from_utf8(channel)
                .ok()
                .and_then(keys::mailbox_from_key)
        }
        _ => None,
    }
}

/// `[channel, payload]` → the pushes in it. The payload is what one append
/// script call stored (`scripts::APPEND`): per envelope, its 16-byte message
/// id, its length (u32, big-endian) and the envelope. The envelopes are
/// slices of the one received buffer, not copies. A truncated entry ends the list.
fn decode(data: Vec<Value>) -> Vec<LivePush> {
    let mut data = data.into_iter();
    let (Some(Value::BulkString(channel)), Some(Value::BulkString(payload))) =
        (data.next(), data.next())
    else {
        return Vec::new();
    };
    let Some(mailbox) = std::str::from_utf8(&channel)
        .ok()
        .and_then(keys::mailbox_from_key)
    else {
        return Vec::new();
    };
    let payload = Bytes::from(payload);
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(head) = payload.get(at..at + 20) {
        let (id, len) = head.split_at(16);
        let (Ok(id), Ok(len)) = (<[u8; 16]>::try_from(id), <[u8; 4]>::try_from(len)) else {
            break;
        };
        let start = at + 20;
        let end = start.saturating_add(u32::from_be_bytes(len) as usize);
        if end > payload.len() {
            break;
        }
        out.push(LivePush {
            mailbox,
            message: MessageId(id),
            envelope: payload.slice(start..end),
        });
        at = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_published_payloads() {
        let m = MailboxId([7; 32]);
        let channel = Value::BulkString(keys::live_channel(&m).into_bytes());
        let mut payload = Vec::new();
        for (id, body) in [(9u8, &b"envelope"[..]), (10, b"second")] {
            payload.extend_from_slice(&[id; 16]);
            payload.extend_from_slice(&(body.len() as u32).to_be_bytes());
            payload.extend_from_slice(body);
        }
        let full = payload.len();
        payload.extend_from_slice(&[11; 16]);
        payload.extend_from_slice(&100u32.to_be_bytes());
        payload.extend_from_slice(b"truncated");
        let pushes = decode(vec![channel.clone(), Value::BulkString(payload.clone())]);
        assert_eq!(pushes.len(), 2, "the truncated third entry is dropped");
        assert_eq!(
            (pushes[0].mailbox, pushes[0].message),
            (m, MessageId([9; 16]))
        );
        assert_eq!(&pushes[0].envelope[..], b"envelope");
        assert_eq!(
            (pushes[1].mailbox, pushes[1].message),
            (m, MessageId([10; 16]))
        );
        assert_eq!(&pushes[1].envelope[..], b"second");
        assert_eq!(
            decode(vec![
                channel.clone(),
                Value::BulkString(payload[..full - 1].to_vec())
            ])
            .len(),
            1
        );
        assert!(decode(vec![channel, Value::BulkString(b"short".to_vec())]).is_empty());
        let other = Value::BulkString(b"not-a-cairn-channel".to_vec());
        assert!(decode(vec![other, Value::BulkString(payload)]).is_empty());
    }
}
