//! Writes the top-level `assets/icon.png` from `cairn_desktop::icon::render`.
#![allow(clippy::expect_used)]

fn main() {
    let size = 256;
    let image = image::RgbaImage::from_raw(size, size, cairn_desktop::icon::render(size))
        .expect("buffer size");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/icon.png");
    image.save(&path).expect("write icon");
    println!("wrote {}", path.display());
}
