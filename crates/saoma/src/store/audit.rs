//! The audit log (GoTrue's `audit_log_entries`).

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::audit::AuditEntry;

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn record_audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// A page of audit entries, newest first, and the total.
    async fn list_audit(&self, offset: i64, limit: i64) -> StoreResult<(Vec<AuditEntry>, i64)>;
}
