//! The database as a whole: its schema, its health, and the deletion of rows nothing can use.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;

/// What one housekeeping run deletes: rows nothing can use any more, at most `batch` of each
/// kind, so that a run after a long pause cannot hold the database for long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SweepPlan {
    /// Flows (OAuth logins) started before this.
    pub flows_before: DateTime<Utc>,
    /// Rate-limit buckets last touched before this (in the buckets' seconds): full again.
    pub buckets_idle_before: f64,
    /// Sessions whose `not_after` has passed by then (their refresh tokens go with them).
    pub sessions_ended_before: DateTime<Utc>,
    /// One-time codes issued before this: expired.
    pub one_time_tokens_before: DateTime<Utc>,
    /// Scan-to-log-in tickets that expired before this.
    pub scan_tickets_before: DateTime<Utc>,
    pub batch: i64,
}

/// What a run deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    pub flows: u64,
    pub rate_limit_buckets: u64,
    pub sessions: u64,
    /// Refresh tokens without a session (left by old GoTrue versions): nothing accepts them.
    pub orphan_refresh_tokens: u64,
    pub one_time_tokens: u64,
    pub scan_tickets: u64,
    /// Another node held the sweep lock: this run did nothing.
    pub skipped: bool,
}

#[async_trait]
pub trait Housekeeping: Send + Sync {
    /// Applies pending migrations; safe to call from several processes at once.
    async fn migrate(&self) -> StoreResult<()>;
    /// A cheap round trip, for health checks.
    async fn ping(&self) -> StoreResult<()>;
    /// (open connections, idle connections) of the pool, for metrics.
    fn pool_stats(&self) -> (u32, u32);
    /// Deletes what nothing can use (see [`SweepPlan`]); on a database shared by several
    /// nodes only one sweeps at a time.
    async fn sweep(&self, plan: &SweepPlan) -> StoreResult<Swept>;
}
