//! The PostgreSQL backend: pool options, migrations and every PostgreSQL query of the store.
//! This file holds the queries on conversations, messages and tasks; the files beside it the
//! pool and migrations (`pool`), a message's append (`append`) and the rest (answers, items,
//! queue).
//!
//! Native types throughout: UUID, TIMESTAMPTZ (microsecond precision), JSONB, DATE, BOOLEAN.
//! Functions here are called only through `Store`, receive already-validated input and must
//! not validate or build cursors. Every user-data query filters by `user_id`, on the row or
//! on the conversation it belongs to.

pub(super) mod answers;
mod append;
pub(super) mod items;
#[cfg(test)]
mod plans;
mod pool;
pub(super) mod queue;

pub(super) use append::{append_message, duplicate_send, release_cte, start_conversation};
pub(super) use pool::{connect, migrate};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgPool, Row};

use super::cursor::ConversationKey;
use super::{added, parse_priority, parse_role, parse_status, shown_next_seq, FIND_TASKS_LIMIT};
use crate::error::Result;
use crate::model::{
    Conversation, Message, MessageId, NewTask, Task, TaskFilter, TaskPatch, ThreadId, ToolCall,
    Usage, UserId,
};

pub(super) const CONVERSATION: &str = "id, user_id, title, created_at, updated_at, metadata";
pub(super) const MESSAGE: &str =
    "id, conversation_id, seq, role, content, tool_calls, status, usage, created_at, next_seq";

/// A thread's messages after seq `$3`, oldest first; `$1` the conversation, `$2` its owner.
///
/// Ownership is checked on the conversation, not on `messages.user_id`: the planner takes the
/// two conditions on messages as independent, when the thread fixes its user, so it expected
/// a handful of rows, read the whole thread with a bitmap scan and sorted it. That made every
/// turn's history read grow with the thread (1.5 ms at 500 messages). Conditioned on the
/// conversation alone, the rows come straight off the `(conversation_id, seq)` index, and the
/// owner check runs once. The plans are checked in `postgres::plans`, generic and custom.
pub(super) fn thread_page() -> String {
    format!("SELECT {MESSAGE} FROM messages WHERE conversation_id = $1 AND seq > $3 AND {OWNED} ORDER BY seq")
}

/// A thread's messages, newest first; `$1` the conversation, `$2` its owner (see
/// [`thread_page`] for why the owner is checked on the conversation).
pub(super) fn thread_newest() -> String {
    format!(
        "SELECT {MESSAGE} FROM messages WHERE conversation_id = $1 AND {OWNED} ORDER BY seq DESC"
    )
}

/// Conversation `$1` is user `$2`'s.
const OWNED: &str = "EXISTS (SELECT 1 FROM conversations c WHERE c.id = $1 AND c.user_id = $2)";

pub(super) async fn ping(pool: &PgPool) -> Result<()> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

pub(super) fn conversation(row: &PgRow) -> Result<Conversation> {
    Ok(Conversation {
        id: ThreadId(row.try_get("id")?),
        user_id: UserId(row.try_get("user_id")?),
        title: row.try_get("title")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        metadata: row.try_get::<Json<Value>, _>("metadata")?.0,
    })
}

pub(super) fn message(row: &PgRow) -> Result<Message> {
    let status = parse_status(row.try_get("status")?)?;
    Ok(Message {
        id: MessageId(row.try_get("id")?),
        conversation_id: ThreadId(row.try_get("conversation_id")?),
        seq: row.try_get("seq")?,
        role: parse_role(row.try_get("role")?)?,
        content: row.try_get("content")?,
        tool_calls: row.try_get::<Json<Vec<ToolCall>>, _>("tool_calls")?.0,
        status,
        usage: row.try_get::<Option<Json<Usage>>, _>("usage")?.map(|u| u.0),
        created_at: row.try_get("created_at")?,
        next_seq: shown_next_seq(status, row.try_get("next_seq")?)?,
    })
}

