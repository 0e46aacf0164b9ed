//! Every route answers every error in the documented shape, `{"error":{"code","message"}}`
//! (JSON-RPC's own for a message refused by `/api/mcp`), and no route reads a body over its
//! limit. The walk covers each route of the router with a malformed path segment, a malformed
//! query, a malformed body, an oversized body, no token and every method it does not take; the
//! route list is checked against the router's source, so a new route must be added here.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::chatkit::ck;
use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

/// What a route reads from its body.
#[derive(Clone, Copy)]
enum Body {
    /// Nothing.
    None,
    /// JSON; this is a valid one.
    Json(fn() -> Value),
    /// Any bytes (an attachment's).
    Raw,
}

struct Route {
    path: &'static str,
    methods: &'static [Method],
    body: Body,
}

const GET: &[Method] = &[Method::GET];
const POST: &[Method] = &[Method::POST];

fn chat_body() -> Value {
    json!({"message": "hello"})
}

fn chatkit_body() -> Value {
    json!({"type": "threads.list", "params": {}})
}

fn token_body() -> Value {
    json!({"user_id": "alice"})
}

fn ai_sdk_body() -> Value {
    json!({"id": "walk", "trigger": "submit-message",
        "messages": [{"id": "m1", "role": "user", "parts": [{"type": "text", "text": "hello"}]}]})
}

/// Every route of the router (development mode, so `/api/dev/token` is mounted).
const ROUTES: &[Route] = &[
    Route {
        path: "/",
        methods: GET,
        body: Body::None,
    },
    Route {
        path: "/rest.html",
        methods: GET,
        body: Body::None,
    },
    Route {
        path: "/assets/{file}",
        methods: GET,
        body: Body::None,
    },
    Route {
        path: "/assets/vendor/{file}",
        methods: GET,
        body: Body::None,
    },
    Route {
        path: "/api/health",
        methods: GET,
        body: Body::None,
    },
    Route {
        path: "/api/openapi.json",
        methods: GET,
        body: Body::None,
    },
    Route {
        path: "/metrics",
        methods: GET,
        body: Body::None,
    },
    Route {
        path: "/api/ws",
        methods: GET,
        body: Body::None,
    },
    Route {
        path: "/api/{user_id}/chat",
        methods: POST,
        body: Body::Json(chat_body),
    },
    Route {
        path: "/api/{user_id}/chat/stream",
        methods: POST,
        body: Body::Json(chat_body),
    },
    Route {
        path: "/api/{user_id}/conversations",
        methods: GET,
        body: Body::None,
    },
    Route {
        path: "/api/{user_id}/conversations/{conversation_id}/messages",
        methods: GET,
        body: Body::None,
    },
    Route {
        path: "/api/{user_id}/conversations/{conversation_id}/stream",
        methods: GET,
        body: Body::None,
    },
    Route {
        path: "/api/{user_id}/conversations/{conversation_id}/queue/{message_id}",
        methods: &[Method::DELETE],
        body: Body::None,
    },
    Route {
        path: "/api/{user_id}/tasks",
        methods: GET,
        body: Body::None,
    },
    Route {
        path: "/api/chatkit",
        methods: POST,
        body: Body::Json(chatkit_body),
    },
    Route {
        path: "/api/chatkit/health",
        methods: GET,
        body: Body::None,
    },
    Route {
        path: "/api/chatkit/attachments",
        methods: POST,
        body: Body::Raw,
    },
    Route {
        path: "/api/chatkit/attachments/{id}/upload",
        methods: &[Method::POST, Method::PUT],
        body: Body::Raw,
    },
    Route {
        path: "/api/chatkit/attachments/{id}/preview",
        methods: GET,
        body: Body::None,
    },
    Route {
        path: "/api/ai-sdk",
        methods: POST,
        body: Body::Json(ai_sdk_body),
    },
    Route {
        path: "/api/ai-sdk/ws",
        methods: GET,
        body: Body::None,
    },
    Route {
        path: "/api/ai-sdk/{chat_id}/stream",
        methods: GET,
        body: Body::None,
    },
    Route {
        path: "/api/dev/token",
        methods: POST,
        body: Body::Json(token_body),
    },
    Route {
        path: "/api/mcp",
        methods: &[Method::GET, Method::POST, Method::DELETE],
        body: Body::Json(common::mcp::initialize),
    },
];

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// Segments no handler takes: not UTF-8 once decoded, overlong UTF-8, a NUL.
const BAD_SEGMENTS: &[&str] = &["%FF", "%C0%80", "%00"];

