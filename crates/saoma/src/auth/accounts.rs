//! Creating an account: the user, its identities, the sign-up's audit entry and, when the
//! sign-up signs the user in at once, the first session, all in one transaction. A failure
//! anywhere leaves no user behind (and an app's trigger on `auth.users` never sees a user
//! the client was told does not exist).

use serde_json::json;

use crate::{
    auth::tokens::{self, NewSession},
    auth::{AuthError, AuthResult, Client},
    domain::{
        audit::{Action, AuditEntry},
        Identity, User,
    },
    state::AppState,
    store::{NewAccount, StoreError, StoreResult},
};

/// Stores the account; `sign_in` is the session's method (`password`, `anonymous`...) when
/// the sign-up signs in. `Conflict` when the email or an identity is taken.
pub async fn create(
    state: &AppState,
    user: &User,
    identities: &[Identity],
    provider: &str,
    sign_in: Option<&str>,
    client: &Client,
) -> StoreResult<Option<NewSession>> {
    let signed_up = AuditEntry::new(
        Action::UserSignedUp,
        user,
        json!({ "provider": provider }),
        &client.ip,
        state.clock.now(),
    );
    let session = sign_in.map(|method| tokens::new_session(state, user, method, client));
    let mut audit = vec![signed_up];
    audit.extend(session.as_ref().map(|s| s.audit.clone()));
    state
        .store
        .create_account(&NewAccount {
            user,
            identities,
            session: session.as_ref().map(|s| (&s.session, &s.token)),
            audit: &audit,
        })
        .await?;
    Ok(session)
}

/// Stores `user` (no session) unless a concurrent sign-up stored the same address or number
/// first: `Err(existing)` then, as `find_existing` reads it back.
pub async fn create_unless_taken<F, Fut>(
    state: &AppState,
    user: User,
    identities: &[Identity],
    provider: &str,
    client: &Client,
    find_existing: F,
) -> AuthResult<Result<User, User>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = StoreResult<Option<User>>>,
{
    match create(state, &user, identities, provider, None, client).await {
        Ok(_) => Ok(Ok(user)),
        Err(StoreError::Conflict(_)) => find_existing()
            .await?
            .map(Err)
            .ok_or_else(|| AuthError::internal("user vanished")),
        Err(other) => Err(other.into()),
    }
}
