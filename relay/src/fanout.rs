//! Cross-instance live delivery, behind one small interface.
//!
//! A single relay delivers to online subscribers through its in-process hub
//! alone. When several instances share one store, a recipient may be
//! connected to instance A while the sender's envelope arrives at instance
//! B. A [`Fanout`] carries envelopes stored by *any* instance to the
//! instances that have local subscribers for the mailbox: the relay tells it
//! which mailboxes to [`watch`](Fanout::watch), and it hands every envelope
//! published for them to the sink given in [`attach`](Fanout::attach).
//!
//! Contract: the store publishes each stored (non-duplicate) envelope itself,
//! as part of the append; the fan-out delivers it to
//! every instance watching the mailbox, *including the one that stored it*,
//! so a relay with a fan-out never pushes locally on its own. Pushes for one
//! mailbox arrive in storage order. When the fan-out loses its connection it
//! reports [`FanoutEvent::Lost`]: pushes may have been missed, so the relay
//! disconnects its subscribers, who reconnect and read the backlog from the
//! store. Nothing is lost, only delayed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use cairn_protocol::envelope::{MailboxId, MessageId};

/// Resolves once pushes for a watched mailbox are flowing.
pub type WatchFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// An envelope stored by some instance.
#[derive(Debug, Clone)]
pub struct LivePush {
    /// Mailbox it was stored in.
    pub mailbox: MailboxId,
    /// Its message id (subscribers drop what their backlog already sent).
    pub message: MessageId,
    /// The envelope as sent.
    pub envelope: Bytes,
}

/// What a fan-out reports.
#[derive(Debug, Clone)]
pub enum FanoutEvent {
    /// A stored envelope for a watched mailbox.
    Push(LivePush),
    /// The connection to the bus dropped: pushes may have been missed.
    Lost,
    /// Watching this mailbox failed: its subscribers would miss pushes.
    Unwatched(MailboxId),
    /// The mailbox was deleted (through any instance): its subscriptions end.
    Deleted(MailboxId),
}

/// Where a fan-out sends its events; called on the fan-out's own task, must not block.
pub type FanoutSink = Arc<dyn Fn(FanoutEvent) + Send + Sync>;

/// Delivery of stored envelopes to every relay instance that has subscribers.
pub trait Fanout: Send + Sync + 'static {
    /// Sets where events go (called once, before any `watch`).
    fn attach(&self, sink: FanoutSink);

    /// Starts receiving pushes for `mailbox`. The request is queued when this
    /// is called (so watch/unwatch keep their order); the future resolves
    /// when pushes are flowing.
    fn watch(&self, mailbox: MailboxId) -> WatchFuture;

    /// Stops receiving pushes for `mailbox`.
    fn unwatch(&self, mailbox: MailboxId);
}
