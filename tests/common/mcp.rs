//! Raw streamable HTTP to `/api/mcp`, as an MCP client sends it: sessions opened, used and
//! closed by hand, so tests can send what no well-behaved client would.

use serde_json::{json, Value};

use super::{assert_error, json_of, TestApp};

/// The header naming a session.
pub const SESSION: &str = "mcp-session-id";

/// An `initialize` request, the first of every session.
pub fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}})
}

/// A POST to `/api/mcp` as `user`, as an MCP client sends it.
pub fn post(app: &TestApp, user: &str, session: Option<&str>) -> reqwest::RequestBuilder {
    let mut req = app
        .post("/api/mcp", user)
        .header("accept", "application/json, text/event-stream");
    if let Some(id) = session {
        req = req.header(SESSION, id);
    }
    req
}

/// Opens a session for `user` (initialize, then initialized); returns its id, or the status
/// and body of the refusal.
pub async fn try_open(app: &TestApp, user: &str) -> Result<String, (u16, Value)> {
    let r = post(app, user, None)
        .json(&initialize())
        .send()
        .await
        .unwrap();
    if r.status() != 200 {
        return Err(json_of(r).await);
    }
    let id = r.headers()[SESSION].to_str().unwrap().to_string();
    let text = r.text().await.unwrap();
    assert!(text.contains("agentwire"), "{text}");
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let r = post(app, user, Some(&id)).json(&note).send().await.unwrap();
    assert_eq!(r.status(), 202);
    Ok(id)
}

/// Opens a session for `user`; panics when refused.
pub async fn open(app: &TestApp, user: &str) -> String {
    try_open(app, user).await.expect("session opens")
}

/// `tools/list` in session `id` as `user`: the status, and whether the answer lists the tools.
pub async fn list(app: &TestApp, user: &str, id: &str) -> (u16, String) {
    let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let r = post(app, user, Some(id)).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

/// Panics unless `user` may use session `id`.
pub async fn assert_lists(app: &TestApp, user: &str, id: &str) {
    let (status, text) = list(app, user, id).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("add_task"), "{text}");
}

/// Panics unless session `id` is 404 `not_found` to `user`.
pub async fn assert_gone(app: &TestApp, user: &str, id: &str) {
    let (status, text) = list(app, user, id).await;
    assert_eq!(status, 404, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_error(&v, "not_found");
}

/// The session's event stream, asked for by `user`.
pub fn get(app: &TestApp, user: &str, id: &str) -> reqwest::RequestBuilder {
    app.get("/api/mcp", user)
        .header("accept", "text/event-stream")
        .header(SESSION, id)
}

/// Closing the session, asked for by `user`.
pub fn delete(app: &TestApp, user: &str, id: &str) -> reqwest::RequestBuilder {
    app.client()
        .delete(format!("{}/api/mcp", app.url))
        .bearer_auth(app.token_for(user))
        .header(SESSION, id)
}
