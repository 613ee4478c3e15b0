//! `GET /user` and `PUT /user`.

use axum::{
    extract::State,
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::{
    audit,
    config::Config,
    domain::audit::Action,
    domain::{email, password, session::LogoutScope, user::UserView, User, UserChanges},
    http::{
        error::{ApiError, ApiResult},
        extract::{present, user_from_token_gone, ApiJson, Authenticated, Client},
    },
    rate_limit::{self, Bucket},
    state::SharedState,
    store::StoreError,
};

/// Serialised straight from the rows the token check read: no second lookup, no
/// intermediate `Value`, and once per read (this is the hottest endpoint, behind every
/// `getUser()`; on SQLite one read may answer many requests).
pub async fn get_user(auth: Authenticated) -> Response {
    let rendered = auth
        .principal()
        .rendered(|p| serde_json::to_vec(&UserView::new(&p.user, &p.identities)));
    let body = match rendered {
        Ok(body) => body,
        Err(err) => return ApiError::internal(err).into_response(),
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The user JSON GoTrue answers with, identities included.
pub async fn user_json(state: &SharedState, user: &User) -> ApiResult<Value> {
    let identities = state.store.identities_of(user.id).await?;
    serde_json::to_value(UserView::new(user, &identities)).map_err(ApiError::internal)
}

#[derive(Debug, Deserialize)]
pub struct UpdateUserRequest {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    data: Option<Map<String, Value>>,
    #[serde(default)]
    app_metadata: Option<Value>,
}

pub async fn update_user(
    State(state): State<SharedState>,
    auth: Authenticated,
    client: Client,
    ApiJson(req): ApiJson<UpdateUserRequest>,
) -> ApiResult<Json<Value>> {
    rate_limit::check(&state, Bucket::Otp, &client).await?;
    let config = &state.config;
    let now = state.clock.now();
    // What this request changes, and only that: the store applies it to the row as it is
    // now, so a concurrent ban or password change is never written back over.
    let user = auth.user();
    let mut changes = UserChanges::default();

    if req.app_metadata.is_some() {
        return Err(ApiError::forbidden(
            "not_admin",
            "Updating app_metadata requires admin privileges",
        ));
    }
    if req.phone.as_deref().is_some_and(|p| !p.trim().is_empty()) {
        return Err(ApiError::bad_request(
            "phone_provider_disabled",
            "Phone logins are disabled",
        ));
    }
    let new_email = match present(&req.email) {
        Some(raw) => Some(email::normalize(raw).map_err(ApiError::validation)?),
        None => None,
    }
    .filter(|address| user.email.as_deref() != Some(address.as_str()));

    if let Some(address) = &new_email {
        // Without a mailer an address can only be taken over unverified when sign-ups are
        // confirmed at once anyway; otherwise say so rather than pretend a mail went out.
        if !config.mailer.autoconfirm {
            return Err(ApiError::unprocessable(
                "email_provider_disabled",
                "Changing the email address needs email confirmation, which this server does not send",
            ));
        }
        if state.store.user_by_email(address).await?.is_some() {
            return Err(email_exists());
        }
        changes.email = Some(Some(address.clone()));
        changes.email_confirmed_at = Some(Some(now));
        if user.is_anonymous {
            // An anonymous user who adds an email becomes a permanent email user.
            changes.is_anonymous = Some(false);
            changes.app_metadata = json!({ "provider": "email", "providers": ["email"] })
                .as_object()
                .cloned();
        }
    }

    let password_changed = req.password.is_some();
    if let Some(new_password) = req.password {
        check_password_strength(config, &new_password)?;
        if user.is_anonymous && user.email.is_none() && new_email.is_none() {
            return Err(ApiError::unprocessable(
                "validation_failed",
                "Updating password of an anonymous user without an email or phone is not allowed",
            ));
        }
        let same = password::verify(
            new_password.clone(),
            user.encrypted_password.clone(),
            config.password.bcrypt_cost,
        )
        .await
        .map_err(ApiError::internal)?;
        if same {
            return Err(ApiError::unprocessable(
                "same_password",
                "New password should be different from the old password.",
            ));
        }
        changes.encrypted_password = Some(
            password::hash(new_password, config.password.bcrypt_cost)
                .await
                .map_err(ApiError::internal)?,
        );
        // A new password signs out every other device, as GoTrue does, in the same
        // transaction as the change.
        changes.end_sessions = Some(match auth.session_id() {
            Some(current) => (LogoutScope::Others, current),
            None => (LogoutScope::Global, Uuid::nil()),
        });
    }
    changes.user_metadata = req.data;

    let user = match state.store.change_user(user.id, &changes, now).await {
        Err(StoreError::Conflict(_)) => return Err(email_exists()),
        other => other?.ok_or_else(user_from_token_gone)?,
    };
    let traits = json!({ "password_changed": password_changed });
    audit::record(&state, Action::UserModified, &user, traits, &client).await?;
    Ok(Json(user_json(&state, &user).await?))
}

fn email_exists() -> ApiError {
    ApiError::unprocessable(
        "email_exists",
        "A user with this email address has already been registered",
    )
}

/// 422 `weak_password` unless `password` meets the configured rules.
pub fn check_password_strength(config: &Config, password: &str) -> ApiResult<()> {
    match password::weakness(password, config.password.min_length) {
        Some(weak) => Err(ApiError::weak_password(weak.message, &weak.reasons)),
        None => Ok(()),
    }
}

/// The client's User-Agent, kept on its session (truncated: it is only informational).
pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(512).collect())
}
