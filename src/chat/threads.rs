//! Thread operations beyond starting a turn and reading (`read`): renaming, deleting, feedback,
//! hidden context items (notes), a message's client-facing details, retrying a turn from an
//! earlier user message, and task actions triggered by buttons rather than by the agent.
//!
//! Every operation is scoped by the authenticated user; another user's thread is `not_found`.

use std::sync::Arc;

use serde_json::Value;

use super::event::{ChatEvent, Event};
use super::start::Started;
use super::{Chat, Turn};
use crate::agent::tools::{TaskArg, TaskOutcome, TaskRefArgs, Tools};
use crate::agent::Language;
use crate::error::{Error, Result};
use crate::model::{
    Conversation, Feedback, FeedbackKind, HiddenItem, Message, MessageId, MessageStatus,
    NewMessage, Role, ThreadId, UserId,
};

/// A change to a task requested directly (a button), not through the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskAction {
    Complete(i64),
    Delete(i64),
}

/// What a [`TaskAction`] did: the tool outcome and the assistant message that reports it.
#[derive(Debug, Clone)]
pub struct TaskActionResult {
    pub outcome: TaskOutcome,
    pub message: Message,
}

impl Chat {
    /// Renames one of the user's threads.
    pub async fn rename_thread(
        &self,
        user: &UserId,
        id: ThreadId,
        title: &str,
    ) -> Result<Conversation> {
        self.inner
            .store
            .rename_conversation(user, id, title)
            .await?
            .ok_or(Error::NotFound("conversation"))
    }

    /// Deletes one of the user's threads with its messages, feedback, hidden items and
    /// attachments. A turn running on it is cancelled first.
    pub async fn delete_thread(&self, user: &UserId, id: ThreadId) -> Result<()> {
        self.cancel(user, id).await?;
        if self.inner.store.delete_conversation(user, id).await? {
            Ok(())
        } else {
            Err(Error::NotFound("conversation"))
        }
    }

    /// Records feedback on items of one of the user's threads.
    pub async fn record_feedback(
        &self,
        user: &UserId,
        id: ThreadId,
        item_ids: &[String],
        kind: FeedbackKind,
    ) -> Result<()> {
        self.inner
            .store
            .add_feedback(user, id, item_ids, kind)
            .await
    }

    /// Feedback recorded on a thread's items.
    pub async fn feedback(&self, user: &UserId, id: ThreadId) -> Result<Vec<Feedback>> {
        self.inner.store.feedback(user, id).await
    }

    /// The details of a thread's messages that have some.
    pub async fn message_details(
        &self,
        user: &UserId,
        id: ThreadId,
    ) -> Result<Vec<(MessageId, Value)>> {
        self.inner.store.message_details(user, id).await
    }

    /// Writes a hidden context item after the thread's last message.
    pub async fn add_hidden_item(
        &self,
        user: &UserId,
        id: ThreadId,
        content: &Value,
    ) -> Result<HiddenItem> {
        self.inner.store.add_hidden_item(user, id, content).await
    }

    /// A thread's hidden items, oldest first.
    pub async fn hidden_items(&self, user: &UserId, id: ThreadId) -> Result<Vec<HiddenItem>> {
        self.inner.store.hidden_items(user, id).await
    }

    /// Answers again from the user message `message`: every later message is deleted, then a
    /// turn runs on that message (no new user message is stored; its `message.added` is
    /// emitted again). Errors before anything changes: `not_found` (thread or message),
    /// `invalid_request` (not a user message), `thread_busy`, `rate_limited`, `shutting_down`.
    pub async fn retry_turn(
        &self,
        user: &UserId,
        id: ThreadId,
        message: MessageId,
        request_id: Option<String>,
    ) -> Result<Turn> {
        let inner = &self.inner;
        if !self.accepting() {
            return Err(Error::ShuttingDown);
        }
        let thread = self.read(user).thread(id).await?;
        let user_message = inner
            .store
            .get_message(user, id, message)
            .await?
            .ok_or(Error::NotFound("message"))?;
        if user_message.role != Role::User {
            return Err(Error::invalid("only a user message can be retried"));
        }
        inner.limiter.check(user)?;
        let cancel = inner.kill.child_token();
        let mut claim = self.take_claim(id, user, cancel.clone(), None)?;
        claim.take_shared().await?;
        inner
            .store
            .delete_messages_after(user, id, user_message.seq)
            .await?;
        let answer = inner.store.start_answer(user, id, MessageId::new()).await?;

        let language = thread
            .metadata
            .get("language")
            .and_then(Value::as_str)
            .and_then(Language::from_tag)
            .unwrap_or_else(|| crate::agent::detect_language(&user_message.content));
        let started = Started {
            thread,
            created: false,
            // Retries are rare: look for notes rather than track them.
            has_notes: true,
            user_message,
            answer,
            claim,
        };
        self.launch(user, request_id, &[], started, language, cancel)
            .await
    }

