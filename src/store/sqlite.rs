//! The SQLite backend: connection options, migrations and every SQLite query of the store.
//!
//! Storage forms: UUIDs as lowercase hyphenated TEXT, timestamps as INTEGER unix microseconds,
//! JSON as TEXT, dates as TEXT `YYYY-MM-DD`, booleans as INTEGER 0/1. Functions here are called
//! only through `Store`, receive already-validated input and must not validate or build
//! cursors. Every user-data query filters by `user_id`.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteRow, SqliteSynchronous,
};
use sqlx::types::Json;
use sqlx::{Connection, Row};
use uuid::Uuid;

use super::cursor::{self, ConversationKey};
use super::sqlite_conns::Conn;
use super::{
    added, appended, corrupt, migrator, parse_priority, parse_role, parse_status, FIND_TASKS_LIMIT,
};
use crate::error::{Error, Result};
use crate::model::{
    Conversation, Message, MessageId, NewMessage, NewTask, Task, TaskFilter, TaskPatch, ThreadId,
    ToolCall, Usage, UserId,
};

pub(super) const CONVERSATION: &str = "id, user_id, title, created_at, updated_at, metadata";
pub(super) const MESSAGE: &str =
    "id, conversation_id, seq, role, content, tool_calls, status, usage, created_at";
const TASK: &str = "number, title, priority, due_date, completed, created_at, updated_at";

pub(super) async fn connect(url: &str) -> Result<Conn> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
        .synchronous(SqliteSynchronous::Normal);
    Conn::open(&options).await
}

pub(super) async fn migrate(conn: &mut SqliteConnection) -> Result<()> {
    migrator(&[
        (
            1,
            "init",
            include_str!("../../migrations/sqlite/0001_init.sql"),
        ),
        (
            2,
            "chatkit",
            include_str!("../../migrations/sqlite/0002_chatkit.sql"),
        ),
        (
            3,
            "append",
            include_str!("../../migrations/sqlite/0003_append.sql"),
        ),
        (
            4,
            "drop_messages_user",
            include_str!("../../migrations/sqlite/0004_drop_messages_user.sql"),
        ),
    ])
    .run_direct(conn)
    .await
    .map_err(sqlx::Error::from)?;
    Ok(())
}

pub(super) async fn ping(conn: &mut SqliteConnection) -> Result<()> {
    sqlx::query("SELECT 1").execute(&mut *conn).await?;
    Ok(())
}

pub(super) fn ts(row: &SqliteRow, col: &str) -> Result<DateTime<Utc>> {
    cursor::from_micros(row.try_get(col)?).ok_or_else(|| corrupt(col, "timestamp out of range"))
}

pub(super) fn uuid(row: &SqliteRow, col: &str) -> Result<Uuid> {
    Uuid::try_parse(row.try_get(col)?).map_err(|e| corrupt(col, e.to_string()))
}

fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(super) fn conversation(row: &SqliteRow) -> Result<Conversation> {
    Ok(Conversation {
        id: ThreadId(uuid(row, "id")?),
        user_id: UserId(row.try_get("user_id")?),
        title: row.try_get("title")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
        metadata: row.try_get::<Json<Value>, _>("metadata")?.0,
    })
}

pub(super) fn message(row: &SqliteRow) -> Result<Message> {
    Ok(Message {
        id: MessageId(uuid(row, "id")?),
        conversation_id: ThreadId(uuid(row, "conversation_id")?),
        seq: row.try_get("seq")?,
        role: parse_role(row.try_get("role")?)?,
        content: row.try_get("content")?,
        tool_calls: row.try_get::<Json<Vec<ToolCall>>, _>("tool_calls")?.0,
        status: parse_status(row.try_get("status")?)?,
        usage: row.try_get::<Option<Json<Usage>>, _>("usage")?.map(|u| u.0),
        created_at: ts(row, "created_at")?,
    })
}

