//! A new address for a signed-in user (`PUT /user {email}`): it becomes the user's only when
//! confirmed from the new address and, with `mailer.secure_email_change_enabled` (GoTrue's
//! default), from the current one too, in either order.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    auth::{
        email::{flows::LinkOptions, redirect_target, send},
        AuthError, AuthResult,
    },
    domain::{
        one_time_token::TokenType, user_changes::IdentityChange, Identity, User, UserChanges,
    },
    mail::EmailAction,
    state::AppState,
};

/// Whether a change of `user`'s address needs the current address to confirm it too.
pub fn needs_current(state: &AppState, user: &User) -> bool {
    state.config.mailer.secure_email_change_enabled && user.email.is_some()
}

/// Mails the change's links: to `new_email`, and to the current address when secure. Any
/// earlier pending change is replaced, its links void. The user, showing `new_email`.
pub async fn send(
    state: &AppState,
    user: &User,
    new_email: &str,
    options: &LinkOptions,
) -> AuthResult<User> {
    let redirect_to = redirect_target(state, options.redirect_to.as_deref());
    let to_new = send::Outgoing {
        action: EmailAction::EmailChangeNew,
        user,
        redirect_to: &redirect_to,
        challenge: options.challenge.as_ref(),
        audit: None,
    };
    let new = send::prepare(state, &to_new, new_email, true).await?;
    let current = match user.email.as_deref().filter(|_| needs_current(state, user)) {
        Some(current_address) => {
            let to_current = send::Outgoing {
                action: EmailAction::EmailChangeCurrent,
                ..to_new
            };
            match send::prepare(state, &to_current, current_address, false).await {
                Ok(mut prepared) => {
                    // One PKCE flow for the change (the new address's), as GoTrue keeps one.
                    if let Some(flow) = prepared.flow.take() {
                        state.store.delete_flow(flow.id).await?;
                    }
                    Some((to_current, current_address, prepared))
                }
                Err(err) => {
                    send::withdraw(state, &new).await;
                    return Err(err);
                }
            }
        }
        None => {
            // A change without the current address's word voids a stale current-address code.
            if let Some(stale) = state
                .store
                .one_time_token_of(user.id, TokenType::EmailChangeCurrent)
                .await?
            {
                state
                    .store
                    .consume_one_time_token(stale.id, &stale.token_hash)
                    .await?;
            }
            None
        }
    };
    let mut sent = send::deliver(state, &to_new, new_email, &new, Some(new_email)).await;
    if sent.is_ok() {
        if let Some((to_current, address, prepared)) = &current {
            sent = send::deliver(state, to_current, address, prepared, Some(new_email)).await;
        }
    }
    if let Err(err) = sent {
        send::withdraw(state, &new).await;
        if let Some((_, _, prepared)) = &current {
            send::withdraw(state, prepared).await;
        }
        return Err(err);
    }
    let now = new.token.created_at;
    let changes = UserChanges {
        email_change: Some(Some(new_email.to_owned())),
        email_change_sent_at: Some(Some(now)),
        email_change_confirm_status: Some(0),
        ..Default::default()
    };
    state
        .store
        .change_user(user.id, &changes, now)
        .await?
        .ok_or(AuthError::TokenUserGone)
}

/// How the user's `email` identity follows a new address: a user without one (anonymous,
/// WeChat) gains one, linked in the user's own change (its providers list recomputed in the
/// same transaction); an existing one is returned, to be moved by [`move_email_identity`]
/// once the user is written.
pub async fn email_identity_for(
    state: &AppState,
    user_id: Uuid,
    new_email: &str,
    now: DateTime<Utc>,
) -> AuthResult<(Option<IdentityChange>, Option<Identity>)> {
    let identities = state.store.identities_of(user_id).await?;
    if let Some(existing) = identities.into_iter().find(|i| i.provider == "email") {
        return Ok((None, Some(existing)));
    }
    let mut identity = Identity::email(user_id, new_email, now);
    if let Value::Object(data) = &mut identity.identity_data {
        data.insert("email_verified".into(), json!(true));
    }
    Ok((Some(IdentityChange::Link(identity)), None))
}

/// The `email` identity now names `new_email`, verified.
pub async fn move_email_identity(
    state: &AppState,
    mut identity: Identity,
    new_email: &str,
    now: DateTime<Utc>,
) -> AuthResult<()> {
    if let Value::Object(data) = &mut identity.identity_data {
        data.insert("email".into(), json!(new_email));
        data.insert("email_verified".into(), json!(true));
    }
    identity.email = Some(new_email.to_owned());
    identity.updated_at = now;
    state.store.update_identity(&identity).await?;
    Ok(())
}
