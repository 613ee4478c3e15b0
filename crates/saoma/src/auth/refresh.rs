//! `grant_type=refresh_token`: a refresh token for a new access token (and, with rotation,
//! a new refresh token), as GoTrue decides it (see `domain::refresh`).

use serde_json::{json, Value};

use crate::{
    auth::{audit, tokens, AuthError, AuthResult, Client},
    domain::audit::Action,
    state::AppState,
    store::Rotation,
};

pub async fn refresh(state: &AppState, client: &Client, presented: &str) -> AuthResult<Value> {
    let presented = presented.trim();
    if presented.is_empty() {
        return Err(AuthError::validation("Refresh token is not valid"));
    }
    let now = state.clock.now();
    let fresh = state.refresh_key.mint();
    // The `token_refreshed` audit entry is written with the rotation, in its transaction.
    let outcome = state
        .store
        .present_refresh_token(
            presented,
            &fresh,
            now,
            &state.rotation_policy(),
            Some(&client.ip),
        )
        .await?;
    let (session, nonce, user, identities) = match outcome {
        Rotation::Issued {
            session,
            nonce,
            user,
            identities,
        } => (session, nonce, user, identities),
        Rotation::NotFound => return Err(AuthError::RefreshTokenNotFound),
        Rotation::SessionExpired => return Err(AuthError::SessionExpired),
        Rotation::UserBanned => return Err(AuthError::RefreshUserBanned),
        Rotation::Reused {
            session_ended,
            user_id,
        } => {
            state.metrics.refresh_token_reused();
            if session_ended {
                tracing::info!("refresh token reused outside the reuse interval; session ended");
            }
            if let Some(user) = state.store.user_by_id(user_id).await? {
                let traits =
                    json!({ "reason": "refresh token reused", "session_ended": session_ended });
                audit::record(state, Action::TokenRevoked, &user, traits, client).await?;
            }
            return Err(AuthError::RefreshTokenAlreadyUsed);
        }
    };
    // The ban was decided inside the rotation (`Rotation::UserBanned`), on the user this
    // answer shows, read in the same transaction: a ban that lands after that commit does not
    // take back tokens already issued (refusing then would leave the client a revoked token
    // that ends its session as reuse once the ban is lifted). GoTrue answers that race with
    // the tokens too.
    let plaintext = state.refresh_key.reveal(&nonce);
    tokens::session_json(state, &user, &identities, &session, &plaintext, now)
}
