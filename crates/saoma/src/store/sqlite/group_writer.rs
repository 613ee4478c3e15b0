//! Group commit: one thread owns the store's write connection, takes every write that is
//! waiting, and commits them together in one transaction. SQLite writes one transaction at a
//! time and each commit costs a WAL append (and, with `synchronous = NORMAL`, no fsync), so a
//! request's few small statements are cheap and the commit around them is what limits
//! throughput: grouping spreads one commit over many requests.
//!
//! Every write of the store runs here (sign-up, sessions, rotations, flows, codes, audit,
//! sweeps, migrations): one queue in arrival order, so that writes are served first come,
//! first served, and none races another for SQLite's lock through its busy handler (which
//! sleeps up to 100 ms between tries and serves no one in order). Only other processes
//! writing the same file still meet this one at that lock. A write that waited longer than
//! [`MAX_WAIT`] (an overload, or another process holding the lock) is answered "unavailable"
//! without being run: a request is never told "failed" for a write that is then made.
//!
//! Each request stays atomic and isolated from the others: its statements run inside a
//! savepoint, and a request that fails is rolled back to it alone while the batch commits the
//! rest. A failure that ends the whole transaction (disk full, I/O error) fails every request
//! of the batch: none is told "ok" for writes that were not committed, none "error" for
//! writes that were. A request is answered only after the commit that holds its writes, so an
//! answer means the write is in the WAL (it survives the process being killed; the README's
//! "SQLite durability" says what an OS crash can lose). A request that goes away while its
//! write waits does not take the write back: it is committed with its batch, as a write the
//! database received before the client left.

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

use crate::store::{StoreError, StoreResult};

/// At most this many requests share one commit: a bound on how long the first of them waits
/// for the last.
const MAX_BATCH: usize = 256;
/// A write still waiting after this long is refused (HTTP 503), not run: its client has
/// likely given up, and a queue that only grows would hold every later request too.
const MAX_WAIT: Duration = Duration::from_secs(10);

/// What a request asks the writer to do, on its connection, inside its savepoint.
type Work = Box<dyn FnOnce(&mut rusqlite::Connection) -> StoreResult<Box<dyn Any + Send>> + Send>;
/// What runs on the connection between two batches, outside any transaction.
type Between = Box<dyn FnOnce(&rusqlite::Connection) + Send>;

enum Job {
    Write(Request),
    /// Ends the batch before it (see [`GroupWriter::between_batches`]).
    Between(Between),
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
    pub(super) fn open(path: &Path) -> StoreResult<Self> {
        Self::open_with(path, MAX_WAIT)
    }

    fn open_with(path: &Path, max_wait: Duration) -> StoreResult<Self> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA wal_autocheckpoint = 0;",
        )?;
        conn.set_prepared_statement_cache_capacity(128);
        let (jobs, queue) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("saoma-sqlite-writer".into())
            .spawn(move || run(conn, queue, max_wait))
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
        let job = Job::Write(Request {
            work: Box::new(move |conn| {
                work(conn).map(|value| Box::new(value) as Box<dyn Any + Send>)
            }),
            reply,
            queued: Instant::now(),
        });
        // Queued before the first wait: the tests' `spawn_write` relies on it for order.
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

    /// Runs `work` on the writer's connection after the writes sent before it are committed
    /// and before any sent after it begins: while it runs, nothing of this process writes.
    /// For the checkpoint thread, which must see the WAL to its end; blocks until done (call
    /// it from a thread of its own, not a runtime's). `None` when the writer has stopped or
    /// `work` panicked.
    pub(super) fn between_batches<T: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Connection) -> T + Send + 'static,
    ) -> Option<T> {
        let (done, finished) = mpsc::sync_channel::<T>(1);
        let job = Job::Between(Box::new(move |conn| {
            let _ = done.send(work(conn));
        }));
        self.jobs.send(job).ok()?;
        finished.recv().ok()
    }
}

