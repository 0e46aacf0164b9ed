//! The persistence layer: one concrete [`Store`] over SQLite or PostgreSQL.
//!
//! This module owns the store handle, URL dispatch, input validation and the helpers both
//! backends share; the store's operations sit beside it by subject (`conversations`, `tasks`,
//! `answers`, `items`, `queue`). Each backend's SQL lives in its own folder, `sqlite/` and
//! `postgres/`; nothing outside this module writes SQL. Every user-data query filters by
//! `user_id` in SQL, so another user's row is indistinguishable from a missing one. This module
//! must not know about HTTP, WebSockets or the agent.

mod answers;
mod conversations;
mod cursor;
mod items;
mod postgres;
mod queue;
pub mod relay_db;
mod sqlite;
mod tasks;

pub use answers::{Interrupted, PartialAnswer, SentTurn, Stale, TurnStart};
pub use queue::{NewQueued, Queued};

use std::borrow::Cow;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::PgPool;

use crate::error::{Error, Result};
use crate::model::{
    Conversation, Message, MessageStatus, NewMessage, NewTask, Priority, Role, Task, ThreadId,
    UserId,
};

/// What a turn's message write also does to its thread's claim among the instances sharing a
/// PostgreSQL database (`relay_db`): the write that starts a turn takes the claim and the one
/// that ends it frees it, so neither costs a statement of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimStep {
    /// Nothing: one instance (and always on SQLite, which serves one).
    None,
    /// Takes the thread for this instance. `Error::ThreadBusy`, with nothing written, when a
    /// live instance holds it; a claim left by one that stopped refreshing it is taken over.
    Take(uuid::Uuid),
    /// Releases the thread if this instance holds it, whether or not the message could be
    /// written.
    Release(uuid::Uuid),
}

/// How long an operation waits for the database unless told otherwise
/// (`DATABASE_TIMEOUT_SECS`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest task or conversation title accepted, in characters (after trimming).
pub const MAX_TITLE_CHARS: usize = 500;

/// Most rows `find_tasks` returns.
pub const FIND_TASKS_LIMIT: i64 = 20;

/// A handle to the database; cheap to clone (it wraps SQLite's one connection or a PostgreSQL
/// pool), with the time after which a running turn's claim that was not refreshed belongs to
/// a dead instance ([`Store::with_claim_lapse`]).
#[derive(Debug, Clone)]
pub struct Store(Backend, ClaimLapse);

/// How long a claim in `running_turns` stays valid without a refresh, in seconds.
#[derive(Debug, Clone, Copy)]
struct ClaimLapse(f64);

impl Default for ClaimLapse {
    fn default() -> Self {
        ClaimLapse(relay_db::DEFAULT_LAPSE_SECS as f64)
    }
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(sqlite::conn::Conn),
    Postgres(PgPool),
}

/// Calls the backend's function of the same name, with SQLite's connection or a PostgreSQL
/// pool.
macro_rules! dispatch {
    ($self:ident . $f:ident ( $($arg:expr),* )) => {
        match &$self.0 {
            $crate::store::Backend::Sqlite(conn) => {
                conn.run(|c| $crate::store::sqlite::$f(c, $($arg),*)).await
            }
            $crate::store::Backend::Postgres(pool) => {
                $crate::store::postgres::$f(pool, $($arg),*).await
            }
        }
    };
}
use dispatch;

impl Store {
    /// Opens the database: for PostgreSQL a pool of at most `pool_size` connections (at least
    /// 1); for SQLite one connection, whatever `pool_size` (see `sqlite::conn`).
    ///
    /// `sqlite://path.db` creates the file if missing (`?mode=rw` requires it to exist; WAL
    /// journal, foreign keys on, synchronous NORMAL); `sqlite::memory:` is a private in-memory
    /// database.
    /// `postgres://…` and `postgresql://…` connect to PostgreSQL. Any other scheme is
    /// `Error::Invalid` naming the scheme (never the whole URL, which may hold a password).
    ///
    /// Operations wait at most [`DEFAULT_TIMEOUT`] for the database; see
    /// [`Store::connect_timeout`].
    pub async fn connect(url: &str, pool_size: u32) -> Result<Store> {
        Self::connect_timeout(url, pool_size, DEFAULT_TIMEOUT).await
    }

