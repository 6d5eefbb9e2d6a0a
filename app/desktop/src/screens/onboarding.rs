//! First run (choose a relay, create a profile, or restore a backup) and unlock.

use std::path::PathBuf;

use egui::{RichText, Ui};
use zeroize::Zeroizing;

use crate::commands::Command;
use cairn_core::profile::passphrase_policy;

use crate::widgets::{strength_hint, text_field};

/// Default port of the built-in relay, so its address survives restarts.
pub const BUILTIN_PORT: u16 = 17447;

/// Where the new profile's relay comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelayChoice {
    /// The in-process relay.
    #[default]
    BuiltIn,
    /// An address someone gave us.
    Paste,
}

/// Form fields of the first-run and unlock screens.
#[derive(Default)]
pub struct OnboardingForm {
    /// Display name.
    pub name: String,
    /// Passphrase.
    pub pass: Zeroizing<String>,
    /// Confirmation.
    pub confirm: Zeroizing<String>,
    /// Relay source.
    pub relay_choice: RelayChoice,
    /// Pasted relay address.
    pub relay_text: String,
    /// Built-in relay reachable from the LAN.
    pub lan: bool,
    /// Backup file to restore.
    pub import_path: String,
    /// A command is in flight (disables the buttons).
    pub busy: bool,
    /// Port for the built-in relay (0 picks a free one; tests).
    pub port: u16,
    /// The passphrase field was given keyboard focus once (on showing the
    /// unlock screen). Asking again every frame, while the window itself has
    /// no keyboard focus, made egui drop and re-grant it forever: a repaint
    /// loop that also swallowed the user's typing (issue 15, item 1).
    pub focused_once: bool,
}

/// The built-in relay's listen address.
pub fn builtin_listen(lan: bool, port: u16) -> String {
    let host = if lan { "0.0.0.0" } else { "127.0.0.1" };
    format!("{host}:{port}")
}

/// Who can reach the built-in relay, in plain words (onboarding and
/// Settings say the same): it lives in this process, so only while Cairn
/// runs, and on loopback unless the user opened it to the local network.
pub fn builtin_reach(local_network: bool) -> &'static str {
    if local_network {
        "Reachable from this computer and your local network, only while Cairn is open. \
         Contacts elsewhere need a relay on a server they can reach."
    } else {
        "Reachable only from this computer, and only while Cairn is open: good for trying \
         Cairn out. Contacts on other computers need a relay on a server they can reach \
         (README, “Self-hosting a relay”)."
    }
}

/// Whether a built-in relay address accepts more than this computer.
pub fn builtin_on_network(address: &str) -> bool {
    !["127.0.0.1", "localhost", "[::1]"]
        .iter()
        .any(|local| address.contains(local))
}

fn card(ui: &mut Ui, add: impl FnOnce(&mut Ui)) {
    ui.vertical_centered(|ui| {
        ui.set_max_width(560.0);
        ui.vertical(add);
    });
}

