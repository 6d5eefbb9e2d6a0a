//! Commands that talk to relays, on the core's messenger: invite, accept,
//! send, rotate-identity, recv.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, bail};
use cairn_core::client::{Client, ClientEvent};
use cairn_core::messenger::{
    DialOptions, Events, Messenger, MessengerConfig, MessengerError, MessengerEvent, NetError,
    RelayState,
};
use cairn_core::store::{ContactId, MessageRecord};
use cairn_protocol::relay_address::RelayAddress;
use serde_json::json;

use crate::output::{self, Out};
use crate::time::now_ms;

/// Silence after which a relay's backlog is taken as drained.
const QUIET: Duration = Duration::from_millis(300);

/// What network command to run.
pub(crate) enum NetCommand {
    /// Create an invite.
    Invite,
    /// Accept `invite`, naming the inviter `name`.
    Accept {
        /// Link.
        invite: String,
        /// Local name for the inviter.
        name: String,
    },
    /// Send `texts` to `name`, in order.
    Send {
        /// Contact.
        name: String,
        /// One message each.
        texts: Vec<String>,
    },
    /// New identity key, announced to every contact.
    RotateIdentity,
    /// Move to another home relay, taking the conversations along.
    Home {
        /// The new home relay.
        relay: RelayAddress,
        /// Its access token, if it needs one.
        access_token: Option<String>,
    },
    /// Receive, waiting up to `wait` for something new; with `follow`, keep
    /// printing until interrupted.
    Recv {
        /// Seconds.
        wait: f64,
        /// Skip acks (crash simulation).
        no_ack: bool,
        /// Stay connected and print what arrives.
        follow: bool,
    },
}

/// Runs a network command on a single-threaded runtime.
pub(crate) fn run(
    out: &Out,
    client: Client,
    cmd: NetCommand,
    allow_plaintext: bool,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting async runtime")?;
    runtime.block_on(run_async(out, client, cmd, allow_plaintext))
}

/// Connects to `relay` once (TLS pin and the relay's challenge) and hangs up.
pub(crate) fn probe(relay: &RelayAddress, allow_plaintext: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting async runtime")?;
    let options = DialOptions {
        allow_plaintext_loopback: allow_plaintext,
        ..DialOptions::default()
    };
    runtime.block_on(cairn_core::messenger::probe(relay, &options))?;
    Ok(())
}

async fn run_async(
    out: &Out,
    client: Client,
    cmd: NetCommand,
    allow_plaintext: bool,
) -> anyhow::Result<()> {
    let (receive, ack) = match &cmd {
        NetCommand::Recv { wait, no_ack, .. } => {
            if !(0.0..=86_400.0).contains(wait) {
                bail!("--wait must be between 0 and 86400 seconds");
            }
            (true, !no_ack)
        }
        _ => (false, true),
    };
    let config = MessengerConfig {
        dial: DialOptions {
            allow_plaintext_loopback: allow_plaintext,
            ..DialOptions::default()
        },
        receive,
        ack,
        ..MessengerConfig::default()
    };
    let (messenger, events) = Messenger::start(client, config);
    let mut session = Session::new(out, messenger.clone(), events).await?;
    let result = session.command(cmd).await;
    messenger.stop().await?;
    result
}

/// One command's view of the messenger: the contact names to print and the
/// relays seen failing.
struct Session<'o> {
    out: &'o Out,
    messenger: Messenger,
    events: Events,
    names: HashMap<ContactId, String>,
    /// Last state per relay: a command fails if a relay it used stayed down.
    down: HashMap<String, NetError>,
}

impl<'o> Session<'o> {
    async fn new(out: &'o Out, messenger: Messenger, events: Events) -> anyhow::Result<Self> {
        let contacts = messenger.query(|c| c.contacts()).await??;
        Ok(Self {
            out,
            messenger,
            events,
            names: contacts.into_iter().map(|c| (c.id, c.name)).collect(),
            down: HashMap::new(),
        })
    }

