//! SQLite reads on the request's own thread, and the memory in front of the one read every
//! authenticated request makes.

use std::{
    collections::HashMap,
    path::Path,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use super::super::{Principal, PrincipalKey, StoreResult};
use crate::sync::lock;

/// Inline readers: enough for every tokio worker of a small machine plus a spare.
const INLINE_READERS: usize = 4;
/// Beyond this many remembered principals a reader's memory starts over.
const CACHE_CAPACITY_PER_READER: usize = 2_500;

/// Read-only connections used on the calling thread itself, without sqlx's hand-off of every
/// statement to a connection thread and back, which was most of a `GET /user`'s cost (see
/// docs/benchmarks.md). Only for bounded point lookups: the thread is a tokio worker, and WAL
/// readers do not wait for the writer.
#[derive(Debug)]
pub(super) struct InlineReaders {
    readers: Box<[Mutex<Reader>]>,
    next: AtomicUsize,
    remember: bool,
}

/// One connection and the principals it read since the database last changed.
///
/// Any commit by another connection, of saoma or of another program writing the file,
/// changes this connection's `PRAGMA data_version` (a read-only connection never commits
/// itself), and a changed version empties the memory: an answer from here is always what the
/// database holds now. Each reader keeps its own memory because version numbers are only
/// comparable on one connection; it also means one lock per request, no shared monitor.
#[derive(Debug)]
struct Reader {
    conn: rusqlite::Connection,
    /// The `data_version` every remembered entry was read at.
    version: i64,
    remembered: HashMap<PrincipalKey, Arc<Principal>>,
}

fn open_read_only(path: &Path) -> StoreResult<rusqlite::Connection> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

impl InlineReaders {
    /// `remember`: answer principals from memory while the file is unchanged (pays off on
    /// read-mostly traffic, e.g. `getUser()` on every page view of a server-rendered app).
    pub(super) fn open(path: &Path, remember: bool) -> StoreResult<Self> {
        let readers = (0..INLINE_READERS)
            .map(|_| {
                Ok(Mutex::new(Reader {
                    conn: open_read_only(path)?,
                    version: i64::MIN,
                    remembered: HashMap::new(),
                }))
            })
            .collect::<StoreResult<_>>()?;
        Ok(Self {
            readers,
            next: AtomicUsize::new(0),
            remember,
        })
    }

    /// Runs `use_reader` on a free reader, or waits for one when all are busy.
    fn with<T>(&self, use_reader: impl FnOnce(&mut Reader) -> T) -> T {
        let count = self.readers.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for i in 0..count {
            if let Ok(mut reader) = self.readers[(start + i) % count].try_lock() {
                return use_reader(&mut reader);
            }
        }
        use_reader(&mut lock(&self.readers[start % count]))
    }

    /// A bounded point lookup on the calling thread (no memory: read every time).
    pub(super) fn read<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.with(|reader| read(&reader.conn))
    }

    /// The principal for `key`, from memory when nothing has been written to the database
    /// since it was read, else by `read` (and remembered).
    pub(super) fn principal(
        &self,
        key: PrincipalKey,
        read: impl FnOnce(&rusqlite::Connection) -> StoreResult<Option<Principal>>,
    ) -> StoreResult<Option<Arc<Principal>>> {
        self.with(|reader| {
            if !self.remember {
                return Ok(read(&reader.conn)?.map(Arc::new));
            }
            // Taken before the read: a write committed in between makes the entry look
            // stale, never fresh.
            let version = reader.data_version()?;
            if version != reader.version {
                reader.remembered.clear();
                reader.version = version;
            } else if let Some(hit) = reader.remembered.get(&key) {
                return Ok(Some(hit.clone()));
            }
            let principal = read(&reader.conn)?.map(Arc::new);
            if let Some(principal) = &principal {
                if reader.remembered.len() >= CACHE_CAPACITY_PER_READER {
                    reader.remembered.clear();
                }
                reader.remembered.insert(key, principal.clone());
            }
            Ok(principal)
        })
    }
}

impl Reader {
    /// Changes whenever another connection, in this process or another, commits.
    fn data_version(&self) -> StoreResult<i64> {
        let mut statement = self.conn.prepare_cached("PRAGMA data_version")?;
        Ok(statement.query_row([], |row| row.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    /// The readers scale with threads only if SQLite takes no process-wide mutex per page or
    /// per allocation: `.cargo/config.toml` builds it so (issue 17).
    #[test]
    fn sqlite_is_built_without_its_process_wide_mutexes() {
        let conn = rusqlite::Connection::open_in_memory().expect("open");
        let mut statement = conn.prepare("PRAGMA compile_options").expect("prepare");
        let options: Vec<String> = statement
            .query_map([], |row| row.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert!(
            !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
            "one page-cache mutex for every connection: {options:?}"
        );
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "a mutex on every allocation: {options:?}"
        );
        assert!(
            options
                .iter()
                .any(|o| o == "DISABLE_PAGECACHE_OVERFLOW_STATS"),
            "a mutex on every page buffer: {options:?}"
        );
        assert!(
            options.iter().any(|o| o == "DEFAULT_PCACHE_INITSZ=0"),
            "~90 KB allocated for every temporary b-tree: {options:?}"
        );
    }
}
