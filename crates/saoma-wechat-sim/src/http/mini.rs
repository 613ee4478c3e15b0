//! api.weixin.qq.com for mini-programs: `sns/jscode2session`, `cgi-bin/token` and
//! `wxa/business/getuserphonenumber`, answered the WeChat way (see [`super::wx`]).

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::wx::{log_outcome, wx_json};
use crate::domain::mini::{self, JsCodeParams};
use crate::domain::phone::{self, ClientCredentialParams};
use crate::simulator::Shared;

#[derive(Debug, Default, Deserialize)]
pub struct AccessTokenQuery {
    pub access_token: Option<String>,
}

pub async fn jscode2session(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<JsCodeParams>,
) -> Response {
    let result = mini::jscode2session(&shared.config, &mut shared.lock(), &params, Instant::now());
    log_outcome("sns/jscode2session", params.appid.as_deref(), &result);
    wx_json(result)
}

pub async fn token(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<ClientCredentialParams>,
) -> Response {
    let result =
        phone::client_credential(&shared.config, &mut shared.lock(), &params, Instant::now());
    log_outcome("cgi-bin/token", params.appid.as_deref(), &result);
    wx_json(result)
}

pub async fn phone_number(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<AccessTokenQuery>,
    body: Bytes,
) -> Response {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let result = phone::phone_number(
        &shared.config,
        &mut shared.lock(),
        &query.access_token,
        &body,
        Instant::now(),
        unix,
    );
    let appid = result
        .as_ref()
        .ok()
        .map(|answer| answer.phone_info.watermark.appid.clone());
    log_outcome("wxa/business/getuserphonenumber", appid.as_deref(), &result);
    wx_json(result)
}
