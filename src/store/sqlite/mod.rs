//! The SQLite backend: opening, migrations and every SQLite query of the store. This file holds
//! the queries on conversations, messages and tasks; the files beside it the rest (answers,
//! items, queue), the migrations (`migrate`) and the connection itself (`conn`).
//!
//! Storage forms: UUIDs as lowercase hyphenated TEXT, timestamps as INTEGER unix microseconds,
//! JSON as TEXT, dates as TEXT `YYYY-MM-DD`, booleans as INTEGER 0/1. Functions here are called
//! only through `Store`, on its one connection (`sqlite::conn`), receive already-validated input
//! and must not validate or build cursors. Every user-data query filters by `user_id`.

pub(super) mod answers;
mod append;
mod checkpoint;
pub(super) mod conn;
pub(super) mod items;
mod migrate;
pub(super) mod queue;
mod rows;
mod url;

pub(super) use migrate::migrate;

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, Row, TransactionBehavior};
use uuid::Uuid;

use self::url::Location;
use super::cursor::ConversationKey;
use super::{
    added, appended, corrupt, parse_priority, parse_role, parse_status, shown_next_seq,
    FIND_TASKS_LIMIT,
};
use crate::error::{Error, Result};
use crate::model::{
    Conversation, Message, MessageId, NewMessage, NewTask, Task, TaskFilter, TaskPatch, ThreadId,
    UserId,
};
use checkpoint::Policy;
use conn::Conn;
use rows::{all, execute, json, one, text, to_json, ts, uuid, At, Column};

pub(super) const CONVERSATION: &str = "id, user_id, title, created_at, updated_at, metadata";
/// The columns `message` reads, in this order.
pub(super) const MESSAGE: &str =
    "id, conversation_id, seq, role, content, tool_calls, status, usage, created_at, next_seq";

/// Opens the database at `url`; every operation waits at most `timeout` for the connection
/// (and for a lock another process holds on the file).
pub(super) fn connect(url: &str, timeout: Duration) -> Result<Conn> {
    Conn::open_with(&Location::parse(url)?, Policy::default(), timeout)
}

pub(super) fn ping(conn: &Connection) -> Result<()> {
    conn.query_row("SELECT 1", [], |_| Ok(()))?;
    Ok(())
}

pub(super) fn conversation(row: &Row<'_>) -> Result<Conversation> {
    Ok(Conversation {
        id: ThreadId(uuid(row, "id")?),
        user_id: UserId(row.get("user_id")?),
        title: row.get("title")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
        metadata: json(row, "metadata")?,
    })
}

/// A row of `SELECT {MESSAGE}`, read by position.
pub(super) fn message(row: &Row<'_>) -> Result<Message> {
    let usage_col = At(7, "usage");
    let usage = usage_col
        .value(row)?
        .as_str_or_null()
        .map_err(|e| corrupt(usage_col.name(), e.to_string()))?;
    let status = parse_status(text(row, At(6, "status"))?)?;
    Ok(Message {
        id: MessageId(uuid(row, At(0, "id"))?),
        conversation_id: ThreadId(uuid(row, At(1, "conversation_id"))?),
        seq: row.get(2)?,
        role: parse_role(text(row, At(3, "role"))?)?,
        content: row.get(4)?,
        tool_calls: json(row, At(5, "tool_calls"))?,
        status,
        usage: usage
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| corrupt(usage_col.name(), e.to_string()))?,
        created_at: ts(row, At(8, "created_at"))?,
        next_seq: shown_next_seq(status, row.get(9)?)?,
    })
}

pub(super) fn create_conversation(conn: &Connection, c: &Conversation) -> Result<()> {
    execute(
        conn,
        "INSERT INTO conversations (id, user_id, title, created_at, updated_at, metadata) \
         VALUES (?, ?, ?, ?, ?, ?)",
        params![
            c.id.0.to_string(),
            c.user_id.as_str(),
            c.title.as_deref(),
            c.created_at.timestamp_micros(),
            c.updated_at.timestamp_micros(),
            to_json(&c.metadata)?,
        ],
    )?;
    Ok(())
}

pub(super) fn get_conversation(
    conn: &Connection,
    user: &UserId,
    id: ThreadId,
) -> Result<Option<Conversation>> {
    let sql = format!("SELECT {CONVERSATION} FROM conversations WHERE id = ? AND user_id = ?");
    one(
        conn,
        &sql,
        params![id.0.to_string(), user.as_str()],
        conversation,
    )
}