/// Queries every query-reading handler refuses: repeated and mistyped fields.
const BAD_QUERY: &str =
    "limit=abc&limit=1&after=a&after=b&status=a&status=b&sig=a&sig=b&token=a&token=b";

const MAX_BODY: usize = 2048;
const MAX_ATTACHMENT: usize = 2048;
/// Over the JSON limit and over the upload routes' (the attachment limit plus 16 KiB of framing).
const OVERSIZED: usize = 64 * 1024;

#[test]
fn the_walk_covers_every_route_of_the_router() {
    let listed: BTreeSet<String> = ROUTES.iter().map(|r| r.path.to_string()).collect();
    assert_eq!(
        listed,
        common::source::registered_paths(),
        "add new routes to ROUTES in tests/hostile_error_shape.rs"
    );
}

/// One answer: status, content type and body text (read only for errors: a success may stream).
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

/// The walk's server, a conversation and an attachment of alice's to name in paths.
struct Walk {
    app: TestApp,
    conversation: String,
    attachment: String,
}

impl Walk {
    async fn new() -> Self {
        let app = TestApp::spawn_with(|c| {
            c.max_body_bytes = MAX_BODY;
            c.ai_sdk_max_body_bytes = MAX_BODY;
            c.attachment_max_bytes = MAX_ATTACHMENT;
        })
        .await;
        let conversation = app.say("alice", "hello", None).await["conversation_id"]
            .as_str()
            .unwrap()
            .to_string();
        let create = json!({"type": "attachments.create",
            "params": {"name": "a.txt", "size": 4, "mime_type": "text/plain"}});
        let attachment = ck(&app, "alice", create).await.json()["id"]
            .as_str()
            .unwrap()
            .to_string();
        Walk {
            app,
            conversation,
            attachment,
        }
    }

    /// The route's path with its parameters filled with alice's names, and `bad` (when given)
    /// in place of parameter `bad.0`.
    fn path(&self, template: &str, bad: Option<(&str, &str)>) -> String {
        let mut path = template.to_string();
        for (param, good) in [
            ("user_id", "alice"),
            ("conversation_id", self.conversation.as_str()),
            ("id", self.attachment.as_str()),
            ("message_id", "00000000-0000-4000-8000-000000000000"),
            ("chat_id", "walk"),
            ("file", "app.js"),
        ] {
            let value = match bad {
                Some((name, value)) if name == param => value,
                _ => good,
            };
            path = path.replace(&format!("{{{param}}}"), value);
        }
        assert!(!path.contains('{'), "unknown parameter in {template}");
        path
    }

