//! Message appends committed in groups on the store's one SQLite connection (`sqlite_conn`).
//!
//! Message appends, two per turn, are most of the writes, and each commit writes every page
//! it touched to the WAL: the message table, its indexes and the conversation row, the same
//! hot pages from one append to the next. So appends are committed in groups: the first
//! append to arrive spawns a committer task that yields once, letting every task already
//! runnable queue its append too, then commits all of them in one transaction. The committer
//! is a task of its own so that a caller that goes away cannot cut a group short, and it runs
//! on the runtime's threads, so a group costs one task wake-up, not a thread switch.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, ErrorCode, TransactionBehavior};
use tokio::sync::oneshot;

use super::sqlite_conn::{lock, Conn};
use crate::error::{Error, Result};
use crate::model::{Conversation, Message, NewMessage, UserId};

/// Appends waiting for the committer, and whether one is scheduled.
#[derive(Debug, Default)]
pub(super) struct Appends {
    queued: Vec<Append>,
    committer: bool,
}

#[derive(Debug)]
struct Append {
    user: UserId,
    /// A conversation to create first, for its first message.
    create: Option<Conversation>,
    msg: NewMessage,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Result<Message>>,
}

impl Append {
    /// Writes the append on `conn`, which must be in a transaction unless the append is one
    /// statement ([`Append::one_statement`]).
    fn write(&self, conn: &Connection) -> Result<Message> {
        if let Some(c) = &self.create {
            super::sqlite::create_conversation(conn, c)?;
        }
        super::sqlite::append_message(conn, &self.user, &self.msg, self.now)
    }

    fn one_statement(&self) -> bool {
        self.create.is_none() && self.msg.details.is_none()
    }
}

impl Conn {
    /// Appends a message (see `sqlite::append_message`), committed together with the appends
    /// queued beside it.
    pub async fn append(
        &self,
        user: &UserId,
        msg: &NewMessage,
        now: DateTime<Utc>,
    ) -> Result<Message> {
        self.queue(user, None, msg, now).await
    }

    /// Creates `conversation` and appends its first message, in one write committed with the
    /// appends queued beside it.
    pub async fn append_new(
        &self,
        user: &UserId,
        conversation: Conversation,
        msg: &NewMessage,
        now: DateTime<Utc>,
    ) -> Result<Message> {
        self.queue(user, Some(conversation), msg, now).await
    }

    async fn queue(
        &self,
        user: &UserId,
        create: Option<Conversation>,
        msg: &NewMessage,
        now: DateTime<Utc>,
    ) -> Result<Message> {
        let (reply, answer) = oneshot::channel();
        let append = Append {
            user: user.clone(),
            create,
            msg: msg.clone(),
            now,
            reply,
        };
        let start = {
            let mut appends = lock(self.appends());
            appends.queued.push(append);
            !std::mem::replace(&mut appends.committer, true)
        };
        if start {
            tokio::spawn(commit_queued(self.clone()));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(Error::Internal("a message append was dropped".into())))
    }
}

/// Commits queued appends, a group at a time, until none is left.
async fn commit_queued(conn: Conn) {
    // One round of the scheduler: the tasks already runnable queue their appends first.
    tokio::task::yield_now().await;
    loop {
        let group = {
            let mut appends = lock(conn.appends());
            if appends.queued.is_empty() {
                appends.committer = false;
                return;
            }
            std::mem::take(&mut appends.queued)
        };
        commit(&conn, group).await;
    }
}

/// Runs a group of appends and answers each. A failure SQLite confines to its statement (a
/// constraint: the message id taken, say) or a missing conversation fails only that append,
/// and undoes all of it (an append of several statements runs in a savepoint); any other
/// failure rolls the whole group back and fails every append in it.
async fn commit(conn: &Conn, group: Vec<Append>) {
    if let [one] = group.as_slice() {
        if one.one_statement() {
            let result = conn.run(|c| one.write(c)).await;
            if let Some(one) = group.into_iter().next() {
                let _ = one.reply.send(result);
            }
            return;
        }
    }
    let results = conn
        .run(|c| {
            let mut tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut results = Vec::with_capacity(group.len());
            for a in &group {
                let result = if a.one_statement() {
                    a.write(&tx)
                } else {
                    // Dropped without a commit, a savepoint rolls back.
                    let savepoint = tx.savepoint()?;
                    a.write(&savepoint).and_then(|m| {
                        savepoint.commit()?;
                        Ok(m)
                    })
                };
                match result {
                    Err(e) if !statement_only(&e) => return Err(e),
                    result => results.push(result),
                }
            }
            tx.commit()?;
            Ok(results)
        })
        .await;
    match results {
        Ok(results) => {
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

/// Failures that leave the transaction open and undo only their own statement.
fn statement_only(e: &Error) -> bool {
    match e {
        Error::NotFound(_) => true,
        Error::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
            f.code == ErrorCode::ConstraintViolation
        }
        _ => false,
    }
}
