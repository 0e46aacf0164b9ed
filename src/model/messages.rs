//! Threads and their messages: roles, statuses, usage, tool calls, and the queue behind a running turn.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::*;

/// A stored conversation, always owned by exactly one user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ThreadId,
    pub user_id: UserId,
    pub title: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub metadata: Value,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    Tool,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            "tool" => Some(Role::Tool),
            _ => None,
        }
    }
}

/// Where a message stands. User messages are always `Completed`. An assistant message is
/// stored `InProgress` from the moment its turn starts (its text saved as it streams) and ends
/// `Completed`, `Cancelled`, `Failed`, or `Interrupted` when the process running its turn died
/// (or the turn was stopped to make way for another) and the text saved so far is all there is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    InProgress,
    Completed,
    Cancelled,
    Failed,
    Interrupted,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::InProgress => "in_progress",
            MessageStatus::Completed => "completed",
            MessageStatus::Cancelled => "cancelled",
            MessageStatus::Failed => "failed",
            MessageStatus::Interrupted => "interrupted",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "in_progress" => Some(MessageStatus::InProgress),
            "interrupted" => Some(MessageStatus::Interrupted),
            "completed" => Some(MessageStatus::Completed),
            "cancelled" => Some(MessageStatus::Cancelled),
            "failed" => Some(MessageStatus::Failed),
            _ => None,
        }
    }
}

/// Token counts of one assistant message (zero for the offline agent).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

impl Usage {
    /// Adds another model call's usage to this one (a turn may call the model several times).
    pub fn add(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
    }
}

/// One tool call an assistant message made, with what it returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolCall {
    /// Provider call id (`call_…`); generated for the offline agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub tool_name: String,
    pub arguments: Value,
    pub result: Value,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Message {
    pub id: MessageId,
    #[serde(rename = "thread_id")]
    pub conversation_id: ThreadId,
    /// Position within the conversation, starting at 1; strictly increasing.
    pub seq: i64,
    pub role: Role,
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub status: MessageStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    pub created_at: DateTime<Utc>,
    /// Only on an `in_progress` assistant message: how many of its `stream.delta`s `content`
    /// holds, which is the `seq` of the first delta it does not. A client that loads the
    /// message and then applies the live deltas with `seq` at or above it has the answer whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_seq: Option<u32>,
}

/// A message to append; the store assigns `seq` and `created_at`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub id: MessageId,
    pub conversation_id: ThreadId,
    pub role: Role,
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub status: MessageStatus,
    pub usage: Option<Usage>,
    /// ChatKit's shape of the message (content parts, attachments, quoted text, inference
    /// options), stored with it in the same write.
    pub details: Option<serde_json::Value>,
}

/// A user message waiting for its thread's running turn to end (`on_busy: "enqueue"`). When
/// its turn starts it becomes the thread's user message under the same `id`, and its answer
/// takes the id the store chose for it at enqueue time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QueuedMessage {
    pub id: MessageId,
    #[serde(rename = "thread_id")]
    pub conversation_id: ThreadId,
    pub role: Role,
    pub content: String,
    /// Always `queued`: the field says so to clients that render every message alike.
    pub status: QueuedStatus,
    /// Place in the thread's queue, from 1 (next to run), when it was read.
    pub position: u32,
    pub created_at: DateTime<Utc>,
}

/// The status of a [`QueuedMessage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum QueuedStatus {
    Queued,
}
