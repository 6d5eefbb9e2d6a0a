//! One client connection: a `select!` loop over incoming frames, finished
//! requests, live pushes, backlog pages, keepalive and shutdown. The only
//! place that does a connection's I/O: it hands frames to `request` and
//! events to `Subscriptions`, and writes, reads and registers what they ask.
//!
//! Requests are pipelined: each becomes a future kept in a `FuturesOrdered`,
//! so a client may have many sends in flight while answers still come back
//! in request order. When `max_in_flight` are pending the loop stops reading
//! (TCP backpressure). The loop writes to the socket itself and flushes
//! when nothing else is ready (see `socket`): one task per connection, no
//! queue between the loop and the socket. A client that does not read
//! fills its push queue, or stalls a write past the timeout, and is
//! disconnected (its envelopes stay stored).

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use cairn_protocol::envelope::MailboxId;
use cairn_protocol::frames::{
    ErrorCode, QUIET_REQUEST_ID, RelayFrame, is_ack_frame, peek_request_id,
};
use futures_util::StreamExt;
use futures_util::stream::{FuturesOrdered, FuturesUnordered};
use rand::RngExt;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::hub::{Live, Subscriber};
use super::request::{self, Ctx, Done, InFlight, Start, answer};
use super::socket::{Socket, WriteState, WsIo};
use super::subscriptions::{Fetch, Next, PAGE, Pushed, Subscriptions};
use super::{Shared, now_unix, offences};
use crate::limits::Bucket;
use crate::store::{MailboxKeys, StoreError, StoredEnvelope};

/// Relay software name and version sent in the challenge.
const SERVER: &str = concat!("cairn-relay/", env!("CARGO_PKG_VERSION"));

/// One connection's state; only its own loop touches it.
struct Conn {
    shared: Arc<Shared>,
    /// Tells this connection's hub registrations from others'.
    id: u64,
    /// The challenge subscribe and delete signatures cover.
    nonce: [u8; 32],
    socket: Socket,
    subs: Subscriptions,
    /// Notified by the hub when this connection's push queue overflowed.
    kick: Arc<Notify>,
    /// Live pushes from the hub, made on the first subscription: a
    /// connection that never subscribes (a sender) does not pay for it.
    live: Option<LiveQueue>,
    /// Backlog pages being read; also made on the first subscription.
    pages: Option<FuturesUnordered<PageFuture>>,
    ip: IpAddr,
    /// An offence of this connection just banned its source.
    banned: bool,
    /// A frame was just refused by a rate limit (see `pause_if_throttled`).
    throttled: bool,
    bucket: Bucket,
    /// Acks have their own bucket (same rate) and skip the per-address one:
    /// a recipient acking what it receives must not starve its own sends.
    ack_bucket: Bucket,
    /// Frame bytes (acks are small and not counted).
    byte_bucket: Bucket,
}

/// Both ends of a connection's live push queue (the sender is cloned for
/// each subscription registered with the hub).
type LiveQueue = (mpsc::Sender<Arc<Live>>, mpsc::Receiver<Arc<Live>>);

/// One backlog page read: what was asked, and what the store returned.
type Page = (Fetch, Result<Vec<StoredEnvelope>, StoreError>);

/// A backlog page being read.
type PageFuture = Pin<Box<dyn Future<Output = Page> + Send>>;

/// How long a connection is not read after a rate-limited frame.
const THROTTLE_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// Why the loop ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    ClientGone,
    Shutdown,
    /// Nothing at all, not even a pong, for the idle timeout.
    Idle,
    /// No request within the first-request timeout.
    NoRequest,
    /// No subscription and no request for the idle timeout (pongs only).
    Unused,
    Slow,
    Oversized,
    /// Its source was just banned.
    Banned,
}

impl Conn {
    /// The live push queue's sending end, created on first use.
    fn live_sender(&mut self) -> mpsc::Sender<Arc<Live>> {
        let capacity = self.shared.config.limits.outbound_queue;
        let (sender, _) = self.live.get_or_insert_with(|| mpsc::channel(capacity));
        sender.clone()
    }

    /// Writes one binary frame to the client.
    async fn send_frame(&mut self, frame: Bytes) {
        self.socket.send(Message::Binary(frame)).await;
    }

