//! Storage, split by aggregate: one trait each (users, identities, sessions with their refresh
//! tokens, flows, one-time codes, rate limits, scan-to-log-in tickets, provider apps' access
//! tokens, audit, housekeeping), each implemented for SQLite
//! (`sqlite/`) and Postgres (`postgres/`), and one conformance suite (`tests/store`) that
//! both must pass for every method. [`Store`] is all of them together.

use std::sync::Arc;

mod app_tokens;
mod audit;
mod flows;
mod housekeeping;
mod identities;
mod one_time_tokens;
mod postgres;
mod principal;
mod rate_limits;
mod rotation;
mod row_shapes;
mod scan_tickets;
mod sessions;
mod sqlite;
mod users;

pub use app_tokens::AppTokenStore;
pub use audit::AuditStore;
pub use flows::FlowStore;
pub use housekeeping::{Housekeeping, SweepPlan, Swept};
pub use identities::IdentityStore;
pub use one_time_tokens::OneTimeTokenStore;
pub use postgres::PostgresStore;
/// The token check's statement in each dialect, public so that the benchmark's database floor
/// issues exactly what saoma issues.
pub use postgres::PRINCIPAL_SQL as POSTGRES_PRINCIPAL_SQL;
pub use postgres::SESSION_COLUMNS as POSTGRES_SESSION_COLUMNS;
pub use postgres::TOKEN_CHECK_APPLICATION_NAME as POSTGRES_TOKEN_CHECK_APPLICATION_NAME;
pub use postgres::UPDATE_USER_SQL as POSTGRES_UPDATE_USER_SQL;
pub use postgres::WRITE_APPLICATION_NAME as POSTGRES_WRITE_APPLICATION_NAME;
pub use principal::Principal;
pub(crate) use principal::PrincipalKey;
pub use rate_limits::RateLimitStore;
pub use scan_tickets::ScanTicketStore;
pub use sessions::{Rotation, SessionStore};
pub use sqlite::Checkpointer as SqliteCheckpointer;
pub use sqlite::SqliteStore;
pub use sqlite::FLOW_COLUMNS as SQLITE_FLOW_COLUMNS;
pub use sqlite::IDENTITY_COLUMNS as SQLITE_IDENTITY_COLUMNS;
pub use sqlite::PRINCIPAL_SQL as SQLITE_PRINCIPAL_SQL;
pub use sqlite::SESSION_COLUMNS as SQLITE_SESSION_COLUMNS;
pub use sqlite::UPDATE_USER_SQL as SQLITE_UPDATE_USER_SQL;
pub use sqlite::USER_COLUMNS as SQLITE_USER_COLUMNS;
pub use users::{NewAccount, UserStore};

/// Every store trait, for code that calls the store through a concrete type rather than
/// [`SharedStore`] (a `dyn Store` needs no import to call them).
pub mod prelude {
    pub use super::{
        AppTokenStore, AuditStore, FlowStore, Housekeeping, IdentityStore, OneTimeTokenStore,
        RateLimitStore, ScanTicketStore, SessionStore, Store, UserStore,
    };
}

/// The whole store: every aggregate's trait. Implemented for anything that implements them
/// all.
pub trait Store:
    UserStore
    + IdentityStore
    + SessionStore
    + FlowStore
    + OneTimeTokenStore
    + RateLimitStore
    + ScanTicketStore
    + AppTokenStore
    + AuditStore
    + Housekeeping
    + Send
    + Sync
    + 'static
{
}

