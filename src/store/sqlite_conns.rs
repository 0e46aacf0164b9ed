//! The SQLite connection: one, held open for the store's life, for reads and writes alike,
//! with message appends committed in groups.
//!
//! SQLite lets one connection write at a time, so operations take turns on this connection's
//! lock (asynchronously, in order) instead of contending for the file lock and sleeping in
//! `busy_timeout`. One connection also keeps its page cache valid: with separate reader
//! connections every write made each reader reload the pages it touched (the REST turn rate
//! fell by 14%, and under the WebSocket chat load the p99 time to first delta was 2.8× longer;
//! BENCHMARKS.md). Operations here are microseconds, so waiting for the lock costs less than
//! that.
//!
//! Message appends, two per turn, are most of the writes. Each commit writes every page it
//! touched to the WAL, and the pages of a message append (the table, its indexes, the
//! conversation row) are the same hot pages from one append to the next; so appends that
//! arrive while the connection is busy are queued and committed together, in one
//! transaction, by a task of their own (a caller that goes away cannot cut a group short).
//! One append alone is one statement, with no transaction around it.
//!
//! This is not sqlx's `Pool` on purpose either. A pool pings every connection it takes back,
//! and for SQLite a ping is a round trip to the connection's worker thread that checks nothing
//! (a local file handle cannot go stale). A query future dropped half way is safe: the worker
//! thread finishes (and resets) the statement on its own, and a dropped transaction queues its
//! rollback on the connection, ahead of the next user's commands.

use std::sync::{Arc, Weak};

use chrono::{DateTime, Utc};
use sqlx::error::ErrorKind;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::Connection;
use tokio::sync::{oneshot, Mutex, MutexGuard, Notify};

use crate::error::{Error, Result};
use crate::model::{Message, NewMessage, UserId};

/// Cheap to clone; every clone shares the connection.
#[derive(Debug, Clone)]
pub(super) struct Conn(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    conn: Mutex<Option<SqliteConnection>>,
    appends: std::sync::Mutex<Vec<Append>>,
    /// Wakes the group-commit task: appends are queued, or the store is gone.
    wake: Arc<Notify>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.wake.notify_one();
    }
}

#[derive(Debug)]
struct Append {
    user: UserId,
    msg: NewMessage,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Result<Message>>,
}

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
        let shared = Arc::new(Shared {
            conn: Mutex::new(Some(conn)),
            appends: Default::default(),
            wake: Arc::new(Notify::new()),
        });
        tokio::spawn(group_commit(Arc::downgrade(&shared), shared.wake.clone()));
        Ok(Conn(shared))
    }

    /// The connection, once the operations queued before this call are done.
    pub async fn lend(&self) -> Lent<'_> {
        Lent(self.0.conn.lock().await)
    }

    /// Appends a message (see `sqlite::append_message`), committed with the appends queued
    /// beside it.
    pub async fn append(
        &self,
        user: &UserId,
        msg: &NewMessage,
        now: DateTime<Utc>,
    ) -> Result<Message> {
        let (reply, answer) = oneshot::channel();
        self.0.appends.lock().expect("append queue").push(Append {
            user: user.clone(),
            msg: msg.clone(),
            now,
            reply,
        });
        self.0.wake.notify_one();
        answer
            .await
            .unwrap_or(Err(Error::Db(sqlx::Error::PoolClosed)))
    }

    /// Closes the connection once its current user is done; later operations fail with
    /// `PoolClosed`.
    pub async fn close(&self) {
        if let Some(conn) = self.0.conn.lock().await.take() {
            let _ = conn.close().await;
        }
    }
}

/// Commits queued appends, as many at a time as have queued, until the store is dropped.
async fn group_commit(shared: Weak<Shared>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        loop {
            // Take the lock first: everything queued while waiting for it joins this group.
            let mut lent = shared.conn.lock().await;
            let group = std::mem::take(&mut *shared.appends.lock().expect("append queue"));
            if group.is_empty() {
                break;
            }
            match lent.as_mut() {
                Some(conn) => commit(conn, group).await,
                None => {
                    for a in group {
                        let _ = a.reply.send(Err(Error::Db(sqlx::Error::PoolClosed)));
                    }
                }
            }
        }
    }
}

/// Runs a group of appends and answers each. A constraint that fails one append (its message
/// id taken, say) fails only that append, as SQLite undoes only that statement; any other
/// failure rolls the whole group back and fails every append in it.
async fn commit(conn: &mut SqliteConnection, group: Vec<Append>) {
    if let [one] = group.as_slice() {
        let result = super::sqlite::append_message(conn, &one.user, &one.msg, one.now).await;
        let one = group.into_iter().next().expect("one append");
        let _ = one.reply.send(result);
        return;
    }
    let mut results = Vec::with_capacity(group.len());
    let committed: Result<()> = async {
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        for a in &group {
            match super::sqlite::append_message(&mut tx, &a.user, &a.msg, a.now).await {
                Err(Error::Db(sqlx::Error::Database(e))) if statement_only(e.kind()) => {
                    results.push(Err(Error::Db(sqlx::Error::Database(e))))
                }
                Err(e @ (Error::Db(_) | Error::Internal(_))) => return Err(e),
                other => results.push(other),
            }
        }
        tx.commit().await?;
        Ok(())
    }
    .await;
    match committed {
        Ok(()) => {
            for (a, result) in group.into_iter().zip(results) {
                let _ = a.reply.send(result);
            }
        }
        Err(e) => {
            e.log_if_internal();
            for a in group {
                let _ = a.reply.send(Err(Error::Internal(
                    "a group of message appends failed".into(),
                )));
            }
        }
    }
}

/// Failures SQLite confines to the statement that hit them, leaving the transaction open.
fn statement_only(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::UniqueViolation
            | ErrorKind::ForeignKeyViolation
            | ErrorKind::NotNullViolation
            | ErrorKind::CheckViolation
    )
}
