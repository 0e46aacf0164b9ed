//! ChatKit refusals over HTTP: every client error as JSON before any stream, isolation between
//! users, and the health endpoint that needs no token.

mod common;

use common::chatkit::{answer, ck, create, on_thread, text_input};
use common::{assert_error, TestApp};
use serde_json::{json, Value};

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
    let got = on_thread(&app, "alice", "threads.get_by_id", &thread)
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
