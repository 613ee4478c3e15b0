//! Group commit: one thread owns a write connection, takes every write that is waiting, and
//! commits them together in one transaction. SQLite writes one transaction at a time and
//! each commit costs a WAL append and (with `synchronous = NORMAL`) no fsync, so a rotation's
//! three small statements are cheap and the commit around them is what limits throughput:
//! grouping spreads one commit over many requests.
//!
//! Each request stays atomic and isolated from the others: its statements run inside a
//! savepoint, and a request that fails is rolled back to it alone while the batch commits the
//! rest. A failure that ends the whole transaction (disk full, I/O error) fails every request
//! of the batch: none is told "ok" for writes that were not committed, none "error" for
//! writes that were. A request is answered only after the commit that holds its writes, so an
//! answer means the write is in the WAL (it survives the process being killed; the README's
//! "SQLite durability" says what an OS crash can lose).
//!
//! The store's other writes still use sqlx's one-connection writer pool. The writer thread
//! holds that pool's connection while it runs batches (`write_turn`), so the two take turns
//! in the pool's queue. It keeps that turn across consecutive batches for up to
//! [`TURN_AT_MOST`]: taking it per batch cost refresh about 15%.

use std::{
    any::Any,
    future::Future,
    panic::{catch_unwind, AssertUnwindSafe},
    path::Path,
    sync::{mpsc, Arc},
    task::{Context, Poll, Waker},
    thread,
    time::{Duration, Instant},
};

use tokio::sync::oneshot;

use super::write_turn::WriteTurn;
use crate::store::{StoreError, StoreResult};

/// At most this many requests share one commit: a bound on how long the first of them waits
/// for the last.
const MAX_BATCH: usize = 256;
/// The writer keeps its turn for consecutive batches at most this long: what one of the
/// store's other writes (sign-up, sign-out...) may wait behind a storm of refreshes.
const TURN_AT_MOST: Duration = Duration::from_millis(2);
/// ... and gives it back when no write arrives for this long.
const TURN_IDLE: Duration = Duration::from_micros(200);

/// What a request asks the writer to do, on its connection, inside its savepoint.
type Work = Box<dyn FnOnce(&mut rusqlite::Connection) -> StoreResult<Box<dyn Any + Send>> + Send>;

struct Job {
    work: Work,
    reply: oneshot::Sender<StoreResult<Box<dyn Any + Send>>>,
}

/// The handle requests write through; dropping the last one ends the thread.
#[derive(Clone, Debug)]
pub(super) struct GroupWriter {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

impl GroupWriter {
    /// Opens the write connection (WAL, `synchronous = NORMAL`, foreign keys, a busy timeout
    /// for other processes' writes, no checkpoints: `checkpointer` runs them) and starts its
    /// thread.
    pub(super) fn open(path: &Path, turn: sqlx::SqlitePool) -> StoreResult<Self> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA wal_autocheckpoint = 0;",
        )?;
        conn.set_prepared_statement_cache_capacity(64);
        let (jobs, queue) = mpsc::channel::<Job>();
        let turn = WriteTurn::new(turn)?;
        thread::Builder::new()
            .name("saoma-sqlite-writer".into())
            .spawn(move || run(conn, queue, turn))
            .map_err(|e| StoreError::Connect(format!("starting the SQLite writer: {e}")))?;
        Ok(Self { jobs })
    }

    /// Runs `work` in the next batch; answers once that batch is committed (or with `work`'s
    /// own error, its statements undone). `work` runs on the writer's thread: it must not
    /// block on anything but the database.
    pub(super) async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut rusqlite::Connection) -> StoreResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            work: Box::new(move |conn| {
                work(conn).map(|value| Box::new(value) as Box<dyn Any + Send>)
            }),
            reply,
        };
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped"))?;
        let value = answer
            .await
            .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped"))??;
        value
            .downcast::<T>()
            .map(|value| *value)
            .map_err(|_| StoreError::Corrupt("a write answered another type".into()))
    }
}

