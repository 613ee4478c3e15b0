use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params_from_iter, types::Value};

use super::{
    columns::APP_TOKEN_COLUMNS,
    decode::{app_token_from_row, ts},
    statements::execute,
    SqliteStore,
};
use crate::domain::app_token::AppToken;
use crate::store::{AppTokenStore, StoreResult};

/// One statement (the row is created if missing), so that two nodes cannot both take the
/// lease. A lease that ran out is anyone's.
const LEASE_SQL: &str = "INSERT INTO saoma_app_tokens AS t \
    (app_id, lease_holder, lease_until, forced_today, updated_at) VALUES (?1, ?2, ?4, 0, ?3) \
    ON CONFLICT (app_id) DO UPDATE SET lease_holder = ?2, lease_until = ?4, updated_at = ?3 \
    WHERE t.lease_holder IS NULL OR t.lease_holder = ?2 \
    OR t.lease_until IS NULL OR t.lease_until <= ?3";

/// Only the holder stores, and storing ends its lease. A forced refresh on the same UTC day
/// as the last one adds to that day's count; on a new day the count starts again (the date
/// is the first ten characters of the stored time).
const STORE_SQL: &str = "UPDATE saoma_app_tokens SET access_token = ?3, expires_at = ?4, \
    lease_holder = NULL, lease_until = NULL, \
    forced_today = CASE WHEN NOT ?5 THEN forced_today \
        WHEN substr(forced_at, 1, 10) = substr(?6, 1, 10) THEN forced_today + 1 ELSE 1 END, \
    forced_at = CASE WHEN ?5 THEN ?6 ELSE forced_at END, updated_at = ?6 \
    WHERE app_id = ?1 AND lease_holder = ?2";

#[async_trait]
impl AppTokenStore for SqliteStore {
    async fn app_token(&self, app_id: &str) -> StoreResult<Option<AppToken>> {
        let row = sqlx::query(&format!(
            "SELECT {APP_TOKEN_COLUMNS} FROM saoma_app_tokens WHERE app_id = ?"
        ))
        .bind(app_id)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(app_token_from_row).transpose()
    }

    async fn lease_app_token(
        &self,
        app_id: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let params = [app_id.to_owned(), holder.to_owned(), ts(now), ts(until)];
        self.writer
            .write(move |conn| Ok(execute(conn, LEASE_SQL, params)? == 1))
            .await
    }

    async fn store_app_token(
        &self,
        app_id: &str,
        holder: &str,
        access_token: &str,
        expires_at: DateTime<Utc>,
        forced: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let values: [Value; 6] = [
            app_id.to_owned().into(),
            holder.to_owned().into(),
            access_token.to_owned().into(),
            ts(expires_at).into(),
            forced.into(),
            ts(now).into(),
        ];
        self.writer
            .write(move |conn| Ok(execute(conn, STORE_SQL, params_from_iter(values))? == 1))
            .await
    }

    async fn release_app_token_lease(&self, app_id: &str, holder: &str) -> StoreResult<()> {
        let params = [app_id.to_owned(), holder.to_owned()];
        self.writer
            .write(move |conn| {
                execute(
                    conn,
                    "UPDATE saoma_app_tokens SET lease_holder = NULL, lease_until = NULL \
                     WHERE app_id = ? AND lease_holder = ?",
                    params,
                )?;
                Ok(())
            })
            .await
    }
}
