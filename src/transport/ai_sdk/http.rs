//! `POST /api/ai-sdk` and `GET /api/ai-sdk/{chat_id}/stream`: the UI message stream that the
//! AI SDK's `DefaultChatTransport` reads, as Server-Sent Events (`data: <chunk>` each, numbered
//! by `id:`, then `data: [DONE]`, with `x-vercel-ai-ui-message-stream: v1`).
//!
//! The POST starts a turn (bearer token, as the REST API); everything is checked before the
//! stream starts, so a bad request is a JSON error, never a broken stream. A client that
//! disconnects does not stop the turn: `GET /api/ai-sdk/{chat_id}/stream` replays the running
//! turn of the chat from its start (after the chunk numbered `Last-Event-ID`, when sent), on
//! any instance, and answers 204 when none runs there, which is what the SDK's `resume`
//! expects.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde_json::Value;

use super::chunks::error_chunk;
use super::request::parse_body;
use super::{chunk_stream, ChatThreads, Cut, Source};
use crate::auth::AuthUser;
use crate::error::{Error, ErrorBody, Result};
use crate::model::ThreadId;
use crate::state::AppState;
use crate::transport::{rest, sse, ApiJson, ApiPath};

/// `POST /api/ai-sdk`: one turn of the chat `id`, as a UI message stream.
/// Its body limit is the AI SDK's (`AI_SDK_MAX_BODY_BYTES`, see [`super::routes`]).
pub async fn chat(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response> {
    let request = parse_body(&body)?;
    let threads = ChatThreads {
        chat: &state.chat,
        user: &auth.0,
    };
    let turn = threads.start(&request).await?;
    let thread = turn.thread_id;
    Ok(ui_stream(chunk_stream(Source::Turn(turn), thread), 0))
}

/// `GET /api/ai-sdk/{chat_id}/stream`: the running turn of the chat from its start (after the
/// chunk numbered `Last-Event-ID`); 204 when none runs.
pub async fn resume(
    State(state): State<AppState>,
    auth: AuthUser,
    ApiPath(chat_id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let after = match headers.get("last-event-id") {
        None => 0,
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|n| n + 1)
            .ok_or_else(|| Error::invalid("Last-Event-ID must be a chunk number of this stream"))?,
    };
    let threads = ChatThreads {
        chat: &state.chat,
        user: &auth.0,
    };
    let Some((thread, followed)) = threads.follow(&chat_id) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    Ok(ui_stream(resumed(followed, thread), after))
}

/// `POST /api/ai-sdk/chat/stream` is `POST /api/{user_id}/chat/stream` for a user called
/// `ai-sdk`, a path the resume route's pattern takes first (a static segment wins over a
/// parameter): handed over to it. No other chat id takes a POST here (405).
pub async fn shadowed(
    State(state): State<AppState>,
    ApiPath(chat_id): ApiPath<String>,
    req: Request,
) -> Response {
    if chat_id != "chat" {
        return rest::method_not_allowed().await.into_response();
    }
    let handed = async {
        let (mut parts, body) = req.into_parts();
        let auth = AuthUser::from_request_parts(&mut parts, &state).await?;
        let body = ApiJson::from_request(Request::from_parts(parts, body), &state).await?;
        sse::chat_stream(State(state.clone()), auth, ApiPath("ai-sdk".into()), body).await
    };
    handed.await.into_response()
}

fn resumed(
    followed: crate::chat::Followed,
    thread: ThreadId,
) -> impl Stream<Item = std::result::Result<(u64, Value), Cut>> + Send + 'static {
    chunk_stream(Source::Followed(followed), thread)
}

/// The SSE response of a chunk stream, from the chunk numbered `from`.
fn ui_stream(
    chunks: impl Stream<Item = std::result::Result<(u64, Value), Cut>> + Send + 'static,
    from: u64,
) -> Response {
    let events = chunks
        .filter_map(move |item| async move {
            match item {
                Ok((sequence, _)) if sequence < from => None,
                Ok((sequence, chunk)) => Some(
                    SseEvent::default()
                        .id(sequence.to_string())
                        .data(chunk.to_string()),
                ),
                // Said as the stream's own error: the status line went out long ago.
                Err(Cut) => {
                    let lost = ErrorBody {
                        code: "stream_lost".into(),
                        message: "the turn could not be followed to its end; resume again".into(),
                    };
                    Some(SseEvent::default().data(error_chunk(&lost).to_string()))
                }
            }
        })
        .chain(futures::stream::once(async {
            SseEvent::default().data("[DONE]")
        }))
        .map(Ok::<_, Infallible>);
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("x-vercel-ai-ui-message-stream"),
        HeaderValue::from_static("v1"),
    );
    headers.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    response
}
