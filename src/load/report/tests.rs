//! The summary: exact merges of split runs, ratios to the baseline, JSON round trips, CPU from /proc.

use super::*;

fn part(latencies_ms: &[u64], sent: u64, failed: u64) -> Summary {
    let c = Counters::default();
    for &ms in latencies_ms {
        c.record("first_delta", Duration::from_millis(ms));
    }
    for _ in 0..sent {
        Counters::add(&c.turns_sent);
    }
    for _ in 0..sent - failed {
        Counters::add(&c.turns_completed);
    }
    for _ in 0..failed {
        c.turn_failed("thread_busy");
    }
    c.summary("chat", "http://x", Duration::from_secs(2), true)
}

#[test]
fn cpu_time_is_read_from_proc() {
    let before = cpu_secs(std::process::id()).expect("our own stat");
    let mut x = 0u64;
    for i in 0..50_000_000u64 {
        x = x.wrapping_mul(31).wrapping_add(i);
    }
    std::hint::black_box(x);
    assert!(cpu_secs(std::process::id()).unwrap() > before);
    assert_eq!(cpu_secs(u32::MAX), None);
}

#[test]
fn merged_percentiles_equal_those_of_one_histogram_of_all_samples() {
    let a: Vec<u64> = (1..=50).collect();
    let b: Vec<u64> = (51..=100).collect();
    let merged = merge(&[part(&a, 10, 1), part(&b, 5, 2)]);
    let all: Vec<u64> = (1..=100).collect();
    let single = part(&all, 15, 3);
    let (m, s) = (
        &merged.latency["first_delta"],
        &single.latency["first_delta"],
    );
    assert_eq!(m.count, 100);
    assert_eq!(
        (m.p50_ms, m.p99_ms, m.max_ms),
        (s.p50_ms, s.p99_ms, s.max_ms)
    );
    assert_eq!(
        merged.turns,
        Turns {
            sent: 15,
            completed: 12,
            failed: 3
        }
    );
    assert_eq!(merged.errors["thread_busy"], 3);
    assert_eq!(merged.processes, 2);
    assert!(merged.latency["first_delta"].raw.is_empty());
}

#[test]
fn summaries_survive_json_for_merging() {
    let p = part(&[3, 4, 5], 3, 0);
    let back: Summary = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
    assert_eq!(back, p);
    assert_eq!(merge(&[back]).latency["first_delta"].count, 3);
}

#[test]
fn ratios_skip_what_the_baseline_lacks() {
    let mut ours = part(&[10], 4, 0);
    let mut base = part(&[5], 4, 0);
    ours.deltas = 80;
    base.deltas = 100;
    ours.rates = Rates::of(&ours);
    base.rates = Rates::of(&base);
    let r = ratios(&ours, &base);
    assert!((r["deltas_per_sec"] - 0.8).abs() < 1e-9);
    assert!((r["first_delta_p99"] - 2.0).abs() < 0.01);
    assert!(!r.contains_key("connects_per_sec"));
}
