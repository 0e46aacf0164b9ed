//! A message for a thread that is answering another: `on_busy` says whether it is refused
//! (`reject`, the default) or stops that answer (`interrupt`: it ends `interrupted`, keeping its
//! text, and the new message's turn starts). Over the WebSocket, REST and SSE; across instances
//! in tests/cluster.rs.

mod common;

use std::time::Duration;

use common::ws::WsClient;
use common::{assert_error, json_of, TestApp};
use serde_json::{json, Value};

async fn paced() -> TestApp {
    TestApp::spawn_with(|c| c.offline_delta_delay = Duration::from_millis(20)).await
}

/// Starts a slow answer on a new thread and waits for its first delta; returns the thread id
/// and the answer's id.
async fn busy_thread(c: &mut WsClient) -> (String, String) {
    c.send(json!({"type": "message", "content": "help", "request_id": "first"}))
        .await;
    let frames = c.until(|f| f["type"] == "stream.delta").await;
    let thread = frames[0]["thread"]["id"].as_str().unwrap().to_string();
    let answer = frames.last().unwrap()["message_id"]
        .as_str()
        .unwrap()
        .to_string();
    (thread, answer)
}

#[tokio::test]
async fn reject_is_the_default_and_says_thread_busy() {
    let app = paced().await;
    let mut c = WsClient::connect(&app, "rej").await;
    let (thread, _) = busy_thread(&mut c).await;
    for extra in [json!({}), json!({"on_busy": "reject"})] {
        let mut frame =
            json!({"type": "message", "thread_id": thread, "content": "hi", "request_id": "again"});
        frame
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c.send(frame).await;
        let e = c.until(|f| f["type"] == "error").await;
        let e = e.last().unwrap();
        assert_eq!(
            (e["code"].as_str(), e["request_id"].as_str()),
            (Some("thread_busy"), Some("again"))
        );
    }
}

#[tokio::test]
async fn interrupt_stops_the_running_answer_keeping_its_text_and_starts_the_new_one() {
    let app = paced().await;
    let mut c = WsClient::connect(&app, "int").await;
    // The whole answer the interrupted one would have given.
    c.send(json!({"type": "message", "content": "help"})).await;
    let whole = c.until_done(1).await.last().unwrap()["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    let (thread, first) = busy_thread(&mut c).await;
    c.send(
        json!({"type": "message", "thread_id": thread, "content": "show my tasks",
                  "on_busy": "interrupt", "request_id": "second"}),
    )
    .await;
    let frames = c.until_done(2).await;
    let done: Vec<&Value> = frames
        .iter()
        .filter(|f| f["type"] == "message.done")
        .collect();
    assert_eq!(done[0]["message"]["id"], first.as_str());
    assert_eq!(done[0]["message"]["status"], "interrupted");
    let kept = done[0]["message"]["content"].as_str().unwrap();
    assert!(!kept.is_empty(), "the text streamed so far is kept");
    assert!(
        whole.starts_with(kept) && kept.len() < whole.len(),
        "{kept:?}"
    );
    assert_eq!(done[1]["request_id"], "second");
    assert_eq!(done[1]["message"]["status"], "completed");
    // The new user message follows the interrupted answer in the thread.
    c.send(json!({"type": "thread.load", "thread_id": thread}))
        .await;
    let t = c.until(|f| f["type"] == "thread").await;
    let messages = t.last().unwrap()["messages"].as_array().unwrap().clone();
    let statuses: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("user", "completed"),
            ("assistant", "interrupted"),
            ("user", "completed"),
            ("assistant", "completed")
        ]
    );
    assert_eq!(messages[1]["content"], kept);
}

#[tokio::test]
async fn interrupt_works_over_rest_and_sse_too() {
    let app = paced().await;
    let mut c = WsClient::connect(&app, "http").await;
    let (thread, first) = busy_thread(&mut c).await;
    let r = app
        .post("/api/http/chat", "http")
        .json(
            &json!({"message": "show my tasks", "conversation_id": thread, "on_busy": "interrupt"}),
        )
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "completed");
    let done = c.until(|f| f["type"] == "message.done").await;
    assert_eq!(done.last().unwrap()["message"]["id"], first.as_str());
    assert_eq!(done.last().unwrap()["message"]["status"], "interrupted");

    // SSE: interrupt a turn started over the socket again.
    c.send(json!({"type": "message", "thread_id": thread, "content": "help"}))
        .await;
    c.until(|f| f["type"] == "stream.delta").await;
    let body = app
        .post("/api/http/chat/stream", "http")
        .json(
            &json!({"message": "show my tasks", "conversation_id": thread, "on_busy": "interrupt"}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("event: message.done"), "{body}");
    assert!(body.contains(r#""message_status":"completed""#), "{body}");
    let done = c
        .until(|f| f["type"] == "message.done" && f["message"]["status"] == "interrupted")
        .await;
    assert!(!done.is_empty());
}

#[tokio::test]
async fn a_bad_on_busy_is_refused_clearly() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect(&app, "bad").await;
    c.send(json!({"type": "message", "content": "hi", "on_busy": "later", "request_id": "b"}))
        .await;
    let e = c.next().await;
    assert_eq!(
        (e["code"].as_str(), e["request_id"].as_str()),
        (Some("invalid_frame"), Some("b"))
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("`reject`, `enqueue`, `interrupt`"),
        "{e}"
    );
    for path in ["/api/bad/chat", "/api/bad/chat/stream"] {
        let r = app
            .post(path, "bad")
            .json(&json!({"message": "hi", "on_busy": 5}))
            .send()
            .await
            .unwrap();
        let (status, v) = json_of(r).await;
        assert_eq!(status, 400, "{path}");
        assert_error(&v, "invalid_request");
    }
    // Nothing ran.
    assert!(app.tasks("bad").await.is_empty());
}