    /// Applies the rate limits to one incoming frame of `len` bytes: frames
    /// and bytes, per connection and per address.
    fn allowed(&mut self, ack: bool, len: usize) -> bool {
        let now = std::time::Instant::now();
        let limits = &self.shared.config.limits;
        let allowed = if ack {
            self.ack_bucket.take(limits.per_connection, now)
        } else {
            self.bucket.take(limits.per_connection, now)
                && self
                    .byte_bucket
                    .take_n(limits.bytes_per_connection, len as f64, now)
                && self.shared.ip_limiter.take(self.ip)
                && self.shared.ip_bytes.take_n(self.ip, len)
        };
        self.throttled |= !allowed;
        allowed
    }

    /// After a rate-limited frame, stops reading this connection for a
    /// moment: refusing costs a read, a decode and an answer, so answering
    /// a flood as fast as it writes would spend the relay on it. Unread
    /// frames wait in the socket and TCP slows the sender down.
    async fn pause_if_throttled(&mut self) {
        if std::mem::take(&mut self.throttled) {
            self.socket.flush().await;
            tokio::time::sleep(THROTTLE_PAUSE).await;
        }
    }

    /// Handles one binary frame from the client.
    fn on_frame(&mut self, raw: Bytes) -> InFlight {
        if !self.allowed(is_ack_frame(&raw), raw.len()) {
            return request::reply_now(peek_request_id(&raw), Err(ErrorCode::RateLimited));
        }
        let ctx = Ctx {
            shared: &self.shared,
            nonce: &self.nonce,
            subscriptions: &self.subs,
            ip: self.ip,
        };
        match request::start(&ctx, &raw) {
            Start::Work(work) => work,
            Start::Unsubscribe(id, mailbox) => {
                self.unsubscribe(&mailbox);
                request::reply_now(id, Ok(()))
            }
        }
    }

    /// Applies a finished request: side effects first, then the answer.
    async fn finish(&mut self, done: Done) {
        match done {
            Done::Reply(id, result) => self.reply(id, result).await,
            Done::Quiet(Ok(())) => {}
            Done::Quiet(Err(code)) => self.reply(QUIET_REQUEST_ID, Err(code)).await,
            Done::Stored(id, result) => {
                let result = result.map(|late| {
                    if let Some((push, generation)) = late {
                        self.shared.hub.publish_since(&push, generation);
                    }
                });
                self.reply(id, result).await;
            }
            Done::Subscribed(id, mailbox, result) => {
                self.reply(id, result.map(|_| ())).await;
                if let Ok(keys) = result {
                    self.subscribe(mailbox, keys);
                }
            }
            Done::Deleted(id, mailbox, result) => {
                if result.is_ok() {
                    self.unsubscribe(&mailbox);
                }
                self.reply(id, result).await;
            }
            Done::Stats(id, Ok(stats)) => {
                let frame = Bytes::from(RelayFrame::Stats(stats).encode(id));
                self.send_frame(frame).await;
            }
            Done::Stats(id, Err(code)) => self.reply(id, Err(code)).await,
        }
    }

    /// Sends `Ok` or an error frame, counting refusals.
    async fn reply(&mut self, request_id: u32, result: Result<(), ErrorCode>) {
        if let Err(code) = result {
            self.shared.metrics.refused(code);
            tracing::debug!(conn = self.id, code = code.as_u16(), "request refused");
            if offences::is_offence(code) && self.shared.offence(self.ip) {
                self.banned = true;
            }
        }
        self.send_frame(answer(request_id, result)).await;
    }

    /// Registers a subscription proven with `key` with the hub, then (so
    /// nothing sent in between is missed) starts reading its backlog.
    fn subscribe(&mut self, mailbox: MailboxId, keys: MailboxKeys) {
        let subscriber = Subscriber {
            conn: self.id,
            pushes: self.live_sender(),
            kick: Arc::clone(&self.kick),
            send_lock: keys.send_lock,
        };
        let generation = self.shared.hub.subscribe(mailbox, subscriber);
        if let Some(fetch) = self.subs.subscribe(mailbox, generation) {
            self.read(fetch, Some(keys));
        }
    }