    async fn command(&mut self, cmd: NetCommand) -> anyhow::Result<()> {
        let m = self.messenger.clone();
        match cmd {
            NetCommand::Invite => {
                let invite = m
                    .create_invite(None)
                    .await
                    .context("creating the invite mailbox on your relay")?;
                self.out.emit(
                    json!({"type": "invite", "uri": invite.uri, "expires_at": invite.expires_at}),
                    || invite.uri.clone(),
                );
            }
            NetCommand::Accept { invite, name } => {
                let contact = m.accept_invite(&invite, &name).await.map_err(|e| match e {
                    MessengerError::Net(net) => anyhow::Error::new(net).context(
                        "accepting the invite (fetching it from the inviter's relay, then \
                         creating your reply mailbox on yours)",
                    ),
                    other => other.into(),
                })?;
                self.names.insert(contact.id, contact.name.clone());
                self.out.emit(output::contact_json(&contact), || {
                    format!(
                        "{} added; the handshake completes when they next receive",
                        contact.name
                    )
                });
                let sent = m.wait_sent(false).await;
                self.drain_events();
                self.finish(sent).await?;
            }
            NetCommand::Send { name, texts } => {
                let contact = m.query(move |c| c.contact_named(&name)).await??;
                let mut sent = m.send_texts(contact.id, texts).await?;
                let result = m.wait_sent(false).await;
                // The relay's acks arrive as status events: apply them.
                while let Some(event) = self.events.try_recv() {
                    if let MessengerEvent::Client(ClientEvent::StatusChanged {
                        contact: id,
                        counters,
                        status,
                    }) = &event
                        && *id == contact.id
                    {
                        for record in sent.iter_mut().filter(|r| counters.contains(&r.counter)) {
                            record.status = record.status.max(*status);
                        }
                    }
                    self.note(&event);
                }
                for message in &sent {
                    self.print_message(&contact.name, message);
                }
                self.finish(result).await?;
            }
            NetCommand::Home {
                relay,
                access_token,
            } => {
                let address = relay.to_string();
                let moving = m
                    .change_home_relay(relay, access_token)
                    .await
                    .with_context(|| format!("moving to {address}"))?;
                let sent = m.wait_sent(false).await;
                self.drain_events();
                self.out.emit(
                    json!({"type": "home_relay", "address": address, "moving": moving}),
                    || {
                        format!(
                            "home relay is now {address}; {moving} conversation(s) move there as \
                             their contacts next receive"
                        )
                    },
                );
                self.finish(sent).await?;
            }
            NetCommand::RotateIdentity => {
                let notified = m.update(|c| c.rotate_identity(now_ms())).await??;
                let sent = m.wait_sent(false).await;
                self.drain_events();
                self.out.emit(
                    json!({"type": "identity_rotated", "contacts": notified}),
                    || {
                        format!(
                            "new identity key announced to {notified} contact(s); compare safety numbers again"
                        )
                    },
                );
                self.finish(sent).await?;
            }
            NetCommand::Recv { wait, follow, .. } => {
                let wait = Duration::from_secs_f64(wait);
                let received = m.wait_received(QUIET, wait);
                tokio::pin!(received);
                loop {
                    tokio::select! {
                        done = &mut received => { done?; break; }
                        Some(event) = self.events.recv() => self.print_event(&event),
                    }
                }
                if follow {
                    while let Some(event) = self.events.recv().await {
                        self.print_event(&event);
                    }
                    return Ok(());
                }
                // Receipts leave at a random moment of the receipt window; wait for them.
                let sent = m.wait_sent(true);
                tokio::pin!(sent);
                let result = loop {
                    tokio::select! {
                        done = &mut sent => break done,
                        Some(event) = self.events.recv() => self.print_event(&event),
                    }
                };
                self.drain_events();
                self.finish(result).await?;
                if let Some(e) = self.down.values().next() {
                    return Err(e.clone().into());
                }
            }
        }
        Ok(())
    }

    /// Prints what arrived, records relay states, updates names.
    fn print_event(&mut self, event: &MessengerEvent) {
        self.note(event);
        if let MessengerEvent::Client(event) = event {
            output::emit_event(self.out, event, |id| self.name(id));
        }
    }

    fn print_message(&self, name: &str, message: &MessageRecord) {
        self.out.emit(output::message_json(name, message), || {
            output::message_text(name, message)
        });
    }

    /// Takes note of events not printed (relay states, new names).
    fn drain_events(&mut self) {
        while let Some(event) = self.events.try_recv() {
            self.note(&event);
        }
    }

    fn note(&mut self, event: &MessengerEvent) {
        match event {
            MessengerEvent::Relay { relay, state } => match state {
                RelayState::Up => {
                    self.down.remove(relay);
                }
                RelayState::Down { error, .. } => {
                    self.down.insert(relay.clone(), error.clone());
                }
            },
            MessengerEvent::Client(ClientEvent::ContactAdded { contact }) => {
                self.names.insert(contact.id, contact.name.clone());
            }
            MessengerEvent::ReceiveFailed(e) => {
                eprintln!("error storing received messages (they stay at the relay): {e}");
            }
            _ => {}
        }
    }

    fn name(&self, id: ContactId) -> String {
        self.names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| "unknown contact".to_owned())
    }

    /// Reports a failed send; work done so far is kept, and what is queued
    /// is retried by the next command that sends or receives.
    async fn finish(&self, sent: Result<(), MessengerError>) -> anyhow::Result<()> {
        let Err(e) = sent else {
            return Ok(());
        };
        let queued = self.messenger.query(|c| c.outbox_len()).await??;
        if queued > 0 && !self.out.json {
            eprintln!(
                "note: {queued} envelope(s) queued; they are retried on the next send or recv"
            );
        }
        Err(e.into())
    }
}
