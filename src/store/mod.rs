//! The persistence layer: one concrete [`Store`] over SQLite or PostgreSQL.
//!
//! This module owns the public store API, URL dispatch, input validation and the helpers both
//! backends share. Each backend's SQL lives in its own folder, `sqlite/` and `postgres/`, a file
//! for each concern in both; nothing outside this module writes SQL. Every user-data query filters by `user_id` in SQL, so another
//! user's row is indistinguishable from a missing one. This module must not know about HTTP,
//! WebSockets or the agent.

mod answers;
mod cursor;
mod items;
mod postgres;
mod queue;
pub mod relay_db;
mod sqlite;

pub use answers::{Interrupted, PartialAnswer, SentTurn, Stale, TurnStart};
pub use queue::{NewQueued, Queued};

use std::borrow::Cow;

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::PgPool;

use crate::error::{Error, Result};
use crate::model::{
    Conversation, Message, MessageStatus, NewMessage, NewTask, Page, PageRequest, Priority, Role,
    Task, TaskFilter, TaskPatch, ThreadId, UserId,
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
    /// Frees the thread if this instance holds it, whether or not the message could be written.
    Free(uuid::Uuid),
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
            Backend::Sqlite(conn) => conn.run(|c| sqlite::$f(c, $($arg),*)).await,
            Backend::Postgres(pool) => postgres::$f(pool, $($arg),*).await,
        }
    };
}

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

    /// Creates an empty conversation owned by `user`. The title is trimmed; a blank one means
    /// "untitled" (`None`), one over [`MAX_TITLE_CHARS`] is `Error::Invalid`.
    pub async fn create_conversation(
        &self,
        user: &UserId,
        title: Option<&str>,
        metadata: &serde_json::Value,
    ) -> Result<Conversation> {
        let conversation = new_conversation(ThreadId::new(), user, title, metadata, now())?;
        dispatch!(self.create_conversation(&conversation))?;
        Ok(conversation)
    }

    /// Creates a conversation with its first message in one write, so that no crash leaves a
    /// conversation without the message that started it (nor that message without its
    /// details). The conversation takes `first.conversation_id` as its id; title and metadata
    /// are as for [`Store::create_conversation`], the message as for
    /// [`Store::append_message`] (its `seq` is 1).
    pub async fn start_conversation(
        &self,
        user: &UserId,
        title: Option<&str>,
        metadata: &serde_json::Value,
        first: &NewMessage,
    ) -> Result<(Conversation, Message)> {
        self.start_conversation_claiming(user, title, metadata, first, ClaimStep::None)
            .await
    }

    /// [`Store::start_conversation`] for a turn, taking the new thread's claim in the same
    /// write (`ClaimStep::Take`; `Free` is refused).
    pub async fn start_conversation_claiming(
        &self,
        user: &UserId,
        title: Option<&str>,
        metadata: &serde_json::Value,
        first: &NewMessage,
        claim: ClaimStep,
    ) -> Result<(Conversation, Message)> {
        appendable(first)?;
        let start = TurnStart {
            question: first,
            answer: None,
            client_message_id: None,
            claim,
        };
        let (conversation, message, _) = self.start_new(user, title, metadata, &start).await?;
        Ok((conversation, message))
    }

    /// The conversation, or `None` when it is missing or owned by someone else.
    pub async fn get_conversation(
        &self,
        user: &UserId,
        id: ThreadId,
    ) -> Result<Option<Conversation>> {
        dispatch!(self.get_conversation(user, id))
    }

    /// The user's conversations, newest first by `(updated_at, id)`.
    pub async fn list_conversations(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<Conversation>> {
        let after = page
            .after
            .as_deref()
            .map(cursor::decode_conversation)
            .transpose()?;
        let limit = cursor::clamp_limit(page.limit);
        let rows = dispatch!(self.list_conversations(user, after, limit + 1))?;
        Ok(cursor::page(rows, limit, cursor::encode_conversation))
    }

    /// Sets the title (validated) and bumps `updated_at`; `None` when missing or not owned.
    pub async fn rename_conversation(
        &self,
        user: &UserId,
        id: ThreadId,
        title: &str,
    ) -> Result<Option<Conversation>> {
        let title = valid_title(title)?;
        dispatch!(self.rename_conversation(user, id, &title, now()))
    }

    /// Deletes the conversation and (by foreign-key cascade) its messages.
    /// `false` when it is missing or not owned.
    pub async fn delete_conversation(&self, user: &UserId, id: ThreadId) -> Result<bool> {
        dispatch!(self.delete_conversation(user, id))
    }

    /// Appends a message in one transaction: checks ownership, bumps the conversation's
    /// `updated_at`, allocates the next `seq` (1, 2, 3, …), inserts the row and stores its
    /// `details`, if any. `Error::NotFound("conversation")` when missing or not owned; a
    /// failure writes nothing. `InProgress` belongs to a turn's answer, written only by
    /// [`Store::start_turn`] (and [`Store::start_answer`]); here it is refused with
    /// `Error::Internal`.
    pub async fn append_message(&self, user: &UserId, msg: &NewMessage) -> Result<Message> {
        self.append_message_claiming(user, msg, ClaimStep::None)
            .await
    }

    /// [`Store::append_message`] for a turn: its first write takes the thread's claim, its
    /// last frees it (see [`ClaimStep`]).
    pub async fn append_message_claiming(
        &self,
        user: &UserId,
        msg: &NewMessage,
        claim: ClaimStep,
    ) -> Result<Message> {
        appendable(msg)?;
        let start = TurnStart {
            question: msg,
            answer: None,
            client_message_id: None,
            claim,
        };
        let (message, _) = self.start(user, &start).await?;
        Ok(message)
    }

    /// A conversation's messages, oldest first (`seq` ascending). Empty when the conversation
    /// is missing or not owned.
    pub async fn list_messages(
        &self,
        user: &UserId,
        id: ThreadId,
        page: &PageRequest,
    ) -> Result<Page<Message>> {
        let after = page
            .after
            .as_deref()
            .map(cursor::decode_number)
            .transpose()?
            .unwrap_or(0);
        let limit = cursor::clamp_limit(page.limit);
        let rows = dispatch!(self.list_messages(user, id, after, limit + 1))?;
        Ok(cursor::page(rows, limit, |m: &Message| {
            cursor::encode_number(m.seq)
        }))
    }

    /// The last `limit` messages of a conversation in chronological order (oldest first).
    /// Empty when the conversation is missing or not owned.
    pub async fn recent_messages(
        &self,
        user: &UserId,
        id: ThreadId,
        limit: u32,
    ) -> Result<Vec<Message>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        dispatch!(self.recent_messages(user, id, i64::from(limit)))
    }

    /// Adds a task with the user's next number (1, 2, 3, …). Numbers are allocated atomically,
    /// never collide under concurrency and are never reused, even after a delete.
    pub async fn add_task(&self, user: &UserId, task: &NewTask) -> Result<Task> {
        let title = valid_title(&task.title)?;
        dispatch!(self.add_task(user, &title, task, now()))
    }

    /// The user's task with this number, or `None`.
    pub async fn get_task(&self, user: &UserId, number: i64) -> Result<Option<Task>> {
        dispatch!(self.get_task(user, number))
    }

    /// Tasks whose title contains `query` (trimmed, case-insensitive), pending first, then by
    /// number; at most [`FIND_TASKS_LIMIT`]. An empty query matches every task.
    /// SQLite folds ASCII letters only; PostgreSQL folds per the database's locale.
    pub async fn find_tasks(&self, user: &UserId, query: &str) -> Result<Vec<Task>> {
        dispatch!(self.find_tasks(user, query.trim()))
    }

    /// The user's tasks matching `filter`, by number ascending.
    pub async fn list_tasks(
        &self,
        user: &UserId,
        filter: TaskFilter,
        page: &PageRequest,
    ) -> Result<Page<Task>> {
        let after = page
            .after
            .as_deref()
            .map(cursor::decode_number)
            .transpose()?
            .unwrap_or(0);
        let limit = cursor::clamp_limit(page.limit);
        let rows = dispatch!(self.list_tasks(user, filter, after, limit + 1))?;
        Ok(cursor::page(rows, limit, |t: &Task| {
            cursor::encode_number(t.number)
        }))
    }

    /// Applies the patch's `Some` fields (a new title is validated) and bumps `updated_at`,
    /// even for an empty patch. `None` when the task is missing.
    pub async fn update_task(
        &self,
        user: &UserId,
        number: i64,
        patch: &TaskPatch,
    ) -> Result<Option<Task>> {
        let title = patch.title.as_deref().map(valid_title).transpose()?;
        dispatch!(self.update_task(user, number, title.as_deref(), patch, now()))
    }

    /// Deletes the task and returns it as it was; `None` when missing. Its number stays used.
    pub async fn delete_task(&self, user: &UserId, number: i64) -> Result<Option<Task>> {
        dispatch!(self.delete_task(user, number))
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
