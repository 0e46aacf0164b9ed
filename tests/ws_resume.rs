//! Resuming a user's event stream over the WebSocket: exactly what was missed after a drop, an
//! honest `recovered: false` when the server cannot know, and slow sockets that get everything,
//! merged. (Two instances: tests/cluster.rs.)

mod common;

use std::time::Duration;

use agentwire::config::BenchAgentConfig;
use common::ws::WsClient;
use common::TestApp;
use serde_json::{json, Value};

async fn paced(ms: u64) -> TestApp {
    TestApp::spawn_with(|c| c.offline_delta_delay = Duration::from_millis(ms)).await
}

/// The deltas of `frames` for `message`, checked to follow `next` with no hole or repeat;
/// returns their text and the next expected `seq`.
fn take_deltas(frames: &[Value], message: &str, mut next: u64) -> (String, u64) {
    let mut text = String::new();
    for d in frames
        .iter()
        .filter(|f| f["type"] == "stream.delta" && f["message_id"] == message)
    {
        assert_eq!(d["seq"].as_u64(), Some(next), "a hole or a repeat at {d}");
        next += d["count"].as_u64().unwrap_or(1);
        text.push_str(d["delta"].as_str().unwrap());
    }
    (text, next)
}

/// Starts a paced turn on a fresh socket, reads a few deltas and drops the socket; returns the
/// assistant message id, the text so far, the next seq, and the last position seen.
async fn drop_mid_answer(app: &TestApp, user: &str) -> (String, String, u64, String) {
    let mut c = WsClient::connect(app, user).await;
    c.send(json!({"type": "message", "content": "help", "request_id": "h1"}))
        .await;
    let mut deltas = 0;
    let frames = c
        .until(|f| {
            if f["type"] == "stream.delta" {
                deltas += 1;
            }
            deltas == 3
        })
        .await;
    let assistant = frames
        .iter()
        .find(|f| f["type"] == "message.added" && f["message"]["role"] == "assistant")
        .expect("the assistant message started")["message"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pos = frames.last().unwrap()["pos"].as_str().unwrap().to_string();
    let (text, next) = take_deltas(&frames, &assistant, 0);
    drop(c);
    (assistant, text, next, pos)
}

#[tokio::test]
async fn ready_and_every_event_carry_a_position() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect_bare(&app).await;
    c.send(json!({"type": "auth", "token": app.token_for("pos")}))
        .await;
    let ready = c.next().await;
    assert!(
        ready["pos"].as_str().is_some_and(|p| !p.is_empty()),
        "{ready}"
    );
    c.send(json!({"type": "message", "content": "add a task to buy milk"}))
        .await;
    let frames = c.until_done(1).await;
    let mut last = ready["pos"].as_str().unwrap().to_string();
    for f in &frames {
        let pos = f["pos"].as_str().unwrap_or_else(|| panic!("no pos: {f}"));
        assert!(pos > last.as_str(), "{pos} after {last}");
        last = pos.to_string();
    }
}

#[tokio::test]
async fn a_client_that_reconnects_mid_answer_gets_exactly_the_rest() {
    let app = paced(15).await;
    let (assistant, before, next, pos) = drop_mid_answer(&app, "blip").await;
    // Missed a few more while away.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut c = WsClient::connect_bare(&app).await;
    c.send(json!({"type": "auth", "token": app.token_for("blip"), "resume_after": pos}))
        .await;
    assert_eq!(c.next().await["type"], "ready");
    let resumed = c.next().await;
    assert_eq!(resumed["type"], "resumed");
    assert_eq!(resumed["recovered"], true);
    assert!(resumed["replayed"].as_u64().unwrap() >= 1, "{resumed}");
    let rest = c.until_done(1).await;
    let (after, _) = take_deltas(&rest, &assistant, next);
    let done = rest.last().unwrap();
    assert_eq!(done["message"]["id"], assistant.as_str());
    assert_eq!(format!("{before}{after}"), done["message"]["content"]);
    // Nothing that was seen before comes again.
    assert!(rest
        .iter()
        .all(|f| f["type"] != "message.added" && f["type"] != "thread.created"));
}