/// The writer's loop: wait for a write, take all that wait behind it, run each in its own
/// savepoint, commit once, answer; a `Between` job ends a batch and runs on its own.
fn run(mut conn: rusqlite::Connection, queue: mpsc::Receiver<Job>, max_wait: Duration) {
    let mut next = queue.recv().ok();
    while let Some(job) = next.take() {
        match job {
            Job::Between(work) => {
                // Not inside a transaction: an earlier failure may have left one open.
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                let _ = catch_unwind(AssertUnwindSafe(|| work(&conn)));
                next = queue.recv().ok();
            }
            Job::Write(first) => {
                let (batch, after) = take_waiting(first, &queue);
                let (batch, late): (Vec<_>, Vec<_>) = batch
                    .into_iter()
                    .partition(|request| request.queued.elapsed() <= max_wait);
                for request in late {
                    let _ = request.reply.send(Err(StoreError::Unavailable(
                        "the SQLite writer is overloaded: the write waited too long",
                    )));
                }
                if !batch.is_empty() {
                    commit_batch(&mut conn, batch);
                }
                next = after.or_else(|| queue.recv().ok());
            }
        }
    }
}

struct Request {
    work: Work,
    reply: oneshot::Sender<StoreResult<Box<dyn Any + Send>>>,
    queued: Instant,
}

/// `first` and the writes waiting behind it, up to [`MAX_BATCH`]; and the `Between` job that
/// ended the batch, if one did.
fn take_waiting(first: Request, queue: &mpsc::Receiver<Job>) -> (Vec<Request>, Option<Job>) {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(Job::Write(request)) => batch.push(request),
            Ok(between) => return (batch, Some(between)),
            Err(_) => break,
        }
    }
    (batch, None)
}

fn fail_all(batch: Vec<Request>, err: StoreError) {
    let err = Arc::new(err);
    for request in batch {
        let _ = request.reply.send(Err(StoreError::Shared(err.clone())));
    }
}

