//! Domain records shared by the chat core, the agent and the store.
//!
//! These are plain data: no SQL, no wire framing. Transports serialise them as they are (the
//! serde names here *are* the public JSON names), the store maps rows onto them.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// The authenticated user a request acts for. Taken from the JWT, never from a model or a body.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct UserId(pub String);

impl UserId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A conversation ("thread" on the WebSocket and in ChatKit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct ThreadId(pub Uuid);

impl ThreadId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for ThreadId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct MessageId(pub Uuid);

impl MessageId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for MessageId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

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

/// Task priority.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Medium,
    High,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "low" => Some(Priority::Low),
            "medium" | "normal" => Some(Priority::Medium),
            "high" | "urgent" => Some(Priority::High),
            _ => None,
        }
    }
}

/// A user's task. `number` is the short per-user id users say ("task 3"); it is never reused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Task {
    pub number: i64,
    pub title: String,
    pub priority: Priority,
    pub due_date: Option<NaiveDate>,
    pub completed: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Fields of a task to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub title: String,
    pub priority: Priority,
    pub due_date: Option<NaiveDate>,
}

/// Fields of a task to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub priority: Option<Priority>,
    /// `Some(None)` clears the due date.
    pub due_date: Option<Option<NaiveDate>>,
    pub completed: Option<bool>,
}

impl TaskPatch {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.priority.is_none()
            && self.due_date.is_none()
            && self.completed.is_none()
    }
}

/// Which tasks a listing returns.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TaskFilter {
    #[default]
    All,
    Pending,
    Completed,
}

impl TaskFilter {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "all" => Some(TaskFilter::All),
            "pending" | "open" | "incomplete" => Some(TaskFilter::Pending),
            "completed" | "done" => Some(TaskFilter::Completed),
            _ => None,
        }
    }
}

/// What happened to a task, as `task.changed` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskChange {
    Added,
    Updated,
    Completed,
    Deleted,
}

/// A page request: at most `limit` rows after the opaque cursor `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<String>,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        Self { limit, after: None }
    }
}

/// Sort direction of a listing by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// One page of a listing. `after` is the cursor to pass for the next page (present when
/// `has_more`); cursors are opaque strings and stay valid while rows are inserted.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub has_more: bool,
    pub after: Option<String>,
}

/// A user's judgement of an item of a conversation (thumbs up or down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedbackKind {
    Positive,
    Negative,
}

impl FeedbackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::Positive => "positive",
            FeedbackKind::Negative => "negative",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "positive" => Some(FeedbackKind::Positive),
            "negative" => Some(FeedbackKind::Negative),
            _ => None,
        }
    }
}

/// Feedback recorded for one item (`item_id` is the item id a client saw).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Feedback {
    pub item_id: String,
    pub kind: FeedbackKind,
}

/// Context kept with a conversation for the model but never shown to clients.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HiddenItem {
    pub id: Uuid,
    pub conversation_id: ThreadId,
    /// The conversation's last message `seq` when the item was written (it sits after it).
    pub after_seq: i64,
    pub content: Value,
    pub created_at: DateTime<Utc>,
}

/// An uploaded (or announced) file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AttachmentId(pub Uuid);

impl AttachmentId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for AttachmentId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for AttachmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A stored attachment's metadata; its bytes are read separately.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attachment {
    pub id: AttachmentId,
    pub user_id: UserId,
    /// The conversation whose message uses it, once one does.
    pub conversation_id: Option<ThreadId>,
    pub name: String,
    pub mime_type: String,
    /// Declared size before upload; actual byte count after.
    pub size: i64,
    /// Whether the bytes have been uploaded.
    pub uploaded: bool,
    pub created_at: DateTime<Utc>,
}

/// An attachment to announce (bytes, when already known, are stored with it).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAttachment {
    pub name: String,
    pub mime_type: String,
    pub size: i64,
}
