//! A run split over several processes: each gets a share of the sockets (or workers), of the
//! users and of the source addresses, runs as `--child`, and prints one `connected` line and then
//! its summary as JSON with raw histograms; the parent merges them (and, for `idle`, reads the
//! server's RSS once every process is connected).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use super::client::rss_kib;
use super::report::{self, ServerMemory, Summary};
use super::Scenario;

/// The line a child prints once its sockets are open.
pub const CONNECTED: &str = "{\"phase\":\"connected\"}";

enum Report {
    Connected,
    Done(usize, Box<Result<Summary, String>>),
}

/// Runs `scenario` as `scenario.common().procs` children of `exe` and merges their summaries.
pub async fn run(scenario: &Scenario, exe: &Path) -> Result<Summary, String> {
    let common = scenario.common();
    let procs = common.procs.min(scenario.size());
    let before = common.server_pid.and_then(rss_kib);
    let (tx, rx) = mpsc::channel::<Report>();
    let mut children = Vec::new();
    let mut offset = common.user_offset;
    for (i, share) in shares(scenario.size(), procs).into_iter().enumerate() {
        let users = match common.users {
            0 => 0,
            u => (u * share).div_ceil(scenario.size()).max(1),
        };
        let args = argv(scenario, i, procs, share, users, offset);
        offset += if users == 0 { share } else { users };
        let mut child = Command::new(exe)
            .args(&args)
            .env("JWT_SECRET_KEY", &common.secret)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("--procs: cannot start {}: {e}", exe.display()))?;
        let stdout = child.stdout.take().expect("piped");
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut last = None;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line == CONNECTED {
                    let _ = tx.send(Report::Connected);
                } else {
                    last = Some(line);
                }
            }
            let summary = last
                .ok_or_else(|| format!("load process {i} printed no summary"))
                .and_then(|l| {
                    serde_json::from_str::<Summary>(&l)
                        .map_err(|e| format!("load process {i}: bad summary: {e}"))
                });
            let _ = tx.send(Report::Done(i, Box::new(summary)));
        });
        children.push(child);
    }
    drop(tx);

    let pid = common.server_pid;
    let outcome = tokio::task::spawn_blocking(move || {
        let mut connected = 0;
        let mut after = None;
        let mut parts = Vec::new();
        for report in rx {
            match report {
                Report::Connected => {
                    connected += 1;
                    if connected == procs {
                        // Every process has settled its own sockets already; read the server.
                        after = pid.and_then(rss_kib);
                    }
                }
                Report::Done(i, summary) => parts.push((i, *summary)),
            }
        }
        (after, parts)
    })
    .await
    .map_err(|e| format!("--procs: {e}"))?;
    for mut child in children {
        let _ = child.wait();
    }
    let (after, mut parts) = outcome;
    parts.sort_by_key(|(i, _)| *i);
    let parts = parts
        .into_iter()
        .map(|(_, s)| s)
        .collect::<Result<Vec<_>, _>>()?;
    if parts.len() != procs {
        return Err(format!(
            "--procs: {} of {procs} processes reported",
            parts.len()
        ));
    }
    let mut merged = report::merge(&parts);
    if let (Some(pid), Some(before), Some(after)) = (pid, before, after) {
        merged.server = Some(ServerMemory {
            pid,
            rss_before_kib: before,
            rss_after_kib: after,
            growth_per_socket_kib: after.saturating_sub(before) as f64
                / merged.connects.ok.max(1) as f64,
        });
    }
    Ok(merged)
}

/// `total` split into `procs` near-equal shares.
fn shares(total: usize, procs: usize) -> Vec<usize> {
    (0..procs)
        .map(|i| total / procs + usize::from(i < total % procs))
        .collect()
}

