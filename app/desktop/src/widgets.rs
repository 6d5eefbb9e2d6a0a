//! Small shared widgets: labelled inputs (every input has an accessible
//! name), the QR code texture, digit grouping and the passphrase strength hint.

use cairn_core::profile::passphrase_strength;
use egui::{Color32, ColorImage, RichText, TextureHandle, TextureOptions, Ui};

/// A labelled single-line text field; the label is its accessible name.
pub fn text_field(ui: &mut Ui, label: &str, value: &mut String, password: bool) -> egui::Response {
    let label = ui.label(label);
    ui.add(
        egui::TextEdit::singleline(value)
            .password(password)
            .desired_width(f32::INFINITY),
    )
    .labelled_by(label.id)
}

/// How long "Copied" stays next to a copy button, in seconds.
const COPIED_SECS: f64 = 2.0;

/// A button that puts `text` on the system clipboard (eframe's, X11 and
/// Wayland) and says "✔ Copied" beside itself for a moment, so the user
/// knows it worked. Returns true when clicked.
pub fn copy_button(ui: &mut Ui, label: &str, text: &str, small: bool) -> bool {
    let button = if small {
        ui.small_button(label)
    } else {
        ui.button(label)
    };
    let key = button.id.with("copied");
    let now = ui.input(|i| i.time);
    if button.clicked() {
        ui.ctx().copy_text(text.to_owned());
        ui.data_mut(|d| d.insert_temp(key, now));
    }
    let since = ui.data(|d| d.get_temp::<f64>(key));
    if let Some(at) = since.filter(|at| now - at < COPIED_SECS) {
        ui.label(RichText::new("✔ Copied").color(Color32::from_rgb(0x2e, 0x9b, 0x57)));
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_secs_f64(COPIED_SECS - (now - at)));
    }
    button.clicked()
}

/// A QR code rendered once into a texture and kept until its text changes.
#[derive(Default)]
pub struct QrTexture {
    data: Vec<u8>,
    texture: Option<TextureHandle>,
}

impl QrTexture {
    /// The texture for `data`, (re)building it if the data changed.
    pub fn get(&mut self, ctx: &egui::Context, name: &str, data: &[u8]) -> Option<&TextureHandle> {
        if self.data != data || self.texture.is_none() {
            self.data = data.to_owned();
            self.texture =
                qr_image(data).map(|image| ctx.load_texture(name, image, TextureOptions::NEAREST));
        }
        self.texture.as_ref()
    }
}

/// Black-on-white QR modules with a four-module quiet zone, one pixel each.
pub fn qr_image(data: &[u8]) -> Option<ColorImage> {
    let code = qrcode::QrCode::new(data).ok()?;
    let width = code.width();
    let quiet = 4;
    let size = width + 2 * quiet;
    let mut pixels = vec![Color32::WHITE; size * size];
    for (i, color) in code.to_colors().into_iter().enumerate() {
        if color == qrcode::Color::Dark {
            let (x, y) = (i % width + quiet, i / width + quiet);
            if let Some(p) = pixels.get_mut(y * size + x) {
                *p = Color32::BLACK;
            }
        }
    }
    Some(ColorImage::new([size, size], pixels))
}

/// Shows a QR code texture at `side` points, with alt text for screen readers.
pub fn qr(ui: &mut Ui, texture: Option<&TextureHandle>, side: f32, alt: &str) {
    match texture {
        Some(t) => {
            ui.add(
                egui::Image::from_texture(t)
                    .fit_to_exact_size(egui::vec2(side, side))
                    .alt_text(alt),
            );
        }
        None => {
            ui.label("(too long for a QR code)");
        }
    }
}

/// Twelve groups of five digits, as on the other device.
pub fn group_digits(digits: &str) -> Vec<String> {
    let chars: Vec<char> = digits.chars().filter(|c| !c.is_whitespace()).collect();
    chars.chunks(5).map(|c| c.iter().collect()).collect()
}

