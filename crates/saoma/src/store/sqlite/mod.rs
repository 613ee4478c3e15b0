//! The embedded default: one SQLite file in WAL mode. Every write goes through one writer
//! thread that commits the writes waiting together (see `group_writer`; SQLite has one
//! writer anyway); reads use a small sqlx pool of their own, and the reads of the hot paths
//! run on the request's own thread (see [`reads::InlineReaders`]). A thread of its own
//! checkpoints the WAL (see `checkpointer`). One file per aggregate, as the store's traits
//! are split.

use std::{str::FromStr, sync::Arc};

use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    SqlitePool,
};

use super::{StoreError, StoreResult};
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
mod statements;
mod users;

pub use checkpointer::Checkpointer;
pub use columns::{FLOW_COLUMNS, IDENTITY_COLUMNS, PRINCIPAL_SQL, SESSION_COLUMNS, USER_COLUMNS};
pub use users::UPDATE_USER_SQL;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    reader: SqlitePool,
    /// Every write, committed in groups (see `group_writer`).
    writer: GroupWriter,
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
        // The writer thread and the readers share the database through its file.
        if path == ":memory:" || path.starts_with(":memory:?") || path.contains("mode=memory") {
            return Err(StoreError::Connect(
                "saoma needs a SQLite file (its writer and readers share it): \
                 an in-memory database is not supported"
                    .into(),
            ));
        }
        // The file is created (and put in WAL mode) by the writer, before the readers open
        // it read-only; opening may wait for another process's lock, off the runtime.
        let path = options.get_filename().to_owned();
        let writer = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || GroupWriter::open(&path))
                .await
                .map_err(|e| StoreError::Connect(format!("opening the SQLite writer: {e}")))??
        };
        let path = path.as_path();
        // A file connection does not go stale: no ping before each use (it cost ~7% of a
        // `GET /user` in the benchmarks).
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.clone().read_only(true))
            .await?;
        let inline = Arc::new(InlineReaders::open(path, read_cache)?);
        let checkpoints = Checkpointer::start_for(path, writer.clone())?;
        Ok(Self {
            reader,
            writer,
            inline,
            _checkpoints: checkpoints,
        })
    }
}