/// The command line of child `i`: the same scenario with its share and its users.
fn argv(
    scenario: &Scenario,
    i: usize,
    procs: usize,
    share: usize,
    users: usize,
    offset: usize,
) -> Vec<String> {
    let c = scenario.common();
    let mut a: Vec<String> = vec!["load".into(), scenario.name().into()];
    let mut push = |k: &str, v: String| {
        a.push(format!("--{k}"));
        a.push(v);
    };
    match scenario {
        Scenario::Idle(s) => {
            push("connections", share.to_string());
            push("ramp", (s.ramp as usize).div_ceil(procs).to_string());
            push(
                "duration",
                humantime::format_duration(s.duration).to_string(),
            );
        }
        Scenario::Storm(s) => {
            push("connections", share.to_string());
            push("concurrency", s.concurrency.div_ceil(procs).to_string());
        }
        Scenario::Chat(s) => {
            push("connections", share.to_string());
            push("ramp", (s.ramp as usize).div_ceil(procs).to_string());
            push(
                "interval",
                humantime::format_duration(s.interval).to_string(),
            );
            push(
                "duration",
                humantime::format_duration(s.duration).to_string(),
            );
            push("message", s.message.clone());
            if let Some(url) = &s.watch_url {
                push("watch-url", url.clone());
            }
            if s.poisson {
                a.push("--poisson".into());
            }
        }
        Scenario::Paced(s) => {
            push("connections", share.to_string());
            push("ramp", (s.ramp as usize).div_ceil(procs).to_string());
            push("pace", humantime::format_duration(s.pace).to_string());
            push(
                "duration",
                humantime::format_duration(s.duration).to_string(),
            );
            push("message", s.message.clone());
        }
        Scenario::Rest(s) | Scenario::Sse(s) | Scenario::Chatkit(s) => {
            push("concurrency", share.to_string());
            push(
                "duration",
                humantime::format_duration(s.duration).to_string(),
            );
            push("message", s.message.clone());
        }
    }
    let mut push = |k: &str, v: String| {
        a.push(format!("--{k}"));
        a.push(v);
    };
    push("url", c.url.clone());
    push("users", users.to_string());
    push("user-offset", offset.to_string());
    let sources: Vec<String> = if c.source_ips.len() >= procs {
        c.source_ips
            .iter()
            .enumerate()
            .filter(|(j, _)| j % procs == i)
            .map(|(_, ip)| ip.to_string())
            .collect()
    } else if c.source_ips.is_empty() {
        Vec::new()
    } else {
        vec![c.source_ips[i % c.source_ips.len()].to_string()]
    };
    if !sources.is_empty() {
        push("source-ips", sources.join(","));
    }
    a.push("--child".into());
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::LoadArgs;
    use clap::Parser;
    use std::time::Duration;

    #[test]
    fn shares_add_up() {
        assert_eq!(shares(10, 3), vec![4, 3, 3]);
        assert_eq!(shares(15_000, 2).iter().sum::<usize>(), 15_000);
    }

    #[test]
    fn child_command_lines_parse_and_carry_their_share() {
        let parent = LoadArgs::try_parse_from([
            "load",
            "chat",
            "--secret",
            "s",
            "--connections",
            "10",
            "--procs",
            "3",
            "--source-ips",
            "127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5",
            "--poisson",
            "--interval",
            "1500ms",
            "--watch-url",
            "http://127.0.0.1:9",
        ])
        .unwrap();
        let args = argv(&parent.scenario, 1, 3, 3, 0, 4);
        let child =
            LoadArgs::try_parse_from(args.iter().map(String::as_str).chain(["--secret", "s"]))
                .unwrap();
        let Scenario::Chat(c) = child.scenario else {
            panic!("chat expected")
        };
        assert_eq!(c.connections, 3);
        assert!(c.common.child && c.poisson);
        assert_eq!(c.common.procs, 1);
        assert_eq!(c.common.user_offset, 4);
        assert_eq!(c.interval, Duration::from_millis(1500));
        assert_eq!(c.watch_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(
            c.common.source_ips,
            vec!["127.0.0.3".parse::<std::net::IpAddr>().unwrap()]
        );
    }
}
