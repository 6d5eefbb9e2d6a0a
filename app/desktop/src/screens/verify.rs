//! Verify a contact: the shared safety number in groups and as a QR code;
//! "They match" after comparing both screens side by side, a field for the
//! number the other side reads out or pastes, or a picture of their QR code
//! dropped on the pane ("Mark as verified" and the picture only succeed when
//! the number matches: the core compares, in constant time); and a way to
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
    /// QR texture of our safety-number payload (§13).
    pub qr: QrTexture,
    /// That payload, once the backend computed it: (contact, the safety
    /// number it belongs to, payload).
    pub qr_payload: Option<(cairn_core::store::ContactId, String, Vec<u8>)>,
    /// The payload asked for (contact, safety number), so it is asked once.
    pub qr_asked: Option<(cairn_core::store::ContactId, String)>,
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
    let mut ask_qr = false;
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
            match &form.qr_payload {
                Some((id, digits, payload)) if *id == c.id && *digits == c.safety_number => {
                    let texture = form.qr.get(ui.ctx(), "safety-qr", payload);
                    qr(ui, texture, 170.0, "QR code of the safety number");
                }
                _ => {
                    ui.add_sized([170.0, 170.0], egui::Spinner::new());
                    ask_qr = form.qr_asked.as_ref() != Some(&(c.id, c.safety_number.clone()));
                }
            }
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
        drop_zone(ui, c.id, &c.name, &mut action);
        ui.add_space(14.0);
        ui.label(RichText::new("Or type or paste the number they read out to you:").weak());
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
    if ask_qr && matches!(action, VerifyAction::None) {
        form.qr_asked = Some((c.id, c.safety_number.clone()));
        action = VerifyAction::Command(Command::LoadSafetyQr { contact: c.id });
    }
    action
}

/// Where a screenshot or photo of the contact's QR code can be dropped: the
/// number is read from it off the UI thread ([`Command::VerifyImage`]).
fn drop_zone(
    ui: &mut Ui,
    contact: cairn_core::store::ContactId,
    name: &str,
    action: &mut VerifyAction,
) {
    let (hovering, dropped) = ui.input(|i| {
        (
            !i.raw.hovered_files.is_empty(),
            i.raw.dropped_files.first().map(|f| f.path().to_path_buf()),
        )
    });
    if let Some(path) = dropped {
        *action = VerifyAction::Command(Command::VerifyImage { contact, path });
    }
    let stroke = if hovering {
        ui.visuals().selection.stroke
    } else {
        ui.visuals().widgets.noninteractive.bg_stroke
    };
    egui::Frame::group(ui.style())
        .stroke(stroke)
        .inner_margin(egui::Margin::same(10))
        .show(ui, |ui| {
            ui.set_min_width(ui.available_width().min(420.0));
            let text = if hovering {
                "Drop to read the QR code".to_owned()
            } else {
                format!(
                    "Or drop a screenshot or photo of {name}'s QR code here (PNG or JPEG): \
                     Cairn reads the number from it and compares."
                )
            };
            ui.label(RichText::new(text).weak());
        });
}
