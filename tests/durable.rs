//! Answers that survive: stored from the moment their turn starts, saved as they stream, loaded
//! mid-answer with the `next_seq` live deltas continue from, and marked `interrupted` with the
//! text saved when the process running the turn is killed (on restart, or by a surviving
//! instance). The kill tests run the server binary as a child process and SIGKILL it.

mod common;

use std::time::{Duration, Instant};

use common::chatkit::items;
use common::process::Server;
use common::ws::WsClient;
use common::{json_of, TestApp};
use serde_json::{json, Value};

/// A message the offline agent answers with about forty word deltas.
const LONG: &str = "help";

/// The texts of `answer`'s deltas among `frames`, in seq order; panics on a hole.
fn deltas(frames: &[Value], answer: &str) -> Vec<String> {
    let mut found: Vec<(u64, String)> = frames
        .iter()
        .filter(|f| f["type"] == "stream.delta" && f["message_id"] == answer)
        .map(|f| {
            (
                f["seq"].as_u64().unwrap(),
                f["delta"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort_by_key(|(seq, _)| *seq);
    found.dedup_by_key(|(seq, _)| *seq);
    for (i, (seq, _)) in found.iter().enumerate() {
        assert_eq!(*seq, i as u64, "a hole in the deltas: {found:?}");
    }
    found.into_iter().map(|(_, d)| d).collect()
}

/// The thread and answer ids a turn's first frames announce.
fn ids(frames: &[Value]) -> (String, String) {
    let added = frames
        .iter()
        .find(|f| f["type"] == "message.added" && f["message"]["role"] == "assistant")
        .expect("the answer was announced");
    assert_eq!(added["message"]["status"], "in_progress");
    assert_eq!(added["message"]["next_seq"], 0);
    (
        added["thread_id"].as_str().unwrap().to_string(),
        added["message"]["id"].as_str().unwrap().to_string(),
    )
}

/// Frames until the server goes away (the socket closes or drops).
async fn until_gone(ws: &mut WsClient) -> Vec<Value> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let mut out = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => out.push(serde_json::from_str(t.as_str()).unwrap()),
            Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) => return out,
            Ok(Some(Ok(_))) => {}
            Err(_) => panic!("the socket outlived its server"),
        }
    }
}

/// How many of `streamed` deltas `saved` holds: it must be exactly a prefix of them.
fn saved_deltas(saved: &str, streamed: &[String]) -> usize {
    (0..=streamed.len())
        .rev()
        .find(|k| streamed[..*k].concat() == saved)
        .unwrap_or_else(|| panic!("{saved:?} is not a prefix of the stream {streamed:?}"))
}

#[tokio::test]
async fn a_killed_server_leaves_its_answer_interrupted_with_the_text_saved() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("crash.db").display());
    // Deltas 60 ms apart, the text saved at most 100 ms behind.
    let env = [("OFFLINE_DELTA_DELAY_MS", "60"), ("PARTIAL_SAVE_MS", "100")];
    let server = Server::start(&db, &env).await;
    let mut ws = server.socket("kim").await;
    ws.send(json!({"type": "message", "content": LONG, "request_id": "h"}))
        .await;
    let mut frames = ws
        .until(|f| f["type"] == "stream.delta" && f["seq"] == 10)
        .await;
    let (thread, answer) = ids(&frames);
    server.kill().await;
    frames.extend(until_gone(&mut ws).await);
    assert!(
        frames.iter().all(|f| f["type"] != "message.done"),
        "the turn was still running when the server died"
    );
    let streamed = deltas(&frames, &answer);

    let server = Server::start(&db, &env).await;
    let path = format!("/api/kim/conversations/{thread}/messages");
    let (status, v) = server.get(&path, "kim").await;
    assert_eq!(status, 200, "{v}");
    let messages = v["data"].as_array().unwrap();
    assert_eq!(messages.len(), 2, "{v}");
    // The acknowledged user message is there, and the answer as far as it was saved.
    assert_eq!(
        (&messages[0]["role"], &messages[0]["content"]),
        (&json!("user"), &json!(LONG))
    );
    let stored = &messages[1];
    assert_eq!(stored["id"], answer.as_str());
    assert_eq!(stored["status"], "interrupted");
    assert!(stored.get("next_seq").is_none(), "{stored}");
    let saved = saved_deltas(stored["content"].as_str().unwrap(), &streamed);
    // At most 100 ms (two deltas) behind what had been streamed, and a save's round trip.
    assert!(
        saved + 4 >= streamed.len() && saved >= 8,
        "{saved} of {} deltas saved",
        streamed.len()
    );

    // The thread takes a new message at once.
    let mut ws = server.socket("kim").await;
    ws.send(json!({"type": "message", "thread_id": thread, "content": "add a task to buy milk"}))
        .await;
    let done = ws.until_done(1).await;
    assert_eq!(done.last().unwrap()["message"]["status"], "completed");
    server.kill().await;
}

