//! Add contact: our invite (text and QR code) and accepting someone else's.

use cairn_core::client::OpenInvite;
use egui::{RichText, Ui};

use crate::commands::Command;
use crate::widgets::{QrTexture, qr, text_field};

/// Form state of the add-contact pane.
#[derive(Default)]
pub struct AddContactForm {
    /// Our current invite link, once created.
    pub invite: Option<String>,
    /// An invite is being created.
    pub creating: bool,
    /// The pasted invite.
    pub pasted: String,
    /// Name for the new contact.
    pub name: String,
    /// QR texture of `invite`.
    pub qr: QrTexture,
    /// Why creating the invite failed.
    pub error: Option<String>,
    /// Relay the next invite's mailbox goes on (`None`: the home relay).
    pub relay: Option<String>,
    /// A pasted invite is being accepted: the fields stay until it succeeds,
    /// so a failure (relay down, link already used) loses nothing typed.
    pub accepting: bool,
    /// Why accepting the pasted invite failed (shown under its form).
    pub accept_error: Option<String>,
    /// Our invites nobody has used yet, oldest first.
    pub open: Vec<OpenInvite>,
}

impl AddContactForm {
    /// The open invites changed: one that was used or revoked leaves the
    /// screen, and with none shown the newest open one is shown rather
    /// than a new mailbox created.
    pub fn set_open(&mut self, open: Vec<OpenInvite>) {
        if let Some(shown) = &self.invite
            && !open.iter().any(|i| &i.uri == shown)
        {
            self.invite = None;
        }
        if self.invite.is_none() && !self.creating {
            self.invite = open.last().map(|i| i.uri.clone());
        }
        self.open = open;
    }
}

/// Narrower than this, the pane shows one column instead of two.
const STACK_BELOW: f32 = 640.0;

/// Draws the pane; `extra_relays` can hold the invite's mailbox instead of
/// the home relay. Returns a command to send.
pub fn show(
    ui: &mut Ui,
    form: &mut AddContactForm,
    extra_relays: &[String],
    now_secs: u64,
) -> Option<Command> {
    let mut out = None;
    if form
        .relay
        .as_ref()
        .is_some_and(|r| !extra_relays.contains(r))
    {
        form.relay = None;
    }
    if form.invite.is_none() && !form.creating {
        form.creating = true;
        out = Some(Command::CreateInvite {
            relay: form.relay.clone(),
        });
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.heading("Add contact");
            ui.add_space(8.0);
            let mut cmds = Vec::new();
            if ui.available_width() >= STACK_BELOW {
                ui.columns(2, |cols| {
                    if let [left, right] = cols {
                        cmds.push(own_invite(left, form, extra_relays));
                        cmds.push(open_invites(left, form, now_secs));
                        cmds.push(accept(right, form));
                    }
                });
            } else {
                // A small window: one column, so the code keeps its size.
                cmds.push(own_invite(ui, form, extra_relays));
                ui.add_space(12.0);
                cmds.push(accept(ui, form));
                ui.add_space(12.0);
                cmds.push(open_invites(ui, form, now_secs));
            }
            if let Some(cmd) = cmds.into_iter().flatten().last() {
                out = Some(cmd);
            }
        });
    out
}

fn own_invite(ui: &mut Ui, form: &mut AddContactForm, extra_relays: &[String]) -> Option<Command> {
    let mut out = None;
    ui.label(RichText::new("Your invite").strong());
    ui.label(RichText::new("Send this link to one person, or let them scan the code. It works once and expires in 7 days.").weak());
    ui.add_space(4.0);
    match form.invite.clone() {
        Some(invite) => {
            let texture = form.qr.get(ui.ctx(), "invite-qr", invite.as_bytes());
            // A short link (PROTOCOL.md §7.1) is QR version 7 for a typical
            // host, 16 at most: 170 points still give two pixels per module.
            let side = ui.available_width().clamp(170.0, 380.0);
            qr(ui, texture, side, "QR code of your invite");
            ui.add_space(4.0);
            let label = ui.label(format!("Your invite link ({} characters)", invite.len()));
            let mut shown: &str = &invite; // read-only, still selectable
            ui.add(
                egui::TextEdit::singleline(&mut shown)
                    .desired_width(f32::INFINITY)
                    .font(egui::TextStyle::Monospace),
            )
            .labelled_by(label.id)
            .on_hover_text("Select and copy, or use “Copy invite”");
            ui.horizontal(|ui| {
                crate::widgets::copy_button(ui, "📋 Copy invite", &invite, false);
                if ui.button("New invite").clicked() {
                    form.creating = true;
                    out = Some(Command::CreateInvite {
                        relay: form.relay.clone(),
                    });
                }
            });
            if !extra_relays.is_empty() {
                let before = form.relay.clone();
                let shown = |r: &Option<String>| {
                    r.as_deref().map_or("your home relay".to_owned(), |r| {
                        r.split_once('#').map_or(r, |(a, _)| a).to_owned()
                    })
                };
                ui.horizontal(|ui| {
                    ui.label("Invite on:");
                    egui::ComboBox::from_id_salt("invite-relay")
                        .selected_text(shown(&form.relay))
                        .show_ui(ui, |ui| {
                            ui.selectable_value(&mut form.relay, None, shown(&None));
                            for r in extra_relays {
                                let choice = Some(r.clone());
                                let text = shown(&choice);
                                ui.selectable_value(&mut form.relay, choice, text);
                            }
                        });
                });
                if form.relay != before {
                    form.creating = true;
                    form.invite = None;
                    out = Some(Command::CreateInvite {
                        relay: form.relay.clone(),
                    });
                }
            }
        }
        None => match form.error.clone() {
            Some(error) => {
                ui.colored_label(ui.visuals().error_fg_color, error);
                if ui.button("Try again").clicked() {
                    form.error = None;
                    out = Some(Command::CreateInvite {
                        relay: form.relay.clone(),
                    });
                }
            }
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Creating your invite on the relay…");
                });
            }
        },
    }
    out
}

