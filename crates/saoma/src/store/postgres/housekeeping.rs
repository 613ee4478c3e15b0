use async_trait::async_trait;
use sqlx::Executor;

use super::PostgresStore;
use crate::store::{retry_read, Housekeeping, StoreError, StoreResult, SweepPlan, Swept};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "auth_schema",
        include_str!("../../../migrations/postgres/0001_auth_schema.sql"),
    ),
    (
        2,
        "flow_provider_code",
        include_str!("../../../migrations/postgres/0002_flow_provider_code.sql"),
    ),
    (
        3,
        "rate_limits",
        include_str!("../../../migrations/postgres/0003_rate_limits.sql"),
    ),
    (
        4,
        "adopt_gotrue",
        include_str!("../../../migrations/postgres/0004_adopt_gotrue.sql"),
    ),
    (
        5,
        "one_time_tokens",
        include_str!("../../../migrations/postgres/0005_one_time_tokens.sql"),
    ),
    (
        6,
        "scan_login",
        include_str!("../../../migrations/postgres/0006_scan_login.sql"),
    ),
];
/// Arbitrary, fixed: serialises migrations across processes.
const MIGRATION_LOCK_KEY: i64 = 0x5a0a_5a0a;
/// Held (for its transaction) by the node that sweeps; the others skip their run.
const SWEEP_LOCK_KEY: i64 = 0x5a0a_5e3e;

#[async_trait]
impl Housekeeping for PostgresStore {
    async fn migrate(&self) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        // saoma's own bookkeeping, apart from GoTrue's `auth.schema_migrations`. The schema is
        // created only where missing: `CREATE SCHEMA IF NOT EXISTS` needs the CREATE privilege
        // on the database even when the schema exists, which GoTrue's role may not have.
        Executor::execute(
            &mut *tx,
            "DO $$ BEGIN IF to_regnamespace('auth') IS NULL THEN CREATE SCHEMA auth; END IF; END $$; \
             CREATE TABLE IF NOT EXISTS auth.saoma_migrations \
             (version bigint PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await?;
        for (version, name, sql) in MIGRATIONS {
            let applied: Option<i64> =
                sqlx::query_scalar("SELECT version FROM auth.saoma_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *tx)
                    .await?;
            if applied.is_some() {
                continue;
            }
            Executor::execute(&mut *tx, *sql)
                .await
                .map_err(|e| StoreError::Migration(format!("{version}_{name}: {e}")))?;
            sqlx::query("INSERT INTO auth.saoma_migrations (version, name) VALUES ($1, $2)")
                .bind(version)
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        retry_read(|| async { Ok(sqlx::query("SELECT 1").execute(&self.pool).await?) }).await?;
        Ok(())
    }

    fn pool_stats(&self) -> (u32, u32) {
        (self.pool.size(), self.pool.num_idle() as u32)
    }

    async fn sweep(&self, plan: &SweepPlan) -> StoreResult<Swept> {
        let mut tx = self.begin().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(SWEEP_LOCK_KEY)
            .fetch_one(&mut *tx)
            .await?;
        if !locked {
            return Ok(Swept {
                skipped: true,
                ..Swept::default()
            });
        }
        let flows = sqlx::query(
            "DELETE FROM auth.flow_state WHERE id IN \
             (SELECT id FROM auth.flow_state WHERE created_at < $1 LIMIT $2)",
        )
        .bind(plan.flows_before)
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let rate_limit_buckets = sqlx::query(
            "DELETE FROM auth.saoma_rate_limits WHERE key IN \
             (SELECT key FROM auth.saoma_rate_limits WHERE updated_at < $1 LIMIT $2)",
        )
        .bind(plan.buckets_idle_before)
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let sessions = sqlx::query(
            "DELETE FROM auth.sessions WHERE id IN \
             (SELECT id FROM auth.sessions WHERE not_after < $1 LIMIT $2)",
        )
        .bind(plan.sessions_ended_before)
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let orphan_refresh_tokens = sqlx::query(
            "DELETE FROM auth.refresh_tokens WHERE id IN \
             (SELECT id FROM auth.refresh_tokens WHERE session_id IS NULL LIMIT $1)",
        )
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let one_time_tokens = sqlx::query(
            "DELETE FROM auth.one_time_tokens WHERE id IN \
             (SELECT id FROM auth.one_time_tokens WHERE created_at < $1 LIMIT $2)",
        )
        .bind(plan.one_time_tokens_before.naive_utc())
        .bind(plan.batch)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let scan_tickets = sqlx::query(
            "DELETE FROM auth.saoma_scan_tickets WHERE scene IN \
             (SELECT scene FROM auth.saoma_scan_tickets WHERE expires_at < $1 LIMIT $2)",
        )
        .bind(plan.scan_tickets_before)
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