    /// Completes or deletes one of the user's tasks on a button press in thread `id`, announces
    /// the change (`task.changed`) and records an assistant message saying what happened
    /// (announced with `message.added`). `not_found` when the thread is not the user's;
    /// `thread_busy` while a turn runs on it.
    pub async fn task_action(
        &self,
        user: &UserId,
        id: ThreadId,
        action: TaskAction,
    ) -> Result<TaskActionResult> {
        self.read(user).thread(id).await?;
        // Claimed like a turn, on every instance, until the action's message is written: no
        // turn can start on the thread meanwhile, and none may be running now (`thread_busy`).
        let cancel = tokio_util::sync::CancellationToken::new();
        let mut claim = self.take_claim(id, user, cancel, None)?;
        claim.take_shared().await?;
        let result = self.run_task_action(user, id, action).await;
        claim.release().await;
        result
    }

    async fn run_task_action(
        &self,
        user: &UserId,
        id: ThreadId,
        action: TaskAction,
    ) -> Result<TaskActionResult> {
        let tools = Tools::new(self.inner.store.clone(), user.clone());
        let (outcome, number) = match action {
            TaskAction::Complete(n) => (
                tools
                    .complete_task(TaskRefArgs {
                        task: TaskArg::Number(n),
                    })
                    .await?,
                n,
            ),
            TaskAction::Delete(n) => (
                tools
                    .delete_task(TaskRefArgs {
                        task: TaskArg::Number(n),
                    })
                    .await?,
                n,
            ),
        };
        if let Some((change, task)) = outcome.change() {
            self.publish(
                user,
                ChatEvent::TaskChanged {
                    thread_id: Some(id),
                    change,
                    task: task.clone(),
                },
            );
        }
        let text = match &outcome {
            TaskOutcome::Changed(crate::model::TaskChange::Deleted, t) => {
                format!("Deleted task #{} \u{201c}{}\u{201d}.", t.number, t.title)
            }
            TaskOutcome::Changed(_, t) => {
                format!(
                    "Marked task #{} \u{201c}{}\u{201d} as done.",
                    t.number, t.title
                )
            }
            TaskOutcome::AlreadyCompleted(t) => {
                format!(
                    "Task #{} \u{201c}{}\u{201d} is already done.",
                    t.number, t.title
                )
            }
            _ => format!("There is no task #{number}."),
        };
        let message = self
            .inner
            .store
            .append_message(
                user,
                &NewMessage {
                    id: MessageId::new(),
                    conversation_id: id,
                    role: Role::Assistant,
                    content: text,
                    tool_calls: Vec::new(),
                    status: MessageStatus::Completed,
                    usage: None,
                    details: None,
                },
            )
            .await?;
        self.publish(
            user,
            ChatEvent::MessageAdded {
                thread_id: id,
                message: message.clone(),
            },
        );
        Ok(TaskActionResult { outcome, message })
    }

    /// Announces a task change made outside a turn (MCP) to every socket of the user.
    pub fn announce_task_change(&self, user: &UserId, outcome: &crate::agent::tools::TaskOutcome) {
        if let Some((change, task)) = outcome.change() {
            self.publish(
                user,
                ChatEvent::TaskChanged {
                    thread_id: None,
                    change,
                    task: task.clone(),
                },
            );
        }
    }

    fn publish(&self, user: &UserId, body: ChatEvent) {
        self.inner
            .hub
            .publish(Arc::new(Event::new(user.clone(), body, None)));
    }
}
