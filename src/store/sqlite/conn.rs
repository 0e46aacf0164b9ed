//! The SQLite connection: one, held open for the store's life, for reads and writes alike,
//! called directly on the caller's thread; and a checkpointer thread beside it.
//!
//! SQLite lets one connection write at a time, so operations take turns on this connection's
//! lock instead of contending for the file lock and sleeping in `busy_timeout`. One connection
//! also keeps its page cache valid: with separate reader connections every write made each
//! reader reload the pages it touched (the REST turn rate fell by 14%, and under the WebSocket
//! chat load the p99 time to first delta was 2.8× longer; BENCHMARKS.md).
//!
//! Operations run on the calling thread, because they take microseconds: the store's queries
//! are point lookups and single-row writes on indexed keys. A driver that hands every query to
//! a worker thread and waits for its answer (as sqlx's SQLite driver does) spends more on the
//! two thread switches than on the query; that hand-off was the largest cost of a turn
//! (BENCHMARKS.md). The connection's lock is asynchronous, so a task waiting its turn parks and
//! its thread goes on with other tasks; it is held only while one operation runs. Operations
//! that move megabytes (attachment bytes) run on the blocking pool instead ([`Conn::run_blocking`]),
//! as they would hold a runtime thread for milliseconds.
//!
//! The one slow thing SQLite does on its own is a WAL checkpoint: copying the log back into
//! the database file and syncing both, which takes milliseconds. Left automatic it would run
//! inside whichever write crossed the threshold, stalling that caller's thread (and every task
//! scheduled on it). So automatic checkpoints are off on the main connection, and a thread
//! with a connection of its own (`sqlite::checkpoint`) runs passive checkpoints, which never
//! block the writer, by rows changed and by time. When the WAL has grown long all the same,
//! the store holds its connection for one checkpoint that copies every frame, so the WAL starts
//! over ([`reset_wal`]). The rest is folded in when the store closes.
//!
//! Message appends, most of the writes, are committed in groups (`sqlite::append`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use super::append::Appends;
use super::checkpoint::{Checkpointer, Policy};
use super::url::Location;
use crate::error::{Error, Result};

/// How long the checkpointer waits on a lock held by another connection before failing; the
/// main connection's own wait is the store's timeout (`DATABASE_TIMEOUT_SECS`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a WAL reset that another connection's reader prevented waits before the next try.
const RESET_RETRY: Duration = Duration::from_secs(10);

/// Distinct statements kept prepared; the store has about forty.
const STATEMENT_CACHE: usize = 64;

/// Cheap to clone; every clone shares the connection.
#[derive(Debug, Clone)]
pub(in crate::store) struct Conn(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    /// How long an operation waits for its turn on the connection, and SQLite for a lock held
    /// by another process, before failing with `Error::DatabaseUnavailable`.
    timeout: Duration,
    /// Taken asynchronously, so a caller that waits for it parks its task, not its thread.
    conn: Arc<tokio::sync::Mutex<Option<Connection>>>,
    /// `total_changes` when the checkpointer was last asked to run.
    checkpointed_at: AtomicU64,
    checkpointer: Mutex<Option<Checkpointer>>,
    policy: Policy,
    /// Set by the checkpointer when the WAL has grown past the policy's `reset_frames`.
    oversized: Arc<AtomicBool>,
    /// A [`reset_wal`] is under way (or waiting out a failed one).
    resetting: AtomicBool,
    /// Resets that copied every frame back, so that the next write started the WAL over.
    resets: AtomicU64,
    appends: Mutex<Appends>,
}

impl Conn {
    /// Opens the database (WAL journal, foreign keys on, synchronous NORMAL) and, for a file,
    /// starts its checkpointer; operations wait for the connection as long as the checkpointer.
    #[cfg(test)]
    pub(super) fn open(location: &Location) -> Result<Self> {
        Self::open_with(location, Policy::default(), BUSY_TIMEOUT)
    }

