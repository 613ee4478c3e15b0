//! `POST /signup`: email + password, or anonymous when neither email nor phone is given.

use axum::{extract::State, response::IntoResponse, Json};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::{
    accounts,
    domain::{email, password, user::UserView, Identity, User},
    http::{
        error::{ApiError, ApiResult},
        extract::{present, ApiJson, Client},
        handlers::user::{check_password_strength, user_json},
    },
    rate_limit::{self, Bucket},
    state::SharedState,
    store::StoreError,
    tokens,
};

#[derive(Debug, Deserialize)]
pub struct SignupRequest {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    data: Option<Map<String, Value>>,
}

pub async fn signup(
    State(state): State<SharedState>,
    client: Client,
    ApiJson(req): ApiJson<SignupRequest>,
) -> ApiResult<axum::response::Response> {
    let email = present(&req.email);
    let phone = present(&req.phone);
    let metadata = Value::Object(req.data.unwrap_or_default());

    match (email, phone) {
        // GoTrue ignores a password given without email or phone: that is an anonymous sign-in.
        (None, None) => anonymous(&state, metadata, &client).await,
        (Some(_), Some(_)) => Err(ApiError::validation(
            "Only an email address or phone number should be provided on signup.",
        )),
        (None, Some(_)) => Err(ApiError::bad_request(
            "phone_provider_disabled",
            "Phone signups are disabled",
        )),
        (Some(address), None) => {
            let password = req.password.unwrap_or_default();
            with_email(&state, address, password, metadata, &client).await
        }
    }
}

async fn anonymous(
    state: &SharedState,
    metadata: Value,
    client: &Client,
) -> ApiResult<axum::response::Response> {
    if !state.config.external.anonymous_users.enabled {
        return Err(ApiError::unprocessable(
            "anonymous_provider_disabled",
            "Anonymous sign-ins are disabled",
        ));
    }
    refuse_if_signups_disabled(state)?;
    rate_limit::check(state, Bucket::Otp, client).await?;
    rate_limit::check(state, Bucket::AnonymousUsers, client).await?;
    let now = state.clock.now();
    let mut user = User::new(Uuid::new_v4(), &state.config.jwt.aud, "anonymous", now);
    // Anonymous users have no provider until they link one, as in GoTrue.
    user.app_metadata = json!({});
    user.is_anonymous = true;
    user.user_metadata = metadata;
    let session = accounts::create(state, &user, &[], "anonymous", Some("anonymous"), client)
        .await?
        .ok_or_else(|| ApiError::internal("anonymous sign-up without a session"))?;
    Ok(Json(tokens::issued(state, &user, &[], &session)?).into_response())
}

async fn with_email(
    state: &SharedState,
    address: &str,
    password: String,
    metadata: Value,
    client: &Client,
) -> ApiResult<axum::response::Response> {
    let config = &state.config;
    refuse_if_signups_disabled(state)?;
    rate_limit::check(state, Bucket::Otp, client).await?;
    if password.is_empty() {
        return Err(ApiError::validation("Signup requires a valid password"));
    }
    check_password_strength(config, &password)?;
    if !config.external.email.enabled {
        // 422 as GoTrue answers it, like the other `email_provider_disabled` answers.
        return Err(ApiError::unprocessable(
            "email_provider_disabled",
            "Email signups are disabled",
        ));
    }
    let address = email::normalize(address).map_err(ApiError::validation)?;
    // Hash before looking the address up, so that a taken address answers as slowly as a new one.
    let hash = password::hash(password, config.password.bcrypt_cost)
        .await
        .map_err(ApiError::internal)?;

    if let Some(existing) = state.store.user_by_email(&address).await? {
        return existing_account(state, &existing, metadata).await;
    }

    let now = state.clock.now();
    let mut user = User::new(Uuid::new_v4(), &config.jwt.aud, "email", now);
    user.email = Some(address.clone());
    user.encrypted_password = Some(hash);
    user.user_metadata = metadata;
    if config.mailer.autoconfirm {
        // GoTrue's confirmation also marks the metadata (the identity's flag stays false).
        user.email_confirmed_at = Some(now);
        if let Value::Object(meta) = &mut user.user_metadata {
            meta.insert("email_verified".into(), json!(true));
        }
    }
    let identity = Identity::email(user.id, &address, now);
    let sign_in = config.mailer.autoconfirm.then_some("password");
    let identities = std::slice::from_ref(&identity);
    match accounts::create(state, &user, identities, "email", sign_in, client).await {
        // Lost a race with a concurrent sign-up for the same address.
        Err(StoreError::Conflict(_)) => {
            let existing = state
                .store
                .user_by_email(&address)
                .await?
                .ok_or_else(|| ApiError::internal("user vanished"))?;
            existing_account(state, &existing, user.user_metadata.clone()).await
        }
        Err(other) => Err(other.into()),
        Ok(Some(session)) => {
            Ok(Json(tokens::issued(state, &user, identities, &session)?).into_response())
        }
        Ok(None) => Ok(Json(UserView::new(&user, identities)).into_response()),
    }
}

/// Answered before any rate limit: a client told "no sign-ups here" should not be told to
/// wait and try again.
fn refuse_if_signups_disabled(state: &SharedState) -> ApiResult<()> {
    if state.config.disable_signup {
        return Err(ApiError::unprocessable(
            "signup_disabled",
            "Signups not allowed for this instance",
        ));
    }
    Ok(())
}

/// GoTrue's answer to a sign-up for a taken address: an error when sign-ups are confirmed at
/// once (the caller would get a session otherwise), else a look-alike user so that sign-up
/// cannot be used to find out who has an account.
async fn existing_account(
    state: &SharedState,
    existing: &User,
    metadata: Value,
) -> ApiResult<axum::response::Response> {
    if state.config.mailer.autoconfirm {
        return Err(ApiError::unprocessable(
            "user_already_exists",
            "User already registered",
        ));
    }
    if existing.email_confirmed_at.is_none() {
        return Ok(Json(user_json(state, existing).await?).into_response());
    }
    let now = state.clock.now();
    let mut decoy = User::new(Uuid::new_v4(), &existing.aud, "email", now);
    decoy.role = String::new();
    decoy.email = existing.email.clone();
    decoy.confirmation_sent_at = Some(now);
    decoy.user_metadata = metadata;
    Ok(Json(UserView::new(&decoy, &[])).into_response())
}
