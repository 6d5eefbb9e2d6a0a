//! The app icon: a cairn of three stones on a dusk-blue rounded square.
//!
//! [`render`] draws it (so the artwork is reproducible, no image editor);
//! `cargo run -p cairn-desktop --example make_icon` writes `assets/icon.png`,
//! which the window loads at start.

/// The PNG shipped in the repository's top-level `assets/`.
pub const ICON_PNG: &[u8] = include_bytes!("../../../assets/icon.png");

/// The window icon decoded from [`ICON_PNG`].
pub fn icon_data() -> Option<egui::IconData> {
    eframe::icon_data::from_png_bytes(ICON_PNG).ok()
}

/// RGBA pixels of a `size`×`size` icon.
pub fn render(size: u32) -> Vec<u8> {
    let s = size as f32;
    let mut px = vec![0u8; (size * size * 4) as usize];
    // (centre x, centre y, half width, half height, colour) of each stone, bottom up.
    let stones = [
        (0.50, 0.72, 0.30, 0.11, [0xd8, 0xcf, 0xc0]),
        (0.48, 0.51, 0.22, 0.095, [0xe9, 0xe2, 0xd6]),
        (0.52, 0.33, 0.14, 0.08, [0xf6, 0xf2, 0xea]),
    ];
    for y in 0..size {
        for x in 0..size {
            let (fx, fy) = ((x as f32 + 0.5) / s, (y as f32 + 0.5) / s);
            let bg = rounded_square(fx, fy, 0.08, 0.2);
            if bg <= 0.0 {
                continue;
            }
            // Vertical gradient: dusk blue to deep teal.
            let t = fy;
            let mut c = [
                lerp(0x2b as f32, 0x1b as f32, t),
                lerp(0x4c as f32, 0x6a as f32, t),
                lerp(0x7e as f32, 0x6f as f32, t),
            ];
            for (cx, cy, rx, ry, col) in stones {
                // Shadow below each stone, then the stone with a light top.
                let shadow = ellipse(fx, fy - 0.02, cx, cy, rx, ry);
                if shadow > 0.0 {
                    for ch in &mut c {
                        *ch *= 1.0 - 0.35 * shadow;
                    }
                }
                let a = ellipse(fx, fy, cx, cy, rx, ry);
                if a > 0.0 {
                    let shade = 1.0 - 0.22 * ((fy - (cy - ry)) / (2.0 * ry)).clamp(0.0, 1.0);
                    for (ch, v) in c.iter_mut().zip(col) {
                        *ch = lerp(*ch, v as f32 * shade, a);
                    }
                }
            }
            let i = ((y * size + x) * 4) as usize;
            if let Some(p) = px.get_mut(i..i + 4) {
                p.copy_from_slice(&[c[0] as u8, c[1] as u8, c[2] as u8, (bg * 255.0) as u8]);
            }
        }
    }
    px
}

fn lerp(a: f32, b: f32, t: f32) -> f32 {
    a + (b - a) * t
}

/// Coverage (0..1, antialiased) of an ellipse.
fn ellipse(x: f32, y: f32, cx: f32, cy: f32, rx: f32, ry: f32) -> f32 {
    let d = ((x - cx) / rx).powi(2) + ((y - cy) / ry).powi(2);
    ((1.0 - d.sqrt()) * rx.min(ry) * 400.0).clamp(0.0, 1.0)
}

/// Coverage of a rounded square inset by `margin` with corner `radius`.
fn rounded_square(x: f32, y: f32, margin: f32, radius: f32) -> f32 {
    let (lo, hi) = (margin + radius, 1.0 - margin - radius);
    let dx = (lo - x).max(x - hi).max(0.0);
    let dy = (lo - y).max(y - hi).max(0.0);
    ((radius - (dx * dx + dy * dy).sqrt()) * 400.0).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icon_asset_decodes_and_has_transparent_corners() {
        let icon = icon_data().unwrap();
        assert!(icon.width >= 64);
        assert_eq!(icon.rgba[3], 0);
        let px = render(64);
        assert_eq!(px.len(), 64 * 64 * 4);
        assert_eq!(px[3], 0);
        assert_eq!(px[(32 * 64 + 32) * 4 + 3], 255);
    }
}
