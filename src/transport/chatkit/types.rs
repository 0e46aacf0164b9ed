//! ChatKit wire types we send: threads, pages, items and stream events, serialised exactly as
//! the reference SDK does (`null` keys omitted, non-null defaults written, RFC 3339 UTC times).
//! Widgets, workflow tasks and client data are relayed as JSON values.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use crate::model::{Conversation, MessageStatus};

/// `{"data": [...], "has_more": bool, "after"?: id}`.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub has_more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl<T> Page<T> {
    pub fn empty() -> Self {
        Page {
            data: Vec::new(),
            has_more: false,
            after: None,
        }
    }
}

/// A thread with one page of its items.
#[derive(Debug, Clone, Serialize)]
pub struct Thread {
    pub id: String,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub status: Value,
    /// Server-only in the reference: always `{}` on the wire.
    pub metadata: Value,
    pub items: Page<Item>,
}

impl Thread {
    /// The thread with an empty items page (every form but `threads.get_by_id`).
    pub fn of(c: &Conversation) -> Self {
        Thread {
            id: c.id.to_string(),
            created_at: c.created_at,
            title: c.title.clone(),
            status: json!({"type": "active"}),
            metadata: json!({}),
            items: Page::empty(),
        }
    }
}

/// One output text part of an assistant message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputText {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: String,
    pub annotations: Vec<Value>,
}

impl OutputText {
    pub fn new(text: impl Into<String>) -> Self {
        OutputText {
            kind: "output_text",
            text: text.into(),
            annotations: Vec::new(),
        }
    }
}

/// A thread item: the common fields and the variant.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub id: String,
    pub thread_id: String,
    pub created_at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: ItemBody,
}

/// The item variants this server produces (hidden items are never sent).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ItemBody {
    UserMessage {
        content: Vec<Value>,
        attachments: Vec<Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        quoted_text: Option<String>,
        inference_options: Value,
    },
    /// `status` and `next_seq` only on an answer still being written (`"in_progress"`, and
    /// the count of deltas its text holds), which the reference's items never are.
    AssistantMessage {
        content: Vec<OutputText>,
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<MessageStatus>,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_seq: Option<u32>,
    },
    Workflow {
        workflow: Value,
    },
    Widget {
        widget: Value,
        #[serde(skip_serializing_if = "Option::is_none")]
        copy_text: Option<String>,
    },
}

impl Item {
    pub fn is_user_message(&self) -> bool {
        matches!(self.body, ItemBody::UserMessage { .. })
    }

    pub fn is_widget(&self) -> bool {
        matches!(self.body, ItemBody::Widget { .. })
    }
}

/// A stream event (`ThreadStreamEvent`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type")]
pub enum StreamEvent {
    #[serde(rename = "thread.created")]
    ThreadCreated { thread: Thread },
    #[serde(rename = "thread.updated")]
    ThreadUpdated { thread: Thread },
    #[serde(rename = "thread.item.added")]
    ItemAdded { item: Item },
    #[serde(rename = "thread.item.updated")]
    ItemUpdated { item_id: String, update: Value },
    #[serde(rename = "thread.item.done")]
    ItemDone { item: Item },
    #[serde(rename = "thread.item.replaced")]
    ItemReplaced { item: Item },
    #[serde(rename = "stream_options")]
    StreamOptions { stream_options: Value },
    #[serde(rename = "progress_update")]
    Progress {
        #[serde(skip_serializing_if = "Option::is_none")]
        icon: Option<&'static str>,
        text: String,
    },
    #[serde(rename = "error")]
    Error {
        code: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        allow_retry: bool,
    },
}

impl StreamEvent {
    /// `stream_options` with the stop button on: a disconnect cancels the turn.
    pub fn stream_options() -> Self {
        StreamEvent::StreamOptions {
            stream_options: json!({"allow_cancel": true}),
        }
    }

    /// The compact one-line JSON of this event.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("stream events serialise")
    }
}
