//! Rate limits: token buckets shared by every node using the database.

use async_trait::async_trait;

use super::StoreResult;

#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Takes one token from the bucket `key` (created full), refilled at `refill` per second
    /// up to `capacity`, atomically; `false` when it is empty. `now` is in seconds.
    async fn take_rate_limit_token(
        &self,
        key: &str,
        capacity: f64,
        refill: f64,
        now: f64,
    ) -> StoreResult<bool>;
}
