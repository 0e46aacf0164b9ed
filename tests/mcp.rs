//! The task tools over MCP, driven by rmcp's own client: streamable HTTP with JWT auth, and stdio.

mod common;

use common::{assert_error, json_of, TestApp, SECRET};
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::ServiceExt;
use serde_json::{json, Value};

type Client = RunningService<RoleClient, ClientConfig>;

async fn http_client(app: &TestApp, user: &str) -> Client {
    let config = StreamableHttpClientTransportConfig::with_uri(format!("{}/api/mcp", app.url))
        .auth_header(app.token_for(user));
    ClientConfig::default()
        .serve(StreamableHttpClientTransport::from_config(config))
        .await
        .expect("MCP session starts")
}

/// Calls a tool; returns (is_error, the JSON text result).
async fn call(client: &Client, tool: &str, args: Value) -> (bool, Value) {
    let args = args.as_object().cloned().unwrap_or_default();
    let result = client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
        .await
        .expect("tool call answers");
    let v = serde_json::to_value(&result).unwrap();
    let text = v["content"][0]["text"].as_str().expect("text content");
    (
        v["isError"] == json!(true),
        serde_json::from_str(text).unwrap(),
    )
}

async fn tool_names(client: &Client) -> Vec<String> {
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn http_mcp_lists_and_calls_every_tool_for_the_token_user_only() {
    let app = TestApp::spawn().await;
    let alice = http_client(&app, "alice").await;
    assert_eq!(
        tool_names(&alice).await,
        [
            "add_task",
            "complete_task",
            "delete_task",
            "list_tasks",
            "update_task"
        ]
    );
    let tools = alice.list_all_tools().await.unwrap();
    let add = tools.iter().find(|t| t.name == "add_task").unwrap();
    assert!(add
        .input_schema
        .get("properties")
        .unwrap()
        .get("title")
        .is_some());

    let (err, v) = call(
        &alice,
        "add_task",
        json!({"title": "buy milk", "priority": "high"}),
    )
    .await;
    assert!(!err, "{v}");
    assert_eq!(v["task"]["number"], 1);
    call(
        &alice,
        "add_task",
        json!({"title": "pay rent", "due_date": "2026-12-01"}),
    )
    .await;
    let (_, v) = call(
        &alice,
        "update_task",
        json!({"task": "rent", "title": "pay the rent"}),
    )
    .await;
    assert_eq!(v["task"]["title"], "pay the rent");
    let (_, v) = call(&alice, "complete_task", json!({"task": 1})).await;
    assert_eq!(v["change"], "completed");
    let (_, v) = call(&alice, "list_tasks", json!({"status": "pending"})).await;
    assert_eq!(v["count"], 1);
    assert_eq!(v["tasks"][0]["title"], "pay the rent");
    let (_, v) = call(&alice, "delete_task", json!({"task": "#2"})).await;
    assert_eq!(v["change"], "deleted");
    let rest = app.tasks("alice").await;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["completed"], true);

    // A user id in the arguments is not a way to reach another user: it is refused.
    let args = json!({"title": "x", "user_id": "bob"})
        .as_object()
        .cloned()
        .unwrap();
    let refused = alice
        .call_tool(CallToolRequestParams::new("add_task").with_arguments(args))
        .await;
    assert!(
        refused.as_ref().map_or(true, |r| r.is_error == Some(true)),
        "{refused:?}"
    );
    assert!(app.tasks("bob").await.is_empty());
    assert_eq!(app.tasks("alice").await.len(), 1);

    // Bob's session sees and changes only Bob's tasks.
    let bob = http_client(&app, "bob").await;
    let (_, v) = call(&bob, "list_tasks", json!({})).await;
    assert_eq!(v["count"], 0);
    let (err, v) = call(&bob, "complete_task", json!({"task": 1})).await;
    assert!(err);
    assert_eq!(v["error"], "not_found");
    let (err, _) = call(&bob, "delete_task", json!({"task": "milk"})).await;
    assert!(err);
    assert_eq!(app.tasks("alice").await.len(), 1);
}

#[tokio::test]
async fn http_mcp_refuses_missing_and_bad_tokens() {
    let app = TestApp::spawn().await;
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    for auth in [None, Some("Bearer nope")] {
        let mut req = app
            .client()
            .post(format!("{}/api/mcp", app.url))
            .header("accept", "application/json, text/event-stream")
            .json(&init);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        let (s, v) = json_of(r).await;
        assert_eq!(s, 401);
        assert_error(&v, "unauthorized");
    }
}

