//! `POST wxa/getwxacodeunlimit`: a mini-program code that opens `page` with `scene`. The
//! simulator's code is a QR code of `/sim/mini/open?appid&page&scene` (the phone opening the
//! mini-program there), checked as WeChat checks the request.

use std::time::Instant;

use serde::Deserialize;

use super::{State, WxError};
use crate::config::{AppKind, SimApp, SimConfig};

/// `scene` holds at most this many characters…
const SCENE_MAX: usize = 32;
/// …from `0-9A-Za-z` and these (no `%`, so nothing URL-encoded).
const SCENE_PUNCTUATION: &str = "!#$&'()*+,/:;=?@-._~";

/// WeChat's body; a field of the wrong type makes the body unreadable (47001). The colours
/// are read only for that check: the simulator's codes are black on white.
#[derive(Debug, Deserialize)]
#[allow(dead_code, reason = "colour fields are parsed for their types only")]
pub struct WxacodeRequest {
    #[serde(default)]
    pub scene: String,
    pub page: Option<String>,
    #[serde(default = "yes")]
    pub check_path: bool,
    pub env_version: Option<String>,
    pub width: Option<u32>,
    #[serde(default)]
    pub auto_color: bool,
    pub line_color: Option<serde_json::Value>,
    #[serde(default)]
    pub is_hyaline: bool,
}

fn yes() -> bool {
    true
}

/// A request WeChat accepts: where the code leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wxacode {
    pub appid: String,
    pub page: String,
    pub scene: String,
}

pub fn getwxacodeunlimit(
    config: &SimConfig,
    state: &mut State,
    access_token: Option<&str>,
    body: &[u8],
    now: Instant,
) -> Result<Wxacode, WxError> {
    let access_token = access_token
        .filter(|token| !token.is_empty())
        .ok_or(WxError::MissingAccessToken)?;
    let appid = state.app_tokens.check(access_token, now)?.to_owned();
    let app = config.app(&appid).ok_or(WxError::InvalidAppid)?;
    if app.kind != AppKind::MiniProgram {
        return Err(WxError::ApiUnauthorized);
    }
    if state.faults.wxacode_rate_limit > 0 {
        state.faults.wxacode_rate_limit -= 1;
        return Err(WxError::DailyQuota);
    }
    let request: WxacodeRequest = serde_json::from_slice(body).map_err(|_| WxError::DataFormat)?;
    validate(app, &request)
}

/// In order: scene (40129), the page's form (41030), width and env_version (40097), then
/// whether a release code's page is published (41030).
fn validate(app: &SimApp, request: &WxacodeRequest) -> Result<Wxacode, WxError> {
    if !valid_scene(&request.scene) {
        return Err(WxError::InvalidScene);
    }
    let home = app.pages.first().map(String::as_str).unwrap_or_default();
    let page = request.page.as_deref().unwrap_or(home);
    if page.starts_with('/') || page.contains('?') {
        return Err(WxError::InvalidPage);
    }
    let width = request.width.unwrap_or(430);
    if !(280..=1280).contains(&width) {
        return Err(WxError::InvalidArgs);
    }
    let env_version = request.env_version.as_deref().unwrap_or("release");
    if !matches!(env_version, "release" | "trial" | "develop") {
        return Err(WxError::InvalidArgs);
    }
    let published = app.pages.iter().any(|published| published == page);
    if request.check_path && env_version == "release" && !published {
        return Err(WxError::InvalidPage);
    }
    Ok(Wxacode {
        appid: app.appid.clone(),
        page: page.to_owned(),
        scene: request.scene.clone(),
    })
}

fn valid_scene(scene: &str) -> bool {
    !scene.is_empty()
        && scene.chars().count() <= SCENE_MAX
        && scene
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || SCENE_PUNCTUATION.contains(c))
}

#[cfg(test)]
mod tests {
    use super::valid_scene;

    #[test]
    fn scenes_are_32_chars_of_wechats_set() {
        assert!(valid_scene("a=1&b=2/x:y;z@~'()*+,!#$-._?"));
        assert!(valid_scene(&"x".repeat(32)));
        assert!(!valid_scene(&"x".repeat(33)));
        assert!(!valid_scene("a%20b"));
        assert!(!valid_scene("空格"));
        assert!(!valid_scene("a b"));
        assert!(!valid_scene(""));
    }
}
