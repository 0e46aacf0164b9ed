//! Keeping the WAL short from the store's side of the connection.
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
//! The connection calls [`Conn::finish`] after every operation; nothing else here runs on a
//! request's path.

use std::sync::atomic::Ordering;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{lock, Conn};
use crate::error::Result;
use crate::store::sqlite::checkpoint::Checkpointer;

/// How long a WAL reset that another connection's reader prevented waits before the next try.
const RESET_RETRY: Duration = Duration::from_secs(10);

impl Conn {
    /// Asks for a checkpoint once enough rows changed since the last one, and has the WAL
    /// started over once it grew too long.
    pub(super) fn finish<T>(&self, result: Result<T>, conn: &Option<Connection>) -> Result<T> {
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

#[cfg(test)]
mod tests {
    use super::super::BUSY_TIMEOUT;
    use super::*;
    use crate::error::Error;
    use crate::store::sqlite::checkpoint::Policy;
    use crate::store::sqlite::url::Location;

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
