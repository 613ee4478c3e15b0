//! Connections for the store's transactions (sign-up, sign-in's session, refresh rotation,
//! codes, sweeps) and its hottest single writes (audit entries, AMR claims, sign-outs),
//! without sqlx's test on every release.
//!
//! sqlx's pool pings a connection each time it is given back, whatever happened to it: a
//! round trip to Postgres per write, on a machine where Postgres's CPU is the throughput
//! (docs/benchmarks.md). The ping is there for connections given back in an unknown state:
//! a request that went away mid-statement, or a transaction that was never committed. Here a
//! lease that ends normally (committed, or its single statements answered) gives its
//! connection straight back; one that ends any other way (an error, a cancelled request, a
//! panic) has its connection rolled back, which also waits out whatever it still owed and
//! proves it works, on a task of its own before anyone can take it again. A connection that
//! fails that, or whose `BEGIN` fails, is closed, never handed out again.

use std::{
    ops::{Deref, DerefMut},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sqlx::{postgres::PgConnectOptions, Connection, PgConnection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::super::{StoreError, StoreResult};
use crate::sync::lock;

/// `application_name` of these connections.
pub const APPLICATION_NAME: &str = "saoma writes";
/// Leases at once on one node, each on its own connection.
const MAX_CONNECTIONS: usize = 8;
/// A connection unused this long is closed (a database restart or an idle timeout on the
/// way may have cut it).
const IDLE: Duration = Duration::from_secs(60);
/// A connection this old is closed when given back, busy or not: after a failover, no
/// connection stays on a server that has become a read-only replica for longer than this.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// The longest a lease waits for a connection, a free slot and connecting together.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest the rollback of an abandoned lease (or the closing of a connection that
/// failed it) may take before the connection is dropped.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub(super) struct WriteConns {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    options: PgConnectOptions,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Idle>>,
}

#[derive(Debug)]
struct Idle {
    conn: PgConnection,
    opened: Instant,
    since: Instant,
}

/// A connection on lease, usually with a transaction open: [`WriteTx::commit`] ends it and
/// gives the connection back. Dropped before that, whatever it was doing is waited out and
/// rolled back on a task of its own.
#[derive(Debug)]
pub(super) struct WriteTx {
    conn: Option<PgConnection>,
    opened: Instant,
    permit: Option<OwnedSemaphorePermit>,
    inner: Arc<Inner>,
    /// Set before `BEGIN` is sent: a lease dropped while `BEGIN` is on its way may be in a
    /// transaction, and a ROLLBACK with none open only warns.
    in_transaction: bool,
}

impl WriteConns {
    /// Connects on demand; a task on the current runtime closes connections left idle
    /// (until the last handle is dropped).
    pub(super) fn new(options: PgConnectOptions) -> Self {
        let inner = Arc::new(Inner {
            // Named, so operators can tell them apart in pg_stat_activity.
            options: options.application_name(APPLICATION_NAME),
            permits: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
            idle: Mutex::new(Vec::new()),
        });
        let watched = Arc::downgrade(&inner);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(IDLE / 2);
            loop {
                every.tick().await;
                match watched.upgrade() {
                    Some(inner) => inner.close_stale(),
                    None => return,
                }
            }
        });
        Self { inner }
    }

    /// A transaction on an idle connection or a new one. Nothing has run in it yet, so the
    /// caller may retry a failure to open it (`retry_read`): the failed connection is closed.
    pub(super) async fn begin(&self) -> StoreResult<WriteTx> {
        let (mut lease, was_idle) = self.acquire().await?;
        lease.in_transaction = true;
        if let Err(err) = sqlx::query("BEGIN").execute(&mut *lease).await {
            let err = StoreError::from(err);
            if was_idle && err.is_unavailable() {
                // Cut while idle: a restart or failover cut the others too.
                lock(&self.inner.idle).clear();
            }
            // Dropped, not given back.
            lease.conn = None;
            return Err(err);
        }
        Ok(lease)
    }

    /// A connection for statements that commit on their own; [`WriteTx::give_back`] once
    /// they are answered.
    pub(super) async fn single(&self) -> StoreResult<WriteTx> {
        Ok(self.acquire().await?.0)
    }

    /// A connection and whether it was idle (else new).
    async fn acquire(&self) -> StoreResult<(WriteTx, bool)> {
        let deadline = tokio::time::Instant::now() + ACQUIRE_TIMEOUT;
        let permit = tokio::time::timeout_at(deadline, self.inner.permits.clone().acquire_owned())
            .await
            .map_err(|_| StoreError::Unavailable("no database connection free for a write"))?
            .map_err(|_| StoreError::Unavailable("the write connections are closed"))?;
        let reused = self.inner.take_idle();
        let was_idle = reused.is_some();
        let (conn, opened) = match reused {
            Some(idle) => (idle.conn, idle.opened),
            None => {
                let conn = tokio::time::timeout_at(
                    deadline,
                    PgConnection::connect_with(&self.inner.options),
                )
                .await
                .map_err(|_| {
                    StoreError::Unavailable("the database did not accept a connection")
                })??;
                (conn, Instant::now())
            }
        };
        let lease = WriteTx {
            conn: Some(conn),
            opened,
            permit: Some(permit),
            inner: self.inner.clone(),
            in_transaction: false,
        };
        Ok((lease, was_idle))
    }
}

