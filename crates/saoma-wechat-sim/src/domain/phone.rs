//! Phone numbers: the app access token (`cgi-bin/token`) and
//! `wxa/business/getuserphonenumber`, which trades the getPhoneNumber button's code for the
//! persona's number.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::grants::{Purpose, ACCESS_TOKEN_LIFETIME};
use super::oauth::{known_app, required};
use super::{State, WxError};
use crate::config::{SimApp, SimConfig};

#[derive(Debug, Default, Deserialize)]
pub struct ClientCredentialParams {
    pub grant_type: Option<String>,
    pub appid: Option<String>,
    pub secret: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AppAccessToken {
    pub access_token: String,
    pub expires_in: u64,
}

#[derive(Debug, Default, Deserialize)]
pub struct PhoneRequest {
    pub code: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct PhoneAnswer {
    pub errcode: i32,
    pub errmsg: &'static str,
    pub phone_info: PhoneInfo,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneInfo {
    pub phone_number: String,
    pub pure_phone_number: String,
    pub country_code: String,
    pub watermark: Watermark,
}

#[derive(Debug, Serialize)]
pub struct Watermark {
    pub timestamp: u64,
    pub appid: String,
}

/// `GET cgi-bin/token`: only 公众号 and mini-programs have one (others are 40013).
pub fn client_credential(
    config: &SimConfig,
    state: &mut State,
    params: &ClientCredentialParams,
    now: Instant,
) -> Result<AppAccessToken, WxError> {
    let app = credential_app(config, params)?;
    Ok(AppAccessToken {
        access_token: state
            .app_tokens
            .issue(&app.appid, config.token_daily_quota, now)?,
        expires_in: ACCESS_TOKEN_LIFETIME.as_secs(),
    })
}

/// The app whose appid, secret and grant type are right, checked in WeChat's order.
pub fn credential_app<'c>(
    config: &'c SimConfig,
    params: &ClientCredentialParams,
) -> Result<&'c SimApp, WxError> {
    let app = known_app(config, &params.appid)?;
    if !app.kind.has_client_credential() {
        return Err(WxError::InvalidAppid);
    }
    let secret = required(&params.secret, WxError::MissingSecret)?;
    if secret != app.secret {
        return Err(WxError::InvalidAppsecret);
    }
    if params.grant_type.as_deref() != Some("client_credential") {
        return Err(WxError::InvalidGrantType);
    }
    Ok(app)
}

/// `POST wxa/business/getuserphonenumber?access_token=` with `{"code": ...}`. Every bad code
/// (unknown, spent, expired, another app's) is 40029. `unix` stamps the watermark.
pub fn phone_number(
    config: &SimConfig,
    state: &mut State,
    access_token: &Option<String>,
    body: &[u8],
    now: Instant,
    unix: u64,
) -> Result<PhoneAnswer, WxError> {
    state.take_busy()?;
    let access_token = required(access_token, WxError::MissingAccessToken)?;
    let appid = state.app_tokens.check(access_token, now)?.to_owned();
    let request: PhoneRequest = serde_json::from_slice(body).map_err(|_| WxError::DataFormat)?;
    let code = required(&request.code, WxError::InvalidCode)?;
    let expire_codes = state.faults.expire_codes;
    let subject = state
        .grants
        .redeem_code(&appid, Purpose::PhoneNumber, code, now, expire_codes)
        .map_err(|_| WxError::InvalidCode)?;
    let persona = config
        .persona(&subject.persona)
        .ok_or(WxError::InvalidCode)?;
    let (country_code, pure) = persona.phone_parts();
    Ok(PhoneAnswer {
        errcode: 0,
        errmsg: "ok",
        phone_info: PhoneInfo {
            phone_number: persona.phone.clone(),
            pure_phone_number: pure.to_owned(),
            country_code: country_code.to_owned(),
            watermark: Watermark {
                timestamp: unix,
                appid,
            },
        },
    })
}
