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

/// Inline readers for a runtime of `workers` threads: one per worker and a spare, so that no
/// worker waits for another's read, at least 4, at most 65 (past 64 workers some wait). With
/// a fixed 4, a 16-core machine served uncached token checks no faster on 8 cores than on 4:
/// the other workers queued on 4 connections (docs/benchmarks.md, "Scaling with cores").
fn inline_readers(workers: usize) -> usize {
    (workers + 1).clamp(4, 65)
}

/// The workers of the runtime opening the store (one per core by default; one in a
/// current-thread runtime, as most tests use, which then open 4 connections, not a core's
/// worth each).
fn runtime_workers() -> usize {
    tokio::runtime::Handle::try_current().map_or_else(
        |_| std::thread::available_parallelism().map_or(1, |n| n.get()),
        |runtime| runtime.metrics().num_workers(),
    )
}

/// Principals remembered by all readers together, before a reader's memory starts over: each
/// reader keeps its share, so more readers (more cores) take no more memory, down to
/// [`MIN_CACHE_PER_READER`].
const CACHE_CAPACITY: usize = 10_000;
/// A reader's least share. A thread keeps to its reader while any user's request can reach
/// any thread, so every reader comes to hold the whole working set: a reader's own capacity,
/// not the total, decides whether a principal is still remembered. Below ~1,000 a busy
/// many-core node would read most principals again.
const MIN_CACHE_PER_READER: usize = 1_000;

/// Read-only connections used on the calling thread itself, without sqlx's hand-off of every
/// statement to a connection thread and back, which was most of a `GET /user`'s cost (see
/// docs/benchmarks.md). Only for bounded point lookups: the thread is a tokio worker, and WAL
/// readers do not wait for the writer.
#[derive(Debug)]
pub(super) struct InlineReaders {
    readers: Box<[Mutex<Reader>]>,
    remember: bool,
    /// Principals each reader remembers at most.
    capacity_per_reader: usize,
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
        Self::open_count(path, remember, inline_readers(runtime_workers()))
    }

    fn open_count(path: &Path, remember: bool, count: usize) -> StoreResult<Self> {
        let readers = (0..count)
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
            remember,
            capacity_per_reader: (CACHE_CAPACITY / count.max(1)).max(MIN_CACHE_PER_READER),
        })
    }

    /// Runs `use_reader` on this thread's reader, else on a free one, or waits for its own
    /// when all are busy (more workers than readers: past the cap of 65). `use_reader` must
    /// not read through `self` again: with every other reader busy, it would wait for itself.
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
                if reader.remembered.len() >= self.capacity_per_reader {
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

    use super::{inline_readers, runtime_workers, InlineReaders};

    /// A worker per reader (a runtime's workers and a spare), all reading at once: none waits
    /// for another's connection, whichever reader each thread prefers.
    #[test]
    fn every_reader_serves_a_thread_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("reads.db");
        rusqlite::Connection::open(&path)
            .and_then(|conn| conn.execute_batch("PRAGMA journal_mode = WAL"))
            .expect("create the file");
        let threads = inline_readers(8);
        let readers = InlineReaders::open_count(&path, false, threads).expect("open readers");
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
            "{threads} threads could not all read at once on {threads} readers"
        );
    }

    /// One reader per worker and a spare: a 16-core machine's runtime was given 4, and its
    /// uncached token checks stopped scaling at 4 cores. A current-thread runtime (tests)
    /// opens the minimum, not a core's worth.
    #[test]
    fn readers_follow_the_runtime_s_workers() {
        assert_eq!(inline_readers(16), 17);
        assert_eq!(inline_readers(2), 4);
        assert_eq!(inline_readers(1), 4);
        assert_eq!(inline_readers(500), 65);
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        assert_eq!(current.block_on(async { runtime_workers() }), 1);
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(6)
            .build()
            .expect("runtime");
        assert_eq!(multi.block_on(async { runtime_workers() }), 6);
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
        assert!(
            options.iter().any(|o| o == "STMTJRNL_SPILL=4194304"),
            "a request's savepoint journal past 64 KiB goes to a temporary file: {options:?}"
        );
    }
}
