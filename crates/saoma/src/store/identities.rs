//! Identities: the ways a user is known to a provider (email, a WeChat openid, ...).

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreResult;
use crate::domain::Identity;

#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// The user's identities, oldest first.
    async fn identities_of(&self, user_id: Uuid) -> StoreResult<Vec<Identity>>;
    async fn identity_by_provider(
        &self,
        provider: &str,
        provider_id: &str,
    ) -> StoreResult<Option<Identity>>;
    /// Every identity with this subject, whatever the provider (e.g. one WeChat unionid seen
    /// through several WeChat apps).
    async fn identities_by_provider_id(&self, provider_id: &str) -> StoreResult<Vec<Identity>>;
    /// Attaches an identity to an existing user; `Conflict("identity")` if it is taken.
    async fn add_identity(&self, identity: &Identity) -> StoreResult<()>;
    /// Deletes an identity of `user_id`; `false` when there was none.
    async fn delete_identity(&self, user_id: Uuid, identity_id: Uuid) -> StoreResult<bool>;
    /// Writes `identity_data` and `last_sign_in_at` / `updated_at` of an identity of
    /// `identity.user_id`; nothing when that user has no such identity (any more).
    async fn update_identity(&self, identity: &Identity) -> StoreResult<()>;
}
