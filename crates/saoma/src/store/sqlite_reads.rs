//! SQLite reads on the request's own thread, and the memory in front of the one read every
//! authenticated request makes.

use std::{
    collections::HashMap,
    path::Path,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex, MutexGuard,
    },
};

use uuid::Uuid;

use super::{Principal, StoreResult};

/// Inline readers: enough for every tokio worker of a small machine plus a spare.
const INLINE_READERS: usize = 4;
/// Beyond this many remembered principals the memory starts over.
const CACHE_CAPACITY: usize = 10_000;

/// Read-only connections used on the calling thread itself, without sqlx's hand-off of every
/// statement to a connection thread and back, which was most of a `GET /user`'s cost (see
/// docs/benchmarks.md). Only for bounded point lookups: the thread is a tokio worker, and WAL
/// readers do not wait for the writer.
#[derive(Debug)]
pub(super) struct InlineReaders {
    connections: Box<[Mutex<rusqlite::Connection>]>,
    next: AtomicUsize,
    /// Asked for `PRAGMA data_version` only, see [`PrincipalCache`].
    monitor: Mutex<rusqlite::Connection>,
    cache: Option<PrincipalCache>,
}

fn open_read_only(path: &Path) -> StoreResult<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl InlineReaders {
    pub(super) fn open(path: &Path, cache: bool) -> StoreResult<Self> {
        let connections = (0..INLINE_READERS)
            .map(|_| open_read_only(path).map(Mutex::new))
            .collect::<StoreResult<_>>()?;
        Ok(Self {
            connections,
            next: AtomicUsize::new(0),
            monitor: Mutex::new(open_read_only(path)?),
            cache: cache.then(PrincipalCache::default),
        })
    }

    /// Runs `read` on a free connection, or waits for one when all are busy.
    pub(super) fn with<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let count = self.connections.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..count {
            if let Ok(conn) = self.connections[(start + i) % count].try_lock() {
                return read(&conn);
            }
        }
        read(&lock(&self.connections[start % count]))
    }

    /// The principal for (user, session), from memory when nothing has been written to the
    /// database since it was read, else by `read` (and remembered).
    pub(super) fn principal(
        &self,
        key: (Uuid, Option<Uuid>),
        read: impl FnOnce(&rusqlite::Connection) -> StoreResult<Option<Principal>>,
    ) -> StoreResult<Option<Principal>> {
        let Some(cache) = &self.cache else {
            return self.with(read);
        };
        // Taken before the read: a write committed in between makes the entry look stale,
        // never fresh.
        let version = self.data_version()?;
        if let Some(hit) = cache.get(&key, version) {
            return Ok(Some(hit));
        }
        let principal = self.with(read)?;
        if let Some(principal) = &principal {
            cache.put(key, version, principal.clone());
        }
        Ok(principal)
    }

    /// Changes whenever any connection but the monitor, in this process or another, commits.
    fn data_version(&self) -> StoreResult<i64> {
        let conn = lock(&self.monitor);
        let mut statement = conn.prepare_cached("PRAGMA data_version")?;
        Ok(statement.query_row([], |row| row.get(0))?)
    }
}

/// Principals read since the database last changed. Any commit, by saoma or by another
/// program writing the file, changes SQLite's `data_version` and so empties it: an answer
/// from here is always what the database holds now. It pays off on read-mostly traffic,
/// e.g. `getUser()` on every page view of a server-rendered app.
#[derive(Debug, Default)]
struct PrincipalCache {
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    /// The `data_version` every entry was read at.
    version: i64,
    entries: HashMap<(Uuid, Option<Uuid>), Principal>,
}

impl PrincipalCache {
    fn get(&self, key: &(Uuid, Option<Uuid>), version: i64) -> Option<Principal> {
        let state = lock(&self.state);
        (state.version == version)
            .then(|| state.entries.get(key).cloned())
            .flatten()
    }

    fn put(&self, key: (Uuid, Option<Uuid>), version: i64, principal: Principal) {
        let mut state = lock(&self.state);
        if state.version != version || state.entries.len() >= CACHE_CAPACITY {
            if version < state.version {
                // A slower reader with an older view: the newer entries win.
                return;
            }
            state.entries.clear();
            state.version = version;
        }
        state.entries.insert(key, principal);
    }
}
