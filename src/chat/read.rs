//! The read side of the core: what a user can read of their threads and tasks, through one
//! small reader, `chat.read(&user)`.
//!
//! Kept here, not in the transports, so that no transport calls the store itself and the
//! ownership rule (another user's thread is simply not found) is written once: every read of a
//! [`Reader`] is scoped by its user.

use super::event::ThreadView;
use super::Chat;
use crate::error::{Error, Result};
use crate::model::{
    Conversation, Message, MessageStatus, Order, Page, PageRequest, Task, TaskFilter, ThreadId,
    UserId,
};

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

/// What one user can read: their threads, a thread's messages, their tasks. Cheap: made per
/// call by [`Chat::read`].
pub struct Reader<'a> {
    chat: &'a Chat,
    user: &'a UserId,
}

impl Chat {
    /// The read side, for `user`.
    pub fn read<'a>(&'a self, user: &'a UserId) -> Reader<'a> {
        Reader { chat: self, user }
    }
}

impl Reader<'_> {
    /// One of the user's threads; `not_found` for anyone else's.
    pub async fn thread(&self, id: ThreadId) -> Result<Conversation> {
        self.chat
            .inner
            .store
            .get_conversation(self.user, id)
            .await?
            .ok_or(Error::NotFound("conversation"))
    }

    /// The user's threads, most recently updated first.
    pub async fn threads(&self, page: &PageRequest) -> Result<Page<ThreadView>> {
        let page = self
            .chat
            .inner
            .store
            .list_conversations(self.user, page)
            .await?;
        Ok(Page {
            data: page.data.iter().map(ThreadView::from).collect(),
            has_more: page.has_more,
            after: page.after,
        })
    }

    /// The user's threads by creation time, `limit` per page after the thread `after`
    /// (`invalid_request` when that is not one of the user's threads).
    pub async fn threads_by_creation(
        &self,
        order: Order,
        after: Option<ThreadId>,
        limit: u32,
    ) -> Result<Page<Conversation>> {
        let limit = limit.clamp(1, 100) as usize;
        let mut rows = self
            .chat
            .inner
            .store
            .conversations_by_creation(self.user, order, after, limit as i64 + 1)
            .await?;
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        let after = has_more
            .then(|| rows.last().map(|c| c.id.to_string()))
            .flatten();
        Ok(Page {
            data: rows,
            has_more,
            after,
        })
    }

    /// One of the user's threads with a page of its messages, whether a turn runs on it and
    /// its queue; `not_found` for anyone else's.
    pub async fn thread_page(&self, id: ThreadId, page: &PageRequest) -> Result<ThreadPage> {
        let (chat, user) = (self.chat, self.user);
        let thread = self.thread(id).await?;
        // An answer in progress comes as the store has it: its text saved so far and the
        // `next_seq` from which live deltas continue it, whichever instance runs its turn.
        let messages = chat.inner.store.list_messages(user, id, page).await?;
        let answering = messages
            .data
            .iter()
            .any(|m| m.status == MessageStatus::InProgress);
        let queued = chat.queue_of(user, id).await?;
        Ok(ThreadPage {
            thread: ThreadView::from(&thread),
            messages: messages.data,
            has_more: messages.has_more,
            after: messages.after,
            running: answering || chat.inner.running.contains_key(&id),
            queued,
        })
    }

    /// Every message of one of the user's threads, oldest first.
    pub async fn messages(&self, id: ThreadId) -> Result<Vec<Message>> {
        self.thread(id).await?;
        let mut all = Vec::new();
        let mut page = PageRequest::first(100);
        loop {
            let got = self
                .chat
                .inner
                .store
                .list_messages(self.user, id, &page)
                .await?;
            all.extend(got.data);
            match got.after {
                Some(after) if got.has_more => page.after = Some(after),
                _ => return Ok(all),
            }
        }
    }

    /// The user's tasks, by number.
    pub async fn tasks(&self, filter: TaskFilter, page: &PageRequest) -> Result<Page<Task>> {
        self.chat
            .inner
            .store
            .list_tasks(self.user, filter, page)
            .await
    }
}
