//! The simulator's stand-ins for WeChat's client side: `POST /sim/mini/login` (`wx.login()`),
//! `POST /sim/mini/phone` (the getPhoneNumber button) and `POST /sim/app/authorize` (the
//! native SDK). Each takes `{"appid": "..", "persona": ".."}` and answers `{"code": ".."}`,
//! or HTTP 400 `{"error": ".."}`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::domain::issue::{self, Flow};
use crate::simulator::Shared;

#[derive(Debug, Deserialize)]
pub struct IssueRequest {
    pub appid: String,
    pub persona: String,
}

pub async fn mini_login(
    State(shared): State<Arc<Shared>>,
    request: Result<Json<IssueRequest>, JsonRejection>,
) -> Response {
    respond(&shared, Flow::MiniLogin, request)
}

pub async fn mini_phone(
    State(shared): State<Arc<Shared>>,
    request: Result<Json<IssueRequest>, JsonRejection>,
) -> Response {
    respond(&shared, Flow::MiniPhone, request)
}

pub async fn app_authorize(
    State(shared): State<Arc<Shared>>,
    request: Result<Json<IssueRequest>, JsonRejection>,
) -> Response {
    respond(&shared, Flow::AppAuthorize, request)
}

fn respond(
    shared: &Shared,
    flow: Flow,
    request: Result<Json<IssueRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match request {
        Ok(request) => request,
        Err(rejection) => return bad_request(&rejection.body_text()),
    };
    let issued = issue::issue(
        &shared.config,
        &mut shared.lock(),
        flow,
        &request.appid,
        &request.persona,
        Instant::now(),
    );
    match issued {
        Ok(code) => {
            tracing::info!(?flow, appid = %request.appid, persona = %request.persona, "code issued");
            Json(json!({ "code": code })).into_response()
        }
        Err(error) => bad_request(&error.to_string()),
    }
}

fn bad_request(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
}
