use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    columns::SCAN_TICKET_COLUMNS,
    decode::{is_unique_violation, scan_ticket_from_row, ts},
    SqliteStore,
};
use crate::domain::scan_ticket::{ScanStatus, ScanTicket};
use crate::store::{ScanTicketStore, StoreError, StoreResult};

/// One statement, so that two confirms racing cannot both win. The statuses it may leave come
/// as one JSON array (SQLite binds no lists).
const ADVANCE_SQL: &str = "UPDATE saoma_scan_tickets SET status = ?1, \
    person = coalesce(?2, person), updated_at = ?3 \
    WHERE scene = ?4 AND expires_at > ?3 AND status IN (SELECT value FROM json_each(?5))";

#[async_trait]
impl ScanTicketStore for SqliteStore {
    async fn create_scan_ticket(&self, ticket: &ScanTicket) -> StoreResult<()> {
        let result = sqlx::query(&format!(
            "INSERT INTO saoma_scan_tickets ({SCAN_TICKET_COLUMNS}) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&ticket.scene)
        .bind(&ticket.provider)
        .bind(ticket.flow_id.to_string())
        .bind(&ticket.browser_secret_hash)
        .bind(ticket.status.as_str())
        .bind(&ticket.person)
        .bind(ts(ticket.created_at))
        .bind(ts(ticket.expires_at))
        .bind(ts(ticket.updated_at))
        .execute(&self.writer)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict("scan ticket")),
            Err(err) => Err(err.into()),
        }
    }

    async fn scan_ticket(&self, scene: &str) -> StoreResult<Option<ScanTicket>> {
        let row = sqlx::query(&format!(
            "SELECT {SCAN_TICKET_COLUMNS} FROM saoma_scan_tickets WHERE scene = ?"
        ))
        .bind(scene)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(scan_ticket_from_row).transpose()
    }

    async fn advance_scan_ticket(
        &self,
        scene: &str,
        from: &[ScanStatus],
        to: ScanStatus,
        person: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let from: Vec<&str> = from.iter().map(|status| status.as_str()).collect();
        let from = serde_json::Value::from(from).to_string();
        let done = sqlx::query(ADVANCE_SQL)
            .bind(to.as_str())
            .bind(person)
            .bind(ts(now))
            .bind(scene)
            .bind(from)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