/// The meter for a passphrase: 0 (empty) to 4 bars, with a word. The bars
/// are the core's score ([`passphrase_strength`]), so the meter and the
/// accept/refuse decision ([`cairn_core::profile::passphrase_policy`]) agree.
pub fn strength(pass: &str) -> (u8, &'static str) {
    if pass.is_empty() {
        return (0, "");
    }
    match passphrase_strength(pass).score {
        0 => (1, "Too easy to guess"),
        1 => (1, "Weak: longer is better"),
        2 => (2, "Fair, but not enough yet"),
        3 => (3, "Strong"),
        _ => (4, "Very strong"),
    }
}

/// Draws the strength bar and its word.
pub fn strength_hint(ui: &mut Ui, pass: &str) {
    let (level, word) = strength(pass);
    if level == 0 {
        return;
    }
    let color = match level {
        1 => Color32::from_rgb(0xd0, 0x45, 0x3a),
        2 => Color32::from_rgb(0xd9, 0x95, 0x2b),
        3 => Color32::from_rgb(0x4c, 0xa8, 0x5b),
        _ => Color32::from_rgb(0x2e, 0x8b, 0x57),
    };
    ui.horizontal(|ui| {
        for i in 1..=4u8 {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(28.0, 6.0), egui::Sense::hover());
            let fill = if i <= level {
                color
            } else {
                ui.visuals().widgets.inactive.bg_fill
            };
            ui.painter().rect_filled(rect, 2.0, fill);
        }
        ui.colored_label(color, word);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strength_grows_with_length_and_variety() {
        assert_eq!(strength("").0, 0);
        assert_eq!(strength("abc").0, 1);
        assert!(strength("correct horse battery staple").0 >= 4);
        // The bars follow the core's rule: what it refuses never shows "Strong".
        assert!(strength("password1234").0 < 3);
    }

    #[test]
    fn digits_group_in_fives() {
        let g = group_digits(&"1234567890".repeat(6));
        assert_eq!(g.len(), 12);
        assert_eq!(g[0], "12345");
    }

    /// PROTOCOL.md §7.1: a short link is 120 characters with a 16-byte relay
    /// host, QR version 7 (45 × 45 modules) at level M; the longest host
    /// (253 bytes) gives version 16. A full invite needs version 37 to 40.
    #[test]
    fn a_short_invite_link_is_a_small_qr_code() {
        use cairn_protocol::envelope::MailboxId;
        use cairn_protocol::identity::Identity;
        use cairn_protocol::invite::{Invite, InviteLink};
        use cairn_protocol::relay_address::{RelayAddress, Transport};
        let long_host = "h".repeat(253);
        for (host, chars, version) in [("relay.example.or", 120, 7), (&long_host[..], 436, 16)] {
            let relay = RelayAddress::new(host, 443, Transport::Tls { pin: [7; 32] }).unwrap();
            let identity = Identity::generate(&mut rand::rng());
            let (invite, _) =
                Invite::create(&identity, relay, MailboxId([1; 32]), 9, &mut rand::rng());
            let uri = InviteLink::of(&invite).to_uri();
            assert_eq!(uri.len(), chars);
            let code = qrcode::QrCode::new(uri.as_bytes()).unwrap();
            assert_eq!(code.version(), qrcode::Version::Normal(version), "{host}");
            assert_eq!(code.error_correction_level(), qrcode::EcLevel::M);
            let full = qrcode::QrCode::new(invite.to_uri().as_bytes()).unwrap();
            assert!(
                matches!(full.version(), qrcode::Version::Normal(v) if v >= 37),
                "{:?}",
                full.version()
            );
        }
    }

    #[test]
    fn qr_has_quiet_zone() {
        let img = qr_image(b"cairn:test").unwrap();
        assert_eq!(img.pixels[0], Color32::WHITE);
        assert!(img.pixels.contains(&Color32::BLACK));
    }
}
