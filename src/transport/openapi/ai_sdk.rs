//! The AI SDK's routes (docs/ai-sdk.md): the body `DefaultChatTransport` posts, written out as
//! JSON Schema (the handler reads it as JSON and checks it itself, as the SDK's validator does),
//! and the UI message stream it answers.

use serde_json::{json, Value};

use super::{Op, Spec};

/// The errors of a request that starts a turn from an AI SDK body (no `{user_id}` in the path:
/// no 403).
const TURN: &[u16] = &[400, 401, 404, 409, 413, 429, 500, 503];

/// A `UIMessage` as far as the server reads it: its `id`, `role` and typed `parts`.
fn ui_message() -> Value {
    json!({"type": "object", "required": ["id", "role", "parts"], "properties": {
        "id": {"type": "string"},
        "role": {"enum": ["system", "user", "assistant"]},
        "metadata": {},
        "parts": {"type": "array", "items": {
            "type": "object", "required": ["type"],
            "properties": {"type": {"type": "string"}, "text": {"type": "string"}},
        }},
    }})
}

/// The body of a send: the chat, what to do, the messages (only the newest is read).
fn chat_body() -> Value {
    json!({"type": "object", "required": ["id", "messages", "trigger"], "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 128,
               "description": "The chat: one of the user's thread ids, or any name of the client's."},
        "messages": {"type": "array", "minItems": 1, "items": ui_message()},
        "trigger": {"enum": ["submit-message", "regenerate-message"]},
        "messageId": {"type": "string"},
        "metadata": {"type": "object", "description": "`language` (`en`, `roman-urdu`) is honoured."},
    }})
}

/// The `content` of a UI message stream: `data:` lines of JSON chunks (each numbered by `id:`),
/// then `data: [DONE]`.
fn ui_stream() -> Value {
    json!({"text/event-stream": {"schema": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9]+$"},
            "data": {"type": "string", "description": "A UI message chunk's JSON, or `[DONE]`."},
        },
    }}})
}

/// Describes `POST /api/ai-sdk`, `GET /api/ai-sdk/ws` and `GET /api/ai-sdk/{chat_id}/stream`.
pub fn describe(s: &mut Spec) {
    let op = Op::new(
        "post",
        "/api/ai-sdk",
        "One turn as the AI SDK's UI message stream (DefaultChatTransport)",
    )
    .describe(
        "The whole chat may be sent, up to `AI_SDK_MAX_BODY_BYTES`; only its newest message is \
         read. The answer carries `x-vercel-ai-ui-message-stream: v1`.",
    )
    .bearer()
    .json_body(chat_body())
    .answer(200, "The turn's UI message chunks", ui_stream())
    .errors(TURN);
    s.add(op);
    let last = json!({"name": "Last-Event-ID", "in": "header", "required": false,
        "description": "The number of the last chunk received.", "schema": {"type": "string"}});
    let op = Op::new(
        "get",
        "/api/ai-sdk/{chat_id}/stream",
        "The running turn of a chat, from its start, as a UI message stream",
    )
    .bearer()
    .parameters(vec![last])
    .answer(200, "The turn's chunks after `Last-Event-ID`", ui_stream())
    .answer(204, "No turn runs on the chat", Value::Null)
    .errors(&[400, 401]);
    s.add(op);
    let token = json!({"name": "token", "in": "query", "required": false,
        "description": "The JWT at the handshake; it may instead come in each frame's `headers`.",
        "schema": {"type": "string"}});
    let op = Op::new(
        "get",
        "/api/ai-sdk/ws",
        "The AI SDK's WebSocketChatTransport (docs/ai-sdk.md)",
    )
    .describe(
        "An upgrade request. A token at the handshake (`Authorization`, `?token=` or the \
         subprotocol `bearer.<jwt>`) is checked once the socket is open: a bad one closes it \
         with 4401. Without one, each frame's `headers` carry it.",
    )
    .security(json!([{"bearer": []}, {}]))
    .parameters(vec![token])
    .answer(101, "Switching to the WebSocket protocol", Value::Null)
    .errors(&[400]);
    s.add(op);
}