impl<T> Store for T where
    T: UserStore
        + IdentityStore
        + SessionStore
        + FlowStore
        + OneTimeTokenStore
        + RateLimitStore
        + ScanTicketStore
        + AppTokenStore
        + AuditStore
        + Housekeeping
        + Send
        + Sync
        + 'static
{
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key already exists (e.g. an email address).
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// From the SQLite reads that run on the request's thread.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration: {0}")]
    Migration(String),
    /// The database could not be opened at start, with the cause in an operator's words.
    #[error("{0}")]
    Connect(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A part of the store that cannot answer now.
    #[error("database: {0}")]
    Unavailable(&'static str),
    /// One failure answered to every request whose read it was part of.
    #[error("{0}")]
    Shared(Arc<StoreError>),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// The database could not be reached, dropped the connection, or is too busy: nothing is
    /// wrong with the request, and the same request may work in a moment (HTTP 503).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Shared(inner) => inner.is_unavailable(),
            Self::Database(err) => is_unavailable(err),
            Self::Sqlite(rusqlite::Error::SqliteFailure(failure, _)) => matches!(
                failure.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ),
            _ => false,
        }
    }
}

fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Busy or locked past the busy timeout (primary codes 5 and 6 under the
                // extended code sqlx reports).
                return code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
            }
            // Postgres: connection exceptions (08), shutdowns and restarts (57P0x), too many
            // connections (53300).
            code.starts_with("08") || code.starts_with("57P0") || code == "53300"
        }
        _ => false,
    }
}

/// Runs `read` again, up to twice, when the connection it ran on was found dead (a database
/// restart or a terminated backend leaves every pooled connection dead; each failed try
/// retires one). Only for statements that change nothing.
pub(crate) async fn retry_read<T, F, Fut>(read: F) -> StoreResult<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = StoreResult<T>>,
{
    let mut tries = 0;
    loop {
        match read().await {
            Err(err) if err.is_unavailable() && tries < 2 => {
                tries += 1;
                tracing::debug!(error = %err, "read failed on a dead connection; retrying");
            }
            other => return other,
        }
    }
}

pub type SharedStore = Arc<dyn Store>;

/// How a store is opened, beyond its URL.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// SQLite only: answer token checks from memory until the database changes (see
    /// `sqlite::reads`). Postgres is shared by several nodes and is always asked.
    pub sqlite_read_cache: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            sqlite_read_cache: true,
        }
    }
}

/// Opens the store a `database_url` names: `postgres://` / `postgresql://` for Postgres,
/// anything else is a SQLite file path (optionally prefixed `sqlite://`).
pub async fn connect(database_url: &str) -> StoreResult<SharedStore> {
    connect_with(database_url, StoreOptions::default()).await
}

/// [`connect_with`], trying again for up to `wait` while the database cannot be reached (it
/// may start after saoma); each failed try is logged with its cause. Failures that waiting
/// cannot fix (wrong password, unknown database) end at once.
pub async fn connect_waiting(
    database_url: &str,
    options: StoreOptions,
    wait: std::time::Duration,
) -> StoreResult<SharedStore> {
    let deadline = std::time::Instant::now() + wait;
    let mut pause = std::time::Duration::from_millis(200);
    loop {
        match connect_with(database_url, options).await {
            Err(err) if err.is_unavailable() && std::time::Instant::now() + pause < deadline => {
                tracing::warn!(
                    cause = %describe_connect_failure(&err),
                    "database not reachable yet; trying again"
                );
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(2));
            }
            Err(err) => return Err(StoreError::Connect(describe_connect_failure(&err))),
            ok => return ok,
        }
    }
}

/// Why opening the database failed, in the words an operator looks for.
pub fn describe_connect_failure(err: &StoreError) -> String {
    if let StoreError::Database(sqlx::Error::Io(io)) = err {
        if io.kind() == std::io::ErrorKind::ConnectionRefused {
            return format!("connection refused ({io})");
        }
    }
    if let StoreError::Database(sqlx::Error::Database(db)) = err {
        match db.code().as_deref() {
            Some("28P01") | Some("28000") => {
                return format!("authentication failed ({})", db.message())
            }
            Some("3D000") => return format!("unknown database ({})", db.message()),
            _ => {}
        }
    }
    err.to_string()
}

pub async fn connect_with(database_url: &str, options: StoreOptions) -> StoreResult<SharedStore> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(database_url).await?))
    } else {
        Ok(Arc::new(
            SqliteStore::open(database_url, options.sqlite_read_cache).await?,
        ))
    }
}
