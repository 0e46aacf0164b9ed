//! ChatKit over HTTP: `POST /api/chatkit` driven like the ChatKit client, on the real server.
//! Covers the event sequences, persistence, pagination, retry, stop-as-disconnect,
//! attachments, actions, every client error as JSON before any stream, and isolation between
//! users.

mod common;

use std::time::Duration;

use common::{assert_error, TestApp};
use serde_json::{json, Value};

/// A ChatKit answer: status, content type and the body (JSON or decoded events).
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        assert!(
            self.content_type.starts_with("application/json"),
            "{} {}",
            self.content_type,
            self.body
        );
        serde_json::from_str(&self.body).unwrap()
    }

    /// The events, checking the framing: only `data: <one-line JSON>` records.
    fn events(&self) -> Vec<Value> {
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

async fn ck(app: &TestApp, user: &str, body: Value) -> Answer {
    let r = app
        .post("/api/chatkit", user)
        .json(&body)
        .send()
        .await
        .unwrap();
    answer(r).await
}

async fn answer(r: reqwest::Response) -> Answer {
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
async fn wait_idle(app: &TestApp) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while app.state.chat.running_turns() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the turn stopped");
}

fn text_input(text: &str) -> Value {
    json!({"content": [{"type": "input_text", "text": text}], "attachments": [], "inference_options": {}})
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

/// Walks a JSON value and fails on any `null`.
fn assert_no_nulls(v: &Value) {
    match v {
        Value::Null => panic!("null in answer"),
        Value::Array(a) => a.iter().for_each(assert_no_nulls),
        Value::Object(o) => o.values().for_each(assert_no_nulls),
        _ => {}
    }
}

/// Creates a thread with one message; returns its id and the events.
async fn create(app: &TestApp, user: &str, text: &str) -> (String, Vec<Value>) {
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

async fn items(app: &TestApp, user: &str, thread: &str, params: Value) -> Value {
    let mut p = params;
    p["thread_id"] = json!(thread);
    let a = ck(app, user, json!({"type": "items.list", "params": p})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()
}

#[tokio::test]
async fn create_streams_the_reference_sequence_and_persists_items() {
    let app = TestApp::spawn().await;
    let (thread, events) = create(&app, "alice", "add a task to buy milk").await;
    events.iter().for_each(assert_no_nulls);
    let t = types(&events);
    assert_eq!(
        &t[..3],
        ["thread.created", "thread.item.done", "stream_options"]
    );
    let created = &events[0]["thread"];
    assert_eq!(created["status"], json!({"type": "active"}));
    assert_eq!(created["metadata"], json!({}));
    assert_eq!(created["items"], json!({"data": [], "has_more": false}));
    assert!(
        created.get("title").is_none(),
        "a new thread starts untitled"
    );
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));

    let user = &events[1]["item"];
    assert_eq!(user["type"], "user_message");
    assert_eq!(user["thread_id"], thread.as_str());
    assert_eq!(
        user["content"],
        json!([{"type": "input_text", "text": "add a task to buy milk"}])
    );
    assert_eq!(user["attachments"], json!([]));
    assert_eq!(events[2]["stream_options"], json!({"allow_cancel": true}));

    // The tool call shows as progress and a workflow item before the answer.
    assert!(t.contains(&"progress_update"));
    let wf_added = events
        .iter()
        .find(|e| e["type"] == "thread.item.added" && e["item"]["type"] == "workflow")
        .expect("workflow item");
    assert_eq!(wf_added["item"]["workflow"]["tasks"][0]["type"], "custom");

    let added = events
        .iter()
        .find(|e| e["type"] == "thread.item.added" && e["item"]["type"] == "assistant_message")
        .unwrap();
    let msg_id = added["item"]["id"].as_str().unwrap();
    let deltas: String = events
        .iter()
        .filter(|e| e["update"]["type"] == "assistant_message.content_part.text_delta")
        .map(|e| e["update"]["delta"].as_str().unwrap())
        .collect();
    let done = events
        .iter()
        .find(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message")
        .unwrap();
    assert_eq!(done["item"]["id"], msg_id);
    assert_eq!(done["item"]["content"][0]["text"], deltas.as_str());
    assert_eq!(done["item"]["content"][0]["annotations"], json!([]));
    let last = events.last().unwrap();
    assert_eq!(last["type"], "thread.updated");
    assert_eq!(last["thread"]["title"], "add a task to buy milk");

    // The task it added shows in a widget with its buttons, after the answer.
    let widget = events
        .iter()
        .find(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "widget")
        .expect("task widget");
    let row = &widget["item"]["widget"]["children"][0];
    assert_eq!(row["children"][0]["children"][0]["value"], "#1 buy milk");
    assert_eq!(
        row["children"][1]["children"][0]["onClickAction"],
        json!({"type": "task.complete", "payload": {"number": 1}, "handler": "server",
               "loadingBehavior": "auto", "streaming": true})
    );

    // Persisted: get_by_id has [user, workflow, assistant, widget] with the same ids.
    let got = ck(
        &app,
        "alice",
        json!({"type": "threads.get_by_id", "params": {"thread_id": thread}}),
    )
    .await
    .json();
    assert_no_nulls(&got);
    let kinds: Vec<&str> = got["items"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["user_message", "workflow", "assistant_message", "widget"]
    );
    assert_eq!(got["items"]["data"][0]["id"], user["id"]);
    assert_eq!(got["items"]["data"][2], done["item"]);
    assert_eq!(got["items"]["data"][3], widget["item"]);
    assert_eq!(got["title"], "add a task to buy milk");

    // The same thread over REST, and a REST message over ChatKit.
    let convs = app
        .get("/api/alice/conversations", "alice")
        .send()
        .await
        .unwrap();
    let convs: Value = convs.json().await.unwrap();
    assert!(convs["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == thread.as_str()));
    app.say("alice", "show my tasks", Some(&thread)).await;
    let page = items(
        &app,
        "alice",
        &thread,
        json!({"order": "asc", "limit": 100}),
    )
    .await;
    let data = page["data"].as_array().unwrap();
    assert_eq!(data[4]["content"][0]["text"], "show my tasks");

    // A follow-up: no thread.created, the user echo first, then stream_options.
    let events = ck(&app, "alice", json!({"type": "threads.add_user_message",
        "params": {"thread_id": thread, "input": {"content": [{"type": "input_text", "text": "tag "},
            {"type": "input_tag", "id": "t1", "text": "Milk", "data": {"k": "v"}}],
            "attachments": [], "quoted_text": "quoted", "inference_options": {"model": "m"}}}}))
        .await
        .events();
    assert_eq!(&types(&events)[..2], ["thread.item.done", "stream_options"]);
    assert_eq!(
        events[0]["item"]["content"][1],
        json!({"type": "input_tag", "id": "t1", "text": "Milk", "data": {"k": "v"}, "interactive": false})
    );
    assert_eq!(events[0]["item"]["quoted_text"], "quoted");
    assert_eq!(
        events[0]["item"]["inference_options"],
        json!({"model": "m"})
    );
    assert!(!types(&events).contains(&"thread.updated"));
    // The stored item reads back exactly as echoed.
    let page = items(&app, "alice", &thread, json!({})).await;
    let echoed = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == events[0]["item"]["id"])
        .unwrap();
    assert_eq!(echoed, &events[0]["item"]);
}

#[tokio::test]
async fn client_errors_are_json_before_any_stream() {
    let app = TestApp::spawn().await;
    let (thread, _) = create(&app, "alice", "hello").await;

    // 401 before anything else, even for a malformed body.
    // Its own connection: a request refused before its body is read ends the connection.
    let r = reqwest::Client::new()
        .post(format!("{}/api/chatkit", app.url))
        .body("{")
        .send()
        .await
        .unwrap();
    let a = answer(r).await;
    assert_eq!(a.status, 401);
    assert_error(&a.json(), "unauthorized");

    let cases = [
        (json!("not an object"), 400),
        (json!({"type": "threads.nope", "params": {}}), 400),
        (json!({"type": "threads.list"}), 400),
        (
            json!({"type": "threads.create", "params": {"input": {"content": "x"}}}),
            400,
        ),
        (
            json!({"type": "threads.create", "params": {"input": text_input("   ")}}),
            400,
        ),
        (
            json!({"type": "threads.add_user_message", "params": {"thread_id": uuid::Uuid::new_v4(), "input": text_input("x")}}),
            404,
        ),
        (
            json!({"type": "threads.add_user_message", "params": {"thread_id": "nope", "input": text_input("x")}}),
            404,
        ),
        (
            json!({"type": "threads.retry_after_item", "params": {"thread_id": thread, "item_id": "nope"}}),
            404,
        ),
        (
            json!({"type": "threads.add_client_tool_output", "params": {"thread_id": thread, "result": {"ok": true}}}),
            400,
        ),
        (
            json!({"type": "threads.add_structured_input", "params": {"thread_id": thread, "item_id": "x", "input": {}}}),
            404,
        ),
        (
            json!({"type": "threads.custom_action", "params": {"thread_id": thread, "action": {"type": "nope"}}}),
            400,
        ),
        (
            json!({"type": "items.feedback", "params": {"thread_id": thread, "item_ids": ["x"], "kind": "meh"}}),
            400,
        ),
        (
            json!({"type": "items.list", "params": {"thread_id": thread, "after": "nope"}}),
            400,
        ),
        (
            json!({"type": "threads.list", "params": {"after": "nope"}}),
            400,
        ),
        (
            json!({"type": "threads.update", "params": {"thread_id": thread, "title": "  "}}),
            400,
        ),
        (
            json!({"type": "input.transcribe", "params": {"audio_base64": "%%%", "mime_type": "audio/webm"}}),
            400,
        ),
        (
            json!({"type": "input.transcribe", "params": {"audio_base64": "AAECAw==", "mime_type": "audio/webm;codecs=opus"}}),
            503,
        ),
        (
            json!({"type": "attachments.create", "params": {"name": "a.exe", "size": 10, "mime_type": "application/x-msdownload"}}),
            415,
        ),
        (
            json!({"type": "attachments.create", "params": {"name": "a.png", "size": 1_i64 << 40, "mime_type": "image/png"}}),
            413,
        ),
        (
            json!({"type": "attachments.delete", "params": {"attachment_id": uuid::Uuid::new_v4()}}),
            404,
        ),
        (
            json!({"type": "attachments.create", "params": {"name": "a".repeat(256) + ".png", "size": 1, "mime_type": "image/png"}}),
            400,
        ),
    ];
    for (body, status) in cases {
        let a = ck(&app, "alice", body.clone()).await;
        assert_eq!(a.status, status, "{body}: {}", a.body);
        let v = a.json();
        assert!(
            v["error"]["code"].is_string() && v["error"]["message"].is_string(),
            "{v}"
        );
    }
    let r = app
        .post("/api/chatkit", "alice")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(answer(r).await.status, 400);

    // Lenient: nulls, metadata and unknown keys are accepted.
    let a = ck(
        &app,
        "alice",
        json!({"type": "threads.list", "metadata": {"x": 1},
        "params": {"limit": null, "order": null, "after": null, "extra": true}}),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn threads_and_items_paginate_as_the_reference() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        ids.push(create(&app, "alice", text).await.0);
    }
    let p = ck(
        &app,
        "alice",
        json!({"type": "threads.list", "params": {"limit": 2}}),
    )
    .await
    .json();
    let got: Vec<&str> = p["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
    assert_eq!(
        (p["has_more"].clone(), p["after"].clone()),
        (json!(true), json!(ids[1]))
    );
    assert_eq!(
        p["data"][0]["items"],
        json!({"data": [], "has_more": false})
    );
    let p = ck(
        &app,
        "alice",
        json!({"type": "threads.list", "params": {"limit": 2, "after": ids[1]}}),
    )
    .await
    .json();
    assert_eq!(p["data"][0]["id"], ids[0].as_str());
    assert_eq!(p["has_more"], false);
    assert!(p.get("after").is_none());
    let p = ck(
        &app,
        "alice",
        json!({"type": "threads.list", "params": {"order": "asc", "limit": 0}}),
    )
    .await
    .json();
    let got: Vec<&str> = p["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ids.iter().map(String::as_str).collect::<Vec<_>>());

    // Items: both orders, following the cursor visits every item once.
    let thread = &ids[0];
    for text in ["hello", "hi again"] {
        ck(&app, "alice", json!({"type": "threads.add_user_message", "params": {"thread_id": thread, "input": text_input(text)}})).await.events();
    }
    let all = items(&app, "alice", thread, json!({"order": "asc", "limit": 100})).await;
    let all: Vec<Value> = all["data"].as_array().unwrap().clone();
    assert!(all.len() >= 6, "{all:?}");
    for order in ["asc", "desc"] {
        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let p = items(
                &app,
                "alice",
                thread,
                json!({"order": order, "limit": 2, "after": after}),
            )
            .await;
            seen.extend(
                p["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["id"].clone()),
            );
            if p["has_more"] == false {
                assert!(p.get("after").is_none());
                break;
            }
            after = p["after"].clone();
            assert_eq!(&after, seen.last().unwrap());
        }
        let mut expect: Vec<Value> = all.iter().map(|i| i["id"].clone()).collect();
        if order == "desc" {
            expect.reverse();
        }
        assert_eq!(seen, expect, "{order}");
    }
    // Default order is newest first.
    let p = items(&app, "alice", thread, json!({})).await;
    assert_eq!(p["data"][0]["id"], all.last().unwrap()["id"]);
    // Unique ids within the thread.
    let mut unique: Vec<&Value> = all.iter().map(|i| &i["id"]).collect();
    unique.dedup();
    assert_eq!(unique.len(), all.len());
}

#[tokio::test]
async fn rename_delete_and_feedback() {
    let app = TestApp::spawn().await;
    let (thread, events) = create(&app, "alice", "hello there").await;
    let a = ck(
        &app,
        "alice",
        json!({"type": "threads.update", "params": {"thread_id": thread, "title": "Renamed"}}),
    )
    .await
    .json();
    assert_eq!(a["title"], "Renamed");
    assert_eq!(a["items"], json!({"data": [], "has_more": false}));
    let got = ck(
        &app,
        "alice",
        json!({"type": "threads.get_by_id", "params": {"thread_id": thread}}),
    )
    .await
    .json();
    assert_eq!(got["title"], "Renamed");

    let answer_id = events
        .iter()
        .find(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message")
        .unwrap()["item"]["id"]
        .clone();
    let a = ck(&app, "alice", json!({"type": "items.feedback", "params": {"thread_id": thread, "item_ids": [answer_id], "kind": "positive"}})).await;
    assert_eq!(a.json(), json!({}));
    let tid = agentwire::transport::parse_thread_id(&thread).unwrap();
    let fb = app
        .state
        .chat
        .feedback(&agentwire::model::UserId::new("alice"), tid)
        .await
        .unwrap();
    assert_eq!(fb.len(), 1);
    assert_eq!(fb[0].item_id, answer_id.as_str().unwrap());
    assert_eq!(fb[0].kind, agentwire::model::FeedbackKind::Positive);
    let a = ck(&app, "alice", json!({"type": "items.feedback", "params": {"thread_id": thread, "item_ids": [answer_id], "kind": "negative"}})).await;
    assert_eq!(a.status, 200);
    let fb = app
        .state
        .chat
        .feedback(&agentwire::model::UserId::new("alice"), tid)
        .await
        .unwrap();
    assert_eq!(fb[0].kind, agentwire::model::FeedbackKind::Negative);

    let a = ck(
        &app,
        "alice",
        json!({"type": "threads.delete", "params": {"thread_id": thread}}),
    )
    .await;
    assert_eq!(a.json(), json!({}));
    let a = ck(
        &app,
        "alice",
        json!({"type": "threads.get_by_id", "params": {"thread_id": thread}}),
    )
    .await;
    assert_eq!(a.status, 404);
    assert_error(&a.json(), "not_found");
    let l = ck(&app, "alice", json!({"type": "threads.list", "params": {}}))
        .await
        .json();
    assert_eq!(l["data"], json!([]));
    let a = ck(
        &app,
        "alice",
        json!({"type": "items.list", "params": {"thread_id": thread}}),
    )
    .await;
    assert_eq!(a.status, 404);
}

#[tokio::test]
async fn retry_replaces_the_answer_after_a_user_message() {
    let app = TestApp::spawn().await;
    let (thread, first) = create(&app, "alice", "hello").await;
    let u1 = first[1]["item"]["id"].clone();
    let second = ck(&app, "alice", json!({"type": "threads.add_user_message", "params": {"thread_id": thread, "input": text_input("show my tasks")}})).await.events();
    let u2 = second[0]["item"]["id"].clone();
    let before = items(&app, "alice", &thread, json!({"order": "asc"})).await;
    let a2 = before["data"].as_array().unwrap().last().unwrap()["id"].clone();

    // Retrying an assistant item is refused before any stream.
    let a = ck(
        &app,
        "alice",
        json!({"type": "threads.retry_after_item", "params": {"thread_id": thread, "item_id": a2}}),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.body);

    let events = ck(
        &app,
        "alice",
        json!({"type": "threads.retry_after_item", "params": {"thread_id": thread, "item_id": u2}}),
    )
    .await
    .events();
    let t = types(&events);
    assert_eq!(t[0], "stream_options");
    assert!(!t.contains(&"thread.created") && !t.contains(&"thread.item.removed"));
    assert!(!events.iter().any(|e| e["item"]["type"] == "user_message"));
    let new_answer = events
        .iter()
        .rev()
        .find(|e| e["type"] == "thread.item.done")
        .unwrap()["item"]["id"]
        .clone();
    assert_ne!(new_answer, a2);

    let after = items(&app, "alice", &thread, json!({"order": "asc"})).await;
    let ids: Vec<Value> = after["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(ids.first(), Some(&u1));
    assert!(ids.contains(&u2) && ids.contains(&new_answer) && !ids.contains(&a2));
    assert_eq!(ids.last(), Some(&new_answer));
}

#[tokio::test]
async fn disconnect_cancels_the_turn_and_keeps_the_partial_answer() {
    let app = TestApp::spawn_with(|c| c.offline_delta_delay = Duration::from_millis(150)).await;
    let (thread, _) = create(&app, "alice", "hello").await;
    let r = app.post("/api/chatkit", "alice")
        .json(&json!({"type": "threads.add_user_message", "params": {"thread_id": thread,
            "input": text_input("add a task to write the quarterly report for the board meeting next week")}}))
        .send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Read until two text deltas have arrived, then hang up.
    let mut r = r;
    let mut body = String::new();
    let mut added_id = None;
    while body.matches("text_delta").count() < 2 {
        let chunk = tokio::time::timeout(Duration::from_secs(10), r.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        body.push_str(std::str::from_utf8(&chunk).unwrap());
        for record in body.split("\n\n") {
            if let Some(data) = record.strip_prefix("data: ") {
                if let Ok(v) = serde_json::from_str::<Value>(data) {
                    if v["type"] == "thread.item.added" && v["item"]["type"] == "assistant_message"
                    {
                        added_id = Some(v["item"]["id"].clone());
                    }
                }
            }
        }
    }
    drop(r);
    let added_id = added_id.expect("assistant message announced");

    let user = agentwire::model::UserId::new("alice");
    let tid = agentwire::transport::parse_thread_id(&thread).unwrap();
    let hidden = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let h = app.state.chat.hidden_items(&user, tid).await.unwrap();
            if !h.is_empty() {
                return h;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("hidden cancellation marker written");
    assert_eq!(hidden[0].content["type"], "sdk_hidden_context");
    let page = items(&app, "alice", &thread, json!({"order": "asc"})).await;
    let data = page["data"].as_array().unwrap();
    let partial = data
        .iter()
        .find(|i| i["id"] == added_id)
        .expect("partial answer kept");
    let text = partial["content"][0]["text"].as_str().unwrap();
    assert!(!text.is_empty());
    // Stored as cancelled in the core, the hidden item never shows.
    let messages = app.state.chat.thread_messages(&user, tid).await.unwrap();
    let last = messages.last().unwrap();
    assert_eq!(last.status, agentwire::model::MessageStatus::Cancelled);
    assert_eq!(last.content, text);
    assert!(data
        .iter()
        .all(|i| i["type"] != "sdk_hidden_context" && i["type"] != "hidden_context_item"));
    wait_idle(&app).await;
}

#[tokio::test]
async fn a_second_stream_on_a_busy_thread_is_refused() {
    let app = TestApp::spawn_with(|c| c.offline_delta_delay = Duration::from_millis(100)).await;
    let (thread, _) = create(&app, "alice", "hello").await;
    let body = json!({"type": "threads.add_user_message", "params": {"thread_id": thread, "input": text_input("add a task to call mom about the weekend plans please")}});
    let first = app
        .post("/api/chatkit", "alice")
        .json(&body)
        .send()
        .await
        .unwrap();
    let second = ck(&app, "alice", body.clone()).await;
    assert_eq!(second.status, 409);
    assert_error(&second.json(), "thread_busy");
    let first = answer(first).await.events();
    assert!(types(&first).contains(&"thread.item.done"));
}

#[tokio::test]
async fn attachments_two_phase_and_direct() {
    let app = TestApp::spawn_with(|c| c.attachment_max_bytes = 1000).await;
    let a = ck(&app, "alice", json!({"type": "attachments.create", "params": {"name": "cat.png", "size": 4, "mime_type": "image/png"}})).await.json();
    assert_eq!(a["type"], "image");
    assert!(a.get("thread_id").is_none() && a.get("metadata").is_none());
    let id = a["id"].as_str().unwrap().to_string();
    let upload = a["upload_descriptor"]["url"].as_str().unwrap().to_string();
    assert_eq!(a["upload_descriptor"]["method"], "POST");
    assert!(a["preview_url"].as_str().unwrap().starts_with("http://"));

    // Using it before the upload is refused.
    let msg = json!({"type": "threads.create", "params": {"input": {"content": [{"type": "input_text", "text": "look"}], "attachments": [id]}}});
    assert_eq!(ck(&app, "alice", msg.clone()).await.status, 400);

    // Another user's token cannot upload to it; the signed URL alone can, raw or multipart.
    let r = app
        .client()
        .post(&upload)
        .bearer_auth(app.token_for("bob"))
        .body(vec![1u8, 2, 3, 4])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The signature is no user token.
    let sig = upload.split("sig=").nth(1).unwrap();
    let r = reqwest::Client::new()
        .post(format!("{}/api/chatkit", app.url))
        .bearer_auth(sig)
        .json(&json!({"type": "threads.list", "params": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Nor does a signature for one attachment open another.
    let other = ck(&app, "alice", json!({"type": "attachments.create", "params": {"name": "b.png", "size": 1, "mime_type": "image/png"}})).await.json();
    let other_upload = other["upload_descriptor"]["url"].as_str().unwrap();
    let forged = format!("{}?sig={sig}", other_upload.split('?').next().unwrap());
    let r = app
        .client()
        .post(forged)
        .body(vec![1u8])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let bare = upload.split('?').next().unwrap();
    let r = app
        .client()
        .post(bare)
        .body(vec![1u8])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client()
        .put(&upload)
        .body(vec![1u8, 2, 3, 4])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let up: Value = r.json().await.unwrap();
    assert!(up.get("upload_descriptor").is_none());
    let r = app
        .client()
        .post(&upload)
        .body(vec![0u8; 1001])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let preview = app
        .client()
        .get(up["preview_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), 200);
    assert_eq!(preview.headers()["content-type"], "image/png");
    assert_eq!(preview.headers()["x-content-type-options"], "nosniff");
    assert_eq!(preview.bytes().await.unwrap().as_ref(), &[1u8, 2, 3, 4]);

    // Bob cannot send it or delete it.
    assert_eq!(ck(&app, "bob", msg.clone()).await.status, 404);
    assert_eq!(
        ck(
            &app,
            "bob",
            json!({"type": "attachments.delete", "params": {"attachment_id": id}})
        )
        .await
        .status,
        404
    );

    let events = ck(&app, "alice", msg.clone()).await.events();
    let thread = events[0]["thread"]["id"].clone();
    let att = &events[1]["item"]["attachments"][0];
    assert_eq!(
        (att["id"].as_str(), &att["thread_id"]),
        (Some(id.as_str()), &thread)
    );
    assert_eq!(att["name"], "cat.png");

    let a = ck(
        &app,
        "alice",
        json!({"type": "attachments.delete", "params": {"attachment_id": id}}),
    )
    .await;
    assert_eq!(a.json(), json!({}));
    assert_eq!(ck(&app, "alice", msg).await.status, 404);
    let aid = agentwire::transport::chatkit::attachments::parse_attachment_id(&id).unwrap();
    let gone = app
        .state
        .store
        .attachment_bytes(&agentwire::model::UserId::new("alice"), aid)
        .await
        .unwrap();
    assert!(gone.is_none(), "bytes freed");

    // Direct upload: multipart `file`.
    let r = upload_direct(&app, "alice", b"hello", "notes.txt", "text/plain").await;
    assert_eq!(r.status(), 200);
    let d: Value = r.json().await.unwrap();
    assert_eq!(
        (d["type"].as_str(), d["name"].as_str()),
        (Some("file"), Some("notes.txt"))
    );
    assert!(d.get("upload_descriptor").is_none() && d.get("preview_url").is_none());
    let r = upload_direct(&app, "alice", b"MZ", "x.exe", "application/x-msdownload").await;
    assert_eq!(r.status(), 415);
}

/// `POST /api/chatkit/attachments` with `bytes` as the multipart `file` field.
async fn upload_direct(
    app: &TestApp,
    user: &str,
    bytes: &[u8],
    name: &str,
    mime: &str,
) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name(name.to_string())
        .mime_str(mime)
        .unwrap();
    app.post("/api/chatkit/attachments", user)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn task_widget_buttons_complete_and_delete_tasks() {
    let app = TestApp::spawn().await;
    let (thread, events) = create(&app, "alice", "add a task to buy milk").await;
    assert_eq!(app.tasks("alice").await.len(), 1);
    let widget = events
        .iter()
        .find(|e| e["item"]["type"] == "widget")
        .unwrap()["item"]
        .clone();
    let wid = widget["id"].clone();

    // "Complete" on the widget: the widget is replaced with the task done, then a confirmation.
    let events = ck(&app, "alice", json!({"type": "threads.custom_action", "params": {"thread_id": thread,
        "item_id": wid, "action": {"type": "task.complete", "payload": {"number": 1}, "handler": "server"}}})).await.events();
    assert_eq!(
        types(&events),
        ["stream_options", "thread.item.replaced", "thread.item.done"]
    );
    let replaced = &events[1]["item"];
    assert_eq!(replaced["id"], wid);
    let row = &replaced["widget"]["children"][0];
    assert_eq!(row["children"][0]["children"][0]["lineThrough"], true);
    let buttons = row["children"][1]["children"].as_array().unwrap();
    assert_eq!(buttons.len(), 1, "no Complete button on a done task");
    assert!(events[2]["item"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("#1"));
    assert_eq!(app.tasks("alice").await[0]["completed"], true);
    // The widget reads back as replaced; the confirmation is stored last.
    let page = items(&app, "alice", &thread, json!({"order": "asc"})).await;
    let data = page["data"].as_array().unwrap();
    assert!(data.contains(replaced));
    assert_eq!(data.last().unwrap(), &events[2]["item"]);

    // A task the widget does not show is refused.
    let a = ck(
        &app,
        "alice",
        json!({"type": "threads.sync_custom_action", "params": {"thread_id": thread,
        "item_id": wid, "action": {"type": "task.delete", "payload": {"number": 7}}}}),
    )
    .await;
    assert_eq!(a.status, 400);
    // "Delete" as a sync action: the updated widget comes back as JSON.
    let a = ck(
        &app,
        "alice",
        json!({"type": "threads.sync_custom_action", "params": {"thread_id": thread,
        "item_id": wid, "action": {"type": "task.delete", "payload": {"number": 1}}}}),
    )
    .await
    .json();
    assert_eq!(a["updated_item"]["id"], wid);
    assert_eq!(
        a["updated_item"]["widget"]["children"][0]["children"][1]["value"],
        "deleted"
    );
    assert!(app.tasks("alice").await.is_empty());

    // An action without an item, and one on a non-widget item (one non-retryable error event).
    let (_, more) = create(&app, "alice", "add a task to walk the dog").await;
    let events = ck(
        &app,
        "alice",
        json!({"type": "threads.custom_action", "params": {"thread_id": thread,
        "action": {"type": "task.complete", "payload": {"number": 2}}}}),
    )
    .await
    .events();
    assert_eq!(types(&events), ["stream_options", "thread.item.done"]);
    assert_eq!(app.tasks("alice").await[0]["completed"], true);
    let user_item = more[1]["item"]["id"].clone();
    let thread2 = more[0]["thread"]["id"].clone();
    let events = ck(&app, "alice", json!({"type": "threads.custom_action", "params": {"thread_id": thread2, "item_id": user_item,
        "action": {"type": "task.complete"}}})).await.events();
    assert_eq!(
        events,
        [json!({"type": "error", "code": "stream.error", "allow_retry": false})]
    );
}

#[tokio::test]
async fn another_user_can_touch_nothing() {
    let app = TestApp::spawn().await;
    let (thread, events) = create(&app, "alice", "add a task to buy milk").await;
    let item = events[1]["item"]["id"].clone();
    for body in [
        json!({"type": "threads.get_by_id", "params": {"thread_id": thread}}),
        json!({"type": "items.list", "params": {"thread_id": thread}}),
        json!({"type": "threads.add_user_message", "params": {"thread_id": thread, "input": text_input("hi")}}),
        json!({"type": "threads.retry_after_item", "params": {"thread_id": thread, "item_id": item}}),
        json!({"type": "threads.update", "params": {"thread_id": thread, "title": "mine"}}),
        json!({"type": "threads.delete", "params": {"thread_id": thread}}),
        json!({"type": "items.feedback", "params": {"thread_id": thread, "item_ids": [item], "kind": "positive"}}),
        json!({"type": "threads.custom_action", "params": {"thread_id": thread, "action": {"type": "task.delete", "payload": {"number": 1}}}}),
        json!({"type": "threads.sync_custom_action", "params": {"thread_id": thread, "action": {"type": "task.delete", "payload": {"number": 1}}}}),
        json!({"type": "threads.add_client_tool_output", "params": {"thread_id": thread, "result": {}}}),
    ] {
        let a = ck(&app, "bob", body.clone()).await;
        assert_eq!(a.status, 404, "{body}: {}", a.body);
        assert_error(&a.json(), "not_found");
    }
    let l = ck(&app, "bob", json!({"type": "threads.list", "params": {}}))
        .await
        .json();
    assert_eq!(l["data"], json!([]));
    let l = ck(
        &app,
        "bob",
        json!({"type": "threads.list", "params": {"after": thread}}),
    )
    .await;
    assert_eq!(l.status, 400);
    // Alice's thread and task are untouched.
    let got = ck(
        &app,
        "alice",
        json!({"type": "threads.get_by_id", "params": {"thread_id": thread}}),
    )
    .await
    .json();
    assert_eq!(got["title"], "add a task to buy milk");
    assert_eq!(got["items"]["data"].as_array().unwrap().len(), 4);
    assert_eq!(app.tasks("alice").await.len(), 1);
    // Nor press the buttons of her task widget.
    let widget = got["items"]["data"][3]["id"].clone();
    let a = ck(
        &app,
        "bob",
        json!({"type": "threads.sync_custom_action", "params": {"thread_id": thread,
        "item_id": widget, "action": {"type": "task.delete", "payload": {"number": 1}}}}),
    )
    .await;
    assert_eq!(a.status, 404);
    assert_eq!(app.tasks("alice").await.len(), 1);
}

#[tokio::test]
async fn health_needs_no_token() {
    let app = TestApp::spawn().await;
    let r = app
        .client()
        .get(format!("{}/api/chatkit/health", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["openai_key_configured"], false);
    assert_eq!(v["session_endpoint_available"], false);
    assert_eq!(v["store_implemented"], true);
    assert!(v["timestamp"].is_string());
    for deprecated in [
        "/api/chatkit/session",
        "/api/chatkit/refresh",
        "/api/chatkit/threads",
    ] {
        let r = app.post(deprecated, "alice").send().await.unwrap();
        assert!(r.status() == 404 || r.status() == 405, "{deprecated}");
    }
}

#[tokio::test]
async fn a_failure_mid_answer_is_one_error_event_then_a_clean_end() {
    let app = TestApp::spawn_with(|c| c.offline_delta_delay = Duration::from_millis(100)).await;
    let (thread, _) = create(&app, "alice", "hello").await;
    let mut r = app
        .post("/api/chatkit", "alice")
        .json(
            &json!({"type": "threads.add_user_message", "params": {"thread_id": thread,
            "input": text_input("add a task to renew the passport before the summer holidays")}}),
        )
        .send()
        .await
        .unwrap();
    let mut body = String::new();
    while !body.contains("text_delta") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), r.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        body.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    // The database goes away: storing the answer fails.
    app.state.store.close().await;
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), r.chunk())
        .await
        .unwrap()
        .unwrap()
    {
        body.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let events = Answer {
        status: 200,
        content_type: "text/event-stream".into(),
        body,
    }
    .events();
    assert_eq!(
        events.last().unwrap(),
        &json!({"type": "error", "code": "stream.error", "allow_retry": true})
    );
    assert!(!events
        .iter()
        .any(|e| e["type"] == "thread.item.done" && e["item"]["type"] == "assistant_message"));
}

#[tokio::test]
async fn deleting_a_thread_stops_its_running_turn() {
    let app = TestApp::spawn_with(|c| c.offline_delta_delay = Duration::from_millis(100)).await;
    let (thread, _) = create(&app, "alice", "hello").await;
    let r = app
        .post("/api/chatkit", "alice")
        .json(
            &json!({"type": "threads.add_user_message", "params": {"thread_id": thread,
            "input": text_input("add a task to clean the garage and sort the old boxes")}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let a = ck(
        &app,
        "alice",
        json!({"type": "threads.delete", "params": {"thread_id": thread}}),
    )
    .await;
    assert_eq!(a.json(), json!({}));
    let body = tokio::time::timeout(Duration::from_secs(10), r.text())
        .await
        .unwrap()
        .unwrap();
    let events = Answer {
        status: 200,
        content_type: "text/event-stream".into(),
        body,
    }
    .events();
    // The stream ends rather than hangs: with the cancelled turn's (empty) end, or with its
    // failure to store into the deleted thread, whichever came first.
    assert!(!events.is_empty());
    wait_idle(&app).await;
    let a = ck(
        &app,
        "alice",
        json!({"type": "items.list", "params": {"thread_id": thread}}),
    )
    .await;
    assert_eq!(a.status, 404);
}

#[tokio::test]
async fn the_whole_flow_runs_on_postgres() {
    let Some(url) = common::fresh_postgres().await else {
        eprintln!("note: TEST_DATABASE_URL is unset; skipping");
        return;
    };
    let app = TestApp::spawn_on(&url).await;
    let (thread, events) = create(&app, "alice", "add a task to buy milk").await;
    let done: Vec<Value> = events
        .iter()
        .filter(|e| e["type"] == "thread.item.done")
        .map(|e| e["item"].clone())
        .collect();
    let got = ck(
        &app,
        "alice",
        json!({"type": "threads.get_by_id", "params": {"thread_id": thread}}),
    )
    .await
    .json();
    assert_eq!(got["items"]["data"], json!(done));
    let a = ck(&app, "alice", json!({"type": "attachments.create", "params": {"name": "n.txt", "size": 2, "mime_type": "text/plain"}})).await.json();
    let r = app
        .client()
        .post(a["upload_descriptor"]["url"].as_str().unwrap())
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events = ck(
        &app,
        "alice",
        json!({"type": "threads.add_user_message", "params": {"thread_id": thread,
        "input": {"content": [{"type": "input_text", "text": "see"}], "attachments": [a["id"]]}}}),
    )
    .await
    .events();
    assert_eq!(
        events[0]["item"]["attachments"][0]["thread_id"],
        thread.as_str()
    );
    let u = events[0]["item"]["id"].clone();
    let retried = ck(
        &app,
        "alice",
        json!({"type": "threads.retry_after_item", "params": {"thread_id": thread, "item_id": u}}),
    )
    .await
    .events();
    assert_eq!(retried[0]["type"], "stream_options");
    let p = ck(
        &app,
        "alice",
        json!({"type": "threads.list", "params": {"limit": 1}}),
    )
    .await
    .json();
    assert_eq!(p["data"][0]["id"], thread.as_str());
    assert_eq!(
        ck(
            &app,
            "alice",
            json!({"type": "threads.delete", "params": {"thread_id": thread}})
        )
        .await
        .json(),
        json!({})
    );
}
