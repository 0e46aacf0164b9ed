//! Several instances on one PostgreSQL database, as behind a load balancer: every event of a
//! user reaches every socket of that user, whichever instance runs the turn and whichever holds
//! the socket. Each test runs once per broker (`postgres::…`, `nats::…`). Skipped when
//! `TEST_DATABASE_URL` is not set (CI sets it); with it set, the NATS runs need the NATS server
//! (`TEST_NATS_URL`, else 127.0.0.1:4222) and fail without it.

mod common;

use std::time::Duration;

use agentwire::config::EventBroker;
use agentwire::model::{NewTask, Priority, UserId};
use common::nats::{self as nats_server, Proxy};
use common::ws::{normalised, Ended, WsClient};
use common::{assert_error, TestApp};
use serde_json::json;

/// What carries events between a test's instances.
#[derive(Debug, Clone, Copy)]
enum Broker {
    Postgres,
    Nats,
}

/// Runs each named test once per broker, as `postgres::<name>` and `nats::<name>`.
macro_rules! on_each_broker {
    ($($test:ident),* $(,)?) => {
        mod postgres {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::Broker::Postgres).await
            })*
        }
        mod nats {
            $(#[tokio::test]
            async fn $test() {
                super::$test(super::Broker::Nats).await
            })*
        }
    };
}

on_each_broker!(
    a_socket_turn_streams_to_the_same_users_sockets_on_another_instance,
    a_rest_turn_reaches_a_socket_on_another_instance,
    events_too_large_for_one_payload_arrive_whole,
    a_thread_runs_one_turn_across_instances_and_cancel_reaches_it_anywhere,
    a_claim_left_by_a_dead_instance_lapses,
    an_instance_that_shuts_down_sends_its_last_turns_events_first,
    a_client_resumes_mid_answer_on_the_other_instance_exactly,
    a_running_turn_can_be_joined_over_sse_on_the_other_instance,
    stop_sent_after_a_resume_on_the_other_instance_stops_the_turn,
    a_message_sent_to_one_instance_interrupts_the_turn_running_on_the_other,
    a_message_queued_on_one_instance_runs_when_the_turn_on_the_other_ends,
);

/// Two instances on one fresh database, or `None` without PostgreSQL.
async fn two_instances(broker: Broker) -> Option<(TestApp, TestApp)> {
    paced_instances(broker, 0).await
}

/// The same, with the offline agent spacing its deltas by `ms`, so turns can overlap.
async fn paced_instances(broker: Broker, ms: u64) -> Option<(TestApp, TestApp)> {
    let relay = match broker {
        Broker::Postgres => EventBroker::Postgres,
        Broker::Nats => nats_server::broker(&nats_server::url(), &nats_server::fresh_prefix()),
    };
    instances_on(relay.clone(), relay, ms).await
}

/// Two instances on one fresh database, each relaying through its own broker settings.
async fn instances_on(
    relay_a: EventBroker,
    relay_b: EventBroker,
    ms: u64,
) -> Option<(TestApp, TestApp)> {
    let Some(url) = common::fresh_postgres().await else {
        eprintln!("TEST_DATABASE_URL not set: skipping the several-instance tests");
        return None;
    };
    let pace = |relay: EventBroker| {
        move |c: &mut agentwire::Config| {
            c.offline_delta_delay = Duration::from_millis(ms);
            c.event_broker = relay;
        }
    };
    Some((
        TestApp::spawn_on_with(&url, pace(relay_a)).await,
        TestApp::spawn_on_with(&url, pace(relay_b)).await,
    ))
}

