//! Fonts for every script a user may type. egui's built-in fonts cover Latin,
//! Greek, Cyrillic and its symbols; Chinese, Japanese, Korean, Hebrew and
//! Arabic come from the system's fonts, added as fallbacks behind them
//! (`scripts/setup` installs `fonts-droid-fallback`, `fonts-nanum` and
//! `fonts-dejavu-core` on Debian; Noto fonts are used when present). egui
//! lays out right-to-left runs in reading order and joins Arabic letters
//! (seen in `docs/screenshots/05-chat.png`); the fonts only have to exist.

use std::sync::Arc;

use egui::{FontData, FontDefinitions, FontFamily};

/// Candidate fallback fonts, in the order they are consulted; missing files
/// are skipped.
const SYSTEM_FALLBACKS: &[(&str, &str)] = &[
    (
        "noto-cjk",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    ),
    (
        "noto-hebrew",
        "/usr/share/fonts/truetype/noto/NotoSansHebrew-Regular.ttf",
    ),
    (
        "noto-arabic",
        "/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",
    ),
    (
        "dejavu-sans",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    ),
    (
        "droid-fallback",
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    ),
    // Droid Sans Fallback has no Hangul.
    (
        "nanum-gothic",
        "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    ),
];

/// egui's fonts with every system fallback found appended to both families;
/// `None` if none was found.
pub fn with_system_fallbacks() -> Option<FontDefinitions> {
    let mut defs = FontDefinitions::default();
    let mut found = false;
    for (name, path) in SYSTEM_FALLBACKS {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        defs.font_data
            .insert((*name).to_owned(), Arc::new(FontData::from_owned(bytes)));
        for family in [FontFamily::Proportional, FontFamily::Monospace] {
            defs.families
                .entry(family)
                .or_default()
                .push((*name).to_owned());
        }
        found = true;
    }
    found.then_some(defs)
}

/// Loads the fallbacks on a thread of their own (a CJK font is megabytes:
/// the window must not wait for the disk) and installs them when read.
pub fn load_in_background(ctx: egui::Context) {
    let spawned = std::thread::Builder::new()
        .name("cairn-fonts".into())
        .spawn(move || {
            if let Some(defs) = with_system_fallbacks() {
                ctx.set_fonts(defs);
                ctx.request_repaint();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "fallback fonts not loaded");
    }
}
