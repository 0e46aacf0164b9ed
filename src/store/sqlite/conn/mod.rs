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
//! Keeping the WAL short is `wal`'s: after an operation it asks the checkpointer
//! for a checkpoint, or holds the connection for one that starts the WAL over.
//!
//! Message appends, most of the writes, are committed in groups (`sqlite::append`).

mod wal;

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::append::Appends;
use super::checkpoint::{Checkpointer, Policy};
use super::url::Location;
use crate::error::{Error, Result};

/// How long the checkpointer waits on a lock held by another connection before failing; the
/// main connection's own wait is the store's timeout (`DATABASE_TIMEOUT_SECS`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// A WAL reset (`wal::reset_wal`) is under way (or waiting out a failed one).
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
        // Nearly always free at once: then no timer is armed.
        crate::timeout::within(self.0.timeout, lock)
            .await
            .map_err(|_| {
                Error::DatabaseUnavailable(format!(
                    "the SQLite connection stayed busy for {:?}",
                    self.0.timeout
                ))
            })
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
}
