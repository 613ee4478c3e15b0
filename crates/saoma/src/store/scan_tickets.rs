//! Scan-to-log-in tickets (see `domain::scan_ticket`): shared by every node.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::scan_ticket::{ScanStatus, ScanTicket};

#[async_trait]
pub trait ScanTicketStore: Send + Sync {
    /// Stores a new ticket; `StoreError::Conflict("scan ticket")` when its scene is taken.
    async fn create_scan_ticket(&self, ticket: &ScanTicket) -> StoreResult<()>;
    async fn scan_ticket(&self, scene: &str) -> StoreResult<Option<ScanTicket>>;
    /// Moves the ticket `scene` to `to` (and records `person` when given), only if its status
    /// is one of `from` and it has not expired at `now`; `false` when nothing changed (another
    /// request or node moved it first, or it expired). One statement: two confirms racing on
    /// two nodes cannot both win.
    async fn advance_scan_ticket(
        &self,
        scene: &str,
        from: &[ScanStatus],
        to: ScanStatus,
        person: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
}
