//! The task tools over MCP, driven by rmcp's own client: streamable HTTP with JWT auth, and stdio.
//! Sessions, tokens and error shapes as a hostile client meets them are in `hostile_mcp.rs`.

mod common;

use common::{TestApp, SECRET};
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