    fn unsubscribe(&mut self, mailbox: &MailboxId) {
        self.shared.hub.unsubscribe(mailbox, self.id);
        self.subs.unsubscribe(mailbox);
    }

    /// Drops every subscription (connection closing).
    fn unsubscribe_all(&mut self) {
        for mailbox in self.subs.drain() {
            self.shared.hub.unsubscribe(&mailbox, self.id);
        }
    }

    /// Starts reading a backlog page. The first one waits until envelopes
    /// stored by other instances reach this one (with a fan-out), then
    /// checks that the mailbox is still the one proven: a deletion between
    /// the proof and the hub registration would otherwise go unnoticed.
    fn read(&mut self, fetch: Fetch, proven: Option<MailboxKeys>) {
        let shared = Arc::clone(&self.shared);
        let page: PageFuture = Box::pin(async move {
            let read = async {
                if let Some(keys) = proven {
                    shared.hub.ready(fetch.mailbox).await;
                    // Auth key and send lock: the hub admits early pushes by this lock.
                    if shared.store.mailbox_keys(fetch.mailbox).await? != Some(keys) {
                        return Err(StoreError::NoSuchMailbox);
                    }
                }
                shared
                    .store
                    .fetch(fetch.mailbox, fetch.after, PAGE, now_unix())
                    .await
            };
            (fetch, read.await)
        });
        self.pages
            .get_or_insert_with(FuturesUnordered::new)
            .push(page);
    }

    /// Something from the hub. `Err` ends the connection (slow reader).
    async fn on_live(&mut self, live: Arc<Live>) -> Result<(), End> {
        match &*live {
            Live::Push(push) => match self.subs.push(push) {
                Pushed::Deliver(frame) => self.deliver(frame).await,
                Pushed::Held | Pushed::Dropped => {}
                // Slow reader: disconnect; the envelopes stay stored.
                Pushed::Overflow => return Err(End::Slow),
            },
            Live::Ended {
                mailbox,
                generation,
            } => {
                // Tell the client, so it stops waiting on (and acking into) a
                // mailbox that is gone or someone else's now (issue 16.4).
                if self.subs.ended(mailbox, *generation) {
                    let frame = RelayFrame::SubscriptionEnded { mailbox: mailbox.0 };
                    self.send_frame(Bytes::from(frame.encode(0))).await;
                }
            }
        }
        Ok(())
    }

    /// A backlog page arrived: write it, then read the next or go live.
    async fn on_page(&mut self, (fetch, read): Page) {
        if let Err(e) = &read
            && *e != StoreError::NoSuchMailbox
        {
            // The envelopes stay stored; the client gets them on its next subscribe.
            tracing::warn!(error = %e, "backlog fetch failed");
        }
        let backlog = self.subs.page(fetch, read);
        for frame in backlog.frames {
            self.deliver(frame).await;
        }
        match backlog.next {
            Next::Fetch(next) => self.read(next, None),
            Next::Gone => self.shared.hub.unsubscribe(&fetch.mailbox, self.id),
            Next::Live | Next::Stale => {}
        }
    }

    async fn deliver(&mut self, frame: Bytes) {
        self.shared.metrics.messages_out.inc();
        self.shared.metrics.bytes_out.inc_by(frame.len() as u64);
        self.send_frame(frame).await;
    }
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
    metrics.connections_open.inc();
    metrics.connections_total.inc();
    let limits = shared.config.limits.clone();
    let now = std::time::Instant::now();
    let mut conn = Conn {
        nonce: rand::rng().random(),
        bucket: Bucket::full(limits.per_connection, now),
        ack_bucket: Bucket::full(limits.per_connection, now),
        byte_bucket: Bucket::full(limits.bytes_per_connection, now),
        socket: Socket::new(ws, limits.ping_interval, Arc::clone(&metrics)),
        shared,
        id,
        subs: Subscriptions::new(limits.outbound_queue),
        kick: Arc::new(Notify::new()),
        live: None,
        pages: None,
        ip,
        banned: false,
        throttled: false,
    };
    tracing::debug!(conn = id, "upgrade done");
    let challenge = RelayFrame::Challenge {
        nonce: conn.nonce,
        server: SERVER,
    };
    conn.send_frame(Bytes::from(challenge.encode(0))).await;
    conn.socket.flush().await;

