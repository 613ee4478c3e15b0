//! OAuth flows: a login started at a provider, until its code is exchanged.

use async_trait::async_trait;
use uuid::Uuid;

use super::StoreResult;
use crate::domain::flow::FlowState;

#[async_trait]
pub trait FlowStore: Send + Sync {
    async fn create_flow(&self, flow: &FlowState) -> StoreResult<()>;
    async fn flow_by_id(&self, id: Uuid) -> StoreResult<Option<FlowState>>;
    /// The newest flow `user_id` started for an email link of `authentication_method` that
    /// has not handed out its auth code yet (GoTrue finds an email link's PKCE flow this way:
    /// the link carries no flow id).
    async fn pending_flow_of(
        &self,
        user_id: Uuid,
        authentication_method: &str,
    ) -> StoreResult<Option<FlowState>>;
    async fn flow_by_auth_code(&self, auth_code: &str) -> StoreResult<Option<FlowState>>;
    /// Records the provider's callback on a pending flow; `false` if it was already completed
    /// (a concurrent or repeated callback got there first).
    async fn complete_flow(&self, flow: &FlowState) -> StoreResult<bool>;
    /// Deletes a flow; `false` when it was already gone (so a code is used once only).
    async fn delete_flow(&self, id: Uuid) -> StoreResult<bool>;
}
