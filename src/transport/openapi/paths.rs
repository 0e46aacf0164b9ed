//! Route by route: what each operation takes and answers, in the types of its handler.
//! `tests.rs` holds this table to the router: every route and method described, no other.

use serde_json::{json, Value};

use super::{events, schemas, Op, Spec};
use crate::chat::event::ThreadView;
use crate::config::Config;
use crate::model::{Page, Task};
use crate::transport::rest::{
    ChatBody, ChatResponse, DevToken, DevTokenBody, Health, MessagesPage, PageQuery, TaskQuery,
};
use crate::transport::{chatkit, web};

/// The errors of a route that reads the database for the token's user.
const USER_READ: &[u16] = &[400, 401, 403, 500, 503];
/// The errors of a route that starts a turn.
const TURN: &[u16] = &[400, 401, 403, 404, 409, 413, 429, 500, 503];

const SSE: &str = "text/event-stream";
const MESSAGES: &str = "/api/{user_id}/conversations/{conversation_id}/messages";
const RESUME: &str = "/api/{user_id}/conversations/{conversation_id}/stream";
const UPLOAD: &str = "/api/chatkit/attachments/{id}/upload";
const PREVIEW: &str = "/api/chatkit/attachments/{id}/preview";
const MCP: &str = "/api/mcp";

/// Link parameters: the conversation a chat answer names.
fn in_conversation() -> Value {
    json!({"user_id": "$request.path.user_id",
           "conversation_id": "$response.body#/conversation_id"})
}

/// Events whose `data:` is a JSON object with a `type` (ChatKit's).
fn typed_events() -> Value {
    json!({"type": "object", "required": ["data"], "properties": {
        "event": {"type": "string"},
        "data": {"type": "string", "contentMediaType": "application/json",
                 "contentSchema": {"type": "object", "required": ["type"],
                                   "properties": {"type": {"type": "string"}}}},
    }})
}

/// An optional header a handler reads.
fn header(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "header", "required": false, "description": description,
           "schema": {"type": "string"}})
}

/// Describes every route `crate::router` mounts for `config`.
pub fn describe(s: &mut Spec, config: &Config) {
    web(s);
    rest(s);
    chatkit(s);
    super::ai_sdk::describe(s);
    mcp(s);
    if !config.is_production() {
        let op = Op::new(
            "post",
            "/api/dev/token",
            "A token for any user (development only)",
        )
        .describe("Not mounted when `ENVIRONMENT=production`.")
        .json_body(s.input::<DevTokenBody>())
        .json(200, "The token", s.output::<DevToken>())
        .errors(&[400, 413]);
        s.add(op);
    }
}

fn web(s: &mut Spec) {
    let revalidate = header(
        "If-None-Match",
        "An `ETag` of an earlier answer: 304 when it still holds.",
    );
    for (path, summary) in [("/", "The web demo"), ("/rest.html", "The REST demo page")] {
        let op = Op::new("get", path, summary)
            .parameters(vec![revalidate.clone()])
            .answer(200, "The page", json!({"text/html": {}}))
            .answer(304, "Not modified", Value::Null);
        s.add(op);
    }
    let files: Vec<&str> = web::asset_files().collect();
    let file = json!({"name": "file", "in": "path", "required": true,
        "schema": {"type": "string", "enum": files}});
    let op = Op::new(
        "get",
        "/assets/{file}",
        "A script, style or icon of the web demo",
    )
    .parameters(vec![file, revalidate.clone()])
    .answer(
        200,
        "The file",
        json!({"text/javascript": {}, "text/css": {}, "image/svg+xml": {}}),
    )
    .answer(304, "Not modified", Value::Null)
    .errors(&[400, 404]);
    s.add(op);
    let files: Vec<&str> = web::vendor_files().collect();
    let file = json!({"name": "file", "in": "path", "required": true,
        "schema": {"type": "string", "enum": files}});
    let op = Op::new(
        "get",
        "/assets/vendor/{file}",
        "A third-party script the web demo vendors (its Markdown renderer and sanitiser)",
    )
    .parameters(vec![file, revalidate])
    .answer(200, "The file", json!({"text/javascript": {}}))
    .answer(304, "Not modified", Value::Null)
    .errors(&[400, 404]);
    s.add(op);
    let op = Op::new("get", "/api/openapi.json", "This document").json(
        200,
        "The OpenAPI 3.1 document",
        json!({"type": "object"}),
    );
    s.add(op);
    let op = Op::new(
        "get",
        "/api/health",
        "Health of the server and its database",
    )
    .json(200, "Serving", s.output::<Health>())
    .json(503, "The database does not answer", s.output::<Health>());
    s.add(op);
    let op = Op::new("get", "/metrics", "Prometheus metrics").answer(
        200,
        "The Prometheus text format (README, Metrics)",
        json!({"text/plain": {"schema": {"type": "string"}}}),
    );
    s.add(op);
    let token = json!({"name": "token", "in": "query", "required": false,
        "description": "The JWT, for clients that cannot set a header (browsers).",
        "schema": {"type": "string"}});
    let op = Op::new("get", "/api/ws", "The WebSocket (docs/protocol.md)")
        .describe(
            "An upgrade request. The token (the `Authorization` header, `?token=` or a first \
             `auth` frame) is checked once the socket is open: a bad one closes it with 4401.",
        )
        .security(json!([{"bearer": []}, {}]))
        .parameters(vec![token])
        .answer(101, "Switching to the WebSocket protocol", Value::Null)
        .errors(&[400]);
    s.add(op);
}

