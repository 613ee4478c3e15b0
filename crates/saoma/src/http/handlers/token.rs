//! `POST /token?grant_type=password|refresh_token|pkce|wechat_mini`.

use axum::{extract::State, Json};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    audit,
    domain::audit::Action,
    domain::{email, password},
    http::{
        error::{ApiError, ApiResult},
        extract::{present, ApiQuery, Client, RawBody},
        handlers::wechat_mini,
    },
    oauth::{self, PendingLink},
    rate_limit::{self, Bucket},
    state::SharedState,
    store::Rotation,
    tokens,
};

#[derive(Debug, Deserialize)]
pub struct GrantQuery {
    #[serde(default)]
    grant_type: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PasswordGrant {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// A mini-program's `wx.login()` code, for clients that prefer a POST.
#[derive(Debug, Deserialize)]
pub struct CodeGrant {
    #[serde(default)]
    code: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PkceGrant {
    #[serde(default)]
    auth_code: Option<String>,
    #[serde(default)]
    code_verifier: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RefreshGrant {
    #[serde(default)]
    refresh_token: Option<String>,
}

pub async fn token(
    State(state): State<SharedState>,
    ApiQuery(query): ApiQuery<GrantQuery>,
    client: Client,
    body: RawBody,
) -> ApiResult<Json<Value>> {
    let grant = query.grant_type.as_deref().unwrap_or_default();
    if !matches!(grant, "password" | "refresh_token" | "pkce" | "wechat_mini") {
        return Err(ApiError::bad_request(
            "invalid_credentials",
            "unsupported_grant_type",
        ));
    }
    rate_limit::check(&state, Bucket::Token, &client).await?;
    // The grant type decides the body's shape, so the body is parsed per grant.
    match grant {
        "password" => password_grant(&state, &client, body.json()?).await,
        "refresh_token" => refresh_grant(&state, &client, body.json()?).await,
        "pkce" => pkce_grant(&state, &client, body.json()?).await,
        _ => {
            let grant: CodeGrant = body.json()?;
            let code = present(&grant.code);
            let code = code.ok_or_else(|| ApiError::validation("code is required"))?;
            wechat_mini::mini_login_with_code(&state, &client, code).await
        }
    }
}

async fn password_grant(
    state: &SharedState,
    client: &Client,
    grant: PasswordGrant,
) -> ApiResult<Json<Value>> {
    let email_given = present(&grant.email);
    let phone_given = present(&grant.phone);
    let address = match (email_given, phone_given) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "Only an email address or phone number should be provided on login.",
            ))
        }
        (None, Some(_)) => {
            return Err(ApiError::bad_request(
                "phone_provider_disabled",
                "Phone logins are disabled",
            ))
        }
        (None, None) => return Err(ApiError::validation("missing email or phone")),
        (Some(address), None) => address,
    };
    if !state.config.external.email.enabled {
        return Err(ApiError::unprocessable(
            "email_provider_disabled",
            "Email logins are disabled",
        ));
    }
    let invalid = || ApiError::bad_request("invalid_credentials", "Invalid login credentials");
    let password = grant.password.unwrap_or_default();
    // A malformed address cannot have an account; still pay the hash so timing tells nothing.
    let user = match email::normalize(address) {
        Ok(address) => state.store.user_by_email(&address).await?,
        Err(_) => None,
    };
    let stored = user.as_ref().and_then(|u| u.encrypted_password.clone());
    let matches = password::verify(password.clone(), stored, state.config.password.bcrypt_cost)
        .await
        .map_err(ApiError::internal)?;
    let user = match user {
        Some(user) if matches => user,
        _ => return Err(invalid()),
    };
    if user.is_banned(state.clock.now()) {
        return Err(ApiError::bad_request("user_banned", "User is banned"));
    }
    if user.email_confirmed_at.is_none() {
        return Err(ApiError::bad_request(
            "email_not_confirmed",
            "Email not confirmed",
        ));
    }
    let mut session = tokens::start_session(state, &user, "password", client).await?;
    // The password is right but no longer meets the rules: tell the client, as GoTrue does.
    if let Some(weak) = password::weakness(&password, state.config.password.min_length) {
        session["weak_password"] = json!({ "message": weak.message, "reasons": weak.reasons });
    }
    Ok(Json(session))
}

