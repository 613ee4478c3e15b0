//! The simulator's per-app controls: `PUT /sim/apps/{appid}/server` (a mini-program's
//! request domain), `PUT /sim/apps/{appid}/push` (a 公众号's 服务器配置), `PUT
//! /sim/apps/{appid}/followers/{persona}` (follow or unfollow without a push) and `GET
//! /sim/mp/pushes?appid=` (the push log).

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::config::PushConfig;
use crate::simulator::{self, Shared};

#[derive(Debug, Deserialize)]
pub struct ServerRequest {
    pub server_url: String,
}

#[derive(Debug, Deserialize)]
pub struct FollowRequest {
    pub following: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct AppQuery {
    pub appid: Option<String>,
}

pub async fn put_server(
    State(shared): State<Arc<Shared>>,
    Path(appid): Path<String>,
    request: Result<Json<ServerRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match request {
        Ok(request) => request,
        Err(rejection) => return bad_request(&rejection.body_text()),
    };
    if !simulator::set_server_url(&shared, &appid, &request.server_url) {
        return bad_request(&format!("{appid} is not a mini-program"));
    }
    tracing::info!(%appid, server_url = %request.server_url, "mini-program server set");
    Json(json!({ "appid": appid, "server_url": request.server_url })).into_response()
}

pub async fn put_push(
    State(shared): State<Arc<Shared>>,
    Path(appid): Path<String>,
    request: Result<Json<PushConfig>, JsonRejection>,
) -> Response {
    let Json(push) = match request {
        Ok(request) => request,
        Err(rejection) => return bad_request(&rejection.body_text()),
    };
    if !simulator::set_push(&shared, &appid, push.clone()) {
        return bad_request(&format!("{appid} is not a 公众号"));
    }
    tracing::info!(%appid, url = ?push.url, mode = ?push.mode, "push configuration set");
    Json(push).into_response()
}

pub async fn put_follower(
    State(shared): State<Arc<Shared>>,
    Path((appid, persona)): Path<(String, String)>,
    request: Result<Json<FollowRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match request {
        Ok(request) => request,
        Err(rejection) => return bad_request(&rejection.body_text()),
    };
    if !simulator::set_following(&shared, &appid, &persona, request.following) {
        return bad_request(&format!("{appid} is not a 公众号, or {persona} is unknown"));
    }
    let body = json!({ "appid": appid, "persona": persona, "following": request.following });
    Json(body).into_response()
}

pub async fn pushes(State(shared): State<Arc<Shared>>, Query(query): Query<AppQuery>) -> Response {
    let appid = query.appid.unwrap_or_default();
    let log = shared
        .lock()
        .push_log
        .get(&appid)
        .cloned()
        .unwrap_or_default();
    Json(log).into_response()
}

fn bad_request(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
}
