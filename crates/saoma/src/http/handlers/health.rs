//! `GET /health`, `GET /settings`, `GET /.well-known/jwks.json`.

use axum::{extract::State, http::header, response::IntoResponse, Json};
use serde_json::{json, Value};

use crate::{
    auth::phone,
    http::error::{ApiError, ApiResult},
    state::SharedState,
};

/// Answers only when the database does, so a load balancer drops a node that lost it.
pub async fn health(State(state): State<SharedState>) -> ApiResult<Json<Value>> {
    state
        .store
        .ping()
        .await
        .map_err(|e| ApiError::internal(e).unavailable())?;
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "name": "saoma",
        "description": "saoma is a GoTrue-compatible authentication server with first-class WeChat login",
    })))
}

pub async fn settings(State(state): State<SharedState>) -> Json<Value> {
    let config = &state.config;
    let sms_provider = match &state.sms {
        Some(gateway) => gateway.name(),
        None => config.sms.provider.as_str(),
    };
    let mut external = json!({
        "anonymous_users": config.external.anonymous_users.enabled,
        "email": config.external.email.enabled,
        "phone": phone::enabled(&state),
        "wechat_qr": false,
    });
    for provider in state.providers.enabled() {
        external[provider] = json!(true);
    }
    Json(json!({
        "external": external,
        "disable_signup": config.disable_signup,
        "mailer_autoconfirm": config.mailer.autoconfirm,
        "phone_autoconfirm": config.sms.autoconfirm,
        "sms_provider": sms_provider,
        "saml_enabled": false,
    }))
}

pub async fn jwks(State(state): State<SharedState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=600")],
        Json(state.keys.jwks()),
    )
}

pub async fn metrics(State(state): State<SharedState>) -> impl IntoResponse {
    let body = state.metrics.render(state.store.pool_stats());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

/// The OpenAPI document of this API, kept true by `tests/api/openapi.rs`.
pub async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../../../openapi.json"),
    )
}
