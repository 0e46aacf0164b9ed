//! `GET /api/ws`: one authenticated socket per session, multiplexing every thread of a user.
//!
//! One task per socket runs one `select!` over client frames, the user's hub subscription, a ping
//! tick, the token's expiry and shutdown. Turns are started through the chat core and run in their
//! own tasks; the socket only forwards what the hub publishes, so a turn started on another
//! socket, over REST or (later) on another instance reaches every tab the same way, and closing
//! a socket never stops a turn. `docs/protocol.md` is the contract for every frame and code.

pub mod frame;
mod requests;
pub(crate) mod socket;

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use tokio::time::{sleep_until, Instant};
use uuid::Uuid;

use super::{page_request, parse_message_id, parse_thread_id, ApiQuery};
use crate::auth::{bearer, now_secs, Verified};
use crate::chat::TurnRequest;
use crate::error::{Error, ErrorBody};
use crate::hub::{Delivery, Position, Subscription};
use crate::model::{ThreadId, UserId};
use crate::state::AppState;
use frame::ClientFrame;
pub use socket::WsQuery;
use socket::{send_close, WriteFailed, BATCH};

/// Close codes this transport uses (see docs/protocol.md).
pub mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const TOO_BIG: u16 = 1009;
    pub const TRY_AGAIN_LATER: u16 = 1013;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const AUTH_TIMEOUT: u16 = 4408;
    pub const TOO_MANY_SOCKETS: u16 = 4429;
}

pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<WsQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Ok(ws) = ws else {
        return Error::invalid("GET /api/ws expects a WebSocket upgrade").into_response();
    };
    let token = bearer(&headers).map(str::to_string).or(query.token);
    let cfg = &state.config.ws;
    // Small read buffer and a bounded write buffer: idle sockets stay cheap and a peer that
    // does not read cannot grow our memory.
    ws.read_buffer_size(1024)
        .write_buffer_size(8 * 1024)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(cfg.max_frame_bytes)
        .max_frame_size(cfg.max_frame_bytes)
        .on_upgrade(move |socket| {
            let tracker = state.connections.clone();
            tracker.track_future(async move { run(state, socket, token).await })
        })
}

