use async_trait::async_trait;

use super::{statements::optional, SqliteStore};
use crate::store::{RateLimitStore, StoreResult};

/// One statement, so that concurrent requests cannot both take the last token.
const TAKE_TOKEN_SQL: &str = "INSERT INTO saoma_rate_limits AS r (key, tokens, updated_at) \
    VALUES (?1, ?2 - 1, ?3) ON CONFLICT (key) DO UPDATE SET \
    tokens = min(?2, r.tokens + max(0, ?3 - r.updated_at) * ?4) - 1, updated_at = ?3 \
    WHERE min(?2, r.tokens + max(0, ?3 - r.updated_at) * ?4) >= 1 RETURNING tokens";

#[async_trait]
impl RateLimitStore for SqliteStore {
    async fn take_rate_limit_token(
        &self,
        key: &str,
        capacity: f64,
        refill: f64,
        now: f64,
    ) -> StoreResult<bool> {
        let key = key.to_owned();
        self.writer
            .write(move |conn| {
                let left = optional(
                    conn,
                    TAKE_TOKEN_SQL,
                    rusqlite::params![key, capacity, now, refill],
                    |_| Ok(()),
                )?;
                Ok(left.is_some())
            })
            .await
    }
}
