//! Signing in through an external provider: find the person's identity, or a sibling identity
//! of the same person (one WeChat unionid across apps), or create their account; keep the
//! profile fresh on every login. Also linking an identity to a signed-in user.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    auth::{accounts, audit, tokens::NewSession, AuthError, AuthResult, Client},
    domain::{audit::Action, user_changes::IdentityChange, Identity, User, UserChanges},
    providers::ProviderUser,
    state::AppState,
    store::StoreError,
};

/// A person's account as an external sign-in found or created it.
pub struct ExternalUser {
    pub user: User,
    /// The identities a new account was created with (empty for an existing account).
    pub identities: Vec<Identity>,
    /// The first session, stored with a new account when the caller asked for one.
    pub session: Option<NewSession>,
}

/// The user behind `profile` at `provider`, created on first sign-in. A new account is
/// stored with its first session (`sign_in`, the session's method) in one transaction, so a
/// failure cannot leave an account behind that the browser was told nothing about.
pub async fn user_for(
    state: &AppState,
    provider: &str,
    profile: &ProviderUser,
    client: &Client,
    sign_in: Option<&str>,
) -> AuthResult<ExternalUser> {
    let now = state.clock.now();
    let existing = |user| ExternalUser {
        user,
        identities: Vec::new(),
        session: None,
    };
    if let Some(identity) = state
        .store
        .identity_by_provider(provider, &profile.subject)
        .await?
    {
        return refresh(state, identity, profile, now).await.map(existing);
    }
    if let Some(owner) = sibling_owner(state, provider, profile).await? {
        return attach(state, owner, provider, profile, client, now)
            .await
            .map(existing);
    }
    if state.config.disable_signup {
        return Err(AuthError::SignupDisabled);
    }
    let mut user = User::new(Uuid::new_v4(), &state.config.jwt.aud, provider, now);
    user.user_metadata = Value::Object(profile.user_metadata.clone());
    let identities = vec![new_identity(user.id, provider, profile, now)];
    match accounts::create(state, &user, &identities, provider, sign_in, client).await {
        // Two callbacks for one new person raced: the other one created the account.
        Err(StoreError::Conflict(_)) => {
            let identity = state
                .store
                .identity_by_provider(provider, &profile.subject)
                .await?
                .ok_or_else(|| AuthError::internal("identity conflict without identity"))?;
            owner_of(state, &identity).await.map(existing)
        }
        Err(other) => Err(other.into()),
        Ok(session) => Ok(ExternalUser {
            user,
            identities,
            session,
        }),
    }
}

/// Links `profile` at `provider` to `target` (a signed-in user), refusing an identity that
/// belongs to someone else.
pub async fn link_to(
    state: &AppState,
    target: User,
    provider: &str,
    profile: &ProviderUser,
    client: &Client,
) -> AuthResult<User> {
    let now = state.clock.now();
    match linkable(state, &target, provider, profile).await? {
        Some(identity) => refresh(state, identity, profile, now).await,
        None => attach(state, target, provider, profile, client, now).await,
    }
}

/// Whether `profile` at `provider` may be linked to `target`: refused when the identity, or a
/// sibling of it, belongs to someone else. Returns `target`'s own identity if it has it already.
/// Reads only, so that a link flow's callback can tell the browser early.
pub async fn linkable(
    state: &AppState,
    target: &User,
    provider: &str,
    profile: &ProviderUser,
) -> AuthResult<Option<Identity>> {
    if let Some(identity) = state
        .store
        .identity_by_provider(provider, &profile.subject)
        .await?
    {
        if identity.user_id != target.id {
            return Err(AuthError::IdentityAlreadyExists);
        }
        return Ok(Some(identity));
    }
    if sibling_owner(state, provider, profile)
        .await?
        .is_some_and(|owner| owner.id != target.id)
    {
        return Err(AuthError::IdentityAlreadyExists);
    }
    Ok(None)
}

/// What a link flow's callback learned from the provider, kept on the flow until the client
/// that started the link exchanges its code with its PKCE verifier: only then is the identity
/// attached, so that whoever else completes a link URL attaches nothing. The provider's code
/// is single use, so the profile cannot be fetched again at the exchange.
///
/// flow_state has no column for a profile: it is stored as JSON in `provider_access_token`,
/// with the provider's access token inside (a link flow's row only; it lives minutes).
#[derive(Serialize, Deserialize)]
pub struct PendingLink {
    pub provider_token: String,
    pub profile: ProviderUser,
}

impl PendingLink {
    pub fn encode(&self) -> AuthResult<String> {
        serde_json::to_string(self).map_err(AuthError::internal)
    }

    /// A link flow without a readable profile (one completed by an older saoma) cannot be
    /// finished: it answers as a flow that is gone.
    pub fn decode(stored: Option<&str>) -> AuthResult<Self> {
        stored
            .and_then(|json| serde_json::from_str(json).ok())
            .ok_or(AuthError::FlowStateNotFound)
    }
}

