//! Message writes committed in groups on the store's one SQLite connection (`sqlite::conn`).
//!
//! A turn's writes are most of the writes: the one that starts it (its user message and its
//! answer), the saves of its answer's text as it streams, and the one that ends it. Each commit
//! writes every page it touched to the WAL: the message table, its indexes and the conversation
//! row, the same hot pages from one write to the next. So these writes are committed in groups:
//! the first to arrive spawns a committer task that yields once, letting every task already
//! runnable queue its write too, then commits all of them in one transaction. The committer
//! is a task of its own so that a caller that goes away cannot cut a group short, and it runs
//! on the runtime's threads, so a group costs one task wake-up, not a thread switch.

use rusqlite::{Connection, ErrorCode};
use tokio::sync::oneshot;

use super::conn::{lock, Conn};
use super::rows::execute;
use crate::error::{Error, Result};

/// Writes waiting for the committer, and whether one is scheduled.
#[derive(Default)]
pub(super) struct Appends {
    queued: Vec<Box<dyn Job>>,
    committer: bool,
}

impl std::fmt::Debug for Appends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appends")
            .field("queued", &self.queued.len())
            .field("committer", &self.committer)
            .finish()
    }
}

/// How a write of a group went.
enum Step {
    Written,
    /// It failed and undid only itself (see [`statement_only`]); the group goes on.
    Refused,
    /// It failed in a way that leaves the transaction unusable: the group is rolled back.
    Broken,
}

/// One queued write, whatever it returns.
trait Job: Send {
    /// Whether the write is one statement (atomic on its own, so it needs no savepoint).
    fn one_statement(&self) -> bool;
    /// Runs the write on `conn`, keeping its outcome for [`Job::answer`].
    fn run(&mut self, conn: &Connection) -> Step;
    /// Sends the kept outcome to the caller.
    fn answer(self: Box<Self>);
    /// Tells the caller its write was rolled back with the group.
    fn fail(self: Box<Self>, why: Error);
}

struct Pending<T, F> {
    op: Option<F>,
    one_statement: bool,
    outcome: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T> + Send + 'static,
{
    fn one_statement(&self) -> bool {
        self.one_statement
    }

    fn run(&mut self, conn: &Connection) -> Step {
        let Some(op) = self.op.take() else {
            return Step::Broken;
        };
        let outcome = op(conn);
        let step = match &outcome {
            Ok(_) => Step::Written,
            Err(e) if statement_only(e) => Step::Refused,
            Err(e) => {
                e.log_if_internal();
                Step::Broken
            }
        };
        self.outcome = Some(outcome);
        step
    }

    fn answer(self: Box<Self>) {
        let outcome = self
            .outcome
            .unwrap_or_else(|| Err(Error::Internal("a grouped write never ran".into())));
        let _ = self.reply.send(outcome);
    }

    fn fail(self: Box<Self>, why: Error) {
        let _ = self.reply.send(Err(why));
    }
}

impl Conn {
    /// Runs `write` on the connection, committed together with the writes queued beside it.
    /// `one_statement` says whether it is a single statement; one of several statements runs
    /// in a savepoint, so that a failure undoes all of it and nothing of the others.
    ///
    /// A failure SQLite confines to its statement (a constraint) or a row not found fails only
    /// this write; any other failure rolls back the whole group and fails every write in it.
    pub(in crate::store) async fn grouped<T, F>(&self, one_statement: bool, write: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            op: Some(write),
            one_statement,
            outcome: None,
            reply,
        });
        let start = {
            let mut appends = lock(self.appends());
            appends.queued.push(job);
            !std::mem::replace(&mut appends.committer, true)
        };
        if start {
            tokio::spawn(commit_queued(self.clone()));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(Error::Internal("a grouped write was dropped".into())))
    }
}

