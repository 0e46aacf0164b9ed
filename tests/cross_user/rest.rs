//! Every route of the router, as Bob calls it: each builder reads the ids its request names
//! through [`Ids`], so the matrix tries Alice's in each. The list is checked against the
//! router's source: a route missing here fails the matrix.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use super::common::mcp::SESSION;
use super::ids::{Ids, Kind};
use super::world::World;
use super::Answer;

/// One HTTP request of Bob's.
pub struct Http {
    method: Method,
    path: String,
    query: Vec<(&'static str, String)>,
    headers: Vec<(&'static str, String)>,
    body: Body,
}

enum Body {
    None,
    Json(Value),
    Bytes(&'static str),
    /// A multipart form with one `file`.
    File,
}

impl Http {
    fn new(method: Method, path: String) -> Self {
        Http {
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::None,
        }
    }
}

/// Builds one request to a route from the route's path and the ids.
pub type Call = fn(&Ids, &str) -> Http;

pub enum Route {
    /// The requests the route takes.
    Calls(&'static [Call]),
    /// The route carries another protocol, whose every message the matrix covers (FRAMES,
    /// REQUESTS).
    Elsewhere,
    /// The route names another user by design (said where it is listed).
    Exempt,
}

/// Every route of the router (development mode, so `/api/dev/token` is mounted).
pub const ROUTES: &[(&str, Route)] = &[
    ("/", Route::Calls(&[get])),
    ("/rest.html", Route::Calls(&[get])),
    ("/assets/{file}", Route::Calls(&[get])),
    ("/assets/vendor/{file}", Route::Calls(&[get])),
    ("/api/health", Route::Calls(&[get])),
    ("/api/openapi.json", Route::Calls(&[get])),
    ("/metrics", Route::Calls(&[get])),
    // Every frame type: FRAMES.
    ("/api/ws", Route::Elsewhere),
    ("/api/{user_id}/chat", Route::Calls(CHAT)),
    ("/api/{user_id}/chat/stream", Route::Calls(CHAT)),
    (
        "/api/{user_id}/conversations",
        Route::Calls(&[get, get_after]),
    ),
    (
        "/api/{user_id}/conversations/{conversation_id}/messages",
        Route::Calls(&[get, get_after]),
    ),
    (
        "/api/{user_id}/conversations/{conversation_id}/stream",
        Route::Calls(&[get, resume_stream]),
    ),
    (
        "/api/{user_id}/conversations/{conversation_id}/queue/{message_id}",
        Route::Calls(&[delete]),
    ),
    ("/api/{user_id}/tasks", Route::Calls(&[get, get_after])),
    // Every request type: REQUESTS.
    ("/api/chatkit", Route::Elsewhere),
    ("/api/chatkit/health", Route::Calls(&[get])),
    ("/api/chatkit/attachments", Route::Calls(&[upload_file])),
    (
        "/api/chatkit/attachments/{id}/upload",
        Route::Calls(&[upload, upload_put]),
    ),
    (
        "/api/chatkit/attachments/{id}/preview",
        Route::Calls(&[get]),
    ),
    ("/api/ai-sdk", Route::Calls(&[ai_sdk_send])),
    // Its frames name chats as the body of POST /api/ai-sdk does; tests/ai_sdk.rs tries
    // another user's chat and thread ids on them.
    ("/api/ai-sdk/ws", Route::Elsewhere),
    (
        "/api/ai-sdk/{chat_id}/stream",
        Route::Calls(&[get, resume_stream]),
    ),
    // Development only (not mounted in production): mints a token for any user.
    ("/api/dev/token", Route::Exempt),
    (
        "/api/mcp",
        Route::Calls(&[mcp_stream, mcp_message, mcp_close]),
    ),
];

/// A send to a thread, each way a thread that is answering may take it.
const CHAT: &[Call] = &[chat_rejecting, chat_interrupting, chat_enqueueing];

fn get(ids: &Ids, path: &str) -> Http {
    Http::new(Method::GET, ids.path(path))
}

fn get_after(ids: &Ids, path: &str) -> Http {
    let mut http = get(ids, path);
    http.query.push(("after", ids.get(Kind::Cursor)));
    http
}

fn resume_stream(ids: &Ids, path: &str) -> Http {
    let mut http = get(ids, path);
    http.headers.push(("last-event-id", "1".into()));
    http
}

fn delete(ids: &Ids, path: &str) -> Http {
    Http::new(Method::DELETE, ids.path(path))
}

fn chat(ids: &Ids, path: &str, on_busy: &str) -> Http {
    let mut http = Http::new(Method::POST, ids.path(path));
    http.body = Body::Json(json!({
        "message": "what are my tasks",
        "conversation_id": ids.get(Kind::Thread),
        "client_message_id": ids.get(Kind::SendId),
        "on_busy": on_busy,
    }));
    http
}

fn chat_rejecting(ids: &Ids, path: &str) -> Http {
    chat(ids, path, "reject")
}

fn chat_interrupting(ids: &Ids, path: &str) -> Http {
    chat(ids, path, "interrupt")
}

fn chat_enqueueing(ids: &Ids, path: &str) -> Http {
    chat(ids, path, "enqueue")
}

/// A send to an AI SDK chat. (A regeneration names its chat the same way, but would find
/// the chat this send made for Bob under Alice's id, which an id never used has not.)
fn ai_sdk_send(ids: &Ids, path: &str) -> Http {
    let mut http = Http::new(Method::POST, ids.path(path));
    let text = json!({"type": "text", "text": "what are my tasks"});
    http.body = Body::Json(json!({
        "id": ids.get(Kind::Chat),
        "trigger": "submit-message",
        "messages": [{"id": "m1", "role": "user", "parts": [text]}],
    }));
    http
}

fn upload(ids: &Ids, path: &str) -> Http {
    let mut http = Http::new(Method::POST, ids.path(path));
    http.body = Body::Bytes("bobs!");
    http
}

fn upload_put(ids: &Ids, path: &str) -> Http {
    Http {
        method: Method::PUT,
        ..upload(ids, path)
    }
}

fn upload_file(ids: &Ids, path: &str) -> Http {
    let mut http = Http::new(Method::POST, ids.path(path));
    http.body = Body::File;
    http
}

fn mcp_stream(ids: &Ids, path: &str) -> Http {
    let mut http = get(ids, path);
    http.headers = vec![
        ("accept", "text/event-stream".into()),
        (SESSION, ids.get(Kind::Session)),
    ];
    http
}

fn mcp_message(ids: &Ids, path: &str) -> Http {
    let mut http = Http::new(Method::POST, ids.path(path));
    http.headers = vec![
        ("accept", "application/json, text/event-stream".into()),
        (SESSION, ids.get(Kind::Session)),
    ];
    http.body = Body::Json(json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list"}));
    http
}

fn mcp_close(ids: &Ids, path: &str) -> Http {
    let mut http = delete(ids, path);
    http.headers = vec![(SESSION, ids.get(Kind::Session))];
    http
}

/// Sends Bob's request; a body still streaming after a few seconds counts as what it is.
pub async fn send(w: &World, http: Http) -> Answer {
    let mut req = w
        .app
        .client()
        .request(http.method.clone(), format!("{}{}", w.app.url, http.path))
        .bearer_auth(w.app.token_for("bob"))
        .query(&http.query);
    for (name, value) in &http.headers {
        req = req.header(*name, value);
    }
    req = match http.body {
        Body::None => req,
        Body::Json(v) => req.json(&v),
        Body::Bytes(b) => req.body(b),
        Body::File => {
            let part = reqwest::multipart::Part::bytes(b"bobs!".to_vec())
                .file_name("errand.txt")
                .mime_str("text/plain")
                .unwrap();
            req.multipart(reqwest::multipart::Form::new().part("file", part))
        }
    };
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = match tokio::time::timeout(Duration::from_secs(5), r.text()).await {
        Ok(text) => text.unwrap(),
        Err(_) => "(still streaming)".into(),
    };
    Answer::of_http(status, text)
}
