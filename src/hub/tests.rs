//! The hub's tests: fan-out, positions, lag, resume, relay and sweep.

use super::*;
use crate::chat::event::ChatEvent;
use crate::error::ErrorBody;
use crate::model::{MessageId, ThreadId};

fn event(user: &str, code: &str) -> Arc<Event> {
    Arc::new(Event::new(
        UserId::new(user),
        ChatEvent::Error {
            thread_id: None,
            error: ErrorBody {
                code: code.into(),
                message: String::new(),
            },
        },
        None,
    ))
}

fn delta(user: &str, message: MessageId, seq: u32, text: &str) -> Arc<Event> {
    Arc::new(Event::new(
        UserId::new(user),
        ChatEvent::StreamDelta {
            thread_id: ThreadId(Uuid::nil()),
            message_id: message,
            delta: text.into(),
            seq,
        },
        None,
    ))
}

fn hub() -> Hub {
    Hub::new(HubSettings::default())
}

fn texts(d: &[Delivery]) -> Vec<String> {
    d.iter().map(Delivery::to_text).collect()
}

fn code_of(text: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    v["code"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn fans_out_to_every_subscription_of_the_user_only() {
    let hub = hub();
    let mut a1 = hub.subscribe(&UserId::new("a"));
    let mut a2 = hub.subscribe(&UserId::new("a"));
    let mut b = hub.subscribe(&UserId::new("b"));
    assert_eq!(hub.publish(event("a", "x")), 2);
    assert_eq!(code_of(&a1.recv(8).await.unwrap()[0].to_text()), "x");
    assert_eq!(code_of(&a2.recv(8).await.unwrap()[0].to_text()), "x");
    assert!(b.try_recv(8).unwrap().is_none());
}

#[tokio::test]
async fn every_frame_carries_a_position_that_moves_on() {
    let hub = hub();
    let mut a = hub.subscribe(&UserId::new("a"));
    let start = Position::parse(a.position()).unwrap();
    hub.publish(event("a", "one"));
    hub.publish(event("a", "two"));
    let got = a.recv(8).await.unwrap();
    let p1 = Position::parse(got[0].pos()).unwrap();
    let p2 = Position::parse(got[1].pos()).unwrap();
    let own = short_origin(hub.origin());
    assert_eq!(p1.seen(own) + 1, p2.seen(own));
    assert!(p1.seen(own) > start.seen(own));
    let v: serde_json::Value = serde_json::from_str(&got[1].to_text()).unwrap();
    assert_eq!(v["pos"], got[1].pos());
    assert_eq!(v["code"], "two");
}

#[tokio::test]
async fn users_are_counted_while_they_have_sockets() {
    let hub = hub();
    let s1 = hub.subscribe(&UserId::new("a"));
    let s2 = hub.subscribe(&UserId::new("a"));
    assert_eq!(hub.users(), 1);
    drop(s1);
    assert_eq!(hub.subscribers(&UserId::new("a")), 1);
    drop(s2);
    assert_eq!(hub.users(), 0);
    assert_eq!(hub.publish(event("a", "x")), 0);
}

#[tokio::test]
async fn a_slow_reader_gets_adjacent_deltas_merged_and_a_fast_one_each() {
    let hub = hub();
    let user = UserId::new("a");
    let mut slow = hub.subscribe(&user);
    let mut fast = hub.subscribe(&user);
    let m = MessageId::new();
    let mut whole = String::new();
    for i in 0..2000u32 {
        let piece = format!("w{i} ");
        whole.push_str(&piece);
        hub.publish(delta("a", m, i, &piece));
        let got = fast.try_recv(64).unwrap().unwrap();
        assert_eq!(got.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&got[0].to_text()).unwrap();
        assert_eq!(v["seq"], i);
        assert!(v.get("count").is_none());
    }
    hub.publish(event("a", "after"));
    let got = slow.recv(64).await.unwrap();
    assert_eq!(got.len(), 2);
    let v: serde_json::Value = serde_json::from_str(&got[0].to_text()).unwrap();
    assert_eq!(v["seq"], 0);
    assert_eq!(v["count"], 2000);
    assert_eq!(v["delta"], whole.as_str());
    assert_eq!(code_of(&got[1].to_text()), "after");
}

#[tokio::test]
async fn a_reader_too_far_behind_is_lagged_and_others_go_on() {
    let hub = Hub::new(HubSettings {
        max_behind: 2,
        ..HubSettings::default()
    });
    let mut slow = hub.subscribe(&UserId::new("a"));
    let mut fast = hub.subscribe(&UserId::new("a"));
    for i in 0..5 {
        hub.publish(event("a", &i.to_string()));
        assert!(fast.recv(8).await.is_ok());
    }
    assert_eq!(slow.recv(8).await.unwrap_err(), Lagged);
    hub.publish(event("a", "after"));
    assert!(fast.recv(8).await.is_ok());
}

#[tokio::test]
async fn resume_replays_exactly_what_was_missed() {
    let hub = hub();
    let user = UserId::new("a");
    let mut first = hub.subscribe(&user);
    let m = MessageId::new();
    hub.publish(event("a", "one"));
    hub.publish(delta("a", m, 0, "he"));
    let seen = first.recv(8).await.unwrap();
    let last = Position::parse(seen.last().unwrap().pos()).unwrap();
    drop(first);
    hub.publish(delta("a", m, 1, "llo"));
    hub.publish(delta("a", m, 2, "!"));
    hub.publish(event("a", "two"));

    let mut again = hub.subscribe(&user);
    let r = again.resume(&last).await;
    assert!(r.recovered);
    let t = texts(&r.events);
    assert_eq!(t.len(), 2);
    let v: serde_json::Value = serde_json::from_str(&t[0]).unwrap();
    assert_eq!((v["seq"].as_u64(), v["count"].as_u64()), (Some(1), Some(2)));
    assert_eq!(v["delta"], "llo!");
    assert_eq!(code_of(&t[1]), "two");
    // Then live, with nothing twice.
    hub.publish(event("a", "three"));
    let live = again.recv(8).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(code_of(&live[0].to_text()), "three");
}

#[tokio::test]
async fn a_resume_after_live_events_went_out_never_replays_out_of_order() {
    let hub = hub();
    let user = UserId::new("a");
    let mut first = hub.subscribe(&user);
    hub.publish(event("a", "one"));
    let p = Position::parse(first.recv(8).await.unwrap()[0].pos()).unwrap();
    drop(first);
    hub.publish(event("a", "missed"));
    let mut again = hub.subscribe(&user);
    hub.publish(event("a", "live"));
    assert_eq!(again.recv(8).await.unwrap().len(), 1);
    // "missed" would now come after "live": not recovered, nothing replayed.
    let r = again.resume(&p).await;
    assert!(!r.recovered && r.events.is_empty());
    // A client that had everything before this socket began is recovered with nothing to add.
    let p = Position::parse(again.position()).unwrap();
    let r = again.resume(&p).await;
    assert!(r.recovered && r.events.is_empty());
    hub.publish(event("a", "next"));
    assert_eq!(code_of(&again.recv(8).await.unwrap()[0].to_text()), "next");
}

#[tokio::test]
async fn positions_this_instance_cannot_vouch_for_are_not_recovered() {
    let hub = hub();
    let user = UserId::new("a");
    hub.publish(event("a", "one"));
    let mut sub = hub.subscribe(&user);
    let now = now_ms();
    // Made by an instance that is gone (a restart), or too long ago.
    for p in [
        Position {
            t_ms: now,
            via: 42,
            seen: vec![(42, 7)],
        },
        Position {
            t_ms: now - 3_600_000,
            via: short_origin(hub.origin()),
            seen: vec![],
        },
        Position {
            t_ms: now + 3_600_000,
            via: 42,
            seen: vec![],
        },
    ] {
        let r = sub.resume(&p).await;
        assert!(!r.recovered, "{p}");
        assert!(r.events.is_empty());
    }
    // The subscription still reads live events.
    hub.publish(event("a", "two"));
    assert_eq!(code_of(&sub.recv(8).await.unwrap()[0].to_text()), "two");
}

#[tokio::test]
async fn a_position_whose_events_were_dropped_is_not_recovered() {
    let hub = Hub::new(HubSettings {
        max_events_per_user: 3,
        ..HubSettings::default()
    });
    let user = UserId::new("a");
    let mut sub = hub.subscribe(&user);
    hub.publish(event("a", "0"));
    let p = Position::parse(sub.recv(8).await.unwrap()[0].pos()).unwrap();
    for i in 1..4 {
        hub.publish(event("a", &i.to_string()));
    }
    assert!(sub.resume(&p).await.recovered);
    hub.publish(event("a", "4"));
    assert!(!sub.resume(&p).await.recovered);
}

#[tokio::test]
async fn events_of_other_instances_resume_by_their_own_numbers() {
    let here = hub();
    let user = UserId::new("a");
    let there = Uuid::new_v4();
    let mut sub = here.subscribe(&user);
    here.deliver(event("a", "r1"), there, 10);
    here.publish(event("a", "l1"));
    here.deliver(event("a", "r2"), there, 15);
    let got = sub.recv(8).await.unwrap();
    let after_first = Position::parse(got[0].pos()).unwrap();
    assert_eq!(after_first.seen(short_origin(there)), 10);
    let mut fresh = here.subscribe(&user);
    let r = fresh.resume(&after_first).await;
    assert!(r.recovered);
    let codes: Vec<_> = texts(&r.events).iter().map(|t| code_of(t)).collect();
    assert_eq!(codes, ["l1", "r2"]);
    // Lost relayed events: earlier positions are no longer vouched for.
    here.lag_all();
    assert_eq!(sub.try_recv(8).unwrap_err(), Lagged);
    let mut again = here.subscribe(&user);
    assert!(!again.resume(&after_first).await.recovered);
}

#[tokio::test]
async fn follow_turn_replays_the_running_turn_then_goes_live() {
    use crate::model::{Message, MessageStatus, Role};
    let hub = hub();
    let user = UserId::new("a");
    let thread = ThreadId(Uuid::nil());
    let m = MessageId::new();
    let added = |role| {
        Arc::new(Event::new(
            user.clone(),
            ChatEvent::MessageAdded {
                thread_id: thread,
                message: Message {
                    id: MessageId::new(),
                    conversation_id: thread,
                    seq: 1,
                    role,
                    content: "hi".into(),
                    tool_calls: vec![],
                    status: MessageStatus::Completed,
                    usage: None,
                    created_at: chrono::Utc::now(),
                    next_seq: None,
                },
            },
            None,
        ))
    };
    assert!(hub.follow_turn(&user, thread).is_none());
    hub.publish(added(Role::User));
    hub.publish(added(Role::Assistant));
    hub.publish(delta("a", m, 0, "a"));
    hub.publish(delta("a", m, 1, "b"));
    let (turn, mut sub) = hub.follow_turn(&user, thread).unwrap();
    let events: Vec<_> = turn
        .into_iter()
        .flat_map(|d| d.into_events(&user))
        .collect();
    assert_eq!(events.len(), 4);
    assert_eq!(events[3].body.kind(), "stream.delta");
    hub.publish(delta("a", m, 2, "c"));
    let live = sub.recv(8).await.unwrap();
    assert_eq!(live[0].clone().into_events(&user).len(), 1);
}

#[tokio::test]
async fn published_events_also_go_to_the_relay_with_their_numbers() {
    let hub = hub();
    let (tx, mut rx) = mpsc::channel(1);
    let dropped = Arc::new(AtomicU64::new(0));
    assert!(hub.relay_to(tx, dropped.clone()));
    let mut a = hub.subscribe(&UserId::new("a"));
    assert_eq!(hub.publish(event("a", "one")), 1);
    // The relay queue is full: the next event is counted, and still delivered here.
    assert_eq!(hub.publish(event("a", "two")), 1);
    assert_eq!(dropped.load(Ordering::Relaxed), 1);
    assert_eq!(hub.deliver(event("a", "three"), Uuid::new_v4(), 1), 1);
    let (relayed, n) = rx.recv().await.unwrap();
    assert!(relayed.to_json().contains("one"));
    assert_eq!(n, 1);
    assert!(rx.try_recv().is_err(), "nothing else reached the relay");
    let got = a.recv(8).await.unwrap();
    let codes: Vec<_> = texts(&got).iter().map(|t| code_of(t)).collect();
    assert_eq!(codes, ["one", "two", "three"]);
}

#[tokio::test]
async fn the_sweep_drops_old_events_and_idle_users_and_bounds_the_total() {
    let hub = Hub::new(HubSettings {
        window: Duration::from_millis(0),
        ..HubSettings::default()
    });
    hub.publish(event("a", "x"));
    assert!(hub.kept_bytes() > 0);
    tokio::time::sleep(Duration::from_millis(5)).await;
    hub.sweep();
    assert_eq!(hub.kept_bytes(), 0);
    assert_eq!(hub.inner.users.len(), 0);

    let hub = Hub::new(HubSettings {
        max_bytes: 4096,
        ..HubSettings::default()
    });
    for i in 0..200 {
        hub.publish(event(&format!("u{i}"), "some error code"));
    }
    assert!(hub.kept_bytes() > 4096);
    tokio::time::sleep(Duration::from_millis(5)).await;
    hub.sweep();
    assert!(hub.kept_bytes() <= 4096, "{}", hub.kept_bytes());
}