impl Inner {
    /// The most recently used idle connection, after closing those idle too long.
    fn take_idle(&self) -> Option<Idle> {
        self.close_stale();
        lock(&self.idle).pop()
    }

    fn close_stale(&self) {
        let now = Instant::now();
        let stale: Vec<_> = {
            let mut idle = lock(&self.idle);
            let (stale, fresh) = std::mem::take(&mut *idle)
                .into_iter()
                .partition(|idle| now.duration_since(idle.since) >= IDLE);
            *idle = fresh;
            stale
        };
        for idle in stale {
            close_later(idle.conn);
        }
    }

    fn give_back(&self, conn: PgConnection, opened: Instant) {
        if opened.elapsed() >= MAX_LIFETIME {
            return close_later(conn);
        }
        lock(&self.idle).push(Idle {
            conn,
            opened,
            since: Instant::now(),
        });
    }
}

/// Closes politely where a runtime can run it; otherwise the socket just closes.
fn close_later(conn: PgConnection) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let _ = tokio::time::timeout(CLEANUP_TIMEOUT, conn.close()).await;
        });
    }
}

impl WriteTx {
    /// Commits; the connection goes back untested, as it is known to be in order.
    pub(super) async fn commit(mut self) -> StoreResult<()> {
        if self.in_transaction {
            sqlx::query("COMMIT").execute(&mut *self).await?;
            self.in_transaction = false;
        }
        self.give_back();
        Ok(())
    }

    /// Its statements have all been answered: the connection goes back untested. A lease
    /// still in a transaction is left to `Drop`, which rolls it back.
    pub(super) fn give_back(mut self) {
        if self.in_transaction {
            return;
        }
        if let Some(conn) = self.conn.take() {
            self.inner.give_back(conn, self.opened);
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        let (Some(conn), Some(permit)) = (self.conn.take(), self.permit.take()) else {
            return;
        };
        // Ended early: an error, a cancelled request (perhaps mid-statement) or a panic.
        // The permit is held until the connection is back or closed, so no one takes it
        // half-done and no more than MAX_CONNECTIONS exist.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (inner, opened, in_transaction) =
            (self.inner.clone(), self.opened, self.in_transaction);
        runtime.spawn(async move {
            let mut conn = conn;
            let cleaned = tokio::time::timeout(CLEANUP_TIMEOUT, async {
                if in_transaction {
                    sqlx::query("ROLLBACK").execute(&mut conn).await.map(drop)
                } else {
                    conn.ping().await
                }
            })
            .await;
            if matches!(cleaned, Ok(Ok(()))) {
                inner.give_back(conn, opened);
            } else {
                let _ = tokio::time::timeout(CLEANUP_TIMEOUT, conn.close()).await;
            }
            drop(permit);
        });
    }
}

impl Deref for WriteTx {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn
            .as_ref()
            .unwrap_or_else(|| unreachable!("a lease has its connection until it ends"))
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn
            .as_mut()
            .unwrap_or_else(|| unreachable!("a lease has its connection until it ends"))
    }
}
