//! Store operations on what surrounds messages: a message's rich details, feedback per item,
//! hidden context items, attachments (metadata and bytes), and the edits a retry needs
//! (reading one message, deleting every message after one).
//!
//! Same rules as the rest of the store: every query filters by `user_id`, so another user's row
//! looks missing; each backend's SQL sits side by side in `sqlite/items.rs` / `postgres/items.rs`.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{now, postgres, sqlite, Backend, Store};
use crate::error::{Error, Result};
use crate::model::{
    Attachment, AttachmentId, Conversation, Feedback, FeedbackKind, HiddenItem, Message, MessageId,
    NewAttachment, Order, ThreadId, UserId,
};

macro_rules! dispatch_items {
    ($self:ident . $f:ident ( $($arg:expr),* )) => {
        match &$self.0 {
            Backend::Sqlite(conn) => conn.run(|c| sqlite::items::$f(c, $($arg),*)).await,
            Backend::Postgres(pool) => postgres::items::$f(pool, $($arg),*).await,
        }
    };
}

/// Where a listing by creation time resumes: strictly after this row in the listing's order.
#[derive(Debug, Clone, Copy)]
pub(super) struct CreatedKey {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Store {
    /// One message of a conversation; `None` when it, or the conversation, is missing or
    /// owned by someone else.
    pub async fn get_message(
        &self,
        user: &UserId,
        thread: ThreadId,
        id: MessageId,
    ) -> Result<Option<Message>> {
        dispatch_items!(self.get_message(user, thread, id))
    }

    /// Deletes every message of the conversation with `seq` greater than `seq` (and the hidden
    /// items written after it); returns how many messages went. The conversation's `last_seq`
    /// is kept, so a seq is never reused.
    pub async fn delete_messages_after(
        &self,
        user: &UserId,
        thread: ThreadId,
        seq: i64,
    ) -> Result<u64> {
        dispatch_items!(self.delete_messages_after(user, thread, seq))
    }

    /// The user's conversations ordered by `(created_at, id)`, at most `limit` (plus one to
    /// tell whether more follow) strictly after the conversation `after`. `Error::Invalid`
    /// when `after` names no conversation of the user.
    pub async fn conversations_by_creation(
        &self,
        user: &UserId,
        order: Order,
        after: Option<ThreadId>,
        fetch: i64,
    ) -> Result<Vec<Conversation>> {
        let key = match after {
            None => None,
            Some(id) => {
                let c = self
                    .get_conversation(user, id)
                    .await?
                    .ok_or_else(|| Error::invalid("invalid cursor"))?;
                Some(CreatedKey {
                    created_at: c.created_at,
                    id: c.id.0,
                })
            }
        };
        dispatch_items!(self.conversations_by_creation(user, order, key, fetch.max(1)))
    }

    /// Stores (replacing) the client-facing details of a message: content parts, attachments
    /// and the like, as one JSON value. `Error::NotFound` when the message is not the user's.
    pub async fn set_message_details(
        &self,
        user: &UserId,
        message: MessageId,
        data: &Value,
    ) -> Result<()> {
        if dispatch_items!(self.set_message_details(user, message, data))? {
            Ok(())
        } else {
            Err(Error::NotFound("message"))
        }
    }

    /// The details of every message of the conversation that has some.
    pub async fn message_details(
        &self,
        user: &UserId,
        thread: ThreadId,
    ) -> Result<Vec<(MessageId, Value)>> {
        dispatch_items!(self.message_details(user, thread))
    }

    /// Records (or replaces) feedback on items of the user's conversation.
    /// `Error::NotFound("conversation")` when the conversation is not the user's.
    pub async fn add_feedback(
        &self,
        user: &UserId,
        thread: ThreadId,
        item_ids: &[String],
        kind: FeedbackKind,
    ) -> Result<()> {
        if self.get_conversation(user, thread).await?.is_none() {
            return Err(Error::NotFound("conversation"));
        }
        dispatch_items!(self.add_feedback(user, thread, item_ids, kind, now()))
    }

    /// Feedback recorded on the conversation's items, by item id.
    pub async fn feedback(&self, user: &UserId, thread: ThreadId) -> Result<Vec<Feedback>> {
        dispatch_items!(self.feedback(user, thread))
    }

