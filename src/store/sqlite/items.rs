//! SQLite queries of `items.rs`: message details, feedback, hidden items, attachments, and the
//! message edits a retry needs. Same storage forms as `sqlite.rs`; every query filters by
//! `user_id`. Called only through `Store`, with validated input.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Row, TransactionBehavior};
use serde_json::Value;

use super::rows::{all, execute, json, one, to_json, ts, uuid};
use super::{conversation, conversations_page, message, CONVERSATION, MESSAGE};
use crate::error::Result;
use crate::model::{
    Attachment, AttachmentId, Conversation, Feedback, FeedbackKind, HiddenItem, Message, MessageId,
    Order, ThreadId, UserId,
};
use crate::store::items::CreatedKey;

const ATTACHMENT: &str =
    "id, user_id, conversation_id, name, mime_type, size, bytes IS NOT NULL AS uploaded, created_at";

fn attachment(row: &Row<'_>) -> Result<Attachment> {
    let conversation_id: Option<String> = row.get("conversation_id")?;
    Ok(Attachment {
        id: AttachmentId(uuid(row, "id")?),
        user_id: UserId(row.get("user_id")?),
        conversation_id: match conversation_id {
            Some(_) => Some(ThreadId(uuid(row, "conversation_id")?)),
            None => None,
        },
        name: row.get("name")?,
        mime_type: row.get("mime_type")?,
        size: row.get("size")?,
        uploaded: row.get("uploaded")?,
        created_at: ts(row, "created_at")?,
    })
}

pub(in crate::store) fn get_message(
    conn: &Connection,
    user: &UserId,
    thread: ThreadId,
    id: MessageId,
) -> Result<Option<Message>> {
    let sql = format!(
        "SELECT {MESSAGE} FROM messages WHERE id = ? AND conversation_id = ? AND user_id = ?"
    );
    let params = params![id.0.to_string(), thread.0.to_string(), user.as_str()];
    one(conn, &sql, params, message)
}

pub(in crate::store) fn delete_messages_after(
    conn: &mut Connection,
    user: &UserId,
    thread: ThreadId,
    seq: i64,
) -> Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let params = params![thread.0.to_string(), user.as_str(), seq];
    let done = execute(
        &tx,
        "DELETE FROM messages WHERE conversation_id = ? AND user_id = ? AND seq > ?",
        params,
    )?;
    execute(
        &tx,
        "DELETE FROM hidden_items WHERE conversation_id = ? AND user_id = ? AND after_seq >= ?",
        params,
    )?;
    tx.commit()?;
    Ok(done as u64)
}

pub(in crate::store) fn conversations_by_creation(
    conn: &Connection,
    user: &UserId,
    order: Order,
    after: Option<CreatedKey>,
    fetch: i64,
) -> Result<Vec<Conversation>> {
    let dir = match order {
        Order::Asc => "ASC",
        Order::Desc => "DESC",
    };
    let after = after.map(|k| (k.created_at, k.id));
    conversations_page(conn, user, "created_at", dir, after, fetch)
}

pub(in crate::store) fn set_message_details(
    conn: &Connection,
    user: &UserId,
    id: MessageId,
    data: &Value,
) -> Result<bool> {
    let done = execute(
        conn,
        "INSERT INTO message_details (message_id, user_id, data) \
         SELECT id, user_id, ? FROM messages WHERE id = ? AND user_id = ? \
         ON CONFLICT (message_id) DO UPDATE SET data = excluded.data",
        params![to_json(data)?, id.0.to_string(), user.as_str()],
    )?;
    Ok(done > 0)
}

pub(in crate::store) fn message_details(
    conn: &Connection,
    user: &UserId,
    thread: ThreadId,
) -> Result<Vec<(MessageId, Value)>> {
    all(
        conn,
        "SELECT d.message_id, d.data FROM message_details d \
         JOIN messages m ON m.id = d.message_id \
         WHERE m.conversation_id = ? AND d.user_id = ?",
        params![thread.0.to_string(), user.as_str()],
        |r| Ok((MessageId(uuid(r, "message_id")?), json(r, "data")?)),
    )
}

pub(in crate::store) fn add_feedback(
    conn: &mut Connection,
    user: &UserId,
    thread: ThreadId,
    item_ids: &[String],
    kind: FeedbackKind,
    now: DateTime<Utc>,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for item in item_ids {
        execute(
            &tx,
            "INSERT INTO item_feedback (conversation_id, user_id, item_id, kind, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (conversation_id, item_id) \
             DO UPDATE SET kind = excluded.kind, created_at = excluded.created_at",
            params![
                thread.0.to_string(),
                user.as_str(),
                item,
                kind.as_str(),
                now.timestamp_micros()
            ],
        )?;
    }
    tx.commit()?;
    Ok(())
}

pub(in crate::store) fn feedback(
    conn: &Connection,
    user: &UserId,
    thread: ThreadId,
) -> Result<Vec<Feedback>> {
    all(
        conn,
        "SELECT item_id, kind FROM item_feedback WHERE conversation_id = ? AND user_id = ? \
         ORDER BY item_id",
        params![thread.0.to_string(), user.as_str()],
        |r| {
            let kind = super::rows::text(r, "kind")?;
            Ok(Feedback {
                item_id: r.get("item_id")?,
                kind: FeedbackKind::parse(kind).ok_or_else(|| {
                    crate::store::corrupt("kind", format!("unknown kind {kind:?}"))
                })?,
            })
        },
    )
}

