//! Group commit: one thread owns a write connection, takes every write that is waiting, and
//! commits them together in one transaction. SQLite writes one transaction at a time and
//! each commit costs a WAL append and (with `synchronous = NORMAL`) no fsync, so a rotation's
//! three small statements are cheap and the commit around them is what limits throughput:
//! grouping spreads one commit over many requests.
//!
//! Each request stays atomic and isolated from the others: its statements run inside a
//! savepoint, and a request that fails is rolled back to it alone while the batch commits the
//! rest. A request is answered only after the commit that holds its writes, so an answer
//! means the write is in the WAL (it survives the process being killed; see `open` in
//! `mod.rs` for what an OS crash can lose).

use std::{
    any::Any,
    future::Future,
    panic::{catch_unwind, AssertUnwindSafe},
    path::Path,
    sync::{mpsc, Arc},
    task::{Context, Poll, Waker},
    thread,
};

use tokio::sync::oneshot;

use crate::store::{StoreError, StoreResult};

/// At most this many requests share one commit: a bound on how long the first of them waits
/// for the last.
const MAX_BATCH: usize = 256;

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
    /// for other processes' writes) and starts its thread.
    pub(super) fn open(path: &Path) -> StoreResult<Self> {
        let conn = rusqlite::Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )?;
        conn.set_prepared_statement_cache_capacity(64);
        let (jobs, queue) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("saoma-sqlite-writer".into())
            .spawn(move || run(conn, queue))
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

/// The writer's loop: wait for a write, take all that wait with it, run each in its own
/// savepoint, commit once, then answer.
fn run(mut conn: rusqlite::Connection, queue: mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, batch);
    }
}

fn commit_batch(conn: &mut rusqlite::Connection, batch: Vec<Job>) {
    if let Err(err) = conn.execute_batch("BEGIN IMMEDIATE") {
        let err = Arc::new(StoreError::from(err));
        for job in batch {
            let _ = job.reply.send(Err(StoreError::Shared(err.clone())));
        }
        return;
    }
    let mut done = Vec::with_capacity(batch.len());
    for job in batch {
        match run_in_savepoint(conn, job.work) {
            Ok(value) => done.push((job.reply, value)),
            // Undone already: this request's answer does not wait for the others' commit.
            Err(err) => {
                let _ = job.reply.send(Err(err));
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
            let _ = conn.execute_batch("ROLLBACK");
            let err = Arc::new(StoreError::from(err));
            for (reply, _) in done {
                let _ = reply.send(Err(StoreError::Shared(err.clone())));
            }
        }
    }
}

/// One request's work, alone: its failure (or panic) undoes its statements and nothing else.
fn run_in_savepoint(
    conn: &mut rusqlite::Connection,
    work: Work,
) -> StoreResult<Box<dyn Any + Send>> {
    conn.execute_batch("SAVEPOINT request")?;
    let outcome = catch_unwind(AssertUnwindSafe(|| work(&mut *conn))).unwrap_or_else(|_| {
        Err(StoreError::Corrupt(
            "a write panicked; its statements were undone".into(),
        ))
    });
    if outcome.is_err() {
        conn.execute_batch("ROLLBACK TO request")?;
    }
    conn.execute_batch("RELEASE request")?;
    outcome
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

    fn writer() -> (tempfile::TempDir, GroupWriter, std::path::PathBuf) {
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
        let (_dir, writer, path) = writer();
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

    #[tokio::test]
    async fn run_now_refuses_a_step_that_waits() {
        assert_eq!(run_now(async { 7 }).expect("ready"), 7);
        let waits = run_now(tokio::time::sleep(std::time::Duration::from_secs(1)));
        assert!(waits.is_err());
    }
}
