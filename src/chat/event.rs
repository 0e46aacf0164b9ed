//! `ChatEvent`: what a turn emits, in the order it happens.
//!
//! One enum for every transport. The serde names are the WebSocket and SSE wire names, so an
//! event is serialised once and the same bytes can go to every socket of the user.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ErrorBody;
use crate::model::{
    Conversation, Message, MessageId, QueuedMessage, Task, TaskChange, ThreadId, UserId,
};

/// The thread summary carried by `thread.created` and thread listings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// Something that happened in a turn. It also reads back from its wire form, which is how an
/// event published on another instance arrives here (see `relay`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ChatEvent {
    /// A new thread was created for this turn.
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
    /// A message was queued behind the thread's running turn (`on_busy: "enqueue"`); `message`
    /// says its `position` in the queue.
    #[serde(rename = "message.queued")]
    MessageQueued {
        thread_id: ThreadId,
        message: QueuedMessage,
    },
    /// A queued message left the queue: its turn started, or it was cancelled. The messages
    /// queued after it move up one place.
    #[serde(rename = "message.unqueued")]
    MessageUnqueued {
        thread_id: ThreadId,
        message_id: MessageId,
        reason: Unqueued,
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
            ChatEvent::MessageQueued { .. } => "message.queued",
            ChatEvent::MessageUnqueued { .. } => "message.unqueued",
            ChatEvent::Error { .. } => "error",
        }
    }

    /// Whether the event is about a thread's queue rather than a turn.
    pub fn is_queue(&self) -> bool {
        matches!(
            self,
            ChatEvent::MessageQueued { .. } | ChatEvent::MessageUnqueued { .. }
        )
    }

    pub fn thread_id(&self) -> Option<ThreadId> {
        match self {
            ChatEvent::ThreadCreated { thread } => Some(thread.id),
            ChatEvent::MessageAdded { thread_id, .. }
            | ChatEvent::StreamDelta { thread_id, .. }
            | ChatEvent::ToolCalled { thread_id, .. }
            | ChatEvent::MessageDone { thread_id, .. }
            | ChatEvent::MessageQueued { thread_id, .. }
            | ChatEvent::MessageUnqueued { thread_id, .. } => Some(*thread_id),
            ChatEvent::TaskChanged { thread_id, .. } | ChatEvent::Error { thread_id, .. } => {
                *thread_id
            }
        }
    }
}

/// Why a message left its thread's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unqueued {
    /// Its turn started: `message.added` carries it under the same id.
    Started,
    /// A client cancelled it; it never runs.
    Cancelled,
}

/// A `ChatEvent` addressed to one user, with the `request_id` of the client frame that caused it.
#[derive(Debug, Clone, Serialize)]
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

/// Equal events are the same event for the same user, whether or not either was serialised.
impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.user == other.user && self.body == other.body && self.request_id == other.request_id
    }
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

    /// An event published on another instance, from its wire text. The text is kept as it came,
    /// so every socket receives the very bytes the publishing instance made.
    pub fn from_wire(user: UserId, wire: String) -> serde_json::Result<Self> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(flatten)]
            body: ChatEvent,
            #[serde(default)]
            request_id: Option<String>,
        }
        let Wire { body, request_id } = serde_json::from_str(&wire)?;
        Ok(Event {
            user,
            body,
            request_id,
            wire: OnceLock::from(wire),
        })
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

    #[test]
    fn events_read_back_from_their_wire_text() {
        let task = crate::model::Task {
            number: 3,
            title: "call mom".into(),
            priority: crate::model::Priority::High,
            due_date: None,
            completed: false,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        for (body, request_id) in [
            (
                ChatEvent::Error {
                    thread_id: Some(ThreadId(uuid::Uuid::new_v4())),
                    error: ErrorBody {
                        code: "agent_unavailable".into(),
                        message: "the model did not answer".into(),
                    },
                },
                Some("r9".to_string()),
            ),
            (
                ChatEvent::TaskChanged {
                    thread_id: None,
                    change: TaskChange::Completed,
                    task,
                },
                None,
            ),
        ] {
            let sent = Event::new(UserId::new("u"), body, request_id);
            let back = Event::from_wire(UserId::new("u"), sent.to_json().to_string()).unwrap();
            assert_eq!(back, sent);
        }
        assert!(Event::from_wire(UserId::new("u"), r#"{"type":"stream.delta"}"#.into()).is_err());
    }
}