#[tokio::test]
async fn a_resume_frame_after_ready_works_too_and_then_live_events_follow() {
    let app = paced(15).await;
    let (assistant, before, next, pos) = drop_mid_answer(&app, "later").await;
    // The answer ends while no socket is open, so nothing live comes before the resume.
    while app.state.chat.running_turns() > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut c = WsClient::connect(&app, "later").await;
    c.send(json!({"type": "resume", "after": pos, "request_id": "r1"}))
        .await;
    let resumed = c.until(|f| f["type"] == "resumed").await;
    let resumed = resumed.last().unwrap();
    assert_eq!(resumed["recovered"], true);
    assert_eq!(resumed["request_id"], "r1");
    let rest = c.until_done(1).await;
    let (after, _) = take_deltas(&rest, &assistant, next);
    assert_eq!(
        format!("{before}{after}"),
        rest.last().unwrap()["message"]["content"]
    );
    // And the socket goes on live.
    c.send(json!({"type": "message", "content": "show my tasks"}))
        .await;
    assert_eq!(
        c.until_done(1).await.last().unwrap()["type"],
        "message.done"
    );
}

#[tokio::test]
async fn positions_too_old_or_from_another_server_are_not_recovered() {
    let app = TestApp::spawn_with(|c| {
        c.ws.resume.window = Duration::from_millis(200);
    })
    .await;
    let mut c = WsClient::connect(&app, "old").await;
    c.send(json!({"type": "message", "content": "add a task to call mom"}))
        .await;
    let pos = c.until_done(1).await.last().unwrap()["pos"]
        .as_str()
        .unwrap()
        .to_string();
    drop(c);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut c = WsClient::connect(&app, "old").await;
    c.send(json!({"type": "resume", "after": pos})).await;
    let r = c.next().await;
    assert_eq!(
        (r["type"].as_str(), r["recovered"].as_bool()),
        (Some("resumed"), Some(false))
    );
    assert_eq!(r["replayed"], 0);

    // A server that never saw the position (as after a restart) cannot vouch for it either.
    let other = TestApp::spawn().await;
    let mut c = WsClient::connect_bare(&other).await;
    c.send(json!({"type": "auth", "token": other.token_for("old"), "resume_after": pos}))
        .await;
    assert_eq!(c.next().await["type"], "ready");
    let r = c.next().await;
    assert_eq!(r["recovered"], false, "{r}");
    // The socket still works: live events follow.
    c.send(json!({"type": "message", "content": "show my tasks"}))
        .await;
    assert_eq!(
        c.until_done(1).await.last().unwrap()["type"],
        "message.done"
    );
}

