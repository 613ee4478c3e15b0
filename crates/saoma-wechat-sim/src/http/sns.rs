//! WeChat's `sns/*` API of web and app logins, answered the WeChat way (see [`super::wx`]).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::response::Response;
use serde_json::json;

use super::wx::{log_outcome, wx_json};
use crate::domain::oauth::{self, AccessTokenParams, RefreshParams, TokenParams};
use crate::simulator::Shared;

pub async fn access_token(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<AccessTokenParams>,
) -> Response {
    let result = oauth::exchange_code(&shared.config, &mut shared.lock(), &params, Instant::now());
    log_outcome("sns/oauth2/access_token", params.appid.as_deref(), &result);
    wx_json(result)
}

pub async fn refresh_token(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<RefreshParams>,
) -> Response {
    let result = oauth::refresh(&shared.config, &mut shared.lock(), &params, Instant::now());
    log_outcome("sns/oauth2/refresh_token", params.appid.as_deref(), &result);
    wx_json(result)
}

pub async fn auth(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<TokenParams>,
) -> Response {
    let result = oauth::check_access(&shared.lock(), &params, Instant::now())
        .map(|()| json!({"errcode": 0, "errmsg": "ok"}));
    log_outcome("sns/auth", None, &result);
    wx_json(result)
}

pub async fn userinfo(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<TokenParams>,
) -> Response {
    let result = oauth::userinfo(&shared.config, &shared.lock(), &params, Instant::now());
    log_outcome("sns/userinfo", None, &result);
    wx_json(result)
}