pub(in crate::store) fn add_hidden_item(
    conn: &Connection,
    user: &UserId,
    item: &HiddenItem,
) -> Result<Option<HiddenItem>> {
    let after_seq = one(
        conn,
        "INSERT INTO hidden_items (id, conversation_id, user_id, after_seq, content, created_at) \
         SELECT ?, id, user_id, last_seq, ?, ? FROM conversations WHERE id = ? AND user_id = ? \
         RETURNING after_seq",
        params![
            item.id.to_string(),
            to_json(&item.content)?,
            item.created_at.timestamp_micros(),
            item.conversation_id.0.to_string(),
            user.as_str(),
        ],
        |row| Ok(row.get::<_, i64>(0)?),
    )?;
    Ok(after_seq.map(|after_seq| HiddenItem {
        after_seq,
        ..item.clone()
    }))
}

pub(in crate::store) fn conversation_for_turn(
    conn: &Connection,
    user: &UserId,
    id: ThreadId,
) -> Result<Option<(Conversation, bool)>> {
    let sql = format!(
        "SELECT {CONVERSATION}, EXISTS (SELECT 1 FROM hidden_items h \
         WHERE h.conversation_id = c.id AND h.user_id = c.user_id) AS has_hidden \
         FROM conversations c WHERE c.id = ? AND c.user_id = ?"
    );
    one(
        conn,
        &sql,
        params![id.0.to_string(), user.as_str()],
        |row| Ok((conversation(row)?, row.get("has_hidden")?)),
    )
}

pub(in crate::store) fn hidden_items(
    conn: &Connection,
    user: &UserId,
    thread: ThreadId,
) -> Result<Vec<HiddenItem>> {
    all(
        conn,
        "SELECT id, conversation_id, after_seq, content, created_at FROM hidden_items \
         WHERE conversation_id = ? AND user_id = ? ORDER BY after_seq, created_at",
        params![thread.0.to_string(), user.as_str()],
        |r| {
            Ok(HiddenItem {
                id: uuid(r, "id")?,
                conversation_id: ThreadId(uuid(r, "conversation_id")?),
                after_seq: r.get("after_seq")?,
                content: json(r, "content")?,
                created_at: ts(r, "created_at")?,
            })
        },
    )
}

pub(in crate::store) fn create_attachment(
    conn: &Connection,
    a: &Attachment,
    bytes: Option<&[u8]>,
) -> Result<()> {
    execute(
        conn,
        "INSERT INTO attachments (id, user_id, conversation_id, name, mime_type, size, bytes, \
         created_at) VALUES (?, ?, NULL, ?, ?, ?, ?, ?)",
        params![
            a.id.0.to_string(),
            a.user_id.as_str(),
            &a.name,
            &a.mime_type,
            a.size,
            bytes,
            a.created_at.timestamp_micros(),
        ],
    )?;
    Ok(())
}

pub(in crate::store) fn get_attachment(
    conn: &Connection,
    user: &UserId,
    id: AttachmentId,
) -> Result<Option<Attachment>> {
    let sql = format!("SELECT {ATTACHMENT} FROM attachments WHERE id = ? AND user_id = ?");
    one(
        conn,
        &sql,
        params![id.0.to_string(), user.as_str()],
        attachment,
    )
}

pub(in crate::store) fn put_attachment_bytes(
    conn: &Connection,
    user: &UserId,
    id: AttachmentId,
    bytes: &[u8],
) -> Result<Option<Attachment>> {
    let sql = format!(
        "UPDATE attachments SET bytes = ?, size = ? WHERE id = ? AND user_id = ? \
         AND bytes IS NULL AND conversation_id IS NULL RETURNING {ATTACHMENT}"
    );
    let params = params![bytes, bytes.len() as i64, id.0.to_string(), user.as_str()];
    one(conn, &sql, params, attachment)
}

pub(in crate::store) fn attachment_bytes(
    conn: &Connection,
    user: &UserId,
    id: AttachmentId,
) -> Result<Option<Vec<u8>>> {
    let bytes = one(
        conn,
        "SELECT bytes FROM attachments WHERE id = ? AND user_id = ?",
        params![id.0.to_string(), user.as_str()],
        |row| Ok(row.get::<_, Option<Vec<u8>>>(0)?),
    )?;
    Ok(bytes.flatten())
}

pub(in crate::store) fn assign_attachments(
    conn: &Connection,
    user: &UserId,
    ids: &[AttachmentId],
    thread: ThreadId,
) -> Result<()> {
    for id in ids {
        execute(
            conn,
            "UPDATE attachments SET conversation_id = ? WHERE id = ? AND user_id = ?",
            params![thread.0.to_string(), id.0.to_string(), user.as_str()],
        )?;
    }
    Ok(())
}

pub(in crate::store) fn delete_attachment(
    conn: &Connection,
    user: &UserId,
    id: AttachmentId,
) -> Result<bool> {
    let done = execute(
        conn,
        "DELETE FROM attachments WHERE id = ? AND user_id = ?",
        params![id.0.to_string(), user.as_str()],
    )?;
    Ok(done > 0)
}
