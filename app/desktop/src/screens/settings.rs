//! Settings: profile, relays (status and pins), appearance, notifications,
//! encrypted backup, lock, and the keyboard shortcuts.

use egui::{Color32, RichText, Ui};
use zeroize::Zeroizing;

use crate::commands::{Command, ProfileInfo, RelayHealth, RelayStatus};
use crate::prefs::{Prefs, ThemeChoice};
use crate::widgets::text_field;

/// Form state of the settings pane.
#[derive(Default)]
pub struct SettingsForm {
    /// Backup target file.
    pub export_path: String,
    /// Passphrase for the backup.
    pub export_pass: Zeroizing<String>,
}

/// Inputs of the settings pane.
pub struct SettingsView<'a> {
    /// Who we are.
    pub profile: Option<&'a ProfileInfo>,
    /// Relays in use.
    pub relays: &'a [RelayStatus],
    /// Built-in relay address, if running.
    pub local_relay: Option<&'a str>,
    /// Envelopes waiting for a relay.
    pub outbox: usize,
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
            ui.heading("Settings");
            if let Some(p) = view.profile {
                ui.label(format!(
                    "Signed in as {} · profile in {}",
                    p.name,
                    p.dir.display()
                ));
            }
            ui.add_space(10.0);
            section(ui, "Relays");
            egui::Grid::new("relays")
                .striped(true)
                .spacing([14.0, 6.0])
                .show(ui, |ui| {
                    ui.label(RichText::new("Relay").weak());
                    ui.label(RichText::new("Certificate pin").weak());
                    ui.label(RichText::new("Status").weak());
                    ui.end_row();
                    for r in view.relays {
                        let name = if r.home {
                            format!("{} (home)", r.address)
                        } else {
                            r.address.clone()
                        };
                        ui.monospace(name);
                        let pin: String = r.pin.chars().take(16).collect();
                        ui.monospace(if pin.is_empty() {
                            "—".to_owned()
                        } else {
                            format!("{pin}…")
                        })
                        .on_hover_text(&r.pin);
                        let (text, color) = match &r.health {
                            RelayHealth::Connected => (
                                "✔ connected".to_owned(),
                                Color32::from_rgb(0x2e, 0x9b, 0x57),
                            ),
                            RelayHealth::Unknown => (
                                "… not contacted yet".to_owned(),
                                ui.visuals().weak_text_color(),
                            ),
                            RelayHealth::Failed(e) => {
                                (format!("✖ unreachable: {e}"), ui.visuals().error_fg_color)
                            }
                        };
                        ui.colored_label(color, text);
                        ui.end_row();
                    }
                });
            if view.outbox > 0 {
                ui.label(format!(
                    "{} message(s) waiting to be sent; retried automatically.",
                    view.outbox
                ));
            }
            if ui.button("Sync now").clicked() {
                out = Some(Command::SyncNow);
            }
            if let Some(address) = view.local_relay {
                ui.horizontal(|ui| {
                    ui.label("Built-in relay:");
                    ui.monospace(address);
                    if ui.small_button("Copy").clicked() {
                        ui.ctx().copy_text(address.to_owned());
                    }
                });
            }
            section(ui, "Appearance");
            ui.horizontal(|ui| {
                ui.radio_value(&mut prefs.theme, ThemeChoice::System, "Follow system");
                ui.radio_value(&mut prefs.theme, ThemeChoice::Light, "Light");
                ui.radio_value(&mut prefs.theme, ThemeChoice::Dark, "Dark");
            });
            section(ui, "Notifications");
            ui.checkbox(
                &mut prefs.notifications,
                "Notify me about new messages when Cairn is in the background",
            );
            section(ui, "Backup");
            ui.label(
                RichText::new(
                    "An encrypted copy of your whole profile: contacts, keys and history.",
                )
                .weak(),
            );
            text_field(ui, "Backup file to write", &mut form.export_path, false);
            text_field(ui, "Backup passphrase", &mut form.export_pass, true);
            let ready = !form.export_path.trim().is_empty() && !form.export_pass.is_empty();
            if ui
                .add_enabled(ready, egui::Button::new("Export backup"))
                .clicked()
            {
                out = Some(Command::Export {
                    file: form.export_path.trim().into(),
                    passphrase: Zeroizing::new(form.export_pass.to_string()),
                });
            }
            section(ui, "Security");
            if ui.button("🔒 Lock Cairn").on_hover_text("Ctrl+L").clicked() {
                out = Some(Command::Lock);
            }
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
        });
    out
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
