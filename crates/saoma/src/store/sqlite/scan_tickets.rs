use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params_from_iter, types::Value};

use super::{
    columns::SCAN_TICKET_COLUMNS,
    decode::{scan_ticket_from_row, ts},
    statements::{execute, execute_unique},
    SqliteStore,
};
use crate::domain::scan_ticket::{ScanStatus, ScanTicket};
use crate::store::{ScanTicketStore, StoreResult};

static INSERT_TICKET: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO saoma_scan_tickets ({SCAN_TICKET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
});

/// One statement, so that two confirms racing cannot both win. The statuses it may leave come
/// as one JSON array (SQLite binds no lists).
const ADVANCE_SQL: &str = "UPDATE saoma_scan_tickets SET status = ?1, \
    person = coalesce(?2, person), updated_at = ?3 \
    WHERE scene = ?4 AND expires_at > ?3 AND status IN (SELECT value FROM json_each(?5))";

#[async_trait]
impl ScanTicketStore for SqliteStore {
    async fn create_scan_ticket(&self, ticket: &ScanTicket) -> StoreResult<()> {
        let values: [Value; 9] = [
            ticket.scene.clone().into(),
            ticket.provider.clone().into(),
            ticket.flow_id.to_string().into(),
            ticket.browser_secret_hash.clone().into(),
            ticket.status.as_str().to_owned().into(),
            ticket.person.clone().into(),
            ts(ticket.created_at).into(),
            ts(ticket.expires_at).into(),
            ts(ticket.updated_at).into(),
        ];
        self.writer
            .write(move |conn| {
                execute_unique(
                    conn,
                    &INSERT_TICKET,
                    params_from_iter(values),
                    "scan ticket",
                )?;
                Ok(())
            })
            .await
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
        let values: [Value; 5] = [
            to.as_str().to_owned().into(),
            person.map(str::to_owned).into(),
            ts(now).into(),
            scene.to_owned().into(),
            from.into(),
        ];
        self.writer
            .write(move |conn| Ok(execute(conn, ADVANCE_SQL, params_from_iter(values))? == 1))
            .await
    }
}
