//! The SSE twin of the chat endpoint: framing, compatibility fields, errors before the stream.

mod common;

use common::{assert_error, json_of, TestApp};
use serde_json::{json, Value};

/// Parses an SSE body into (event name, JSON data) pairs.
fn parse_sse(body: &str) -> Vec<(String, Value)> {
    parse_sse_ids(body)
        .into_iter()
        .map(|(_, name, data)| (name, data))
        .collect()
}

/// Parses an SSE body into (id, event name, JSON data) triples.
fn parse_sse_ids(body: &str) -> Vec<(u64, String, Value)> {
    let mut out = Vec::new();
    for block in body.split("\n\n") {
        let mut name = None;
        let mut id = None;
        let mut data = String::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("id:") {
                id = Some(v.trim().parse().expect("numeric ids"));
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
        if let Some(name) = name {
            out.push((
                id.expect("every event has an id"),
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

/// An SSE response read a few events at a time.
struct SseReader {
    r: reqwest::Response,
    body: String,
    taken: usize,
}

impl SseReader {
    fn new(r: reqwest::Response) -> Self {
        SseReader {
            r,
            body: String::new(),
            taken: 0,
        }
    }

    /// The next `n` events (fewer when the stream ends first).
    async fn take(&mut self, n: usize) -> Vec<(u64, String, Value)> {
        loop {
            let whole = &self.body[..self.body.rfind("\n\n").map_or(0, |i| i + 2)];
            let events = parse_sse_ids(whole);
            if events.len() >= self.taken.saturating_add(n) {
                let out = events[self.taken..self.taken + n].to_vec();
                self.taken += n;
                return out;
            }
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), self.r.chunk())
                .await
                .expect("a chunk within the wait")
                .unwrap();
            match chunk {
                Some(chunk) => self.body.push_str(&String::from_utf8_lossy(&chunk)),
                None => {
                    let out = parse_sse_ids(&self.body).split_off(self.taken);
                    self.taken += out.len();
                    return out;
                }
            }
        }
    }
}

fn text_of(events: &[(u64, String, Value)]) -> String {
    events
        .iter()
        .filter(|(_, name, _)| name == "stream.delta")
        .map(|(_, _, d)| d["delta"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_lost_stream_resumes_after_its_last_event_id_with_nothing_twice() {
    let app =
        TestApp::spawn_with(|c| c.offline_delta_delay = std::time::Duration::from_millis(15)).await;
    let r = app
        .post("/api/r/chat/stream", "r")
        .json(&json!({"message": "help"}))
        .send()
        .await
        .unwrap();
    let mut r = SseReader::new(r);
    let first = r.take(6).await;
    drop(r);
    let ids: Vec<u64> = first.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(ids, (1..=first.len() as u64).collect::<Vec<_>>());
    let conv = first[0].2["thread"]["id"].as_str().unwrap().to_string();
    let last = first.last().unwrap().0;

    let r = app
        .get(&format!("/api/r/conversations/{conv}/stream"), "r")
        .header("Last-Event-ID", last.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rest = SseReader::new(r).take(usize::MAX).await;
    assert_eq!(rest[0].0, last + 1, "resumes right after the last event");
    let (_, name, done) = rest.last().unwrap();
    assert_eq!(name, "message.done");
    assert_eq!(
        format!("{}{}", text_of(&first), text_of(&rest)),
        done["message"]["content"]
    );

    // Nothing runs there now.
    let r = app
        .get(&format!("/api/r/conversations/{conv}/stream"), "r")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn without_last_event_id_the_running_turn_replays_from_its_start() {
    let app =
        TestApp::spawn_with(|c| c.offline_delta_delay = std::time::Duration::from_millis(15)).await;
    let original = app
        .post("/api/w/chat/stream", "w")
        .json(&json!({"message": "help"}))
        .send()
        .await
        .unwrap();
    let mut original = SseReader::new(original);
    let mut whole = original.take(4).await;
    let conv = whole[0].2["thread"]["id"].as_str().unwrap().to_string();
    let joined = app
        .get(&format!("/api/w/conversations/{conv}/stream"), "w")
        .send()
        .await
        .unwrap();
    whole.extend(original.take(usize::MAX).await);
    let replayed = SseReader::new(joined).take(usize::MAX).await;
    // The same events, numbered the same.
    assert_eq!(replayed, whole);
}

#[tokio::test]
async fn resuming_a_stream_checks_the_user_the_conversation_and_the_id() {
    let app = TestApp::spawn().await;
    let r = app
        .post("/api/o/chat", "o")
        .json(&json!({"message": "add a task to buy milk"}))
        .send()
        .await
        .unwrap();
    let (_, v) = json_of(r).await;
    let conv = v["conversation_id"].as_str().unwrap().to_string();
    let path = format!("/api/o/conversations/{conv}/stream");
    // No turn runs: 204.
    let r = app.get(&path, "o").send().await.unwrap();
    assert_eq!(r.status(), 204);
    // Another user's token on this path: 403; that user's own path to it: 404.
    let r = app.get(&path, "eve").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = app
        .get(&format!("/api/eve/conversations/{conv}/stream"), "eve")
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 404);
    assert_error(&v, "not_found");
    // A bad Last-Event-ID.
    let r = app
        .get(&path, "o")
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    let (s, v) = json_of(r).await;
    assert_eq!(s, 400);
    assert_error(&v, "invalid_request");
    // No token.
    let r = app
        .client()
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
