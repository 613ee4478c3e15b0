//! The embedded default: one SQLite file in WAL mode. Writes go through a single-connection
//! pool (SQLite has one writer anyway, and this avoids lock-upgrade deadlocks), except the
//! hottest (refresh rotations, audit entries), which a writer thread commits in groups and
//! which take their turn through that pool's connection (see `group_writer`); reads use a
//! small pool of their own, and the read every authenticated request makes runs on the
//! request's own thread (see [`reads::InlineReaders`]). A thread of its own checkpoints the
//! WAL (see `checkpointer`). One file per aggregate, as the store's traits are split.

use std::{str::FromStr, sync::Arc};

use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    SqlitePool,
};

use super::StoreResult;
use group_writer::GroupWriter;
use reads::InlineReaders;

mod app_tokens;
mod audit;
mod checkpointer;
mod columns;
mod decode;
mod flows;
mod group_writer;
mod housekeeping;
mod identities;
mod one_time_tokens;
mod rate_limits;
mod reads;
mod scan_tickets;
mod sessions;
mod users;
mod write_turn;

pub use checkpointer::Checkpointer;
pub use columns::{PRINCIPAL_SQL, SESSION_COLUMNS};

#[derive(Debug, Clone)]
pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
    /// Refresh-token rotations and audit entries, committed in groups (see `group_writer`);
    /// it takes its turns through `writer`'s connection.
    group: GroupWriter,
    inline: Arc<InlineReaders>,
    /// The only connection that checkpoints the WAL (see `checkpointer`).
    _checkpoints: Checkpointer,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `url` (`sqlite://` prefix optional);
    /// `read_cache` keeps token checks' reads in memory until the database changes.
    pub async fn open(url: &str, read_cache: bool) -> StoreResult<Self> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(5));
        // A file connection does not go stale: no ping before each use (it cost ~7% of a
        // `GET /user` in the benchmarks).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.clone().read_only(true))
            .await?;
        let inline = Arc::new(InlineReaders::open(options.get_filename(), read_cache)?);
        let group = GroupWriter::open(options.get_filename(), writer.clone())?;
        let checkpoints = Checkpointer::start(options.get_filename(), Some(writer.clone()))?;
        Ok(Self {
            reader,
            writer,
            group,
            inline,
            _checkpoints: checkpoints,
        })
    }

    /// A write transaction that takes SQLite's write lock at once (no deferred lock upgrade
    /// that could fail halfway) and rolls back when dropped, e.g. when the request that
    /// opened it is cancelled: the writer connection never returns to the pool inside it.
    async fn write_transaction(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}
