//! The SQLite connection: one, held open for the store's life, for reads and writes alike.
//!
//! SQLite lets one connection write at a time, so operations take turns on this connection's
//! lock (asynchronously, in order) instead of contending for the file lock and sleeping in
//! `busy_timeout`. One connection also keeps its page cache valid: with separate reader
//! connections every write made each reader reload the pages it touched (the REST turn rate
//! fell by 15%, and under the WebSocket chat load the p99 time to first delta was 3× longer;
//! BENCHMARKS.md). Operations here are microseconds, so waiting for the lock costs less than
//! that.
//!
//! This is not sqlx's `Pool` on purpose either. A pool pings every connection it takes back,
//! and for SQLite a ping is a round trip to the connection's worker thread that checks nothing
//! (a local file handle cannot go stale). A query future dropped half way is safe: the worker
//! thread finishes (and resets) the statement on its own, and a dropped transaction queues its
//! rollback on the connection, ahead of the next user's commands.

use std::sync::Arc;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::Connection;
use tokio::sync::{Mutex, MutexGuard};

use crate::error::{Error, Result};

/// Cheap to clone; every clone shares the connection.
#[derive(Debug, Clone)]
pub(super) struct Conn(Arc<Mutex<Option<SqliteConnection>>>);

/// The connection lent for one operation.
pub(super) struct Lent<'a>(MutexGuard<'a, Option<SqliteConnection>>);

impl Lent<'_> {
    /// The connection, or `PoolClosed` once the store is closed.
    pub fn conn(&mut self) -> Result<&mut SqliteConnection> {
        self.0.as_mut().ok_or(Error::Db(sqlx::Error::PoolClosed))
    }
}

impl Conn {
    pub async fn open(options: &SqliteConnectOptions) -> Result<Self> {
        let conn = SqliteConnection::connect_with(options).await?;
        Ok(Conn(Arc::new(Mutex::new(Some(conn)))))
    }

    /// The connection, once the operations queued before this call are done.
    pub async fn lend(&self) -> Lent<'_> {
        Lent(self.0.lock().await)
    }

    /// Closes the connection once its current user is done; later operations fail with
    /// `PoolClosed`.
    pub async fn close(&self) {
        if let Some(conn) = self.0.lock().await.take() {
            let _ = conn.close().await;
        }
    }
}
