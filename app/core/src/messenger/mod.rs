//! The messenger: one push-driven orchestration of a [`Client`] and its
//! relays, used by both `cairn-cli` and the desktop app.
//!
//! A task (the engine, `engine.rs`) owns the client. Everything that touches
//! the network runs in tasks of its own and reports back, so the engine never
//! waits on a socket:
//! - per relay that holds our mailboxes, one **inbox** connection subscribes
//!   and acks, and nothing else (`inbox.rs`);
//! - per destination mailbox (one per contact), one **sender** connection
//!   sends, opened on demand and closed when quiet (`sender.rs`);
//! - creating a mailbox uses a connection of its own, closed right after (`dial.rs`).
//!
//! So no connection both subscribes and sends, and the relay cannot link the
//! mailboxes we read with those we write to (PROTOCOL.md §2 says what it
//! still learns). A delivery is decrypted, stored and announced as soon as it
//! arrives; acks follow the commit; receipts leave at a random moment of the
//! receipt window. Front ends send requests through a [`Messenger`] handle and
//! read [`MessengerEvent`]s that say what changed.

mod dial;
mod engine;
mod error;
mod inbox;
mod lanes;
mod sender;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use cairn_protocol::relay_address::RelayAddress;
use tokio::sync::{mpsc, oneshot};

use crate::client::{Client, ClientError, ClientEvent, CreatedInvite};
use crate::store::{Contact, ContactId, MessageRecord};

pub use dial::{DialOptions, create_mailbox, dial, probe};
pub use error::{MessengerError, NetError};

/// Wall clock in Unix milliseconds (injectable for tests).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    })
}

/// How the messenger runs.
#[derive(Clone)]
pub struct MessengerConfig {
    /// How connections are opened.
    pub dial: DialOptions,
    /// Subscribe to our mailboxes and receive (a one-shot `send` turns it off).
    pub receive: bool,
    /// Deliveries stored per transaction (one fsync each).
    pub batch: usize,
    /// A conversation's sending connection closes after this long without sends.
    pub send_idle: Duration,
    /// Ack stored deliveries at the relay. Only crash-consistency tests turn
    /// this off: it behaves exactly like a process dying right after the commit.
    pub ack: bool,
    /// How often expired invites are dropped and unused mailboxes deleted.
    pub tidy_every: Duration,
    /// Time source.
    pub clock: Clock,
}

impl Default for MessengerConfig {
    fn default() -> Self {
        Self {
            dial: DialOptions::default(),
            receive: true,
            batch: 2_000,
            send_idle: Duration::from_secs(30),
            ack: true,
            tidy_every: Duration::from_secs(60),
            clock: system_clock(),
        }
    }
}

impl std::fmt::Debug for MessengerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessengerConfig")
            .field("dial", &self.dial)
            .field("receive", &self.receive)
            .field("batch", &self.batch)
            .field("send_idle", &self.send_idle)
            .field("ack", &self.ack)
            .finish_non_exhaustive()
    }
}

/// Whether a relay can be used, as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayState {
    /// Connected (inbox subscribed, or a send went through).
    Up,
    /// Unusable; the messenger tries again after `retry_in`.
    Down {
        /// Why.
        error: NetError,
        /// Until the next attempt.
        retry_in: Duration,
    },
}

/// What changed, for the front ends.
#[derive(Debug)]
pub enum MessengerEvent {
    /// Something in the profile changed (message, status, contact, integrity event).
    Client(ClientEvent),
    /// A relay became usable or unusable.
    Relay {
        /// Relay address text.
        relay: String,
        /// Its state now.
        state: RelayState,
    },
    /// Envelopes waiting for a relay's acknowledgement.
    Outbox {
        /// How many.
        queued: usize,
    },
    /// Storing received envelopes failed; they stay at the relay and come again.
    ReceiveFailed(ClientError),
}