pub(super) fn list_conversations(
    conn: &Connection,
    user: &UserId,
    after: Option<ConversationKey>,
    fetch: i64,
) -> Result<Vec<Conversation>> {
    let after = after.map(|k| (k.updated_at, k.id));
    conversations_page(conn, user, "updated_at", "DESC", after, fetch)
}

/// The user's conversations by `(column, id)` in direction `dir` (`ASC` or `DESC`), from just
/// after the key `after` (that column's time and the id) when given; at most `fetch` rows.
pub(super) fn conversations_page(
    conn: &Connection,
    user: &UserId,
    column: &str,
    dir: &str,
    after: Option<(DateTime<Utc>, Uuid)>,
    fetch: i64,
) -> Result<Vec<Conversation>> {
    let order = format!("ORDER BY {column} {dir}, id {dir} LIMIT ?");
    let Some((at, id)) = after else {
        let sql = format!("SELECT {CONVERSATION} FROM conversations WHERE user_id = ? {order}");
        return all(conn, &sql, params![user.as_str(), fetch], conversation);
    };
    let cmp = if dir == "ASC" { ">" } else { "<" };
    let sql = format!(
        "SELECT {CONVERSATION} FROM conversations WHERE user_id = ? \
         AND ({column}, id) {cmp} (?, ?) {order}"
    );
    let params = params![user.as_str(), at.timestamp_micros(), id.to_string(), fetch];
    all(conn, &sql, params, conversation)
}

pub(super) fn rename_conversation(
    conn: &Connection,
    user: &UserId,
    id: ThreadId,
    title: &str,
    now: DateTime<Utc>,
) -> Result<Option<Conversation>> {
    let sql = format!(
        "UPDATE conversations SET title = ?, updated_at = ? WHERE id = ? AND user_id = ? \
         RETURNING {CONVERSATION}"
    );
    let params = params![
        title,
        now.timestamp_micros(),
        id.0.to_string(),
        user.as_str()
    ];
    one(conn, &sql, params, conversation)
}

pub(super) fn delete_conversation(conn: &Connection, user: &UserId, id: ThreadId) -> Result<bool> {
    let done = execute(
        conn,
        "DELETE FROM conversations WHERE id = ? AND user_id = ?",
        params![id.0.to_string(), user.as_str()],
    )?;
    Ok(done > 0)
}

/// Appends `msg`. Without details this is one statement, atomic on its own; with them it is
/// two, and the caller runs it in a transaction (or savepoint).
pub(super) fn append_message(
    conn: &Connection,
    user: &UserId,
    msg: &NewMessage,
    now: DateTime<Utc>,
) -> Result<Message> {
    // The row takes the conversation's next seq, and the `messages_advance_conversation`
    // trigger moves the conversation's `last_seq` and `updated_at` to it. No conversation
    // (another user's or a missing one) means nothing is written.
    //
    // Read, then insert, rather than one `INSERT … SELECT … FROM conversations`: as the
    // trigger writes the table that statement reads, SQLite first copied the selected row
    // into a temporary table, a cost larger than the insert's own. The store has one
    // connection and a turn's writes run inside one transaction; a concurrent writer of the
    // same seq would fail on `UNIQUE (conversation_id, seq)` rather than overwrite.
    let conversation = msg.conversation_id.0.to_string();
    let last = one(
        conn,
        "SELECT last_seq FROM conversations WHERE id = ? AND user_id = ?",
        params![&conversation, user.as_str()],
        |row| Ok(row.get::<_, i64>(0)?),
    )?;
    let Some(last) = last else {
        return Err(Error::NotFound("conversation"));
    };
    let seq = last + 1;
    let usage = msg.usage.as_ref().map(to_json).transpose()?;
    execute(
        conn,
        "INSERT INTO messages (id, conversation_id, user_id, seq, role, content, tool_calls, \
         status, usage, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            msg.id.0.to_string(),
            &conversation,
            user.as_str(),
            seq,
            msg.role.as_str(),
            &msg.content,
            to_json(&msg.tool_calls)?,
            msg.status.as_str(),
            usage,
            now.timestamp_micros(),
        ],
    )?;
    if let Some(details) = &msg.details {
        items::set_message_details(conn, user, msg.id, details)?;
    }
    Ok(appended(msg, seq, now))
}

