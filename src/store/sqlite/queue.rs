//! SQLite queries of `queue.rs`. Same storage forms as `sqlite.rs`: ids as text, times as
//! microseconds, JSON as text. The writes run in `sqlite::append`'s groups.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Row};

use super::answers::record_send;
use super::rows::{all, execute, json, one, text, ts, uuid, At};
use crate::error::{Error, Result};
use crate::model::{MessageId, QueuedMessage, QueuedStatus, Role, ThreadId, UserId};
use crate::store::queue::{NewQueued, Queued};

/// A [`NewQueued`] the grouped writer can keep until its turn comes.
pub(in crate::store) struct OwnedQueued {
    id: MessageId,
    thread: ThreadId,
    answer_id: MessageId,
    content: String,
    metadata: String,
    request_id: Option<String>,
    client_message_id: Option<String>,
    cap: u32,
}

impl OwnedQueued {
    pub(in crate::store) fn of(new: &NewQueued<'_>) -> Self {
        OwnedQueued {
            id: new.id,
            thread: new.thread,
            answer_id: new.answer_id,
            content: new.content.to_string(),
            metadata: new.metadata.to_string(),
            request_id: new.request_id.map(str::to_string),
            client_message_id: new.client_message_id.map(str::to_string),
            cap: new.cap,
        }
    }
}

const QUEUED: &str =
    "n, id, conversation_id, user_id, answer_id, content, metadata, request_id, created_at";

pub(in crate::store) fn enqueue(
    conn: &Connection,
    user: &UserId,
    q: &OwnedQueued,
    now: DateTime<Utc>,
) -> Result<Queued> {
    let thread = q.thread.0.to_string();
    let added = execute(
        conn,
        "INSERT INTO queued_messages (id, conversation_id, user_id, answer_id, content, \
         metadata, request_id, created_at) \
         SELECT ?1, c.id, c.user_id, ?3, ?4, ?5, ?6, ?7 FROM conversations c \
         WHERE c.id = ?2 AND c.user_id = ?8 \
         AND (SELECT COUNT(*) FROM queued_messages WHERE conversation_id = ?2) < ?9",
        params![
            q.id.0.to_string(),
            thread,
            q.answer_id.0.to_string(),
            &q.content,
            &q.metadata,
            q.request_id.as_deref(),
            now.timestamp_micros(),
            user.as_str(),
            q.cap,
        ],
    )?;
    if added == 0 {
        let exists = one(
            conn,
            "SELECT 1 FROM conversations WHERE id = ? AND user_id = ?",
            params![thread, user.as_str()],
            |_| Ok(()),
        )?;
        return Err(match exists {
            Some(()) => Error::QueueFull,
            None => Error::NotFound("conversation"),
        });
    }
    if let Some(client) = &q.client_message_id {
        record_send(conn, user, client, (q.thread, q.id, q.answer_id), now)?;
    }
    let queue = queued(conn, user, q.thread)?;
    queue
        .into_iter()
        .find(|m| m.message.id == q.id)
        .ok_or_else(|| Error::Internal("a queued message vanished as it was written".into()))
}

pub(in crate::store) fn queued(
    conn: &Connection,
    user: &UserId,
    thread: ThreadId,
) -> Result<Vec<Queued>> {
    let sql = format!(
        "SELECT {QUEUED} FROM queued_messages WHERE conversation_id = ? AND user_id = ? \
         ORDER BY n"
    );
    let rows = all(
        conn,
        &sql,
        params![thread.0.to_string(), user.as_str()],
        queued_row,
    )?;
    Ok(numbered(rows))
}

/// Positions from 1, in queue order.
fn numbered(mut rows: Vec<Queued>) -> Vec<Queued> {
    for (i, q) in rows.iter_mut().enumerate() {
        q.message.position = i as u32 + 1;
    }
    rows
}

fn queued_row(row: &Row<'_>) -> Result<Queued> {
    Ok(Queued {
        user: UserId(text(row, At(3, "user_id"))?.to_string()),
        message: QueuedMessage {
            id: MessageId(uuid(row, At(1, "id"))?),
            conversation_id: ThreadId(uuid(row, At(2, "conversation_id"))?),
            role: Role::User,
            content: row.get(5)?,
            status: QueuedStatus::Queued,
            position: 0,
            created_at: ts(row, At(8, "created_at"))?,
        },
        answer_id: MessageId(uuid(row, At(4, "answer_id"))?),
        metadata: json(row, At(6, "metadata"))?,
        request_id: row.get(7)?,
    })
}

pub(in crate::store) fn unqueue(
    conn: &Connection,
    user: &UserId,
    thread: ThreadId,
    id: MessageId,
) -> Result<bool> {
    let done = execute(
        conn,
        "DELETE FROM queued_messages WHERE id = ? AND conversation_id = ? AND user_id = ?",
        params![id.0.to_string(), thread.0.to_string(), user.as_str()],
    )?;
    Ok(done > 0)
}

/// Deletes the queued message `id` as its turn starts; `NotFound` when it is gone.
pub(in crate::store) fn take(conn: &Connection, user: &UserId, id: MessageId) -> Result<()> {
    let done = execute(
        conn,
        "DELETE FROM queued_messages WHERE id = ? AND user_id = ?",
        params![id.0.to_string(), user.as_str()],
    )?;
    match done {
        0 => Err(Error::NotFound("queued message")),
        _ => Ok(()),
    }
}

pub(in crate::store) fn queued_threads(conn: &mut Connection) -> Result<Vec<(UserId, ThreadId)>> {
    all(
        conn,
        "SELECT DISTINCT user_id, conversation_id FROM queued_messages",
        [],
        |row| {
            Ok((
                UserId(text(row, At(0, "user_id"))?.to_string()),
                ThreadId(uuid(row, At(1, "conversation_id"))?),
            ))
        },
    )
}

/// Whether the message `id` of `user` is queued.
pub(in crate::store) fn is_queued(conn: &Connection, user: &UserId, id: MessageId) -> Result<bool> {
    let found = one(
        conn,
        "SELECT 1 FROM queued_messages WHERE id = ? AND user_id = ?",
        params![id.0.to_string(), user.as_str()],
        |_| Ok(()),
    )?;
    Ok(found.is_some())
}
