//! WAL checkpoints on a thread of their own.
//!
//! SQLite's default is that the connection whose commit takes the WAL past 1,000 pages runs
//! the checkpoint itself, inside that request: it copies the WAL into the database file and
//! syncs both, tens of milliseconds during which the one writer commits nothing (the
//! refresh benchmark's p99 was that pause). Here the writers never checkpoint
//! (`wal_autocheckpoint = 0`); this thread runs a passive checkpoint every
//! [`CHECKPOINT_EVERY`], which waits for no reader or writer, so writes go on meanwhile.
//!
//! A passive checkpoint under constant writes never catches up with the last frame, and the
//! WAL only starts over when a write begins on a WAL copied to its end: without more, a
//! storm of writes would grow the file by all it wrote. So once the WAL holds more than
//! [`RESTART_AFTER_FRAMES`], the thread catches up beside the writers, then has the group
//! writer copy the few frames written since, between two of its batches (nothing of this
//! process writes meanwhile), so that the next write starts the WAL over: the writers pause
//! for that delta, not for the bulk. When the writes outpace the passes (the WAL already
//! past twice the limit), they pause for the whole copy instead: the WAL's size is bounded
//! by what is written during one pass, not by how long the storm lasts.
//!
//! Each checkpoint also syncs the WAL (`synchronous = NORMAL` syncs it nowhere else), so an
//! OS crash loses about the writes of the last interval, unless a long reader (a backup, an
//! open shell transaction) keeps the checkpoint from copying anything for as long as it
//! reads.

use std::{
    path::Path,
    sync::mpsc::{self, RecvTimeoutError},
    thread,
    time::Duration,
};

use super::group_writer::GroupWriter;
use crate::store::{StoreError, StoreResult};

/// How often the WAL is copied into the database file and synced.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// Beyond this many frames (pages of ~4 KiB; 64 MiB) in the WAL it is restarted between two
/// of the writer's batches. SQLite's own threshold is 1,000; each restart pauses the writers for its last
/// copy and two syncs (~30 ms on the benchmark's VM), and a refresh storm writes 1,000 frames
/// in a fraction of a second: at 64 MiB the pauses come seconds apart.
pub const RESTART_AFTER_FRAMES: i64 = 16_000;
/// Before pausing the writer, passes beside it until at most this many frames are left
/// to copy (or this many passes ran, or one gained nothing).
const LEFT_FOR_THE_PAUSE: i64 = 256;
const MAX_CATCH_UP_PASSES: usize = 2;

/// Runs while any clone lives; the last one dropped ends the thread after a last checkpoint.
/// Public for the benchmark's engine floor, which checkpoints as saoma does.
#[derive(Debug, Clone)]
pub struct Checkpointer {
    _running: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts checkpointing the database file at `path`, whose writers must have
    /// `wal_autocheckpoint = 0`. The restart's last pass runs on this thread's own
    /// connection, beside the writers (the benchmark's engine floor).
    pub fn start(path: &Path) -> StoreResult<Self> {
        Self::start_with(path, None)
    }

    /// The same for a file this process writes only through `writer`: the restart runs
    /// between two of its batches.
    pub(super) fn start_for(path: &Path, writer: GroupWriter) -> StoreResult<Self> {
        Self::start_with(path, Some(writer))
    }

    fn start_with(path: &Path, writer: Option<GroupWriter>) -> StoreResult<Self> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (running, stopped) = mpsc::channel::<()>();
        thread::Builder::new()
            .name("saoma-sqlite-checkpoints".into())
            .spawn(move || {
                let mut failing = false;
                loop {
                    let last = match stopped.recv_timeout(CHECKPOINT_EVERY) {
                        Err(RecvTimeoutError::Timeout) | Ok(()) => false,
                        Err(RecvTimeoutError::Disconnected) => true,
                    };
                    match checkpoint(&conn, writer.as_ref(), RESTART_AFTER_FRAMES) {
                        // Once per failure, not every interval (a full disk lasts).
                        Err(err) if !failing => {
                            failing = true;
                            tracing::warn!(error = %err, "WAL checkpoint failed; retrying");
                        }
                        Ok(()) if failing => {
                            failing = false;
                            tracing::info!("WAL checkpoints work again");
                        }
                        _ => {}
                    }
                    if last {
                        return;
                    }
                }
            })
            .map_err(|e| StoreError::Connect(format!("starting the SQLite checkpoints: {e}")))?;
        Ok(Self { _running: running })
    }
}

