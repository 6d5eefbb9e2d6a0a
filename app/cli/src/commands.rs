//! One function per command.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use cairn_core::client::{Client, ClientError, InitOptions, Verification};
use cairn_core::profile::kdf::KdfParams;
use cairn_core::profile::passphrase_policy;
use cairn_protocol::relay_address::RelayAddress;
use serde_json::json;

use crate::args::{Cli, Command, RelaysAction};
use crate::network::{self, NetCommand};
use crate::output::{self, Out};
use crate::passphrase;
use crate::relays;
use crate::time::now_ms;

/// Runs the parsed command line.
pub(crate) fn run(cli: Cli) -> anyhow::Result<()> {
    let out = Out { json: cli.json };
    let dir = cli
        .profile
        .clone()
        .context("no profile: pass --profile DIR or set CAIRN_PROFILE")?;
    match cli.command {
        Command::Init {
            name,
            relay,
            access_token,
            offline,
        } => {
            let check = (!offline).then_some(cli.allow_plaintext_loopback);
            init(&out, &dir, &name, &relay, access_token, check)
        }
        Command::Import { file } => import(&out, &dir, &file),
        command => {
            let pass = passphrase::read(false)?;
            let mut client = Client::open(&dir, pass.as_bytes())?;
            let net = match command {
                Command::Invite => NetCommand::Invite,
                Command::Accept { invite, name } => NetCommand::Accept { invite, name },
                Command::Send { name, text, stdin } => NetCommand::Send {
                    name,
                    texts: match text {
                        Some(text) if !stdin => vec![text],
                        _ => stdin_lines()?,
                    },
                },
                Command::Recv {
                    wait,
                    no_ack,
                    follow,
                } => NetCommand::Recv {
                    wait,
                    no_ack,
                    follow,
                },
                Command::RotateIdentity => NetCommand::RotateIdentity,
                Command::Relays {
                    action:
                        RelaysAction::Home {
                            address,
                            access_token,
                        },
                } => NetCommand::Home {
                    relay: address
                        .trim()
                        .parse()
                        .with_context(|| format!("{address:?} is not a relay address"))?,
                    access_token,
                },
                other => return with_client(&out, &mut client, other, &pass),
            };
            network::run(&out, client, net, cli.allow_plaintext_loopback)
        }
    }
}

fn with_client(out: &Out, client: &mut Client, command: Command, pass: &str) -> anyhow::Result<()> {
    match command {
        Command::Contacts => {
            for c in client.contacts()? {
                out.emit(output::contact_json(&c), || output::contact_text(&c));
            }
        }
        Command::History { name } => {
            let contact = client.contact_named(&name)?;
            let items = client.timeline(contact.id)?;
            if items.is_empty() && !out.json {
                println!("no messages with {} yet", contact.name);
            }
            for item in items {
                output::emit_item(out, &contact.name, &item);
            }
            // Shown means read: read receipts go out with the next send or recv.
            client.mark_read(contact.id, now_ms())?;
        }
        Command::AcceptKey { name } => {
            let contact = client.contact_named(&name)?;
            client.accept_key_change(contact.id, now_ms())?;
            let contact = client.contact(contact.id)?;
            out.emit(output::contact_json(&contact), || {
                format!(
                    "new key of {} accepted; new safety number: {}",
                    output::inline(&contact.name),
                    group_digits(&contact.safety_number)
                )
            });
        }
        Command::Search { query, limit } => {
            for m in client.search(&query, limit)? {
                let name = client.contact(m.contact)?.name;
                out.emit(output::message_json(&name, &m), || {
                    output::message_text(&name, &m)
                });
            }
        }
        Command::Fingerprint { name } => {
            let contact = client.contact_named(&name)?;
            // Our side's QR payload (PROTOCOL.md §13), for a picture to send.
            let qr = hex::encode(client.safety_qr(contact.id)?);
            out.emit(
                json!({"type": "fingerprint", "contact": contact.name, "safety_number": contact.safety_number, "qr_payload": qr, "verified": contact.verified}),
                || group_digits(&contact.safety_number),
            );
        }
        Command::Verify {
            name,
            safety_number,
            they_match,
            qr_image,
        } => {
            let contact = client.contact_named(&name)?;
            match (qr_image, safety_number) {
                (Some(picture), _) => {
                    let scanned = cairn_core::qr_image::read_safety_qr(&picture)?;
                    client.verify_qr(contact.id, &scanned, now_ms())?;
                }
                (None, Some(digits)) if !they_match => {
                    client.verify(contact.id, &digits, now_ms())?;
                }
                _ => client.set_verification(contact.id, Verification::Compared, now_ms())?,
            }
            out.emit(json!({"type": "verified", "contact": name}), || {
                format!("{name} is now verified")
            });
        }
        Command::Unverify { name } => {
            let contact = client.contact_named(&name)?;
            client.set_verification(contact.id, Verification::Cleared, now_ms())?;
            out.emit(json!({"type": "unverified", "contact": name}), || {
                format!("{name} is no longer verified")
            });
        }
        Command::Rename { name, new_name } => {
            let contact = client.contact_named(&name)?;
            client.rename_contact(contact.id, &new_name)?;
            out.emit(
                json!({"type": "renamed", "from": name, "to": new_name}),
                || format!("renamed {name} to {new_name}"),
            );
        }
        Command::Relays { action } => relays::run(out, client, action)?,
        Command::Export { file } => {
            // The backup's passphrase: its own if given, else the profile's.
            let own = passphrase::backup()?;
            let backup = own.as_ref().map_or(pass, |b| b.as_str());
            if let Err(weak) = passphrase_policy(backup) {
                bail!(
                    "refusing to write a backup protected by a weak passphrase: {weak}; \
                     set {} to a stronger passphrase for the backup",
                    passphrase::BACKUP_ENV
                );
            }
            client.export(&file, backup.as_bytes())?;
            out.emit(json!({"type": "exported", "file": file}), || {
                format!("encrypted backup written to {}", file.display())
            });
        }
        Command::Init { .. }
        | Command::Import { .. }
        | Command::Invite
        | Command::Accept { .. }
        | Command::Send { .. }
        | Command::Recv { .. }
        | Command::RotateIdentity => bail!("internal: handled earlier"),
    }
    Ok(())
}