/// Removes one of `user`'s identities, never the last one; returns the updated user.
pub async fn unlink(
    state: &AppState,
    user: User,
    identity_id: Uuid,
    client: &Client,
) -> AuthResult<User> {
    let identities = state.store.identities_of(user.id).await?;
    if !identities.iter().any(|i| i.id == identity_id) {
        return Err(AuthError::IdentityNotFound);
    }
    let changes = UserChanges {
        identity: Some(IdentityChange::Unlink(identity_id)),
        audit: Some(audit::entry(
            state,
            Action::IdentityUnlinked,
            &user,
            json!({ "identity_id": identity_id }),
            client,
        )),
        ..Default::default()
    };
    match changed(state, user.id, &changes).await {
        // Decided under the user's lock: a concurrent unlink took the one before last.
        Err(AuthError::Store(StoreError::Conflict(_))) => {
            Err(AuthError::SingleIdentityNotDeletable)
        }
        other => other,
    }
}

/// Providers whose identities name one person by a shared key (WeChat apps by unionid).
fn family(provider: &str) -> &str {
    provider.split('_').next().unwrap_or(provider)
}

/// The user who already has an identity of the same family keyed by `profile.link_key`.
async fn sibling_owner(
    state: &AppState,
    provider: &str,
    profile: &ProviderUser,
) -> AuthResult<Option<User>> {
    let Some(key) = &profile.link_key else {
        return Ok(None);
    };
    let siblings = state.store.identities_by_provider_id(key).await?;
    match siblings
        .iter()
        .find(|i| i.provider != provider && family(&i.provider) == family(provider))
    {
        Some(sibling) => Ok(Some(owner_of(state, sibling).await?)),
        None => Ok(None),
    }
}

async fn owner_of(state: &AppState, identity: &Identity) -> AuthResult<User> {
    state
        .store
        .user_by_id(identity.user_id)
        .await?
        .ok_or_else(|| AuthError::internal(format!("identity {} has no user", identity.id)))
}

/// A known identity signed in again: nicknames and avatars change, so the profile is copied
/// over to the identity and the user's metadata, as GoTrue does, in one transaction.
async fn refresh(
    state: &AppState,
    mut identity: Identity,
    profile: &ProviderUser,
    now: DateTime<Utc>,
) -> AuthResult<User> {
    identity.identity_data = merged(&identity.identity_data, profile);
    identity.last_sign_in_at = Some(now);
    identity.updated_at = now;
    let user_id = identity.user_id;
    let changes = UserChanges {
        user_metadata: Some(profile.user_metadata.clone()),
        signed_in_identity: Some(identity),
        ..Default::default()
    };
    match changed(state, user_id, &changes).await {
        // Unlinked since it was looked up: this sign-in no longer leads to that user.
        Err(AuthError::Store(StoreError::Conflict(_))) => Err(AuthError::IdentityNotFound),
        other => other,
    }
}

/// Applies `changes` to the user `id` (see [`UserChanges`]); the user as written.
async fn changed(state: &AppState, id: Uuid, changes: &UserChanges) -> AuthResult<User> {
    state
        .store
        .change_user(id, changes, state.clock.now())
        .await?
        .ok_or(AuthError::UserNotFound)
}

/// Adds a new identity to an existing user.
async fn attach(
    state: &AppState,
    user: User,
    provider: &str,
    profile: &ProviderUser,
    client: &Client,
    now: DateTime<Utc>,
) -> AuthResult<User> {
    // The identity, the providers list and the audit entry commit together.
    let changes = UserChanges {
        identity: Some(IdentityChange::Link(new_identity(
            user.id, provider, profile, now,
        ))),
        user_metadata: Some(profile.user_metadata.clone()),
        audit: Some(audit::entry(
            state,
            Action::IdentityLinked,
            &user,
            json!({ "provider": provider }),
            client,
        )),
        ..Default::default()
    };
    match changed(state, user.id, &changes).await {
        Err(AuthError::Store(StoreError::Conflict(_))) => Err(AuthError::IdentityAlreadyExists),
        other => other,
    }
}

/// A snsapi_base login knows only the openid: keep the nickname and avatar seen before.
fn merged(previous: &Value, profile: &ProviderUser) -> Value {
    let mut data = previous.as_object().cloned().unwrap_or_default();
    data.extend(profile.identity_data.clone());
    Value::Object(data)
}

fn new_identity(
    user_id: Uuid,
    provider: &str,
    profile: &ProviderUser,
    now: DateTime<Utc>,
) -> Identity {
    Identity {
        id: Uuid::new_v4(),
        provider_id: profile.subject.clone(),
        provider: provider.to_owned(),
        user_id,
        identity_data: Value::Object(profile.identity_data.clone()),
        email: profile.email.clone(),
        last_sign_in_at: Some(now),
        created_at: now,
        updated_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_link_round_trips_and_a_plain_token_is_no_pending_link() {
        let mut identity_data = serde_json::Map::new();
        identity_data.insert("openid".into(), json!("o1"));
        let pending = PendingLink {
            provider_token: "provider-token".into(),
            profile: ProviderUser {
                subject: "u1".into(),
                link_key: Some("u1".into()),
                identity_data: identity_data.clone(),
                user_metadata: identity_data,
                email: None,
            },
        };
        let stored = pending.encode().expect("encode");
        let back = PendingLink::decode(Some(&stored)).expect("decode");
        assert_eq!(back.profile, pending.profile);
        assert_eq!(back.provider_token, "provider-token");
        for legacy in [Some("a-plain-provider-token"), None] {
            let err = PendingLink::decode(legacy).err().expect("refused");
            assert!(matches!(err, AuthError::FlowStateNotFound));
        }
    }

    #[test]
    fn families() {
        assert_eq!(family("wechat_mini"), family("wechat_qr"));
        assert_ne!(family("github"), family("wechat_qr"));
    }
}
