//! Add contact: our invite (text and QR code) and accepting someone else's.

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
}

/// Draws the pane; returns a command to send.
pub fn show(ui: &mut Ui, form: &mut AddContactForm) -> Option<Command> {
    let mut out = None;
    if form.invite.is_none() && !form.creating {
        form.creating = true;
        out = Some(Command::CreateInvite);
    }
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.heading("Add contact");
            ui.add_space(8.0);
            ui.columns(2, |cols| {
                if let [left, right] = cols {
                    if let Some(cmd) = own_invite(left, form) {
                        out = Some(cmd);
                    }
                    if let Some(cmd) = accept(right, form) {
                        out = Some(cmd);
                    }
                }
            });
        });
    out
}

fn own_invite(ui: &mut Ui, form: &mut AddContactForm) -> Option<Command> {
    let mut out = None;
    ui.label(RichText::new("Your invite").strong());
    ui.label(RichText::new("Send this link to one person, or let them scan the code. It works once and expires in 7 days.").weak());
    ui.add_space(4.0);
    match form.invite.clone() {
        Some(invite) => {
            let texture = form.qr.get(ui.ctx(), "invite-qr", &invite);
            qr(ui, texture, 170.0, "QR code of your invite");
            let label = ui.label("Your invite link");
            let mut shown = invite.clone();
            egui::ScrollArea::vertical()
                .id_salt("invite-text")
                .max_height(80.0)
                .show(ui, |ui| {
                    ui.add(
                        egui::TextEdit::multiline(&mut shown)
                            .desired_rows(4)
                            .desired_width(f32::INFINITY)
                            .font(egui::TextStyle::Small),
                    )
                    .labelled_by(label.id);
                });
            ui.horizontal(|ui| {
                if ui.button("📋 Copy invite").clicked() {
                    ui.ctx().copy_text(invite.clone());
                }
                if ui.button("New invite").clicked() {
                    form.creating = true;
                    out = Some(Command::CreateInvite);
                }
            });
        }
        None => match form.error.clone() {
            Some(error) => {
                ui.colored_label(ui.visuals().error_fg_color, error);
                if ui.button("Try again").clicked() {
                    form.error = None;
                    out = Some(Command::CreateInvite);
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

fn accept(ui: &mut Ui, form: &mut AddContactForm) -> Option<Command> {
    let mut out = None;
    ui.label(RichText::new("Accept an invite").strong());
    ui.label(
        RichText::new("Paste the link someone sent you, and choose how their name appears here.")
            .weak(),
    );
    ui.add_space(4.0);
    text_field(ui, "Invite link", &mut form.pasted, false);
    text_field(ui, "Contact name", &mut form.name, false);
    ui.add_space(4.0);
    let ready = form.pasted.trim().starts_with("cairn:") && !form.name.trim().is_empty();
    if ui
        .add_enabled(ready, egui::Button::new("Add contact"))
        .clicked()
    {
        out = Some(Command::AcceptInvite {
            invite: form.pasted.trim().to_owned(),
            name: form.name.trim().to_owned(),
        });
        form.pasted.clear();
        form.name.clear();
    }
    out
}