    /// [`Store::connect`], with each operation waiting at most `timeout` for the database: for
    /// a pooled connection or SQLite's, for a lock another process holds on a SQLite file, and
    /// for one PostgreSQL statement. Past it the operation fails with
    /// `Error::DatabaseUnavailable`, as does the connection itself when the server cannot be
    /// reached: refused, unknown host, no answer within `timeout`, with a message naming
    /// `host:port` and the cause (never the password).
    pub async fn connect_timeout(url: &str, pool_size: u32, timeout: Duration) -> Result<Store> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or_default();
        let pool_size = pool_size.max(1);
        let lapse = ClaimLapse::default();
        match scheme {
            "sqlite" => Ok(Store(
                Backend::Sqlite(sqlite::connect(url, timeout)?),
                lapse,
            )),
            "postgres" | "postgresql" => Ok(Store(
                Backend::Postgres(postgres::connect(url, pool_size, timeout).await?),
                lapse,
            )),
            "" => Err(Error::invalid(
                "database URL has no scheme; expected sqlite:, postgres: or postgresql:",
            )),
            other => Err(Error::Invalid(format!(
                "unsupported database URL scheme `{other}`; expected sqlite, postgres or postgresql"
            ))),
        }
    }

    /// Applies the embedded migrations not yet recorded in `_sqlx_migrations`; a no-op when
    /// the schema is current. Fails if an applied migration's SQL has changed.
    pub async fn migrate(&self) -> Result<()> {
        dispatch!(self.migrate())
    }

    /// Checks the database answers (`SELECT 1`).
    pub async fn ping(&self) -> Result<()> {
        dispatch!(self.ping())
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.0 {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// This store, with claims on threads (`running_turns`) that their instance has not
    /// refreshed for `lapse` taken for an instance that died: the thread may be taken over and
    /// its answer in progress is interrupted ([`Store::interrupt_answers`]). The default is a
    /// minute; at least a second.
    pub fn with_claim_lapse(mut self, lapse: std::time::Duration) -> Store {
        self.1 = ClaimLapse(lapse.as_secs_f64().max(1.0));
        self
    }

    /// The claim lapse in force (see [`Store::with_claim_lapse`]).
    pub fn claim_lapse(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.1 .0)
    }

    /// The event relay's handle, for PostgreSQL (SQLite serves one instance).
    pub fn relay_db(&self) -> Option<relay_db::RelayDb> {
        match &self.0 {
            Backend::Sqlite(_) => None,
            Backend::Postgres(pool) => Some(relay_db::RelayDb(pool.clone(), self.1 .0)),
        }
    }

    /// Closes the database, waiting for operations under way to finish. Every clone is closed.
    pub async fn close(&self) {
        match &self.0 {
            Backend::Sqlite(conn) => conn.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

/// A claim step this backend or write cannot take.
pub(super) fn unclaimable(claim: ClaimStep) -> Error {
    Error::Internal(format!("{claim:?} is not a step this write can take"))
}

/// Refuses a message only a turn's own writes may store.
pub(super) fn appendable(msg: &NewMessage) -> Result<()> {
    if msg.status == MessageStatus::InProgress {
        return Err(Error::Internal(
            "an in-progress message is stored only by the write that starts its turn".into(),
        ));
    }
    Ok(())
}

/// A conversation as `create_conversation` writes it: the title trimmed, a blank one meaning
/// "untitled" (callers derive titles from message text, which may start with a blank line).
pub(super) fn new_conversation(
    id: ThreadId,
    user: &UserId,
    title: Option<&str>,
    metadata: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<Conversation> {
    let title = title.filter(|t| !t.trim().is_empty());
    Ok(Conversation {
        id,
        user_id: user.clone(),
        title: title.map(valid_title).transpose()?,
        created_at: now,
        updated_at: now,
        metadata: metadata.clone(),
    })
}

/// `Utc::now()` truncated to whole microseconds, the precision both backends store, so values
/// read back equal the values written.
pub(super) fn now() -> DateTime<Utc> {
    let micros = Utc::now().timestamp_micros();
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// The trimmed title, or `Error::Invalid` when it is blank or too long.
fn valid_title(title: &str) -> Result<String> {
    let title = title.trim();
    if title.is_empty() {
        return Err(Error::invalid("title must not be empty"));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(Error::Invalid(format!(
            "title must be at most {MAX_TITLE_CHARS} characters"
        )));
    }
    Ok(title.to_string())
}

/// The row `append_message` wrote, without reading it back.
fn appended(msg: &NewMessage, seq: i64, now: DateTime<Utc>) -> Message {
    let in_progress = msg.status == MessageStatus::InProgress;
    Message {
        next_seq: in_progress.then_some(0),
        id: msg.id,
        conversation_id: msg.conversation_id,
        seq,
        role: msg.role,
        content: msg.content.clone(),
        tool_calls: msg.tool_calls.clone(),
        status: msg.status,
        usage: msg.usage,
        created_at: now,
    }
}

/// The row `add_task` wrote, without reading it back.
fn added(number: i64, title: &str, new: &NewTask, now: DateTime<Utc>) -> Task {
    Task {
        number,
        title: title.to_string(),
        priority: new.priority,
        due_date: new.due_date,
        completed: false,
        created_at: now,
        updated_at: now,
    }
}

/// The embedded migrations `(version, name, sql)` of one backend, in order, recorded in
/// `_sqlx_migrations`.
fn migrator(migrations: &[(i64, &'static str, &'static str)]) -> Migrator {
    let migrations = migrations
        .iter()
        .map(|&(version, name, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(name),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// A stored value this code cannot read back: an internal error, never shown to clients.
fn corrupt(column: &str, detail: impl Into<String>) -> Error {
    Error::Internal(format!(
        "stored column `{column}` is unreadable: {}",
        detail.into()
    ))
}

fn parse_role(s: &str) -> Result<Role> {
    Role::parse(s).ok_or_else(|| corrupt("role", format!("unknown role {s:?}")))
}

fn parse_status(s: &str) -> Result<MessageStatus> {
    MessageStatus::parse(s).ok_or_else(|| corrupt("status", format!("unknown status {s:?}")))
}

/// The `next_seq` a message read back shows: its stored count of deltas while it is in
/// progress, nothing once it ended.
fn shown_next_seq(status: MessageStatus, stored: i64) -> Result<Option<u32>> {
    if status != MessageStatus::InProgress {
        return Ok(None);
    }
    u32::try_from(stored)
        .map(Some)
        .map_err(|_| corrupt("next_seq", format!("{stored} is out of range")))
}

fn parse_priority(s: &str) -> Result<Priority> {
    Priority::parse(s).ok_or_else(|| corrupt("priority", format!("unknown priority {s:?}")))
}
