//! One turn's events as the AI SDK's UI message chunks (`UIMessageChunk` in `ai`).
//!
//! The translation is a pure function of the turn's events, in order: the same events always
//! give the same chunks, which is what lets a client resume by chunk number (`sequence`) on any
//! instance, from the live turn or from [`crate::chat::Chat::follow`]'s replay of it. The shape
//! follows what the SDK's own `streamText(...).toUIMessageStream()` sends for a model with
//! server-side tools:
//!
//! - `start` (our answer's id as `messageId`; metadata `threadId`, `messageId`, `createdAt`),
//!   then `start-step`;
//! - text as `text-start` / `text-delta` / `text-end`;
//! - each tool call as `tool-input-available` then `tool-output-available` (the tool ran on
//!   the server); text after a tool call opens a new step (`finish-step`, `start-step`), as the
//!   model's next call does in `streamText`;
//! - the end: `finish-step`, then `finish` with `finishReason` `stop` (completed), `interrupted`
//!   (stopped for another message) or `error` (failed), and metadata `status` and `usage`
//!   (`inputTokens`, `outputTokens`, `totalTokens`). A cancelled answer ends with its metadata
//!   as `message-metadata` and an `abort` chunk, as a stream the SDK aborts does;
//! - a failure as an `error` chunk (`errorText` is `code: message`).

use serde_json::{json, Value};

use crate::chat::event::ChatEvent;
use crate::error::ErrorBody;
use crate::model::{Message, MessageId, MessageStatus, Role, ThreadId};

/// The chunk translator of one turn on one thread.
pub struct Chunks {
    thread: ThreadId,
    /// The answer, once its `message.added` (or its `message.done`) arrived.
    answer: Option<MessageId>,
    /// The id of the text part open now.
    text: Option<String>,
    /// Text streamed so far (a final message longer than it sends the rest).
    streamed: String,
    /// Parts opened so far: numbers the ids of text parts and tool calls.
    parts: u32,
    /// Whether the current step made a tool call (then text opens a new step).
    step_called: bool,
    /// Whether the answer produced anything (a failure then still gets its `message.done`).
    produced: bool,
    errored: bool,
    ended: bool,
}

impl Chunks {
    pub fn new(thread: ThreadId) -> Self {
        Chunks {
            thread,
            answer: None,
            text: None,
            streamed: String::new(),
            parts: 0,
            step_called: false,
            produced: false,
            errored: false,
            ended: false,
        }
    }

    /// Whether the turn's last chunk was made: nothing follows.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The chunks `event` makes, in order; none for an event of another thread or message,
    /// or after the end.
    pub fn push(&mut self, event: &ChatEvent) -> Vec<Value> {
        let mut out = Vec::new();
        if self.ended || event.thread_id() != Some(self.thread) {
            return out;
        }
        match event {
            ChatEvent::MessageAdded { message, .. }
                if message.role == Role::Assistant && self.answer.is_none() =>
            {
                self.start(message, &mut out);
            }
            ChatEvent::StreamDelta {
                message_id, delta, ..
            } if Some(*message_id) == self.answer => {
                self.text_delta(delta, &mut out);
            }
            ChatEvent::ToolCalled {
                message_id,
                tool_name,
                arguments,
                result,
                ..
            } if Some(*message_id) == self.answer => {
                self.close_text(&mut out);
                let id = format!("{}-tool-{}", message_id, self.next_part());
                out.push(json!({"type": "tool-input-available", "toolCallId": id,
                    "toolName": tool_name, "input": arguments}));
                out.push(json!({"type": "tool-output-available", "toolCallId": id,
                    "output": result}));
                self.step_called = true;
                self.produced = true;
            }
            ChatEvent::Error { error, .. } => {
                out.push(error_chunk(error));
                self.errored = true;
                // A turn that produced nothing ends with its error; otherwise its final
                // message (status `failed`) follows.
                if !self.produced {
                    self.end(None, &mut out);
                }
            }
            ChatEvent::MessageDone { message, .. }
                if message.role == Role::Assistant
                    && self.answer.is_none_or(|id| id == message.id) =>
            {
                if self.answer.is_none() {
                    self.start(message, &mut out);
                }
                // The stored text may hold what no delta carried (a repeated send's answer).
                if let Some(rest) = message.content.strip_prefix(self.streamed.as_str()) {
                    if !rest.is_empty() {
                        self.text_delta(rest, &mut out);
                    }
                }
                self.end(Some(message), &mut out);
            }
            _ => {}
        }
        out
    }

