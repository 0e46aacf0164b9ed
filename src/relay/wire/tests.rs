//! The relay's wire format: packing runs of events under a size, reading them back, and gaps.

use super::*;
use crate::chat::event::ChatEvent;
use crate::model::{MessageId, ThreadId};

fn delta(user: &str, text: &str) -> Event {
    Event::new(
        UserId::new(user),
        ChatEvent::StreamDelta {
            thread_id: ThreadId(Uuid::nil()),
            message_id: MessageId(Uuid::nil()),
            delta: text.into(),
            seq: 0,
        },
        Some("r\"1".into()),
    )
}

/// The payloads `origin` sends for events numbered from `first`.
fn packed(origin: Uuid, first: u64, events: &[Event]) -> Vec<Notice> {
    let mut packer = Packer::new(origin, NOTIFY);
    for (i, e) in events.iter().enumerate() {
        packer.push(first + i as u64, e, 1000 + i as u64);
    }
    packer.finish()
}

fn inline(notice: &Notice) -> &[u8] {
    match notice {
        Notice::Inline { payload, .. } => payload.as_bytes(),
        other => panic!("expected an inline notice, got {other:?}"),
    }
}

#[test]
fn consecutive_events_share_a_notification_and_keep_their_bytes() {
    let origin = Uuid::new_v4();
    let events = [
        delta("u\"ser\\é", "a \"quoted\" delta\n"),
        delta("v", "two"),
        delta("v", "three"),
    ];
    let notices = packed(origin, 7, &events);
    assert_eq!(notices.len(), 1);
    let env: Envelope = serde_json::from_slice(inline(&notices[0])).unwrap();
    assert_eq!((env.o, env.s, env.r), (origin, 7, None));
    assert_eq!(env.b.len(), 3);
    for (i, ((user, wire, n), sent)) in env.b.iter().zip(&events).enumerate() {
        assert_eq!(user, &sent.user);
        assert_eq!(*n, 1000 + i as u64);
        assert_eq!(wire.get(), sent.to_json());
        let back = Event::from_wire(user.clone(), wire.get().to_string()).unwrap();
        assert_eq!(&back, sent);
    }
}

