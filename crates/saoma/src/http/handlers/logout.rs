//! `POST /logout?scope=global|local|others`.

use axum::{extract::State, http::StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::{
    audit,
    domain::audit::Action,
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
    // A token without a session (e.g. from the admin API) can only mean "everywhere".
    let (scope, current) = match auth.session_id() {
        Some(id) => (scope, id),
        None => (LogoutScope::Global, uuid::Uuid::nil()),
    };
    state
        .store
        .end_sessions(auth.user().id, current, scope)
        .await?;
    let traits = json!({ "scope": format!("{scope:?}").to_lowercase() });
    audit::record(&state, Action::Logout, auth.user(), traits, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
