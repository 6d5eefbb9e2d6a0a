//! A connected client: request/answer matching by request id, a reader
//! task routing answers and deliveries, and a writer task batching frames.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cairn_protocol::envelope::{Envelope, MailboxId, MessageId};
use cairn_protocol::frames::{
    AckEntries, ClientFrame, ClientRequest, ErrorCode, FrameError, MAX_ACK_BATCH, NONCE_LEN,
    QUIET_REQUEST_ID, RelayFrame, RelayStats, SEND_KEY_LEN, SendKey, delete_signing_bytes,
    subscribe_signing_bytes,
};
use cairn_protocol::relay_address::RelayAddress;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use super::ConnectOptions;
use super::error::ClientError;
use super::transport::{RelaySocket, connect_websocket};

/// Frames queued towards the relay before callers wait.
const OUTBOUND_QUEUE: usize = 1024;

/// An envelope pushed by the relay from a subscribed mailbox.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Mailbox it came from (read from the envelope).
    pub mailbox: MailboxId,
    /// Message id: the ack handle and the dedupe key (delivery is at-least-once).
    pub message: MessageId,
    /// The envelope exactly as stored.
    pub envelope: Bytes,
}

/// What a subscribed connection receives unasked.
#[derive(Debug, Clone)]
pub enum Incoming {
    /// An envelope.
    Delivery(Delivery),
    /// The mailbox was deleted (by its owner, maybe on another connection)
    /// or purged by the relay's admin: its subscription is over.
    SubscriptionEnded(MailboxId),
}

/// Receiving end of the deliveries of one connection; ends when the connection
/// closes (after everything already received has been taken).
pub struct Deliveries {
    rx: mpsc::UnboundedReceiver<Incoming>,
    buffered: Arc<AtomicUsize>,
}

impl Deliveries {
    /// The next delivery or ended subscription, or `None` once the connection is closed.
    pub async fn next(&mut self) -> Option<Incoming> {
        let incoming = self.rx.recv().await?;
        self.taken(&incoming);
        Some(incoming)
    }

    /// The next delivery, or `None` once the connection is closed; ended
    /// subscriptions are logged and skipped (see [`Deliveries::next`]).
    pub async fn recv(&mut self) -> Option<Delivery> {
        loop {
            match self.next().await? {
                Incoming::Delivery(d) => return Some(d),
                Incoming::SubscriptionEnded(mailbox) => ended(&mailbox),
            }
        }
    }

    /// What is already buffered, if anything (see [`Deliveries::next`]).
    pub fn try_next(&mut self) -> Option<Incoming> {
        let incoming = self.rx.try_recv().ok()?;
        self.taken(&incoming);
        Some(incoming)
    }

    /// A delivery if one is already buffered (ended subscriptions skipped, as by `recv`).
    pub fn try_recv(&mut self) -> Option<Delivery> {
        loop {
            let incoming = self.rx.try_recv().ok()?;
            self.taken(&incoming);
            match incoming {
                Incoming::Delivery(d) => return Some(d),
                Incoming::SubscriptionEnded(mailbox) => ended(&mailbox),
            }
        }
    }

    fn taken(&self, incoming: &Incoming) {
        if let Incoming::Delivery(d) = incoming {
            self.buffered.fetch_sub(d.envelope.len(), Ordering::AcqRel);
        }
    }
}

/// Logs a subscription the relay ended (never the mailbox id itself).
fn ended(_mailbox: &MailboxId) {
    tracing::warn!("the relay ended a subscription: its mailbox was deleted or purged");
}

/// The reader's side of [`Deliveries`]: never blocks, refuses past the byte bound.
struct DeliverySink {
    tx: mpsc::UnboundedSender<Incoming>,
    buffered: Arc<AtomicUsize>,
    limit: usize,
}

impl DeliverySink {
    /// Queues a delivery; `false` if the application is too far behind (the
    /// connection should close) — a dropped receiver just discards it.
    fn push(&self, delivery: Delivery) -> bool {
        let len = delivery.envelope.len();
        if self.buffered.load(Ordering::Acquire) + len > self.limit {
            return false;
        }
        self.buffered.fetch_add(len, Ordering::AcqRel);
        if self.tx.send(Incoming::Delivery(delivery)).is_err() {
            self.buffered.fetch_sub(len, Ordering::AcqRel);
        }
        true
    }
}