    /// The chunks that end a turn whose events stopped before its end: those of a failed end
    /// when it had reported an error (its final message was lost), `None` when it had not
    /// (the stream was cut; the caller reports that).
    pub fn close(&mut self) -> Option<Vec<Value>> {
        if self.ended {
            return Some(Vec::new());
        }
        if !self.errored {
            return None;
        }
        let mut out = Vec::new();
        self.end(None, &mut out);
        Some(out)
    }

    fn next_part(&mut self) -> u32 {
        self.parts += 1;
        self.parts
    }

    fn start(&mut self, answer: &Message, out: &mut Vec<Value>) {
        self.answer = Some(answer.id);
        out.push(json!({
            "type": "start",
            "messageId": answer.id,
            "messageMetadata": {
                "threadId": self.thread,
                "messageId": answer.id,
                "createdAt": answer.created_at,
            },
        }));
        out.push(json!({"type": "start-step"}));
    }

    fn text_delta(&mut self, delta: &str, out: &mut Vec<Value>) {
        if self.step_called {
            out.push(json!({"type": "finish-step"}));
            out.push(json!({"type": "start-step"}));
            self.step_called = false;
        }
        let id = match &self.text {
            Some(id) => id.clone(),
            None => {
                let id = format!("text-{}", self.next_part());
                out.push(json!({"type": "text-start", "id": id}));
                self.text = Some(id.clone());
                id
            }
        };
        out.push(json!({"type": "text-delta", "id": id, "delta": delta}));
        self.streamed.push_str(delta);
        self.produced = true;
    }

    fn close_text(&mut self, out: &mut Vec<Value>) {
        if let Some(id) = self.text.take() {
            out.push(json!({"type": "text-end", "id": id}));
        }
    }

    /// The last chunks: those of `done`'s status, or of a failure without a final message.
    fn end(&mut self, done: Option<&Message>, out: &mut Vec<Value>) {
        self.ended = true;
        self.close_text(out);
        if self.answer.is_none() {
            // Failed before the answer started: the error said it all.
            return;
        }
        out.push(json!({"type": "finish-step"}));
        let status = done.map_or(MessageStatus::Failed, |m| m.status);
        let mut metadata = json!({"status": status.as_str()});
        if let Some(usage) = done.and_then(|m| m.usage) {
            metadata["usage"] = json!({
                "inputTokens": usage.prompt_tokens,
                "outputTokens": usage.completion_tokens,
                "totalTokens": usage.total_tokens,
            });
        }
        let reason = match status {
            MessageStatus::Completed => "stop",
            MessageStatus::Interrupted => "interrupted",
            MessageStatus::Failed => "error",
            MessageStatus::InProgress => "other",
            MessageStatus::Cancelled => {
                out.push(json!({"type": "message-metadata", "messageMetadata": metadata}));
                out.push(json!({"type": "abort", "reason": "cancelled"}));
                return;
            }
        };
        out.push(json!({"type": "finish", "finishReason": reason, "messageMetadata": metadata}));
    }
}

/// The `error` chunk of an error: `errorText` is `code: message`.
pub fn error_chunk(error: &ErrorBody) -> Value {
    json!({"type": "error", "errorText": error_text(error)})
}

/// How an error reads in the protocol's `errorText`: `code: message`.
pub fn error_text(error: &ErrorBody) -> String {
    format!("{}: {}", error.code, error.message)
}

#[cfg(test)]
mod tests;
