//! Settings: profile name, contact names, relays (status, pins, extra
//! relays), appearance, notifications, encrypted backup, lock, shortcuts.
//! Every control here either edits the saved preferences or sends a command
//! to the core (extra relays live in the encrypted profile); nothing is
//! decorative.

use cairn_core::profile::passphrase_policy;
use cairn_protocol::relay_address::RelayAddress;
use egui::{Color32, RichText, Ui};
use zeroize::Zeroizing;

use crate::commands::{Command, ContactSummary, ProfileInfo, RelayHealth, RelayStatus};
use crate::prefs::{NotificationContent, Prefs, ThemeChoice};
use crate::screens::onboarding::capitalized;
use crate::widgets::{strength_hint, text_field};

/// Form state of the settings pane.
#[derive(Default)]
pub struct SettingsForm {
    /// Backup target file.
    pub export_path: String,
    /// Passphrase for the backup.
    pub export_pass: Zeroizing<String>,
    /// The same passphrase again: a typo here would make the backup unreadable.
    pub export_confirm: Zeroizing<String>,
    /// Our display name being edited (`None`: not touched yet, show the current one).
    pub display_name: Option<String>,
    /// Contact picked for renaming.
    pub rename_who: Option<cairn_core::store::ContactId>,
    /// Their new name.
    pub rename_to: String,
    /// Relay address being added.
    pub new_relay: String,
    /// Why the relay address was refused.
    pub relay_error: Option<String>,
    /// An extra relay the user asked to make home: waiting for "Move".
    pub make_home: Option<String>,
}

/// Inputs of the settings pane.
pub struct SettingsView<'a> {
    /// Who we are.
    pub profile: Option<&'a ProfileInfo>,
    /// Relays in use.
    pub relays: &'a [RelayStatus],
    /// The profile's extra relays (full address text).
    pub extra_relays: &'a [String],
    /// Relays on private networks allowed in invites and handshakes.
    pub allow_private_relays: bool,
    /// Built-in relay address, if running.
    pub local_relay: Option<&'a str>,
    /// Envelopes waiting for a relay.
    pub outbox: usize,
    /// Contacts, for renaming.
    pub contacts: &'a [ContactSummary],
}

/// Draws settings; `prefs` is edited in place (the caller saves on change).
pub fn show(
    ui: &mut Ui,
    view: SettingsView<'_>,
    prefs: &mut Prefs,
    form: &mut SettingsForm,
) -> Option<Command> {
    let mut out = None;
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.set_max_width(ui.available_width().min(760.0));
            ui.heading("Settings");
            if let Some(p) = view.profile {
                ui.label(RichText::new(format!("Profile stored in {}", p.dir.display())).weak());
            }
            section(ui, "Profile");
            if let Some(cmd) = profile_name(ui, view.profile, form) {
                out = Some(cmd);
            }
            if let Some(cmd) = rename_contact(ui, view.contacts, form) {
                out = Some(cmd);
            }
            section(ui, "Relays");
            if let Some(cmd) = relays(ui, &view, form) {
                out = Some(cmd);
            }
            section(ui, "Appearance");
            ui.horizontal(|ui| {
                ui.radio_value(&mut prefs.theme, ThemeChoice::System, "Follow system");
                ui.radio_value(&mut prefs.theme, ThemeChoice::Light, "Light");
                ui.radio_value(&mut prefs.theme, ThemeChoice::Dark, "Dark");
            });
            section(ui, "Notifications");
            ui.label("When a message arrives while Cairn is in the background:");
            ui.radio_value(
                &mut prefs.notifications,
                NotificationContent::NameOnly,
                "Show who wrote (the text stays in Cairn)",
            );
            ui.radio_value(
                &mut prefs.notifications,
                NotificationContent::NameAndText,
                "Show who wrote and the text (your desktop's notification history keeps it)",
            );
            ui.radio_value(
                &mut prefs.notifications,
                NotificationContent::Off,
                "No notifications",
            );
            section(ui, "Backup");
            if let Some(cmd) = backup(ui, form) {
                out = Some(cmd);
            }
            section(ui, "Security");
            if ui.button("🔒 Lock Cairn").on_hover_text("Ctrl+L").clicked() {
                out = Some(Command::Lock);
            }
            ui.horizontal(|ui| {
                let label = ui.label("Lock after this many minutes without use (0: never)");
                ui.add(egui::DragValue::new(&mut prefs.auto_lock_minutes).range(0..=1440))
                    .labelled_by(label.id);
            });
            ui.label(
                RichText::new(
                    "Messages you send are signed with your identity key: whoever has them can \
                     prove to anyone that you wrote them (PROTOCOL.md §2). Cairn is not deniable.",
                )
                .small()
                .weak(),
            );
            section(ui, "Keyboard shortcuts");
            egui::Grid::new("shortcuts")
                .spacing([20.0, 4.0])
                .show(ui, |ui| {
                    for (keys, what) in SHORTCUTS {
                        ui.monospace(*keys);
                        ui.label(*what);
                        ui.end_row();
                    }
                });
            ui.add_space(20.0);
        });
    out
}

