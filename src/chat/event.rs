//! `ChatEvent`: what a turn emits, in the order it happens.
//!
//! One enum for every transport. The serde names are the WebSocket and SSE wire names, so an
//! event is serialised once and the same bytes can go to every socket of the user.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::error::ErrorBody;
use crate::model::{Conversation, Message, MessageId, Task, TaskChange, ThreadId, UserId};

/// The thread summary carried by `thread.created` and thread listings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThreadView {
    pub id: ThreadId,
    pub title: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub metadata: Value,
}

impl From<&Conversation> for ThreadView {
    fn from(c: &Conversation) -> Self {
        ThreadView {
            id: c.id,
            title: c.title.clone(),
            created_at: c.created_at,
            updated_at: c.updated_at,
            metadata: c.metadata.clone(),
        }
    }
}

/// Something that happened in a turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum ChatEvent {
    /// A new conversation was created for this turn.
    #[serde(rename = "thread.created")]
    ThreadCreated { thread: ThreadView },
    /// A message joined the thread: the persisted user message, then the assistant message as
    /// it starts (status `in_progress`, empty content).
    #[serde(rename = "message.added")]
    MessageAdded {
        thread_id: ThreadId,
        message: Message,
    },
    /// A piece of the assistant's text. `seq` counts deltas of one message from 0.
    #[serde(rename = "stream.delta")]
    StreamDelta {
        thread_id: ThreadId,
        message_id: MessageId,
        delta: String,
        seq: u32,
    },
    /// The agent called a tool and got this result.
    #[serde(rename = "tool.called")]
    ToolCalled {
        thread_id: ThreadId,
        message_id: MessageId,
        tool_name: String,
        arguments: Value,
        result: Value,
    },
    /// A task of the user changed: by a tool call of a turn (with its thread), or directly
    /// through the tools (MCP; no thread).
    #[serde(rename = "task.changed")]
    TaskChanged {
        #[serde(skip_serializing_if = "Option::is_none")]
        thread_id: Option<ThreadId>,
        change: TaskChange,
        task: Task,
    },
    /// The assistant message is final: content, tool calls, usage and status.
    #[serde(rename = "message.done")]
    MessageDone {
        thread_id: ThreadId,
        message: Message,
    },
    /// The turn failed; `message.done` with status `failed` follows when a message had started.
    #[serde(rename = "error")]
    Error {
        #[serde(skip_serializing_if = "Option::is_none")]
        thread_id: Option<ThreadId>,
        #[serde(flatten)]
        error: ErrorBody,
    },
}

impl ChatEvent {
    /// The wire name (`"stream.delta"` …).
    pub fn kind(&self) -> &'static str {
        match self {
            ChatEvent::ThreadCreated { .. } => "thread.created",
            ChatEvent::MessageAdded { .. } => "message.added",
            ChatEvent::StreamDelta { .. } => "stream.delta",
            ChatEvent::ToolCalled { .. } => "tool.called",
            ChatEvent::TaskChanged { .. } => "task.changed",
            ChatEvent::MessageDone { .. } => "message.done",
            ChatEvent::Error { .. } => "error",
        }
    }

    pub fn thread_id(&self) -> Option<ThreadId> {
        match self {
            ChatEvent::ThreadCreated { thread } => Some(thread.id),
            ChatEvent::MessageAdded { thread_id, .. }
            | ChatEvent::StreamDelta { thread_id, .. }
            | ChatEvent::ToolCalled { thread_id, .. }
            | ChatEvent::MessageDone { thread_id, .. } => Some(*thread_id),
            ChatEvent::TaskChanged { thread_id, .. } | ChatEvent::Error { thread_id, .. } => {
                *thread_id
            }
        }
    }
}

/// A `ChatEvent` addressed to one user, with the `request_id` of the client frame that caused it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    #[serde(skip)]
    pub user: UserId,
    #[serde(flatten)]
    pub body: ChatEvent,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The JSON text, made once however many sockets receive the event.
    #[serde(skip)]
    wire: OnceLock<String>,
}

impl Event {
    pub fn new(user: UserId, body: ChatEvent, request_id: Option<String>) -> Self {
        Event {
            user,
            body,
            request_id,
            wire: OnceLock::new(),
        }
    }

    /// The event as one JSON object (`{"type": …, …, "request_id"?}`), serialised on first use.
    pub fn to_json(&self) -> &str {
        self.wire
            .get_or_init(|| serde_json::to_string(self).expect("events always serialise"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_shape_is_flat_with_type_and_request_id() {
        let ev = Event::new(
            UserId::new("u"),
            ChatEvent::StreamDelta {
                thread_id: ThreadId(uuid::Uuid::nil()),
                message_id: MessageId(uuid::Uuid::nil()),
                delta: "hi ".into(),
                seq: 3,
            },
            Some("r1".into()),
        );
        let v: Value = serde_json::from_str(ev.to_json()).unwrap();
        assert_eq!(
            v,
            json!({"type":"stream.delta","thread_id":uuid::Uuid::nil(),"message_id":uuid::Uuid::nil(),
                   "delta":"hi ","seq":3,"request_id":"r1"})
        );
        assert_eq!(ev.body.kind(), "stream.delta");
    }

    #[test]
    fn error_event_flattens_code_and_message() {
        let ev = Event::new(
            UserId::new("u"),
            ChatEvent::Error {
                thread_id: None,
                error: ErrorBody {
                    code: "thread_busy".into(),
                    message: "busy".into(),
                },
            },
            None,
        );
        let v: Value = serde_json::from_str(ev.to_json()).unwrap();
        assert_eq!(
            v,
            json!({"type":"error","code":"thread_busy","message":"busy"})
        );
    }
}
