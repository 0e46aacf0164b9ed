//! `POST /api/{user_id}/chat/stream`: one turn as Server-Sent Events.
//!
//! Each core event is one `data:` line of JSON with `event:` set to its type. For clients of the
//! first API draft, every event also carries `conversation_id`, deltas carry the delta as
//! `response` with `status: "streaming"`, and `message.done` carries the whole text as `response`
//! with `status: "complete"`. All validation happens before the stream starts, so a bad request
//! is a JSON error, never a broken stream. A client that disconnects does not stop the turn.
//!
//! Every event has an `id:`, its number within the turn (from 1). A client that lost the stream
//! gets the rest from `GET /api/{user_id}/conversations/{id}/stream` with `Last-Event-ID` (or,
//! without it, the running turn from its start), on any instance; 204 when no turn runs there.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream;
use serde_json::{json, Value};

use super::rest::ChatBody;
use super::{parse_thread_id, ApiJson, ApiPath};
use crate::auth::AuthUser;
use crate::chat::event::{ChatEvent, Event};
use crate::error::{Error, Result};
use crate::state::AppState;

pub async fn chat_stream(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(user_id): ApiPath<String>,
    ApiJson(body): ApiJson<ChatBody>,
) -> Result<Response> {
    let user = auth.require(&user_id)?.clone();
    let turn = state.chat.start_turn(body.into_turn_request(user)?).await?;
    let events = stream::unfold((turn, 0u64), |(mut turn, n)| async move {
        let event = turn.next().await?;
        // A queued message's `message.queued` / `message.unqueued` come before its turn and
        // are not numbered with it: the numbers are those a resume of the turn counts.
        if event.body.is_queue() {
            return Some((Ok::<_, Infallible>(to_sse(&event, None)), (turn, n)));
        }
        Some((Ok(to_sse(&event, Some(n + 1))), (turn, n + 1)))
    });
    Ok(sse_response(events))
}

/// `GET /api/{user_id}/conversations/{conversation_id}/stream`: the rest of the turn running
/// on that conversation, after the event numbered `Last-Event-ID` (all of it without one); 204
/// when no turn runs there.
pub async fn resume_stream(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath((user_id, conversation_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response> {
    let user = auth.require(&user_id)?.clone();
    let thread = parse_thread_id(&conversation_id)?;
    let after = match headers.get("last-event-id") {
        None => 0,
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                Error::invalid("Last-Event-ID must be an event number of this stream")
            })?,
    };
    // Another user's conversation, or none: 404, never a hint.
    state.chat.read(&user).thread(thread).await?;
    let Some(followed) = state.chat.follow(&user, thread) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let events = stream::unfold((followed, 0u64), move |(mut followed, mut n)| async move {
        loop {
            let event = followed.next().await?;
            n += 1;
            if n > after {
                return Some((Ok::<_, Infallible>(to_sse(&event, Some(n))), (followed, n)));
            }
        }
    });
    Ok(sse_response(events))
}

fn sse_response(
    events: impl futures::Stream<Item = std::result::Result<SseEvent, Infallible>> + Send + 'static,
) -> Response {
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// The SSE frame of one event, numbered `n` in its turn (when it is one of the turn's), with
/// the draft-API compatibility fields.
fn to_sse(event: &Event, n: Option<u64>) -> SseEvent {
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
    let frame = SseEvent::default()
        .event(event.body.kind())
        .data(value.to_string());
    match n {
        Some(n) => frame.id(n.to_string()),
        None => frame,
    }
}
