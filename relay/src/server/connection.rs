//! One client connection: a `select!` loop over incoming frames, finished
//! requests, live pushes, backlog pages, keepalive and shutdown.
//!
//! Requests are pipelined: each becomes a future kept in a `FuturesOrdered`,
//! so a client may have many sends in flight while answers still come back
//! in request order. When `max_in_flight` are pending the loop stops reading
//! (TCP backpressure). The loop writes to the socket itself and flushes
//! when nothing else is ready (see `socket`): one task per connection, no
//! queue between the loop and the socket. A client that does not read
//! fills its push queue, or stalls a write past the timeout, and is
//! disconnected (its envelopes stay stored).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use bytes::Bytes;
use cairn_protocol::envelope::MailboxId;
use cairn_protocol::frames::{
    ClientRequest, ErrorCode, MAX_FRAME_LEN, RelayFrame, is_ack_frame, peek_request_id,
};
use futures_util::StreamExt;
use futures_util::stream::{FuturesOrdered, FuturesUnordered};
use rand::RngExt;
use tokio::sync::{Notify, mpsc, watch};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::Shared;
use super::hub::Push;
use super::request::{Done, InFlight, answer};
use super::socket::{Socket, WriteState, WsIo};
use super::subscription::{Page, PageFuture, SubState};
use crate::limits::Bucket;

/// Relay software name and version sent in the challenge.
const SERVER: &str = concat!("cairn-relay/", env!("CARGO_PKG_VERSION"));

/// Per-connection state the request handlers work on.
pub(crate) struct Conn {
    pub shared: Arc<Shared>,
    pub id: u64,
    pub nonce: [u8; 32],
    pub socket: Socket,
    pub subs: HashMap<MailboxId, SubState>,
    pub kick: Arc<Notify>,
    /// Live pushes from the hub, made on the first subscription: a
    /// connection that never subscribes (a sender) does not pay for it.
    pub live: Option<LiveQueue>,
    /// Backlog pages being read; also made on the first subscription.
    pub pages: Option<FuturesUnordered<PageFuture>>,
    /// Tells a subscription's pages from those of an earlier one.
    pub next_token: u64,
    ip: IpAddr,
    bucket: Bucket,
    /// Acks have their own bucket (same rate) and skip the per-address one:
    /// a recipient acking what it receives must not starve its own sends.
    ack_bucket: Bucket,
}

/// Both ends of a connection's live push queue (the sender is cloned for
/// each subscription registered with the hub).
pub(crate) type LiveQueue = (mpsc::Sender<Arc<Push>>, mpsc::Receiver<Arc<Push>>);

/// Why the loop ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    ClientGone,
    Shutdown,
    Idle,
    Slow,
    Oversized,
}

impl Conn {
    /// The live push queue's sending end, created on first use.
    pub(crate) fn live_sender(&mut self) -> mpsc::Sender<Arc<Push>> {
        let capacity = self.shared.config.limits.outbound_queue;
        let (sender, _) = self.live.get_or_insert_with(|| mpsc::channel(capacity));
        sender.clone()
    }

    /// Writes one binary frame to the client.
    pub(crate) async fn send_frame(&mut self, frame: Bytes) {
        self.socket.send(Message::Binary(frame)).await;
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
    Box::pin(std::future::ready(Done::Reply(request_id, Err(code))))
}

/// Serves one upgraded connection until it closes. The socket comes boxed,
/// so the spawned task does not carry the TLS + WebSocket state twice.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    ws: Box<dyn WsIo>,
    ip: IpAddr,
    id: u64,
    mut stop: watch::Receiver<bool>,
) {
    let metrics = Arc::clone(&shared.metrics);
    metrics.connections_open.fetch_add(1, Relaxed);
    metrics.connections_total.fetch_add(1, Relaxed);
    let limits = shared.config.limits.clone();
    let mut conn = Conn {
        nonce: rand::rng().random(),
        bucket: Bucket::full(limits.per_connection, Instant::now()),
        ack_bucket: Bucket::full(limits.per_connection, Instant::now()),
        socket: Socket::new(ws, limits.ping_interval, Arc::clone(&metrics)),
        shared,
        id,
        subs: HashMap::new(),
        kick: Arc::new(Notify::new()),
        live: None,
        pages: None,
        next_token: 0,
        ip,
    };
    let challenge = RelayFrame::Challenge {
        nonce: conn.nonce,
        server: SERVER,
    };
    conn.send_frame(Bytes::from(challenge.encode(0))).await;
    conn.socket.flush().await;

    let mut in_flight: FuturesOrdered<InFlight> = FuturesOrdered::new();
    let mut last_heard = Instant::now();
    let mut keepalive = tokio::time::interval(limits.ping_interval.min(limits.idle_timeout));
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let kick = Arc::clone(&conn.kick);
    let end = loop {
        match conn.socket.state() {
            WriteState::Open => {}
            WriteState::Broken => break End::ClientGone,
            WriteState::Stalled => break End::Slow,
        }
        tokio::select! {
            biased;
            _ = stop.changed() => break End::Shutdown,
            _ = kick.notified() => break End::Slow,
            // Rarely-active work is boxed so the idle state of the loop stays small.
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                Box::pin(conn.finish(done)).await;
            }
            Some(push) = recv(conn.live.as_mut().map(|(_, queue)| queue)) => {
                Box::pin(conn.on_push(push)).await;
            }
            Some(page) = next_page(conn.pages.as_mut()) => Box::pin(conn.on_page(page)).await,
            message = conn.socket.next(), if in_flight.len() < limits.max_in_flight => {
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
                    conn.socket.send(Message::Ping(Bytes::new())).await;
                }
            }
            // Lowest priority: flush once nothing else is ready.
            () = std::future::ready(()), if conn.socket.needs_flush() => conn.socket.flush().await,
        }
    };

    Box::pin(close(conn, in_flight, end)).await;
}

/// The next item of a queue that may not exist yet (then: never).
async fn recv<T>(queue: Option<&mut mpsc::Receiver<T>>) -> Option<T> {
    match queue {
        Some(queue) => queue.recv().await,
        None => std::future::pending().await,
    }
}

/// The next backlog page, if any is being read (else: never).
async fn next_page(pages: Option<&mut FuturesUnordered<PageFuture>>) -> Option<Page> {
    match pages {
        Some(pages) if !pages.is_empty() => pages.next().await,
        _ => std::future::pending().await,
    }
}

/// Ends a connection: finish or abandon in-flight work, say goodbye.
async fn close(mut conn: Conn, mut in_flight: FuturesOrdered<InFlight>, end: End) {
    let metrics = Arc::clone(&conn.shared.metrics);
    let id = conn.id;
    let goodbye = match end {
        End::Slow => {
            conn.unsubscribe_all();
            metrics.slow_disconnects.fetch_add(1, Relaxed);
            tracing::debug!(conn = id, "slow reader disconnected");
            // No goodbye: the client does not read.
            None
        }
        End::ClientGone => {
            // Requests already received are still carried out and answered if possible.
            drain(&mut conn, &mut in_flight).await;
            conn.unsubscribe_all();
            None
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
            Some(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
        }
    };
    if end == End::Slow {
        drop(conn);
    } else {
        conn.socket.close(goodbye).await;
    }
    metrics.connections_open.fetch_sub(1, Relaxed);
}

/// Finishes every request already received.
async fn drain(conn: &mut Conn, in_flight: &mut FuturesOrdered<InFlight>) {
    while let Some(done) = in_flight.next().await {
        conn.finish(done).await;
    }
}
