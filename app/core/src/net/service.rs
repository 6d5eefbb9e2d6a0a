//! The background service the desktop app runs: commands in, events out.
//!
//! The UI never touches the database or a socket. It sends [`Command`]s over
//! a channel; one task owns the [`Client`] and a [`Syncer`], executes each
//! command, keeps syncing (live receive every `poll`, reconnecting with
//! exponential backoff when relays fail) and reports [`ServiceEvent`]s,
//! calling `wake` after each batch so the UI can request a repaint.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use super::{Connector, NetError, SyncOptions, Syncer};
use crate::client::{Client, ClientEvent};
use crate::store::{Contact, MessageRecord};

/// A request from the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send a text to a contact.
    SendText {
        /// Contact name.
        contact: String,
        /// Text.
        text: String,
    },
    /// Create an invite link.
    CreateInvite,
    /// Accept someone's invite link.
    AcceptInvite {
        /// The `cairn:` link.
        uri: String,
        /// Local name for the inviter.
        name: String,
    },
    /// The user looked at a conversation: mark it read, send read receipts.
    MarkRead {
        /// Contact name.
        contact: String,
    },
    /// Mark a contact verified if the digits match.
    Verify {
        /// Contact name.
        contact: String,
        /// Safety number as typed or scanned.
        digits: String,
    },
    /// Accept a contact's new identity key.
    AcceptKeyChange {
        /// Contact name.
        contact: String,
    },
    /// Sync now instead of at the next tick.
    SyncNow,
    /// Stop the service (the `Client` is returned from [`run`]).
    Shutdown,
}

/// What the service reports to the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceEvent {
    /// Something the client produced (new message, receipt, integrity event ...).
    Client(ClientEvent),
    /// An invite link is ready to share.
    InviteCreated {
        /// The link.
        uri: String,
    },
    /// We accepted an invite; the contact exists now.
    ContactAccepted {
        /// The new contact.
        contact: Contact,
    },
    /// A message was sealed and queued (shown as pending right away).
    MessageQueued {
        /// Contact name.
        contact: String,
        /// The stored message.
        message: MessageRecord,
    },
    /// A command or a sync failed; the text is fit to show.
    Failed {
        /// Which operation.
        what: &'static str,
        /// Why.
        error: String,
    },
    /// A relay could not be used; the service retries after `retry_in`.
    RelayProblem {
        /// The error.
        error: NetError,
        /// Backoff before the next attempt.
        retry_in: Duration,
    },
    /// Something changed in the contact list or a contact (verified, key accepted).
    ContactsChanged,
}

/// Service tuning and hooks.
#[derive(Clone)]
pub struct ServiceOptions {
    /// Interval between sync rounds while everything works.
    pub poll: Duration,
    /// Longest backoff after relay failures.
    pub max_backoff: Duration,
    /// Options for each round.
    pub sync: SyncOptions,
    /// Wall clock in Unix milliseconds (injectable for tests).
    pub clock: Arc<dyn Fn() -> u64 + Send + Sync>,
    /// Called after events were sent (e.g. `egui::Context::request_repaint`).
    pub wake: Arc<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for ServiceOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceOptions")
            .field("poll", &self.poll)
            .field("max_backoff", &self.max_backoff)
            .finish_non_exhaustive()
    }
}

impl Default for ServiceOptions {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(250),
            max_backoff: Duration::from_secs(60),
            sync: SyncOptions {
                idle: Duration::from_millis(30),
                ..SyncOptions::default()
            },
            clock: Arc::new(system_ms),
            wake: Arc::new(|| {}),
        }
    }
}

fn system_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Runs until [`Command::Shutdown`] or until the command channel closes; returns the client.
pub async fn run<C: Connector>(
    mut client: Client,
    connector: C,
    opts: ServiceOptions,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::UnboundedSender<ServiceEvent>,
) -> Client {
    let mut syncer = Syncer::new(connector, opts.sync.clone());
    let clock = Arc::clone(&opts.clock);
    let now = move || clock();
    let emit = |batch: Vec<ServiceEvent>| {
        if !batch.is_empty() {
            for e in batch {
                let _ = events.send(e);
            }
            (opts.wake)();
        }
    };
    let mut backoff = Duration::ZERO;
    let mut next_sync = Instant::now();
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else { break };
                if command == Command::Shutdown {
                    break;
                }
                emit(execute(&mut client, &mut syncer, command, &now).await);
                if backoff.is_zero() {
                    next_sync = Instant::now();
                }
            }
            () = sleep_until(next_sync) => {
                let mut out = Vec::new();
                match syncer.sync(&mut client, &now).await {
                    Ok(report) => {
                        out.extend(report.events.into_iter().map(ServiceEvent::Client));
                        if report.errors.is_empty() {
                            backoff = Duration::ZERO;
                        } else {
                            backoff = (backoff * 2).clamp(Duration::from_secs(1), opts.max_backoff);
                            out.extend(report.errors.into_iter().map(|error| ServiceEvent::RelayProblem {
                                error,
                                retry_in: backoff,
                            }));
                        }
                    }
                    Err(e) => {
                        backoff = (backoff * 2).clamp(Duration::from_secs(1), opts.max_backoff);
                        out.push(ServiceEvent::Failed { what: "sync", error: e.to_string() });
                    }
                }
                next_sync = Instant::now() + opts.poll.max(backoff);
                emit(out);
            }
        }
    }
    client
}

async fn execute<C: Connector>(
    client: &mut Client,
    syncer: &mut Syncer<C>,
    command: Command,
    now: &(dyn Fn() -> u64 + Send + Sync),
) -> Vec<ServiceEvent> {
    let failed = |what: &'static str, error: String| vec![ServiceEvent::Failed { what, error }];
    match command {
        Command::SendText { contact, text } => match client.send_text(&contact, &text, now()) {
            Ok(message) => vec![ServiceEvent::MessageQueued { contact, message }],
            Err(e) => failed("send", e.to_string()),
        },
        Command::CreateInvite => {
            let mailbox = client.mint_mailbox();
            if let Err(e) = syncer.create_mailbox(&mailbox).await {
                return failed("invite", e.to_string());
            }
            match client.create_invite(&mailbox, now()) {
                Ok(invite) => vec![ServiceEvent::InviteCreated { uri: invite.uri }],
                Err(e) => failed("invite", e.to_string()),
            }
        }
        Command::AcceptInvite { uri, name } => {
            let invite = match client.parse_invite(uri.trim(), now()) {
                Ok(i) => i,
                Err(e) => return failed("accept", e.to_string()),
            };
            let mailbox = client.mint_mailbox();
            if let Err(e) = syncer.create_mailbox(&mailbox).await {
                return failed("accept", e.to_string());
            }
            match client.accept_invite(&invite, &name, &mailbox, now()) {
                Ok(contact) => vec![ServiceEvent::ContactAccepted { contact }],
                Err(e) => failed("accept", e.to_string()),
            }
        }
        Command::MarkRead { contact } => match client.mark_read(&contact, now()) {
            Ok(_) => Vec::new(),
            Err(e) => failed("mark read", e.to_string()),
        },
        Command::Verify { contact, digits } => match client.verify(&contact, &digits, now()) {
            Ok(()) => vec![ServiceEvent::ContactsChanged],
            Err(e) => failed("verify", e.to_string()),
        },
        Command::AcceptKeyChange { contact } => match client.accept_key_change(&contact, now()) {
            Ok(()) => vec![ServiceEvent::ContactsChanged],
            Err(e) => failed("accept key", e.to_string()),
        },
        Command::SyncNow | Command::Shutdown => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
