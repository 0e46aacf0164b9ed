//! The streaming half of ChatKit: a turn of the chat core as a ChatKit event stream.
//!
//! [`Mapper`] turns the core's `ChatEvent`s into ChatKit events (§4): the stored user message
//! as `thread.item.done` then `stream_options`; tool calls as `progress_update` plus a
//! `workflow` item whose tasks grow as tools run (done with the answer); the answer as `thread.item.added`,
//! `content_part.added`, `text_delta`s, `content_part.done` and `thread.item.done`; the task widget
//! of the tasks its tools touched; a new thread's title as a final `thread.updated`; a failure as one `error` event that ends the
//! stream. Framing is `data: <json>\n\n` only (no `event:`, no keep-alive comments).
//!
//! Stop = disconnect: the response holds the turn's cancel-on-drop guard, so a client that
//! goes away cancels the turn (the core keeps the partial answer, status `cancelled`), and a
//! hidden context item records the cancellation once the turn has ended.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::http::HeaderValue;
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream};
use serde_json::{json, Value};
use tokio_util::sync::DropGuard;

use super::attachments::Links;
use super::items::{
    assistant_item, tool_label, touched_tasks, user_item, widget_item, workflow_item,
    workflow_task, TaskBoard,
};
use super::lookup::task_board;
use super::types::{ItemBody, OutputText, StreamEvent, Thread};
use crate::chat::event::ChatEvent;
use crate::chat::{Chat, Turn};
use crate::error::ErrorBody;
use crate::model::{Message, MessageStatus, Role, ThreadId, ToolCall, UserId};

/// What the client asked for, which decides the events around the core's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `threads.create`: `thread.created` first, `thread.updated` (title) last.
    Create,
    /// `threads.add_user_message`.
    Message,
    /// `threads.retry_after_item`: `stream_options` first, no user-message echo.
    Retry,
}

/// The text of the hidden item recorded when the user stops an answer.
pub const CANCELLED_CONTEXT: &str =
    "The user cancelled the previous response. Do not continue the earlier request unless asked.";

/// Maps one turn's core events to ChatKit events. The workflow item of the turn's tool calls
/// stays open (tasks added as tools run) until the answer is stored, so that its `done` form,
/// like the answer's, is exactly what history returns.
pub struct Mapper {
    mode: Mode,
    links: Links,
    /// The details stored with the user message (content parts, attachments …).
    user_details: Option<Value>,
    thread: Option<Thread>,
    assistant: Option<Message>,
    calls: Vec<ToolCall>,
    workflow_open: bool,
    text_started: bool,
    /// The user's tasks when the answer was stored, for its task widget.
    pub board: TaskBoard,
    /// True once the turn's last event (`message.done` or `error`) has been mapped.
    pub over: bool,
}

impl Mapper {
    pub fn new(mode: Mode, links: Links, user_details: Option<Value>) -> Self {
        Mapper {
            mode,
            links,
            user_details,
            thread: None,
            assistant: None,
            calls: Vec::new(),
            workflow_open: false,
            text_started: false,
            board: TaskBoard::new(),
            over: false,
        }
    }

    /// The events to send for one core event, appended to `out`.
    pub fn map(&mut self, event: &ChatEvent, out: &mut VecDeque<StreamEvent>) {
        match event {
            ChatEvent::ThreadCreated { thread } => {
                let mut t = Thread {
                    id: thread.id.to_string(),
                    created_at: thread.created_at,
                    title: thread.title.clone(),
                    status: json!({"type": "active"}),
                    metadata: json!({}),
                    items: super::types::Page::empty(),
                };
                self.thread = Some(t.clone());
                // Like the reference, a new thread starts untitled; its title follows in
                // `thread.updated` once the answer is done.
                t.title = None;
                out.push_back(StreamEvent::ThreadCreated { thread: t });
            }
            ChatEvent::MessageAdded { message, .. } => match message.role {
                Role::User if self.mode != Mode::Retry => {
                    let item = user_item(message, self.user_details.as_ref(), &self.links);
                    out.push_back(StreamEvent::ItemDone { item });
                    out.push_back(StreamEvent::stream_options());
                }
                Role::Assistant => self.assistant = Some(message.clone()),
                _ => {}
            },
            ChatEvent::ToolCalled {
                tool_name,
                arguments,
                result,
                ..
            } => self.tool_called(tool_name, arguments, result, out),
            ChatEvent::StreamDelta { delta, .. } => {
                let Some(m) = self.assistant.clone() else {
                    return;
                };
                if !self.text_started {
                    self.text_started = true;
                    let mut item = assistant_item(&m, "");
                    item.body = ItemBody::AssistantMessage {
                        content: Vec::new(),
                        status: None,
                        next_seq: None,
                    };
                    out.push_back(StreamEvent::ItemAdded { item });
                    out.push_back(StreamEvent::ItemUpdated {
                        item_id: m.id.to_string(),
                        update: json!({"type": "assistant_message.content_part.added",
                            "content_index": 0, "content": OutputText::new("")}),
                    });
                }
                out.push_back(StreamEvent::ItemUpdated {
                    item_id: m.id.to_string(),
                    update: json!({"type": "assistant_message.content_part.text_delta",
                        "content_index": 0, "delta": delta}),
                });
            }
            ChatEvent::MessageDone { message, .. } => {
                // Done items carry the stored message's timestamp, as history will show them.
                self.assistant = Some(message.clone());
                self.close_workflow(out);
                if !message.content.is_empty() && message.status != MessageStatus::Failed {
                    if self.text_started {
                        out.push_back(StreamEvent::ItemUpdated {
                            item_id: message.id.to_string(),
                            update: json!({"type": "assistant_message.content_part.done",
                                "content_index": 0, "content": OutputText::new(&message.content)}),
                        });
                    }
                    out.push_back(StreamEvent::ItemDone {
                        item: assistant_item(message, &message.content),
                    });
                }
                if message.status != MessageStatus::Failed {
                    if let Some(item) = widget_item(message, &self.board) {
                        out.push_back(StreamEvent::ItemDone { item });
                    }
                }
                if self.mode == Mode::Create {
                    if let Some(thread) = self.thread.take().filter(|t| t.title.is_some()) {
                        out.push_back(StreamEvent::ThreadUpdated { thread });
                    }
                }
                self.over = true;
            }
            ChatEvent::Error { error, .. } => {
                out.push_back(error_event(error));
                self.over = true;
            }
            ChatEvent::TaskChanged { .. }
            | ChatEvent::MessageQueued { .. }
            | ChatEvent::MessageUnqueued { .. } => {}
        }
    }

