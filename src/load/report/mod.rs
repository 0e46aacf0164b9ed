//! What a load run measured: live counters while it runs, and the [`Summary`] it ends with.
//!
//! Latencies go into HDR histograms (microseconds, 3 significant digits), never averages alone.
//! A summary can carry its histograms' raw counts, so the summaries of several load processes
//! merge into one with exact percentiles.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency recorded: one hour, in microseconds (longer values saturate).
const MAX_MICROS: u64 = 3_600_000_000;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid bounds")
}

/// Counters every scenario updates from many tasks at once.
#[derive(Default)]
pub struct Counters {
    pub connects_ok: AtomicU64,
    pub connects_failed: AtomicU64,
    pub turns_sent: AtomicU64,
    pub turns_completed: AtomicU64,
    pub turns_failed: AtomicU64,
    pub deltas: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    latencies: Mutex<BTreeMap<&'static str, Histogram<u64>>>,
}

impl Counters {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add_n(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one error by its code (`close_4401`, `thread_busy`, `http_503`, `timeout` …).
    pub fn error(&self, code: &str) {
        let mut errors = self.errors.lock().expect("not poisoned");
        *errors.entry(code.to_string()).or_default() += 1;
    }

    /// A failed connect, counted with its error code.
    pub fn connect_failed(&self, code: &str) {
        Self::add(&self.connects_failed);
        self.error(code);
    }

    /// A turn that ended in an error, counted with its code.
    pub fn turn_failed(&self, code: &str) {
        Self::add(&self.turns_failed);
        self.error(code);
    }

    /// Records one latency sample under `name` (`connect`, `first_delta` …).
    pub fn record(&self, name: &'static str, latency: Duration) {
        let micros = (latency.as_micros() as u64).max(1);
        let mut all = self.latencies.lock().expect("not poisoned");
        all.entry(name)
            .or_insert_with(histogram)
            .saturating_record(micros);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// The one-line progress text.
    pub fn progress_line(&self) -> String {
        format!(
            "sockets {} (failed {})  turns {} sent, {} done, {} failed  deltas {}",
            Self::get(&self.connects_ok),
            Self::get(&self.connects_failed),
            Self::get(&self.turns_sent),
            Self::get(&self.turns_completed),
            Self::get(&self.turns_failed),
            Self::get(&self.deltas),
        )
    }

    /// The summary of a run that took `elapsed` (the window rates are computed over).
    pub fn summary(&self, scenario: &str, target: &str, elapsed: Duration, raw: bool) -> Summary {
        let latency = self
            .latencies
            .lock()
            .expect("not poisoned")
            .iter()
            .map(|(name, h)| (name.to_string(), Latency::of(h, raw)))
            .collect();
        let mut s = Summary {
            scenario: scenario.to_string(),
            target: target.to_string(),
            processes: 1,
            elapsed_secs: elapsed.as_secs_f64(),
            connects: Connects {
                ok: Self::get(&self.connects_ok),
                failed: Self::get(&self.connects_failed),
            },
            turns: Turns {
                sent: Self::get(&self.turns_sent),
                completed: Self::get(&self.turns_completed),
                failed: Self::get(&self.turns_failed),
            },
            deltas: Self::get(&self.deltas),
            rates: Rates::default(),
            latency,
            errors: self.errors.lock().expect("not poisoned").clone(),
            server: None,
            server_cpu: None,
            baseline: None,
            ratio: BTreeMap::new(),
            metrics: BTreeMap::new(),
        };
        s.rates = Rates::of(&s);
        s
    }
}

/// The result of one load run, as printed with `--json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub scenario: String,
    /// The server's base URL.
    pub target: String,
    /// Load processes the run was split over.
    pub processes: u32,
    /// The measured window: connect phase plus holding time (idle, storm) or sending time.
    pub elapsed_secs: f64,
    pub connects: Connects,
    pub turns: Turns,
    /// `stream.delta` events received.
    pub deltas: u64,
    pub rates: Rates,
    /// Latency distributions by name, in milliseconds: `connect` (TCP + upgrade + `ready`),
    /// `message_added`, `first_delta` and `done` (from sending the turn), `response` (REST).
    pub latency: BTreeMap<String, Latency>,
    /// Every error, by code.
    pub errors: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server: Option<ServerMemory>,
    /// The server's CPU while turns ran (`--server-pid`, chat and paced).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server_cpu: Option<ServerCpu>,
    /// The same scenario against the baseline server, run right after.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub baseline: Option<Box<Summary>>,
    /// Ours divided by the baseline's, for every rate and p99 both runs have.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub ratio: BTreeMap<String, f64>,
    /// Counters scraped from the server's `/metrics` after the run (`--scrape-metrics`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub metrics: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Connects {
    pub ok: u64,
    pub failed: u64,
}

/// Every turn sent ends as completed or failed: `sent == completed + failed`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Turns {
    pub sent: u64,
    pub completed: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Rates {
    pub connects_per_sec: f64,
    pub turns_per_sec: f64,
    pub deltas_per_sec: f64,
}

impl Rates {
    fn of(s: &Summary) -> Self {
        let secs = s.elapsed_secs.max(1e-9);
        Rates {
            connects_per_sec: s.connects.ok as f64 / secs,
            turns_per_sec: s.turns.completed as f64 / secs,
            deltas_per_sec: s.deltas as f64 / secs,
        }
    }
}

/// The server's resident memory around the connect phase (`--server-pid`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct ServerMemory {
    pub pid: u32,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    /// Growth divided by the sockets open when `after` was read.
    pub growth_per_socket_kib: f64,
}

