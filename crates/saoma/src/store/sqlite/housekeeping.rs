use async_trait::async_trait;
use chrono::Utc;
use sqlx::Executor;

use super::{decode::ts, SqliteStore};
use crate::store::{Housekeeping, StoreError, StoreResult, SweepPlan, Swept};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "auth_schema",
        include_str!("../../../migrations/sqlite/0001_auth_schema.sql"),
    ),
    (
        2,
        "flow_provider_code",
        include_str!("../../../migrations/sqlite/0002_flow_provider_code.sql"),
    ),
    (
        3,
        "rate_limits",
        include_str!("../../../migrations/sqlite/0003_rate_limits.sql"),
    ),
    (
        4,
        "one_time_tokens",
        include_str!("../../../migrations/sqlite/0004_one_time_tokens.sql"),
    ),
    (
        5,
        "phone_change",
        include_str!("../../../migrations/sqlite/0005_phone_change.sql"),
    ),
    (
        6,
        "email_flows",
        include_str!("../../../migrations/sqlite/0006_email_flows.sql"),
    ),
    (
        7,
        "scan_login",
        include_str!("../../../migrations/sqlite/0007_scan_login.sql"),
    ),
];

#[async_trait]
impl Housekeeping for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        Executor::execute(
            &mut *conn,
            "CREATE TABLE IF NOT EXISTS saoma_migrations \
             (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .await?;
        drop(conn);
        for (version, name, sql) in MIGRATIONS {
            // IMMEDIATE takes the write lock first, so two processes never both apply one; the
            // transaction rolls back when dropped, whatever interrupts it.
            let mut tx = self.write_transaction().await?;
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT version FROM saoma_migrations WHERE version = ?")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if applied.is_some() {
                continue;
            }
            let result = async {
                Executor::execute(&mut *tx, *sql).await?;
                sqlx::query(
                    "INSERT INTO saoma_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                )
                .bind(version)
                .bind(name)
                .bind(ts(Utc::now()))
                .execute(&mut *tx)
                .await
            }
            .await;
            if let Err(err) = result {
                return Err(StoreError::Migration(format!("{version}_{name}: {err}")));
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// The readers and both writers: a writer thread that stopped makes `/health` say so.
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        self.group.write(|_| Ok(())).await
    }

    fn pool_stats(&self) -> (u32, u32) {
        let size = self.reader.size() + self.writer.size();
        let idle = (self.reader.num_idle() + self.writer.num_idle()) as u32;
        (size, idle)
    }

    async fn sweep(&self, plan: &SweepPlan) -> StoreResult<Swept> {
        // One transaction, so that processes sharing the file never sweep at once; each
        // statement is bounded by the batch.
        let mut tx = self.write_transaction().await?;
        let flows = sqlx::query(
            "DELETE FROM flow_state WHERE id IN \
             (SELECT id FROM flow_state WHERE created_at < ? LIMIT ?)",
        )
        .bind(ts(plan.flows_before))
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let rate_limit_buckets = sqlx::query(
            "DELETE FROM saoma_rate_limits WHERE key IN \
             (SELECT key FROM saoma_rate_limits WHERE updated_at < ? LIMIT ?)",
        )
        .bind(plan.buckets_idle_before)
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let sessions = sqlx::query(
            "DELETE FROM sessions WHERE id IN \
             (SELECT id FROM sessions WHERE not_after < ? LIMIT ?)",
        )
        .bind(ts(plan.sessions_ended_before))
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let orphan_refresh_tokens = sqlx::query(
            "DELETE FROM refresh_tokens WHERE id IN \
             (SELECT id FROM refresh_tokens WHERE session_id IS NULL LIMIT ?)",
        )
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let one_time_tokens = sqlx::query(
            "DELETE FROM one_time_tokens WHERE id IN \
             (SELECT id FROM one_time_tokens WHERE created_at < ? LIMIT ?)",
        )
        .bind(ts(plan.one_time_tokens_before))
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let scan_tickets = sqlx::query(
            "DELETE FROM saoma_scan_tickets WHERE scene IN \
             (SELECT scene FROM saoma_scan_tickets WHERE expires_at < ? LIMIT ?)",
        )
        .bind(ts(plan.scan_tickets_before))
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(Swept {
            flows,
            rate_limit_buckets,
            sessions,
            orphan_refresh_tokens,
            one_time_tokens,
            scan_tickets,
            skipped: false,
        })
    }
}