/// The front ends' side of the event stream.
#[derive(Debug)]
pub struct Events {
    rx: mpsc::UnboundedReceiver<MessengerEvent>,
}

impl Events {
    /// The next event; `None` once the messenger has stopped.
    pub async fn recv(&mut self) -> Option<MessengerEvent> {
        self.rx.recv().await
    }

    /// An event if one is waiting; never blocks.
    pub fn try_recv(&mut self) -> Option<MessengerEvent> {
        self.rx.try_recv().ok()
    }
}

type Reply<T> = oneshot::Sender<Result<T, MessengerError>>;
type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// A request to the engine.
enum Op {
    /// Runs a closure on the client; `update` pumps the outbox afterwards.
    Run {
        job: Job,
        update: bool,
    },
    CreateInvite {
        relay: Option<RelayAddress>,
        reply: Reply<CreatedInvite>,
    },
    AcceptInvite {
        link: String,
        name: String,
        reply: Reply<Contact>,
    },
    SendTexts {
        contact: ContactId,
        texts: Vec<String>,
        reply: Reply<Vec<MessageRecord>>,
    },
    MarkRead {
        contact: ContactId,
        reply: Reply<usize>,
    },
    RevokeInvite {
        id: [u8; 32],
        reply: Reply<bool>,
    },
    ChangeHome {
        relay: RelayAddress,
        token: Option<String>,
        reply: Reply<usize>,
    },
    /// Internal: a sealed invite was published or fetched (or not).
    Invite(Box<engine::InviteStep>),
    /// Internal: the new home relay holds the conversations' new mailboxes (or not).
    HomeReady(Box<engine::HomeReady>),
    WaitSent {
        receipts: bool,
        reply: oneshot::Sender<Result<(), NetError>>,
    },
    WaitReceived {
        quiet: Duration,
        wait: Duration,
        reply: oneshot::Sender<usize>,
    },
    Stop {
        reply: oneshot::Sender<Client>,
    },
    /// Internal: a mailbox a request needed exists at its relay now (or not).
    MailboxReady(Box<engine::Pending>),
}

/// A handle on a running messenger; clone it freely.
#[derive(Clone, Debug)]
pub struct Messenger {
    ops: mpsc::UnboundedSender<Op>,
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Op")
    }
}

impl Messenger {
    /// Starts the messenger on the current tokio runtime. It runs until
    /// [`Messenger::stop`] or until every handle is dropped.
    pub fn start(client: Client, config: MessengerConfig) -> (Self, Events) {
        let (ops, ops_rx) = mpsc::unbounded_channel();
        let (events, rx) = mpsc::unbounded_channel();
        tokio::spawn(engine::Engine::new(client, config, ops.clone(), events).run(ops_rx));
        (Self { ops }, Events { rx })
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Op) -> Result<T, MessengerError> {
        let (tx, rx) = oneshot::channel();
        self.ops
            .send(make(tx))
            .map_err(|_| MessengerError::Stopped)?;
        rx.await.map_err(|_| MessengerError::Stopped)?
    }

