//! The schema of the chat core's events, as Server-Sent Events carry them in `data:`.
//!
//! [`ChatEvent`] stays free of documentation concerns, so [`WireEvent`] restates its wire form
//! with derived schemas; a test round-trips one event of every kind through it, so the two
//! cannot drift apart.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::chat::event::ThreadView;
use crate::error::ErrorBody;
use crate::model::{Message, MessageId, QueuedMessage, Task, TaskChange, ThreadId};

/// One event of a turn (docs/protocol.md). Over SSE it also carries `conversation_id`, and
/// `response` and `status` on `stream.delta`, `message.done` and `error`.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type")]
#[schemars(rename = "ChatEvent")]
enum WireEvent {
    #[serde(rename = "thread.created")]
    ThreadCreated { thread: ThreadView },
    #[serde(rename = "message.added")]
    MessageAdded {
        thread_id: ThreadId,
        message: Message,
    },
    #[serde(rename = "stream.delta")]
    StreamDelta {
        thread_id: ThreadId,
        message_id: MessageId,
        delta: String,
        seq: u32,
    },
    #[serde(rename = "tool.called")]
    ToolCalled {
        thread_id: ThreadId,
        message_id: MessageId,
        tool_name: String,
        arguments: Value,
        result: Value,
    },
    #[serde(rename = "task.changed")]
    TaskChanged {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread_id: Option<ThreadId>,
        change: TaskChange,
        task: Task,
    },
    #[serde(rename = "message.done")]
    MessageDone {
        thread_id: ThreadId,
        message: Message,
    },
    #[serde(rename = "message.queued")]
    MessageQueued {
        thread_id: ThreadId,
        message: QueuedMessage,
    },
    #[serde(rename = "message.unqueued")]
    MessageUnqueued {
        thread_id: ThreadId,
        message_id: MessageId,
        reason: Unqueued,
    },
    #[serde(rename = "error")]
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread_id: Option<ThreadId>,
        #[serde(flatten)]
        error: ErrorBody,
    },
}

/// Why a message left its thread's queue.
#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Unqueued {
    Started,
    Cancelled,
}

/// The `content` of an SSE answer whose events are [`WireEvent`]s: `id:` (the event's number
/// in its turn; none on queue events), `event:` (its type) and `data:` (its JSON).
pub fn chat_stream(generator: &mut schemars::SchemaGenerator) -> Value {
    let event = generator.subschema_for::<WireEvent>().to_value();
    json!({"text/event-stream": {"schema": {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"type": "string"},
            "id": {"type": "string", "pattern": "^[0-9]+$"},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": event,
            },
        },
    }}})
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::Utc;

    use super::*;
    use crate::chat::event::{self, ChatEvent};
    use crate::model::{MessageStatus, Priority, QueuedStatus, Role};

    fn message(thread: ThreadId) -> Message {
        Message {
            id: MessageId::new(),
            conversation_id: thread,
            seq: 1,
            role: Role::Assistant,
            content: "hi".into(),
            tool_calls: Vec::new(),
            status: MessageStatus::InProgress,
            usage: None,
            created_at: Utc::now(),
            next_seq: Some(0),
        }
    }

    fn one_of_each() -> Vec<ChatEvent> {
        let thread_id = ThreadId::new();
        let message_id = MessageId::new();
        let task = Task {
            number: 1,
            title: "t".into(),
            priority: Priority::High,
            due_date: None,
            completed: false,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        vec![
            ChatEvent::ThreadCreated {
                thread: ThreadView {
                    id: thread_id,
                    title: Some("t".into()),
                    created_at: Utc::now(),
                    updated_at: Utc::now(),
                    metadata: json!({"k": 1}),
                },
            },
            ChatEvent::MessageAdded {
                thread_id,
                message: message(thread_id),
            },
            ChatEvent::StreamDelta {
                thread_id,
                message_id,
                delta: "d".into(),
                seq: 3,
            },
            ChatEvent::ToolCalled {
                thread_id,
                message_id,
                tool_name: "add_task".into(),
                arguments: json!({"title": "t"}),
                result: json!({"ok": true}),
            },
            ChatEvent::TaskChanged {
                thread_id: None,
                change: TaskChange::Added,
                task,
            },
            ChatEvent::MessageDone {
                thread_id,
                message: message(thread_id),
            },
            ChatEvent::MessageQueued {
                thread_id,
                message: QueuedMessage {
                    id: message_id,
                    conversation_id: thread_id,
                    role: Role::User,
                    content: "q".into(),
                    status: QueuedStatus::Queued,
                    position: 1,
                    created_at: Utc::now(),
                },
            },
            ChatEvent::MessageUnqueued {
                thread_id,
                message_id,
                reason: event::Unqueued::Cancelled,
            },
            ChatEvent::Error {
                thread_id: Some(thread_id),
                error: crate::error::Error::ThreadBusy.body(),
            },
        ]
    }

    #[test]
    fn every_kind_of_event_reads_and_writes_as_its_schema_says() {
        let events = one_of_each();
        let kinds: BTreeSet<&str> = events.iter().map(ChatEvent::kind).collect();
        assert_eq!(kinds.len(), events.len(), "one event of each kind");
        for e in events {
            let written = serde_json::to_value(&e).unwrap();
            let wire: WireEvent = serde_json::from_value(written.clone())
                .unwrap_or_else(|err| panic!("{}: {err}", e.kind()));
            assert_eq!(
                serde_json::to_value(&wire).unwrap(),
                written,
                "{}",
                e.kind()
            );
        }
    }
}
