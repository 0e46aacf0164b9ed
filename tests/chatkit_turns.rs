//! ChatKit turns over HTTP: how a streamed answer runs and ends. Covers retry, stop as a
//! disconnect that keeps the partial answer (and the user message whole), a second stream on a
//! busy thread, a failure in the middle of an answer, and deleting a thread while its turn runs.

mod common;

use std::time::Duration;

use common::chatkit::{answer, ck, create, items, on_thread, text_input, types, wait_idle, Answer};
use common::{assert_error, TestApp};
use serde_json::{json, Value};

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
    let messages = app.state.chat.read(&user).messages(tid).await.unwrap();
    let last = messages.last().unwrap();
    assert_eq!(last.status, agentwire::model::MessageStatus::Cancelled);
    assert_eq!(last.content, text);
    assert!(data
        .iter()
        .all(|i| i["type"] != "sdk_hidden_context" && i["type"] != "hidden_context_item"));
    wait_idle(&app).await;
}

#[tokio::test]
async fn a_user_message_keeps_its_shape_when_the_client_hangs_up_at_once() {
    let app = TestApp::spawn_with(|c| c.offline_delta_delay = Duration::from_millis(50)).await;
    let mut input = text_input("show my tasks");
    input["quoted_text"] = json!("the line I quoted");
    let r = app
        .post("/api/chatkit", "alice")
        .json(&json!({"type": "threads.create", "params": {"input": input}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Gone before reading a single event: the turn is stopped, but what the user sent is
    // already stored, whole.
    drop(r);
    wait_idle(&app).await;
    let threads = ck(&app, "alice", json!({"type": "threads.list", "params": {}})).await;
    let threads = threads.json();
    let thread = threads["data"][0]["id"].as_str().unwrap().to_string();
    let page = items(&app, "alice", &thread, json!({"order": "asc"})).await;
    let first = &page["data"][0];
    assert_eq!(first["type"], "user_message", "{page}");
    assert_eq!(first["quoted_text"], "the line I quoted", "{first}");
    assert_eq!(first["content"][0]["text"], "show my tasks", "{first}");
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
    let a = on_thread(&app, "alice", "threads.delete", &thread).await;
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
    let a = on_thread(&app, "alice", "items.list", &thread).await;
    assert_eq!(a.status, 404);
}