fn profile_name(
    ui: &mut Ui,
    profile: Option<&ProfileInfo>,
    form: &mut SettingsForm,
) -> Option<Command> {
    let current = profile.map(|p| p.name.as_str()).unwrap_or_default();
    let name = form.display_name.get_or_insert_with(|| current.to_owned());
    let mut out = None;
    let label = ui.label("Your display name (sent when you accept an invite)");
    ui.horizontal(|ui| {
        ui.add(egui::TextEdit::singleline(name).desired_width(260.0))
            .labelled_by(label.id);
        let changed = !name.trim().is_empty() && name.trim() != current;
        if ui
            .add_enabled(changed, egui::Button::new("Save name"))
            .clicked()
        {
            out = Some(Command::SetProfileName {
                name: name.trim().to_owned(),
            });
        }
    });
    out
}

fn rename_contact(
    ui: &mut Ui,
    contacts: &[ContactSummary],
    form: &mut SettingsForm,
) -> Option<Command> {
    if contacts.is_empty() {
        return None;
    }
    let who = match contacts
        .iter()
        .find(|c| Some(c.contact.id) == form.rename_who)
    {
        Some(c) => c,
        None => &contacts[0],
    };
    form.rename_who = Some(who.contact.id);
    let who_name = who.contact.name.clone();
    let mut out = None;
    ui.add_space(6.0);
    let label = ui.label("Rename a contact (only you see this name)");
    ui.horizontal(|ui| {
        egui::ComboBox::from_id_salt("rename-who")
            .selected_text(who_name.as_str())
            .width(160.0)
            .show_ui(ui, |ui| {
                for c in contacts {
                    ui.selectable_value(&mut form.rename_who, Some(c.contact.id), &c.contact.name);
                }
            });
        ui.add(
            egui::TextEdit::singleline(&mut form.rename_to)
                .hint_text("New name")
                .desired_width(200.0),
        )
        .labelled_by(label.id);
        let ready = !form.rename_to.trim().is_empty() && form.rename_to.trim() != who_name;
        if ui.add_enabled(ready, egui::Button::new("Rename")).clicked()
            && let Some(contact) = form.rename_who
        {
            out = Some(Command::RenameContact {
                contact,
                new_name: form.rename_to.trim().to_owned(),
            });
        }
    });
    out
}

