//! Codes: the picture a waiting page shows, and MemFire's `getUnlimitedQRCode`.

use crate::{
    auth::{rate_limit, AuthError, AuthResult},
    providers::{ScanCode, UnlimitedCodeRequest},
    state::AppState,
};

/// `getUnlimitedQRCode` calls per signed-in user per hour, and for all users per minute
/// (WeChat allows 5000/min per mini-program, and the scan login needs some of it).
const UNLIMITED_CODES_PER_USER_HOUR: f64 = 30.0;
const UNLIMITED_CODES_PER_MINUTE: f64 = 2000.0;

/// MemFire's `getUnlimitedQRCode`: the mini-program (`wechat_mini`) draws a code for the
/// signed-in `user_id`, within a budget per user and one for all (the codes spend the
/// mini-program's WeChat quota, which `wechat_mini_qr` logins need too).
pub async fn unlimited_code(
    state: &AppState,
    user_id: uuid::Uuid,
    request: &UnlimitedCodeRequest,
) -> AuthResult<Vec<u8>> {
    if request.scene.is_empty() {
        return Err(AuthError::validation("scene is required"));
    }
    let per_user = format!("unlimited_qrcode:{}", user_id.simple());
    if !rate_limit::take_budget(state, &per_user, UNLIMITED_CODES_PER_USER_HOUR, 3600.0).await?
        || !rate_limit::take_budget(state, "unlimited_qrcode", UNLIMITED_CODES_PER_MINUTE, 60.0)
            .await?
    {
        return Err(AuthError::RateLimited);
    }
    let codes = state
        .providers
        .mini_program_codes("wechat_mini")
        .ok_or_else(|| AuthError::ProviderDisabled("wechat_mini".into()))?;
    Ok(codes.unlimited_code(request).await?)
}

/// The code as an `<img src>`: WeChat's picture as it came, or a QR code saoma draws.
pub(super) fn data_uri(code: &ScanCode) -> String {
    use base64::{engine::general_purpose::STANDARD, Engine};
    match code {
        ScanCode::Image {
            content_type,
            bytes,
        } => format!("data:{content_type};base64,{}", STANDARD.encode(bytes)),
        ScanCode::Content(content) => format!(
            "data:image/svg+xml;base64,{}",
            STANDARD.encode(qr_svg(content))
        ),
    }
}

/// A QR code of `content` as SVG, black on white with a quiet zone.
fn qr_svg(content: &str) -> String {
    match qrcode::QrCode::new(content.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(240, 240)
            .quiet_zone(true)
            .build(),
        // Only a content longer than any QR code can hold; WeChat's URLs are short.
        Err(_) => String::from("<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_codes_are_svg_images() {
        let uri = data_uri(&ScanCode::Content("http://weixin.qq.com/q/abc".into()));
        assert!(uri.starts_with("data:image/svg+xml;base64,"));
        let image = data_uri(&ScanCode::Image {
            content_type: "image/jpeg".into(),
            bytes: vec![0xff, 0xd8],
        });
        assert_eq!(image, "data:image/jpeg;base64,/9g=");
    }
}
