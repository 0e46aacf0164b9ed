//! Micro-benchmarks of the hot paths: JWT verification (every socket and request), event
//! serialisation (every event, once), the offline agent's parse (every offline turn) and the
//! hub's publish (every event, to every socket of the user).
//!
//! `cargo bench --bench hot_paths`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agentwire::agent::offline::intent;
use agentwire::auth::Jwt;
use agentwire::chat::event::{ChatEvent, Event};
use agentwire::hub::{Hub, HubSettings};
use agentwire::model::{MessageId, ThreadId, UserId};
use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};

fn delta_event() -> Event {
    Event::new(
        UserId::new("bench-user"),
        ChatEvent::StreamDelta {
            thread_id: ThreadId(uuid::Uuid::new_v4()),
            message_id: MessageId(uuid::Uuid::new_v4()),
            delta: "token ".into(),
            seq: 17,
        },
        Some("m1".into()),
    )
}

fn jwt(c: &mut Criterion) {
    let jwt = Jwt::new("bench-secret-bench-secret-bench-secret");
    let token = jwt.mint(&UserId::new("bench-user"), Duration::from_secs(3600));
    c.bench_function("jwt_verify", |b| {
        b.iter(|| jwt.verify(black_box(&token)).unwrap())
    });
}

fn serialise(c: &mut Criterion) {
    // A fresh event each time: `to_json` caches its text, and the first call is what costs.
    c.bench_function("event_to_json_stream_delta", |b| {
        b.iter_batched(
            delta_event,
            |e| black_box(e.to_json().len()),
            BatchSize::SmallInput,
        )
    });
}

fn parse(c: &mut Criterion) {
    let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let mut group = c.benchmark_group("intent_parse");
    for (name, text) in [
        (
            "english_add",
            "add a task to buy milk tomorrow with high priority",
        ),
        ("roman_urdu_delete", "Mera meeting wala task delete kar do"),
        ("greeting", "hello"),
    ] {
        group.bench_with_input(BenchmarkId::from_parameter(name), text, |b, text| {
            b.iter(|| black_box(intent::parse(black_box(text), today)))
        });
    }
    group.finish();
}

fn publish(c: &mut Criterion) {
    let mut group = c.benchmark_group("hub_publish");
    for subscribers in [1usize, 10, 1000] {
        let hub = Hub::new(HubSettings::default());
        let user = UserId::new("bench-user");
        let mut subs: Vec<_> = (0..subscribers).map(|_| hub.subscribe(&user)).collect();
        let event = Arc::new(delta_event());
        group.bench_with_input(
            BenchmarkId::from_parameter(subscribers),
            &subscribers,
            |b, _| {
                // Publish in rounds that fit the queues, draining them outside the timing.
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let round = left.min(512);
                        let start = Instant::now();
                        for _ in 0..round {
                            black_box(hub.publish(event.clone()));
                        }
                        spent += start.elapsed();
                        for s in subs.iter_mut() {
                            while let Ok(Some(_)) = s.try_recv(1024) {}
                        }
                        left -= round;
                    }
                    spent
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, jwt, serialise, parse, publish);
criterion_main!(benches);
