//! `GET /api/ai-sdk/ws`: the protocol of the AI SDK's `WebSocketChatTransport`, one socket
//! carrying the streams of many chats, each correlated by the client's `requestId`.
//!
//! Client frames: `send` (a turn: `start`, then `chunk`s numbered by `sequence`, then `end`),
//! `resume` (the running turn of a chat from its start, without the chunks up to `lastSequence`;
//! `no-active` when none runs) and `abort` (a send's abort cancels its turn, keeping the text
//! so far; a resume's abort only stops the stream, since the SDK also aborts a resume it merely
//! replaces). A refused frame gets `error` with `errorText` `code: message`, under the frame's
//! `requestId` (empty when it had no usable one, which the SDK ignores).
//!
//! Authentication, the same JWT rules as everywhere: a token at the handshake (`Authorization`
//! header, `?token=`, or the subprotocol `bearer.<token>`: browsers cannot set headers),
//! refused with close 4401; or the `Authorization` header inside a frame's `headers`, checked
//! on every frame that has one (a refused one gets `error`). The first good token decides the
//! socket's user; a socket with none after `WS_AUTH_TIMEOUT_SECS` is closed with 4408, and one
//! whose newest token expired, `WS_TOKEN_GRACE_SECS` later, with 4401.
//!
//! One task per socket runs one `select!` over client frames, the streams of its requests, a
//! ping tick, the auth deadline and shutdown. Turns run in their own tasks: closing the socket
//! never stops one.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use futures::stream::{AbortHandle, BoxStream, SelectAll};
use futures::{FutureExt, StreamExt};
use serde_json::{Map, Value};
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use super::request::{parse_frame, BadFrame, Frame};
use super::responses::{error_frame, frame, frames, Out};
use super::socket_auth::SocketAuth;
use super::{ChatThreads, Source};
use crate::auth::bearer;
use crate::error::Error;
use crate::model::{ThreadId, UserId};
use crate::state::AppState;
use crate::transport::nul;
use crate::transport::ws::close;
use crate::transport::ws::socket::{self, send_close, WriteFailed, BATCH};
use crate::transport::ws::WsQuery;
use crate::transport::ApiQuery;

/// The subprotocol this endpoint answers with when the client offers it.
pub const PROTOCOL: &str = "agentwire";

/// Streams one socket may carry at once: each holds a turn's events or a subscription.
const MAX_STREAMS: usize = 32;

pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<WsQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Ok(ws) = ws else {
        return Error::invalid("GET /api/ai-sdk/ws expects a WebSocket upgrade").into_response();
    };
    let offered = offered_protocols(&headers);
    let from_protocol = offered.iter().find_map(|p| p.strip_prefix("bearer."));
    let token = bearer(&headers)
        .map(str::to_string)
        .or(query.token)
        .or(from_protocol.map(str::to_string));
    // A browser that offered subprotocols fails the handshake unless one is chosen: ours when
    // offered, else the token's own.
    let chosen = if offered.iter().any(|p| p == PROTOCOL) {
        Some(PROTOCOL.to_string())
    } else {
        offered.iter().find(|p| p.starts_with("bearer.")).cloned()
    };
    let ws = match chosen {
        Some(p) => ws.protocols([p]),
        None => ws,
    };
    let max = state.config.ai_sdk_max_body_bytes;
    // Sends carry whole chats: frames as large as an AI SDK body. The write buffer is bounded
    // so that a peer that does not read cannot grow our memory.
    ws.read_buffer_size(4096)
        .write_buffer_size(8 * 1024)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| {
            let tracker = state.connections.clone();
            tracker.track_future(run(state, socket, token))
        })
}

/// The `Sec-WebSocket-Protocol` values the client offered.
fn offered_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

async fn run(state: AppState, socket: WebSocket, token: Option<String>) {
    let cfg = &state.config.ws;
    let auth = SocketAuth::new(cfg.auth_timeout, cfg.token_grace);
    let mut conn = Connection {
        state,
        socket,
        auth,
        active: HashMap::new(),
        streams: SelectAll::new(),
    };
    if let Some(token) = token {
        match conn.state.jwt.verify(&token) {
            Ok(v) => conn.auth.sign_in(&v),
            Err(_) => {
                send_close(
                    &mut conn.socket,
                    close::UNAUTHORIZED,
                    "invalid or expired token",
                )
                .await;
                return;
            }
        }
    }
    if let Some((code, reason)) = conn.serve().await {
        send_close(&mut conn.socket, code, reason).await;
    }
}

