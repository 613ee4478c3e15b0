//! Token checks on Postgres: their own connections, and concurrent checks read together.
//!
//! Every authenticated request reads its principal. Asked one by one through the pool, each
//! check costs Postgres a round trip for the statement and sqlx's pool another one (a ping on
//! every release), and on a machine shared with Postgres that CPU is the throughput (see
//! docs/benchmarks.md). Here a few reader tasks each own a connection; a reader takes every
//! check waiting when it becomes free and reads them with one statement. An idle server
//! answers a lone check with the one-pair statement after one yield to the scheduler;
//! batches form while readers are busy, with no timer to fill them. Nothing is remembered
//! between reads:
//! several saoma nodes may share the database, and each answer is read after its request
//! arrived.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sqlx::{postgres::PgConnectOptions, Connection, PgConnection, Row};
use tokio::sync::{mpsc, oneshot, Mutex};
use uuid::Uuid;

use super::super::{Principal, PrincipalKey, StoreError, StoreResult};
use super::{
    columns::{PRINCIPALS_SQL, PRINCIPAL_SQL},
    decode::principal_from_row,
};

/// Reader tasks, each with one connection: half the cores, at most 4. More readers than the
/// database runs in parallel only make smaller batches: on 2 cores shared with Postgres, one
/// reader (batches of ~7 under 16 concurrent requests) beat two and four (docs/benchmarks.md).
fn readers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |cores| cores.get() / 2)
        .clamp(1, 4)
}

/// `application_name` of the readers' connections.
pub const APPLICATION_NAME: &str = "saoma token checks";
/// The most checks one statement reads.
const MAX_BATCH: usize = 64;
/// A reader idle this long closes its connection (it reconnects on demand).
const IDLE: Duration = Duration::from_secs(60);
/// The longest a token check waits for its statement (connecting included).
const READ_TIMEOUT: Duration = Duration::from_secs(10);

type Answer = StoreResult<Option<Arc<Principal>>>;

struct Ask {
    key: PrincipalKey,
    reply: oneshot::Sender<Answer>,
}

#[derive(Debug, Clone)]
pub(super) struct PrincipalReads {
    asks: mpsc::UnboundedSender<Ask>,
}

impl PrincipalReads {
    /// Starts the readers on the current tokio runtime; they connect on first use and stop
    /// when the last handle is dropped.
    pub(super) fn start(options: PgConnectOptions) -> Self {
        // Named, so operators can tell them apart in pg_stat_activity.
        let options = options.application_name(APPLICATION_NAME);
        let (asks, queue) = mpsc::unbounded_channel();
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..readers() {
            tokio::spawn(reader(options.clone(), queue.clone()));
        }
        Self { asks }
    }

    pub(super) async fn principal(&self, key: PrincipalKey) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.asks.send(Ask { key, reply }).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the token-check readers have stopped")
}

async fn reader(options: PgConnectOptions, queue: Arc<Mutex<mpsc::UnboundedReceiver<Ask>>>) {
    let mut conn: Option<PgConnection> = None;
    let mut last_used = Instant::now();
    loop {
        // The wait includes queueing for the queue behind other readers: only a connection
        // unused for IDLE is closed.
        let mut batch = match tokio::time::timeout(IDLE, next_batch(&queue)).await {
            Ok(Some(batch)) => batch,
            Ok(None) => return,
            Err(_waited) => {
                if last_used.elapsed() >= IDLE {
                    if let Some(idle) = conn.take() {
                        let _ = idle.close().await;
                    }
                }
                continue;
            }
        };
        last_used = Instant::now();
        // A request that went away (its client hung up) needs no answer.
        batch.retain(|ask| !ask.reply.is_closed());
        if batch.is_empty() {
            continue;
        }
        let keys: Vec<PrincipalKey> = batch.iter().map(|ask| ask.key).collect();
        let reused = conn.is_some();
        let mut answers = read(&mut conn, &options, &keys).await;
        if answers.is_err() && reused {
            // A connection that sat open may have been cut (a database restart, a failover,
            // an idle timeout on the way): reads are safe to repeat, once, on a new one.
            conn = None;
            answers = read(&mut conn, &options, &keys).await;
        }
        match answers {
            Ok(answers) => {
                for (ask, answer) in batch.into_iter().zip(answers) {
                    let _ = ask.reply.send(answer);
                }
            }
            Err(err) => {
                // The connection may be broken or stuck: the next batch opens a new one.
                conn = None;
                let err = Arc::new(err);
                for ask in batch {
                    let _ = ask.reply.send(Err(StoreError::Shared(err.clone())));
                }
            }
        }
    }
}

/// Waits for a check, then takes every other one waiting (up to [`MAX_BATCH`]).
/// `None` once every handle is gone.
async fn next_batch(queue: &Mutex<mpsc::UnboundedReceiver<Ask>>) -> Option<Vec<Ask>> {
    let mut queue = queue.lock().await;
    let first = queue.recv().await?;
    // Let the request tasks already runnable reach their checks first: without this, under
    // load the reader kept taking one or two checks per statement (Postgres 55 µs per check
    // instead of 25 in profile runs, throughput down by a quarter). Alone, it costs a poll.
    tokio::task::yield_now().await;
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(ask) => batch.push(ask),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// The answers for `keys`, in their order: the error is the statement's (every check
/// fails), a row that cannot be decoded fails only its own check.
async fn read(
    conn: &mut Option<PgConnection>,
    options: &PgConnectOptions,
    keys: &[PrincipalKey],
) -> StoreResult<Vec<Answer>> {
    // A database that stops answering must not hold every authenticated request.
    tokio::time::timeout(READ_TIMEOUT, read_within(conn, options, keys))
        .await
        .unwrap_or(Err(StoreError::Unavailable(
            "the database did not answer a token check in time",
        )))
}

async fn read_within(
    conn: &mut Option<PgConnection>,
    options: &PgConnectOptions,
    keys: &[PrincipalKey],
) -> StoreResult<Vec<Answer>> {
    let conn = match conn {
        Some(conn) => conn,
        None => conn.insert(PgConnection::connect_with(options).await?),
    };
    let decode = |row: &sqlx::postgres::PgRow| principal_from_row(row).map(|p| Some(Arc::new(p)));
    if let [(user_id, session_id)] = keys {
        let row = sqlx::query(PRINCIPAL_SQL)
            .bind(user_id)
            .bind(session_id)
            .fetch_optional(&mut *conn)
            .await?;
        return Ok(vec![row.as_ref().map_or(Ok(None), decode)]);
    }
    let (users, sessions): (Vec<Uuid>, Vec<Option<Uuid>>) = keys.iter().copied().unzip();
    let rows = sqlx::query(PRINCIPALS_SQL)
        .bind(users)
        .bind(sessions)
        .fetch_all(&mut *conn)
        .await?;
    let mut answers: Vec<Answer> = keys.iter().map(|_| Ok(None)).collect();
    for row in &rows {
        let ord: i64 = row.try_get("ord")?;
        let slot = usize::try_from(ord - 1)
            .ok()
            .and_then(|i| answers.get_mut(i))
            .ok_or_else(|| StoreError::Corrupt(format!("principal read: ord {ord}")))?;
        *slot = decode(row);
    }
    Ok(answers)
}