pub(super) async fn create_conversation(pool: &PgPool, c: &Conversation) -> Result<()> {
    sqlx::query(
        "INSERT INTO conversations (id, user_id, title, created_at, updated_at, metadata) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(c.id.0)
    .bind(c.user_id.as_str())
    .bind(c.title.as_deref())
    .bind(c.created_at)
    .bind(c.updated_at)
    .bind(Json(&c.metadata))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn get_conversation(
    pool: &PgPool,
    user: &UserId,
    id: ThreadId,
) -> Result<Option<Conversation>> {
    let sql = format!("SELECT {CONVERSATION} FROM conversations WHERE id = $1 AND user_id = $2");
    let row = sqlx::query(&sql)
        .bind(id.0)
        .bind(user.as_str())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(conversation).transpose()
}

pub(super) async fn list_conversations(
    pool: &PgPool,
    user: &UserId,
    after: Option<ConversationKey>,
    fetch: i64,
) -> Result<Vec<Conversation>> {
    let rows = match after {
        None => {
            let sql = format!(
                "SELECT {CONVERSATION} FROM conversations WHERE user_id = $1 \
                 ORDER BY updated_at DESC, id DESC LIMIT $2"
            );
            sqlx::query(&sql)
                .bind(user.as_str())
                .bind(fetch)
                .fetch_all(pool)
                .await?
        }
        Some(key) => {
            let sql = format!(
                "SELECT {CONVERSATION} FROM conversations \
                 WHERE user_id = $1 AND (updated_at, id) < ($2, $3) \
                 ORDER BY updated_at DESC, id DESC LIMIT $4"
            );
            sqlx::query(&sql)
                .bind(user.as_str())
                .bind(key.updated_at)
                .bind(key.id)
                .bind(fetch)
                .fetch_all(pool)
                .await?
        }
    };
    rows.iter().map(conversation).collect()
}

pub(super) async fn rename_conversation(
    pool: &PgPool,
    user: &UserId,
    id: ThreadId,
    title: &str,
    now: DateTime<Utc>,
) -> Result<Option<Conversation>> {
    let sql = format!(
        "UPDATE conversations SET title = $1, updated_at = $2 WHERE id = $3 AND user_id = $4 \
         RETURNING {CONVERSATION}"
    );
    let row = sqlx::query(&sql)
        .bind(title)
        .bind(now)
        .bind(id.0)
        .bind(user.as_str())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(conversation).transpose()
}

pub(super) async fn delete_conversation(
    pool: &PgPool,
    user: &UserId,
    id: ThreadId,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM conversations WHERE id = $1 AND user_id = $2")
        .bind(id.0)
        .bind(user.as_str())
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub(super) async fn list_messages(
    pool: &PgPool,
    user: &UserId,
    id: ThreadId,
    after_seq: i64,
    fetch: i64,
) -> Result<Vec<Message>> {
    let rows = sqlx::query(&format!("{} LIMIT $4", thread_page()))
        .bind(id.0)
        .bind(user.as_str())
        .bind(after_seq)
        .bind(fetch)
        .fetch_all(pool)
        .await?;
    rows.iter().map(message).collect()
}

pub(super) async fn recent_messages(
    pool: &PgPool,
    user: &UserId,
    id: ThreadId,
    limit: i64,
) -> Result<Vec<Message>> {
    // Newest first straight off the (conversation_id, seq) index, turned round here: no sort.
    let rows = sqlx::query(&format!("{} LIMIT $3", thread_newest()))
        .bind(id.0)
        .bind(user.as_str())
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().rev().map(message).collect()
}

const TASK: &str = "number, title, priority, due_date, completed, created_at, updated_at";

fn task(row: &PgRow) -> Result<Task> {
    Ok(Task {
        number: row.try_get("number")?,
        title: row.try_get("title")?,
        priority: parse_priority(row.try_get("priority")?)?,
        due_date: row.try_get::<Option<NaiveDate>, _>("due_date")?,
        completed: row.try_get("completed")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) async fn add_task(
    pool: &PgPool,
    user: &UserId,
    title: &str,
    new: &NewTask,
    now: DateTime<Utc>,
) -> Result<Task> {
    let mut tx = pool.begin().await?;
    // The upsert locks the user's counter row until commit, so concurrent adds queue up.
    let number: i64 = sqlx::query_scalar(
        "INSERT INTO task_counters (user_id, last_number) VALUES ($1, 1) \
         ON CONFLICT (user_id) DO UPDATE SET last_number = task_counters.last_number + 1 \
         RETURNING last_number",
    )
    .bind(user.as_str())
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO tasks (user_id, number, title, priority, due_date, completed, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, FALSE, $6, $6)",
    )
    .bind(user.as_str())
    .bind(number)
    .bind(title)
    .bind(new.priority.as_str())
    .bind(new.due_date)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(added(number, title, new, now))
}

pub(super) async fn get_task(pool: &PgPool, user: &UserId, number: i64) -> Result<Option<Task>> {
    let sql = format!("SELECT {TASK} FROM tasks WHERE user_id = $1 AND number = $2");
    let row = sqlx::query(&sql)
        .bind(user.as_str())
        .bind(number)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(task).transpose()
}

pub(super) async fn find_tasks(pool: &PgPool, user: &UserId, query: &str) -> Result<Vec<Task>> {
    // strpos() rather than ILIKE, so `%` and `_` in the query are literal.
    let sql = format!(
        "SELECT {TASK} FROM tasks WHERE user_id = $1 AND strpos(lower(title), lower($2)) > 0 \
         ORDER BY completed, number LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(user.as_str())
        .bind(query)
        .bind(FIND_TASKS_LIMIT)
        .fetch_all(pool)
        .await?;
    rows.iter().map(task).collect()
}

pub(super) async fn list_tasks(
    pool: &PgPool,
    user: &UserId,
    filter: TaskFilter,
    after_number: i64,
    fetch: i64,
) -> Result<Vec<Task>> {
    let only = match filter {
        TaskFilter::All => "",
        TaskFilter::Pending => "AND NOT completed",
        TaskFilter::Completed => "AND completed",
    };
    let sql = format!(
        "SELECT {TASK} FROM tasks WHERE user_id = $1 AND number > $2 {only} \
         ORDER BY number LIMIT $3"
    );
    let rows = sqlx::query(&sql)
        .bind(user.as_str())
        .bind(after_number)
        .bind(fetch)
        .fetch_all(pool)
        .await?;
    rows.iter().map(task).collect()
}

pub(super) async fn update_task(
    pool: &PgPool,
    user: &UserId,
    number: i64,
    title: Option<&str>,
    patch: &TaskPatch,
    now: DateTime<Utc>,
) -> Result<Option<Task>> {
    let sql = format!(
        "UPDATE tasks SET title = COALESCE($1, title), priority = COALESCE($2, priority), \
         due_date = CASE WHEN $3 THEN $4 ELSE due_date END, \
         completed = COALESCE($5, completed), updated_at = $6 \
         WHERE user_id = $7 AND number = $8 RETURNING {TASK}"
    );
    let row = sqlx::query(&sql)
        .bind(title)
        .bind(patch.priority.map(|p| p.as_str()))
        .bind(patch.due_date.is_some())
        .bind(patch.due_date.flatten())
        .bind(patch.completed)
        .bind(now)
        .bind(user.as_str())
        .bind(number)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(task).transpose()
}

pub(super) async fn delete_task(pool: &PgPool, user: &UserId, number: i64) -> Result<Option<Task>> {
    let sql = format!("DELETE FROM tasks WHERE user_id = $1 AND number = $2 RETURNING {TASK}");
    let row = sqlx::query(&sql)
        .bind(user.as_str())
        .bind(number)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(task).transpose()
}