/// A request whose stream is running.
struct Active {
    /// A send's turn, which its abort cancels (that turn only, even if the thread has moved on
    /// to another); a resume's abort only stops the stream.
    turn: Option<CancellationToken>,
    abort: AbortHandle,
}

struct Connection {
    state: AppState,
    socket: WebSocket,
    auth: SocketAuth,
    active: HashMap<String, Active>,
    streams: SelectAll<BoxStream<'static, Out>>,
}

impl Connection {
    /// Serves the socket until it ends; the close frame to send, if any.
    async fn serve(&mut self) -> Option<(u16, &'static str)> {
        let cfg = self.state.config.ws.clone();
        let closing = self.state.closing.clone();
        // Made once, not per pass of the loop: a new one registers with the token again.
        let shutdown = closing.cancelled();
        tokio::pin!(shutdown);
        let mut ping =
            tokio::time::interval_at(Instant::now() + cfg.ping_interval, cfg.ping_interval);
        let mut missed_pongs = 0u32;
        let deadline = sleep_until(self.auth.deadline());
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => {
                    // Every turn has ended: what their streams hold now goes out first.
                    let frames = self.ready_frames(None);
                    if self.send(frames).await.is_err() {
                        return None;
                    }
                    return Some((close::GOING_AWAY, "server shutting down"));
                }
                Some(out) = self.streams.next(), if !self.streams.is_empty() => {
                    let frames = self.ready_frames(Some(out));
                    if self.send(frames).await.is_err() {
                        return None;
                    }
                }
                incoming = self.socket.recv() => match incoming {
                    None | Some(Ok(Message::Close(_))) => return None,
                    Some(Err(e)) => return read_error(e),
                    Some(Ok(Message::Text(text))) => {
                        missed_pongs = 0;
                        // Boxed: the frame handler's future is large (it reaches the store).
                        if Box::pin(self.handle_text(text.as_str())).await.is_err() {
                            return None;
                        }
                        deadline.as_mut().reset(self.auth.deadline());
                    }
                    Some(Ok(Message::Binary(_))) => {
                        missed_pongs = 0;
                        let e = Error::invalid("binary frames are not supported; send JSON text");
                        if self.send_error("", &e).await.is_err() {
                            return None;
                        }
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => missed_pongs = 0,
                },
                _ = ping.tick() => {
                    if missed_pongs >= 2 {
                        return None;
                    }
                    missed_pongs += 1;
                    if self.write(vec![Message::Ping(Default::default())]).await.is_err() {
                        return None;
                    }
                }
                _ = &mut deadline => {
                    return Some(self.auth.close_at_deadline());
                }
            }
        }
    }

    /// `first` and every frame the streams hold ready now, up to a batch.
    fn ready_frames(&mut self, first: Option<Out>) -> Vec<String> {
        let mut frames = Vec::new();
        let mut next = first;
        loop {
            match next {
                Some(Out::Frame(f)) => frames.push(f),
                Some(Out::Last(request_id, f)) => {
                    self.active.remove(&request_id);
                    frames.push(f);
                }
                None => {}
            }
            if frames.len() >= BATCH || self.streams.is_empty() {
                return frames;
            }
            match self.streams.next().now_or_never() {
                Some(Some(out)) => next = Some(out),
                _ => return frames,
            }
        }
    }

    async fn handle_text(&mut self, text: &str) -> Result<(), WriteFailed> {
        let parsed = parse_frame(text);
        if nul::in_json(text.as_bytes()) {
            let request_id = match &parsed {
                Ok(frame) => frame.request_id(),
                Err(bad) => &bad.request_id,
            };
            let request_id = request_id.to_string();
            return self.send_error(&request_id, &nul::refused("a frame")).await;
        }
        match parsed {
            Err(BadFrame { request_id, error }) => self.send_error(&request_id, &error).await,
            Ok(Frame::Abort { request_id }) => {
                self.abort(&request_id);
                Ok(())
            }
            Ok(Frame::Send {
                request_id,
                headers,
                request,
            }) => {
                let user = match self.open(&request_id, &headers) {
                    Ok(user) => user,
                    Err(e) => return self.send_error(&request_id, &e).await,
                };
                let chat = self.state.chat.clone();
                let threads = ChatThreads {
                    chat: &chat,
                    user: &user,
                };
                match threads.start(&request).await {
                    Ok(turn) => {
                        let thread = turn.thread_id;
                        // The turn's own token, taken without cancelling anything.
                        let cancel = turn.cancel_on_drop().disarm();
                        self.send(vec![frame(&request_id, "start")]).await?;
                        self.add(request_id, thread, Some(cancel), Source::Turn(turn), None);
                        Ok(())
                    }
                    Err(e) => self.send_error(&request_id, &e).await,
                }
            }
            Ok(Frame::Resume {
                request_id,
                headers,
                chat_id,
                last_sequence,
            }) => {
                let user = match self.open(&request_id, &headers) {
                    Ok(user) => user,
                    Err(e) => return self.send_error(&request_id, &e).await,
                };
                let threads = ChatThreads {
                    chat: &self.state.chat,
                    user: &user,
                };
                match threads.follow(&chat_id) {
                    None => self.send(vec![frame(&request_id, "no-active")]).await,
                    Some((thread, followed)) => {
                        self.send(vec![frame(&request_id, "start")]).await?;
                        let source = Source::Followed(followed);
                        self.add(request_id, thread, None, source, last_sequence);
                        Ok(())
                    }
                }
            }
        }
    }

    /// The user a new request runs for (see [`SocketAuth::authorize`]), once its `requestId`
    /// is known to be free and the socket has room for one more stream.
    fn open(&mut self, request_id: &str, headers: &Map<String, Value>) -> Result<UserId, Error> {
        let user = self.auth.authorize(&self.state.jwt, headers)?;
        if self.active.contains_key(request_id) {
            return Err(Error::invalid("that requestId is already streaming"));
        }
        if self.active.len() >= MAX_STREAMS {
            return Err(Error::RateLimited(Duration::from_secs(1)));
        }
        Ok(user)
    }

    fn add(
        &mut self,
        request_id: String,
        thread: ThreadId,
        turn: Option<CancellationToken>,
        source: Source,
        after: Option<u64>,
    ) {
        let (stream, abort) =
            futures::stream::abortable(frames(request_id.clone(), source, thread, after));
        self.active.insert(request_id, Active { turn, abort });
        self.streams.push(stream.boxed());
    }

    /// Stops a request's stream; a send's turn is cancelled (its text so far is kept). An
    /// unknown `requestId` is one already over: nothing to do.
    fn abort(&mut self, request_id: &str) {
        let Some(active) = self.active.remove(request_id) else {
            return;
        };
        active.abort.abort();
        if let Some(turn) = active.turn {
            turn.cancel();
        }
    }

    async fn send_error(&mut self, request_id: &str, e: &Error) -> Result<(), WriteFailed> {
        e.log_if_internal();
        let mut body = e.body();
        if matches!(e, Error::Forbidden) {
            body.message = "a socket serves one user: this token is for another".into();
        }
        self.send(vec![error_frame(request_id, &body)]).await
    }

    async fn send(&mut self, frames: Vec<String>) -> Result<(), WriteFailed> {
        socket::write_texts(&mut self.socket, self.state.config.ws.write_timeout, frames).await
    }

    async fn write(&mut self, messages: Vec<Message>) -> Result<(), WriteFailed> {
        socket::write(
            &mut self.socket,
            self.state.config.ws.write_timeout,
            messages,
        )
        .await
    }
}

/// A read error: an oversized frame gets 1009, anything else means the peer is gone.
fn read_error(e: axum::Error) -> Option<(u16, &'static str)> {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match e.into_inner().downcast_ref::<WsError>() {
        Some(WsError::Capacity(_)) => Some((close::TOO_BIG, "frame too large")),
        _ => None,
    }
}
