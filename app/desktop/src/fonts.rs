//! Fonts for every script a user may type. egui's built-in fonts cover Latin,
//! Greek, Cyrillic and its symbols; Chinese, Japanese, Korean, Hebrew and
//! Arabic come from the system's fonts, added as fallbacks behind them
//! (`scripts/setup` installs `fonts-droid-fallback`, `fonts-nanum` and
//! `fonts-dejavu-core` on Debian; Noto fonts are used when present), and
//! last from subsets compiled into the binary (`assets/fonts/`, 2.4 MB: the
//! common characters of each script), so a machine without any of those
//! still shows text, not boxes. egui lays out right-to-left runs in reading
//! order and joins Arabic letters (seen in `docs/screenshots/05-chat.png`);
//! the fonts only have to exist.

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

/// The last resort, compiled in: subsets of Droid Sans Fallback (Han, kana),
/// NanumGothic (Hangul) and DejaVu Sans (Hebrew, Arabic), renamed; what they
/// hold and their licences: `assets/fonts/README.md`.
const BUNDLED: &[(&str, &[u8])] = &[
    (
        "cairn-fallback-cjk",
        include_bytes!("../../../assets/fonts/CairnFallbackCJK.ttf"),
    ),
    (
        "cairn-fallback-hangul",
        include_bytes!("../../../assets/fonts/CairnFallbackHangul.ttf"),
    ),
    (
        "cairn-fallback-rtl",
        include_bytes!("../../../assets/fonts/CairnFallbackRTL.ttf"),
    ),
];

/// egui's fonts with every system fallback found, then the bundled ones,
/// appended to both families.
pub fn with_fallbacks() -> FontDefinitions {
    let mut defs = FontDefinitions::default();
    for (name, path) in SYSTEM_FALLBACKS {
        if let Ok(bytes) = std::fs::read(path) {
            append(&mut defs, name, FontData::from_owned(bytes));
        }
    }
    for (name, bytes) in BUNDLED {
        append(&mut defs, name, FontData::from_static(bytes));
    }
    defs
}

/// egui's fonts with only the bundled fallbacks: what a machine without any
/// of the system fonts shows.
pub fn with_bundled_fallbacks() -> FontDefinitions {
    let mut defs = FontDefinitions::default();
    for (name, bytes) in BUNDLED {
        append(&mut defs, name, FontData::from_static(bytes));
    }
    defs
}

fn append(defs: &mut FontDefinitions, name: &str, data: FontData) {
    defs.font_data.insert(name.to_owned(), Arc::new(data));
    for family in [FontFamily::Proportional, FontFamily::Monospace] {
        defs.families
            .entry(family)
            .or_default()
            .push(name.to_owned());
    }
}

/// Loads the fallbacks on a thread of their own (a CJK font is megabytes:
/// the window must not wait for the disk) and installs them when read.
pub fn load_in_background(ctx: egui::Context) {
    let spawned = std::thread::Builder::new()
        .name("cairn-fonts".into())
        .spawn(move || {
            ctx.set_fonts(with_fallbacks());
            ctx.request_repaint();
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "fallback fonts not loaded");
    }
}