#[tokio::test]
async fn a_surviving_instance_interrupts_a_dead_ones_answer_within_seconds() {
    let Some(url) = common::fresh_postgres().await else {
        eprintln!("TEST_DATABASE_URL not set: skipping");
        return;
    };
    let env = [
        ("OFFLINE_DELTA_DELAY_MS", "60"),
        ("PARTIAL_SAVE_MS", "100"),
        ("MULTI_INSTANCE", "on"),
        ("INSTANCE_DEAD_AFTER_SECS", "2"),
    ];
    let a = Server::start(&url, &env).await;
    let b = Server::start(&url, &env).await;
    let mut on_b = b.socket("lee").await;
    let mut on_a = a.socket("lee").await;
    on_a.send(json!({"type": "message", "content": LONG, "request_id": "q"}))
        .await;
    let mut frames = on_b
        .until(|f| f["type"] == "stream.delta" && f["seq"] == 8)
        .await;
    let (thread, answer) = ids(&frames);
    let killed = Instant::now();
    a.kill().await;

    // B's socket hears the answer end, interrupted, without B restarting.
    let rest = on_b.until(|f| f["type"] == "message.done").await;
    let waited = killed.elapsed();
    frames.extend(rest);
    let done = frames.last().unwrap();
    assert_eq!(done["message"]["id"], answer.as_str());
    assert_eq!(done["message"]["status"], "interrupted");
    assert!(waited < Duration::from_secs(8), "took {waited:?}");
    let streamed = deltas(&frames, &answer);
    let saved = saved_deltas(done["message"]["content"].as_str().unwrap(), &streamed);
    assert!(saved + 4 >= streamed.len(), "{saved} of {}", streamed.len());

    // Stored so, and the thread is free again on the survivor.
    let (_, v) = b
        .get(&format!("/api/lee/conversations/{thread}/messages"), "lee")
        .await;
    assert_eq!(v["data"][1]["status"], "interrupted");
    assert_eq!(v["data"][1]["content"], done["message"]["content"]);
    on_b.send(json!({"type": "message", "thread_id": thread, "content": "add a task to pack"}))
        .await;
    let next = on_b.until_done(1).await;
    assert_eq!(next.last().unwrap()["message"]["status"], "completed");
    b.kill().await;
}

