use image::{GrayImage, ImageFormat, Luma};

use super::*;

/// A §13 payload (magic, version, two 32-byte fingerprints).
fn payload() -> Vec<u8> {
    let mut p = SAFETY_QR_MAGIC.to_vec();
    p.push(1);
    p.extend((0..64u8).map(|i| i.wrapping_mul(37)));
    p
}

/// `data` as a QR code picture: `scale` pixels per module, a quiet zone of 4
/// modules, encoded as `format`.
fn picture(data: &[u8], scale: u32, format: ImageFormat) -> Vec<u8> {
    let code = qrcode::QrCode::new(data).unwrap();
    let width = code.width() as u32;
    let side = (width + 8) * scale;
    let colors = code.to_colors();
    let image = GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x / scale, y / scale);
        let dark = (4..width + 4).contains(&mx)
            && (4..width + 4).contains(&my)
            && colors[((my - 4) * width + (mx - 4)) as usize] == qrcode::Color::Dark;
        Luma([if dark { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

#[test]
fn the_payload_comes_out_of_a_screenshot_and_a_photo() {
    let png = picture(&payload(), 4, ImageFormat::Png);
    assert_eq!(safety_qr_in(&png).unwrap(), payload());
    let jpeg = picture(&payload(), 6, ImageFormat::Jpeg);
    assert_eq!(safety_qr_in(&jpeg).unwrap(), payload());
}

#[test]
fn other_pictures_say_what_is_wrong() {
    let link = picture(b"https://example.org/", 4, ImageFormat::Png);
    assert_eq!(safety_qr_in(&link), Err(QrImageError::NotASafetyNumber));
    // The digits as text are not the payload (they read the same on both sides).
    let digits = picture(&[b'7'; 60], 4, ImageFormat::Png);
    assert_eq!(safety_qr_in(&digits), Err(QrImageError::NotASafetyNumber));
    let mut blank = std::io::Cursor::new(Vec::new());
    GrayImage::from_pixel(200, 200, Luma([255]))
        .write_to(&mut blank, ImageFormat::Png)
        .unwrap();
    assert_eq!(safety_qr_in(blank.get_ref()), Err(QrImageError::NoCode));
    assert!(matches!(
        safety_qr_in(b"not a picture at all"),
        Err(QrImageError::NotAPicture(_))
    ));
    let mut cut = picture(&payload(), 4, ImageFormat::Png);
    cut.truncate(cut.len() / 2);
    assert!(matches!(
        safety_qr_in(&cut),
        Err(QrImageError::NotAPicture(_))
    ));
}

#[test]
fn huge_pictures_are_refused_before_decoding() {
    // A PNG whose header claims 100,000 x 100,000 pixels: refused from the
    // header, nothing allocated for its pixels.
    let mut png = picture(&payload(), 1, ImageFormat::Png);
    // IHDR data starts at byte 16 (8 signature, 4 length, 4 type); its CRC
    // follows the 13 data bytes.
    png[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    png[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(safety_qr_in(&png), Err(QrImageError::TooLarge));
    let oversized = vec![0u8; MAX_IMAGE_BYTES as usize + 1];
    assert_eq!(safety_qr_in(&oversized), Err(QrImageError::TooLarge));
}

#[test]
fn a_missing_file_names_itself() {
    let err = read_safety_qr(Path::new("/nonexistent/qr.png")).unwrap_err();
    assert!(
        matches!(&err, QrImageError::Read { path, .. } if path == "/nonexistent/qr.png"),
        "{err}"
    );
}

/// CRC-32 (IEEE) of PNG chunks, for the forged header above.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
