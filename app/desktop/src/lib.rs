//! Cairn desktop: the egui window over `cairn_core`.
//!
//! The UI thread only draws and sends [`commands::Command`]s; a background
//! tokio runtime ([`backend`]) owns the client, relay connections, the
//! built-in relay and the encrypted profile, and answers with
//! [`commands::Event`]s plus a repaint request. The clock is injected
//! ([`clock::Clock`]) so tests are deterministic.
#![deny(missing_docs)]

pub mod app;
pub mod backend;
pub mod chat;
pub mod clock;
pub mod commands;
mod events;
pub mod fonts;
pub mod icon;
mod notify;
pub mod prefs;
pub mod screens;
mod shortcuts;
pub mod widgets;

use std::sync::Arc;

pub use app::{AppOptions, CairnApp, Pane, Phase};

/// Opens the window and runs until it is closed.
pub fn run(options: AppOptions) -> eframe::Result<()> {
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Cairn")
        .with_app_id("cairn")
        .with_inner_size([1100.0, 720.0])
        .with_min_inner_size([720.0, 480.0]);
    if let Some(icon) = icon::icon_data() {
        viewport = viewport.with_icon(Arc::new(icon));
    }
    let native = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    eframe::run_native(
        "Cairn",
        native,
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            fonts::load_in_background(ctx.clone());
            let app = CairnApp::new(options, Arc::new(move || ctx.request_repaint()))?;
            Ok(Box::new(app))
        }),
    )
}
