//! `relays list|add|remove`: the extra relays kept in the profile (the same
//! list the desktop's settings show and offer for invites).

use anyhow::bail;
use cairn_core::client::{Client, canonical_relay};
use serde_json::json;

use crate::args::RelaysAction;
use crate::output::Out;
use crate::time::now_ms;

/// Runs one `relays` subcommand; offline (nothing is dialled).
pub(crate) fn run(out: &Out, client: &mut Client, action: RelaysAction) -> anyhow::Result<()> {
    match action {
        RelaysAction::List => {
            let home = client.home_relay().to_string();
            out.emit(
                json!({"type": "relay", "address": home, "home": true}),
                || format!("{home}  (home)"),
            );
            for address in client.extra_relays()? {
                out.emit(
                    json!({"type": "relay", "address": address, "home": false}),
                    || address.clone(),
                );
            }
        }
        RelaysAction::Add { address } => {
            let added = client.add_extra_relay(&address, now_ms())?;
            out.emit(json!({"type": "relay_added", "address": added}), || {
                format!("extra relay {added} added")
            });
        }
        RelaysAction::Remove { address } => {
            let address = canonical_relay(&address);
            if !client.remove_extra_relay(&address)? {
                bail!("{address} is not one of your extra relays (see `cairn-cli relays list`)");
            }
            out.emit(json!({"type": "relay_removed", "address": address}), || {
                format!("extra relay {address} removed")
            });
        }
        // Needs the network: run by `network` before a profile is used offline.
        RelaysAction::Home { .. } => bail!("internal: handled earlier"),
        RelaysAction::AllowPrivate { value } => {
            if let Some(value) = value {
                client.set_allow_private_relays(value == "on")?;
            }
            let allowed = client.allow_private_relays()?;
            out.emit(
                json!({"type": "allow_private_relays", "allowed": allowed}),
                || {
                    if allowed {
                        "relays on private and local networks are allowed in invites and handshakes"
                            .to_owned()
                    } else {
                        "relays on private and local networks are refused in invites and handshakes"
                            .to_owned()
                    }
                },
            );
        }
    }
    Ok(())
}
