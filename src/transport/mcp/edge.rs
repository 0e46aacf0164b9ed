//! The checks every `/api/mcp` request passes after its token, before rmcp sees it.
//!
//! - Methods: GET, POST and DELETE; anything else is 405 with `Allow`.
//! - Sessions: an `Mcp-Session-Id` that is not an open session of the token's user is 404, on
//!   every method: another user's session cannot be read, written, streamed or closed, and its
//!   existence is not revealed. A new session (`initialize`) takes a [`Slot`] from
//!   [`Sessions`](super::sessions::Sessions): it may close the user's least recently used
//!   session, or be refused with 429 `too_many_sessions`.
//! - Bodies: a POST must be `application/json` (415), within `MAX_BODY_BYTES` (413), and one
//!   JSON-RPC message (400 with a JSON-RPC error: -32700 when it is not JSON, -32600 when it is
//!   JSON but not a message; -32602 when it holds a NUL, which no text may contain:
//!   [`crate::transport::nul`]).
//!
//! Errors of HTTP itself use our `{"error":{"code","message"}}`; errors about the JSON-RPC
//! message in a body use JSON-RPC's own shape, as MCP asks. rmcp answers some errors in plain
//! text; [`in_our_shape`] rewrites those, so no answer from this route is ever plain text.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rmcp::model::{ClientJsonRpcMessage, ClientRequest};
use serde_json::{json, Value};

use super::sessions::LocalSessions;
use crate::error::Error;
use crate::model::UserId;
use crate::transport::nul;

/// The session header, as rmcp names it.
const SESSION_ID: &str = "mcp-session-id";
/// The methods streamable HTTP uses: POST messages, GET the server's stream, DELETE a session.
const ALLOWED: &str = "GET, POST, DELETE";
/// rmcp's plain-text errors are one short line; more than this is not one of them.
const RMCP_ERROR_TEXT_LIMIT: usize = 4096;

/// What [`guard`] needs: the sessions and their owners.
#[derive(Clone)]
pub struct Edge {
    pub sessions: Arc<LocalSessions>,
}

/// Checks one `/api/mcp` request (see the module docs), passes it on, and puts an error answer
/// from rmcp in our shape. Must run inside `authenticate`, which puts the [`UserId`] here.
pub async fn guard(State(edge): State<Edge>, request: Request, next: Next) -> Response {
    let Some(user) = request.extensions().get::<UserId>().cloned() else {
        // `authenticate` runs before every request here; this is a wiring bug.
        return Error::Unauthorized.into_response();
    };
    let method = request.method().clone();
    if !matches!(method, Method::GET | Method::POST | Method::DELETE) {
        return method_not_allowed();
    }
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

    let response = match slot {
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
    };
    in_our_shape(response).await
}

fn session_id(value: &HeaderValue) -> Option<Arc<str>> {
    value.to_str().ok().map(Arc::from)
}

/// The body of a POST, checked, put back for rmcp; and whether it is an `initialize` request.
async fn read_message(request: Request) -> Result<(Request, bool), Response> {
    if !is_json(request.headers()) {
        let e = Error::UnsupportedMediaType("Content-Type must be application/json".into());
        return Err(e.into_response());
    }
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
    let initialize = match serde_json::from_slice::<ClientJsonRpcMessage>(&bytes) {
        Ok(ClientJsonRpcMessage::Request(request)) => {
            matches!(request.request, ClientRequest::InitializeRequest(_))
        }
        Ok(_) => false,
        Err(e) => return Err(rpc_error(&bytes, &e)),
    };
    if nul::in_json(&bytes) {
        return Err(nul_error(&bytes));
    }
    Ok((Request::from_parts(parts, Body::from(bytes)), initialize))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// 400 with the JSON-RPC error for a body rmcp could not take as a message. The id is the
/// request's when one can be read, else null, as JSON-RPC asks.
fn rpc_error(bytes: &[u8], e: &serde_json::Error) -> Response {
    match serde_json::from_slice::<Value>(bytes) {
        Err(_) => rpc_answer(Value::Null, -32700, &format!("Parse error: {e}")),
        Ok(value) => rpc_answer(
            request_id(&value),
            -32600,
            "Invalid Request: the body is not one JSON-RPC 2.0 message",
        ),
    }
}

/// 400 with JSON-RPC's "Invalid params" for a message that holds a NUL.
fn nul_error(bytes: &[u8]) -> Response {
    let id = serde_json::from_slice::<Value>(bytes)
        .map(|value| request_id(&value))
        .unwrap_or(Value::Null);
    let message = format!("Invalid params: {}", nul::refused("a message"));
    rpc_answer(id, -32602, &message)
}

/// A message's id when it has a usable one, else null. MCP ids are strings or integers: a
/// fractional number is no id to answer with.
fn request_id(message: &Value) -> Value {
    match &message["id"] {
        id @ Value::String(_) => id.clone(),
        Value::Number(n) if n.is_i64() || n.is_u64() => Value::Number(n.clone()),
        _ => Value::Null,
    }
}

fn rpc_answer(id: Value, code: i32, message: &str) -> Response {
    let body = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

fn method_not_allowed() -> Response {
    let mut response = http_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    );
    let allow = HeaderValue::from_static(ALLOWED);
    response.headers_mut().insert(header::ALLOW, allow);
    response
}

fn session_not_found() -> Response {
    Error::NotFound("MCP session").into_response()
}

/// `{"error":{"code","message"}}` for a status with no [`Error`] of its own (405, 406).
fn http_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message}});
    (status, Json(body)).into_response()
}