enum Answer {
    Ok,
    Stats(RelayStats),
    Refused(ErrorCode, String),
}

type Pending = Arc<Mutex<HashMap<u32, oneshot::Sender<Answer>>>>;

struct Inner {
    out: mpsc::Sender<Message>,
    pending: Pending,
    next_id: AtomicU32,
    nonce: [u8; NONCE_LEN],
    server: String,
    closed: Arc<AtomicBool>,
}

/// A connection to one relay. Clone it freely; all clones share the connection.
#[derive(Clone)]
pub struct RelayClient {
    inner: Arc<Inner>,
}

/// Removes a pending entry if the request future is dropped early.
struct PendingGuard<'a> {
    pending: &'a Pending,
    id: u32,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&self.id);
        }
    }
}

impl RelayClient {
    /// Connects (pin enforced for `wss://`; `ws://` only to loopback, see
    /// [`RelayAddress::check_transport`]), reads the relay's challenge and
    /// starts the background tasks. Returns the client and its deliveries.
    pub async fn connect(
        address: &RelayAddress,
        options: ConnectOptions,
    ) -> Result<(Self, Deliveries), ClientError> {
        let ws = connect_websocket(address, options.timeout).await?;
        let (sink, mut stream) = ws.split();
        let first = tokio::time::timeout(options.timeout, stream.next())
            .await
            .map_err(|_| ClientError::Timeout)?;
        let (nonce, server) = match first {
            Some(Ok(Message::Binary(raw))) => match RelayFrame::decode(&raw) {
                Ok((_, RelayFrame::Challenge { nonce, server })) => (nonce, server.to_owned()),
                Ok(_) => return Err(ClientError::Protocol("expected a challenge".into())),
                Err(e) => return Err(ClientError::Protocol(e.to_string())),
            },
            Some(Ok(_)) => return Err(ClientError::Protocol("expected a binary frame".into())),
            Some(Err(_)) | None => return Err(ClientError::Closed),
        };
        let (out, out_rx) = mpsc::channel(OUTBOUND_QUEUE);
        let (deliver_tx, deliver_rx) = mpsc::unbounded_channel();
        let buffered = Arc::new(AtomicUsize::new(0));
        let delivery_sink = DeliverySink {
            tx: deliver_tx,
            buffered: Arc::clone(&buffered),
            limit: options.delivery_buffer.max(1),
        };
        let pending: Pending = Arc::default();
        let closed = Arc::new(AtomicBool::new(false));
        tokio::spawn(write_loop(sink, out_rx));
        tokio::spawn(read_loop(
            stream,
            Arc::clone(&pending),
            delivery_sink,
            Arc::clone(&closed),
        ));
        let inner = Inner {
            out,
            pending,
            next_id: AtomicU32::new(1),
            nonce,
            server,
            closed,
        };
        Ok((
            Self {
                inner: Arc::new(inner),
            },
            Deliveries {
                rx: deliver_rx,
                buffered,
            },
        ))
    }

    /// The relay's software name and version from its challenge.
    pub fn server(&self) -> &str {
        &self.inner.server
    }

    /// True once the connection has closed; every further call fails with `Closed`.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    /// Registers a mailbox under `mailbox` (choose 32 random bytes) with its auth key.
    pub async fn create_mailbox(
        &self,
        mailbox: MailboxId,
        auth_key: &VerifyingKey,
        access_token: Option<&str>,
    ) -> Result<(), ClientError> {
        self.call(ClientFrame::CreateMailbox {
            mailbox,
            auth_key: auth_key.to_bytes(),
            access_token: access_token.map(str::as_bytes),
        })
        .await
        .map(drop)
    }

