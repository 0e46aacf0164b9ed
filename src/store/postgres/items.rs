//! PostgreSQL queries of `items.rs`: message details, feedback, hidden items, attachments, and the
//! message edits a retry needs. Same storage forms as `postgres.rs`; every query filters by
//! `user_id`. Called only through `Store`, with validated input.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgPool, Row};

use super::{conversation, message, CONVERSATION, MESSAGE};
use crate::error::Result;
use crate::model::{
    Attachment, AttachmentId, Conversation, Feedback, FeedbackKind, HiddenItem, Message, MessageId,
    Order, ThreadId, UserId,
};
use crate::store::items::CreatedKey;

const ATTACHMENT: &str =
    "id, user_id, conversation_id, name, mime_type, size, (bytes IS NOT NULL) AS uploaded, created_at";

fn attachment(row: &PgRow) -> Result<Attachment> {
    let conversation_id: Option<uuid::Uuid> = row.try_get("conversation_id")?;
    Ok(Attachment {
        id: AttachmentId(row.try_get::<uuid::Uuid, _>("id")?),
        user_id: UserId(row.try_get("user_id")?),
        conversation_id: conversation_id.map(ThreadId),
        name: row.try_get("name")?,
        mime_type: row.try_get("mime_type")?,
        size: row.try_get("size")?,
        uploaded: row.try_get("uploaded")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(in crate::store) async fn get_message(
    pool: &PgPool,
    user: &UserId,
    thread: ThreadId,
    id: MessageId,
) -> Result<Option<Message>> {
    let sql = format!(
        "SELECT {MESSAGE} FROM messages WHERE id = $1 AND conversation_id = $2 AND user_id = $3"
    );
    let row = sqlx::query(&sql)
        .bind(id.0)
        .bind(thread.0)
        .bind(user.as_str())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(message).transpose()
}

pub(in crate::store) async fn delete_messages_after(
    pool: &PgPool,
    user: &UserId,
    thread: ThreadId,
    seq: i64,
) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let done = sqlx::query(
        "DELETE FROM messages WHERE conversation_id = $1 AND user_id = $2 AND seq > $3",
    )
    .bind(thread.0)
    .bind(user.as_str())
    .bind(seq)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM hidden_items WHERE conversation_id = $1 AND user_id = $2 AND after_seq >= $3",
    )
    .bind(thread.0)
    .bind(user.as_str())
    .bind(seq)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

pub(in crate::store) async fn conversations_by_creation(
    pool: &PgPool,
    user: &UserId,
    order: Order,
    after: Option<CreatedKey>,
    fetch: i64,
) -> Result<Vec<Conversation>> {
    let (cmp, dir) = match order {
        Order::Asc => (">", "ASC"),
        Order::Desc => ("<", "DESC"),
    };
    let keyset = if after.is_some() {
        format!("AND (created_at, id) {cmp} ($2, $3)")
    } else {
        String::new()
    };
    let limit = if after.is_some() { "$4" } else { "$2" };
    let sql = format!(
        "SELECT {CONVERSATION} FROM conversations WHERE user_id = $1 {keyset} \
         ORDER BY created_at {dir}, id {dir} LIMIT {limit}"
    );
    let mut query = sqlx::query(&sql).bind(user.as_str());
    if let Some(key) = after {
        query = query.bind(key.created_at).bind(key.id);
    }
    let rows = query.bind(fetch).fetch_all(pool).await?;
    rows.iter().map(conversation).collect()
}

pub(in crate::store) async fn set_message_details(
    pool: &PgPool,
    user: &UserId,
    id: MessageId,
    data: &Value,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO message_details (message_id, user_id, data) \
         SELECT id, user_id, $1 FROM messages WHERE id = $2 AND user_id = $3 \
         ON CONFLICT (message_id) DO UPDATE SET data = excluded.data",
    )
    .bind(Json(data))
    .bind(id.0)
    .bind(user.as_str())
    .execute(pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub(in crate::store) async fn message_details(
    pool: &PgPool,
    user: &UserId,
    thread: ThreadId,
) -> Result<Vec<(MessageId, Value)>> {
    let rows = sqlx::query(
        "SELECT d.message_id, d.data FROM message_details d \
         JOIN messages m ON m.id = d.message_id \
         WHERE m.conversation_id = $1 AND d.user_id = $2",
    )
    .bind(thread.0)
    .bind(user.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                MessageId(r.try_get::<uuid::Uuid, _>("message_id")?),
                r.try_get::<Json<Value>, _>("data")?.0,
            ))
        })
        .collect()
}

