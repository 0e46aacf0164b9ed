//! The AI SDK's HTTP protocol: `POST /api/ai-sdk` answering the UI message stream that
//! `DefaultChatTransport` reads, `GET /api/ai-sdk/{chat_id}/stream` for its resume (204 when
//! nothing runs), their errors before any stream, and the routes of a user called `ai-sdk`,
//! whose paths the new routes share.

mod common;

use std::time::Duration;

use common::ai_sdk::{chat_body, post_chat, read_sse, user_message};
use common::{assert_error, json_of, TestApp};
use futures::StreamExt;
use serde_json::{json, Value};

fn chunks_of(data: &[String]) -> Vec<Value> {
    assert_eq!(data.last().map(String::as_str), Some("[DONE]"), "{data:?}");
    data[..data.len() - 1]
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

fn text(chunks: &[Value]) -> String {
    common::ai_sdk::text_of(chunks)
}

#[tokio::test]
async fn a_post_answers_the_ui_message_stream() {
    let app = TestApp::spawn().await;
    let (status, headers, data) =
        post_chat(&app, "alice", chat_body("h1", "add a task to buy milk")).await;
    assert_eq!(status, 200, "{data:?}");
    assert_eq!(headers["x-vercel-ai-ui-message-stream"], "v1");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let chunks = chunks_of(&data);
    let kinds: Vec<&str> = chunks.iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(kinds[0], "start");
    assert_eq!(kinds.last(), Some(&"finish"));
    assert!(kinds.contains(&"tool-input-available"), "{kinds:?}");
    let thread = chunks[0]["messageMetadata"]["threadId"].as_str().unwrap();
    let r = app
        .get(
            &format!("/api/alice/conversations/{thread}/messages"),
            "alice",
        )
        .send()
        .await
        .unwrap();
    let (_, v) = json_of(r).await;
    assert_eq!(v["data"][1]["content"], text(&chunks));

    // The same chat id goes on in the same thread, with its history from the store.
    let (status, _, data) = post_chat(&app, "alice", chat_body("h1", "show my tasks")).await;
    assert_eq!(status, 200);
    assert_eq!(chunks_of(&data)[0]["messageMetadata"]["threadId"], thread);
}

#[tokio::test]
async fn bad_requests_are_json_errors_before_any_stream() {
    let app = TestApp::spawn_with(|c| c.ai_sdk_max_body_bytes = 256 * 1024).await;
    let url = format!("{}/api/ai-sdk", app.url);
    let r = app
        .client()
        .post(&url)
        .json(&chat_body("c", "hi"))
        .send()
        .await
        .unwrap();
    let (status, v) = json_of(r).await;
    assert_eq!(status, 401);
    assert_error(&v, "unauthorized");
    let r = app
        .client()
        .post(&url)
        .bearer_auth("nope")
        .json(&chat_body("c", "hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    for body in [
        json!({"id": "c", "trigger": "submit-message"}),
        json!({"id": "c", "trigger": "submit-message", "messages": []}),
        json!({"id": "", "trigger": "submit-message", "messages": [user_message("hi")]}),
        json!({"id": "c", "trigger": "resume-stream", "messages": [user_message("hi")]}),
        chat_body("c", "a\u{0}b"),
    ] {
        let (status, _, data) = post_chat(&app, "alice", body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_error(&serde_json::from_str(&data[0]).unwrap(), "invalid_request");
    }

    // The SDK posts the whole chat each time: more than MAX_BODY_BYTES is fine, up to the
    // AI SDK's own limit.
    let mut long = chat_body("c-long", "hello");
    let history: Vec<Value> = (0..150)
        .map(|i| {
            json!({"id": format!("m{i}"), "role": if i % 2 == 0 { "user" } else { "assistant" },
            "parts": [{"type": "text", "text": "x".repeat(800)}]})
        })
        .chain([user_message("hello")])
        .collect();
    long["messages"] = history.into();
    let (status, _, _) = post_chat(&app, "alice", long.clone()).await;
    assert_eq!(status, 200);
    long["messages"][0]["parts"][0]["text"] = "x".repeat(200 * 1024).into();
    let (status, _, data) = post_chat(&app, "alice", long).await;
    assert_eq!(status, 413);
    assert_error(
        &serde_json::from_str(&data[0]).unwrap(),
        "payload_too_large",
    );
}

#[tokio::test]
async fn the_resume_route_replays_the_running_turn_and_answers_204_without_one() {
    let app = TestApp::spawn_with(|c| c.offline_delta_delay = Duration::from_millis(40)).await;
    let stream = |user: &str, chat: &str| app.get(&format!("/api/ai-sdk/{chat}/stream"), user);
    assert_eq!(stream("alice", "h-run").send().await.unwrap().status(), 204);

    let posted = app
        .post("/api/ai-sdk", "alice")
        .json(&chat_body("h-run", "help"))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 200);
    // Read the first chunk, so the turn is surely running, then leave the POST's stream.
    let mut body = posted.bytes_stream();
    body.next().await.unwrap().unwrap();

    // Another user's request for the same chat id, or for nothing, finds nothing.
    assert_eq!(stream("bob", "h-run").send().await.unwrap().status(), 204);
    let (status, headers, data) = read_sse(stream("alice", "h-run").send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-vercel-ai-ui-message-stream"], "v1");
    let whole = chunks_of(&data);
    assert_eq!(whole[0]["type"], "start");
    assert_eq!(whole.last().unwrap()["finishReason"], "stop");
    let thread = whole[0]["messageMetadata"]["threadId"].as_str().unwrap();
    let r = app
        .get(
            &format!("/api/alice/conversations/{thread}/messages"),
            "alice",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(r).await.1["data"][1]["content"], text(&whole));
    drop(body);
    assert_eq!(stream("alice", "h-run").send().await.unwrap().status(), 204);
}

#[tokio::test]
async fn last_event_id_skips_the_chunks_the_client_has() {
    let app = TestApp::spawn_with(|c| c.offline_delta_delay = Duration::from_millis(40)).await;
    let posted = app
        .post("/api/ai-sdk", "alice")
        .json(&chat_body("h-skip", "help"))
        .send()
        .await
        .unwrap();
    let mut body = posted.bytes_stream();
    body.next().await.unwrap().unwrap();
    let r = app
        .get("/api/ai-sdk/h-skip/stream", "alice")
        .header("last-event-id", "3")
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    let first_id = text
        .lines()
        .find_map(|l| l.strip_prefix("id:"))
        .map(|id| id.trim().to_string());
    assert_eq!(first_id.as_deref(), Some("4"), "{text}");
    let r = app
        .get("/api/ai-sdk/h-skip/stream", "alice")
        .header("last-event-id", "three")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_user_called_ai_sdk_keeps_every_route_of_the_api() {
    let app = TestApp::spawn().await;
    let user = "ai-sdk";
    let v = app.say(user, "add a task to buy milk", None).await;
    let thread = v["conversation_id"].as_str().unwrap();
    for path in [
        "/api/ai-sdk/conversations".to_string(),
        "/api/ai-sdk/tasks".to_string(),
        format!("/api/ai-sdk/conversations/{thread}/messages"),
    ] {
        let r = app.get(&path, user).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    // Its SSE chat shares a path with the resume route of a chat called "chat".
    let r = app
        .post("/api/ai-sdk/chat/stream", user)
        .json(&json!({"message": "show my tasks"}))
        .send()
        .await
        .unwrap();
    let (status, _, data) = read_sse(r).await;
    assert_eq!(status, 200);
    let done: Value = data
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .find(|e| e["type"] == "message.done")
        .expect("the turn ended");
    assert!(done["response"].as_str().unwrap().contains("buy milk"));
    let r = app
        .post("/api/ai-sdk/chat/stream", "bob")
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .post("/api/ai-sdk/other/stream", user)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
}
