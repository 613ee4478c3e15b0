//! How WeChat's APIs answer: HTTP 200, `Content-Type: text/plain`, compact JSON, errors as
//! `{"errcode":N,"errmsg":"..."}` (clients that trust the content type break on it, which is
//! the point).

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::domain::WxError;

/// Tokens and codes stay out of the log; the errcode is what a developer needs.
pub fn log_outcome<T>(endpoint: &str, appid: Option<&str>, result: &Result<T, WxError>) {
    let appid = appid.unwrap_or_default();
    match result {
        Ok(_) => tracing::info!(endpoint, appid, "answered"),
        Err(error) => {
            tracing::info!(endpoint, appid, errcode = error.errcode(), %error, "refused")
        }
    }
}

pub fn wx_json<T: Serialize>(result: Result<T, WxError>) -> Response {
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

/// An errcode as `application/json`, as the APIs that answer with images (or XML) send
/// their failures.
pub fn wx_error_json(error: WxError) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        error_body(error),
    )
        .into_response()
}
