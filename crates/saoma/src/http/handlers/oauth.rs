//! `GET /authorize` and `GET|POST /callback`: the browser side of OAuth sign-in (the work is
//! in `auth::oauth_flow`).

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::{
        oauth_flow::{self, CallbackParams},
        rate_limit::{self, Bucket},
    },
    http::{
        error::ApiResult,
        extract::{ApiForm, ApiQuery, Client},
    },
    state::SharedState,
};

pub async fn authorize(
    State(state): State<SharedState>,
    client: Client,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> ApiResult<Response> {
    rate_limit::check(&state, Bucket::Authorize, &client).await?;
    start_flow(&state, &client, &params, None).await
}

/// Starts a flow and sends the browser (or the caller, with `skip_http_redirect=true`) to the
/// provider. `linking_target` is the signed-in user who will receive the identity.
pub async fn start_flow(
    state: &SharedState,
    client: &Client,
    params: &[(String, String)],
    linking_target: Option<Uuid>,
) -> ApiResult<Response> {
    let url = oauth_flow::start(state, client, params, linking_target).await?;
    let skip_redirect = params
        .iter()
        .any(|(k, v)| k == "skip_http_redirect" && v == "true");
    if skip_redirect {
        return Ok(Json(json!({ "url": url })).into_response());
    }
    Ok(found(&url))
}

pub async fn callback_get(
    State(state): State<SharedState>,
    client: Client,
    ApiQuery(params): ApiQuery<CallbackParams>,
) -> Response {
    found(&oauth_flow::callback(&state, &client, &params).await)
}

/// Providers using `response_mode=form_post` call back with a form.
pub async fn callback_post(
    State(state): State<SharedState>,
    client: Client,
    ApiForm(params): ApiForm<CallbackParams>,
) -> Response {
    found(&oauth_flow::callback(&state, &client, &params).await)
}

fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}
