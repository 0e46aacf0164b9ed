//! PostgreSQL queries of `queue.rs`. Native types as in `postgres.rs`; every query filters by
//! `user_id`.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use super::{append_message, duplicate_send};
use crate::error::{Error, Result};
use crate::model::{Message, MessageId, QueuedMessage, QueuedStatus, Role, ThreadId, UserId};
use crate::store::queue::{NewQueued, Queued};
use crate::store::TurnStart;

const QUEUED: &str =
    "n, id, conversation_id, user_id, answer_id, content, metadata, request_id, created_at";

pub(in crate::store) async fn enqueue(
    pool: &PgPool,
    user: &UserId,
    q: &NewQueued<'_>,
    now: DateTime<Utc>,
) -> Result<Queued> {
    let mut tx = pool.begin().await?;
    let added = sqlx::query(
        "INSERT INTO queued_messages (id, conversation_id, user_id, answer_id, content, \
         metadata, request_id, created_at) \
         SELECT $1, c.id, c.user_id, $3, $4, $5, $6, $7 FROM conversations c \
         WHERE c.id = $2 AND c.user_id = $8 \
         AND (SELECT COUNT(*) FROM queued_messages WHERE conversation_id = $2) < $9",
    )
    .bind(q.id.0)
    .bind(q.thread.0)
    .bind(q.answer_id.0)
    .bind(q.content)
    .bind(Json(q.metadata))
    .bind(q.request_id)
    .bind(now)
    .bind(user.as_str())
    .bind(i64::from(q.cap))
    .execute(&mut *tx)
    .await?;
    if added.rows_affected() == 0 {
        let exists: Option<(i32,)> =
            sqlx::query_as("SELECT 1 FROM conversations WHERE id = $1 AND user_id = $2")
                .bind(q.thread.0)
                .bind(user.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        return Err(match exists {
            Some(_) => Error::QueueFull,
            None => Error::NotFound("conversation"),
        });
    }
    if let Some(client) = q.client_message_id {
        sqlx::query(
            "INSERT INTO client_messages (user_id, client_message_id, conversation_id, \
             message_id, answer_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.as_str())
        .bind(client)
        .bind(q.thread.0)
        .bind(q.id.0)
        .bind(q.answer_id.0)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(duplicate_send)?;
    }
    let queue = read_queue(&mut *tx, user, q.thread).await?;
    tx.commit().await?;
    queue
        .into_iter()
        .find(|m| m.message.id == q.id)
        .ok_or_else(|| Error::Internal("a queued message vanished as it was written".into()))
}

pub(in crate::store) async fn queued(
    pool: &PgPool,
    user: &UserId,
    thread: ThreadId,
) -> Result<Vec<Queued>> {
    read_queue(pool, user, thread).await
}

async fn read_queue(
    db: impl sqlx::PgExecutor<'_>,
    user: &UserId,
    thread: ThreadId,
) -> Result<Vec<Queued>> {
    let sql = format!(
        "SELECT {QUEUED} FROM queued_messages WHERE conversation_id = $1 AND user_id = $2 \
         ORDER BY n"
    );
    let rows = sqlx::query(&sql)
        .bind(thread.0)
        .bind(user.as_str())
        .fetch_all(db)
        .await?;
    let mut out = rows.iter().map(queued_row).collect::<Result<Vec<_>>>()?;
    for (i, q) in out.iter_mut().enumerate() {
        q.message.position = i as u32 + 1;
    }
    Ok(out)
}

fn queued_row(row: &PgRow) -> Result<Queued> {
    Ok(Queued {
        user: UserId(row.try_get("user_id")?),
        message: QueuedMessage {
            id: MessageId(row.try_get("id")?),
            conversation_id: ThreadId(row.try_get("conversation_id")?),
            role: Role::User,
            content: row.try_get("content")?,
            status: QueuedStatus::Queued,
            position: 0,
            created_at: row.try_get("created_at")?,
        },
        answer_id: MessageId(row.try_get("answer_id")?),
        metadata: row.try_get::<Json<Value>, _>("metadata")?.0,
        request_id: row.try_get("request_id")?,
    })
}

pub(in crate::store) async fn unqueue(
    pool: &PgPool,
    user: &UserId,
    thread: ThreadId,
    id: MessageId,
) -> Result<bool> {
    let done = sqlx::query(
        "DELETE FROM queued_messages WHERE id = $1 AND conversation_id = $2 AND user_id = $3",
    )
    .bind(id.0)
    .bind(thread.0)
    .bind(user.as_str())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub(in crate::store) async fn queued_threads(pool: &PgPool) -> Result<Vec<(UserId, ThreadId)>> {
    let rows: Vec<(String, Uuid)> =
        sqlx::query_as("SELECT DISTINCT user_id, conversation_id FROM queued_messages")
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(u, t)| (UserId(u), ThreadId(t)))
        .collect())
}

/// The queued message's row deleted and its turn's start written, in one transaction: a
/// start refused (busy thread) leaves it queued.
pub(in crate::store) async fn start_queued(
    pool: &PgPool,
    user: &UserId,
    start: &TurnStart<'_>,
    now: DateTime<Utc>,
    lapse_secs: f64,
) -> Result<(Message, Option<Message>)> {
    let mut tx = pool.begin().await?;
    let taken = sqlx::query("DELETE FROM queued_messages WHERE id = $1 AND user_id = $2")
        .bind(start.question.id.0)
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?;
    if taken.rows_affected() == 0 {
        return Err(Error::NotFound("queued message"));
    }
    let started = append_message(&mut *tx, user, start, now, lapse_secs).await?;
    tx.commit().await?;
    Ok(started)
}

/// Whether the message `id` of `user` is queued.
pub(in crate::store) async fn is_queued(
    pool: &PgPool,
    user: &UserId,
    id: MessageId,
) -> Result<bool> {
    let found: Option<(i32,)> =
        sqlx::query_as("SELECT 1 FROM queued_messages WHERE id = $1 AND user_id = $2")
            .bind(id.0)
            .bind(user.as_str())
            .fetch_optional(pool)
            .await?;
    Ok(found.is_some())
}
