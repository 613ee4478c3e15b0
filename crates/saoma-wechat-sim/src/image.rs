//! PNG pictures: the QR code of the login page and solid-colour avatars.

use qrcode::{Color, EcLevel, QrCode};

/// Pixels per QR module; 4 or more keeps phone cameras and jsQR/zbar happy.
const MODULE_PX: usize = 6;
/// The white border the QR standard asks for, in modules.
const QUIET_ZONE: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("QR encoding failed: {0}")]
    Qr(#[from] qrcode::types::QrError),
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
}

/// A black-on-white QR code of `text` as an 8-bit greyscale PNG.
pub fn qr_png(text: &str) -> Result<Vec<u8>, ImageError> {
    let code = QrCode::with_error_correction_level(text, EcLevel::M)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * MODULE_PX;
    let mut pixels = vec![255u8; side * side];
    for (index, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let left = (index % modules + QUIET_ZONE) * MODULE_PX;
        let top = (index / modules + QUIET_ZONE) * MODULE_PX;
        for row in top..top + MODULE_PX {
            pixels[row * side + left..row * side + left + MODULE_PX].fill(0);
        }
    }
    encode(side, png::ColorType::Grayscale, &pixels)
}

/// A `side`×`side` square of one colour; solid colour compresses to almost nothing.
pub fn solid_png(side: usize, rgb: [u8; 3]) -> Result<Vec<u8>, ImageError> {
    let pixels = rgb.repeat(side * side);
    encode(side, png::ColorType::Rgb, &pixels)
}

/// Parses `#rrggbb`; anything else is WeChat's default-avatar grey.
pub fn parse_color(css: &str) -> [u8; 3] {
    const GREY: [u8; 3] = [0xb2, 0xb2, 0xb2];
    let Some(hex) = css.strip_prefix('#').filter(|hex| hex.len() == 6) else {
        return GREY;
    };
    let channel = |at: usize| u8::from_str_radix(hex.get(at..at + 2)?, 16).ok();
    match (channel(0), channel(2), channel(4)) {
        (Some(r), Some(g), Some(b)) => [r, g, b],
        _ => GREY,
    }
}

fn encode(side: usize, color: png::ColorType, pixels: &[u8]) -> Result<Vec<u8>, ImageError> {
    // Sides are at most a few hundred pixels, far below u32::MAX.
    let side = u32::try_from(side).unwrap_or(u32::MAX);
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_css_colors() {
        assert_eq!(parse_color("#07c160"), [0x07, 0xc1, 0x60]);
        assert_eq!(parse_color("green"), [0xb2, 0xb2, 0xb2]);
        assert_eq!(parse_color("#07c16é"), [0xb2, 0xb2, 0xb2]);
    }

    #[test]
    fn pngs_start_with_the_signature() {
        let signature = b"\x89PNG\r\n\x1a\n";
        assert!(qr_png("hello").unwrap().starts_with(signature));
        assert!(solid_png(46, [1, 2, 3]).unwrap().starts_with(signature));
    }
}
