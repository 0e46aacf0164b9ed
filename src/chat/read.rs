//! Read-side operations of the core: listings and loads every transport shares.
//!
//! Kept here, not in the transports, so that no transport calls the store itself and the
//! ownership rule (another user's thread is simply not found) is written once.

use super::event::ThreadView;
use super::Chat;
use crate::error::{Error, Result};
use crate::model::{Message, MessageStatus, Page, PageRequest, Task, TaskFilter, ThreadId, UserId};

/// A thread with one page of its messages (oldest first).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ThreadPage {
    pub thread: ThreadView,
    pub messages: Vec<Message>,
    pub has_more: bool,
    pub after: Option<String>,
    /// Whether a turn is running on this thread now: in this process, or on any instance
    /// when the page holds its answer in progress.
    pub running: bool,
    /// The messages queued behind the running turn, next first.
    pub queued: Vec<crate::model::QueuedMessage>,
}

impl Chat {
    /// The user's threads, most recently updated first.
    pub async fn list_threads(
        &self,
        user: &UserId,
        page: &PageRequest,
    ) -> Result<Page<ThreadView>> {
        let page = self.inner.store.list_conversations(user, page).await?;
        Ok(Page {
            data: page.data.iter().map(ThreadView::from).collect(),
            has_more: page.has_more,
            after: page.after,
        })
    }

    /// One of the user's threads with a page of its messages; `not_found` for anyone else's.
    pub async fn load_thread(
        &self,
        user: &UserId,
        id: ThreadId,
        page: &PageRequest,
    ) -> Result<ThreadPage> {
        let conversation = self
            .inner
            .store
            .get_conversation(user, id)
            .await?
            .ok_or(Error::NotFound("conversation"))?;
        // An answer in progress comes as the store has it: its text saved so far and the
        // `next_seq` from which live deltas continue it, whichever instance runs its turn.
        let messages = self.inner.store.list_messages(user, id, page).await?;
        let answering = messages
            .data
            .iter()
            .any(|m| m.status == MessageStatus::InProgress);
        let queued = self.queue_of(user, id).await?;
        Ok(ThreadPage {
            thread: ThreadView::from(&conversation),
            messages: messages.data,
            has_more: messages.has_more,
            after: messages.after,
            running: answering || self.inner.running.contains_key(&id),
            queued,
        })
    }

    /// The user's tasks, by number.
    pub async fn list_tasks(
        &self,
        user: &UserId,
        filter: TaskFilter,
        page: &PageRequest,
    ) -> Result<Page<Task>> {
        self.inner.store.list_tasks(user, filter, page).await
    }

    /// The task tools of `user`, for transports that expose them directly (MCP).
    pub fn tools_for(&self, user: &UserId) -> crate::agent::tools::Tools {
        crate::agent::tools::Tools::new(self.inner.store.clone(), user.clone())
    }

    /// Speech to text for dictation, through the configured agent's provider.
    pub async fn transcribe(&self, audio: Vec<u8>, mime_type: &str) -> Result<String> {
        self.inner.agent.transcribe(audio, mime_type).await
    }

    /// Whether the database answers.
    pub async fn database_ok(&self) -> bool {
        self.inner.store.ping().await.is_ok()
    }
}
