//! What the two WebSocket endpoints, ours (`/api/ws`) and the AI SDK's (`/api/ai-sdk/ws`),
//! share about the socket itself: the token in the query, how frames are written and how a
//! socket is closed.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::SinkExt;
use serde::Deserialize;

/// Frames written per flush at most, so one busy user or stream cannot starve a socket's other
/// branches.
pub(crate) const BATCH: usize = 64;

/// `?token=`: browsers cannot set headers on a WebSocket handshake.
#[derive(Debug, Deserialize)]
pub struct WsQuery {
    pub(crate) token: Option<String>,
}

/// The write could not complete (peer gone or not draining within the write timeout).
pub(crate) struct WriteFailed;

/// Writes text frames: every one fed, then one flush, all within `limit`.
pub(crate) async fn write_texts(
    socket: &mut WebSocket,
    limit: Duration,
    frames: Vec<String>,
) -> Result<(), WriteFailed> {
    let messages = frames.into_iter().map(|f| Message::Text(f.into()));
    write(socket, limit, messages).await
}

/// Feeds every message, then flushes once, all within `limit`. Most writes complete at once;
/// only one that waits on the peer arms the timer ([`crate::timeout::within`]).
pub(crate) async fn write(
    socket: &mut WebSocket,
    limit: Duration,
    messages: impl IntoIterator<Item = Message>,
) -> Result<(), WriteFailed> {
    let work = async {
        for m in messages {
            socket.feed(m).await?;
        }
        socket.flush().await
    };
    match crate::timeout::within(limit, work).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(WriteFailed),
    }
}

/// Sends a close frame, giving a peer that does not read two seconds.
pub(crate) async fn send_close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }));
    let _ = tokio::time::timeout(Duration::from_secs(2), socket.send(frame)).await;
}
