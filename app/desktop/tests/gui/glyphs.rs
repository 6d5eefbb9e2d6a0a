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

const OTHER_SCRIPTS: [&str; 6] = [
    "日本語のテキスト",
    "中文消息",
    "繁體中文訊息",
    "한국어 메시지",
    "שלום עולם",
    "مرحبا بالعالم",
];

/// Text in the scripts a user may type renders with real glyphs from the
/// system's fonts and the bundled ones (egui panics on a glyph no font has).
#[test]
fn cjk_hebrew_and_arabic_have_glyphs_from_the_fallbacks() {
    shows(cairn_desktop::fonts::with_fallbacks());
}

/// The same with the bundled fonts alone: a machine with none of the
/// system fonts still shows these scripts.
#[test]
fn the_bundled_fonts_alone_cover_cjk_hebrew_and_arabic() {
    shows(cairn_desktop::fonts::with_bundled_fallbacks());
}

fn shows(defs: egui::FontDefinitions) {
    let mut harness = Harness::new_ui(move |ui| {
        ui.ctx().set_fonts(defs.clone());
        for t in OTHER_SCRIPTS {
            ui.label(t);
            ui.monospace(t);
        }
    });
    harness.step();
    harness.step();
}
