//! The store's conversations and their messages: creating, reading, listing, renaming and
//! deleting a conversation, appending and listing its messages.
//!
//! Titles are validated here ([`super::MAX_TITLE_CHARS`]); pages are cut and their cursors made here
//! (`cursor`); a turn's own writes (its answer in progress, its claim) are in `answers`.

use super::{
    appendable, cursor, dispatch, new_conversation, now, valid_title, ClaimStep, Store, TurnStart,
};
use crate::error::Result;
use crate::model::{Conversation, Message, NewMessage, Page, PageRequest, ThreadId, UserId};

impl Store {
    /// Creates an empty conversation owned by `user`. The title is trimmed; a blank one means
    /// "untitled" (`None`), one over [`super::MAX_TITLE_CHARS`] is `Error::Invalid`.
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
        let start = TurnStart::message(first, claim);
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
        let start = TurnStart::message(msg, claim);
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
        let (after, limit) = cursor::number_page(page)?;
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
}
