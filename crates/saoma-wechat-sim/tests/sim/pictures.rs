//! The QR code PNG (decoded back to its URL) and the avatars.

use std::io::Cursor;

use crate::helpers::{spawn, APP};

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Decodes an 8-bit PNG into (width, height, greyscale pixels).
pub fn decode_png(bytes: &[u8]) -> (usize, usize, Vec<u8>, png::ColorType) {
    let mut reader = png::Decoder::new(Cursor::new(bytes)).read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    buffer.truncate(info.buffer_size());
    (
        info.width as usize,
        info.height as usize,
        buffer,
        info.color_type,
    )
}

/// The text of the one QR code in a greyscale PNG.
pub fn qr_text(bytes: &[u8]) -> String {
    let (width, height, pixels, _) = decode_png(bytes);
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    grids[0].decode().unwrap().1
}

#[tokio::test]
async fn the_qr_code_encodes_the_phone_url() {
    let sim = spawn().await;
    let uuid = sim.open_login(APP).await;
    let response = sim.get(&format!("/sim/qr/{uuid}.png")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(PNG_SIGNATURE));

    let (width, height, pixels, color) = decode_png(&bytes);
    assert_eq!(color, png::ColorType::Grayscale);
    // The quiet zone: the whole border is white.
    assert!(pixels[..width * 4].iter().all(|&p| p == 255));
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| pixels[y * width + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, text) = grids[0].decode().unwrap();
    assert_eq!(text, format!("{}/sim/phone/{uuid}", sim.base));
}

#[tokio::test]
async fn unknown_tickets_have_no_qr_code() {
    let sim = spawn().await;
    assert_eq!(sim.get("/sim/qr/nope.png").await.status(), 404);
    let uuid = sim.open_login(APP).await;
    assert_eq!(sim.get(&format!("/sim/qr/{uuid}")).await.status(), 404);
}

#[tokio::test]
async fn avatars_are_solid_squares_in_wechat_sizes() {
    let sim = spawn().await;
    for (size, side) in [("0", 640), ("46", 46), ("64", 64), ("96", 96), ("132", 132)] {
        let response = sim.get(&format!("/sim/avatar/xiaoming/{size}")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "image/png");
        let bytes = response.bytes().await.unwrap();
        let (width, height, pixels, color) = decode_png(&bytes);
        assert_eq!((width, height), (side, side));
        assert_eq!(color, png::ColorType::Rgb);
        assert_eq!(&pixels[..3], &[0x07, 0xc1, 0x60]);
    }
    assert_eq!(sim.get("/sim/avatar/xiaoming/50").await.status(), 404);
    assert_eq!(sim.get("/sim/avatar/nobody/46").await.status(), 404);
}