#[tokio::test]
async fn more_events_missed_than_the_window_holds_is_not_recovered() {
    let app = TestApp::spawn_with(|c| c.ws.resume.max_events_per_user = 5).await;
    let (c, ready) = WsClient::connect_ready(&app, &app.token_for("busy")).await;
    let pos = ready["pos"].as_str().unwrap().to_string();
    drop(c);
    // More events than the user's stream keeps, while no socket of the user is open.
    let r = app
        .post("/api/busy/chat", "busy")
        .json(&json!({"message": "add a task to buy milk"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut c = WsClient::connect(&app, "busy").await;
    c.send(json!({"type": "resume", "after": pos})).await;
    let r = c.next().await;
    assert_eq!(r["recovered"], false, "{r}");
}

#[tokio::test]
async fn bad_resume_frames_get_clear_errors() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect(&app, "bad").await;
    for (frame, code) in [
        (
            json!({"type": "resume", "after": "not a position", "request_id": "b1"}),
            "invalid_frame",
        ),
        (
            json!({"type": "resume", "request_id": "b1"}),
            "invalid_frame",
        ),
        (
            json!({"type": "resume", "after": 5, "request_id": "b1"}),
            "invalid_frame",
        ),
        (
            json!({"type": "auth", "token": app.token_for("bad"), "resume_after": "1.a", "request_id": "b1"}),
            "invalid_frame",
        ),
    ] {
        c.send(frame.clone()).await;
        let e = c.next().await;
        assert_eq!(
            (e["type"].as_str(), e["code"].as_str()),
            (Some("error"), Some(code)),
            "{frame}"
        );
        assert_eq!(e["request_id"], "b1");
    }
    // A bad resume_after in the first auth frame: authenticated, then told.
    let mut c = WsClient::connect_bare(&app).await;
    c.send(json!({"type": "auth", "token": app.token_for("bad"), "resume_after": "x"}))
        .await;
    assert_eq!(c.next().await["type"], "ready");
    assert_eq!(c.next().await["code"], "invalid_frame");
}

#[tokio::test]
async fn a_socket_that_stops_reading_gets_a_long_answer_whole_merged() {
    let app = TestApp::spawn_with(|c| {
        c.bench_agent = Some(BenchAgentConfig {
            deltas: 2000,
            delay: Duration::ZERO,
        });
        c.tcp_send_buffer = Some(4096);
    })
    .await;
    let mut c = WsClient::connect(&app, "slow").await;
    c.send(json!({"type": "message", "content": "talk to me"}))
        .await;
    // Not reading while the whole answer is produced.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let frames = c.until_done(1).await;
    let assistant = frames
        .iter()
        .find(|f| f["type"] == "message.added" && f["message"]["role"] == "assistant")
        .unwrap()["message"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (text, next) = take_deltas(&frames, &assistant, 0);
    assert_eq!(next, 2000);
    assert_eq!(text, frames.last().unwrap()["message"]["content"]);
    let delta_frames = frames
        .iter()
        .filter(|f| f["type"] == "stream.delta")
        .count();
    assert!(
        delta_frames < 2000,
        "{delta_frames} delta frames: nothing was merged"
    );
    assert!(frames.iter().any(|f| f["count"].as_u64() > Some(1)));
}

#[tokio::test]
async fn stop_works_after_a_resume_and_keeps_the_text_so_far() {
    let app = paced(20).await;
    let (assistant, before, next, pos) = drop_mid_answer(&app, "stopper").await;
    let mut c = WsClient::connect_bare(&app).await;
    c.send(json!({"type": "auth", "token": app.token_for("stopper"), "resume_after": pos}))
        .await;
    assert_eq!(c.next().await["type"], "ready");
    let resumed = c.next().await;
    assert_eq!(resumed["recovered"], true, "{resumed}");
    let thread = c
        .until(|f| f["type"] == "stream.delta")
        .await
        .last()
        .unwrap()["thread_id"]
        .as_str()
        .unwrap()
        .to_string();
    c.send(json!({"type": "cancel", "thread_id": thread, "request_id": "stop"}))
        .await;
    let rest = c.until_done(1).await;
    let done = rest.last().unwrap();
    assert_eq!(done["message"]["status"], "cancelled");
    assert_eq!(done["message"]["id"], assistant.as_str());
    let content = done["message"]["content"].as_str().unwrap();
    assert!(content.starts_with(&before), "{content:?} keeps {before:?}");
    assert!(next > 0);
}

#[tokio::test]
async fn a_resume_frame_after_live_events_never_delivers_out_of_order() {
    let app = paced(15).await;
    let (_, _, _, pos) = drop_mid_answer(&app, "late").await;
    // Away long enough to miss a few deltas.
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Reconnected, and live deltas of the running answer arrive before the resume is sent.
    let mut c = WsClient::connect(&app, "late").await;
    c.until(|f| f["type"] == "stream.delta").await;
    c.send(json!({"type": "resume", "after": pos})).await;
    let resumed = c.until(|f| f["type"] == "resumed").await;
    let resumed = resumed.last().unwrap();
    // What was missed before the live deltas cannot come after them: not recovered.
    assert_eq!(
        (resumed["recovered"].as_bool(), resumed["replayed"].as_u64()),
        (Some(false), Some(0))
    );
}