/// A statement without rows, prepared once: the batch's own statements run for every
/// request, and parsing them each time showed in the writer's profile.
fn control(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn commit_batch(conn: &mut rusqlite::Connection, batch: Vec<Request>) {
    // A transaction left open by an earlier failure must not swallow this batch.
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    if let Err(err) = control(conn, "BEGIN IMMEDIATE") {
        return fail_all(batch, err.into());
    }
    let mut done = Vec::with_capacity(batch.len());
    // Failures are answered after the commit too: a request may have failed on another's
    // write of this batch (a duplicate email, a reused token), which a failed commit undoes.
    let mut failed = Vec::new();
    let mut jobs = batch.into_iter();
    while let Some(Request { work, reply, .. }) = jobs.next() {
        match run_in_savepoint(conn, work) {
            Ok(Ok(value)) => done.push((reply, Ok(value))),
            // Undone already.
            Ok(Err(err)) => failed.push((reply, err)),
            // The transaction itself is gone or unusable (disk full, I/O error): nothing of
            // this batch is committed, and every request of it is told so.
            Err(err) => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                let err = Arc::new(err);
                let replies = done
                    .into_iter()
                    .map(|(reply, _)| reply)
                    .chain(failed.into_iter().map(|(reply, _)| reply))
                    .chain(std::iter::once(reply))
                    .chain(jobs.map(|request| request.reply));
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Shared(err.clone())));
                }
                return;
            }
        }
    }
    match control(conn, "COMMIT") {
        Ok(()) => {
            for (reply, value) in done {
                let _ = reply.send(value);
            }
            for (reply, err) in failed {
                let _ = reply.send(Err(err));
            }
        }
        Err(err) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            let err = Arc::new(StoreError::from(err));
            let replies = done
                .into_iter()
                .map(|(reply, _)| reply)
                .chain(failed.into_iter().map(|(reply, _)| reply));
            for reply in replies {
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
    control(conn, "SAVEPOINT request")?;
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
        control(conn, "ROLLBACK TO request")?;
    }
    control(conn, "RELEASE request")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn writer() -> (tempfile::TempDir, GroupWriter, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("group.db");
        let writer = GroupWriter::open(&path).expect("writer");
        (dir, writer, path)
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
    /// meanwhile share the next batch. Returns once the writer runs it: a batch of its own.
    async fn hold(writer: &GroupWriter) -> mpsc::Sender<()> {
        let (release, held) = mpsc::channel::<()>();
        let (started, running) = oneshot::channel::<()>();
        drop(spawn_write(writer, move |_| {
            let _ = started.send(());
            Ok(held.recv().is_ok())
        }));
        running.await.expect("the writer ran the hold");
        release
    }

    /// Sends `work` to the writer from a task of its own; the handle answers with the write's.
    /// The write is in the writer's queue when this returns (`write` sends it before its
    /// first wait): writes sent one after another are queued in that order.
    fn spawn_write<T: Send + 'static>(
        writer: &GroupWriter,
        work: impl FnOnce(&mut rusqlite::Connection) -> StoreResult<T> + Send + 'static,
    ) -> tokio::task::JoinHandle<StoreResult<T>> {
        let writer = writer.clone();
        let mut write = Box::pin(async move { writer.write(work).await });
        match write.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            // Already answered (the writer has stopped, or committed it at once).
            Poll::Ready(answer) => tokio::spawn(async move { answer }),
            // Queued; the task waits for the answer (its poll replaces the no-op waker).
            Poll::Pending => tokio::spawn(write),
        }
    }

    async fn table(writer: &GroupWriter) {
        writer
            .write(|conn| Ok(conn.execute_batch("CREATE TABLE t (v BLOB)")?))
            .await
            .expect("table");
    }

    /// A request that rewrites ~160 KiB of pages keeps its savepoint's copy of them (the
    /// sub-journal) in memory: with SQLite's default spill point (64 KiB, raised in
    /// `.cargo/config.toml`), the writer created a file in the temporary directory for it,
    /// which fails where none is writable.
    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_opens_no_temporary_file() {
        let (_dir, writer, path) = writer().await;
        table(&writer).await;
        let batch = hold(&writer).await;
        let mut steps = Vec::new();
        for sql in [
            // ~40 pages of rows, then every one of them changed by the next request.
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 80) \
             INSERT INTO t SELECT zeroblob(2000) FROM n",
            "UPDATE t SET v = randomblob(2000)",
        ] {
            steps.push(spawn_write(&writer, move |conn| Ok(conn.execute(sql, [])?)));
        }
        // Last in the same batch (a spilled sub-journal stays open until the commit): what
        // the writer holds open, whether both writes are in this batch's transaction, and
        // whether they are still uncommitted (so this request shares their batch).
        let look = spawn_write(&writer, {
            let path = path.clone();
            move |conn| {
                let temporary = std::fs::read_dir("/proc/self/fd")
                    .map(|fds| {
                        fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
                            .map(|target| target.display().to_string())
                            .filter(|target| target.contains("etilqs"))
                            .collect::<Vec<_>>()
                    })
                    .expect("/proc/self/fd");
                let rewritten: i64 = conn.query_row(
                    "SELECT count(*) FROM t WHERE v != zeroblob(2000)",
                    [],
                    |row| row.get(0),
                )?;
                Ok((temporary, rewritten, count(&path)))
            }
        });
        batch.send(()).expect("release the writer");
        for step in steps {
            assert_eq!(step.await.expect("task").expect("write"), 80);
        }
        let (temporary, rewritten, committed) = look.await.expect("task").expect("write");
        assert_eq!(
            (rewritten, committed),
            (80, 0),
            "the three requests did not share one batch"
        );
        assert!(temporary.is_empty(), "temporary files: {temporary:?}");
        assert_eq!(count(&path), 80);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_is_answered_only_after_the_commit_that_holds_it() {
        let (_dir, writer, path) = writer().await;
        table(&writer).await;
        let first_batch = hold(&writer).await;
        let (finish_b, b_waits) = mpsc::channel::<()>();
        let (b_started, b_running) = oneshot::channel::<()>();
        let a = spawn_write(&writer, |conn| {
            Ok(conn.execute("INSERT INTO t VALUES (1)", [])?)
        });
        let b = spawn_write(&writer, move |conn| {
            let _ = b_started.send(());
            let _ = b_waits.recv();
            Ok(conn.execute("INSERT INTO t VALUES (2)", [])?)
        });
        first_batch.send(()).expect("release");
        // A ran, B holds the batch open: A is not answered and not visible yet (the pause
        // gives an answer sent too early the time to arrive).
        b_running.await.expect("b runs");
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        assert!(!a.is_finished(), "answered before its commit");
        assert_eq!(count(&path), 0);
        finish_b.send(()).expect("finish");
        assert_eq!(a.await.expect("a").expect("written"), 1);
        assert_eq!(b.await.expect("b").expect("written"), 1);
        assert_eq!(count(&path), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_waited_too_long_is_refused_and_not_made() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("late.db");
        let writer =
            GroupWriter::open_with(&path, std::time::Duration::from_millis(100)).expect("writer");
        table(&writer).await;
        // The writer is stuck (as behind another process's lock) while a write waits.
        let stuck = hold(&writer).await;
        let late = spawn_write(&writer, |conn| {
            Ok(conn.execute("INSERT INTO t VALUES (1)", [])?)
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        stuck.send(()).expect("release");
        let answer = late.await.expect("task");
        assert!(
            answer.as_ref().is_err_and(StoreError::is_unavailable),
            "{answer:?}"
        );
        assert_eq!(count(&path), 0, "a refused write was made");
        // Writes that have not waited go on.
        writer
            .write(|conn| Ok(conn.execute("INSERT INTO t VALUES (2)", [])?))
            .await
            .expect("a prompt write");
        assert_eq!(count(&path), 1);
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
                spawn_write(&writer, move |conn| {
                    Ok(conn.execute("INSERT INTO t VALUES (?1)", [vec![7_u8; size]])?)
                })
            })
            .collect();
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
    async fn work_between_batches_gets_in_during_a_storm_and_runs_alone() {
        let (_dir, writer, path) = writer().await;
        table(&writer).await;
        // Writes (each holds the writer ~100 µs) kept waiting at all times, more than one
        // batch takes, so its queue is never empty; a bounded number, so that work sent
        // between them waits behind a batch or two, not behind a backlog that grows.
        let waiting = Arc::new(tokio::sync::Semaphore::new(MAX_BATCH + 64));
        let storm = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let feeder = {
            let (writer, storm) = (writer.clone(), storm.clone());
            tokio::spawn(async move {
                while storm.load(std::sync::atomic::Ordering::Relaxed) {
                    let permit = waiting.clone().acquire_owned().await.expect("permit");
                    drop(spawn_write(&writer, move |conn| {
                        // No longer waiting: another write may take its place.
                        drop(permit);
                        thread::sleep(std::time::Duration::from_micros(100));
                        Ok(conn.execute("INSERT INTO t VALUES (x'01')", [])?)
                    }));
                }
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        for _ in 0..3 {
            let between = {
                let writer = writer.clone();
                let path = path.clone();
                tokio::task::spawn_blocking(move || {
                    writer.between_batches(move |conn| {
                        // No transaction of this process is open, and none begins meanwhile.
                        let before = count(&path);
                        thread::sleep(std::time::Duration::from_millis(20));
                        (conn.is_autocommit(), before, count(&path))
                    })
                })
            };
            let seen = tokio::time::timeout(std::time::Duration::from_secs(2), between)
                .await
                .expect("the work waited behind the storm")
                .expect("task");
            let (outside, before, after) = seen.expect("it ran");
            assert!(outside, "it ran inside a batch's transaction");
            assert_eq!(before, after, "a write committed while it ran");
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
