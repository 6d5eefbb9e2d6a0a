//! At the smallest window the app allows (720×480) nothing is cut off at the
//! right edge: Settings fits its lines to the width, and Add contact stacks
//! its two columns so the invite's QR code keeps a scannable size.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use egui_kittest::kittest::Queryable;

use crate::support::{app_sized, onboard, settle, wait_for};

const WIDTH: f32 = 720.0;

#[test]
fn settings_and_add_contact_fit_the_smallest_window() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app_sized(dir.path(), egui::vec2(WIDTH, 480.0));
    onboard(&mut h, "Alice", "alice passphrase 123", None);

    h.get_by_label("⚙ Settings").click();
    settle(&mut h);
    for button in ["Add relay", "Sync now", "Copy", "Save name"] {
        let node = h.get_by_label(button);
        node.scroll_to_me();
        settle(&mut h);
        let right = h.get_by_label(button).rect().right();
        assert!(right <= WIDTH, "{button} ends at {right}, past the window");
    }

    h.get_by_label("➕ Add contact").click();
    wait_for(&mut h, "invite", |h| h.state().invite().is_some());
    settle(&mut h);
    let code = h.get_by_label("QR code of your invite").rect();
    assert!(code.width() >= 300.0, "the code shrank to {}", code.width());
    assert!(code.right() <= WIDTH);
}
