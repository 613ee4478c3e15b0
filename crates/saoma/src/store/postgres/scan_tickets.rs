use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    columns::SCAN_TICKET_COLUMNS,
    decode::{is_unique_violation, scan_ticket_from_row},
    PostgresStore,
};
use crate::domain::scan_ticket::{ScanStatus, ScanTicket};
use crate::store::{retry_read, ScanTicketStore, StoreError, StoreResult};

/// One statement, so that two confirms racing on two nodes cannot both win.
const ADVANCE_SQL: &str = "UPDATE auth.saoma_scan_tickets SET status = $1, \
    person = coalesce($2, person), updated_at = $3 \
    WHERE scene = $4 AND expires_at > $3 AND status = ANY($5)";

#[async_trait]
impl ScanTicketStore for PostgresStore {
    async fn create_scan_ticket(&self, ticket: &ScanTicket) -> StoreResult<()> {
        let result = sqlx::query(&format!(
            "INSERT INTO auth.saoma_scan_tickets ({SCAN_TICKET_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&ticket.scene)
        .bind(&ticket.provider)
        .bind(ticket.flow_id)
        .bind(&ticket.browser_secret_hash)
        .bind(ticket.status.as_str())
        .bind(&ticket.person)
        .bind(ticket.created_at)
        .bind(ticket.expires_at)
        .bind(ticket.updated_at)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict("scan ticket")),
            Err(err) => Err(err.into()),
        }
    }

    async fn scan_ticket(&self, scene: &str) -> StoreResult<Option<ScanTicket>> {
        let row = retry_read(|| async {
            Ok(sqlx::query(&format!(
                "SELECT {SCAN_TICKET_COLUMNS} FROM auth.saoma_scan_tickets WHERE scene = $1"
            ))
            .bind(scene)
            .fetch_optional(&self.pool)
            .await?)
        })
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
        let done = sqlx::query(ADVANCE_SQL)
            .bind(to.as_str())
            .bind(person)
            .bind(now)
            .bind(scene)
            .bind(from)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
