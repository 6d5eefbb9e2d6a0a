//! Every symbol the UI draws exists in the bundled fonts (egui panics on a
//! missing glyph in tests, and shows a box in the real window).
#![allow(clippy::unwrap_used)]

use cairn_core::store::MessageStatus;
use cairn_desktop::chat::format::status_text;
use cairn_desktop::screens::settings::SHORTCUTS;
use egui_kittest::Harness;

#[test]
fn all_symbols_have_glyphs() {
    let mut texts: Vec<String> = [
        MessageStatus::Pending,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Read,
    ]
    .into_iter()
    .map(|s| status_text(s).to_owned())
    .collect();
    texts.extend(SHORTCUTS.iter().map(|(k, w)| format!("{k} {w}")));
    texts.extend(
        [
            "⚙ Settings",
            "➕ Add contact",
            "🔍 Search",
            "📋 Copy",
            "🔒 Lock",
            "⚠ ℹ ✔ ✖ … · —",
        ]
        .map(str::to_owned),
    );
    let mut harness = Harness::new_ui(move |ui| {
        for t in &texts {
            ui.label(t);
            ui.monospace(t);
        }
    });
    harness.step();
}
