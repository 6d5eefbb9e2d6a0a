//! Commands that talk to relays: invite, accept, send, recv.

use std::time::Duration;

use anyhow::{Context, bail};
use cairn_core::client::Client;
use cairn_core::net::{NetError, SyncOptions, SyncReport, Syncer, WsConnector};
use serde_json::json;

use crate::output::{self, Out};
use crate::time::now_ms;

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
    /// Receive, waiting up to this long for something new.
    Recv {
        /// Seconds.
        wait: f64,
        /// Skip acks (crash simulation).
        no_ack: bool,
    },
}

/// Runs a network command on a single-threaded runtime.
pub(crate) fn run(
    out: &Out,
    client: &mut Client,
    cmd: NetCommand,
    allow_plaintext: bool,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting async runtime")?;
    runtime.block_on(run_async(out, client, cmd, allow_plaintext))
}

async fn run_async(
    out: &Out,
    client: &mut Client,
    cmd: NetCommand,
    allow_plaintext: bool,
) -> anyhow::Result<()> {
    let connector = WsConnector {
        allow_plaintext_loopback: allow_plaintext,
        ..WsConnector::default()
    };
    let opts = SyncOptions {
        access_token: client.access_token()?.map(|t| t.to_vec()),
        ..SyncOptions::default()
    };
    let mut syncer = Syncer::new(connector, opts);
    let clock = now_ms;
    match cmd {
        NetCommand::Invite => {
            let mailbox = client.mint_mailbox();
            syncer
                .create_mailbox(&mailbox)
                .await
                .context("creating the invite mailbox on your relay")?;
            let invite = client.create_invite(&mailbox, now_ms())?;
            out.emit(
                json!({"type": "invite", "uri": invite.uri, "expires_at": invite.expires_at}),
                || invite.uri.clone(),
            );
        }
        NetCommand::Accept { invite, name } => {
            let invite = client.parse_invite(invite.trim(), now_ms())?;
            let mailbox = client.mint_mailbox();
            syncer
                .create_mailbox(&mailbox)
                .await
                .context("creating your reply mailbox on your relay")?;
            let contact = client.accept_invite(&invite, &name, &mailbox, now_ms())?;
            let mut report = SyncReport::default();
            syncer.flush_outbox(client, &clock, &mut report).await?;
            out.emit(output::contact_json(&contact), || {
                format!(
                    "{} added; the handshake completes when they next receive",
                    output::inline(&contact.name)
                )
            });
            finish(out, client, report)?;
        }
        NetCommand::Send { name, texts } => {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let sent = client.send_texts(&name, &refs, now_ms())?;
            let mut report = SyncReport::default();
            syncer.flush_outbox(client, &clock, &mut report).await?;
            let contact = client.contact(&name)?;
            // Re-read for the status the relay's acks gave them.
            let mut now: std::collections::HashMap<i64, _> = client
                .timeline(&contact.name)?
                .into_iter()
                .filter_map(|i| match i {
                    cairn_core::client::TimelineItem::Message(m) => Some((m.id, m)),
                    cairn_core::client::TimelineItem::Event(_) => None,
                })
                .collect();
            for message in sent {
                let message = now.remove(&message.id).unwrap_or(message);
                out.emit(output::message_json(&contact.name, &message), || {
                    output::message_text(&contact.name, &message)
                });
            }
            finish(out, client, report)?;
        }
        NetCommand::RotateIdentity => {
            let notified = client.rotate_identity(now_ms())?;
            let mut report = SyncReport::default();
            syncer.flush_outbox(client, &clock, &mut report).await?;
            out.emit(json!({"type": "identity_rotated", "contacts": notified}), || {
                format!("new identity key announced to {notified} contact(s); compare safety numbers again")
            });
            finish(out, client, report)?;
        }
        NetCommand::Recv { wait, no_ack } => {
            syncer.options_mut().ack = !no_ack;
            if !(0.0..=86_400.0).contains(&wait) {
                bail!("--wait must be between 0 and 86400 seconds");
            }
            syncer.options_mut().wait = Duration::from_secs_f64(wait);
            let report = syncer.sync(client, &clock).await?;
            for event in &report.events {
                output::emit_event(out, event);
            }
            finish(out, client, report)?;
        }
    }
    Ok(())
}

/// Reports relay problems; fails the command if any occurred (work done so far is kept).
fn finish(out: &Out, client: &Client, report: SyncReport) -> anyhow::Result<()> {
    if report.errors.is_empty() {
        return Ok(());
    }
    let queued = client.outbox_len()?;
    if queued > 0 && !out.json {
        eprintln!("note: {queued} envelope(s) queued; they are retried on the next send or recv");
    }
    let first = report.errors.into_iter().reduce(|a, b| match (&a, &b) {
        (NetError::PinMismatch { .. }, _) => a,
        (_, NetError::PinMismatch { .. }) => b,
        _ => a,
    });
    match first {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