/// The first-run screen. `local_relay` is the built-in relay's address once started.
pub fn show_create(
    ui: &mut Ui,
    form: &mut OnboardingForm,
    local_relay: Option<&str>,
) -> Option<Command> {
    let mut out = None;
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        card(ui, |ui| {
            ui.add_space(16.0);
            ui.heading(RichText::new("Welcome to Cairn").size(26.0));
            ui.label("End-to-end encrypted messages. Your keys never leave this computer.");
            ui.add_space(14.0);
            ui.label(RichText::new("1. Choose a relay").strong());
            ui.label(
                RichText::new("A relay stores encrypted envelopes until your contacts fetch them. It never sees who talks to whom or what is said.")
                    .weak(),
            );
            ui.radio_value(&mut form.relay_choice, RelayChoice::BuiltIn, "Start a built-in relay on this computer");
            ui.radio_value(&mut form.relay_choice, RelayChoice::Paste, "Use a relay address someone gave me");
            match form.relay_choice {
                RelayChoice::BuiltIn => match local_relay {
                    Some(address) => {
                        ui.label(RichText::new(builtin_reach(builtin_on_network(address))).weak());
                        ui.label("Built-in relay running. Others connect with:");
                        ui.horizontal(|ui| {
                            crate::widgets::copy_button(ui, "Copy", address, true);
                            ui.add(egui::Label::new(RichText::new(address).monospace()).truncate())
                                .on_hover_text(address);
                        });
                    }
                    None => {
                        ui.label(RichText::new(builtin_reach(form.lan)).weak());
                        ui.checkbox(&mut form.lan, "Also accept devices on my local network");
                        if ui.add_enabled(!form.busy, egui::Button::new("Start built-in relay")).clicked() {
                            form.busy = true;
                            out = Some(Command::StartLocalRelay { listen: builtin_listen(form.lan, form.port), any_port: true });
                        }
                    }
                },
                RelayChoice::Paste => {
                    text_field(ui, "Relay address (wss://host:port/#pin)", &mut form.relay_text, false);
                }
            }
            ui.add_space(14.0);
            ui.label(RichText::new("2. Create your profile").strong());
            text_field(ui, "Your name (sent when you accept an invite)", &mut form.name, false);
            text_field(ui, "Passphrase", &mut form.pass, true);
            strength_hint(ui, &form.pass);
            // The one passphrase rule (cairn-core): why it is refused, and what passes.
            let policy = passphrase_policy(&form.pass);
            if let (Err(weak), false) = (&policy, form.pass.is_empty()) {
                ui.label(RichText::new(capitalized(&weak.to_string())).weak());
            }
            let confirm = text_field(ui, "Confirm passphrase", &mut form.confirm, true);
            let enter = confirm.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let mismatch = !form.confirm.is_empty() && *form.pass != *form.confirm;
            if mismatch {
                ui.colored_label(ui.visuals().error_fg_color, "The passphrases do not match.");
            }
            let relay = match form.relay_choice {
                RelayChoice::BuiltIn => local_relay.map(str::to_owned),
                RelayChoice::Paste => Some(form.relay_text.trim().to_owned()).filter(|r| !r.is_empty()),
            };
            let ready = relay.is_some()
                && !form.name.trim().is_empty()
                && policy.is_ok()
                && *form.pass == *form.confirm
                && !form.busy;
            // Why the button is disabled, when it is (the passphrase reasons are shown above).
            let missing = match (&relay, form.relay_choice) {
                (None, RelayChoice::BuiltIn) => Some("Start the built-in relay first (step 1)."),
                (None, RelayChoice::Paste) => Some("Paste the relay address first (step 1)."),
                _ if form.name.trim().is_empty() => Some("Type your name."),
                _ => None,
            };
            if let Some(missing) = missing {
                ui.label(RichText::new(missing).weak());
            }
            ui.add_space(6.0);
            let clicked = ui.add_enabled(ready, egui::Button::new("Create profile")).clicked();
            if (clicked || (enter && ready))
                && let Some(relay) = relay
            {
                form.busy = true;
                out = Some(Command::CreateProfile {
                    name: form.name.trim().to_owned(),
                    passphrase: Zeroizing::new(form.pass.to_string()),
                    relay,
                });
            }
            ui.add_space(18.0);
            ui.collapsing("Restore from an encrypted backup", |ui| {
                text_field(ui, "Backup file", &mut form.import_path, false);
                text_field(ui, "Backup passphrase", &mut form.pass, true);
                let ok = !form.import_path.trim().is_empty() && !form.pass.is_empty() && !form.busy;
                if ui.add_enabled(ok, egui::Button::new("Restore backup")).clicked() {
                    form.busy = true;
                    out = Some(Command::Import {
                        file: PathBuf::from(form.import_path.trim()),
                        passphrase: Zeroizing::new(form.pass.to_string()),
                    });
                }
            });
        });
    });
    out
}

/// `text` with its first letter in upper case (a sentence on its own).
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The unlock screen; `error` is the last failure (wrong passphrase...).
pub fn show_unlock(ui: &mut Ui, form: &mut OnboardingForm, error: Option<&str>) -> Option<Command> {
    let mut out = None;
    card(ui, |ui| {
        ui.add_space(80.0);
        ui.heading(RichText::new("Unlock Cairn").size(26.0));
        ui.label("Your messages are encrypted on disk. Enter your passphrase to open them.");
        ui.add_space(10.0);
        let field = text_field(ui, "Passphrase", &mut form.pass, true);
        if !form.busy && !form.focused_once {
            field.request_focus();
            form.focused_once = true;
        }
        if let Some(error) = error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let clicked = ui
            .add_enabled(
                !form.busy && !form.pass.is_empty(),
                egui::Button::new("Unlock"),
            )
            .clicked();
        if form.busy {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Deriving the key…");
            });
        }
        if (clicked || enter) && !form.pass.is_empty() && !form.busy {
            form.busy = true;
            out = Some(Command::Unlock {
                passphrase: Zeroizing::new(form.pass.to_string()),
            });
        }
    });
    out
}