    /// `open`, checkpointing by `policy`, each operation waiting at most `timeout` for the
    /// connection or a lock on the file.
    pub(super) fn open_with(
        location: &Location,
        policy: Policy,
        timeout: Duration,
    ) -> Result<Self> {
        let oversized = Arc::new(AtomicBool::new(false));
        let (conn, checkpointer) = match location {
            Location::Memory => (Connection::open_in_memory()?, None),
            Location::File { path, create } => {
                let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                if *create {
                    flags |= OpenFlags::SQLITE_OPEN_CREATE;
                }
                let conn = Connection::open_with_flags(path, flags)?;
                conn.busy_timeout(timeout)?;
                let mode: String =
                    conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
                if !mode.eq_ignore_ascii_case("wal") {
                    return Err(Error::Internal(format!(
                        "SQLite refused the WAL journal (it kept `{mode}`)"
                    )));
                }
                // This connection is the writer, so it is the one that starts the WAL over;
                // the file is then cut back to the length at which that happens.
                let page: i64 = conn.query_row("PRAGMA page_size", [], |row| row.get(0))?;
                let limit = page * i64::from(policy.reset_frames);
                conn.execute_batch(&format!(
                    "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {limit};"
                ))?;
                let checkpointer =
                    Checkpointer::start(path, BUSY_TIMEOUT, policy, oversized.clone())?;
                (conn, Some(checkpointer))
            }
        };
        conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Conn(Arc::new(Shared {
            timeout,
            checkpointed_at: AtomicU64::new(conn.total_changes()),
            conn: Arc::new(tokio::sync::Mutex::new(Some(conn))),
            checkpointer: Mutex::new(checkpointer),
            policy,
            oversized,
            resetting: AtomicBool::new(false),
            resets: AtomicU64::new(0),
            appends: Mutex::default(),
        })))
    }

    /// The appends waiting to be committed together (`sqlite::append`).
    pub(super) fn appends(&self) -> &Mutex<Appends> {
        &self.0.appends
    }

    /// Runs `op` on the connection, on this thread, once the operations started before it are
    /// done. An internal error once the store is closed.
    pub async fn run<T>(&self, op: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut guard = self.wait_for(self.0.conn.lock()).await?;
        self.finish(on(&mut guard, op), &guard)
    }

    /// Like `run`, but on the blocking pool: for operations that move megabytes (attachment
    /// bytes), which would otherwise hold a runtime thread for milliseconds.
    pub async fn run_blocking<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let mut guard = self.wait_for(self.0.conn.clone().lock_owned()).await?;
        let (result, guard) = tokio::task::spawn_blocking(move || (on(&mut guard, op), guard))
            .await
            .map_err(|e| Error::Internal(format!("a database operation failed: {e}")))?;
        self.finish(result, &guard)
    }

    /// The connection's lock, or `Error::DatabaseUnavailable` when the operations ahead hold
    /// it past the timeout (one of them stuck on a lock another process holds, say): a request
    /// fails fast instead of queueing behind them. Waiting for a tokio lock is cancel-safe.
    async fn wait_for<G>(&self, lock: impl std::future::Future<Output = G>) -> Result<G> {
        tokio::time::timeout(self.0.timeout, lock)
            .await
            .map_err(|_| {
                Error::DatabaseUnavailable(format!(
                    "the SQLite connection stayed busy for {:?}",
                    self.0.timeout
                ))
            })
    }

    /// Asks for a checkpoint once enough rows changed since the last one, and has the WAL
    /// started over once it grew too long.
    fn finish<T>(&self, result: Result<T>, conn: &Option<Connection>) -> Result<T> {
        let Some(changes) = conn.as_ref().map(Connection::total_changes) else {
            return result;
        };
        let last = self.0.checkpointed_at.load(Ordering::Relaxed);
        if changes.wrapping_sub(last) >= self.0.policy.rows {
            self.0.checkpointed_at.store(changes, Ordering::Relaxed);
            if let Some(c) = lock(&self.0.checkpointer).as_ref() {
                c.request();
            }
        }
        let oversized = &self.0.oversized;
        if oversized.load(Ordering::Acquire)
            && oversized.swap(false, Ordering::AcqRel)
            && !self.0.resetting.swap(true, Ordering::AcqRel)
        {
            tokio::spawn(reset_wal(self.clone()));
        }
        result
    }

    /// Asks the checkpointer for a checkpoint that copies every frame the caller lets it (see
    /// [`Checkpointer::complete`]); `None` once it has stopped.
    fn complete_checkpoint(&self) -> Option<oneshot::Receiver<bool>> {
        lock(&self.0.checkpointer)
            .as_ref()
            .and_then(Checkpointer::complete)
    }

    /// Stops the checkpointer and closes the connection once its current user is done (the
    /// last connection to close folds the WAL into the database file). Later operations fail
    /// with an internal error.
    pub async fn close(&self) {
        let shared = self.0.clone();
        let closed = tokio::task::spawn_blocking(move || {
            if let Some(c) = lock(&shared.checkpointer).take() {
                c.stop();
            }
            if let Some(conn) = shared.conn.blocking_lock().take() {
                if let Err((_, e)) = conn.close() {
                    tracing::warn!(error = %e, "closing the SQLite database");
                }
            }
        });
        let _ = closed.await;
    }
}