async fn a_socket_turn_streams_to_the_same_users_sockets_on_another_instance(broker: Broker) {
    let Some((a, b)) = two_instances(broker).await else {
        return;
    };
    let mut on_a = WsClient::connect(&a, "alice").await;
    let mut on_b = WsClient::connect(&b, "alice").await;
    let mut bob_on_b = WsClient::connect(&b, "bob").await;

    on_a.send(json!({"type": "message", "content": "add a task to buy milk", "request_id": "q1"}))
        .await;
    let here = on_a.until_done(1).await;
    let there = on_b.until_done(1).await;
    // The same frames, in the same order (each instance writes its own positions, and may
    // merge adjacent deltas differently).
    assert_eq!(normalised(&here), normalised(&there));
    let kinds: Vec<&str> = there.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(kinds[0], "thread.created");
    assert!(kinds.contains(&"stream.delta"), "{kinds:?}");
    assert!(kinds.contains(&"task.changed"), "{kinds:?}");
    assert_eq!(there.last().unwrap()["message"]["status"], "completed");
    assert!(there.iter().all(|f| f["request_id"] == "q1"));

    // Another user's socket hears nothing, on either instance.
    assert!(bob_on_b.sync("b1").await.is_empty());
    // And the task is alice's, seen from the other instance.
    let tasks = b.tasks("alice").await;
    assert_eq!(tasks.len(), 1);
    assert!(b.tasks("bob").await.is_empty());

    let received = common::metric(
        &b.metrics().await,
        "agentwire_relay_events_total{outcome=\"received\"}",
    );
    assert!(received >= here.len() as f64, "{received}");
}

async fn a_rest_turn_reaches_a_socket_on_another_instance(broker: Broker) {
    let Some((a, b)) = two_instances(broker).await else {
        return;
    };
    let mut on_a = WsClient::connect(&a, "carol").await;
    let v = b.say("carol", "add a task to call mom", None).await;
    let frames = on_a.until_done(1).await;
    assert_eq!(frames[0]["type"], "thread.created");
    assert_eq!(frames[0]["thread"]["id"], v["conversation_id"]);
    let done = frames.last().unwrap();
    assert_eq!(done["message"]["content"], v["response"]);
}

/// Twenty long task titles make an answer (and its `message.done`) well over 8,000 bytes: more
/// than a notification holds. The NATS instances meet a server that allows 8,000 bytes per
/// message (a proxy announces it), so there too the answer travels as a stored event.
async fn events_too_large_for_one_payload_arrive_whole(broker: Broker) {
    let _proxy;
    let (relay_a, relay_b) = match broker {
        Broker::Postgres => (EventBroker::Postgres, EventBroker::Postgres),
        Broker::Nats => {
            let proxy = Proxy::start(Some(8_000)).await;
            let prefix = nats_server::fresh_prefix();
            let relay = nats_server::broker(&proxy.url, &prefix);
            _proxy = proxy;
            (relay.clone(), relay)
        }
    };
    let Some((a, b)) = instances_on(relay_a, relay_b, 0).await else {
        return;
    };
    let user = UserId::new("dave");
    for i in 0..20 {
        let task = NewTask {
            title: format!("task {i} {}", "with a rather long title ".repeat(18)),
            priority: Priority::Medium,
            due_date: None,
        };
        a.state.store.add_task(&user, &task).await.unwrap();
    }
    let mut on_a = WsClient::connect(&a, "dave").await;
    let mut on_b = WsClient::connect(&b, "dave").await;
    on_a.send(json!({"type": "message", "content": "show my tasks", "request_id": "big"}))
        .await;
    let here = on_a.until_done(1).await;
    let there = on_b.until_done(1).await;
    let done = here.last().unwrap();
    assert!(
        done.to_string().len() > 8_000,
        "the answer is {} bytes",
        done.to_string().len()
    );
    assert_eq!(normalised(&here), normalised(&there));
    let pool = sqlx::PgPool::connect(&a.state.config.database_url)
        .await
        .unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM event_relay")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(stored >= 1, "the large event went through event_relay");
}

#[tokio::test]
async fn a_lost_listening_connection_closes_sockets_and_the_relay_recovers() {
    let Some((a, b)) = two_instances(Broker::Postgres).await else {
        return;
    };
    let mut on_b = WsClient::connect(&b, "erin").await;
    // Cut every instance's listening connection, as a network failure or a restart would.
    let admin = sqlx::PgPool::connect(&std::env::var("TEST_DATABASE_URL").unwrap())
        .await
        .unwrap();
    let db = a.state.config.database_url.rsplit('/').next().unwrap();
    let cut: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND query LIKE 'LISTEN%') t",
    )
    .bind(db)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(cut, 2, "one listening connection per instance");
    assert_closed_to_resume(on_b.ended_saying().await);
    relayed_again(&a, &b).await;
}