/// The server's CPU time (user + system, every thread) from the moment every socket was open
/// and told to start until the last turn ended (`--server-pid`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct ServerCpu {
    pub pid: u32,
    pub cpu_secs: f64,
    /// Of that, per completed turn, in microseconds.
    pub per_turn_us: f64,
}

/// CPU seconds process `pid` has used so far (user + system), from `/proc`.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces): state is the 3rd; utime the 14th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf with a valid name.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks as f64 / hz as f64)
}

/// One latency distribution, in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
    /// `[microseconds, count]` pairs, kept only by load processes so the parent can merge them.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub raw: Vec<(u64, u64)>,
}

impl Latency {
    fn of(h: &Histogram<u64>, raw: bool) -> Self {
        let ms = |v: u64| v as f64 / 1000.0;
        Latency {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.5)),
            p90_ms: ms(h.value_at_quantile(0.9)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
            raw: if raw {
                h.iter_recorded()
                    .map(|v| (v.value_iterated_to(), v.count_at_value()))
                    .collect()
            } else {
                Vec::new()
            },
        }
    }
}

/// Merges the summaries of the processes one run was split over. Counts and errors add up,
/// histograms merge exactly from their raw counts, and rates use the longest elapsed time.
pub fn merge(parts: &[Summary]) -> Summary {
    let first = parts.first().cloned().unwrap_or_else(|| empty("none", ""));
    let mut histograms: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    let mut out = empty(&first.scenario, &first.target);
    out.processes = parts.len() as u32;
    for p in parts {
        out.elapsed_secs = out.elapsed_secs.max(p.elapsed_secs);
        out.connects.ok += p.connects.ok;
        out.connects.failed += p.connects.failed;
        out.turns.sent += p.turns.sent;
        out.turns.completed += p.turns.completed;
        out.turns.failed += p.turns.failed;
        out.deltas += p.deltas;
        for (code, n) in &p.errors {
            *out.errors.entry(code.clone()).or_default() += n;
        }
        for (name, l) in &p.latency {
            let h = histograms.entry(name.clone()).or_insert_with(histogram);
            for &(value, count) in &l.raw {
                h.saturating_record_n(value, count);
            }
        }
    }
    out.latency = histograms
        .iter()
        .map(|(name, h)| (name.clone(), Latency::of(h, false)))
        .collect();
    out.rates = Rates::of(&out);
    out
}

fn empty(scenario: &str, target: &str) -> Summary {
    Counters::default().summary(scenario, target, Duration::ZERO, false)
}

/// Ours over the baseline's: every rate, and the p99 of every latency both runs recorded.
pub fn ratios(ours: &Summary, baseline: &Summary) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut put = |name: String, a: f64, b: f64| {
        if b > 0.0 && a > 0.0 {
            out.insert(name, a / b);
        }
    };
    put(
        "connects_per_sec".into(),
        ours.rates.connects_per_sec,
        baseline.rates.connects_per_sec,
    );
    put(
        "turns_per_sec".into(),
        ours.rates.turns_per_sec,
        baseline.rates.turns_per_sec,
    );
    put(
        "deltas_per_sec".into(),
        ours.rates.deltas_per_sec,
        baseline.rates.deltas_per_sec,
    );
    if let (Some(a), Some(b)) = (ours.server_cpu, baseline.server_cpu) {
        put("cpu_per_turn".into(), a.per_turn_us, b.per_turn_us);
    }
    for (name, l) in &ours.latency {
        if let Some(b) = baseline.latency.get(name) {
            put(format!("{name}_p99"), l.p99_ms, b.p99_ms);
        }
    }
    out
}

/// The summary for people: a few aligned lines.
pub fn human(s: &Summary) -> String {
    let mut out = format!(
        "{} against {} ({} process{}, {:.1} s)\n  connects  {} ok, {} failed  ({:.0}/s)\n  turns     {} sent, {} completed, {} failed  ({:.1}/s)\n  deltas    {}  ({:.0}/s)\n",
        s.scenario,
        s.target,
        s.processes,
        if s.processes == 1 { "" } else { "es" },
        s.elapsed_secs,
        s.connects.ok,
        s.connects.failed,
        s.rates.connects_per_sec,
        s.turns.sent,
        s.turns.completed,
        s.turns.failed,
        s.rates.turns_per_sec,
        s.deltas,
        s.rates.deltas_per_sec,
    );
    for (name, l) in &s.latency {
        out += &format!(
            "  {name:<14} n={} p50={:.2}ms p90={:.2}ms p99={:.2}ms p99.9={:.2}ms max={:.2}ms\n",
            l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
        );
    }
    if let Some(m) = &s.server {
        out += &format!(
            "  server rss {} KiB -> {} KiB: {:.2} KiB per socket\n",
            m.rss_before_kib, m.rss_after_kib, m.growth_per_socket_kib
        );
    }
    if let Some(c) = &s.server_cpu {
        out += &format!(
            "  server cpu {:.2} s: {:.0} µs per turn\n",
            c.cpu_secs, c.per_turn_us
        );
    }
    for (code, n) in &s.errors {
        out += &format!("  error {code}: {n}\n");
    }
    for (name, r) in &s.ratio {
        out += &format!("  ratio to baseline {name}: {r:.3}\n");
    }
    for (name, v) in &s.metrics {
        out += &format!("  metric {name} = {v}\n");
    }
    out
}

#[cfg(test)]
mod tests;
