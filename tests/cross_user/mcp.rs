//! Every MCP tool, called by Bob in his own session. The list is checked against the tools the
//! server lists: a tool missing here fails the matrix. (Sessions themselves are a route's ids:
//! `/api/mcp` in ROUTES.)

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::common::mcp::post;
use super::ids::{Ids, Kind};
use super::world::World;
use super::Answer;

/// Builds one call's arguments from the ids.
pub type Args = fn(&Ids) -> Value;

/// Every tool, each with the calls that name a task.
pub const TOOLS: &[(&str, &[Args])] = &[
    ("add_task", &[new_task]),
    ("list_tasks", &[all_tasks]),
    ("complete_task", &[by_number, by_title]),
    ("delete_task", &[by_number, by_title]),
    ("update_task", &[rename_by_number, rename_by_title]),
];

fn new_task(_: &Ids) -> Value {
    json!({"title": "bob errand"})
}

fn all_tasks(_: &Ids) -> Value {
    json!({})
}

fn by_number(ids: &Ids) -> Value {
    json!({"task": ids.number(Kind::Task)})
}

fn by_title(ids: &Ids) -> Value {
    json!({"task": ids.get(Kind::TaskTitle)})
}

fn rename_by_number(ids: &Ids) -> Value {
    json!({"task": ids.number(Kind::Task), "title": "bob was here"})
}

fn rename_by_title(ids: &Ids) -> Value {
    json!({"task": ids.get(Kind::TaskTitle), "title": "bob was here"})
}

/// One JSON-RPC request in Bob's session; the answer's message.
async fn rpc(w: &World, body: Value) -> (u16, Value) {
    let r = post(&w.app, "bob", Some(&w.bob_session()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    // A JSON body, or an event stream whose data line is the message.
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: ").filter(|d| d.contains("jsonrpc")))
        .unwrap_or(&text);
    (
        status,
        serde_json::from_str(data).unwrap_or_else(|_| panic!("{status}: {text}")),
    )
}

/// The tools the server lists to Bob.
pub async fn tool_names(w: &World) -> BTreeSet<String> {
    let (status, v) = rpc(
        w,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

/// Calls `tool` as Bob: `ok`, or the tool's error (`not_found` …), or the protocol's.
pub async fn send(w: &World, tool: &str, args: Value) -> Answer {
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": tool, "arguments": args}});
    let (status, v) = rpc(w, call).await;
    let text = v.to_string();
    if let Some(code) = v["error"]["code"].as_i64() {
        return Answer {
            status,
            code: code.to_string(),
            text,
        };
    }
    let result: Value = v["result"]["content"][0]["text"]
        .as_str()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null);
    let code = match result["error"].as_str() {
        Some(e) if v["result"]["isError"] == true || result["ok"] == false => e.to_string(),
        _ => "ok".to_string(),
    };
    Answer { status, code, text }
}
