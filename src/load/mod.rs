//! `agentwire load`: a load tester that speaks our protocol (and, in `chat`, the AI SDK's).
//!
//! Scenarios: `idle` (hold N authenticated sockets), `storm` (connect as fast as possible),
//! `chat` (turns on N sockets at a steady pace), `rest`, `sse` and `chatkit` (turns over HTTP at
//! a fixed concurrency). It mints its own tokens from `JWT_SECRET_KEY`, raises its open-file limit,
//! spreads sockets over local source addresses, splits itself over processes (`--procs`),
//! records latencies in HDR histograms and ends with a [`Summary`] (JSON with `--json`).
//!
//! It is a client like any other: it reaches the server only over the network.

mod args;
mod client;
mod dialect;
mod http;
mod paced;
pub mod report;
mod split;
mod talker;
mod watch;
mod ws;

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

pub use args::{LoadArgs, Scenario};
pub use dialect::Protocol;
pub use report::Summary;
use report::{Counters, ServerCpu, ServerMemory};

/// Runs the scenario (split over processes when `--procs` > 1, then against the baseline when
/// given) and returns its summary. `exe` is the binary a split run starts (this one, normally).
pub async fn run(args: LoadArgs, exe: &std::path::Path) -> Result<Summary, String> {
    let scenario = args.scenario;
    let common = scenario.common().clone();
    if common.secret.is_empty() {
        return Err("JWT_SECRET_KEY: set it (or --secret) to the server's key".into());
    }
    if scenario.size() == 0 {
        return Err("--connections/--concurrency must be at least 1".into());
    }
    if common.procs == 0 {
        return Err("--procs must be at least 1".into());
    }
    if let Scenario::Chat(a) = &scenario {
        if a.protocol == Protocol::AiSdk && a.watch_url.is_some() {
            return Err(
                "--watch-url: the twins speak our protocol only; drop --protocol ai-sdk".into(),
            );
        }
    }
    raise_open_file_limit();
    let mut summary = run_once(&scenario, exe).await?;
    if common.scrape_metrics {
        summary.metrics = scrape(&common.url).await?;
    }
    if let Some(baseline_url) = common.baseline_url.clone().filter(|_| !common.child) {
        if matches!(
            scenario,
            Scenario::Rest(_) | Scenario::Sse(_) | Scenario::Chatkit(_)
        ) {
            return Err("--baseline-url: the baseline server speaks only WebSocket".into());
        }
        let mut against = scenario.clone();
        if let Scenario::Chat(a) = &mut against {
            a.protocol = Protocol::Agentwire;
        }
        let c = against.common_mut();
        c.url = baseline_url;
        c.server_pid = common.baseline_pid;
        let baseline = run_once(&against, exe).await?;
        summary.ratio = report::ratios(&summary, &baseline);
        summary.baseline = Some(Box::new(baseline));
    }
    Ok(summary)
}

/// `agentwire load`: runs and prints the summary (human lines, or JSON with `--json`).
pub async fn main(args: LoadArgs) -> Result<(), String> {
    let json = args.scenario.common().json || args.scenario.common().child;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let summary = run(args, &exe).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string(&summary).expect("summaries serialise")
        );
    } else {
        print!("{}", report::human(&summary));
    }
    Ok(())
}

fn raise_open_file_limit() {
    let limit = client::raise_open_file_limit();
    tracing::debug!(limit, "open-file limit");
}

async fn run_once(scenario: &Scenario, exe: &std::path::Path) -> Result<Summary, String> {
    if scenario.common().procs > 1 && !scenario.common().child {
        return split::run(scenario, exe).await;
    }
    run_here(scenario).await
}

