use async_trait::async_trait;
use sqlx::PgConnection;

use super::{columns::AUDIT_COLUMNS, decode::audit_from_row, PostgresStore};
use crate::domain::audit::AuditEntry;
use crate::store::{retry_read, AuditStore, StoreResult};

pub(super) async fn insert_audit(conn: &mut PgConnection, entry: &AuditEntry) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) \
         VALUES ('00000000-0000-0000-0000-000000000000', $1, CAST($2 AS json), $3, $4)",
    )
    .bind(entry.id)
    .bind(sqlx::types::Json(&entry.payload))
    .bind(entry.created_at)
    .bind(&entry.ip_address)
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        let mut conn = self.writes.single().await?;
        insert_audit(&mut conn, entry).await?;
        conn.give_back();
        Ok(())
    }

    async fn list_audit(&self, offset: i64, limit: i64) -> StoreResult<(Vec<AuditEntry>, i64)> {
        let rows = retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {AUDIT_COLUMNS} FROM auth.audit_log_entries \
                 ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2"
            ))
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?)
        })
        .await?;
        let total: i64 = retry_read(|| async {
            Ok(
                sqlx::query_scalar("SELECT count(*) FROM auth.audit_log_entries")
                    .fetch_one(&self.pool)
                    .await?,
            )
        })
        .await?;
        let entries = rows
            .iter()
            .map(audit_from_row)
            .collect::<StoreResult<_>>()?;
        Ok((entries, total))
    }
}
