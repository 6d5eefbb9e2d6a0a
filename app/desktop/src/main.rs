//! `cairn`: the desktop messenger.

fn main() -> eframe::Result<()> {
    cairn_desktop::run(cairn_desktop::AppOptions::from_env())
}