fn checkpoint(
    conn: &rusqlite::Connection,
    writer: Option<&GroupWriter>,
    restart_after_frames: i64,
) -> StoreResult<()> {
    let (frames, mut copied) = passive(conn)?;
    // Also when this pass found the writer between its two copies of the WAL's header (a
    // commit under way): SQLite then reports the pass busy, with -1 frames, and copies
    // nothing. The next interval tries again.
    if frames <= restart_after_frames {
        return Ok(());
    }
    // Catch up beside the writers first, so that what is left for the writer's pause is
    // small: each pass copies what was written during the one before. Not when the WAL is far
    // past the limit already: then the writes outpace the passes, and chasing them lets the
    // WAL grow by what they write meanwhile.
    if frames <= 2 * restart_after_frames {
        for _ in 0..MAX_CATCH_UP_PASSES {
            let (frames, now_copied) = passive(conn)?;
            if frames - now_copied <= LEFT_FOR_THE_PAUSE || now_copied <= copied {
                break;
            }
            copied = now_copied;
        }
    }
    // No writer of this process can add a frame meanwhile: this pass copies the WAL to its
    // end, and the next write starts it over (unless a reader still reads an older snapshot
    // from it, as with SQLite's own checkpoints; the next pass tries again). PASSIVE, as
    // waiting for readers here would pause every writer too.
    match writer {
        Some(writer) => {
            writer
                .between_batches(passive)
                .ok_or(StoreError::Unavailable("the SQLite writer has stopped"))??;
        }
        None => {
            passive(conn)?;
        }
    }
    Ok(())
}

/// A passive checkpoint: (frames in the WAL, frames copied into the database file). Its
/// `busy` flag (another process's checkpoint was running) needs nothing done.
fn passive(conn: &rusqlite::Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    };

    use super::*;

    /// Under writes that never pause, the WAL still starts over. A checkpoint beside the
    /// writers never copies the last frame, and the WAL restarts only when a write begins on
    /// a WAL copied to its end: without the pass between the writer's batches, a storm of
    /// writes grew the file by everything it wrote, until the disk was full.
    ///
    /// Decided by the WAL header's salt, which SQLite changes on each restart, in three rounds
    /// of checkpoints called here during the storm (each round within three of them): how
    /// fast this machine writes, or whether a loaded CI box starves a thread, does not change
    /// the answer (the size the WAL reached under the timed thread did, and failed CI once).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_writes_that_never_pause() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("storm.db");
        let writer = GroupWriter::open(&path).expect("writer");
        writer
            .write(|conn| Ok(conn.execute_batch("CREATE TABLE t (v BLOB)")?))
            .await
            .expect("table");
        let written = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        const WRITERS: u64 = 16;
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let (writer, written, stop) = (writer.clone(), written.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        writer
                            .write(|conn| {
                                Ok(conn.execute("INSERT INTO t VALUES (?1)", [vec![7_u8; 8_000]])?)
                            })
                            .await
                            .expect("write");
                        written.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        let wal = path.with_extension("db-wal");
        let mut conn = rusqlite::Connection::open(&path).expect("checkpoint connection");
        // Restart past 500 frames (2 MiB), so that a short storm shows it.
        const LIMIT: i64 = 500;
        for round in 0..3 {
            // Enough in the WAL for a restart: each write is two pages.
            let from = written.load(Ordering::Relaxed);
            written_past(&written, from + LIMIT as u64).await;
            // A checkpoint may do nothing: its first pass, beside the writers, can find a
            // commit under way and be reported busy (-1 frames), so no pass between the
            // batches follows (seen once on a loaded CI box). The next one tries again, as the
            // thread's next interval does; without the pass between the batches, three in a
            // row do not restart the WAL either.
            let mut started_over = false;
            for _ in 0..3 {
                let before = salt(&wal);
                let (conn_back, writer_back) = (conn, writer.clone());
                let (conn_back, outcome) = tokio::task::spawn_blocking(move || {
                    let outcome = checkpoint(&conn_back, Some(&writer_back), LIMIT);
                    (conn_back, outcome)
                })
                .await
                .expect("checkpoint thread");
                conn = conn_back;
                outcome.expect("checkpoint");
                // The first write after the checkpoint is the one that starts the WAL over.
                // Each writer has one write in flight: past that many more, one began after it.
                let after_checkpoint = written.load(Ordering::Relaxed);
                written_past(&written, after_checkpoint + WRITERS + 4).await;
                if salt(&wal) != before {
                    started_over = true;
                    break;
                }
            }
            assert!(
                started_over,
                "round {round}: the WAL did not start over after three checkpoints"
            );
        }
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            writer.await.expect("writer");
        }
    }

    /// Waits until `written` reaches `count`; a minute at most, so that writers that died
    /// (their `expect` panicked) fail the test rather than hang it.
    async fn written_past(written: &AtomicU64, count: u64) {
        tokio::time::timeout(Duration::from_secs(60), async {
            while written.load(Ordering::Relaxed) < count {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await
        .expect("the writers stopped writing");
    }

    /// Salt-1 of the WAL header (bytes 16..20), which SQLite increments on each restart.
    fn salt(wal: &Path) -> [u8; 4] {
        use std::io::Read;
        let mut header = [0_u8; 20];
        std::fs::File::open(wal)
            .and_then(|mut file| file.read_exact(&mut header))
            .expect("a WAL header");
        header[16..20].try_into().expect("four bytes")
    }
}
