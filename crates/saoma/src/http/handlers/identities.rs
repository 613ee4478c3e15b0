//! `GET /user/identities/authorize` and `DELETE /user/identities/{id}`: linking another login
//! method to the signed-in user, and removing one (never the last).

use axum::{
    extract::{Path, State},
    response::Response,
    Json,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    auth::{external, AuthError},
    http::{
        error::ApiResult,
        extract::{ApiQuery, Authenticated, Client},
        handlers::oauth::start_flow,
    },
    state::SharedState,
};

fn require_manual_linking(state: &SharedState) -> Result<(), AuthError> {
    if !state.config.security.manual_linking_enabled {
        return Err(AuthError::ManualLinkingDisabled);
    }
    Ok(())
}

pub async fn link(
    State(state): State<SharedState>,
    auth: Authenticated,
    client: Client,
    ApiQuery(params): ApiQuery<Vec<(String, String)>>,
) -> ApiResult<Response> {
    require_manual_linking(&state)?;
    start_flow(&state, &client, &params, Some(auth.user().id)).await
}

pub async fn unlink(
    State(state): State<SharedState>,
    auth: Authenticated,
    client: Client,
    Path(identity_id): Path<String>,
) -> ApiResult<Json<Value>> {
    require_manual_linking(&state)?;
    let identity_id = Uuid::parse_str(&identity_id).map_err(|_| AuthError::IdentityNotFound)?;
    external::unlink(&state, auth.user().clone(), identity_id, &client).await?;
    Ok(Json(json!({})))
}
