//! Completing a sign-in: one path for every grant (password, PKCE, WeChat codes, the OAuth
//! implicit flow and those to come), so that the ban check and the session are never
//! written twice.

use serde_json::{json, Value};

use crate::{
    auth::{
        external::{self, ExternalUser},
        phone, tokens, AuthError, AuthResult, Client,
    },
    domain::{email, password, User},
    providers::ProviderUser,
    state::AppState,
};

/// The `amr` method of sign-ins through an external provider.
pub const OAUTH: &str = "oauth";

/// Refuses a banned user; every sign-in asks this before it issues anything.
pub fn allowed(state: &AppState, user: &User) -> AuthResult<()> {
    if user.is_banned(state.clock.now()) {
        return Err(AuthError::UserBanned);
    }
    Ok(())
}

/// Signs `user` in by `method`: a new session, its answer as GoTrue's token response.
pub async fn complete(
    state: &AppState,
    user: &User,
    method: &str,
    client: &Client,
) -> AuthResult<Value> {
    allowed(state, user)?;
    tokens::start_session(state, user, method, client).await
}

/// Signs in the person behind `profile` at `provider`, creating the account (with its first
/// session, in the same transaction) on first sign-in.
pub async fn external(
    state: &AppState,
    provider: &str,
    profile: &ProviderUser,
    client: &Client,
) -> AuthResult<Value> {
    let found = external::user_for(state, provider, profile, client, Some(OAUTH)).await?;
    complete_external(state, &found, client).await
}

/// The answer for a user found or created by [`external::user_for`].
pub async fn complete_external(
    state: &AppState,
    found: &ExternalUser,
    client: &Client,
) -> AuthResult<Value> {
    match &found.session {
        // A new account, its session stored with it: nobody could have banned it yet.
        Some(new) => tokens::issued(state, &found.user, &found.identities, new),
        None => complete(state, &found.user, OAUTH, client).await,
    }
}

/// `grant_type=password` with an email address.
pub async fn with_password(
    state: &AppState,
    client: &Client,
    address: &str,
    given: String,
) -> AuthResult<Value> {
    if !state.config.external.email.enabled {
        return Err(AuthError::EmailProviderDisabled(
            "Email logins are disabled",
        ));
    }
    // A malformed address cannot have an account; still pay the hash so timing tells nothing.
    let user = match email::normalize(address) {
        Ok(address) => state.store.user_by_email(&address).await?,
        Err(_) => None,
    };
    let user = check_password(state, user, &given).await?;
    if user.email_confirmed_at.is_none() {
        return Err(AuthError::EmailNotConfirmed);
    }
    password_session(state, client, &user, &given).await
}

/// `grant_type=password` with a phone number.
pub async fn with_phone_password(
    state: &AppState,
    client: &Client,
    number: &str,
    given: String,
) -> AuthResult<Value> {
    phone::require_enabled(state, "Phone logins are disabled")?;
    let user = match phone::normalize(state, number) {
        Ok(number) => state.store.user_by_phone(&number).await?,
        Err(_) => None,
    };
    let user = check_password(state, user, &given).await?;
    if user.phone_confirmed_at.is_none() {
        return Err(AuthError::PhoneNotConfirmed);
    }
    password_session(state, client, &user, &given).await
}

/// The user if `given` is their password (the hash is paid whether or not there is one, so
/// timing tells nothing) and they may sign in.
async fn check_password(state: &AppState, user: Option<User>, given: &str) -> AuthResult<User> {
    let stored = user.as_ref().and_then(|u| u.encrypted_password.clone());
    let matches = password::verify(given.to_owned(), stored, state.config.password.bcrypt_cost)
        .await
        .map_err(AuthError::internal)?;
    let user = match user {
        Some(user) if matches => user,
        _ => return Err(AuthError::InvalidCredentials),
    };
    allowed(state, &user)?;
    Ok(user)
}

async fn password_session(
    state: &AppState,
    client: &Client,
    user: &User,
    given: &str,
) -> AuthResult<Value> {
    let mut session = complete(state, user, "password", client).await?;
    // The password is right but no longer meets the rules: tell the client, as GoTrue does.
    if let Some(weak) = password::weakness(given, state.config.password.min_length) {
        session["weak_password"] = json!({ "message": weak.message, "reasons": weak.reasons });
    }
    Ok(session)
}