pub(in crate::store) async fn add_feedback(
    pool: &PgPool,
    user: &UserId,
    thread: ThreadId,
    item_ids: &[String],
    kind: FeedbackKind,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    for item in item_ids {
        sqlx::query(
            "INSERT INTO item_feedback (conversation_id, user_id, item_id, kind, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (conversation_id, item_id) \
             DO UPDATE SET kind = excluded.kind, created_at = excluded.created_at",
        )
        .bind(thread.0)
        .bind(user.as_str())
        .bind(item)
        .bind(kind.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(in crate::store) async fn feedback(
    pool: &PgPool,
    user: &UserId,
    thread: ThreadId,
) -> Result<Vec<Feedback>> {
    let rows = sqlx::query(
        "SELECT item_id, kind FROM item_feedback WHERE conversation_id = $1 AND user_id = $2 \
         ORDER BY item_id",
    )
    .bind(thread.0)
    .bind(user.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let kind: &str = r.try_get("kind")?;
            Ok(Feedback {
                item_id: r.try_get("item_id")?,
                kind: FeedbackKind::parse(kind).ok_or_else(|| {
                    crate::store::corrupt("kind", format!("unknown kind {kind:?}"))
                })?,
            })
        })
        .collect()
}

pub(in crate::store) async fn add_hidden_item(
    pool: &PgPool,
    user: &UserId,
    item: &HiddenItem,
) -> Result<Option<HiddenItem>> {
    let after_seq: Option<i64> = sqlx::query_scalar(
        "INSERT INTO hidden_items (id, conversation_id, user_id, after_seq, content, created_at) \
         SELECT $1, id, user_id, last_seq, $2, $3 FROM conversations WHERE id = $4 AND user_id = $5 \
         RETURNING after_seq",
    )
    .bind(item.id)
    .bind(Json(&item.content))
    .bind(item.created_at)
    .bind(item.conversation_id.0)
    .bind(user.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(after_seq.map(|after_seq| HiddenItem {
        after_seq,
        ..item.clone()
    }))
}

pub(in crate::store) async fn conversation_for_turn(
    pool: &PgPool,
    user: &UserId,
    id: ThreadId,
) -> Result<Option<(Conversation, bool)>> {
    let sql = format!(
        "SELECT {CONVERSATION}, EXISTS (SELECT 1 FROM hidden_items h \
         WHERE h.conversation_id = c.id AND h.user_id = c.user_id) AS has_hidden \
         FROM conversations c WHERE c.id = $1 AND c.user_id = $2"
    );
    let row = sqlx::query(&sql)
        .bind(id.0)
        .bind(user.as_str())
        .fetch_optional(pool)
        .await?;
    row.map(|row| Ok((conversation(&row)?, row.try_get("has_hidden")?)))
        .transpose()
}

pub(in crate::store) async fn hidden_items(
    pool: &PgPool,
    user: &UserId,
    thread: ThreadId,
) -> Result<Vec<HiddenItem>> {
    let rows = sqlx::query(
        "SELECT id, conversation_id, after_seq, content, created_at FROM hidden_items \
         WHERE conversation_id = $1 AND user_id = $2 ORDER BY after_seq, created_at",
    )
    .bind(thread.0)
    .bind(user.as_str())
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(HiddenItem {
                id: r.try_get::<uuid::Uuid, _>("id")?,
                conversation_id: ThreadId(r.try_get::<uuid::Uuid, _>("conversation_id")?),
                after_seq: r.try_get("after_seq")?,
                content: r.try_get::<Json<Value>, _>("content")?.0,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

pub(in crate::store) async fn create_attachment(
    pool: &PgPool,
    a: &Attachment,
    bytes: Option<&[u8]>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO attachments (id, user_id, conversation_id, name, mime_type, size, bytes, \
         created_at) VALUES ($1, $2, NULL, $3, $4, $5, $6, $7)",
    )
    .bind(a.id.0)
    .bind(a.user_id.as_str())
    .bind(&a.name)
    .bind(&a.mime_type)
    .bind(a.size)
    .bind(bytes)
    .bind(a.created_at)
    .execute(pool)
    .await?;
    Ok(())
}

pub(in crate::store) async fn get_attachment(
    pool: &PgPool,
    user: &UserId,
    id: AttachmentId,
) -> Result<Option<Attachment>> {
    let sql = format!("SELECT {ATTACHMENT} FROM attachments WHERE id = $1 AND user_id = $2");
    let row = sqlx::query(&sql)
        .bind(id.0)
        .bind(user.as_str())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(attachment).transpose()
}

pub(in crate::store) async fn put_attachment_bytes(
    pool: &PgPool,
    user: &UserId,
    id: AttachmentId,
    bytes: &[u8],
) -> Result<Option<Attachment>> {
    let sql = format!(
        "UPDATE attachments SET bytes = $1, size = $2 WHERE id = $3 AND user_id = $4 \
         AND bytes IS NULL AND conversation_id IS NULL RETURNING {ATTACHMENT}"
    );
    let row = sqlx::query(&sql)
        .bind(bytes)
        .bind(bytes.len() as i64)
        .bind(id.0)
        .bind(user.as_str())
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(attachment).transpose()
}

pub(in crate::store) async fn attachment_bytes(
    pool: &PgPool,
    user: &UserId,
    id: AttachmentId,
) -> Result<Option<Vec<u8>>> {
    let bytes: Option<Option<Vec<u8>>> =
        sqlx::query_scalar("SELECT bytes FROM attachments WHERE id = $1 AND user_id = $2")
            .bind(id.0)
            .bind(user.as_str())
            .fetch_optional(pool)
            .await?;
    Ok(bytes.flatten())
}

pub(in crate::store) async fn assign_attachments(
    pool: &PgPool,
    user: &UserId,
    ids: &[AttachmentId],
    thread: ThreadId,
) -> Result<()> {
    for id in ids {
        sqlx::query("UPDATE attachments SET conversation_id = $1 WHERE id = $2 AND user_id = $3")
            .bind(thread.0)
            .bind(id.0)
            .bind(user.as_str())
            .execute(pool)
            .await?;
    }
    Ok(())
}

pub(in crate::store) async fn delete_attachment(
    pool: &PgPool,
    user: &UserId,
    id: AttachmentId,
) -> Result<bool> {
    let done = sqlx::query("DELETE FROM attachments WHERE id = $1 AND user_id = $2")
        .bind(id.0)
        .bind(user.as_str())
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}
