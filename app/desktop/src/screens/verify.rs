//! Verify a contact: the shared safety number in groups and as a QR code;
//! "They match" after comparing both screens side by side, or a field for
//! the number the other side reads out ("Mark as verified" only succeeds
//! when it matches: the core compares, in constant time); and a way to
//! clear a verification.

use egui::{Color32, RichText, Ui};

use cairn_core::client::Verification;

use crate::commands::{Command, ContactSummary};
use crate::widgets::{QrTexture, group_digits, qr, text_field};

/// Form state of the verify pane.
#[derive(Default)]
pub struct VerifyForm {
    /// Digits the user typed or pasted.
    pub theirs: String,
    /// QR texture of the safety number.
    pub qr: QrTexture,
    /// Last mismatch message.
    pub error: Option<String>,
}

/// What the verify pane wants.
#[derive(Debug)]
pub enum VerifyAction {
    /// Nothing.
    None,
    /// Send a command.
    Command(Command),
    /// Back to the chat.
    Back,
}

/// Draws the pane for `contact`.
pub fn show(ui: &mut Ui, contact: &ContactSummary, form: &mut VerifyForm) -> VerifyAction {
    let mut action = VerifyAction::None;
    let c = &contact.contact;
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        ui.horizontal(|ui| {
            if ui.button("Back to chat").clicked() {
                action = VerifyAction::Back;
            }
            ui.heading(format!("Verify {}", c.name));
        });
        ui.label(
            RichText::new(format!(
                "Compare this number with the one on {}'s screen, in person or on a call you trust. \
                 If they match, nobody is reading along.",
                c.name
            ))
            .weak(),
        );
        ui.add_space(10.0);
        if c.verified {
            ui.horizontal(|ui| {
                ui.label(RichText::new("✔ Verified").strong().color(Color32::from_rgb(0x2e, 0x9b, 0x57)));
                if ui.small_button("Clear verification").clicked() {
                    action = VerifyAction::Command(Command::SetVerification {
                        contact: c.id,
                        how: Verification::Cleared,
                    });
                }
            });
        } else {
            ui.label(RichText::new("Not verified yet").strong());
        }
        ui.add_space(6.0);
        ui.horizontal_top(|ui| {
            let groups = group_digits(&c.safety_number);
            ui.vertical(|ui| {
                ui.label(RichText::new("Safety number").small().weak());
                egui::Grid::new("safety-digits").spacing([18.0, 10.0]).show(ui, |ui| {
                    for (i, g) in groups.iter().enumerate() {
                        ui.label(RichText::new(g).monospace().size(22.0));
                        if i % 4 == 3 {
                            ui.end_row();
                        }
                    }
                });
                crate::widgets::copy_button(ui, "📋 Copy number", &groups.join(" "), true);
            });
            ui.add_space(20.0);
            let texture = form.qr.get(ui.ctx(), "safety-qr", &c.safety_number);
            qr(ui, texture, 170.0, "QR code of the safety number");
        });
        if !c.verified {
            ui.add_space(10.0);
            ui.label(format!(
                "Side by side with {}'s screen: is every group of digits the same?",
                c.name
            ));
            if ui.button("✔ They match").clicked() {
                action = VerifyAction::Command(Command::SetVerification {
                    contact: c.id,
                    how: Verification::Compared,
                });
            }
        }
        ui.add_space(14.0);
        ui.label(RichText::new("Or type the number they read out to you:").weak());
        let theirs = text_field(ui, "Their safety number", &mut form.theirs, false);
        let enter = theirs.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if let Some(error) = &form.error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        let ready = form.theirs.chars().filter(char::is_ascii_digit).count() > 0;
        let clicked = ui.add_enabled(ready, egui::Button::new("Mark as verified")).clicked();
        if clicked || (enter && ready) {
            form.error = None;
            action = VerifyAction::Command(Command::Verify {
                contact: c.id,
                digits: form.theirs.clone(),
            });
        }
    });
    action
}
