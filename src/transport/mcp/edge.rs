//! The checks every `/api/mcp` request passes after its token, before rmcp sees it.
//!
//! An `Mcp-Session-Id` that is not an open session of the token's user is 404, on every method:
//! another user's session cannot be read, written, streamed or closed, and its existence is not
//! revealed. A new session (`initialize`) takes a [`Slot`](super::sessions::Slot) from
//! [`Sessions`](super::sessions::Sessions): it may close the user's least recently used session,
//! or be refused with 429 `too_many_sessions`. Telling an `initialize` apart means reading the
//! body, within `MAX_BODY_BYTES` (413).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest};

use super::sessions::LocalSessions;
use crate::error::Error;
use crate::model::UserId;

/// The session header, as rmcp names it.
const SESSION_ID: &str = "mcp-session-id";

/// What [`guard`] needs: the sessions and their owners.
#[derive(Clone)]
pub struct Edge {
    pub sessions: Arc<LocalSessions>,
}

/// Checks one `/api/mcp` request (see the module docs) and passes it on. Must run inside
/// `authenticate`, which puts the [`UserId`] here.
pub async fn guard(State(edge): State<Edge>, request: Request, next: Next) -> Response {
    let Some(user) = request.extensions().get::<UserId>().cloned() else {
        // `authenticate` runs before every request here; this is a wiring bug.
        return Error::Unauthorized.into_response();
    };
    let method = request.method().clone();
    let named = match request.headers().get(SESSION_ID) {
        None => None,
        Some(value) => match value.to_str() {
            Ok(id) if edge.sessions.sessions().touch(id, &user) => Some(id.to_string()),
            _ => return session_not_found(),
        },
    };
    let (request, initialize) = if method == Method::POST {
        match read_message(request).await {
            Ok(read) => read,
            Err(response) => return response,
        }
    } else {
        (request, false)
    };
    let slot = if initialize && named.is_none() {
        match edge.sessions.sessions().reserve(&user) {
            Ok((slot, evicted)) => {
                if let Some(id) = evicted {
                    use rmcp::transport::streamable_http_server::session::SessionManager;
                    // Closing a session whose worker already ended is not an error.
                    let _ = edge.sessions.close_session(&id).await;
                }
                Some(slot)
            }
            Err(e) => return e.into_response(),
        }
    } else {
        None
    };

    match slot {
        None => next.run(request).await,
        Some(slot) => {
            // In a task of its own, so that a client that hangs up mid-initialize cannot leave
            // a session in rmcp that the index never counted.
            let sessions = edge.sessions.clone();
            let initialize = tokio::spawn(async move {
                let response = next.run(request).await;
                // No id: the initialize failed, or was served without a session (2026-07-28
                // clients); dropping the slot gives its room back.
                if let Some(id) = response.headers().get(SESSION_ID).and_then(session_id) {
                    sessions.open(slot, id).await;
                }
                response
            });
            match initialize.await {
                Ok(response) => response,
                Err(e) => Error::Internal(format!("MCP initialize failed: {e}")).into_response(),
            }
        }
    }
}

fn session_id(value: &HeaderValue) -> Option<Arc<str>> {
    value.to_str().ok().map(Arc::from)
}

/// The body of a POST, checked, put back for rmcp; and whether it is an `initialize` request.
async fn read_message(request: Request) -> Result<(Request, bool), Response> {
    let (parts, body) = request.into_parts();
    // `Bytes` honours the router's body limit (`MAX_BODY_BYTES`), however the body is sent.
    let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), &())
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge.into_response()
            } else {
                Error::invalid("could not read the request body").into_response()
            }
        })?;
    let initialize = matches!(
        serde_json::from_slice::<ClientJsonRpcMessage>(&bytes),
        Ok(ClientJsonRpcMessage::Request(request))
            if matches!(request.request, ClientRequest::InitializeRequest(_))
    );
    Ok((Request::from_parts(parts, Body::from(bytes)), initialize))
}

fn session_not_found() -> Response {
    Error::NotFound("MCP session").into_response()
}
