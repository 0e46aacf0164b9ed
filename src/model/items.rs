//! What else a thread holds: feedback on its items, hidden context items and attachments.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::*;

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