#[tokio::test]
async fn a_lost_nats_connection_closes_sockets_and_the_relay_recovers() {
    // B reaches NATS through a proxy the test cuts, as a network failure would.
    let proxy = Proxy::start(None).await;
    let prefix = nats_server::fresh_prefix();
    let direct = nats_server::broker(&nats_server::url(), &prefix);
    let through_proxy = nats_server::broker(&proxy.url, &prefix);
    let Some((a, b)) = instances_on(direct, through_proxy, 0).await else {
        return;
    };
    let mut on_b = WsClient::connect(&b, "erin").await;
    proxy.hold();
    assert_closed_to_resume(on_b.ended_saying().await);
    // A socket opened while B cannot reach NATS misses the turn A runs meanwhile (core NATS
    // keeps nothing for B): it is closed too once B hears NATS again.
    let mut during = WsClient::connect(&b, "erin").await;
    a.say("erin", "add a task to feed the cat", None).await;
    proxy.release();
    assert_closed_to_resume(during.ended_saying().await);
    relayed_again(&a, &b).await;
}

/// The socket was closed with 1013 to resume, saying why (not "slow consumer": it was reading).
fn assert_closed_to_resume((ended, reason): (Ended, String)) {
    assert_eq!(ended, Ended::Close(1013));
    assert!(reason.contains("another instance"), "{reason}");
}

/// B hears A again: a new socket there gets the next turn run on A.
async fn relayed_again(a: &TestApp, b: &TestApp) {
    let mut again = WsClient::connect(b, "erin").await;
    let v = a.say("erin", "add a task to water plants", None).await;
    let frames = again.until_done(1).await;
    assert_eq!(frames[0]["thread"]["id"], v["conversation_id"]);
}

