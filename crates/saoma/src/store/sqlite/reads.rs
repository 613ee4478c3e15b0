//! SQLite reads on the request's own thread, and the memory in front of the one read every
//! authenticated request makes.

use std::{
    cell::Cell,
    collections::HashMap,
    path::Path,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use super::super::{Principal, PrincipalKey, StoreResult};
use crate::sync::lock;

/// Inline readers: one per tokio worker (the runtime runs one per core) and a spare, so that
/// no worker waits for another's read. With a fixed 4, a 16-core machine served uncached
/// token checks no faster on 8 cores than on 4: 12 workers queued on 4 connections
/// (docs/benchmarks.md, "Scaling with cores").
fn inline_readers() -> usize {
    std::thread::available_parallelism()
        .map_or(4, |cores| cores.get() + 1)
        .clamp(4, 65)
}
/// Beyond this many remembered principals a reader's memory starts over.
const CACHE_CAPACITY_PER_READER: usize = 2_500;

/// Read-only connections used on the calling thread itself, without sqlx's hand-off of every
/// statement to a connection thread and back, which was most of a `GET /user`'s cost (see
/// docs/benchmarks.md). Only for bounded point lookups: the thread is a tokio worker, and WAL
/// readers do not wait for the writer.
#[derive(Debug)]
pub(super) struct InlineReaders {
    readers: Box<[Mutex<Reader>]>,
    remember: bool,
}

/// Numbers the threads that read, so each starts at a reader of its own.
static THREADS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's first choice of reader (modulo their number): a thread keeps using the
    /// same connection, whose pages and remembered principals it warmed, and threads ask no
    /// shared counter per read (one cache line bounced between every core).
    static PREFERRED: Cell<Option<usize>> = const { Cell::new(None) };
}

fn preferred_reader() -> usize {
    PREFERRED.with(|preferred| match preferred.get() {
        Some(index) => index,
        None => {
            let index = THREADS.fetch_add(1, Ordering::Relaxed);
            preferred.set(Some(index));
            index
        }
    })
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
        let readers = (0..inline_readers())
            .map(|_| {
                Ok(Mutex::new(Reader {
                    conn: open_read_only(path)?,
                    version: i64::MIN,
                    remembered: HashMap::new(),
                }))
            })
            .collect::<StoreResult<_>>()?;
        Ok(Self { readers, remember })
    }

    /// Runs `use_reader` on this thread's reader, else on a free one, or waits for its own
    /// when all are busy (more threads than readers: tokio's blocking pool).
    fn with<T>(&self, use_reader: impl FnOnce(&mut Reader) -> T) -> T {
        let count = self.readers.len();
        let start = preferred_reader();
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
    use std::{
        sync::atomic::{AtomicUsize, Ordering},
        time::{Duration, Instant},
    };

    use super::InlineReaders;

    /// As many threads as the runtime has workers, and one more, all read at once: none waits
    /// for another's connection. (With a fixed four readers, a machine of more than three
    /// cores made the rest wait, and uncached token checks stopped scaling at four cores.)
    #[test]
    fn every_worker_thread_reads_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("reads.db");
        rusqlite::Connection::open(&path)
            .and_then(|conn| conn.execute_batch("PRAGMA journal_mode = WAL"))
            .expect("create the file");
        let readers = InlineReaders::open(&path, false).expect("open readers");
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get()) + 1;
        let inside = AtomicUsize::new(0);
        let all_at_once = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        readers.with(|_reader| {
                            inside.fetch_add(1, Ordering::SeqCst);
                            // Held until every thread holds one, or 5 s.
                            let deadline = Instant::now() + Duration::from_secs(5);
                            while inside.load(Ordering::SeqCst) < threads
                                && Instant::now() < deadline
                            {
                                std::thread::sleep(Duration::from_millis(1));
                            }
                            inside.load(Ordering::SeqCst) >= threads
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("reader thread"))
                .collect::<Vec<_>>()
        });
        assert!(
            all_at_once.iter().all(|&saw_all| saw_all),
            "{threads} threads could not all read at once on {} readers",
            readers.readers.len()
        );
    }

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
