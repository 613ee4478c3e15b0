//! WAL checkpoints on a thread of their own.
//!
//! SQLite's default is that the connection whose commit takes the WAL past 1,000 pages runs
//! the checkpoint itself, inside that request: it copies the WAL into the database file and
//! syncs both, tens of milliseconds during which the one writer commits nothing (the
//! refresh benchmark's p99 was that pause). Here the writers never checkpoint
//! (`wal_autocheckpoint = 0`); this thread runs a passive checkpoint every
//! [`CHECKPOINT_EVERY`], which waits for no reader or writer, so writes go on meanwhile. It
//! also bounds what an OS crash can lose: with `synchronous = NORMAL` the WAL is synced at
//! each checkpoint, which now comes within that interval instead of after 1,000 pages,
//! however slowly they arrive.

use std::{
    path::Path,
    sync::mpsc::{self, RecvTimeoutError},
    thread,
    time::Duration,
};

use crate::store::{StoreError, StoreResult};

/// How often the WAL is copied into the database file and synced.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Runs while any clone lives; the last one dropped ends the thread after a last checkpoint.
/// Public for the benchmark's engine floor, which checkpoints as saoma does.
#[derive(Debug, Clone)]
pub struct Checkpointer {
    _running: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing the database file at `path`, whose writers must have
    /// `wal_autocheckpoint = 0`.
    pub fn start(path: &Path) -> StoreResult<Self> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (running, stopped) = mpsc::channel::<()>();
        thread::Builder::new()
            .name("saoma-sqlite-checkpoints".into())
            .spawn(move || loop {
                let last = match stopped.recv_timeout(CHECKPOINT_EVERY) {
                    Err(RecvTimeoutError::Timeout) | Ok(()) => false,
                    Err(RecvTimeoutError::Disconnected) => true,
                };
                if let Err(err) = checkpoint(&conn) {
                    tracing::warn!(error = %err, "WAL checkpoint failed; retrying later");
                }
                if last {
                    return;
                }
            })
            .map_err(|e| StoreError::Connect(format!("starting the SQLite checkpoints: {e}")))?;
        Ok(Self { _running: running })
    }
}

fn checkpoint(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    // (busy, WAL frames, frames checkpointed): nothing to act on; a busy answer means
    // another checkpoint (another process's) was running.
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}
