//! The delta coalescing window (`STREAM_COALESCE_MS`): a paced answer arrives in fewer, larger
//! deltas, numbered without holes, whose text is the whole answer, on every socket and after a
//! resume; the stored answer is the same.

mod common;

use std::time::Duration;

use agentwire::config::BenchAgentConfig;
use common::ws::WsClient;
use common::TestApp;
use serde_json::{json, Value};

/// The bench agent: 20 words 10 ms apart, grouped by a 60 ms window.
async fn coalescing() -> TestApp {
    TestApp::spawn_with(|c| {
        c.bench_agent = Some(BenchAgentConfig {
            deltas: 20,
            delay: Duration::from_millis(10),
        });
        c.stream_coalesce = Duration::from_millis(60);
    })
    .await
}

/// The deltas of `frames`, checked to be numbered from `next` without a hole, a repeat or a
/// `count`; returns their text, how many there were, and the next `seq`.
fn deltas(frames: &[Value], mut next: u64) -> (String, usize, u64) {
    let mut text = String::new();
    let mut n = 0;
    for d in frames.iter().filter(|f| f["type"] == "stream.delta") {
        assert_eq!(d["seq"].as_u64(), Some(next), "a hole or a repeat at {d}");
        assert!(d.get("count").is_none(), "{d}");
        next += 1;
        n += 1;
        text.push_str(d["delta"].as_str().unwrap());
    }
    (text, n, next)
}

fn words(n: u32) -> String {
    (0..n).map(agentwire::agent::bench::delta_text).collect()
}

#[tokio::test]
async fn a_paced_answer_arrives_in_fewer_deltas_that_add_up_to_it_on_every_socket() {
    let app = coalescing().await;
    let mut a = WsClient::connect(&app, "co").await;
    let mut b = WsClient::connect(&app, "co").await;
    a.send(json!({"type": "message", "content": "hello", "request_id": "r1"}))
        .await;
    for c in [&mut a, &mut b] {
        let frames = c.until_done(1).await;
        let (text, n, _) = deltas(&frames, 0);
        assert_eq!(text, words(20));
        // 200 ms of words in 60 ms windows: a handful of deltas, not twenty.
        assert!((2..=8).contains(&n), "{n} deltas");
        let done = frames.last().unwrap();
        assert_eq!(done["message"]["content"], text.as_str());
    }
    // What is stored is what streamed.
    let thread = app.get("/api/co/conversations", "co").send().await.unwrap();
    let (status, body) = common::json_of(thread).await;
    assert_eq!(status, 200, "{body}");
    let id = body["data"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = common::json_of(
        app.get(&format!("/api/co/conversations/{id}/messages"), "co")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let answer = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "assistant")
        .cloned()
        .expect("the answer is stored");
    assert_eq!(answer["content"], words(20).as_str());
}

#[tokio::test]
async fn a_client_that_reconnects_mid_answer_gets_exactly_the_rest_in_order() {
    let app = coalescing().await;
    let mut c = WsClient::connect(&app, "back").await;
    c.send(json!({"type": "message", "content": "hello", "request_id": "r1"}))
        .await;
    let first = c.until(|f| f["type"] == "stream.delta").await;
    let pos = first.last().unwrap()["pos"].as_str().unwrap().to_string();
    let (before, _, next) = deltas(&first, 0);
    drop(c);
    let mut c = WsClient::connect_bare(&app).await;
    c.send(json!({"type": "auth", "token": app.token_for("back"), "resume_after": pos}))
        .await;
    assert_eq!(c.next().await["type"], "ready");
    let resumed = c.next().await;
    assert_eq!(resumed["recovered"], true, "{resumed}");
    let rest = c.until_done(1).await;
    let (after, _, _) = deltas(&rest, next);
    assert_eq!(format!("{before}{after}"), words(20));
}