/// Holds the connection while a checkpoint copies every frame of the WAL back, so that the
/// next write starts the WAL over. Statements wait for the lock meanwhile (their tasks park);
/// the checkpointer has kept up until now, so only the frames since its last run remain.
async fn reset_wal(conn: Conn) {
    // A checkpoint first with writes going on: it leaves little for the one that holds them.
    if let Some(first) = conn.complete_checkpoint() {
        let _ = first.await;
    }
    let writes_held = conn.0.conn.lock().await;
    let copied_all = match conn.complete_checkpoint() {
        Some(done) => done.await.unwrap_or(true),
        None => true,
    };
    drop(writes_held);
    if copied_all {
        conn.0.resets.fetch_add(1, Ordering::Relaxed);
    } else {
        // Another connection reads an old snapshot of the WAL; holding our writes again at
        // once would not help, so the next try waits.
        tracing::debug!("the WAL could not be copied back whole; trying again later");
        tokio::time::sleep(RESET_RETRY).await;
    }
    conn.0.resetting.store(false, Ordering::Release);
}

/// `op` on the connection held by `guard`, or an internal error once the store is closed.
fn on<T>(
    guard: &mut Option<Connection>,
    op: impl FnOnce(&mut Connection) -> Result<T>,
) -> Result<T> {
    let conn = guard
        .as_mut()
        .ok_or_else(|| Error::Internal("the database is closed".into()))?;
    op(conn)
}