/// The writer's loop: wait for a write, take the turn, then run batches while writes keep
/// coming: take all that wait, run each in its own savepoint, commit once, answer.
fn run(mut conn: rusqlite::Connection, queue: mpsc::Receiver<Job>, turn: WriteTurn) {
    while let Ok(first) = queue.recv() {
        let _turn = match turn.take() {
            Ok(held) => held,
            Err(err) => {
                fail_all(take_waiting(first, &queue), err);
                continue;
            }
        };
        // Giving the turn back costs a task and a round trip through sqlx's connection
        // thread, more than a small batch's commit: keep it while writes arrive, for a
        // bounded time so that the pool's other writes wait at most that long.
        let held_since = Instant::now();
        let mut next = Some(first);
        while let Some(first) = next.take() {
            commit_batch(&mut conn, take_waiting(first, &queue));
            if held_since.elapsed() < TURN_AT_MOST {
                next = queue.recv_timeout(TURN_IDLE).ok();
            }
        }
    }
}

/// `first` and the writes waiting behind it, up to [`MAX_BATCH`].
fn take_waiting(first: Job, queue: &mpsc::Receiver<Job>) -> Vec<Job> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    batch
}

fn fail_all(batch: Vec<Job>, err: StoreError) {
    let err = Arc::new(err);
    for job in batch {
        let _ = job.reply.send(Err(StoreError::Shared(err.clone())));
    }
}

fn commit_batch(conn: &mut rusqlite::Connection, batch: Vec<Job>) {
    // A transaction left open by an earlier failure must not swallow this batch.
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    if let Err(err) = conn.execute_batch("BEGIN IMMEDIATE") {
        return fail_all(batch, err.into());
    }
    let mut done = Vec::with_capacity(batch.len());
    let mut jobs = batch.into_iter();
    while let Some(job) = jobs.next() {
        match run_in_savepoint(conn, job.work) {
            Ok(Ok(value)) => done.push((job.reply, value)),
            // Undone already: this request's answer does not wait for the others' commit.
            Ok(Err(err)) => {
                let _ = job.reply.send(Err(err));
            }
            // The transaction itself is gone or unusable (disk full, I/O error): nothing of
            // this batch is committed, and every request of it is told so.
            Err(err) => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                let err = Arc::new(err);
                let _ = job.reply.send(Err(StoreError::Shared(err.clone())));
                for (reply, _) in done {
                    let _ = reply.send(Err(StoreError::Shared(err.clone())));
                }
                for job in jobs {
                    let _ = job.reply.send(Err(StoreError::Shared(err.clone())));
                }
                return;
            }
        }
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            for (reply, value) in done {
                let _ = reply.send(Ok(value));
            }
        }
        Err(err) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            let err = Arc::new(StoreError::from(err));
            for (reply, _) in done {
                let _ = reply.send(Err(StoreError::Shared(err.clone())));
            }
        }
    }
}

/// One request's work, alone: its failure (or panic) undoes its statements and nothing else
/// (the inner result). The outer error says the batch's transaction cannot go on: a savepoint
/// statement failed, or the work's failure ended the whole transaction.
fn run_in_savepoint(
    conn: &mut rusqlite::Connection,
    work: Work,
) -> StoreResult<StoreResult<Box<dyn Any + Send>>> {
    conn.execute_batch("SAVEPOINT request")?;
    let outcome = catch_unwind(AssertUnwindSafe(|| work(&mut *conn))).unwrap_or_else(|_| {
        Err(StoreError::Corrupt(
            "a write panicked; its statements were undone".into(),
        ))
    });
    if conn.is_autocommit() {
        // SQLite rolled the whole transaction back (SQLITE_FULL, IOERR, NOMEM...).
        return Err(outcome
            .err()
            .unwrap_or(StoreError::Unavailable("the write transaction ended early")));
    }
    if outcome.is_err() {
        conn.execute_batch("ROLLBACK TO request")?;
    }
    conn.execute_batch("RELEASE request")?;
    Ok(outcome)
}

