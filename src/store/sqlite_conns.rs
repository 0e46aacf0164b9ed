//! The SQLite connections: one writer and a few readers, each held open for the store's life.
//!
//! SQLite lets one connection write at a time, so writes share a single connection: they wait
//! their turn on its lock (asynchronously, in order) instead of contending for the file lock
//! and sleeping in `busy_timeout`. Reads use their own connections beside it (WAL lets them run
//! while a write is under way).
//!
//! This is not sqlx's `Pool` on purpose. A pool pings every connection it takes back, and for
//! SQLite a ping is a round trip to the connection's worker thread that checks nothing (a local
//! file handle cannot go stale); on the turn path that doubled the thread switches per query.
//! A connection here is simply locked, used and unlocked. A query future dropped half way is
//! safe: the worker thread finishes (and resets) the statement on its own, and a dropped
//! transaction queues its rollback on the connection, ahead of the next user's commands.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::Connection;
use tokio::sync::{Mutex, MutexGuard};

use crate::error::{Error, Result};

type Slot = Arc<Mutex<Option<SqliteConnection>>>;

/// Cheap to clone; every clone shares the same connections.
#[derive(Debug, Clone)]
pub(super) struct Conns {
    write: Slot,
    read: Arc<[Slot]>,
    next_read: Arc<AtomicUsize>,
}

/// A connection lent for one operation; derefs to the connection.
pub(super) struct Lent<'a>(MutexGuard<'a, Option<SqliteConnection>>);

impl Lent<'_> {
    /// The connection, or `PoolClosed` once the store is closed.
    pub fn conn(&mut self) -> Result<&mut SqliteConnection> {
        self.0.as_mut().ok_or(Error::Db(sqlx::Error::PoolClosed))
    }
}

impl Conns {
    /// Opens the writer, then `readers` readers (at least one). With `shared` (an in-memory
    /// database, which lives only as long as its one connection) reads use the writer too.
    pub async fn open(options: &SqliteConnectOptions, readers: u32, shared: bool) -> Result<Self> {
        // The writer first: it creates the file and switches it to WAL before readers open it.
        let write: Slot = Arc::new(Mutex::new(Some(
            SqliteConnection::connect_with(options).await?,
        )));
        let read: Arc<[Slot]> = if shared {
            Arc::new([write.clone()])
        } else {
            let mut read = Vec::new();
            for _ in 0..readers.max(1) {
                let conn = SqliteConnection::connect_with(options).await?;
                read.push(Arc::new(Mutex::new(Some(conn))));
            }
            read.into()
        };
        Ok(Conns {
            write,
            read,
            next_read: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The writer, once the writes queued before this call are done.
    pub async fn write(&self) -> Lent<'_> {
        Lent(self.write.lock().await)
    }

    /// A free reader, else the next one in turn once it is free.
    pub async fn read(&self) -> Lent<'_> {
        let n = self.read.len();
        let start = self.next_read.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(guard) = self.read[(start + i) % n].try_lock() {
                return Lent(guard);
            }
        }
        Lent(self.read[start % n].lock().await)
    }

    /// Closes every connection once its current user is done; later operations fail with
    /// `PoolClosed`.
    pub async fn close(&self) {
        for slot in std::iter::once(&self.write).chain(self.read.iter()) {
            if let Some(conn) = slot.lock().await.take() {
                let _ = conn.close().await;
            }
        }
    }
}