    fn tool_called(
        &mut self,
        tool_name: &str,
        arguments: &Value,
        result: &Value,
        out: &mut VecDeque<StreamEvent>,
    ) {
        let Some(m) = self.assistant.clone() else {
            return;
        };
        let call = ToolCall {
            id: None,
            tool_name: tool_name.to_string(),
            arguments: arguments.clone(),
            result: result.clone(),
        };
        out.push_back(StreamEvent::Progress {
            icon: Some("check"),
            text: tool_label(tool_name),
        });
        if self.calls.is_empty() {
            self.calls.push(call);
            self.workflow_open = true;
            out.push_back(StreamEvent::ItemAdded {
                item: workflow_item(&m, &self.calls, false),
            });
        } else {
            out.push_back(StreamEvent::ItemUpdated {
                item_id: workflow_item(&m, &[], false).id,
                update: json!({"type": "workflow.task.added",
                    "task_index": self.calls.len(), "task": workflow_task(&call)}),
            });
            self.calls.push(call);
        }
    }

    fn close_workflow(&mut self, out: &mut VecDeque<StreamEvent>) {
        if !self.workflow_open {
            return;
        }
        self.workflow_open = false;
        if let Some(m) = &self.assistant {
            out.push_back(StreamEvent::ItemDone {
                item: workflow_item(m, &self.calls, true),
            });
        }
    }
}

/// The in-band `error` event for a core error: our message when the client may see it, the
/// generic `stream.error` for internal failures.
fn error_event(error: &ErrorBody) -> StreamEvent {
    if error.code == "internal" {
        StreamEvent::Error {
            code: "stream.error",
            message: None,
            allow_retry: true,
        }
    } else {
        StreamEvent::Error {
            code: "custom",
            message: Some(error.message.clone()),
            allow_retry: true,
        }
    }
}

/// One ChatKit response stream over a running turn.
pub struct Run {
    chat: Chat,
    user: UserId,
    thread_id: ThreadId,
    turn: Option<Turn>,
    _stop_on_drop: DropGuard,
    mapper: Mapper,
    queue: VecDeque<StreamEvent>,
}

impl Run {
    pub fn new(chat: Chat, user: UserId, turn: Turn, mapper: Mapper) -> Self {
        let mut queue = VecDeque::new();
        if mapper.mode == Mode::Retry {
            queue.push_back(StreamEvent::stream_options());
        }
        Run {
            chat,
            user,
            thread_id: turn.thread_id,
            _stop_on_drop: turn.cancel_on_drop(),
            turn: Some(turn),
            mapper,
            queue,
        }
    }

    async fn next_event(&mut self) -> Option<StreamEvent> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(event);
            }
            if self.mapper.over {
                return None;
            }
            let event = self.turn.as_mut()?.next().await;
            let Some(event) = event else {
                // The turn ended without a last event (it cannot, but never hang or lie).
                self.mapper.over = true;
                self.queue.push_back(error_event(&ErrorBody {
                    code: "internal".into(),
                    message: String::new(),
                }));
                continue;
            };
            if let ChatEvent::MessageDone { message, .. } = &event.body {
                if !touched_tasks(&message.tool_calls).is_empty() {
                    match task_board(&self.chat, &self.user).await {
                        Ok(board) => self.mapper.board = board,
                        Err(e) => e.log_if_internal(),
                    }
                }
            }
            self.mapper.map(&event.body, &mut self.queue);
        }
    }

    /// The SSE response.
    pub fn into_response(self) -> Response {
        let events = stream::unfold(self, |mut run| async move {
            let event = run.next_event().await?;
            Some((
                Ok::<_, Infallible>(SseEvent::default().data(event.to_json())),
                run,
            ))
        });
        sse_response(events)
    }
}

impl Drop for Run {
    /// A stream dropped before the turn's last event is a stop: the guard cancels the turn;
    /// once the core has persisted the partial answer, the hidden marker is written after it.
    fn drop(&mut self) {
        if self.mapper.over {
            return;
        }
        let Some(mut turn) = self.turn.take() else {
            return;
        };
        turn.cancel();
        let (chat, user, thread) = (self.chat.clone(), self.user.clone(), self.thread_id);
        // Dropped outside a runtime (never in the server): the cancel above still stops the turn.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            while turn.next().await.is_some() {}
            let content = json!({"type": "sdk_hidden_context", "content": CANCELLED_CONTEXT});
            if let Err(e) = chat.add_hidden_item(&user, thread, &content).await {
                e.log_if_internal();
            }
        });
    }
}

/// A stream of already known events (custom actions).
pub fn fixed(events: Vec<StreamEvent>) -> Response {
    let events = stream::iter(
        events
            .into_iter()
            .map(|e| Ok::<_, Infallible>(SseEvent::default().data(e.to_json()))),
    );
    sse_response(events)
}

fn sse_response(
    events: impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static,
) -> Response {
    let mut response = Sse::new(events).into_response();
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