/// Drives an `async` step that never waits (its statements run synchronously on the writer's
/// connection) to its end, so that code shared with the async backends (`rotation::rotate`)
/// runs on the writer's thread.
pub(super) fn run_now<F: Future>(future: F) -> StoreResult<F::Output> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => Err(StoreError::Corrupt(
            "a write on the SQLite writer waited for something other than the database".into(),
        )),
    }
}

/// A group writer on a new file at `path`, and the sqlx pool whose connection is its turn
/// (as the store opens them: WAL, no automatic checkpoints).
#[cfg(test)]
pub(super) async fn test_writer(path: &Path) -> (GroupWriter, sqlx::SqlitePool) {
    let turn = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .pragma("wal_autocheckpoint", "0"),
        )
        .await
        .expect("turn pool");
    let writer = GroupWriter::open(path, turn.clone()).expect("writer");
    (writer, turn)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn writer() -> (tempfile::TempDir, GroupWriter, std::path::PathBuf) {
        let (dir, writer, path, _turn) = writer_and_pool().await;
        (dir, writer, path)
    }

    /// The writer and the sqlx pool whose connection is its turn.
    async fn writer_and_pool() -> (
        tempfile::TempDir,
        GroupWriter,
        std::path::PathBuf,
        sqlx::SqlitePool,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("group.db");
        let (writer, turn) = test_writer(&path).await;
        (dir, writer, path, turn)
    }

    fn count(path: &Path) -> i64 {
        let conn = rusqlite::Connection::open(path).expect("open");
        conn.query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .expect("count")
    }

    #[tokio::test]
    async fn a_failing_request_in_a_batch_loses_only_its_own_writes() {
        let (_dir, writer, path) = writer().await;
        writer
            .write(|conn| Ok(conn.execute_batch("CREATE TABLE t (v INTEGER UNIQUE)")?))
            .await
            .expect("table");
        // Many requests at once, so they share batches; every fifth writes a row and then
        // fails (a duplicate), every seventh panics after writing.
        let mut calls = Vec::new();
        for i in 0..200_i64 {
            let writer = writer.clone();
            calls.push(tokio::spawn(async move {
                writer
                    .write(move |conn| {
                        conn.execute("INSERT INTO t (v) VALUES (?1)", [i])?;
                        if i % 5 == 0 {
                            conn.execute("INSERT INTO t (v) VALUES (?1)", [i])?;
                        }
                        if i % 7 == 0 {
                            panic!("a bug in request {i}");
                        }
                        Ok(i)
                    })
                    .await
            }));
        }
        let mut succeeded = 0;
        for (i, call) in calls.into_iter().enumerate() {
            let answer = call.await.expect("task");
            let should_fail = i % 5 == 0 || i % 7 == 0;
            assert_eq!(answer.is_err(), should_fail, "request {i}: {answer:?}");
            succeeded += i64::from(answer.is_ok());
        }
        assert_eq!(
            count(&path),
            succeeded,
            "exactly the answered writes are stored"
        );
        let conn = rusqlite::Connection::open(&path).expect("open");
        let failed_rows: i64 = conn
            .query_row(
                "SELECT count(*) FROM t WHERE v % 5 = 0 OR v % 7 = 0",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(
            failed_rows, 0,
            "a failed request's first insert was undone too"
        );
    }

    /// Occupies the writer until the returned sender is used, so that the writes sent
    /// meanwhile share the next batch.
    async fn hold(writer: &GroupWriter) -> mpsc::Sender<()> {
        let (release, held) = mpsc::channel::<()>();
        let writer = writer.clone();
        tokio::spawn(async move { writer.write(move |_| Ok(held.recv().is_ok())).await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        release
    }

    async fn table(writer: &GroupWriter) {
        writer
            .write(|conn| Ok(conn.execute_batch("CREATE TABLE t (v BLOB)")?))
            .await
            .expect("table");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_is_answered_only_after_the_commit_that_holds_it() {
        let (_dir, writer, path) = writer().await;
        table(&writer).await;
        let first_batch = hold(&writer).await;
        let (finish_b, b_waits) = mpsc::channel::<()>();
        let a = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .write(|conn| Ok(conn.execute("INSERT INTO t VALUES (1)", [])?))
                    .await
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let b = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .write(move |conn| {
                        let _ = b_waits.recv();
                        Ok(conn.execute("INSERT INTO t VALUES (2)", [])?)
                    })
                    .await
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        first_batch.send(()).expect("release");
        // A ran, B holds the batch open: A is not answered and not visible yet.
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        assert!(!a.is_finished(), "answered before its commit");
        assert_eq!(count(&path), 0);
        finish_b.send(()).expect("finish");
        assert_eq!(a.await.expect("a").expect("written"), 1);
        assert_eq!(b.await.expect("b").expect("written"), 1);
        assert_eq!(count(&path), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_disk_in_a_batch_answers_each_request_as_stored() {
        let (_dir, writer, path) = writer().await;
        table(&writer).await;
        writer
            .write(|conn| {
                let pages: i64 = conn.query_row("PRAGMA page_count", [], |row| row.get(0))?;
                // A few pages to spare: small rows fit, a large one does not.
                conn.execute_batch(&format!("PRAGMA max_page_count = {}", pages + 3))?;
                Ok(())
            })
            .await
            .expect("limit");
        let batch = hold(&writer).await;
        let sizes = [10_usize, 200_000, 10, 10];
        let calls: Vec<_> = sizes
            .iter()
            .map(|&size| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    writer
                        .write(move |conn| {
                            Ok(conn.execute("INSERT INTO t VALUES (?1)", [vec![7_u8; size]])?)
                        })
                        .await
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        batch.send(()).expect("release");
        let mut answered_ok = 0;
        for (call, size) in calls.into_iter().zip(sizes) {
            let answer = call.await.expect("task");
            if size > 10 {
                assert!(answer.is_err(), "the large row cannot fit");
            }
            answered_ok += i64::from(answer.is_ok());
        }
        assert_eq!(count(&path), answered_ok, "answers and the file agree");
        // The writer goes on afterwards.
        writer
            .write(|conn| Ok(conn.execute("INSERT INTO t VALUES (0)", [])?))
            .await
            .expect("a later write");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pools_other_writes_get_their_turn_during_a_storm_of_group_writes() {
        let (_dir, writer, _path, pool) = writer_and_pool().await;
        table(&writer).await;
        // More group writes offered than the writer can take (each holds it ~100 µs): its
        // queue is never empty, so it would keep its turn for as long as the storm lasts.
        let storm = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let feeder = {
            let (writer, storm) = (writer.clone(), storm.clone());
            tokio::spawn(async move {
                while storm.load(std::sync::atomic::Ordering::Relaxed) {
                    for _ in 0..50 {
                        let writer = writer.clone();
                        tokio::spawn(async move {
                            writer
                                .write(|conn| {
                                    thread::sleep(Duration::from_micros(100));
                                    Ok(conn.execute("INSERT INTO t VALUES (x'01')", [])?)
                                })
                                .await
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(4)).await;
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        // A write through the pool is still let in, within a batch or two.
        for _ in 0..3 {
            let insert = sqlx::query("INSERT INTO t VALUES (x'00')").execute(&pool);
            tokio::time::timeout(Duration::from_secs(2), insert)
                .await
                .expect("the pool's write waited behind the storm")
                .expect("pool write");
        }
        storm.store(false, std::sync::atomic::Ordering::Relaxed);
        feeder.await.expect("feeder");
    }

    #[tokio::test]
    async fn run_now_refuses_a_step_that_waits() {
        assert_eq!(run_now(async { 7 }).expect("ready"), 7);
        let waits = run_now(tokio::time::sleep(std::time::Duration::from_secs(1)));
        assert!(waits.is_err());
    }
}