/// rmcp's error answers in our shape: any 4xx or 5xx that is not JSON already (JSON-RPC errors
/// are left as they are). A 4xx keeps rmcp's one-line reason, which names only what the client
/// sent wrong; a 5xx is logged and says only "internal error". Headers such as `Allow` stay.
async fn in_our_shape(response: Response) -> Response {
    let status = response.status();
    let is_json = is_json(response.headers());
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, RMCP_ERROR_TEXT_LIMIT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let (code, message) = match status {
        StatusCode::NOT_FOUND => {
            // The session ended between our check and rmcp's.
            return with_parts(parts, session_not_found());
        }
        s if s.is_server_error() => {
            tracing::error!(status = %s, error = %text, "MCP transport error");
            ("internal", "internal error".to_string())
        }
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", text),
        StatusCode::NOT_ACCEPTABLE => ("not_acceptable", text),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", text),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", text),
        StatusCode::FORBIDDEN => ("forbidden", text),
        _ => ("invalid_request", text),
    };
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        message
    };
    with_parts(parts, http_error(status, code, &message))
}

/// `answer`'s body and content type, with the status and other headers of `parts`.
fn with_parts(mut parts: axum::http::response::Parts, answer: Response) -> Response {
    let (answer_parts, body) = answer.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &answer_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn json_body(response: Response) -> Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn rpc(body: &str) -> Response {
        let e = serde_json::from_str::<ClientJsonRpcMessage>(body).unwrap_err();
        rpc_error(body.as_bytes(), &e)
    }

    #[tokio::test]
    async fn bodies_that_are_not_a_message_get_json_rpc_errors() {
        let r = rpc("{\"jsonrpc\": \"2.0\", ");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let v = json_body(r).await;
        assert_eq!(v["error"]["code"], -32700);
        assert_eq!(v["id"], Value::Null);
        assert_eq!(v["jsonrpc"], "2.0");

        let v = json_body(rpc("[1, 2]")).await;
        assert_eq!(v["error"]["code"], -32600);

        let v = json_body(rpc(r#"{"jsonrpc": "1.0", "id": 7, "method": "ping"}"#)).await;
        assert_eq!(v["error"]["code"], -32600);
        assert_eq!(v["id"], 7);

        // Only a string or an integer is an id to answer with.
        let v = json_body(rpc(
            r#"{"jsonrpc": "1.0", "id": 2.5e-42, "method": "ping"}"#,
        ))
        .await;
        assert_eq!(v["id"], Value::Null);
        let v = json_body(rpc(r#"{"jsonrpc": "1.0", "id": "a", "method": "ping"}"#)).await;
        assert_eq!(v["id"], "a");
    }

    #[tokio::test]
    async fn a_message_with_a_nul_is_invalid_params() {
        let body = r#"{"jsonrpc": "2.0", "id": "c1", "method": "tools/call",
                       "params": {"name": "add_task", "arguments": {"title": "a\u0000"}}}"#;
        let r = nul_error(body.as_bytes());
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let v = json_body(r).await;
        assert_eq!(v["error"]["code"], -32602);
        assert_eq!(v["id"], "c1");
    }

    #[tokio::test]
    async fn plain_text_errors_become_ours_and_keep_their_headers() {
        let plain = Response::builder()
            .status(StatusCode::NOT_ACCEPTABLE)
            .header(header::ALLOW, "POST")
            .body(Body::from(
                "Not Acceptable: Client must accept text/event-stream",
            ))
            .unwrap();
        let r = in_our_shape(plain).await;
        assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE);
        assert_eq!(r.headers()[header::ALLOW], "POST");
        let v = json_body(r).await;
        assert_eq!(v["error"]["code"], "not_acceptable");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("event-stream"));

        let internal = Response::builder()
            .status(StatusCode::INTERNAL_SERVER_ERROR)
            .body(Body::from("create session: secret detail"))
            .unwrap();
        let v = json_body(in_our_shape(internal).await).await;
        assert_eq!(v["error"]["code"], "internal");
        assert_eq!(v["error"]["message"], "internal error");
    }
}