#[tokio::test]
async fn stdio_mcp_acts_for_the_user_it_was_started_for() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mcp.db");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_agentwire"));
    cmd.args(["mcp", "--user", "carol"])
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("JWT_SECRET_KEY", SECRET)
        .env("RUST_LOG", "warn")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL");
    let client = ClientConfig::default()
        .serve(TokioChildProcess::new(cmd).unwrap())
        .await
        .expect("stdio MCP session starts");
    assert_eq!(tool_names(&client).await.len(), 5);
    let (err, v) = call(&client, "add_task", json!({"title": "water plants"})).await;
    assert!(!err, "{v}");
    let (err, v) = call(&client, "add_task", json!({"title": ""})).await;
    assert!(err);
    assert_eq!(v["error"], "invalid_arguments");
    client.cancel().await.unwrap();

    let app = TestApp::spawn_at(&db, |_| {}).await;
    let tasks = app.tasks("carol").await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["title"], "water plants");
    assert!(app.tasks("dave").await.is_empty());
}

// ---- Raw streamable HTTP: sessions, their owners and limits, and the error shapes. ----

const SESSION: &str = "mcp-session-id";

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}})
}

/// A POST to `/api/mcp` as `user`, as an MCP client sends it.
fn post(app: &TestApp, user: &str, session: Option<&str>) -> reqwest::RequestBuilder {
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
async fn try_open(app: &TestApp, user: &str) -> Result<String, (u16, Value)> {
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

async fn open(app: &TestApp, user: &str) -> String {
    try_open(app, user).await.expect("session opens")
}

/// `tools/list` in session `id` as `user`: the status, and whether the answer lists the tools.
async fn list(app: &TestApp, user: &str, id: &str) -> (u16, String) {
    let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let r = post(app, user, Some(id)).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

async fn assert_lists(app: &TestApp, user: &str, id: &str) {
    let (status, text) = list(app, user, id).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("add_task"), "{text}");
}

async fn assert_gone(app: &TestApp, user: &str, id: &str) {
    let (status, text) = list(app, user, id).await;
    assert_eq!(status, 404, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_error(&v, "not_found");
}

fn get(app: &TestApp, user: &str, id: &str) -> reqwest::RequestBuilder {
    app.get("/api/mcp", user)
        .header("accept", "text/event-stream")
        .header(SESSION, id)
}

fn delete(app: &TestApp, user: &str, id: &str) -> reqwest::RequestBuilder {
    app.client()
        .delete(format!("{}/api/mcp", app.url))
        .bearer_auth(app.token_for(user))
        .header(SESSION, id)
}

#[tokio::test]
async fn another_users_session_id_is_404_on_every_method() {
    let app = TestApp::spawn().await;
    let id = open(&app, "alice").await;

    assert_gone(&app, "bob", &id).await;
    let (s, v) = json_of(get(&app, "bob", &id).send().await.unwrap()).await;
    assert_eq!(s, 404);
    assert_error(&v, "not_found");
    let (s, v) = json_of(delete(&app, "bob", &id).send().await.unwrap()).await;
    assert_eq!(s, 404);
    assert_error(&v, "not_found");
    // An id no one holds answers the same: nothing tells Bob the first one exists.
    assert_gone(&app, "bob", "no-such-session").await;

    // Alice's session is untouched by all of that.
    assert_lists(&app, "alice", &id).await;
    let stream = get(&app, "alice", &id).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    drop(stream);
    let r = delete(&app, "alice", &id).send().await.unwrap();
    assert_eq!(r.status(), 202);
    assert_gone(&app, "alice", &id).await;
}

#[tokio::test]
async fn sessions_are_capped_per_user_and_in_total() {
    let app = TestApp::spawn_with(|c| {
        c.mcp.max_sessions_per_user = 2;
        c.mcp.max_sessions = 3;
    })
    .await;
    let a1 = open(&app, "alice").await;
    let a2 = open(&app, "alice").await;
    assert_lists(&app, "alice", &a1).await;
    // Alice at her limit: her least recently used session (a2) makes room.
    let a3 = open(&app, "alice").await;
    assert_gone(&app, "alice", &a2).await;
    assert_lists(&app, "alice", &a1).await;
    assert_lists(&app, "alice", &a3).await;

    // Three open in all: a new user is refused, and no one else's session is closed for it.
    let b1 = open(&app, "bob").await;
    let (s, v) = try_open(&app, "carol").await.unwrap_err();
    assert_eq!(s, 429);
    assert_error(&v, "too_many_sessions");
    assert_lists(&app, "bob", &b1).await;
    assert_lists(&app, "alice", &a1).await;
    assert_lists(&app, "alice", &a3).await;

    // A closed session frees its room.
    let r = delete(&app, "bob", &b1).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let c1 = open(&app, "carol").await;
    assert_lists(&app, "carol", &c1).await;
}

#[tokio::test]
async fn idle_sessions_close_and_free_their_room() {
    let app = TestApp::spawn_with(|c| {
        c.mcp.session_idle = std::time::Duration::from_secs(1);
        c.mcp.max_sessions = 1;
    })
    .await;
    let id = open(&app, "alice").await;
    // In use, a session outlives its idle time many times over.
    for _ in 0..6 {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert_lists(&app, "alice", &id).await;
    }
    // Left alone, it closes; its id answers 404, and its room goes to someone else.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_gone(&app, "alice", &id).await;
    let other = open(&app, "bob").await;
    assert_lists(&app, "bob", &other).await;
}

#[tokio::test]
async fn mcp_errors_come_in_the_documented_shapes() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 2048).await;
    let raw = |body: &'static str| {
        post(&app, "alice", None)
            .header("content-type", "application/json")
            .body(body)
    };
    let is_json = |r: &reqwest::Response| r.headers()["content-type"] == "application/json";

    // A body that is not JSON, and JSON that is not a message: JSON-RPC errors, as MCP asks.
    let r = raw("{\"jsonrpc\": \"2.0\", ").send().await.unwrap();
    assert!(is_json(&r));
    let (s, v) = json_of(r).await;
    assert_eq!(s, 400);
    assert_eq!(v["jsonrpc"], "2.0");
    assert_eq!(v["id"], Value::Null);
    assert_eq!(v["error"]["code"], -32700);
    let (s, v) = json_of(raw("{\"hello\": 1}").send().await.unwrap()).await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["code"], -32600);

    // Errors of HTTP itself: ours.
    let r = post(&app, "alice", None)
        .header("content-type", "text/plain")
        .body(initialize().to_string())
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 415);
    assert_error(&v, "unsupported_media_type");

    for method in [reqwest::Method::PUT, reqwest::Method::PATCH] {
        let r = app
            .client()
            .request(method, format!("{}/api/mcp", app.url))
            .bearer_auth(app.token_for("alice"))
            .json(&initialize())
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["allow"], "GET, POST, DELETE");
        let (s, v) = json_of(r).await;
        assert_eq!(s, 405);
        assert_error(&v, "method_not_allowed");
    }

    for size in [4096, 1 << 20] {
        let mut big = initialize();
        big["params"]["clientInfo"]["name"] = "x".repeat(size).into();
        let r = post(&app, "alice", None).json(&big).send().await.unwrap();
        let (s, v) = json_of(r).await;
        assert_eq!(s, 413);
        assert_error(&v, "payload_too_large");
    }

    // rmcp's own refusals, put in our shape: no session id on GET, an Accept without SSE.
    let r = app
        .get("/api/mcp", "alice")
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 400);
    assert_error(&v, "invalid_request");
    let r = app
        .post("/api/mcp", "alice")
        .header("accept", "application/json")
        .json(&initialize())
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 406);
    assert_error(&v, "not_acceptable");

    // None of that left a session open, and a proper client still gets one.
    let id = open(&app, "alice").await;
    assert_lists(&app, "alice", &id).await;
}

#[tokio::test]
async fn concurrent_initializes_keep_within_the_limits_and_leak_no_room() {
    let app = TestApp::spawn_with(|c| {
        c.mcp.max_sessions_per_user = 2;
        c.mcp.max_sessions = 4;
    })
    .await;
    let tries = futures::future::join_all((0..12).map(|_| try_open(&app, "dave"))).await;
    let mut alive = Vec::new();
    for t in tries {
        match t {
            Ok(id) => {
                if list(&app, "dave", &id).await.0 == 200 {
                    alive.push(id);
                }
            }
            Err((s, v)) => {
                assert_eq!(s, 429, "{v}");
                assert_error(&v, "too_many_sessions");
            }
        }
    }
    assert!(!alive.is_empty() && alive.len() <= 2, "{alive:?}");
    for id in &alive {
        assert_eq!(delete(&app, "dave", id).send().await.unwrap().status(), 202);
    }
    // Every slot came back: four users get the four sessions the server allows.
    for user in ["erin", "frank", "grace", "heidi"] {
        let id = open(&app, user).await;
        assert_lists(&app, user, &id).await;
    }
    let (s, _) = try_open(&app, "ivan").await.unwrap_err();
    assert_eq!(s, 429);
}
