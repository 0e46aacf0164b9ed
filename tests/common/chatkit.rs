//! ChatKit helpers shared by the `chatkit_*` test files: one `POST /api/chatkit` request and its
//! answer (JSON or decoded events), threads and item pages, and checks on events.

use std::time::Duration;

use serde_json::{json, Value};

use super::TestApp;

/// A ChatKit answer: status, content type and the body (JSON or decoded events).
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        assert!(
            self.content_type.starts_with("application/json"),
            "{} {}",
            self.content_type,
            self.body
        );
        serde_json::from_str(&self.body).unwrap()
    }

    /// The events, checking the framing: only `data: <one-line JSON>` records.
    pub fn events(&self) -> Vec<Value> {
        assert_eq!(self.status, 200, "{}", self.body);
        assert!(self.content_type.starts_with("text/event-stream"));
        assert!(self.body.ends_with("\n\n"), "{:?}", self.body);
        self.body
            .trim_end_matches("\n\n")
            .split("\n\n")
            .map(|record| {
                let data = record
                    .strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("{record:?}"));
                assert!(!data.contains('\n'));
                serde_json::from_str(data).unwrap()
            })
            .collect()
    }
}

pub async fn ck(app: &TestApp, user: &str, body: Value) -> Answer {
    let r = app
        .post("/api/chatkit", user)
        .json(&body)
        .send()
        .await
        .unwrap();
    answer(r).await
}

/// A request whose only parameter is the thread (`threads.get_by_id`, `threads.delete`,
/// `items.list` …).
pub async fn on_thread(app: &TestApp, user: &str, kind: &str, thread: &str) -> Answer {
    ck(
        app,
        user,
        json!({"type": kind, "params": {"thread_id": thread}}),
    )
    .await
}

pub async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        body: r.text().await.unwrap(),
    }
}

/// Waits (bounded) until no turn runs: a turn frees its thread just after its last event.
pub async fn wait_idle(app: &TestApp) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while app.state.chat.running_turns() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the turn stopped");
}

pub fn text_input(text: &str) -> Value {
    json!({"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}})
}

pub fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// Walks a JSON value and fails on any `null`.
pub fn assert_no_nulls(v: &Value) {
    match v {
        Value::Null => panic!("null in answer"),
        Value::Array(a) => a.iter().for_each(assert_no_nulls),
        Value::Object(o) => o.values().for_each(assert_no_nulls),
        _ => {}
    }
}

/// Creates a thread with one message; returns its id and the events.
pub async fn create(app: &TestApp, user: &str, text: &str) -> (String, Vec<Value>) {
    let events = ck(
        app,
        user,
        json!({"type": "threads.create", "params": {"input": text_input(text)}}),
    )
    .await
    .events();
    (
        events[0]["thread"]["id"].as_str().unwrap().to_string(),
        events,
    )
}

pub async fn items(app: &TestApp, user: &str, thread: &str, params: Value) -> Value {
    let mut p = params;
    p["thread_id"] = json!(thread);
    let a = ck(app, user, json!({"type": "items.list", "params": p})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()
}
