use async_trait::async_trait;

use super::{
    columns::AUDIT_COLUMNS,
    decode::{audit_from_row, ts},
    SqliteStore,
};
use crate::domain::audit::AuditEntry;
use crate::store::{AuditStore, StoreResult};

const INSERT_AUDIT: &str =
    "INSERT INTO audit_log_entries (id, payload, created_at, ip_address) VALUES (?, ?, ?, ?)";

pub(super) async fn insert_audit(
    conn: &mut sqlx::SqliteConnection,
    entry: &AuditEntry,
) -> StoreResult<()> {
    sqlx::query(INSERT_AUDIT)
        .bind(entry.id.to_string())
        .bind(entry.payload.to_string())
        .bind(ts(entry.created_at))
        .bind(&entry.ip_address)
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl AuditStore for SqliteStore {
    /// On the group writer: every refresh and sign-in records one, so they share commits
    /// with the rotations instead of paying one each.
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let row = (
            entry.id.to_string(),
            entry.payload.to_string(),
            ts(entry.created_at),
            entry.ip_address.clone(),
        );
        self.group
            .write(move |conn| {
                conn.prepare_cached(INSERT_AUDIT)?
                    .execute(rusqlite::params![row.0, row.1, row.2, row.3])?;
                Ok(())
            })
            .await
    }

    async fn list_audit(&self, offset: i64, limit: i64) -> StoreResult<(Vec<AuditEntry>, i64)> {
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log_entries \
             ORDER BY created_at DESC, id LIMIT ? OFFSET ?"
        ))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.reader)
        .await?;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log_entries")
            .fetch_one(&self.reader)
            .await?;
        let entries = rows
            .iter()
            .map(audit_from_row)
            .collect::<StoreResult<_>>()?;
        Ok((entries, total))
    }
}