#[test]
fn payloads_stay_under_the_limit_runs_stay_whole_and_large_events_are_stored() {
    let origin = Uuid::new_v4();
    let mut packer = Packer::new(origin, NOTIFY);
    // 100 deltas of about 200 bytes each: several payloads, each a run.
    let small = delta("u", &"w".repeat(60));
    for seq in 1..=100 {
        packer.push(seq, &small, seq);
    }
    // A dropped event (101) breaks the run; then one event too large for any payload.
    packer.push(102, &small, 102);
    let large = delta("u", &"x".repeat(9_000));
    packer.push(103, &large, 103);
    packer.push(104, &small, 104);
    let notices = packer.finish();

    let mut next = 1;
    let mut events = 0;
    for notice in &notices {
        match notice {
            Notice::Inline { payload, events: n } => {
                assert!(payload.len() < NOTIFY_MAX, "{}", payload.len());
                let env: Envelope = serde_json::from_str(payload).unwrap();
                assert_eq!(env.b.len() as u64, *n);
                if next == 101 {
                    next = 102;
                }
                assert_eq!(env.s, next);
                next += n;
                events += n;
            }
            Notice::Stored {
                head,
                payload,
                events: n,
            } => {
                assert_eq!(*n, 1);
                assert_eq!(head, &format!(r#"{{"o":"{origin}","s":103,"r":"#));
                let env: Envelope = serde_json::from_str(payload).unwrap();
                assert_eq!(env.s, 103);
                assert_eq!(env.b[0].1.get(), large.to_json());
                next = 104;
                events += n;
            }
        }
    }
    assert_eq!(events, 103);
    assert_eq!(next, 105);
    assert!(notices.len() >= 5, "{} notices", notices.len());
}

#[test]
fn with_a_larger_limit_runs_pack_to_the_batch_and_only_events_past_the_maximum_are_stored() {
    let origin = Uuid::new_v4();
    let limits = Limits {
        batch: 2_000,
        max: 20_000,
    };
    let mut packer = Packer::new(origin, limits);
    let small = delta("u", &"w".repeat(60));
    for seq in 1..=30 {
        packer.push(seq, &small, seq);
    }
    let between = delta("u", &"x".repeat(9_000));
    packer.push(31, &between, 31);
    let past = delta("u", &"y".repeat(30_000));
    packer.push(32, &past, 32);
    let notices = packer.finish();
    let sizes: Vec<(usize, u64, bool)> = notices
        .iter()
        .map(|n| match n {
            Notice::Inline { payload, events } => (payload.len(), *events, false),
            Notice::Stored {
                payload, events, ..
            } => (payload.len(), *events, true),
        })
        .collect();
    let (last, runs) = sizes.split_last().unwrap();
    let (single, runs) = runs.split_last().unwrap();
    assert!(runs.len() >= 3, "{sizes:?}");
    assert!(runs.iter().all(|(len, _, stored)| *len <= 2_000 && !stored));
    assert_eq!(runs.iter().map(|r| r.1).sum::<u64>(), 30);
    // Past the batch size but under the maximum: alone, and inline.
    assert!(single.0 > 9_000 && single.1 == 1 && !single.2, "{single:?}");
    assert!(last.0 > 30_000 && last.1 == 1 && last.2, "{last:?}");
}

/// A handle that never connects: the paths tested here do not reach the database.
fn no_db() -> RelayDb {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .connect_lazy("postgres://nobody@127.0.0.1:1/none")
        .unwrap();
    RelayDb::new(pool)
}

#[tokio::test]
async fn runs_are_taken_in_order_per_instance_and_a_jump_is_a_gap() {
    let db = no_db();
    let (me, other, third) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let mut order = Order::new(me);
    let ev = delta("u", "x");
    let mut take = async |o, s, n: usize| {
        let notices = packed(o, s, &vec![ev.clone(); n]);
        order.accept(&db, inline(&notices[0])).await
    };
    // Our own events are not delivered twice.
    assert!(matches!(take(me, 1, 1).await, Relayed::Skip));
    // The first run heard from an instance starts its count, whatever its number.
    assert!(
        matches!(take(other, 41, 3).await, Relayed::Events(o, e) if o == other && e.len() == 3 && *e[0].0 == ev && e[0].1 == 1000)
    );
    assert!(matches!(take(other, 44, 1).await, Relayed::Events(..)));
    assert!(matches!(take(third, 1, 2).await, Relayed::Events(..)));
    // 45 was lost.
    assert!(matches!(take(other, 46, 1).await, Relayed::Gap));
    assert!(matches!(take(third, 3, 1).await, Relayed::Events(..)));
    // A repeat is out of order too.
    assert!(matches!(take(third, 3, 1).await, Relayed::Gap));
}

#[tokio::test]
async fn unreadable_notifications_and_unknown_events_are_skipped() {
    let db = no_db();
    let (me, other) = (Uuid::new_v4(), Uuid::new_v4());
    let mut order = Order::new(me);
    for payload in [
        "not json".to_string(),
        format!(r#"{{"o":"{other}","s":1}}"#),
        format!(r#"{{"o":"{other}","s":1,"b":[["u",{{"type":"from.the.future"}},1]]}}"#),
    ] {
        match order.accept(&db, payload.as_bytes()).await {
            Relayed::Skip => {}
            Relayed::Events(_, e) => assert!(e.is_empty(), "{payload}"),
            Relayed::Gap => panic!("{payload} is not a gap"),
        }
    }
    // The unknown event still counted: the next in order is delivered.
    let notices = packed(other, 2, &[delta("u", "y")]);
    assert!(matches!(
        order.accept(&db, inline(&notices[0])).await,
        Relayed::Events(_, e) if e.len() == 1
    ));
}
