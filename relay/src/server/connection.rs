//! One client connection: a `select!` loop over incoming frames, finished
//! requests, live pushes, backlog completions, keepalive and shutdown.
//!
//! Requests are pipelined: each becomes a future kept in a `FuturesOrdered`,
//! so a client may have many sends in flight while answers still come back
//! in request order. When `max_in_flight` are pending the loop stops reading
//! (TCP backpressure). Writes go through the bounded outbound queue to the
//! writer task; a client that does not read fills its push queue and is
//! disconnected (its envelopes stay stored).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn_protocol::envelope::MailboxId;
use cairn_protocol::relay::{
    ClientRequest, ErrorCode, MAX_FRAME_LEN, RelayFrame, is_ack_frame, peek_request_id,
};
use futures_util::StreamExt;
use futures_util::stream::{FuturesOrdered, SplitSink, SplitStream};
use rand::RngExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::Shared;
use super::hub::Push;
use super::outbound::{self, Out, Outbound};
use super::request::{InFlight, answer};
use super::subscription::{BackfillDone, SubState};
use crate::limits::Bucket;

/// Relay software name and version sent in the challenge.
const SERVER: &str = concat!("cairn-relay/", env!("CARGO_PKG_VERSION"));

/// Per-connection state the request handlers work on.
pub(crate) struct Conn {
    pub shared: Arc<Shared>,
    pub id: u64,
    pub nonce: [u8; 32],
    pub out: Outbound,
    pub subs: HashMap<MailboxId, SubState>,
    pub kick: Arc<Notify>,
    /// Queues for live pushes and finished backlogs, made on the first
    /// subscription: a connection that never subscribes (a sender) does
    /// not pay for them.
    live: Option<LiveSenders>,
    /// Their receiving ends, until the connection loop takes them.
    new_live: Option<LiveQueues>,
    ip: IpAddr,
    bucket: Bucket,
    /// Acks have their own bucket (same rate) and skip the per-address one:
    /// a recipient acking what it receives must not starve its own sends.
    ack_bucket: Bucket,
}

/// Why the loop ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    ClientGone,
    Shutdown,
    Idle,
    Slow,
    Oversized,
}

/// Sending ends of a connection's live queues (pushes, finished backlogs).
type LiveSenders = (mpsc::Sender<Arc<Push>>, mpsc::Sender<Box<BackfillDone>>);

/// Receiving ends of a connection's live queues.
type LiveQueues = (mpsc::Receiver<Arc<Push>>, mpsc::Receiver<Box<BackfillDone>>);

impl Conn {
    /// The live queues' sending ends, created on first use.
    pub(crate) fn live_queues(&mut self) -> LiveSenders {
        if let Some((pushes, backfills)) = &self.live {
            return (pushes.clone(), backfills.clone());
        }
        let (pushes_tx, pushes) = mpsc::channel(self.shared.config.limits.outbound_queue);
        let (backfill_tx, backfills) = mpsc::channel(8);
        self.live = Some((pushes_tx.clone(), backfill_tx.clone()));
        self.new_live = Some((pushes, backfills));
        (pushes_tx, backfill_tx)
    }

    /// Queues a frame for the writer, waiting for room.
    pub(crate) async fn send_frame(&mut self, frame: Bytes) {
        outbound::send(&self.out, &self.shared.metrics, Out::Frame(frame)).await;
    }

    /// Applies the rate limits to one incoming frame.
    fn allowed(&mut self, ack: bool) -> bool {
        let now = Instant::now();
        let limits = &self.shared.config.limits;
        if ack {
            return self.ack_bucket.take(limits.per_connection, now);
        }
        self.bucket.take(limits.per_connection, now) && self.shared.ip_limiter.take(self.ip, now)
    }

    /// Handles one binary frame from the client.
    fn on_frame(&mut self, raw: Bytes) -> InFlight {
        let request_id = peek_request_id(&raw);
        if !self.allowed(is_ack_frame(&raw)) {
            return refuse(request_id, ErrorCode::RateLimited);
        }
        if raw.len() > MAX_FRAME_LEN {
            return refuse(request_id, ErrorCode::FrameTooLarge);
        }
        match ClientRequest::decode(&raw) {
            Ok(request) => self.start(request, &raw),
            Err(e) => refuse(request_id, e.code()),
        }
    }
}

fn refuse(request_id: u32, code: ErrorCode) -> InFlight {
    Box::pin(std::future::ready(super::request::Done::Reply(
        request_id,
        Err(code),
    )))
}

