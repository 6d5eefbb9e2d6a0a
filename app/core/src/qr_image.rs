//! A contact's safety-number QR code read from a picture (a screenshot they
//! sent, a photo of their screen), so verifying needs no typing. The payload
//! is PROTOCOL.md §13's: directional, so a picture of one's own screen never
//! verifies ([`Client::verify_qr`](crate::client::Client::verify_qr)
//! compares, in constant time). Used by the desktop (a picture dropped on the
//! verify pane) and `cairn-cli verify --qr-image`.
//!
//! Decoding runs on untrusted input, so it is bounded: at most
//! [`MAX_IMAGE_BYTES`] read and [`MAX_PIXELS`] decoded. Blocking: the desktop
//! calls it off the UI thread.

use std::io::Read;
use std::path::Path;

use cairn_protocol::labels::SAFETY_QR_MAGIC;
use thiserror::Error;

/// Largest picture file read: phone photos are a few MiB.
pub const MAX_IMAGE_BYTES: u64 = 32 * 1024 * 1024;

/// Largest picture decoded, in pixels (a 50-megapixel photo): bounds memory.
pub const MAX_PIXELS: u64 = 50_000_000;

/// Why no safety number came out of a picture.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QrImageError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// What the system said.
        reason: String,
    },
    /// Larger than [`MAX_IMAGE_BYTES`] or [`MAX_PIXELS`].
    #[error("the picture is too large to read (at most 32 MiB and 50 megapixels)")]
    TooLarge,
    /// Not a PNG or JPEG picture, or a damaged one.
    #[error("not a picture Cairn can read (PNG or JPEG): {0}")]
    NotAPicture(String),
    /// No readable QR code in it.
    #[error("no QR code found in the picture: try a sharper or closer one")]
    NoCode,
    /// A QR code, but not of a safety number.
    #[error("the QR code in the picture is not a Cairn safety number")]
    NotASafetyNumber,
}

/// Reads the picture at `path` and returns the safety-number QR payload in
/// it (not yet compared with anything). Blocking.
pub fn read_safety_qr(path: &Path) -> Result<Vec<u8>, QrImageError> {
    let read_error = |e: std::io::Error| QrImageError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_IMAGE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    safety_qr_in(&bytes)
}

/// The safety-number QR payload (`CAIRN-SN…`, §13) in a PNG or JPEG picture.
pub fn safety_qr_in(bytes: &[u8]) -> Result<Vec<u8>, QrImageError> {
    if bytes.len() as u64 > MAX_IMAGE_BYTES {
        return Err(QrImageError::TooLarge);
    }
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| QrImageError::NotAPicture(e.to_string()))?;
    // Checked against the header before any pixel is allocated.
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4);
    reader.limits(limits);
    let picture = reader
        .decode()
        .map_err(|e| match e {
            image::ImageError::Limits(_) => QrImageError::TooLarge,
            other => QrImageError::NotAPicture(other.to_string()),
        })?
        .to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        picture.width() as usize,
        picture.height() as usize,
        |x, y| picture.get_pixel(x as u32, y as u32).0[0],
    );
    let mut found_code = false;
    for grid in prepared.detect_grids() {
        let mut payload = Vec::new();
        if grid.decode_to(&mut payload).is_err() {
            continue;
        }
        found_code = true;
        if payload.starts_with(SAFETY_QR_MAGIC) {
            return Ok(payload);
        }
    }
    Err(if found_code {
        QrImageError::NotASafetyNumber
    } else {
        QrImageError::NoCode
    })
}

#[cfg(test)]
mod tests;
