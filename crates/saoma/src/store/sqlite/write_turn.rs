//! The process's SQLite write turn: the sqlx writer pool's only connection, held unused by
//! a thread that writes (or checkpoints) outside sqlx. Everything that writes queues for it
//! in the pool's order, instead of racing for SQLite's lock through its busy handler (which
//! sleeps up to 100 ms between tries and serves no one in order).

use crate::store::{StoreError, StoreResult};

/// A handle on the turn for a thread of its own (not a runtime thread: taking it blocks).
pub(super) struct WriteTurn {
    pool: sqlx::SqlitePool,
    /// The runtime that opened the store: the pool's timers and its giving back run there.
    runtime: tokio::runtime::Handle,
}

/// The turn, held until dropped.
pub(super) struct HeldTurn<'a> {
    conn: Option<sqlx::pool::PoolConnection<sqlx::Sqlite>>,
    runtime: &'a tokio::runtime::Handle,
}

impl WriteTurn {
    /// The turn of `pool` (one connection), on the current tokio runtime.
    pub(super) fn new(pool: sqlx::SqlitePool) -> StoreResult<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| {
            StoreError::Connect(format!("the SQLite writers need a tokio runtime: {e}"))
        })?;
        Ok(Self { pool, runtime })
    }

    /// Waits for the turn.
    pub(super) fn take(&self) -> StoreResult<HeldTurn<'_>> {
        // A runtime shutting down panics in its timers: then no write is coming anyway.
        let conn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.runtime.block_on(self.pool.acquire())
        }))
        .map_err(|_| StoreError::Unavailable("the runtime is shutting down"))??;
        Ok(HeldTurn {
            conn: Some(conn),
            runtime: &self.runtime,
        })
    }
}

impl Drop for HeldTurn<'_> {
    fn drop(&mut self) {
        // Giving the connection back spawns on the runtime.
        let _runtime = self.runtime.enter();
        drop(self.conn.take());
    }
}
