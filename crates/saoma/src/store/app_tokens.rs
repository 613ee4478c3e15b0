//! Provider apps' access tokens, shared by every node (see `domain::app_token`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::app_token::AppToken;

#[async_trait]
pub trait AppTokenStore: Send + Sync {
    async fn app_token(&self, app_id: &str) -> StoreResult<Option<AppToken>>;
    /// Takes the lease of `app_id`'s row for `holder` until `until` (creating the row if
    /// missing), when nobody holds it at `now` or `holder` already does; `false` when another
    /// holder's lease runs. Atomic across nodes.
    async fn lease_app_token(
        &self,
        app_id: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Stores a fetched token and ends the lease, only while `holder` holds it; `false`
    /// otherwise (its lease ran out and another node took over). `forced` records a forced
    /// refresh at `now` (counted per UTC day in `forced_today`).
    async fn store_app_token(
        &self,
        app_id: &str,
        holder: &str,
        access_token: &str,
        expires_at: DateTime<Utc>,
        forced: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Ends `holder`'s lease without storing anything (the fetch failed).
    async fn release_app_token_lease(&self, app_id: &str, holder: &str) -> StoreResult<()>;
}
