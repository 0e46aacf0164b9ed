//! A turn's events as UI message chunks: text, tool calls, steps, errors and every way a turn ends.

use super::*;
use crate::model::Usage;

fn message(thread: ThreadId, status: MessageStatus, content: &str) -> Message {
    Message {
        id: MessageId(uuid::Uuid::from_u128(7)),
        conversation_id: thread,
        seq: 2,
        role: Role::Assistant,
        content: content.into(),
        tool_calls: vec![],
        status,
        usage: Some(Usage {
            prompt_tokens: 3,
            completion_tokens: 4,
            total_tokens: 7,
        }),
        created_at: chrono::Utc::now(),
        next_seq: None,
    }
}

fn kinds(chunks: &[Value]) -> Vec<&str> {
    chunks.iter().map(|c| c["type"].as_str().unwrap()).collect()
}

fn delta(thread: ThreadId, text: &str, seq: u32) -> ChatEvent {
    ChatEvent::StreamDelta {
        thread_id: thread,
        message_id: MessageId(uuid::Uuid::from_u128(7)),
        delta: text.into(),
        seq,
    }
}

#[test]
fn text_then_a_tool_then_text_is_two_steps() {
    let thread = ThreadId(uuid::Uuid::from_u128(1));
    let mut c = Chunks::new(thread);
    let mut user = message(thread, MessageStatus::Completed, "hi");
    user.role = Role::User;
    let mut all = c.push(&ChatEvent::MessageAdded {
        thread_id: thread,
        message: user,
    });
    assert!(all.is_empty(), "the user message makes no chunk");
    for e in [
        ChatEvent::MessageAdded {
            thread_id: thread,
            message: message(thread, MessageStatus::InProgress, ""),
        },
        delta(thread, "On ", 0),
        delta(thread, "it.", 1),
        ChatEvent::ToolCalled {
            thread_id: thread,
            message_id: MessageId(uuid::Uuid::from_u128(7)),
            tool_name: "add_task".into(),
            arguments: json!({"title": "buy milk"}),
            result: json!({"task_id": 1}),
        },
        delta(thread, "Done.", 2),
        ChatEvent::MessageDone {
            thread_id: thread,
            message: message(thread, MessageStatus::Completed, "On it.Done."),
        },
    ] {
        all.extend(c.push(&e));
    }
    assert_eq!(
        kinds(&all),
        [
            "start",
            "start-step",
            "text-start",
            "text-delta",
            "text-delta",
            "text-end",
            "tool-input-available",
            "tool-output-available",
            "finish-step",
            "start-step",
            "text-start",
            "text-delta",
            "text-end",
            "finish-step",
            "finish"
        ]
    );
    assert_eq!(all[0]["messageId"], all[0]["messageMetadata"]["messageId"]);
    assert_eq!(all[6]["toolCallId"], all[7]["toolCallId"]);
    assert_ne!(all[2]["id"], all[10]["id"], "each text part has its own id");
    let finish = all.last().unwrap();
    assert_eq!(finish["finishReason"], "stop");
    assert_eq!(finish["messageMetadata"]["usage"]["totalTokens"], 7);
    assert!(c.ended());
    assert!(c.push(&delta(thread, "late", 3)).is_empty());
}

#[test]
fn a_cancelled_answer_aborts_and_a_failure_without_text_ends_at_its_error() {
    let thread = ThreadId(uuid::Uuid::from_u128(1));
    let mut c = Chunks::new(thread);
    c.push(&ChatEvent::MessageAdded {
        thread_id: thread,
        message: message(thread, MessageStatus::InProgress, ""),
    });
    c.push(&delta(thread, "par", 0));
    let end = c.push(&ChatEvent::MessageDone {
        thread_id: thread,
        message: message(thread, MessageStatus::Cancelled, "partial"),
    });
    assert_eq!(
        kinds(&end),
        [
            "text-delta",
            "text-end",
            "finish-step",
            "message-metadata",
            "abort"
        ]
    );
    assert_eq!(end[0]["delta"], "tial", "the stored rest of the text");

    let mut c = Chunks::new(thread);
    c.push(&ChatEvent::MessageAdded {
        thread_id: thread,
        message: message(thread, MessageStatus::InProgress, ""),
    });
    let error = ErrorBody {
        code: "agent_unavailable".into(),
        message: "down".into(),
    };
    let end = c.push(&ChatEvent::Error {
        thread_id: Some(thread),
        error,
    });
    assert_eq!(kinds(&end), ["error", "finish-step", "finish"]);
    assert_eq!(end[0]["errorText"], "agent_unavailable: down");
    assert_eq!(end[2]["finishReason"], "error");
    assert!(c.ended());
}

#[test]
fn a_stream_cut_before_its_end_is_no_end() {
    let thread = ThreadId(uuid::Uuid::from_u128(1));
    let mut c = Chunks::new(thread);
    c.push(&ChatEvent::MessageAdded {
        thread_id: thread,
        message: message(thread, MessageStatus::InProgress, ""),
    });
    c.push(&delta(thread, "a", 0));
    assert!(c.close().is_none());
    // After an error, a lost final message still ends the stream, as a failure.
    c.push(&ChatEvent::Error {
        thread_id: Some(thread),
        error: ErrorBody {
            code: "internal".into(),
            message: "internal error".into(),
        },
    });
    let end = c.close().unwrap();
    assert_eq!(kinds(&end), ["text-end", "finish-step", "finish"]);
    // Events of another thread make nothing.
    let mut other = Chunks::new(ThreadId(uuid::Uuid::from_u128(2)));
    assert!(other.push(&delta(thread, "x", 0)).is_empty());
}