fn task(row: &SqliteRow) -> Result<Task> {
    let due_date = row
        .try_get::<Option<&str>, _>("due_date")?
        .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d"))
        .transpose()
        .map_err(|e| corrupt("due_date", e.to_string()))?;
    Ok(Task {
        number: row.try_get("number")?,
        title: row.try_get("title")?,
        priority: parse_priority(row.try_get("priority")?)?,
        due_date,
        completed: row.try_get("completed")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

pub(super) async fn create_conversation(
    conn: &mut SqliteConnection,
    c: &Conversation,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO conversations (id, user_id, title, created_at, updated_at, metadata) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(c.id.0.to_string())
    .bind(c.user_id.as_str())
    .bind(c.title.as_deref())
    .bind(c.created_at.timestamp_micros())
    .bind(c.updated_at.timestamp_micros())
    .bind(Json(&c.metadata))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn get_conversation(
    conn: &mut SqliteConnection,
    user: &UserId,
    id: ThreadId,
) -> Result<Option<Conversation>> {
    let sql = format!("SELECT {CONVERSATION} FROM conversations WHERE id = ? AND user_id = ?");
    let row = sqlx::query(&sql)
        .bind(id.0.to_string())
        .bind(user.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(conversation).transpose()
}

pub(super) async fn list_conversations(
    conn: &mut SqliteConnection,
    user: &UserId,
    after: Option<ConversationKey>,
    fetch: i64,
) -> Result<Vec<Conversation>> {
    let keyset = if after.is_some() {
        "AND (updated_at, id) < (?, ?)"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {CONVERSATION} FROM conversations WHERE user_id = ? {keyset} \
         ORDER BY updated_at DESC, id DESC LIMIT ?"
    );
    let mut query = sqlx::query(&sql).bind(user.as_str());
    if let Some(key) = after {
        query = query
            .bind(key.updated_at.timestamp_micros())
            .bind(key.id.to_string());
    }
    let rows = query.bind(fetch).fetch_all(&mut *conn).await?;
    rows.iter().map(conversation).collect()
}

pub(super) async fn rename_conversation(
    conn: &mut SqliteConnection,
    user: &UserId,
    id: ThreadId,
    title: &str,
    now: DateTime<Utc>,
) -> Result<Option<Conversation>> {
    let sql = format!(
        "UPDATE conversations SET title = ?, updated_at = ? WHERE id = ? AND user_id = ? \
         RETURNING {CONVERSATION}"
    );
    let row = sqlx::query(&sql)
        .bind(title)
        .bind(now.timestamp_micros())
        .bind(id.0.to_string())
        .bind(user.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(conversation).transpose()
}

pub(super) async fn delete_conversation(
    conn: &mut SqliteConnection,
    user: &UserId,
    id: ThreadId,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM conversations WHERE id = ? AND user_id = ?")
        .bind(id.0.to_string())
        .bind(user.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn append_message(
    conn: &mut SqliteConnection,
    user: &UserId,
    msg: &NewMessage,
    now: DateTime<Utc>,
) -> Result<Message> {
    // One statement, so one round trip and atomic without a transaction: the row takes the
    // conversation's next seq, and the `messages_advance_conversation` trigger moves the
    // conversation's `last_seq` and `updated_at` to it. No row (another user's or a missing
    // conversation) means nothing is written.
    let seq: Option<i64> = sqlx::query_scalar(
        "INSERT INTO messages (id, conversation_id, user_id, seq, role, content, tool_calls, \
         status, usage, created_at) \
         SELECT ?, id, user_id, last_seq + 1, ?, ?, ?, ?, ?, ? FROM conversations \
         WHERE id = ? AND user_id = ? RETURNING seq",
    )
    .bind(msg.id.0.to_string())
    .bind(msg.role.as_str())
    .bind(&msg.content)
    .bind(Json(&msg.tool_calls))
    .bind(msg.status.as_str())
    .bind(msg.usage.map(Json))
    .bind(now.timestamp_micros())
    .bind(msg.conversation_id.0.to_string())
    .bind(user.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(seq) = seq else {
        return Err(Error::NotFound("conversation"));
    };
    Ok(appended(msg, seq, now))
}

pub(super) async fn list_messages(
    conn: &mut SqliteConnection,
    user: &UserId,
    id: ThreadId,
    after_seq: i64,
    fetch: i64,
) -> Result<Vec<Message>> {
    let sql = format!(
        "SELECT {MESSAGE} FROM messages WHERE conversation_id = ? AND user_id = ? AND seq > ? \
         ORDER BY seq LIMIT ?"
    );
    let rows = sqlx::query(&sql)
        .bind(id.0.to_string())
        .bind(user.as_str())
        .bind(after_seq)
        .bind(fetch)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(message).collect()
}

pub(super) async fn recent_messages(
    conn: &mut SqliteConnection,
    user: &UserId,
    id: ThreadId,
    limit: i64,
) -> Result<Vec<Message>> {
    let sql = format!(
        "SELECT {MESSAGE} FROM (SELECT {MESSAGE} FROM messages \
         WHERE conversation_id = ? AND user_id = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq"
    );
    let rows = sqlx::query(&sql)
        .bind(id.0.to_string())
        .bind(user.as_str())
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(message).collect()
}

pub(super) async fn add_task(
    conn: &mut SqliteConnection,
    user: &UserId,
    title: &str,
    new: &NewTask,
    now: DateTime<Utc>,
) -> Result<Task> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let number: i64 = sqlx::query_scalar(
        "INSERT INTO task_counters (user_id, last_number) VALUES (?, 1) \
         ON CONFLICT (user_id) DO UPDATE SET last_number = task_counters.last_number + 1 \
         RETURNING last_number",
    )
    .bind(user.as_str())
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO tasks (user_id, number, title, priority, due_date, completed, created_at, \
         updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
    )
    .bind(user.as_str())
    .bind(number)
    .bind(title)
    .bind(new.priority.as_str())
    .bind(new.due_date.map(date_text))
    .bind(now.timestamp_micros())
    .bind(now.timestamp_micros())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(added(number, title, new, now))
}

pub(super) async fn get_task(
    conn: &mut SqliteConnection,
    user: &UserId,
    number: i64,
) -> Result<Option<Task>> {
    let sql = format!("SELECT {TASK} FROM tasks WHERE user_id = ? AND number = ?");
    let row = sqlx::query(&sql)
        .bind(user.as_str())
        .bind(number)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(task).transpose()
}

pub(super) async fn find_tasks(
    conn: &mut SqliteConnection,
    user: &UserId,
    query: &str,
) -> Result<Vec<Task>> {
    // instr() rather than LIKE, so `%` and `_` in the query are literal.
    let sql = format!(
        "SELECT {TASK} FROM tasks WHERE user_id = ? AND instr(lower(title), lower(?)) > 0 \
         ORDER BY completed, number LIMIT ?"
    );
    let rows = sqlx::query(&sql)
        .bind(user.as_str())
        .bind(query)
        .bind(FIND_TASKS_LIMIT)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(task).collect()
}

pub(super) async fn list_tasks(
    conn: &mut SqliteConnection,
    user: &UserId,
    filter: TaskFilter,
    after_number: i64,
    fetch: i64,
) -> Result<Vec<Task>> {
    let only = match filter {
        TaskFilter::All => "",
        TaskFilter::Pending => "AND completed = 0",
        TaskFilter::Completed => "AND completed = 1",
    };
    let sql = format!(
        "SELECT {TASK} FROM tasks WHERE user_id = ? AND number > ? {only} ORDER BY number LIMIT ?"
    );
    let rows = sqlx::query(&sql)
        .bind(user.as_str())
        .bind(after_number)
        .bind(fetch)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(task).collect()
}

pub(super) async fn update_task(
    conn: &mut SqliteConnection,
    user: &UserId,
    number: i64,
    title: Option<&str>,
    patch: &TaskPatch,
    now: DateTime<Utc>,
) -> Result<Option<Task>> {
    let sql = format!(
        "UPDATE tasks SET title = COALESCE(?, title), priority = COALESCE(?, priority), \
         due_date = CASE WHEN ? THEN ? ELSE due_date END, \
         completed = COALESCE(?, completed), updated_at = ? \
         WHERE user_id = ? AND number = ? RETURNING {TASK}"
    );
    let row = sqlx::query(&sql)
        .bind(title)
        .bind(patch.priority.map(|p| p.as_str()))
        .bind(patch.due_date.is_some())
        .bind(patch.due_date.flatten().map(date_text))
        .bind(patch.completed)
        .bind(now.timestamp_micros())
        .bind(user.as_str())
        .bind(number)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(task).transpose()
}

pub(super) async fn delete_task(
    conn: &mut SqliteConnection,
    user: &UserId,
    number: i64,
) -> Result<Option<Task>> {
    let sql = format!("DELETE FROM tasks WHERE user_id = ? AND number = ? RETURNING {TASK}");
    let row = sqlx::query(&sql)
        .bind(user.as_str())
        .bind(number)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(task).transpose()
}
