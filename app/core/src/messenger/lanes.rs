//! What the connection tasks report to the engine, and their retry pacing.

use std::time::Duration;

use cairn_protocol::envelope::MailboxId;
use cairn_relay_client::Delivery;

use super::NetError;
use crate::store::OutboxItem;

/// A report from an inbox or sender task.
pub(super) enum Report {
    /// An inbox connection is up and subscribed to every mailbox it holds.
    Up {
        /// Relay address text.
        relay: String,
    },
    /// An inbox connection failed; it is dialled again after `retry_in`.
    Down {
        /// Relay address text.
        relay: String,
        /// Why.
        error: NetError,
        /// Pause before the next attempt.
        retry_in: Duration,
    },
    /// Envelopes the relay pushed; the inbox waits for `InboxCmd::Processed`.
    Deliveries {
        /// Relay address text.
        relay: String,
        /// In arrival order.
        batch: Vec<Delivery>,
    },
    /// A mailbox we subscribe to no longer exists at its relay.
    MailboxGone {
        /// The mailbox.
        mailbox: MailboxId,
    },
    /// The outcome of deleting a mailbox at its relay.
    Deleted {
        /// The mailbox.
        mailbox: MailboxId,
        /// `Ok`, or why not.
        result: Result<(), NetError>,
    },
    /// A sender task's burst is done: one result per item, in order.
    Sent {
        /// Relay address text.
        relay: String,
        /// The items with their outcome.
        results: Vec<(OutboxItem, Result<(), NetError>)>,
    },
}

/// Exponential backoff with jitter: 1 s, 2 s, 4 s … 60 s; errors retrying
/// cannot fix (a pin mismatch) wait the longest.
#[derive(Debug, Default)]
pub(super) struct Backoff {
    failures: u32,
}

/// Longest pause between attempts.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(60);

impl Backoff {
    /// The pause before the next attempt after `error`.
    pub(super) fn next(&mut self, error: &NetError) -> Duration {
        use rand::RngExt;
        self.failures = self.failures.saturating_add(1);
        if !error.is_retryable() {
            return MAX_BACKOFF;
        }
        let base = Duration::from_millis(500u64 << self.failures.min(7)).min(MAX_BACKOFF);
        // ±20 %: many clients of one relay do not come back in lockstep.
        let jitter = rand::rng().random_range(0.8..1.2);
        base.mul_f64(jitter).min(MAX_BACKOFF)
    }

    /// A connection worked: start again from the shortest pause.
    pub(super) fn reset(&mut self) {
        self.failures = 0;
    }
}