/// The list of our unused invites: which is shown, when each expires, and
/// a way to withdraw one (a link sent to the wrong person).
fn open_invites(ui: &mut Ui, form: &mut AddContactForm, now_secs: u64) -> Option<Command> {
    if form.open.is_empty() {
        return None;
    }
    let mut out = None;
    ui.add_space(12.0);
    ui.label(RichText::new(format!("Open invites ({})", form.open.len())).strong());
    ui.label(
        RichText::new(
            "Each works once. Revoke one you sent to the wrong person: nobody can use it then.",
        )
        .weak(),
    );
    for invite in &form.open {
        let short = format!(
            "{:02x}{:02x}{:02x}",
            invite.id[0], invite.id[1], invite.id[2]
        );
        let shown = form.invite.as_deref() == Some(invite.uri.as_str());
        ui.horizontal(|ui| {
            let name = if shown {
                format!("Invite {short} (shown)")
            } else {
                format!("Invite {short}")
            };
            ui.monospace(name);
            ui.label(RichText::new(expires_in(invite.expires_at, now_secs)).weak());
            if !shown && ui.small_button(format!("Show {short}")).clicked() {
                form.invite = Some(invite.uri.clone());
            }
            if ui.small_button(format!("Revoke {short}")).clicked() {
                out = Some(Command::RevokeInvite { id: invite.id });
            }
        });
    }
    out
}

/// "expires in 6 days", "… in 5 hours", "… in 12 minutes".
fn expires_in(expires_at: u64, now_secs: u64) -> String {
    let left = expires_at.saturating_sub(now_secs);
    let (n, unit) = match left {
        0..60 => return "expires in under a minute".to_owned(),
        60..3_600 => (left.div_ceil(60), "minute"),
        3_600..86_400 => (left.div_ceil(3_600), "hour"),
        _ => (left.div_ceil(86_400), "day"),
    };
    let s = if n == 1 { "" } else { "s" };
    format!("expires in {n} {unit}{s}")
}

fn accept(ui: &mut Ui, form: &mut AddContactForm) -> Option<Command> {
    let mut out = None;
    ui.label(RichText::new("Accept an invite").strong());
    ui.label(
        RichText::new("Paste the link someone sent you, and choose how their name appears here.")
            .weak(),
    );
    ui.add_space(4.0);
    text_field(ui, "Invite link", &mut form.pasted, false);
    let name = text_field(ui, "Contact name", &mut form.name, false);
    let enter = name.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
    ui.add_space(4.0);
    let ready =
        form.pasted.trim().starts_with("cairn:") && !form.name.trim().is_empty() && !form.accepting;
    let clicked = ui
        .add_enabled(ready, egui::Button::new("Add contact"))
        .clicked();
    if let Some(error) = &form.accept_error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    if form.accepting {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Contacting the relay in the invite…");
        });
    }
    if clicked || (enter && ready) {
        form.accepting = true;
        form.accept_error = None;
        out = Some(Command::AcceptInvite {
            invite: form.pasted.trim().to_owned(),
            name: form.name.trim().to_owned(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::expires_in;

    #[test]
    fn expiry_reads_in_whole_units_rounded_up() {
        assert_eq!(expires_in(1_000 + 7 * 86_400, 1_000), "expires in 7 days");
        assert_eq!(expires_in(1_000 + 7 * 86_400, 1_010), "expires in 7 days");
        assert_eq!(expires_in(1_000 + 86_400, 1_000), "expires in 1 day");
        assert_eq!(expires_in(1_000 + 3_600, 1_000), "expires in 1 hour");
        assert_eq!(expires_in(1_000 + 90, 1_000), "expires in 2 minutes");
        assert_eq!(expires_in(1_000, 2_000), "expires in under a minute");
    }
}