async fn a_thread_runs_one_turn_across_instances_and_cancel_reaches_it_anywhere(broker: Broker) {
    let Some((a, b)) = paced_instances(broker, 100).await else {
        return;
    };
    let mut on_a = WsClient::connect(&a, "fay").await;
    let mut on_b = WsClient::connect(&b, "fay").await;
    on_a.send(json!({"type": "message", "content": "hello there, how are you today?", "request_id": "m1"}))
        .await;
    let created = on_b.until(|f| f["type"] == "stream.delta").await;
    let thread = created[0]["thread"]["id"].as_str().unwrap().to_string();

    // The turn runs on A; a message on the same thread through B is refused.
    let (status, body) = b
        .chat(
            "fay",
            json!({"message": "and again", "conversation_id": thread}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_error(&body, "thread_busy");
    on_b.send(
        json!({"type": "message", "thread_id": thread, "content": "again", "request_id": "m2"}),
    )
    .await;
    let refused = on_b.until(|f| f["type"] == "error").await;
    assert_eq!(refused.last().unwrap()["code"], "thread_busy");
    assert_eq!(refused.last().unwrap()["request_id"], "m2");

    // Cancel, sent to B, stops the turn on A; both sockets see it end as cancelled.
    on_b.send(json!({"type": "cancel", "thread_id": thread, "request_id": "c1"}))
        .await;
    for socket in [&mut on_a, &mut on_b] {
        let frames = socket.until_done(1).await;
        assert_eq!(frames.last().unwrap()["message"]["status"], "cancelled");
        assert!(frames.iter().all(|f| f["type"] != "error"), "{frames:?}");
    }

    // The thread is free on every instance as soon as its last event is out.
    let v = b
        .chat(
            "fay",
            json!({"message": "add a task to pack", "conversation_id": thread}),
        )
        .await;
    assert_eq!(v.0, 200, "{}", v.1);

    // Nothing runs now: cancel through either instance is not_found.
    on_a.send(json!({"type": "cancel", "thread_id": thread, "request_id": "c2"}))
        .await;
    let answer = on_a.until(|f| f["request_id"] == "c2").await;
    assert_eq!(answer.last().unwrap()["code"], "not_found");
}

async fn a_claim_left_by_a_dead_instance_lapses(broker: Broker) {
    let Some((a, _b)) = two_instances(broker).await else {
        return;
    };
    let v = a.say("gus", "add a task to buy bread", None).await;
    let thread = v["conversation_id"].as_str().unwrap().to_string();
    let pool = sqlx::PgPool::connect(&a.state.config.database_url)
        .await
        .unwrap();
    let claim = |age: &'static str| {
        let (pool, thread) = (pool.clone(), thread.clone());
        async move {
            sqlx::query("DELETE FROM running_turns")
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query(&format!(
                "INSERT INTO running_turns (thread_id, user_id, instance, seen_at) \
                 VALUES ($1::uuid, 'gus', gen_random_uuid(), now() - interval '{age}')"
            ))
            .bind(&thread)
            .execute(&pool)
            .await
            .unwrap();
        }
    };
    // An instance that refreshed its claim lately still runs the turn, as far as we know.
    claim("5 seconds").await;
    let (status, body) = a
        .chat(
            "gus",
            json!({"message": "list tasks", "conversation_id": thread}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_error(&body, "thread_busy");
    // One that stopped refreshing it a while ago has died: the thread is taken over.
    claim("2 minutes").await;
    let (status, body) = a
        .chat(
            "gus",
            json!({"message": "list tasks", "conversation_id": thread}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM running_turns")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "the finished turn freed its thread");
}

async fn an_instance_that_shuts_down_sends_its_last_turns_events_first(broker: Broker) {
    let Some((a, b)) = paced_instances(broker, 40).await else {
        return;
    };
    let mut on_a = WsClient::connect(&a, "hal").await;
    let mut on_b = WsClient::connect(&b, "hal").await;
    on_a.send(json!({"type": "message", "content": "hello, what can you do for me today?", "request_id": "h1"}))
        .await;
    on_b.until(|f| f["type"] == "stream.delta").await;
    // A drains its running turn, then stops; B's socket still sees the turn end.
    a.stop().await;
    let rest = on_b.until_done(1).await;
    let done = rest.last().unwrap();
    assert_eq!(done["message"]["status"], "completed");
    assert!(!done["message"]["content"].as_str().unwrap().is_empty());
    assert_eq!(on_a.ended().await, Ended::Close(1001));
}

async fn a_client_resumes_mid_answer_on_the_other_instance_exactly(broker: Broker) {
    let Some((a, b)) = paced_instances(broker, 15).await else {
        return;
    };
    let mut on_a = WsClient::connect(&a, "roam").await;
    on_a.send(json!({"type": "message", "content": "help"}))
        .await;
    let mut deltas = 0;
    let seen = on_a
        .until(|f| {
            deltas += (f["type"] == "stream.delta") as usize;
            deltas == 3
        })
        .await;
    drop(on_a);
    let pos = seen.last().unwrap()["pos"].as_str().unwrap().to_string();
    let assistant = seen
        .iter()
        .find(|f| f["type"] == "message.added" && f["message"]["role"] == "assistant")
        .unwrap()["message"]["id"]
        .clone();
    tokio::time::sleep(Duration::from_millis(60)).await;

    // Resuming in the first frame: nothing live can come before the replay.
    let mut on_b = WsClient::connect_bare(&b).await;
    on_b.send(json!({"type": "auth", "token": b.token_for("roam"), "resume_after": pos}))
        .await;
    assert_eq!(on_b.next().await["type"], "ready");
    let resumed = on_b.next().await;
    assert_eq!(
        (resumed["type"].as_str(), resumed["recovered"].as_bool()),
        (Some("resumed"), Some(true)),
        "{resumed}"
    );
    let rest = on_b.until_done(1).await;
    let mut text = String::new();
    let mut next = 0;
    for d in seen
        .iter()
        .chain(&rest)
        .filter(|f| f["type"] == "stream.delta")
    {
        assert_eq!(d["message_id"], assistant);
        assert_eq!(d["seq"].as_u64(), Some(next), "a hole or a repeat at {d}");
        next += d["count"].as_u64().unwrap_or(1);
        text.push_str(d["delta"].as_str().unwrap());
    }
    assert_eq!(text, rest.last().unwrap()["message"]["content"]);
}

async fn a_running_turn_can_be_joined_over_sse_on_the_other_instance(broker: Broker) {
    let Some((a, b)) = paced_instances(broker, 15).await else {
        return;
    };
    let mut on_a = WsClient::connect(&a, "joiner").await;
    on_a.send(json!({"type": "message", "content": "help"}))
        .await;
    let head = on_a.until(|f| f["type"] == "stream.delta").await;
    let thread = head[0]["thread"]["id"].as_str().unwrap().to_string();
    let r = b
        .get(
            &format!("/api/joiner/conversations/{thread}/stream"),
            "joiner",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    let done = on_a.until_done(1).await;
    let content = done.last().unwrap()["message"]["content"].as_str().unwrap();
    let mut text = String::new();
    for block in body.split("\n\n") {
        if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) {
            let v: serde_json::Value = serde_json::from_str(data.trim()).unwrap();
            if v["type"] == "stream.delta" {
                text.push_str(v["delta"].as_str().unwrap());
            }
        }
    }
    assert_eq!(text, content, "the whole turn, from its start");
}

async fn stop_sent_after_a_resume_on_the_other_instance_stops_the_turn(broker: Broker) {
    let Some((a, b)) = paced_instances(broker, 20).await else {
        return;
    };
    let mut on_a = WsClient::connect(&a, "halt").await;
    on_a.send(json!({"type": "message", "content": "help"}))
        .await;
    let seen = on_a.until(|f| f["type"] == "stream.delta").await;
    let pos = seen.last().unwrap()["pos"].as_str().unwrap().to_string();
    let thread = seen[0]["thread"]["id"].as_str().unwrap().to_string();
    drop(on_a);
    let mut on_b = WsClient::connect_bare(&b).await;
    on_b.send(json!({"type": "auth", "token": b.token_for("halt"), "resume_after": pos}))
        .await;
    assert_eq!(on_b.next().await["type"], "ready");
    assert_eq!(on_b.next().await["recovered"], true);
    on_b.send(json!({"type": "cancel", "thread_id": thread}))
        .await;
    let rest = on_b.until_done(1).await;
    assert_eq!(rest.last().unwrap()["message"]["status"], "cancelled");
}

async fn a_message_sent_to_one_instance_interrupts_the_turn_running_on_the_other(broker: Broker) {
    let Some((a, b)) = paced_instances(broker, 20).await else {
        return;
    };
    let mut on_a = WsClient::connect(&a, "cut").await;
    on_a.send(json!({"type": "message", "content": "help"}))
        .await;
    let seen = on_a.until(|f| f["type"] == "stream.delta").await;
    let thread = seen[0]["thread"]["id"].as_str().unwrap().to_string();
    let mut on_b = WsClient::connect(&b, "cut").await;
    on_b.send(
        json!({"type": "message", "thread_id": thread, "content": "show my tasks",
                     "on_busy": "interrupt", "request_id": "b1"}),
    )
    .await;
    let frames = on_b.until_done(2).await;
    let done: Vec<&serde_json::Value> = frames
        .iter()
        .filter(|f| f["type"] == "message.done")
        .collect();
    assert_eq!(done[0]["message"]["status"], "interrupted");
    assert_eq!(done[1]["message"]["status"], "completed");
    assert_eq!(done[1]["request_id"], "b1");
}

async fn a_message_queued_on_one_instance_runs_when_the_turn_on_the_other_ends(broker: Broker) {
    let Some((a, b)) = paced_instances(broker, 20).await else {
        return;
    };
    let mut on_a = WsClient::connect(&a, "queue").await;
    on_a.send(json!({"type": "message", "content": "help"}))
        .await;
    let seen = on_a.until(|f| f["type"] == "stream.delta").await;
    let thread = seen[0]["thread"]["id"].as_str().unwrap().to_string();
    let mut on_b = WsClient::connect(&b, "queue").await;
    let started = std::time::Instant::now();
    on_b.send(
        json!({"type": "message", "thread_id": thread, "content": "add buy milk",
                     "on_busy": "enqueue", "request_id": "b1"}),
    )
    .await;
    // Both instances' sockets see it queued, and a load on either lists it.
    let queued = on_b.until(|f| f["type"] == "message.queued").await;
    let id = queued.last().unwrap()["message"]["id"].clone();
    let on_a_queued = on_a.until(|f| f["type"] == "message.queued").await;
    assert_eq!(on_a_queued.last().unwrap()["message"]["id"], id);
    let frames = on_b.until_done(2).await;
    let done: Vec<&serde_json::Value> = frames
        .iter()
        .filter(|f| f["type"] == "message.done")
        .collect();
    assert_eq!(done[0]["message"]["status"], "completed");
    assert_eq!(done[1]["message"]["status"], "completed");
    assert_eq!(done[1]["request_id"], "b1");
    assert!(frames
        .iter()
        .any(|f| f["type"] == "message.added" && f["message"]["id"] == id));
    // Started at the end of the turn before it, not by the sweep seconds later.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let tasks = a.tasks("queue").await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["title"], "buy milk");
}