    async fn run<R: Send + 'static>(
        &self,
        update: bool,
        f: impl FnOnce(&mut Client) -> R + Send + 'static,
    ) -> Result<R, MessengerError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |client| {
            let _ = tx.send(f(client));
        });
        self.ops
            .send(Op::Run { job, update })
            .map_err(|_| MessengerError::Stopped)?;
        rx.await.map_err(|_| MessengerError::Stopped)
    }

    /// Reads from the client (pages, summaries, search ...).
    pub async fn query<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Client) -> R + Send + 'static,
    ) -> Result<R, MessengerError> {
        self.run(false, move |c| f(c)).await
    }

    /// Changes the client (verify, rename, rotate identity ...); whatever it
    /// queued for sending goes out right after.
    pub async fn update<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> R + Send + 'static,
    ) -> Result<R, MessengerError> {
        self.run(true, f).await
    }

    /// Creates an invite whose mailbox lives on `relay` (the home relay if `None`).
    pub async fn create_invite(
        &self,
        relay: Option<RelayAddress>,
    ) -> Result<CreatedInvite, MessengerError> {
        self.ask(|reply| Op::CreateInvite { relay, reply }).await
    }

    /// Accepts an invite link, naming the inviter `name`.
    pub async fn accept_invite(&self, link: &str, name: &str) -> Result<Contact, MessengerError> {
        let (link, name) = (link.to_owned(), name.to_owned());
        self.ask(|reply| Op::AcceptInvite { link, name, reply })
            .await
    }

    /// Seals texts to `contact` in order and sends them at once; returns the
    /// stored records (status `pending` until the relay acknowledges).
    pub async fn send_texts(
        &self,
        contact: ContactId,
        texts: Vec<String>,
    ) -> Result<Vec<MessageRecord>, MessengerError> {
        self.ask(|reply| Op::SendTexts {
            contact,
            texts,
            reply,
        })
        .await
    }

    /// Withdraws an unused invite and deletes its mailboxes at the relay now
    /// (`Client::revoke_invite`); false if it was no longer open.
    pub async fn revoke_invite(&self, id: [u8; 32]) -> Result<bool, MessengerError> {
        self.ask(|reply| Op::RevokeInvite { id, reply }).await
    }

    /// Makes `relay` the home relay and moves every conversation from the
    /// old home relay there, each with a signed mailbox move its contact
    /// follows (`Client::change_home_relay`). The new mailboxes are created
    /// at `relay` first (with `access_token`, if it needs one): if that
    /// fails — unreachable, wrong pin, token refused — nothing changes.
    /// Resolves once the moves are queued (`wait_sent` sends them); returns
    /// how many conversations move (those in the middle of another move
    /// follow when it ends).
    pub async fn change_home_relay(
        &self,
        relay: RelayAddress,
        access_token: Option<String>,
    ) -> Result<usize, MessengerError> {
        self.ask(|reply| Op::ChangeHome {
            relay,
            token: access_token,
            reply,
        })
        .await
    }

    /// The user looked at the conversation: mark it read (read receipts follow).
    pub async fn mark_read(&self, contact: ContactId) -> Result<usize, MessengerError> {
        self.ask(|reply| Op::MarkRead { contact, reply }).await
    }

    /// Resolves once nothing due is queued or in flight (and, with
    /// `receipts`, no receipt is waiting for its moment): `Err` with the last
    /// relay error if envelopes are still queued for a retry.
    pub async fn wait_sent(&self, receipts: bool) -> Result<(), MessengerError> {
        let (tx, rx) = oneshot::channel();
        self.ops
            .send(Op::WaitSent {
                receipts,
                reply: tx,
            })
            .map_err(|_| MessengerError::Stopped)?;
        Ok(rx.await.map_err(|_| MessengerError::Stopped)??)
    }

    /// Resolves once every inbox connection has been tried and nothing arrived
    /// for `quiet`, and either something new arrived or `wait` has passed;
    /// returns how many new messages arrived meanwhile.
    pub async fn wait_received(
        &self,
        quiet: Duration,
        wait: Duration,
    ) -> Result<usize, MessengerError> {
        let (tx, rx) = oneshot::channel();
        self.ops
            .send(Op::WaitReceived {
                quiet,
                wait,
                reply: tx,
            })
            .map_err(|_| MessengerError::Stopped)?;
        rx.await.map_err(|_| MessengerError::Stopped)
    }

    /// Stops every connection and hands the client back.
    pub async fn stop(self) -> Result<Client, MessengerError> {
        let (tx, rx) = oneshot::channel();
        self.ops
            .send(Op::Stop { reply: tx })
            .map_err(|_| MessengerError::Stopped)?;
        rx.await.map_err(|_| MessengerError::Stopped)
    }
}
