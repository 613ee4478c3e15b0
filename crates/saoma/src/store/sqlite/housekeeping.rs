use async_trait::async_trait;
use chrono::Utc;
use rusqlite::ToSql;

use super::{
    decode::ts,
    statements::{execute, optional},
    SqliteStore,
};
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
        self.writer
            .write(|conn| {
                execute(
                    conn,
                    "CREATE TABLE IF NOT EXISTS saoma_migrations \
                     (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
                    [],
                )?;
                Ok(())
            })
            .await?;
        for (version, name, sql) in MIGRATIONS {
            // Each in a write of its own: BEGIN IMMEDIATE takes the write lock first, so two
            // processes never both apply one, and a failing one is undone whole.
            self.writer
                .write(move |conn| {
                    let applied = optional(
                        conn,
                        "SELECT version FROM saoma_migrations WHERE version = ?",
                        [version],
                        |_| Ok(()),
                    )?;
                    if applied.is_some() {
                        return Ok(());
                    }
                    conn.execute_batch(sql)
                        .and_then(|()| {
                            conn.execute(
                                "INSERT INTO saoma_migrations (version, name, applied_at) \
                                 VALUES (?, ?, ?)",
                                rusqlite::params![version, name, ts(Utc::now())],
                            )
                        })
                        .map_err(|err| StoreError::Migration(format!("{version}_{name}: {err}")))?;
                    Ok(())
                })
                .await?;
        }
        Ok(())
    }

    /// The readers and the writer: a writer thread that stopped makes `/health` say so.
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        self.writer.write(|_| Ok(())).await
    }

    /// The sqlx readers, and the writer's one connection (always open, never idle in a pool).
    fn pool_stats(&self) -> (u32, u32) {
        (self.reader.size() + 1, self.reader.num_idle() as u32)
    }

    async fn sweep(&self, plan: &SweepPlan) -> StoreResult<Swept> {
        // One write, so that processes sharing the file never sweep at once; each statement
        // is bounded by the batch.
        let plan = *plan;
        self.writer
            .write(move |conn| {
                let batch = &plan.batch as &dyn ToSql;
                let delete = |table: &str, key: &str, condition: &str, params: &[&dyn ToSql]| {
                    let sql = format!(
                        "DELETE FROM {table} WHERE {key} IN \
                         (SELECT {key} FROM {table} WHERE {condition} LIMIT ?)"
                    );
                    Ok::<_, StoreError>(execute(conn, &sql, params)? as u64)
                };
                Ok(Swept {
                    flows: delete(
                        "flow_state",
                        "id",
                        "created_at < ?",
                        &[&ts(plan.flows_before), batch],
                    )?,
                    rate_limit_buckets: delete(
                        "saoma_rate_limits",
                        "key",
                        "updated_at < ?",
                        &[&plan.buckets_idle_before, batch],
                    )?,
                    sessions: delete(
                        "sessions",
                        "id",
                        "not_after < ?",
                        &[&ts(plan.sessions_ended_before), batch],
                    )?,
                    orphan_refresh_tokens: delete(
                        "refresh_tokens",
                        "id",
                        "session_id IS NULL",
                        &[batch],
                    )?,
                    one_time_tokens: delete(
                        "one_time_tokens",
                        "id",
                        "created_at < ?",
                        &[&ts(plan.one_time_tokens_before), batch],
                    )?,
                    scan_tickets: delete(
                        "saoma_scan_tickets",
                        "scene",
                        "expires_at < ?",
                        &[&ts(plan.scan_tickets_before), batch],
                    )?,
                    skipped: false,
                })
            })
            .await
    }
}