/// Runs the scenario in this process.
async fn run_here(scenario: &Scenario) -> Result<Summary, String> {
    let common = scenario.common();
    let counters = Arc::new(Counters::default());
    let progress = Progress::start(
        counters.clone(),
        common.child || !std::io::stderr().is_terminal(),
    );
    let target = client::Target::new(
        &common.url,
        &common.secret,
        scenario.users(),
        common.user_offset,
        Duration::from_secs(24 * 3600),
        common.source_ips.clone(),
    )
    .await?;
    let target = match scenario {
        Scenario::Chat(a) => target.speaking(a.protocol),
        _ => target,
    };
    let target = Arc::new(target);
    let child = common.child;
    let connected = move || {
        if child {
            // The parent of a split run waits for this line from every process.
            println!("{}", split::CONNECTED);
        }
    };
    let mut server: Option<ServerMemory> = None;
    let mut server_cpu_secs: Option<f64> = None;
    let pid = if child { None } else { common.server_pid };
    let elapsed = match scenario {
        Scenario::Idle(a) => {
            let out = ws::idle(
                target,
                counters.clone(),
                a.connections,
                a.ramp,
                a.duration,
                pid,
                connected,
            )
            .await;
            server = out.server;
            out.connect_phase
        }
        Scenario::Storm(a) => {
            connected();
            ws::storm(target, counters.clone(), a.connections, a.concurrency).await
        }
        Scenario::Chat(a) => {
            let watch = match &a.watch_url {
                None => None,
                Some(url) => Some(Arc::new(
                    client::Target::new(
                        url,
                        &common.secret,
                        scenario.users(),
                        common.user_offset,
                        Duration::from_secs(24 * 3600),
                        common.source_ips.clone(),
                    )
                    .await?,
                )),
            };
            connected();
            let plan = ws::ChatPlan {
                watch,
                shape: ws::Shape {
                    connections: a.connections,
                    ramp: a.ramp,
                    duration: a.duration,
                    server_pid: pid,
                },
                interval: a.interval,
                poisson: a.poisson,
                message: a.message.clone(),
                protocol: a.protocol,
                run: run_nonce(),
            };
            let (window, cpu) = ws::chat(target, counters.clone(), plan).await;
            server_cpu_secs = cpu;
            window
        }
        Scenario::Paced(a) => {
            connected();
            let plan = paced::PacedPlan {
                shape: ws::Shape {
                    connections: a.connections,
                    ramp: a.ramp,
                    duration: a.duration,
                    server_pid: pid,
                },
                pace: a.pace,
                message: a.message.clone(),
            };
            let (window, cpu) = paced::paced(target, counters.clone(), plan).await;
            server_cpu_secs = cpu;
            window
        }
        Scenario::Rest(a) | Scenario::Sse(a) | Scenario::Chatkit(a) => {
            connected();
            let plan = http::HttpPlan {
                mode: match scenario {
                    Scenario::Rest(_) => http::Mode::Rest,
                    Scenario::Sse(_) => http::Mode::Sse,
                    _ => http::Mode::Chatkit,
                },
                base_url: common.url.trim_end_matches('/').to_string(),
                concurrency: a.concurrency,
                duration: a.duration,
                message: a.message.clone(),
                users: target.tokens.clone(),
                sources: common.source_ips.clone(),
            };
            http::run(plan, counters.clone()).await?
        }
    };
    progress.finish();
    let mut summary = counters.summary(scenario.name(), &common.url, elapsed, child);
    summary.server = server;
    summary.server_cpu = pid.zip(server_cpu_secs).map(|(pid, cpu_secs)| ServerCpu {
        pid,
        cpu_secs,
        per_turn_us: cpu_secs * 1e6 / summary.turns.completed.max(1) as f64,
    });
    Ok(summary)
}

/// Distinct for every run of every process: what keeps a run's AI SDK chats its own.
fn run_nonce() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{:x}{:x}", std::process::id(), now.as_micros())
}

/// The live progress line on a terminal's stderr (indicatif); nothing when not a terminal.
struct Progress(Option<(indicatif::ProgressBar, tokio::task::JoinHandle<()>)>);

impl Progress {
    fn start(counters: Arc<Counters>, hidden: bool) -> Self {
        if hidden {
            return Progress(None);
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(200));
        let shown = bar.clone();
        let task = tokio::spawn(async move {
            loop {
                shown.set_message(counters.progress_line());
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
        Progress(Some((bar, task)))
    }

    fn finish(self) {
        if let Some((bar, task)) = self.0 {
            task.abort();
            bar.finish_and_clear();
        }
    }
}

/// The server's `/metrics` as `name{labels} → value`, histogram buckets left out.
async fn scrape(base_url: &str) -> Result<std::collections::BTreeMap<String, f64>, String> {
    let url = format!("{}/metrics", base_url.trim_end_matches('/'));
    let text = reqwest::get(&url)
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| format!("--scrape-metrics: GET {url}: {e}"))?
        .text()
        .await
        .map_err(|e| format!("--scrape-metrics: GET {url}: {e}"))?;
    Ok(parse_metrics(&text))
}

fn parse_metrics(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.contains("_bucket{"))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn metrics_text_becomes_a_map_without_buckets() {
        let text = "# HELP x y\n# TYPE x counter\nagentwire_turns_finished_total{status=\"completed\"} 12\nagentwire_http_request_duration_seconds_bucket{route=\"/a\",le=\"0.1\"} 3\nagentwire_ws_sockets_open 4\n";
        let m = parse_metrics(text);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m["agentwire_turns_finished_total{status=\"completed\"}"],
            12.0
        );
        assert_eq!(m["agentwire_ws_sockets_open"], 4.0);
    }

    #[tokio::test]
    async fn refuses_what_it_cannot_run() {
        let exe = std::path::Path::new("/nonexistent");
        let parse = |args: &[&str]| LoadArgs::try_parse_from(args).unwrap();
        let e = run(parse(&["load", "idle", "--secret", ""]), exe)
            .await
            .unwrap_err();
        assert!(e.starts_with("JWT_SECRET_KEY"), "{e}");
        let e = run(
            parse(&["load", "rest", "--secret", "s", "--concurrency", "0"]),
            exe,
        )
        .await
        .unwrap_err();
        assert!(e.contains("at least 1"), "{e}");
    }
}