/// The lock, whatever a panicking holder left behind: SQLite itself rolls back a statement
/// or transaction cut short, so the connection is never half-way through anything.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rw_mode_does_not_create_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.db");
        let url = format!("sqlite://{}?mode=rw", path.display());
        assert!(Conn::open(&Location::parse(&url).unwrap()).is_err());
        assert!(!path.exists());
    }

    #[tokio::test]
    async fn blocking_operations_take_their_turn_with_the_others() {
        let conn = Conn::open(&Location::Memory).unwrap();
        conn.run(|c| Ok(c.execute_batch("CREATE TABLE t (n INTEGER, x BLOB)")?))
            .await
            .unwrap();
        let big = vec![7u8; 4 << 20];
        let writes = (0..8).map(|n| {
            let (conn, big) = (conn.clone(), big.clone());
            tokio::spawn(async move {
                if n % 2 == 0 {
                    conn.run_blocking(move |c| {
                        Ok(c.execute("INSERT INTO t VALUES (?, ?)", rusqlite::params![n, big])?)
                    })
                    .await
                } else {
                    conn.run(|c| Ok(c.execute("INSERT INTO t VALUES (?, NULL)", [n])?))
                        .await
                }
            })
        });
        for w in futures::future::join_all(writes).await {
            assert_eq!(w.unwrap().unwrap(), 1);
        }
        let sizes: Vec<(i64, i64)> = conn
            .run(|c| {
                let mut stmt = c.prepare("SELECT n, COALESCE(length(x), 0) FROM t ORDER BY n")?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .await
            .unwrap();
        let expected: Vec<(i64, i64)> = (0..8)
            .map(|n| (n, if n % 2 == 0 { 4 << 20 } else { 0 }))
            .collect();
        assert_eq!(sizes, expected);
        conn.close().await;
        let closed = conn.run_blocking(|_| Ok(())).await;
        assert!(matches!(closed, Err(Error::Internal(_))), "{closed:?}");
    }

    /// A file database in a temporary directory, checkpointed by `policy`, with a table `t`.
    async fn file_db(policy: Policy) -> (tempfile::TempDir, Conn, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let location = Location::File {
            path: path.clone(),
            create: true,
        };
        let conn = Conn::open_with(&location, policy, BUSY_TIMEOUT).unwrap();
        conn.run(|c| Ok(c.execute_batch("CREATE TABLE t (x BLOB)")?))
            .await
            .unwrap();
        (dir, conn, path)
    }

    fn len(path: &std::path::Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    /// Waits up to ten seconds for `done`.
    async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn checkpoints_fold_the_wal_back_and_close_removes_it() {
        let policy = Policy {
            rows: 64,
            interval: Duration::from_secs(3600),
            reset_frames: 1 << 20,
        };
        let (dir, conn, path) = file_db(policy).await;
        for _ in 0..policy.rows * 2 {
            conn.run(|c| Ok(c.execute("INSERT INTO t VALUES (zeroblob(2000))", [])?))
                .await
                .unwrap();
        }
        // The checkpointer copies the log into the database file, which grows to hold it.
        eventually("no checkpoint ran", || len(&path) >= 2000 * policy.rows).await;
        conn.close().await;
        assert!(
            !dir.path().join("c.db-wal").exists(),
            "closing left the WAL behind"
        );
        let Err(Error::Internal(_)) = conn.run(|_| Ok(())).await else {
            panic!("a closed store still answered")
        };
    }

    #[tokio::test]
    async fn a_quiet_database_is_checkpointed_within_the_interval() {
        let policy = Policy {
            rows: u64::MAX,
            interval: Duration::from_millis(50),
            reset_frames: 1 << 20,
        };
        let (_dir, conn, path) = file_db(policy).await;
        conn.run(|c| Ok(c.execute("INSERT INTO t VALUES (zeroblob(100000))", [])?))
            .await
            .unwrap();
        // One row changed, far below `rows`: only the interval brings the checkpoint.
        eventually("the write was never checkpointed", || len(&path) >= 100_000).await;
        conn.close().await;
    }

    #[tokio::test]
    async fn the_wal_starts_over_under_steady_writes() {
        let policy = Policy {
            rows: 16,
            interval: Duration::from_secs(1),
            reset_frames: 256,
        };
        let (dir, conn, _path) = file_db(policy).await;
        let wal = dir.path().join("c.db-wal");
        // Writers that never pause, so the checkpointer always runs beside a write: about 60
        // times the reset length of WAL frames (a row is about one 4 KiB page, and so is each
        // page it touches).
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let conn = conn.clone();
                tokio::spawn(async move {
                    for _ in 0..1_250 {
                        conn.run(|c| Ok(c.execute("INSERT INTO t VALUES (zeroblob(3000))", [])?))
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        let mut longest = 0;
        while !writers.iter().all(|w| w.is_finished()) {
            longest = longest.max(len(&wal));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for w in writers {
            w.await.unwrap();
        }
        // The WAL started over, more than once.
        let resets = conn.0.resets.load(Ordering::Relaxed);
        assert!(resets >= 2, "the WAL started over {resets} times");
        // Without the resets the WAL holds every frame written: about 60 MB here. With them it
        // passes the reset length only by what the writers add while a reset is under way, which
        // grows when the machine is busy and the checkpointer waits for a core (40 MB seen with
        // ten compilers beside it).
        let bound = 48 * 4096 * u64::from(policy.reset_frames);
        assert!(
            longest < bound,
            "the WAL grew to {longest} bytes (bound {bound})"
        );
        let rows: i64 = conn
            .run(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(rows, 5_000);
        conn.close().await;
    }
}