    /// Registers a send-locked mailbox: like [`create_mailbox`], but the
    /// relay then stores only envelopes sent with [`send_locked`] and the key
    /// whose SHA-256 is `send_lock` ([`SendKey::lock`]); a plain `send` or a
    /// wrong key is refused with `SendKeyRefused` (PROTOCOL.md §18.3). Give
    /// the key to the one contact who sends here; keep only the lock.
    ///
    /// [`create_mailbox`]: Self::create_mailbox
    /// [`send_locked`]: Self::send_locked
    pub async fn create_locked_mailbox(
        &self,
        mailbox: MailboxId,
        auth_key: &VerifyingKey,
        send_lock: &[u8; SEND_KEY_LEN],
        access_token: Option<&str>,
    ) -> Result<(), ClientError> {
        self.call(ClientFrame::CreateLockedMailbox {
            mailbox,
            auth_key: auth_key.to_bytes(),
            send_lock: *send_lock,
            access_token: access_token.map(str::as_bytes),
        })
        .await
        .map(drop)
    }

    /// Like [`send`](Self::send), presenting the mailbox's send key. Works for
    /// open mailboxes too (the relay ignores the key there), so a client may
    /// always send with the key it holds. The encoded frame carrying the key
    /// is handed to the socket and not zeroized afterwards; the caller's
    /// [`SendKey`] is.
    pub async fn send_locked(
        &self,
        send_key: &SendKey,
        envelope: Bytes,
    ) -> Result<(), ClientError> {
        self.call(ClientFrame::SendLocked {
            send_key: send_key.as_bytes(),
            envelope: &envelope,
        })
        .await
        .map(drop)
    }

    /// Stores an envelope in the mailbox it names. Resolves once the relay
    /// has stored it durably; on `Closed` resend it (same id, stored once).
    pub async fn send(&self, envelope: Bytes) -> Result<(), ClientError> {
        self.call(ClientFrame::Send {
            envelope: &envelope,
        })
        .await
        .map(drop)
    }

    /// Sends many envelopes pipelined on this connection, one result each
    /// in the same order. Every frame is queued in slice order before any
    /// answer is awaited, so the relay stores them, and later delivers them,
    /// in that order. Do not get the same effect by polling many [`send`]
    /// futures together (`join_all`): the order in which those first run,
    /// and so queue their frames, is not guaranteed.
    ///
    /// [`send`]: Self::send
    pub async fn send_many(&self, envelopes: &[Bytes]) -> Vec<Result<(), ClientError>> {
        self.send_pipelined(envelopes.iter().map(|e| (None, e)))
            .await
    }

    /// Like [`send_many`](Self::send_many), each envelope with the send key
    /// of its mailbox where it has one (sent as `SendLocked`, a plain `Send`
    /// otherwise): a sender writing to several mailboxes, locked and open,
    /// keeps one order for all of them.
    pub async fn send_many_keyed(
        &self,
        sends: &[(Option<&SendKey>, Bytes)],
    ) -> Vec<Result<(), ClientError>> {
        self.send_pipelined(sends.iter().map(|(k, e)| (*k, e)))
            .await
    }