pub(super) fn list_messages(
    conn: &Connection,
    user: &UserId,
    id: ThreadId,
    after_seq: i64,
    fetch: i64,
) -> Result<Vec<Message>> {
    let sql = format!(
        "SELECT {MESSAGE} FROM messages WHERE conversation_id = ? AND user_id = ? AND seq > ? \
         ORDER BY seq LIMIT ?"
    );
    let params = params![id.0.to_string(), user.as_str(), after_seq, fetch];
    all(conn, &sql, params, message)
}

pub(super) fn recent_messages(
    conn: &Connection,
    user: &UserId,
    id: ThreadId,
    limit: i64,
) -> Result<Vec<Message>> {
    // Newest first straight off the (conversation_id, seq) index, turned round here: no sort.
    let sql = format!(
        "SELECT {MESSAGE} FROM messages WHERE conversation_id = ? AND user_id = ? \
         ORDER BY seq DESC LIMIT ?"
    );
    let params = params![id.0.to_string(), user.as_str(), limit];
    let mut newest_first = all(conn, &sql, params, message)?;
    newest_first.reverse();
    Ok(newest_first)
}

const TASK: &str = "number, title, priority, due_date, completed, created_at, updated_at";

fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn task(row: &Row<'_>) -> Result<Task> {
    let due_date = row
        .get::<_, Option<String>>("due_date")?
        .map(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d"))
        .transpose()
        .map_err(|e| corrupt("due_date", e.to_string()))?;
    Ok(Task {
        number: row.get("number")?,
        title: row.get("title")?,
        priority: parse_priority(text(row, "priority")?)?,
        due_date,
        completed: row.get("completed")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

pub(super) fn add_task(
    conn: &mut Connection,
    user: &UserId,
    title: &str,
    new: &NewTask,
    now: DateTime<Utc>,
) -> Result<Task> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let number: i64 = tx
        .prepare_cached(
            "INSERT INTO task_counters (user_id, last_number) VALUES (?, 1) \
         ON CONFLICT (user_id) DO UPDATE SET last_number = task_counters.last_number + 1 \
         RETURNING last_number",
        )?
        .query_row([user.as_str()], |row| row.get(0))?;
    execute(
        &tx,
        "INSERT INTO tasks (user_id, number, title, priority, due_date, completed, created_at, \
         updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
        params![
            user.as_str(),
            number,
            title,
            new.priority.as_str(),
            new.due_date.map(date_text),
            now.timestamp_micros(),
            now.timestamp_micros(),
        ],
    )?;
    tx.commit()?;
    Ok(added(number, title, new, now))
}

pub(super) fn get_task(conn: &Connection, user: &UserId, number: i64) -> Result<Option<Task>> {
    let sql = format!("SELECT {TASK} FROM tasks WHERE user_id = ? AND number = ?");
    one(conn, &sql, params![user.as_str(), number], task)
}

pub(super) fn find_tasks(conn: &Connection, user: &UserId, query: &str) -> Result<Vec<Task>> {
    // instr() rather than LIKE, so `%` and `_` in the query are literal.
    let sql = format!(
        "SELECT {TASK} FROM tasks WHERE user_id = ? AND instr(lower(title), lower(?)) > 0 \
         ORDER BY completed, number LIMIT ?"
    );
    let params = params![user.as_str(), query, FIND_TASKS_LIMIT];
    all(conn, &sql, params, task)
}

pub(super) fn list_tasks(
    conn: &Connection,
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
    let params = params![user.as_str(), after_number, fetch];
    all(conn, &sql, params, task)
}

pub(super) fn update_task(
    conn: &Connection,
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
    let params = params![
        title,
        patch.priority.map(|p| p.as_str()),
        patch.due_date.is_some(),
        patch.due_date.flatten().map(date_text),
        patch.completed,
        now.timestamp_micros(),
        user.as_str(),
        number,
    ];
    one(conn, &sql, params, task)
}

pub(super) fn delete_task(conn: &Connection, user: &UserId, number: i64) -> Result<Option<Task>> {
    let sql = format!("DELETE FROM tasks WHERE user_id = ? AND number = ? RETURNING {TASK}");
    one(conn, &sql, params![user.as_str(), number], task)
}

#[cfg(test)]
mod tests;
