//! Postgres, in Supabase's `auth` schema. Several saoma processes may share one database:
//! migrations take an advisory lock and rotations lock the token row. One file per
//! aggregate, as the store's traits are split.

use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    Connection, PgConnection, PgPool,
};
use std::str::FromStr;

use super::StoreResult;
use reads::PrincipalReads;
use write_conns::{WriteConns, WriteTx};

mod app_tokens;
mod audit;
mod columns;
mod decode;
mod flows;
mod housekeeping;
mod identities;
mod one_time_tokens;
mod rate_limits;
mod reads;
mod scan_tickets;
mod sessions;
mod users;
mod write_conns;

pub use columns::{PRINCIPAL_SQL, SESSION_COLUMNS};
pub use reads::APPLICATION_NAME as TOKEN_CHECK_APPLICATION_NAME;
pub use users::UPDATE_USER_SQL;
pub use write_conns::APPLICATION_NAME as WRITE_APPLICATION_NAME;

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Token checks, on their own connections (see `reads`).
    principals: PrincipalReads,
    /// Transactions, on connections given back without a ping (see `write_conns`).
    writes: WriteConns,
}

impl PostgresStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)?;
        // One plain connection first: the pool retries a refused connection until its acquire
        // timeout and then reports only "pool timed out", hiding the cause.
        let probe = PgConnection::connect_with(&options).await?;
        let _ = probe.close().await;
        // No ping before each use (a round trip per request: ~20% of a `GET /user` in the
        // benchmarks). A connection broken by a database restart fails one request and is
        // dropped; idle connections are recycled after a minute so few go stale.
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .idle_timeout(std::time::Duration::from_secs(60))
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        Ok(Self {
            pool,
            principals: PrincipalReads::start(options.clone()),
            writes: WriteConns::new(options),
        })
    }

    /// A transaction; opening it is retried on a dead connection (nothing has run yet).
    async fn begin(&self) -> StoreResult<WriteTx> {
        super::retry_read(|| self.writes.begin()).await
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
