//! `POST cgi-bin/stable_token`, and the simulator's token controls: `GET /sim/tokens`
//! (counters) and `POST /sim/tokens/{appid}/expire`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::wx::{log_outcome, wx_json};
use crate::domain::app_tokens::TokenStats;
use crate::domain::stable_token;
use crate::simulator::Shared;

pub async fn stable_token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let result =
        stable_token::stable_token(&shared.config, &mut shared.lock(), &body, Instant::now());
    log_outcome("cgi-bin/stable_token", None, &result);
    wx_json(result)
}

#[derive(Debug, Default, Deserialize)]
pub struct StatsQuery {
    pub appid: Option<String>,
}

/// `GET /sim/tokens`: `{appid: {token_fetches, stable_fetches, forced_refreshes}}` for every
/// app with an app access token; `?appid=` answers that app's counters alone.
pub async fn stats(State(shared): State<Arc<Shared>>, Query(query): Query<StatsQuery>) -> Response {
    let state = shared.lock();
    if let Some(appid) = query.appid {
        return Json(state.app_tokens.stats(&appid)).into_response();
    }
    let all: BTreeMap<&str, TokenStats> = shared
        .config
        .apps
        .iter()
        .filter(|app| app.kind.has_client_credential())
        .map(|app| (app.appid.as_str(), state.app_tokens.stats(&app.appid)))
        .collect();
    Json(all).into_response()
}

/// `POST /sim/tokens/{appid}/expire`: the app's live tokens expire now (next use: 42001).
pub async fn expire(State(shared): State<Arc<Shared>>, Path(appid): Path<String>) -> Response {
    if shared.config.app(&appid).is_none() {
        let error = json!({ "error": format!("unknown appid: {appid}") });
        return (StatusCode::NOT_FOUND, Json(error)).into_response();
    }
    shared.lock().app_tokens.expire_app(&appid, Instant::now());
    tracing::info!(%appid, "app access tokens expired by the tester");
    Json(json!({ "expired": appid })).into_response()
}