async fn refresh_grant(
    state: &SharedState,
    client: &Client,
    grant: RefreshGrant,
) -> ApiResult<Json<Value>> {
    let presented = grant.refresh_token.unwrap_or_default();
    if presented.trim().is_empty() {
        return Err(ApiError::validation("Refresh token is not valid"));
    }
    let now = state.clock.now();
    let fresh = state.refresh_key.mint();
    let outcome = state
        .store
        .present_refresh_token(presented.trim(), &fresh, now, &state.rotation_policy())
        .await?;
    let (session, nonce) = match outcome {
        Rotation::Issued { session, nonce } => (session, nonce),
        Rotation::NotFound => {
            return Err(ApiError::bad_request(
                "refresh_token_not_found",
                "Invalid Refresh Token: Refresh Token Not Found",
            ))
        }
        Rotation::SessionExpired => {
            return Err(ApiError::bad_request(
                "session_expired",
                "Invalid Refresh Token: Session Expired",
            ))
        }
        Rotation::Reused {
            session_ended,
            user_id,
        } => {
            let err = ApiError::bad_request(
                "refresh_token_already_used",
                "Invalid Refresh Token: Already Used",
            );
            state.metrics.refresh_token_reused();
            if let Some(user) = state.store.user_by_id(user_id).await? {
                let traits =
                    json!({ "reason": "refresh token reused", "session_ended": session_ended });
                audit::record(state, Action::TokenRevoked, &user, traits, client).await?;
            }
            return Err(if session_ended {
                err.with_internal("refresh token reused outside the reuse interval; session ended")
            } else {
                err
            });
        }
    };
    let user = state
        .store
        .user_by_id(session.user_id)
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(
                "refresh_token_not_found",
                "Invalid Refresh Token: Refresh Token Not Found",
            )
        })?;
    if user.is_banned(now) {
        return Err(ApiError::bad_request(
            "user_banned",
            "Invalid Refresh Token: User Banned",
        ));
    }
    let identities = state.store.identities_of(user.id).await?;
    let plaintext = state.refresh_key.reveal(&nonce);
    audit::record(
        state,
        Action::TokenRefreshed,
        &user,
        json!({ "session_id": session.id }),
        client,
    )
    .await?;
    Ok(Json(tokens::session_json(
        state,
        &user,
        &identities,
        &session,
        &plaintext,
        now,
    )?))
}

/// `exchangeCodeForSession`: the auth code from the callback redirect plus the verifier the
/// client kept, once.
async fn pkce_grant(
    state: &SharedState,
    client: &Client,
    grant: PkceGrant,
) -> ApiResult<Json<Value>> {
    let auth_code = grant.auth_code.unwrap_or_default();
    let verifier = grant.code_verifier.unwrap_or_default();
    if auth_code.is_empty() || verifier.is_empty() {
        return Err(ApiError::validation(
            "invalid request: both auth code and code verifier should be non-empty",
        ));
    }
    crate::domain::flow::check_verifier(&verifier).map_err(ApiError::validation)?;
    let not_found = || {
        ApiError::not_found(
            "flow_state_not_found",
            "invalid flow state, no valid flow state found",
        )
    };
    let flow = state
        .store
        .flow_by_auth_code(&auth_code)
        .await?
        .ok_or_else(not_found)?;
    let now = state.clock.now();
    if flow.auth_code_expired(now) {
        return Err(ApiError::unprocessable(
            "flow_state_expired",
            "invalid flow state, flow state has expired",
        ));
    }
    let verified = flow
        .challenge
        .as_ref()
        .is_some_and(|challenge| challenge.verify(&verifier));
    if !verified {
        return Err(ApiError::bad_request(
            "bad_code_verifier",
            "code challenge does not match previously saved code verifier",
        ));
    }
    // Deleting is the single-use check: of two concurrent exchanges only one deletes the row.
    if !state.store.delete_flow(flow.id).await? {
        return Err(not_found());
    }
    // A link flow's session is the link target's, as in GoTrue.
    let user_id = flow
        .linking_target_id
        .or(flow.user_id)
        .ok_or_else(not_found)?;
    let user = state
        .store
        .user_by_id(user_id)
        .await?
        .ok_or_else(not_found)?;
    if user.is_banned(now) {
        return Err(ApiError::bad_request("user_banned", "User is banned"));
    }
    let (user, provider_token) = if flow.linking_target_id.is_some() {
        // The verifier proved this is the client that started the link: attach only now.
        let pending = PendingLink::decode(flow.provider_access_token.as_deref())?;
        let user =
            oauth::link_to(state, user, &flow.provider_type, &pending.profile, client).await?;
        (user, Some(pending.provider_token))
    } else {
        (user, flow.provider_access_token)
    };
    let mut session = tokens::start_session(state, &user, "oauth", client).await?;
    if let Some(token) = provider_token {
        session["provider_token"] = json!(token);
    }
    if let Some(token) = flow.provider_refresh_token {
        session["provider_refresh_token"] = json!(token);
    }
    Ok(Json(session))
}