    let mut in_flight: FuturesOrdered<InFlight> = FuturesOrdered::new();
    // Tokio's clock (the real one in production), so tests can pause it.
    // Anything, pongs included, keeps a subscribed connection alive; only
    // requests keep one without subscriptions (issue 16: sockets that only
    // answer pings held connection slots forever).
    let mut last_heard = Instant::now();
    let mut last_request: Option<Instant> = None;
    let first_request_deadline = tokio::time::sleep(limits.first_request_timeout);
    tokio::pin!(first_request_deadline);
    let mut keepalive = tokio::time::interval(limits.ping_interval.min(limits.idle_timeout));
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let kick = Arc::clone(&conn.kick);
    let end = loop {
        match conn.socket.state() {
            WriteState::Open => {}
            WriteState::Broken => break End::ClientGone,
            WriteState::Stalled => break End::Slow,
        }
        if conn.banned {
            break End::Banned;
        }
        tokio::select! {
            biased;
            _ = stop.changed() => break End::Shutdown,
            _ = kick.notified() => break End::Slow,
            // Rarely-active work is boxed so the idle state of the loop stays small.
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                Box::pin(conn.finish(done)).await;
            }
            Some(live) = recv(conn.live.as_mut().map(|(_, queue)| queue)) => {
                if let Err(end) = Box::pin(conn.on_live(live)).await {
                    break end;
                }
            }
            Some(page) = next_page(conn.pages.as_mut()) => Box::pin(conn.on_page(page)).await,
            () = &mut first_request_deadline, if last_request.is_none() => break End::NoRequest,
            message = conn.socket.next(), if in_flight.len() < limits.max_in_flight => {
                last_heard = Instant::now();
                // Frames already buffered would never return Pending: give
                // other connections their turn once this task's budget is spent.
                tokio::task::consume_budget().await;
                match message {
                    Some(Ok(Message::Binary(raw))) => {
                        last_request = Some(last_heard);
                        in_flight.push_back(conn.on_frame(raw));
                        conn.pause_if_throttled().await;
                    }
                    Some(Ok(Message::Text(text))) => {
                        last_request = Some(last_heard);
                        let code = if conn.allowed(false, text.len()) { ErrorCode::Malformed } else { ErrorCode::RateLimited };
                        in_flight.push_back(request::reply_now(0, Err(code)));
                        conn.pause_if_throttled().await;
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
                // (Before the first request, its own deadline applies.)
                let unused = last_request.is_some_and(|t| t.elapsed() >= limits.idle_timeout);
                if unused && conn.subs.is_empty() && in_flight.is_empty() {
                    break End::Unused;
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
    tracing::debug!(conn = id, reason = ?end, "closed");
    let goodbye = match end {
        End::Slow => {
            conn.unsubscribe_all();
            metrics.slow_disconnects.inc();
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
        End::Shutdown | End::Idle | End::NoRequest | End::Unused | End::Oversized | End::Banned => {
            drain(&mut conn, &mut in_flight).await;
            conn.unsubscribe_all();
            if end == End::Oversized {
                conn.send_frame(answer(0, Err(ErrorCode::FrameTooLarge)))
                    .await;
            }
            if matches!(end, End::NoRequest | End::Unused) {
                metrics.idle_closed.inc();
            }
            if matches!(end, End::NoRequest | End::Oversized) {
                conn.shared.offence(conn.ip);
            }
            let (code, reason) = match end {
                End::Shutdown => (CloseCode::Away, "relay shutting down"),
                End::Idle => (CloseCode::Normal, "idle timeout"),
                End::NoRequest => (CloseCode::Policy, "no request"),
                End::Unused => (CloseCode::Normal, "idle timeout: no subscription"),
                End::Banned => (CloseCode::Policy, "banned for repeated misbehaviour"),
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
    metrics.connections_open.dec();
}

/// Finishes every request already received.
async fn drain(conn: &mut Conn, in_flight: &mut FuturesOrdered<InFlight>) {
    while let Some(done) = in_flight.next().await {
        conn.finish(done).await;
    }
}

#[cfg(test)]
mod tests;
