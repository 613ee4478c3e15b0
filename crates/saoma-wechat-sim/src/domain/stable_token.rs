//! `POST cgi-bin/stable_token`: JSON `{grant_type, appid, secret, force_refresh}` in,
//! `{access_token, expires_in}` out; see [`super::app_tokens`] for the token rules.

use std::time::Instant;

use serde::Deserialize;

use super::app_tokens::Issued;
use super::phone::{credential_app, AppAccessToken, ClientCredentialParams};
use super::{State, WxError};
use crate::config::SimConfig;

#[derive(Debug, Default, Deserialize)]
pub struct StableTokenRequest {
    pub grant_type: Option<String>,
    pub appid: Option<String>,
    pub secret: Option<String>,
    #[serde(default)]
    pub force_refresh: bool,
}

/// A body that is not a JSON object of these fields (a form post, say) is 47001.
pub fn stable_token(
    config: &SimConfig,
    state: &mut State,
    body: &[u8],
    now: Instant,
) -> Result<AppAccessToken, WxError> {
    let request: StableTokenRequest =
        serde_json::from_slice(body).map_err(|_| WxError::DataFormat)?;
    let params = ClientCredentialParams {
        grant_type: request.grant_type,
        appid: request.appid,
        secret: request.secret,
    };
    let app = credential_app(config, &params)?;
    let Issued {
        access_token,
        expires_in,
    } = state
        .app_tokens
        .stable(&app.appid, request.force_refresh, now)?;
    Ok(AppAccessToken {
        access_token,
        expires_in,
    })
}