fn rest(s: &mut Spec) {
    let op = Op::new(
        "post",
        "/api/{user_id}/chat",
        "One turn, answered as one JSON object",
    )
    .bearer()
    .json_body(s.input::<ChatBody>())
    .json(200, "The assistant's answer", s.output::<ChatResponse>())
    .link(200, "get", MESSAGES, in_conversation())
    .link(200, "get", RESUME, in_conversation())
    .errors(TURN);
    s.add(op);
    let op = Op::new(
        "post",
        "/api/{user_id}/chat/stream",
        "One turn, as Server-Sent Events",
    )
    .bearer()
    .json_body(s.input::<ChatBody>())
    .answer(
        200,
        "The turn's events",
        events::chat_stream(s.output_generator()),
    )
    .errors(TURN);
    s.add(op);
    let page = s.query::<PageQuery>();
    let op = Op::new(
        "get",
        "/api/{user_id}/conversations",
        "The user's conversations",
    )
    .bearer()
    .parameters(page.clone())
    .json(200, "A page, newest first", s.output::<Page<ThreadView>>())
    .errors(USER_READ);
    s.add(op);
    let op = Op::new("get", MESSAGES, "A conversation's messages")
        .bearer()
        .parameters(page)
        .json(
            200,
            "A page, oldest first, and the queued messages",
            s.output::<MessagesPage>(),
        )
        .errors(&[400, 401, 403, 404, 500, 503]);
    s.add(op);
    let last = header("Last-Event-ID", "The number of the last event received.");
    let op = Op::new(
        "get",
        RESUME,
        "The rest of the running turn, as Server-Sent Events",
    )
    .bearer()
    .parameters(vec![last])
    .answer(
        200,
        "The turn's events after `Last-Event-ID`",
        events::chat_stream(s.output_generator()),
    )
    .answer(204, "No turn runs on the conversation", Value::Null)
    .errors(&[400, 401, 403, 404, 500, 503]);
    s.add(op);
    let path = "/api/{user_id}/conversations/{conversation_id}/queue/{message_id}";
    let op = Op::new(
        "delete",
        path,
        "Takes a queued message off its conversation's queue",
    )
    .bearer()
    .answer(204, "Cancelled before it ran", Value::Null)
    .errors(&[400, 401, 403, 404, 500, 503]);
    s.add(op);
    let op = Op::new("get", "/api/{user_id}/tasks", "The user's tasks")
        .bearer()
        .parameters(s.query::<TaskQuery>())
        .json(200, "A page of tasks", s.output::<Page<Task>>())
        .errors(USER_READ);
    s.add(op);
}