/// Creates the profile. `check` (the plaintext-loopback flag) connects to the
/// relay first, so a mistyped address or pin fails here rather than at the
/// first invite; `None` is `--offline`.
fn init(
    out: &Out,
    dir: &Path,
    name: &str,
    relay: &str,
    access_token: Option<String>,
    check: Option<bool>,
) -> anyhow::Result<()> {
    let relay: RelayAddress = relay.parse().context("--relay")?;
    // Checked by the core too; here before the passphrase prompt.
    relay
        .check_transport()
        .map_err(|e| ClientError::PlaintextRelay(e.relay))?;
    if let Some(allow_plaintext) = check {
        network::probe(&relay, allow_plaintext)
            .context("cannot use this relay (nothing was created; --offline skips this check)")?;
    }
    let pass = passphrase::read(true)?;
    passphrase_policy(&pass).context("refusing to create the profile")?;
    let client = Client::init(
        &InitOptions {
            dir,
            passphrase: pass.as_bytes(),
            kdf: KdfParams::DEFAULT,
            name,
            relay,
            access_token: access_token.as_deref(),
        },
        now_ms(),
    )?;
    out.emit(
        json!({"type": "initialized", "profile": dir, "name": client.name(), "relay": client.home_relay().to_string()}),
        || format!("profile for {} created in {}", client.name(), dir.display()),
    );
    Ok(())
}

fn import(out: &Out, dir: &PathBuf, file: &Path) -> anyhow::Result<()> {
    let pass = passphrase::read(false)?;
    let client = Client::import(file, dir, pass.as_bytes(), now_ms())?;
    out.emit(
        json!({"type": "imported", "profile": dir, "name": client.name(), "contacts": client.contacts()?.len()}),
        || format!("backup restored into {} ({})", dir.display(), client.name()),
    );
    Ok(())
}

/// Groups 60 digits into twelve blocks of five, as on the other device.
fn group_digits(digits: &str) -> String {
    let chars: Vec<char> = digits.chars().collect();
    chars
        .chunks(5)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Non-empty lines of standard input, for `send --stdin`.
fn stdin_lines() -> anyhow::Result<Vec<String>> {
    use std::io::BufRead;
    let mut lines = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading standard input")?;
        if !line.trim().is_empty() {
            lines.push(line);
        }
    }
    if lines.is_empty() {
        bail!("--stdin: nothing to send (standard input has no non-empty line)");
    }
    Ok(lines)
}
