//! The `sns/*` API of web and app logins: WeChat's parameters in, WeChat's JSON (or errcode)
//! out, checked in the order WeChat checks them.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::grants::{Purpose, Subject, ACCESS_TOKEN_LIFETIME};
use super::{State, WxError};
use crate::config::{SimApp, SimConfig};
use crate::ids;

#[derive(Debug, Default, Deserialize)]
pub struct AccessTokenParams {
    pub appid: Option<String>,
    pub secret: Option<String>,
    pub code: Option<String>,
    pub grant_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct RefreshParams {
    pub appid: Option<String>,
    pub grant_type: Option<String>,
    pub refresh_token: Option<String>,
}

/// Query of `sns/auth` and `sns/userinfo` (`lang` is accepted and ignored).
#[derive(Debug, Default, Deserialize)]
pub struct TokenParams {
    pub access_token: Option<String>,
    pub openid: Option<String>,
}

/// Field order and absences as WeChat sends them: no `token_type`, `unionid` only for apps
/// bound to an open platform (and never on refresh); `scope` is what the code was granted.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: String,
    pub openid: String,
    pub scope: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
}

/// Since 2021-10-20 WeChat sends sex 0 and empty region fields to every open-platform app.
#[derive(Debug, Serialize)]
pub struct UserInfo {
    pub openid: String,
    pub nickname: String,
    pub sex: u8,
    pub language: &'static str,
    pub city: &'static str,
    pub province: &'static str,
    pub country: &'static str,
    pub headimgurl: String,
    pub privilege: [String; 0],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
}

/// `GET sns/oauth2/access_token`.
pub fn exchange_code(
    config: &SimConfig,
    state: &mut State,
    params: &AccessTokenParams,
    now: Instant,
) -> Result<TokenResponse, WxError> {
    state.take_busy()?;
    let app = known_app(config, &params.appid)?;
    let secret = required(&params.secret, WxError::MissingSecret)?;
    if secret != app.secret {
        return Err(WxError::InvalidAppsecret);
    }
    if params.grant_type.as_deref() != Some("authorization_code") {
        return Err(WxError::InvalidGrantType);
    }
    let code = required(&params.code, WxError::MissingCode)?;
    let expire_codes = state.faults.expire_codes;
    let subject = state
        .grants
        .redeem_code(&app.appid, Purpose::OAuth, code, now, expire_codes)?;
    let (access_token, refresh_token) = state.grants.issue_tokens(subject.clone(), now);
    Ok(TokenResponse {
        access_token,
        expires_in: ACCESS_TOKEN_LIFETIME.as_secs(),
        refresh_token,
        openid: ids::openid(&app.appid, &subject.persona),
        scope: subject.scope.as_str(),
        unionid: unionid(app, &subject.persona),
    })
}

/// `GET sns/oauth2/refresh_token`: a new access token, the same refresh token.
pub fn refresh(
    config: &SimConfig,
    state: &mut State,
    params: &RefreshParams,
    now: Instant,
) -> Result<TokenResponse, WxError> {
    let app = known_app(config, &params.appid)?;
    if params.grant_type.as_deref() != Some("refresh_token") {
        return Err(WxError::InvalidGrantType);
    }
    let refresh_token = required(&params.refresh_token, WxError::MissingRefreshToken)?;
    let (access_token, subject) = state.grants.refresh(&app.appid, refresh_token, now)?;
    Ok(TokenResponse {
        access_token,
        expires_in: ACCESS_TOKEN_LIFETIME.as_secs(),
        refresh_token: refresh_token.to_owned(),
        openid: ids::openid(&app.appid, &subject.persona),
        scope: subject.scope.as_str(),
        unionid: None,
    })
}

/// `GET sns/auth`: is this access token valid for this openid? Unknown tokens are 40001 here.
pub fn check_access(state: &State, params: &TokenParams, now: Instant) -> Result<(), WxError> {
    authorized(state, params, now).map_err(|err| match err {
        WxError::InvalidAccessToken => WxError::InvalidCredential,
        other => other,
    })?;
    Ok(())
}

/// `GET sns/userinfo`; a `snsapi_base` token may not call it (48001).
pub fn userinfo(
    config: &SimConfig,
    state: &State,
    params: &TokenParams,
    now: Instant,
) -> Result<UserInfo, WxError> {
    let subject = authorized(state, params, now)?;
    if !subject.scope.reads_userinfo() {
        return Err(WxError::ApiUnauthorized);
    }
    let persona = config
        .persona(&subject.persona)
        .ok_or(WxError::InvalidOpenid)?;
    let app = config.app(&subject.appid).ok_or(WxError::InvalidOpenid)?;
    Ok(UserInfo {
        openid: ids::openid(&app.appid, &persona.id),
        nickname: persona.nickname.clone(),
        sex: 0,
        language: "",
        city: "",
        province: "",
        country: "",
        headimgurl: format!("{}/sim/avatar/{}/132", config.public_url, persona.id),
        privilege: [],
        unionid: unionid(app, &subject.persona),
    })
}

/// The subject of a valid access token whose openid matches the one given.
fn authorized<'s>(
    state: &'s State,
    params: &TokenParams,
    now: Instant,
) -> Result<&'s Subject, WxError> {
    let access_token = required(&params.access_token, WxError::MissingAccessToken)?;
    let subject = state.grants.access(access_token, now)?;
    let openid = required(&params.openid, WxError::MissingOpenid)?;
    if openid != ids::openid(&subject.appid, &subject.persona) {
        return Err(WxError::InvalidOpenid);
    }
    Ok(subject)
}

pub(super) fn known_app<'c>(
    config: &'c SimConfig,
    appid: &Option<String>,
) -> Result<&'c SimApp, WxError> {
    let appid = required(appid, WxError::MissingAppid)?;
    config.app(appid).ok_or(WxError::InvalidAppid)
}

pub(super) fn unionid(app: &SimApp, persona: &str) -> Option<String> {
    let platform = app.open_platform.as_deref()?;
    Some(ids::unionid(platform, persona))
}

/// WeChat treats an empty parameter as a missing one.
pub(super) fn required(value: &Option<String>, missing: WxError) -> Result<&str, WxError> {
    match value.as_deref() {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(missing),
    }
}
