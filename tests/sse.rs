//! The SSE twin of the chat endpoint: framing, compatibility fields, errors before the stream.

mod common;

use common::{assert_error, json_of, TestApp};
use serde_json::{json, Value};

/// Parses an SSE body into (event name, JSON data) pairs.
fn parse_sse(body: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for block in body.split("\n\n") {
        let mut name = None;
        let mut data = String::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
        if let Some(name) = name {
            out.push((
                name,
                serde_json::from_str(&data).unwrap_or_else(|_| panic!("bad data: {data}")),
            ));
        }
    }
    out
}

#[tokio::test]
async fn a_turn_streams_as_typed_events_ending_complete() {
    let app = TestApp::spawn().await;
    let r = app
        .post("/api/s/chat/stream", "s")
        .json(&json!({"message": "add a task to buy milk"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let events = parse_sse(&r.text().await.unwrap());
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names[..3],
        ["thread.created", "message.added", "message.added"]
    );
    assert_eq!(*names.last().unwrap(), "message.done");
    assert!(names.contains(&"tool.called"));
    assert!(names.contains(&"task.changed"));

    let conv = events[0].1["thread"]["id"].as_str().unwrap().to_string();
    for (name, data) in &events {
        assert_eq!(data["type"], name.as_str());
        assert_eq!(data["conversation_id"], conv.as_str(), "{name}");
    }
    let deltas: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "stream.delta")
        .map(|(_, d)| d)
        .collect();
    assert!(deltas.len() > 1, "answer streams in several deltas");
    let mut text = String::new();
    for (i, d) in deltas.iter().enumerate() {
        assert_eq!(d["status"], "streaming");
        assert_eq!(d["seq"], i as u64);
        assert_eq!(d["response"], d["delta"]);
        text.push_str(d["delta"].as_str().unwrap());
    }
    let done = &events.last().unwrap().1;
    assert_eq!(done["status"], "complete");
    assert_eq!(done["response"], text.as_str());
    assert_eq!(done["message"]["content"], text.as_str());
    assert_eq!(done["message"]["status"], "completed");
    assert_eq!(app.tasks("s").await[0]["title"], "buy milk");
}

#[tokio::test]
async fn bad_requests_fail_as_json_before_any_stream() {
    let app = TestApp::spawn().await;
    let r = app
        .client()
        .post(format!("{}/api/s/chat/stream", app.url))
        .json(&json!({"message":"hi"}))
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 401);
    assert_error(&v, "unauthorized");
    let r = app
        .post("/api/s/chat/stream", "s")
        .body("nope")
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 400);
    assert_error(&v, "invalid_request");
    let r = app
        .post("/api/s/chat/stream", "s")
        .json(&json!({"message": "hi", "conversation_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7"}))
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 404);
    assert_error(&v, "not_found");
}

#[tokio::test]
async fn a_dropped_stream_still_finishes_and_persists_the_turn() {
    let app =
        TestApp::spawn_with(|c| c.offline_delta_delay = std::time::Duration::from_millis(20)).await;
    let mut r = app
        .post("/api/d/chat/stream", "d")
        .json(&json!({"message": "add a task to book flights"}))
        .send()
        .await
        .unwrap();
    // Read the first chunk, then hang up mid-stream.
    let first = r.chunk().await.unwrap().unwrap();
    let first = String::from_utf8_lossy(&first).to_string();
    drop(r);
    let conv = parse_sse(&first)[0].1["thread"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut done = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let r = app
            .get(&format!("/api/d/conversations/{conv}/messages"), "d")
            .send()
            .await
            .unwrap();
        let (_, v) = json_of(r).await;
        // The answer is stored from the start, in progress until the turn ends.
        assert_eq!(v["data"].as_array().unwrap().len(), 2, "{v}");
        if v["data"][1]["status"] == "completed" {
            done = true;
            break;
        }
    }
    assert!(done, "the turn finished after the client left");
}
