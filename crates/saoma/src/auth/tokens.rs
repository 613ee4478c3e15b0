//! Issuing sessions: the access token, the refresh token and the JSON clients store.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::{
    auth::{AuthError, AuthResult, Client},
    domain::{
        audit::{Action, AuditEntry},
        refresh::MintedToken,
        user::{presented_user_metadata, UserView},
        Identity, Session, User,
    },
    jwt::{AmrEntry, Claims},
    state::AppState,
};

/// Signs an access token for `user` in `session`; `identities` vouch for the provider
/// identifiers in its `user_metadata` claim.
pub fn access_token(
    state: &AppState,
    user: &User,
    identities: &[Identity],
    session: &Session,
    now: DateTime<Utc>,
) -> AuthResult<(String, i64)> {
    let expires_at = now.timestamp() + state.config.jwt.exp;
    let claims = Claims {
        iss: Some(state.issuer.clone()),
        sub: Some(user.id.to_string()),
        aud: Some(json!(user.aud)),
        exp: Some(expires_at),
        iat: now.timestamp(),
        email: Some(user.email.clone().unwrap_or_default()),
        phone: Some(user.phone.clone().unwrap_or_default()),
        app_metadata: Some(user.app_metadata.clone()),
        user_metadata: Some(presented_user_metadata(&user.user_metadata, identities).into_owned()),
        role: user.role.clone(),
        aal: Some(session.aal.clone()),
        // Newest first, as GoTrue sorts them.
        amr: Some(
            session
                .amr
                .iter()
                .rev()
                .map(|claim| AmrEntry {
                    method: claim.method.clone(),
                    timestamp: claim.at.timestamp(),
                    provider: None,
                })
                .collect(),
        ),
        session_id: Some(session.id.to_string()),
        is_anonymous: Some(user.is_anonymous),
    };
    let token = state.keys.sign(&claims).map_err(AuthError::internal)?;
    Ok((token, expires_at))
}

/// The session JSON of GoTrue's token responses.
pub fn session_json(
    state: &AppState,
    user: &User,
    identities: &[Identity],
    session: &Session,
    refresh_token: &str,
    now: DateTime<Utc>,
) -> AuthResult<Value> {
    let (access_token, expires_at) = access_token(state, user, identities, session, now)?;
    Ok(json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": state.config.jwt.exp,
        "expires_at": expires_at,
        "refresh_token": refresh_token,
        "user": UserView::new(user, identities),
    }))
}

/// A session about to start, not yet stored: its row, its refresh token and the login's
/// audit entry. Stored on its own ([`start_session`]) or with a new account in one
/// transaction (sign-up).
pub struct NewSession {
    pub session: Session,
    pub token: MintedToken,
    pub audit: AuditEntry,
    provider: String,
}

/// Prepares a session for `user`, signed in by `amr_method`.
pub fn new_session(state: &AppState, user: &User, amr_method: &str, client: &Client) -> NewSession {
    let now = state.clock.now();
    let mut session = Session::new(user.id, amr_method, now);
    session.user_agent = client.user_agent.clone();
    session.ip = client
        .ip
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string());
    let provider = user
        .app_metadata
        .get("provider")
        .and_then(Value::as_str)
        .unwrap_or(amr_method)
        .to_owned();
    let audit = AuditEntry::new(
        Action::Login,
        user,
        json!({ "provider": provider }),
        &client.ip,
        now,
    );
    NewSession {
        session,
        token: state.refresh_key.mint(),
        audit,
        provider,
    }
}

/// The answer for a session that has been stored.
pub fn issued(
    state: &AppState,
    user: &User,
    identities: &[Identity],
    new: &NewSession,
) -> AuthResult<Value> {
    let now = new.session.created_at;
    let user = User {
        last_sign_in_at: Some(now),
        ..user.clone()
    };
    state.metrics.login(&new.provider);
    session_json(
        state,
        &user,
        identities,
        &new.session,
        &new.token.plaintext,
        now,
    )
}

/// Starts a new session for `user` (recording the login) and returns its session JSON.
pub async fn start_session(
    state: &AppState,
    user: &User,
    amr_method: &str,
    client: &Client,
) -> AuthResult<Value> {
    let new = new_session(state, user, amr_method, client);
    state
        .store
        .create_session(&new.session, &new.token, Some(&new.audit))
        .await?;
    let identities = state.store.identities_of(user.id).await?;
    issued(state, user, &identities, &new)
}