    async fn send_pipelined<'a>(
        &self,
        sends: impl ExactSizeIterator<Item = (Option<&'a SendKey>, &'a Bytes)>,
    ) -> Vec<Result<(), ClientError>> {
        let mut queued = Vec::with_capacity(sends.len());
        for (key, envelope) in sends {
            let frame = match key {
                Some(key) => ClientFrame::SendLocked {
                    send_key: key.as_bytes(),
                    envelope,
                },
                None => ClientFrame::Send { envelope },
            };
            // Once one cannot be queued (closed) the rest fail too, in order.
            let result = match queued.last() {
                Some(Err(_)) => Err(ClientError::Closed),
                _ => self.enqueue(frame).await,
            };
            queued.push(result);
        }
        let mut results = Vec::with_capacity(queued.len());
        for q in queued {
            results.push(match q {
                Ok(q) => q.answer().await.map(drop),
                Err(e) => Err(e),
            });
        }
        results
    }

    /// Proves the mailbox auth key; the relay then pushes the stored backlog
    /// and every new envelope on [`Deliveries`].
    pub async fn subscribe(
        &self,
        mailbox: MailboxId,
        auth_key: &SigningKey,
    ) -> Result<(), ClientError> {
        let signature = auth_key.sign(&subscribe_signing_bytes(&self.inner.nonce, &mailbox));
        self.call(ClientFrame::Subscribe {
            mailbox,
            signature: signature.to_bytes(),
        })
        .await
        .map(drop)
    }

    /// Stops live delivery from a mailbox on this connection.
    pub async fn unsubscribe(&self, mailbox: MailboxId) -> Result<(), ClientError> {
        self.call(ClientFrame::Unsubscribe { mailbox })
            .await
            .map(drop)
    }

    /// Tells the relay a delivered envelope is safely stored here; it is deleted there.
    pub async fn ack(&self, mailbox: MailboxId, message: MessageId) -> Result<(), ClientError> {
        self.call(ClientFrame::Ack { mailbox, message })
            .await
            .map(drop)
    }

    /// Acks many deliveries with one frame per [`MAX_ACK_BATCH`] of them
    /// (one answer, one rate-limit token each): what a recipient draining a
    /// busy mailbox should use. Empty input does nothing.
    pub async fn ack_many(&self, acks: &[(MailboxId, MessageId)]) -> Result<(), ClientError> {
        for chunk in acks.chunks(MAX_ACK_BATCH) {
            let encoded = encode_acks(chunk)?;
            let entries = AckEntries::new(&encoded).ok_or_else(ack_bounds)?;
            self.call(ClientFrame::AckBatch { entries }).await?;
        }
        Ok(())
    }

    /// Acks without waiting for an answer: the frames carry
    /// [`QUIET_REQUEST_ID`], so the relay writes nothing back unless it
    /// refuses (then it logs here, and the envelopes stay stored and come
    /// again). Resolves once the frames are queued, in order with every other
    /// request on this connection. It saves the relay a write and us a read
    /// per batch; a recipient about to close or exit should use
    /// [`ack_many`](Self::ack_many), whose answer proves the ack arrived (a
    /// quiet ack still queued at exit is lost, and the envelopes come again).
    pub async fn ack_quiet(&self, acks: &[(MailboxId, MessageId)]) -> Result<(), ClientError> {
        for chunk in acks.chunks(MAX_ACK_BATCH) {
            let encoded = encode_acks(chunk)?;
            let entries = AckEntries::new(&encoded).ok_or_else(ack_bounds)?;
            self.write(ClientRequest {
                request_id: QUIET_REQUEST_ID,
                frame: ClientFrame::AckBatch { entries },
            })
            .await?;
        }
        Ok(())
    }

    /// Deletes a mailbox and everything in it.
    pub async fn delete_mailbox(
        &self,
        mailbox: MailboxId,
        auth_key: &SigningKey,
    ) -> Result<(), ClientError> {
        let signature = auth_key.sign(&delete_signing_bytes(&self.inner.nonce, &mailbox));
        self.call(ClientFrame::DeleteMailbox {
            mailbox,
            signature: signature.to_bytes(),
        })
        .await
        .map(drop)
    }

    /// Relay-wide counters (admin token).
    pub async fn stats(&self, admin_token: &str) -> Result<RelayStats, ClientError> {
        match self
            .call(ClientFrame::Stats {
                admin_token: admin_token.as_bytes(),
            })
            .await?
        {
            Answer::Stats(stats) => Ok(stats),
            _ => Err(ClientError::Protocol("expected a stats answer".into())),
        }
    }

    /// Deletes a mailbox without its key (admin token), e.g. to stop abuse.
    pub async fn purge(&self, admin_token: &str, mailbox: MailboxId) -> Result<(), ClientError> {
        self.call(ClientFrame::Purge {
            admin_token: admin_token.as_bytes(),
            mailbox,
        })
        .await
        .map(drop)
    }

    /// Closes the connection politely. Pending calls fail with `Closed`.
    pub async fn close(&self) {
        let _ = self.inner.out.send(Message::Close(None)).await;
    }

    async fn call(&self, frame: ClientFrame<'_>) -> Result<Answer, ClientError> {
        self.enqueue(frame).await?.answer().await
    }

    /// Queues a request frame towards the relay; the answer is awaited separately.
    async fn enqueue(&self, frame: ClientFrame<'_>) -> Result<Queued<'_>, ClientError> {
        if self.is_closed() {
            return Err(ClientError::Closed);
        }
        let mut id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        if id == QUIET_REQUEST_ID {
            id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        }
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.inner.pending.lock() {
            p.insert(id, tx);
        }
        let guard = PendingGuard {
            pending: &self.inner.pending,
            id,
        };
        // The reader marks the connection closed before clearing `pending`:
        // checking again after inserting (in `write`) means no call can wait forever.
        self.write(ClientRequest {
            request_id: id,
            frame,
        })
        .await?;
        Ok(Queued { rx, _guard: guard })
    }

    /// Queues one encoded request for the writer task.
    async fn write(&self, request: ClientRequest<'_>) -> Result<(), ClientError> {
        if self.is_closed() {
            return Err(ClientError::Closed);
        }
        self.inner
            .out
            .send(Message::Binary(Bytes::from(request.encode())))
            .await
            .map_err(|_| ClientError::Closed)
    }
}