/// Why the connection loop ended.
enum End {
    /// Peer closed or vanished; nothing more to send.
    Gone,
    /// Send this close frame, then stop.
    Close(u16, &'static str),
}

async fn run(state: AppState, mut socket: WebSocket, token: Option<String>) {
    let Some((verified, resume_after)) = authenticate(&state, &mut socket, token).await else {
        return;
    };
    let user = verified.user.clone();
    // Subscribe before announcing readiness, so nothing published after `ready` is missed.
    let max = state.config.ws.max_sockets_per_user;
    let Some(subscription) = state.hub.subscribe_capped(&user, max) else {
        send_close(
            &mut socket,
            close::TOO_MANY_SOCKETS,
            "too many open sockets for this user",
        )
        .await;
        return;
    };
    let _open = crate::metrics::socket_opened();
    let connection_id = Uuid::new_v4().simple().to_string();
    let mut conn = Connection {
        state,
        socket,
        subscription,
        user,
        expires_at: verified.expires_at,
    };
    let ready = frame::ready(
        conn.user.as_str(),
        &connection_id,
        conn.expires_at,
        conn.subscription.position(),
    );
    if conn.send(vec![ready]).await.is_err() {
        return;
    }
    if let Some(after) = resume_after {
        if conn.resume(&after, &None).await.is_err() {
            return;
        }
    }
    tracing::debug!(user = %conn.user, %connection_id, "socket ready");
    match conn.serve().await {
        End::Gone => {}
        End::Close(code, reason) => {
            if code == close::TRY_AGAIN_LATER {
                crate::metrics::socket_queue_drop();
            }
            send_close(&mut conn.socket, code, reason).await
        }
    }
}

/// Header/query token, or a first `auth` frame within the auth timeout (with the position it
/// asks to resume from). Closes the socket and returns `None` when authentication fails.
async fn authenticate(
    state: &AppState,
    socket: &mut WebSocket,
    token: Option<String>,
) -> Option<(Verified, Option<String>)> {
    let (token, resume_after) = match token {
        Some(t) => (t, None),
        None => {
            let first = tokio::time::timeout(state.config.ws.auth_timeout, socket.recv()).await;
            match first {
                Err(_) => {
                    send_close(socket, close::AUTH_TIMEOUT, "authentication timed out").await;
                    return None;
                }
                Ok(None) => return None,
                // An oversized first frame gets 1009 like any later one, not a silent drop.
                Ok(Some(Err(e))) => {
                    if let End::Close(code, reason) = read_error(e) {
                        send_close(socket, code, reason).await;
                    }
                    return None;
                }
                Ok(Some(Ok(Message::Text(text)))) => match frame::parse(text.as_str()) {
                    Ok((
                        ClientFrame::Auth {
                            token,
                            resume_after,
                        },
                        _,
                    )) => (token, resume_after),
                    _ => {
                        send_close(socket, close::UNAUTHORIZED, "send an auth frame first").await;
                        return None;
                    }
                },
                Ok(Some(Ok(_))) => {
                    send_close(socket, close::UNAUTHORIZED, "send an auth frame first").await;
                    return None;
                }
            }
        }
    };
    match state.jwt.verify(&token) {
        Ok(v) => Some((v, resume_after)),
        Err(_) => {
            send_close(socket, close::UNAUTHORIZED, "invalid or expired token").await;
            None
        }
    }
}

struct Connection {
    state: AppState,
    socket: WebSocket,
    subscription: Subscription,
    user: UserId,
    expires_at: u64,
}

impl Connection {
    async fn serve(&mut self) -> End {
        let cfg = self.state.config.ws.clone();
        let closing = self.state.closing.clone();
        // Made once, not per pass of the loop: a new one registers with the token again.
        let shutdown = closing.cancelled();
        tokio::pin!(shutdown);
        let mut ping =
            tokio::time::interval_at(Instant::now() + cfg.ping_interval, cfg.ping_interval);
        let mut missed_pongs = 0u32;
        let mut expired = false;
        let expiry = sleep_until(instant_of(self.expires_at));
        tokio::pin!(expiry);

        loop {
            tokio::select! {
                biased;
                _ = &mut shutdown => {
                    // Every turn has ended, its last events already kept: send them first.
                    while let Ok(Some(found)) = self.subscription.try_recv(BATCH) {
                        let frames = found.iter().map(Delivery::to_text).collect();
                        if self.send(frames).await.is_err() {
                            return End::Gone;
                        }
                    }
                    return End::Close(close::GOING_AWAY, "server shutting down");
                }
                found = self.subscription.recv(BATCH) => {
                    let Ok(found) = found else {
                        return End::Close(close::TRY_AGAIN_LATER, self.lag_reason());
                    };
                    let frames = found.iter().map(Delivery::to_text).collect();
                    if self.send(frames).await.is_err() {
                        return End::Gone;
                    }
                },
                incoming = self.socket.recv() => match incoming {
                    None => return End::Gone,
                    Some(Err(e)) => return read_error(e),
                    Some(Ok(Message::Text(text))) => {
                        missed_pongs = 0;
                        // Boxed: the frame handler's future is large (it reaches the store), and an idle
                        // socket should not carry its space in every task.
                        let refreshed = Box::pin(self.handle_text(text.as_str())).await;
                        match refreshed {
                            Ok(Some(expires_at)) => {
                                expired = false;
                                expiry.as_mut().reset(instant_of(expires_at));
                            }
                            Ok(None) => {}
                            Err(WriteFailed) => return End::Gone,
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        missed_pongs = 0;
                        let body = ErrorBody { code: "invalid_frame".into(), message: "binary frames are not supported; send JSON text".into() };
                        if self.send(vec![frame::error(&body, None, &None)]).await.is_err() {
                            return End::Gone;
                        }
                    }
                    Some(Ok(Message::Pong(_))) | Some(Ok(Message::Ping(_))) => missed_pongs = 0,
                    Some(Ok(Message::Close(_))) => return End::Gone,
                },
                _ = ping.tick() => {
                    if missed_pongs >= 2 {
                        tracing::debug!(user = %self.user, "peer missed two pongs; dropping");
                        return End::Gone;
                    }
                    missed_pongs += 1;
                    if self.write(vec![Message::Ping(Default::default())]).await.is_err() {
                        return End::Gone;
                    }
                },
                _ = &mut expiry => {
                    if expired {
                        return End::Close(close::UNAUTHORIZED, "token expired");
                    }
                    expired = true;
                    let body = ErrorBody { code: "token_expired".into(), message: "the token expired; send a new auth frame to stay connected".into() };
                    if self.send(vec![frame::error(&body, None, &None)]).await.is_err() {
                        return End::Gone;
                    }
                    expiry.as_mut().reset(Instant::now() + cfg.token_grace);
                },
            }
        }
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

fn error_frame(
    e: &Error,
    thread: Option<ThreadId>,
    request_id: &Option<String>,
    message: &str,
) -> String {
    let body = ErrorBody {
        code: e.code().into(),
        message: message.into(),
    };
    frame::error(&body, thread, request_id)
}

/// A read error: an oversized frame gets 1009, anything else means the peer is gone.
fn read_error(e: axum::Error) -> End {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match e.into_inner().downcast_ref::<WsError>() {
        Some(WsError::Capacity(_)) => End::Close(close::TOO_BIG, "frame too large"),
        _ => End::Gone,
    }
}

/// The `Instant` at which a unix time (seconds) arrives. A time too far ahead to represent (a
/// validly signed token may say `exp: 18446744073709551615`) is capped at thirty years, which is
/// what tokio itself uses for "never" and which no socket outlives.
fn instant_of(unix_secs: u64) -> Instant {
    const NEVER: Duration = Duration::from_secs(30 * 365 * 24 * 3600);
    let wait = Duration::from_secs(unix_secs.saturating_sub(now_secs())).min(NEVER);
    Instant::now() + wait
}