/// Commits queued writes, a group at a time, until none is left.
async fn commit_queued(conn: Conn) {
    // One round of the scheduler: the tasks already runnable queue their writes first.
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

/// Runs a group of writes and answers each.
async fn commit(conn: &Conn, mut group: Vec<Box<dyn Job>>) {
    if group.len() == 1 && group[0].one_statement() {
        let ran = conn
            .run(|c| {
                group[0].run(c);
                Ok(())
            })
            .await;
        for job in group {
            match &ran {
                Ok(()) => job.answer(),
                Err(e) => job.fail(failure(e, "the database is closed")),
            }
        }
        return;
    }
    let committed = conn
        .run(|c| {
            let tx = Cached::begin(c)?;
            for job in group.iter_mut() {
                let step = if job.one_statement() {
                    job.run(c)
                } else {
                    // Dropped without a release, a savepoint rolls back.
                    let savepoint = Cached::savepoint(c)?;
                    let step = job.run(c);
                    if matches!(step, Step::Written) {
                        savepoint.end()?;
                    }
                    step
                };
                if matches!(step, Step::Broken) {
                    return Err(Error::Internal("a grouped write failed".into()));
                }
            }
            tx.end()?;
            Ok(())
        })
        .await;
    match committed {
        Ok(()) => group.into_iter().for_each(|job| job.answer()),
        Err(e) => {
            e.log_if_internal();
            for job in group {
                job.fail(failure(&e, "a group of message writes failed"));
            }
        }
    }
}

/// A transaction or savepoint begun, ended and undone through the connection's statement
/// cache. rusqlite's `Transaction` and `Savepoint` run their `BEGIN`, `SAVEPOINT`, `RELEASE`
/// and `COMMIT` through `execute_batch`, which parses them anew each time: for a group of a
/// turn's writes that parsing cost about a tenth of the group's work. Dropped without being
/// ended, it rolls back, as rusqlite's do (also when a write panics).
struct Cached<'c> {
    conn: &'c Connection,
    end: &'static str,
    undo: &'static [&'static str],
    ended: bool,
}

impl<'c> Cached<'c> {
    fn begin(conn: &'c Connection) -> Result<Self> {
        Self::start(conn, "BEGIN IMMEDIATE", "COMMIT", &["ROLLBACK"])
    }

    fn savepoint(conn: &'c Connection) -> Result<Self> {
        // Rolled back to, then released: undone and gone, as rusqlite's `Savepoint` does.
        Self::start(
            conn,
            "SAVEPOINT grouped_write",
            "RELEASE grouped_write",
            &["ROLLBACK TO grouped_write", "RELEASE grouped_write"],
        )
    }

    fn start(
        conn: &'c Connection,
        sql: &str,
        end: &'static str,
        undo: &'static [&'static str],
    ) -> Result<Self> {
        execute(conn, sql, [])?;
        Ok(Cached {
            conn,
            end,
            undo,
            ended: false,
        })
    }

    /// Commits the transaction, or releases the savepoint.
    fn end(mut self) -> Result<()> {
        execute(self.conn, self.end, [])?;
        self.ended = true;
        Ok(())
    }
}

impl Drop for Cached<'_> {
    fn drop(&mut self) {
        if !self.ended {
            for sql in self.undo {
                if let Err(e) = execute(self.conn, sql, []) {
                    tracing::warn!(error = %e, sql, "could not undo a group of writes");
                }
            }
        }
    }
}

/// What each write of a failed group is told: that the database is unavailable when it is (the
/// client may retry), else an internal error, `what`.
fn failure(e: &Error, what: &str) -> Error {
    match e {
        Error::DatabaseUnavailable(why) => Error::DatabaseUnavailable(why.clone()),
        _ => Error::Internal(what.into()),
    }
}

/// Failures that leave the transaction open and undo only their own statement.
fn statement_only(e: &Error) -> bool {
    match e {
        Error::NotFound(_) | Error::DuplicateSend | Error::QueueFull => true,
        Error::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
            f.code == ErrorCode::ConstraintViolation
        }
        _ => false,
    }
}
