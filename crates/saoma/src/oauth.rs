//! Signing in through an external provider: find the person's identity or create their
//! account, keeping the profile fresh on every login.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    domain::{Identity, User},
    http::error::{ApiError, ApiResult},
    providers::ProviderUser,
    state::AppState,
    store::StoreError,
};

/// The user behind `profile` at `provider`, created on first sign-in.
pub async fn user_for(
    state: &AppState,
    provider: &str,
    profile: &ProviderUser,
    now: DateTime<Utc>,
) -> ApiResult<User> {
    if let Some(mut identity) = state
        .store
        .identity_by_provider(provider, &profile.subject)
        .await?
    {
        identity.identity_data = Value::Object(profile.identity_data.clone());
        identity.last_sign_in_at = Some(now);
        identity.updated_at = now;
        state.store.update_identity(&identity).await?;
        let mut user = state
            .store
            .user_by_id(identity.user_id)
            .await?
            .ok_or_else(|| ApiError::internal(format!("identity {} has no user", identity.id)))?;
        // Nicknames and avatars change; GoTrue refreshes the metadata from the provider.
        user.merge_user_metadata(&profile.user_metadata);
        user.updated_at = now;
        state.store.update_user(&user).await?;
        return Ok(user);
    }

    if state.config.disable_signup {
        return Err(ApiError::unprocessable(
            "signup_disabled",
            "Signups not allowed for this instance",
        ));
    }
    let mut user = User::new(Uuid::new_v4(), &state.config.jwt.aud, provider, now);
    user.user_metadata = Value::Object(profile.user_metadata.clone());
    user.app_metadata = json!({ "provider": provider, "providers": [provider] });
    let identity = Identity {
        id: Uuid::new_v4(),
        provider_id: profile.subject.clone(),
        provider: provider.to_owned(),
        user_id: user.id,
        identity_data: Value::Object(profile.identity_data.clone()),
        email: profile.email.clone(),
        last_sign_in_at: Some(now),
        created_at: now,
        updated_at: now,
    };
    match state
        .store
        .create_user(&user, std::slice::from_ref(&identity))
        .await
    {
        // Two callbacks for one new person raced: the other one created the account.
        Err(StoreError::Conflict(_)) => {
            let identity = state
                .store
                .identity_by_provider(provider, &profile.subject)
                .await?
                .ok_or_else(|| ApiError::internal("identity conflict without identity"))?;
            state
                .store
                .user_by_id(identity.user_id)
                .await?
                .ok_or_else(|| ApiError::internal("identity without user"))
        }
        Err(other) => Err(other.into()),
        Ok(()) => Ok(user),
    }
}