fn chatkit(s: &mut Spec) {
    let body = schemas::chatkit_request(s.input_generator());
    let op = Op::new(
        "post",
        "/api/chatkit",
        "Every ChatKit request (docs/chatkit.md)",
    )
    .bearer()
    .json_body(body)
    .answer(
        200,
        "JSON, or events for the six streaming types (threads.create, …)",
        json!({"application/json": {"schema": {"type": "object"}},
                   SSE: {"schema": typed_events()}}),
    )
    .errors(&[400, 401, 404, 409, 413, 415, 429, 500, 503]);
    s.add(op);
    let op = Op::new(
        "get",
        "/api/chatkit/health",
        "What this ChatKit backend offers",
    )
    .json(200, "Serving", s.output::<chatkit::Health>());
    s.add(op);
    let attachment = schemas::chatkit_attachment();
    let types = chatkit::attachments::ALLOWED_MIME_TYPES.join(", ");
    let file = json!({"multipart/form-data": {
        "schema": {"type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream"}}},
        "encoding": {"file": {"contentType": types}},
    }});
    let op = Op::new(
        "post",
        "/api/chatkit/attachments",
        "Uploads a file in one request",
    )
    .bearer()
    .body(file.clone())
    .json(200, "The attachment", attachment.clone())
    .link(200, "get", PREVIEW, json!({"id": "$response.body#/id"}))
    .errors(&[400, 401, 413, 415, 500, 503]);
    s.add(op);
    // The announced type stands: the bytes' own type is not read, multipart or raw.
    let mut upload = file;
    upload["multipart/form-data"]
        .as_object_mut()
        .map(|m| m.remove("encoding"));
    upload["application/octet-stream"] = json!({});
    let link = json!([{"bearer": []}, {"link": []}]);
    for method in ["post", "put"] {
        let op = Op::new(
            method,
            UPLOAD,
            "The bytes of an announced attachment (once)",
        )
        .security(link.clone())
        .body(upload.clone())
        .json(200, "The attachment", attachment.clone())
        .errors(&[400, 401, 404, 409, 413, 500, 503]);
        s.add(op);
    }
    let op = Op::new("get", PREVIEW, "An attachment's bytes")
        .security(link)
        .answer(200, "The bytes, with their type", json!({"*/*": {}}))
        .errors(&[400, 401, 404, 500, 503]);
    s.add(op);
}

fn mcp(s: &mut Spec) {
    let session = json!({"name": "Mcp-Session-Id", "in": "header", "required": false,
        "description": "The session `initialize` opened (its answer's header).",
        "schema": {"type": "string"}});
    let accept = "Send `Accept: application/json, text/event-stream`; other answers are 406.";
    // Every message of a session follows its `initialize`; a link hands the session on, so
    // fuzzed messages reach the tools. None leads to GET, whose stream never ends.
    let in_session = json!({"header.Mcp-Session-Id": "$response.header.Mcp-Session-Id"});
    let body = json!({"anyOf": [schemas::mcp_initialize(), schemas::json_rpc_message()]});
    let op = Op::new(
        "post",
        MCP,
        "One MCP message (JSON-RPC 2.0, streamable HTTP)",
    )
    .describe(accept)
    .bearer()
    .parameters(vec![session.clone()])
    .json_body(body)
    .answer(
        200,
        "The answer to a request",
        json!({SSE: {"schema": {"type": "object"}},
                   "application/json": {"schema": schemas::json_rpc_message()}}),
    )
    .link(200, "post", MCP, in_session.clone())
    .link(200, "delete", MCP, in_session)
    .answer(202, "A notification or response, taken", Value::Null)
    .json(
        400,
        "A body that is not one JSON-RPC message (a JSON-RPC error), or a bad request",
        json!({"oneOf": [schemas::json_rpc_error(), {"$ref": "#/components/schemas/Error"}]}),
    )
    .errors(&[401, 404, 406, 413, 415, 429, 500]);
    s.add(op);
    let op = Op::new("get", MCP, "The session's stream of server messages")
        .describe(accept)
        .bearer()
        .parameters(vec![session.clone()])
        .answer(
            200,
            "Server-sent JSON-RPC messages (after an empty priming event)",
            json!({SSE: {"schema": {"type": "object"}}}),
        )
        .errors(&[400, 401, 404, 406, 500]);
    s.add(op);
    let op = Op::new("delete", MCP, "Closes the session")
        .bearer()
        .parameters(vec![session])
        .answer(202, "Closed", Value::Null)
        .errors(&[400, 401, 404, 500]);
    s.add(op);
}