fn relays(ui: &mut Ui, view: &SettingsView<'_>, form: &mut SettingsForm) -> Option<Command> {
    let mut out = None;
    let mut remove = None;
    // One block per relay, each line fitted to the width: a long address
    // is cut short (the whole one on hover), never pushing the pane wider
    // than the window.
    for r in view.relays {
        let name = match (r.home, r.extra) {
            (true, _) => format!("{} (home)", r.address),
            (false, true) => format!("{} (extra)", r.address),
            (false, false) => format!("{} (a contact's)", r.address),
        };
        ui.add(egui::Label::new(RichText::new(name).monospace()).truncate())
            .on_hover_text(&r.full);
        ui.horizontal_wrapped(|ui| {
            let pin: String = r.pin.chars().take(16).collect();
            let pin = if pin.is_empty() {
                "no pin (plain ws://)".to_owned()
            } else {
                format!("pin {pin}…")
            };
            ui.label(RichText::new(pin).monospace().weak())
                .on_hover_text(&r.pin);
            let (text, color, full) = match &r.health {
                RelayHealth::Connected => (
                    "✔ connected".to_owned(),
                    Color32::from_rgb(0x2e, 0x9b, 0x57),
                    None,
                ),
                RelayHealth::Unknown => (
                    "… not contacted yet".to_owned(),
                    ui.visuals().weak_text_color(),
                    None,
                ),
                RelayHealth::Failed(e) => (
                    "✖ unreachable".to_owned(),
                    ui.visuals().error_fg_color,
                    Some(e.clone()),
                ),
            };
            let status = ui.colored_label(color, text);
            if let Some(full) = full {
                status.on_hover_text(full);
            }
            if r.extra {
                if ui.small_button("Make home").clicked() {
                    form.make_home = Some(r.full.clone());
                }
                if ui.small_button("Remove").clicked() {
                    remove = Some(r.full.clone());
                }
            }
        });
        ui.add_space(4.0);
    }
    if let Some(gone) = remove {
        out = Some(Command::RemoveExtraRelay(gone));
    }
    if let Some(target) = form.make_home.clone() {
        ui.group(|ui| {
            ui.label(format!("Make {target} your home relay?"));
            ui.label(
                RichText::new(
                    "New invites go there, and every conversation on your current home relay \
                     moves there: each contact gets a signed notice and follows it the next \
                     time they are online. Your current relay keeps being read until they have.",
                )
                .weak(),
            );
            ui.horizontal(|ui| {
                if ui.button("Move my conversations").clicked() {
                    out = Some(Command::ChangeHomeRelay(target.clone()));
                    form.make_home = None;
                }
                if ui.button("Cancel").clicked() {
                    form.make_home = None;
                }
            });
        });
    }
    if view.outbox > 0 {
        ui.label(format!(
            "{} message(s) waiting to be sent; retried automatically.",
            view.outbox
        ));
    }
    ui.add_space(4.0);
    let label = ui.label(
        "Add a relay (wss://host:port/#pin): checked here, and offered when you create an invite",
    );
    ui.horizontal_wrapped(|ui| {
        let width = (ui.available_width() - 8.0).clamp(120.0, 360.0);
        ui.add(
            egui::TextEdit::singleline(&mut form.new_relay)
                .hint_text("wss://relay.example.org:7447/#pin")
                .desired_width(width),
        )
        .labelled_by(label.id);
        if ui
            .add_enabled(
                !form.new_relay.trim().is_empty(),
                egui::Button::new("Add relay"),
            )
            .clicked()
        {
            let text = form.new_relay.trim();
            match text.parse::<RelayAddress>() {
                Ok(address) => {
                    let text = address.to_string();
                    if view.relays.iter().any(|r| r.full == text)
                        || view.extra_relays.contains(&text)
                    {
                        form.relay_error = Some("That relay is already in the list.".into());
                    } else {
                        out = Some(Command::AddExtraRelay(text));
                        form.new_relay.clear();
                        form.relay_error = None;
                    }
                }
                Err(e) => form.relay_error = Some(format!("Not a relay address: {e}")),
            }
        }
        if ui.button("Sync now").clicked() {
            out = Some(Command::CheckRelays);
        }
    });
    if let Some(error) = &form.relay_error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    let mut allow = view.allow_private_relays;
    if ui
        .checkbox(
            &mut allow,
            "Allow relays on private networks in invites (for testing on a LAN)",
        )
        .changed()
    {
        out = Some(Command::SetAllowPrivateRelays(allow));
    }
    ui.label(
        RichText::new(
            "Off by default: an invite naming a relay at a private or local address \
             (192.168.x.x, 10.x.x.x, ...) could make Cairn reveal your address to a device on \
             your own network chosen by someone else.",
        )
        .weak(),
    );
    if let Some(address) = view.local_relay {
        ui.horizontal(|ui| {
            ui.label("Built-in relay, for others to use:");
            crate::widgets::copy_button(ui, "Copy", address, true);
        });
        ui.add(egui::Label::new(RichText::new(address).monospace()).truncate())
            .on_hover_text(address);
        let local_network = super::onboarding::builtin_on_network(address);
        ui.label(RichText::new(super::onboarding::builtin_reach(local_network)).weak());
    }
    out
}

fn backup(ui: &mut Ui, form: &mut SettingsForm) -> Option<Command> {
    ui.label(
        RichText::new(
            "An encrypted copy of your whole profile: contacts, keys and history. Restore it on the \
             first-run screen of a new installation (“Restore from an encrypted backup”).",
        )
        .weak(),
    );
    text_field(ui, "Backup file to write", &mut form.export_path, false);
    text_field(ui, "Backup passphrase", &mut form.export_pass, true);
    strength_hint(ui, &form.export_pass);
    // The same rule as for a new profile (cairn-core): the backup is only as safe as this.
    let policy = passphrase_policy(&form.export_pass);
    if let (Err(weak), false) = (&policy, form.export_pass.is_empty()) {
        ui.label(RichText::new(capitalized(&weak.to_string())).weak());
    }
    let confirm = text_field(
        ui,
        "Backup passphrase again",
        &mut form.export_confirm,
        true,
    );
    let enter = confirm.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    let matches = *form.export_pass == *form.export_confirm;
    if !matches && !form.export_confirm.is_empty() {
        ui.colored_label(ui.visuals().error_fg_color, "The passphrases do not match.");
    }
    let ready = !form.export_path.trim().is_empty() && policy.is_ok() && matches;
    let clicked = ui
        .add_enabled(ready, egui::Button::new("Export backup"))
        .clicked();
    if clicked || (enter && ready) {
        let cmd = Command::Export {
            file: form.export_path.trim().into(),
            passphrase: Zeroizing::new(form.export_pass.to_string()),
        };
        form.export_pass = Zeroizing::default();
        form.export_confirm = Zeroizing::default();
        return Some(cmd);
    }
    None
}

/// Shortcut list shown in settings.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("Enter", "Send the message"),
    ("Shift+Enter", "New line in the message"),
    ("Ctrl+F", "Search messages"),
    ("Alt+Up / Alt+Down", "Previous / next chat"),
    ("Ctrl+N", "Add contact"),
    ("Ctrl+,", "Settings"),
    ("Ctrl+L", "Lock"),
    ("Esc", "Close search or pane"),
];

fn section(ui: &mut Ui, title: &str) {
    ui.add_space(14.0);
    ui.label(RichText::new(title).strong().size(16.0));
    ui.separator();
}