/// Loads `thread` three ways while its answer streams and checks each against the final text:
/// what it holds plus the live deltas from its `next_seq` on.
async fn check_loads_mid_answer(runs_on: &TestApp, loads_on: &TestApp, user: &str) {
    let mut starter = WsClient::connect(runs_on, user).await;
    // Subscribed before the turn: it sees every delta.
    let mut watcher = WsClient::connect(loads_on, user).await;
    starter
        .send(json!({"type": "message", "content": LONG, "request_id": "s"}))
        .await;
    let mut frames = watcher
        .until(|f| f["type"] == "stream.delta" && f["seq"] == 6)
        .await;
    let (thread, answer) = ids(&frames);
    // Let a save land.
    tokio::time::sleep(Duration::from_millis(120)).await;

    watcher
        .send(json!({"type": "thread.load", "thread_id": thread, "request_id": "l"}))
        .await;
    let loaded = watcher.until(|f| f["type"] == "thread").await;
    let page = loaded.last().unwrap().clone();
    frames.extend(loaded);
    assert_eq!(page["running"], true);
    let on_socket = page["messages"][1].clone();

    let (status, listing) = json_of(
        loads_on
            .get(
                &format!("/api/{user}/conversations/{thread}/messages"),
                user,
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{listing}");
    let on_rest = listing["data"][1].clone();

    let ck = items(loads_on, user, &thread, json!({"order": "asc"})).await;
    let item = ck["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "assistant_message")
        .expect("the answer in progress is an item")
        .clone();
    assert_eq!(item["id"], answer.as_str());
    assert_eq!(item["status"], "in_progress");
    let on_chatkit = json!({
        "status": item["status"],
        "content": item["content"][0]["text"],
        "next_seq": item["next_seq"],
    });

    frames.extend(watcher.until_done(1).await);
    let done = frames.last().unwrap();
    assert_eq!(done["message"]["status"], "completed");
    let final_text = done["message"]["content"].as_str().unwrap();
    let streamed = deltas(&frames, &answer);
    assert_eq!(streamed.concat(), final_text);
    for (how, loaded) in [
        ("thread.load", on_socket),
        ("REST", on_rest),
        ("ChatKit", on_chatkit),
    ] {
        assert_eq!(loaded["status"], "in_progress", "{how}: {loaded}");
        let next = loaded["next_seq"].as_u64().unwrap() as usize;
        let content = loaded["content"].as_str().unwrap();
        assert!(next > 0, "{how}: nothing was saved: {loaded}");
        // What the load holds, then the live deltas from `next_seq` on: the answer exactly.
        let rebuilt = format!("{content}{}", streamed[next..].concat());
        assert_eq!(rebuilt, final_text, "{how}: {loaded}");
    }
    // Once ended, no `next_seq`.
    watcher
        .send(json!({"type": "thread.load", "thread_id": thread, "request_id": "l2"}))
        .await;
    let after = watcher.until(|f| f["type"] == "thread").await;
    let page = &after.last().unwrap();
    assert_eq!(page["running"], false);
    assert!(page["messages"][1].get("next_seq").is_none(), "{page}");
}

fn paced(c: &mut agentwire::Config) {
    c.offline_delta_delay = Duration::from_millis(40);
    c.partial_save_every = Duration::from_millis(50);
}

#[tokio::test]
async fn a_running_answer_loads_with_its_text_so_far_and_where_live_deltas_resume() {
    let app = TestApp::spawn_with(paced).await;
    check_loads_mid_answer(&app, &app, "mo").await;
}

#[tokio::test]
async fn a_running_answer_loads_the_same_from_another_instance() {
    let Some(url) = common::fresh_postgres().await else {
        eprintln!("TEST_DATABASE_URL not set: skipping");
        return;
    };
    let a = TestApp::spawn_on_with(&url, paced).await;
    let b = TestApp::spawn_on_with(&url, paced).await;
    check_loads_mid_answer(&a, &b, "ned").await;
}

#[tokio::test]
async fn cancel_after_the_starting_socket_left_keeps_the_partial_text() {
    let app = TestApp::spawn_with(paced).await;
    let mut first = WsClient::connect(&app, "oz").await;
    first
        .send(json!({"type": "message", "content": LONG}))
        .await;
    let frames = first
        .until(|f| f["type"] == "stream.delta" && f["seq"] == 3)
        .await;
    let (thread, answer) = ids(&frames);
    drop(first);

    let mut second = WsClient::connect(&app, "oz").await;
    second
        .send(json!({"type": "cancel", "thread_id": thread, "request_id": "c"}))
        .await;
    let rest = second.until_done(1).await;
    let done = rest.last().unwrap();
    assert_eq!(done["message"]["id"], answer.as_str());
    assert_eq!(done["message"]["status"], "cancelled");
    let kept = done["message"]["content"].as_str().unwrap();
    let seen = deltas(&frames, &answer).concat();
    assert!(
        kept.starts_with(&seen) && kept.len() < 200,
        "{kept:?} (had seen {seen:?})"
    );
    let r = app
        .get(&format!("/api/oz/conversations/{thread}/messages"), "oz")
        .send()
        .await
        .unwrap();
    let (_, v) = json_of(r).await;
    assert_eq!(v["data"][1]["status"], "cancelled");
    assert_eq!(v["data"][1]["content"], kept);
}