fn encode_acks(acks: &[(MailboxId, MessageId)]) -> Result<Vec<u8>, ClientError> {
    AckEntries::encode(acks).ok_or_else(ack_bounds)
}

fn ack_bounds() -> ClientError {
    ClientError::Protocol("ack batch out of bounds".into())
}

/// A request whose frame is queued, waiting for its answer.
struct Queued<'a> {
    rx: oneshot::Receiver<Answer>,
    _guard: PendingGuard<'a>,
}

impl Queued<'_> {
    async fn answer(self) -> Result<Answer, ClientError> {
        match self.rx.await.map_err(|_| ClientError::Closed)? {
            Answer::Refused(code, message) => Err(ClientError::Refused { code, message }),
            answer => Ok(answer),
        }
    }
}

async fn write_loop(mut sink: SplitSink<RelaySocket, Message>, mut queue: mpsc::Receiver<Message>) {
    while let Some(first) = queue.recv().await {
        let mut closing = matches!(first, Message::Close(_));
        if sink.feed(first).await.is_err() {
            return;
        }
        let mut burst = 1;
        while !closing && burst < 256 {
            let Ok(next) = queue.try_recv() else { break };
            closing = matches!(next, Message::Close(_));
            burst += 1;
            if sink.feed(next).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() || closing {
            break;
        }
    }
    let _ = sink.close().await;
}

async fn read_loop(
    mut stream: SplitStream<RelaySocket>,
    pending: Pending,
    deliveries: DeliverySink,
    closed: Arc<AtomicBool>,
) {
    while let Some(message) = stream.next().await {
        let raw = match message {
            Ok(Message::Binary(raw)) => raw,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let (id, frame) = match RelayFrame::decode(&raw) {
            Ok(decoded) => decoded,
            // A newer relay's frame (PROTOCOL.md §18.2: clients ignore unknown types).
            Err(FrameError::UnknownType(kind)) => {
                tracing::debug!(kind, "relay frame of an unknown type ignored");
                continue;
            }
            Err(_) => {
                tracing::warn!("undecodable frame from relay; closing");
                break;
            }
        };
        let answer = match frame {
            RelayFrame::Deliver { envelope } => {
                let Ok(parsed) = Envelope::parse(envelope) else {
                    tracing::warn!("relay delivered an invalid envelope; ignored");
                    continue;
                };
                let delivery = Delivery {
                    mailbox: parsed.mailbox,
                    message: parsed.id,
                    envelope: raw.slice_ref(envelope),
                };
                if !deliveries.push(delivery) {
                    tracing::warn!(
                        "deliveries not taken: over the buffer bound; closing (they stay stored)"
                    );
                    break;
                }
                continue;
            }
            RelayFrame::Ok => Answer::Ok,
            RelayFrame::Stats(stats) => Answer::Stats(stats),
            RelayFrame::Error { code, message } => Answer::Refused(code, message.to_owned()),
            RelayFrame::Challenge { .. } => continue,
            RelayFrame::SubscriptionEnded { mailbox } => {
                let _ = deliveries
                    .tx
                    .send(Incoming::SubscriptionEnded(MailboxId(mailbox)));
                continue;
            }
        };
        let waiter = pending.lock().ok().and_then(|mut p| p.remove(&id));
        match waiter {
            Some(tx) => {
                let _ = tx.send(answer);
            }
            None if id == QUIET_REQUEST_ID => {
                if let Answer::Refused(code, message) = answer {
                    tracing::warn!(%code, message, "relay refused a quiet ack or the connection");
                }
            }
            None => {}
        }
    }
    closed.store(true, Ordering::Release);
    // Dropping the senders fails every pending call with `Closed`.
    if let Ok(mut p) = pending.lock() {
        p.clear();
    }
}