/// Serves one upgraded connection until it closes.
pub(crate) async fn serve<S>(
    shared: Arc<Shared>,
    sink: SplitSink<WebSocketStream<S>, Message>,
    mut stream: SplitStream<WebSocketStream<S>>,
    ip: IpAddr,
    id: u64,
    mut stop: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let metrics = Arc::clone(&shared.metrics);
    metrics.connections_open.fetch_add(1, Relaxed);
    metrics.connections_total.fetch_add(1, Relaxed);
    let limits = shared.config.limits.clone();
    let (out, out_rx) = mpsc::channel(limits.outbound_queue);
    let writer = tokio::spawn(outbound::run(sink, out_rx, Arc::clone(&metrics)));
    let mut pushes: Option<mpsc::Receiver<Arc<Push>>> = None;
    let mut backfills: Option<mpsc::Receiver<Box<BackfillDone>>> = None;
    let mut conn = Conn {
        nonce: rand::rng().random(),
        bucket: Bucket::full(limits.per_connection, Instant::now()),
        ack_bucket: Bucket::full(limits.per_connection, Instant::now()),
        shared,
        id,
        out,
        subs: HashMap::new(),
        kick: Arc::new(Notify::new()),
        live: None,
        new_live: None,
        ip,
    };
    let challenge = RelayFrame::Challenge {
        nonce: conn.nonce,
        server: SERVER,
    };
    conn.send_frame(Bytes::from(challenge.encode(0))).await;

    let mut in_flight: FuturesOrdered<InFlight> = FuturesOrdered::new();
    let mut last_heard = Instant::now();
    let mut keepalive = tokio::time::interval(limits.ping_interval.min(limits.idle_timeout));
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let kick = Arc::clone(&conn.kick);
    let end = loop {
        if let Some((p, b)) = conn.new_live.take() {
            (pushes, backfills) = (Some(p), Some(b));
        }
        tokio::select! {
            biased;
            _ = stop.changed() => break End::Shutdown,
            _ = kick.notified() => break End::Slow,
            // Rarely-active work is boxed so the idle state of the loop stays small.
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                Box::pin(conn.finish(done)).await;
            }
            Some(push) = recv(pushes.as_mut()) => Box::pin(conn.on_push(push)).await,
            Some(done) = recv(backfills.as_mut()) => Box::pin(conn.on_backfill_done(done)).await,
            message = stream.next(), if in_flight.len() < limits.max_in_flight => {
                last_heard = Instant::now();
                match message {
                    Some(Ok(Message::Binary(raw))) => in_flight.push_back(conn.on_frame(raw)),
                    Some(Ok(Message::Text(_))) => {
                        let code = if conn.allowed(false) { ErrorCode::Malformed } else { ErrorCode::RateLimited };
                        in_flight.push_back(refuse(0, code));
                    }
                    Some(Ok(Message::Close(_))) | None => break End::ClientGone,
                    Some(Ok(_)) => {}
                    Some(Err(WsError::Capacity(_))) => break End::Oversized,
                    Some(Err(e)) => {
                        tracing::debug!(conn = id, error = %e, "read failed");
                        break End::ClientGone;
                    }
                }
            }
            _ = keepalive.tick() => {
                let quiet = last_heard.elapsed();
                if quiet >= limits.idle_timeout {
                    break End::Idle;
                }
                if quiet >= limits.ping_interval.min(limits.idle_timeout / 2) {
                    metrics.queued_frames.fetch_add(1, Relaxed);
                    if conn.out.try_send(Out::Ping).is_err() {
                        metrics.queued_frames.fetch_sub(1, Relaxed);
                    }
                }
            }
        }
    };

    Box::pin(close(conn, in_flight, end, writer)).await;
}

/// The next item of a queue that may not exist yet (then: never).
async fn recv<T>(queue: Option<&mut mpsc::Receiver<T>>) -> Option<T> {
    match queue {
        Some(queue) => queue.recv().await,
        None => std::future::pending().await,
    }
}

/// Ends a connection: finish or abandon in-flight work, say goodbye, stop the writer.
async fn close(
    mut conn: Conn,
    mut in_flight: FuturesOrdered<InFlight>,
    end: End,
    writer: tokio::task::JoinHandle<()>,
) {
    let metrics = Arc::clone(&conn.shared.metrics);
    let id = conn.id;
    match end {
        End::Slow => {
            conn.unsubscribe_all();
            metrics.slow_disconnects.fetch_add(1, Relaxed);
            tracing::debug!(conn = id, "slow reader disconnected");
            writer.abort();
        }
        End::ClientGone => {
            // Requests already received are still carried out and answered if possible.
            drain(&mut conn, &mut in_flight).await;
            conn.unsubscribe_all();
        }
        End::Shutdown | End::Idle | End::Oversized => {
            drain(&mut conn, &mut in_flight).await;
            conn.unsubscribe_all();
            if end == End::Oversized {
                conn.send_frame(answer(0, Err(ErrorCode::FrameTooLarge)))
                    .await;
            }
            let (code, reason) = match end {
                End::Shutdown => (CloseCode::Away, "relay shutting down"),
                End::Idle => (CloseCode::Normal, "idle timeout"),
                _ => (CloseCode::Size, "frame too large"),
            };
            outbound::send(&conn.out, &metrics, Out::Close(code, reason)).await;
        }
    }
    let Conn { out, .. } = conn;
    drop(out);
    if tokio::time::timeout(Duration::from_secs(5), writer)
        .await
        .is_err()
    {
        tracing::debug!(conn = id, "writer did not finish in time");
    }
    metrics.connections_open.fetch_sub(1, Relaxed);
}

/// Finishes every request already received.
async fn drain(conn: &mut Conn, in_flight: &mut FuturesOrdered<InFlight>) {
    while let Some(done) = in_flight.next().await {
        conn.finish(done).await;
    }
}