    async fn send(
        &self,
        method: &Method,
        path: &str,
        body: Option<(&'static str, Vec<u8>)>,
        token: bool,
    ) -> Answer {
        let mut req = self
            .app
            .client()
            .request(method.clone(), format!("{}{path}", self.app.url))
            .header("accept", "application/json, text/event-stream")
            .timeout(Duration::from_secs(10));
        if token {
            req = req.bearer_auth(self.app.token_for("alice"));
        }
        if let Some((content_type, bytes)) = body {
            req = req.header("content-type", content_type).body(bytes);
        }
        let r = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = if status >= 400 {
            r.text().await.unwrap()
        } else {
            String::new()
        };
        Answer {
            status,
            content_type,
            body,
        }
    }
}

/// Panics unless an error answer is in our shape (or, from `/api/mcp`, JSON-RPC's); no answer
/// may be a 5xx. Returns the error code for the caller to check.
fn check(route: &Route, what: &str, a: &Answer) -> Option<String> {
    let at = format!("{} {what}", route.path);
    assert!(a.status < 500, "{at}: {} {}", a.status, a.body);
    if a.status < 400 {
        return None;
    }
    assert!(
        a.content_type.starts_with("application/json"),
        "{at}: {} with {:?}: {}",
        a.status,
        a.content_type,
        a.body
    );
    let v: Value = serde_json::from_str(&a.body).unwrap_or_else(|_| panic!("{at}: {}", a.body));
    let error = &v["error"];
    if route.path == "/api/mcp" && v["jsonrpc"] == "2.0" && error["code"].is_i64() {
        return Some(error["code"].to_string());
    }
    assert!(
        error["code"].is_string() && error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{at}: {} {v}",
        a.status
    );
    Some(error["code"].as_str().unwrap().to_string())
}

/// `body` padded past every limit with whitespace, still valid for its route.
fn oversized(body: Body) -> (&'static str, Vec<u8>) {
    match body {
        Body::Json(valid) => {
            let mut bytes = valid().to_string().into_bytes();
            bytes.resize(OVERSIZED, b' ');
            ("application/json", bytes)
        }
        Body::Raw | Body::None => ("text/plain", vec![b'x'; OVERSIZED]),
    }
}

#[tokio::test]
async fn every_route_answers_errors_in_the_documented_shape() {
    let walk = Walk::new().await;
    // Oversized bodies first, while the attachment still awaits its bytes (an upload route
    // checks that before it reads a body).
    for route in ROUTES {
        let path = walk.path(route.path, None);
        for method in route.methods {
            let a = walk
                .send(method, &path, Some(oversized(route.body)), true)
                .await;
            let code = check(route, &format!("{method}, oversized body"), &a);
            if !matches!(route.body, Body::None) && matches!(*method, Method::POST | Method::PUT) {
                assert_eq!(a.status, 413, "{method} {}: {}", route.path, a.body);
                assert_eq!(code.as_deref(), Some("payload_too_large"));
            }
        }
    }
    for route in ROUTES {
        let path = walk.path(route.path, None);
        for method in &METHODS {
            if route.methods.contains(method) {
                continue;
            }
            let a = walk.send(method, &path, None, true).await;
            let code = check(route, &format!("{method}, a method it does not take"), &a);
            assert_eq!(a.status, 405, "{method} {}", route.path);
            assert_eq!(code.as_deref(), Some("method_not_allowed"));
        }
        for method in route.methods {
            let a = walk.send(method, &path, None, false).await;
            check(route, &format!("{method} without a token"), &a);

            let query = format!("{path}?{BAD_QUERY}");
            let a = walk.send(method, &query, None, true).await;
            check(route, &format!("{method} with a malformed query"), &a);

            let broken = Some(("application/json", b"{\"broken".to_vec()));
            let a = walk.send(method, &path, broken, true).await;
            let code = check(route, &format!("{method} with a malformed body"), &a);
            if matches!(route.body, Body::Json(_)) && *method == Method::POST {
                assert_eq!(a.status, 400, "{method} {}: {}", route.path, a.body);
                assert!(code.is_some());
            }

            for param in route.path.split('{').skip(1) {
                let name = &param[..param.find('}').unwrap()];
                for segment in BAD_SEGMENTS {
                    let bad = walk.path(route.path, Some((name, segment)));
                    let a = walk.send(method, &bad, None, true).await;
                    let what = format!("{method} with {name} = {segment}");
                    let code = check(route, &what, &a);
                    assert_eq!(a.status, 400, "{what} {}: {}", route.path, a.body);
                    assert_eq!(code.as_deref(), Some("invalid_request"), "{what}");
                }
            }

            // And the route is there: its well-formed request is not refused for its method.
            let body = match route.body {
                Body::Json(valid) => Some(("application/json", valid().to_string().into_bytes())),
                Body::Raw => Some(("text/plain", b"data".to_vec())),
                Body::None => None,
            };
            let a = walk.send(method, &path, body, true).await;
            check(route, &format!("{method}, well formed"), &a);
            assert_ne!(a.status, 405, "{method} {}", route.path);
        }
    }
}
