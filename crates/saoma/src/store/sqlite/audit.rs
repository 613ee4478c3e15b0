use async_trait::async_trait;
use rusqlite::{params_from_iter, types::Value};

use super::{
    columns::AUDIT_COLUMNS,
    decode::{audit_from_row, ts},
    statements::execute,
    SqliteStore,
};
use crate::domain::audit::AuditEntry;
use crate::store::{AuditStore, StoreResult};

const INSERT_AUDIT: &str =
    "INSERT INTO audit_log_entries (id, payload, created_at, ip_address) VALUES (?, ?, ?, ?)";

/// An entry's columns, rendered by the request before its write: the writer's thread is the
/// one every write waits for, so it does not serialise JSON.
pub(super) struct AuditRow([Value; 4]);

impl From<&AuditEntry> for AuditRow {
    fn from(entry: &AuditEntry) -> Self {
        Self([
            entry.id.to_string().into(),
            entry.payload.to_string().into(),
            ts(entry.created_at).into(),
            entry.ip_address.clone().into(),
        ])
    }
}

pub(super) fn insert_audit(conn: &rusqlite::Connection, row: &AuditRow) -> StoreResult<()> {
    execute(conn, INSERT_AUDIT, params_from_iter(&row.0))?;
    Ok(())
}

#[async_trait]
impl AuditStore for SqliteStore {
    /// Every refresh and sign-in records one: they share commits with the rotations.
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let row = AuditRow::from(entry);
        self.writer
            .write(move |conn| insert_audit(conn, &row))
            .await
    }

    async fn list_audit(&self, offset: i64, limit: i64) -> StoreResult<(Vec<AuditEntry>, i64)> {
        let rows = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log_entries \
             ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
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
