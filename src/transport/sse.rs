//! `POST /api/{user_id}/chat/stream`: one turn as Server-Sent Events.
//!
//! Each core event is one `data:` line of JSON with `event:` set to its type. For clients of the
//! first API draft, every event also carries `conversation_id`, deltas carry the delta as
//! `response` with `status: "streaming"`, and `message.done` carries the whole text as `response`
//! with `status: "complete"`. All validation happens before the stream starts, so a bad request
//! is a JSON error, never a broken stream. A client that disconnects does not stop the turn.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream;
use serde_json::{json, Value};

use super::rest::ChatBody;
use super::ApiJson;
use crate::auth::AuthUser;
use crate::chat::event::{ChatEvent, Event};
use crate::error::Result;
use crate::state::AppState;

pub async fn chat_stream(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<ChatBody>,
) -> Result<Response> {
    let user = auth.require(&user_id)?.clone();
    let turn = state.chat.start_turn(body.into_turn_request(user)?).await?;
    let events = stream::unfold(turn, |mut turn| async move {
        let event = turn.next().await?;
        Some((Ok::<_, Infallible>(to_sse(&event)), turn))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// The SSE frame of one event, with the draft-API compatibility fields.
fn to_sse(event: &Event) -> SseEvent {
    let mut value = serde_json::to_value(event).expect("events serialise");
    if let Value::Object(map) = &mut value {
        if let Some(thread_id) = event.body.thread_id() {
            map.insert("conversation_id".into(), json!(thread_id));
        }
        match &event.body {
            ChatEvent::StreamDelta { delta, .. } => {
                map.insert("response".into(), json!(delta));
                map.insert("status".into(), json!("streaming"));
            }
            ChatEvent::MessageDone { message, .. } => {
                map.insert("response".into(), json!(message.content));
                map.insert("status".into(), json!("complete"));
                map.insert("message_status".into(), json!(message.status));
            }
            ChatEvent::Error { .. } => {
                map.insert("status".into(), json!("error"));
            }
            _ => {}
        }
    }
    SseEvent::default()
        .event(event.body.kind())
        .data(value.to_string())
}
