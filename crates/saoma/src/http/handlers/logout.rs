//! `POST /logout?scope=global|local|others`.

use axum::{extract::State, http::StatusCode};
use serde::Deserialize;

use crate::{
    auth::user,
    domain::session::LogoutScope,
    http::{
        error::{ApiError, ApiResult},
        extract::{ApiQuery, Authenticated, Client},
    },
    state::SharedState,
};

#[derive(Debug, Deserialize)]
pub struct LogoutQuery {
    #[serde(default)]
    scope: Option<String>,
}

pub async fn logout(
    State(state): State<SharedState>,
    ApiQuery(query): ApiQuery<LogoutQuery>,
    auth: Authenticated,
    client: Client,
) -> ApiResult<StatusCode> {
    let scope = LogoutScope::parse(query.scope.as_deref()).ok_or_else(|| {
        ApiError::validation(format!(
            "Unsupported logout scope {:?}",
            query.scope.as_deref().unwrap_or_default()
        ))
    })?;
    user::sign_out(&state, auth.user(), auth.session_id(), scope, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
