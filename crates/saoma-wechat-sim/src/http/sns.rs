//! WeChat's `sns/*` API. Every answer, success or error, is HTTP 200 with
//! `Content-Type: text/plain` and compact JSON, exactly as WeChat sends it (clients that trust
//! the content type break on it, which is the point).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::domain::oauth::{self, AccessTokenParams, RefreshParams, TokenParams};
use crate::domain::WxError;
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

/// Tokens and codes stay out of the log; the errcode is what a developer needs.
fn log_outcome<T>(endpoint: &str, appid: Option<&str>, result: &Result<T, WxError>) {
    let appid = appid.unwrap_or_default();
    match result {
        Ok(_) => tracing::info!(endpoint, appid, "answered"),
        Err(error) => {
            tracing::info!(endpoint, appid, errcode = error.errcode(), %error, "refused")
        }
    }
}

fn wx_json<T: Serialize>(result: Result<T, WxError>) -> Response {
    let body = match result.map(|value| serde_json::to_string(&value)) {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => error_body(WxError::Busy),
        Err(error) => error_body(error),
    };
    ([(header::CONTENT_TYPE, "text/plain")], body).into_response()
}

fn error_body(error: WxError) -> String {
    json!({"errcode": error.errcode(), "errmsg": error.to_string()}).to_string()
}
