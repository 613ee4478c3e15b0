//! `sns/jscode2session`: a mini-program's server trades the `wx.login()` code for the user's
//! openid, a session key and (for apps bound to an open platform) the unionid.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::grants::Purpose;
use super::oauth::{known_app, required, unionid};
use super::{State, WxError};
use crate::config::{AppKind, SimConfig};
use crate::ids;

#[derive(Debug, Default, Deserialize)]
pub struct JsCodeParams {
    pub appid: Option<String>,
    pub secret: Option<String>,
    pub js_code: Option<String>,
    pub grant_type: Option<String>,
}

/// Field order as WeChat sends it; `unionid` only for apps bound to an open platform.
#[derive(Debug, Serialize)]
pub struct Session {
    pub session_key: String,
    pub openid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
}

/// `GET sns/jscode2session`. A non-mini-program appid is 40013; an expired code is 40029
/// (not 42003 as on `sns/oauth2/access_token`).
pub fn jscode2session(
    config: &SimConfig,
    state: &mut State,
    params: &JsCodeParams,
    now: Instant,
) -> Result<Session, WxError> {
    state.take_busy()?;
    let app = known_app(config, &params.appid)?;
    if app.kind != AppKind::MiniProgram {
        return Err(WxError::InvalidAppid);
    }
    let secret = required(&params.secret, WxError::MissingSecret)?;
    if secret != app.secret {
        return Err(WxError::InvalidAppsecret);
    }
    if params.grant_type.as_deref() != Some("authorization_code") {
        return Err(WxError::InvalidGrantType);
    }
    let code = required(&params.js_code, WxError::MissingCode)?;
    let expire_codes = state.faults.expire_codes;
    let subject = state
        .grants
        .redeem_code(&app.appid, Purpose::JsCode, code, now, expire_codes)
        .map_err(|error| match error {
            WxError::CodeExpired => WxError::InvalidCode,
            other => other,
        })?;
    Ok(Session {
        session_key: ids::session_key(),
        openid: ids::openid(&app.appid, &subject.persona),
        unionid: unionid(app, &subject.persona),
    })
}