    /// Writes a hidden item after the conversation's current last message.
    /// `Error::NotFound("conversation")` when the conversation is not the user's.
    pub async fn add_hidden_item(
        &self,
        user: &UserId,
        thread: ThreadId,
        content: &Value,
    ) -> Result<HiddenItem> {
        let item = HiddenItem {
            id: Uuid::new_v4(),
            conversation_id: thread,
            after_seq: 0,
            content: content.clone(),
            created_at: now(),
        };
        dispatch_items!(self.add_hidden_item(user, &item))?.ok_or(Error::NotFound("conversation"))
    }

    /// The conversation (as `get_conversation`) and whether it holds hidden items, which a
    /// model-driven turn replays: one query where starting a turn would otherwise need two.
    pub async fn conversation_for_turn(
        &self,
        user: &UserId,
        id: ThreadId,
    ) -> Result<Option<(Conversation, bool)>> {
        dispatch_items!(self.conversation_for_turn(user, id))
    }

    /// The conversation's hidden items, oldest first.
    pub async fn hidden_items(&self, user: &UserId, thread: ThreadId) -> Result<Vec<HiddenItem>> {
        dispatch_items!(self.hidden_items(user, thread))
    }

    /// Records a new attachment owned by `user`, with its bytes when they are already here.
    pub async fn create_attachment(
        &self,
        user: &UserId,
        new: &NewAttachment,
        bytes: Option<&[u8]>,
    ) -> Result<Attachment> {
        let attachment = Attachment {
            id: AttachmentId::new(),
            user_id: user.clone(),
            conversation_id: None,
            name: new.name.clone(),
            mime_type: new.mime_type.clone(),
            size: bytes.map_or(new.size, |b| b.len() as i64),
            uploaded: bytes.is_some(),
            created_at: now(),
        };
        match (&self.0, bytes) {
            (Backend::Sqlite(conn), Some(bytes)) => {
                let (row, bytes) = (attachment.clone(), bytes.to_vec());
                conn.run_blocking(move |c| {
                    sqlite::items::create_attachment(c, &row, Some(bytes.as_slice()))
                })
                .await?
            }
            _ => dispatch_items!(self.create_attachment(&attachment, bytes))?,
        }
        Ok(attachment)
    }

    /// The attachment's metadata, or `None` when missing or not the user's.
    pub async fn get_attachment(
        &self,
        user: &UserId,
        id: AttachmentId,
    ) -> Result<Option<Attachment>> {
        dispatch_items!(self.get_attachment(user, id))
    }

    /// Stores the bytes of an attachment that has none yet and no message uses; its size becomes
    /// their length. `None` when the attachment is missing, not the user's, already uploaded or
    /// attached: the condition is part of the one `UPDATE`, so bytes are written at most once
    /// even when two uploads race. On SQLite this and the other byte-moving operations run on
    /// the blocking pool (see `sqlite::conn`).
    pub async fn put_attachment_bytes(
        &self,
        user: &UserId,
        id: AttachmentId,
        bytes: &[u8],
    ) -> Result<Option<Attachment>> {
        match &self.0 {
            Backend::Sqlite(conn) => {
                let (user, bytes) = (user.clone(), bytes.to_vec());
                conn.run_blocking(move |c| {
                    sqlite::items::put_attachment_bytes(c, &user, id, &bytes)
                })
                .await
            }
            Backend::Postgres(_) => dispatch_items!(self.put_attachment_bytes(user, id, bytes)),
        }
    }

    /// The attachment's bytes; `None` when missing, not the user's or not uploaded yet.
    pub async fn attachment_bytes(
        &self,
        user: &UserId,
        id: AttachmentId,
    ) -> Result<Option<Vec<u8>>> {
        match &self.0 {
            Backend::Sqlite(conn) => {
                let user = user.clone();
                conn.run_blocking(move |c| sqlite::items::attachment_bytes(c, &user, id))
                    .await
            }
            Backend::Postgres(_) => dispatch_items!(self.attachment_bytes(user, id)),
        }
    }

    /// Marks the attachments as used in `thread`. The caller has checked they are the user's.
    pub async fn assign_attachments(
        &self,
        user: &UserId,
        ids: &[AttachmentId],
        thread: ThreadId,
    ) -> Result<()> {
        dispatch_items!(self.assign_attachments(user, ids, thread))
    }

    /// Deletes the attachment and its bytes; `false` when missing or not the user's.
    pub async fn delete_attachment(&self, user: &UserId, id: AttachmentId) -> Result<bool> {
        dispatch_items!(self.delete_attachment(user, id))
    }
}
