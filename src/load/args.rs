//! The load tester's command line: the scenarios and the options each takes.

use std::net::IpAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use super::dialect::Protocol;

/// `agentwire load <scenario> …`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "load",
    about = "Drive load at a running server and report what it measured"
)]
pub struct LoadArgs {
    #[command(subcommand)]
    pub scenario: Scenario,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// Open N authenticated sockets, hold them, report connect latency and server RSS.
    Idle(IdleArgs),
    /// Connect and authenticate as fast as possible; connects per second.
    Storm(StormArgs),
    /// N sockets, each sending a message every interval; turn latencies and throughput.
    Chat(ChatArgs),
    /// N answers streaming at once at the agent's pace (each socket asks again as soon as its
    /// answer ends); each delta's lateness against the agent's schedule.
    Paced(PacedArgs),
    /// Turns over `POST /api/{user_id}/chat` at a fixed concurrency.
    Rest(HttpArgs),
    /// Turns over `POST /api/{user_id}/chat/stream`, each stream read to its end.
    Sse(HttpArgs),
    /// ChatKit `threads.create` turns over `POST /api/chatkit`, each stream read to its end.
    Chatkit(HttpArgs),
}

/// Options every scenario takes.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub url: String,
    /// Distinct users to spread sockets or workers over (0 = one per socket or worker).
    #[arg(long, default_value_t = 0)]
    pub users: usize,
    /// The server's HS256 key, to mint tokens with.
    #[arg(long, env = "JWT_SECRET_KEY", hide_env_values = true)]
    pub secret: String,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Local addresses to connect from, comma-separated (e.g. 127.0.0.2,127.0.0.3), to get
    /// past the ~28k ephemeral ports of one address pair.
    #[arg(long, value_delimiter = ',')]
    pub source_ips: Vec<IpAddr>,
    /// Split the load over this many processes (this binary, run again); summaries merge.
    #[arg(long, default_value_t = 1)]
    pub procs: usize,
    /// The server's pid, to report its RSS growth (idle) or its CPU per turn (chat, paced).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// A baseline server (examples/baseline_ws) to run the same scenario against right after;
    /// the summary then carries its figures and our ratio to them.
    #[arg(long)]
    pub baseline_url: Option<String>,
    /// The baseline server's pid, for its RSS (idle) or CPU per turn (chat, paced).
    #[arg(long)]
    pub baseline_pid: Option<u32>,
    /// Read the server's `/metrics` after the run and add its counters to the summary.
    #[arg(long)]
    pub scrape_metrics: bool,
    /// First user number (`load-{n}`); set by the parent of a split run.
    #[arg(long, default_value_t = 0, hide = true)]
    pub user_offset: usize,
    /// Run as one process of a split run: JSON with raw histograms, a `connected` line.
    #[arg(long, hide = true)]
    pub child: bool,
}

#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    #[command(flatten)]
    pub common: Common,
    /// Sockets to open.
    #[arg(long, default_value_t = 1000)]
    pub connections: usize,
    /// Sockets opened per second (0 = all at once).
    #[arg(long, default_value_t = 1000)]
    pub ramp: u32,
    /// How long to hold them once open.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct StormArgs {
    #[command(flatten)]
    pub common: Common,
    /// Connects in total.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// Connects in flight at once.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
}

#[derive(Debug, Clone, Args)]
pub struct ChatArgs {
    #[command(flatten)]
    pub common: Common,
    /// Sockets, each with its own thread.
    #[arg(long, default_value_t = 100)]
    pub connections: usize,
    /// Sockets opened per second while connecting (0 = all at once).
    #[arg(long, default_value_t = 1000)]
    pub ramp: u32,
    /// Mean time between one socket's messages.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Exponential gaps between messages (Poisson arrivals) instead of a fixed interval.
    #[arg(long)]
    pub poisson: bool,
    /// How long messages are sent for, once every socket is open.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// The message text.
    #[arg(long, default_value = "hello")]
    pub message: String,
    /// Another instance on the same database: each socket gets a twin there, for the same
    /// user, timing when its turns' first delta and end arrive there (`watch_first_delta`,
    /// `watch_done`).
    #[arg(long)]
    pub watch_url: Option<String>,
    /// The protocol the sockets speak: ours on `/api/ws`, or the Vercel AI SDK's
    /// `WebSocketChatTransport` on `/api/ai-sdk/ws` (one chat per socket; a delta is a
    /// `text-delta` chunk). A baseline run always speaks ours: it is all the baseline knows.
    #[arg(long, value_enum, default_value_t = Protocol::Agentwire)]
    pub protocol: Protocol,
}

#[derive(Debug, Clone, Args)]
pub struct PacedArgs {
    #[command(flatten)]
    pub common: Common,
    /// Answers streaming at once: sockets, each with its own thread.
    #[arg(long, default_value_t = 100)]
    pub connections: usize,
    /// Sockets opened per second while connecting (0 = all at once).
    #[arg(long, default_value_t = 1000)]
    pub ramp: u32,
    /// The server's spacing of deltas (its `BENCH_AGENT_DELAY_MS`): delta k of an answer is due
    /// k × pace after its first.
    #[arg(long, default_value = "20ms", value_parser = humantime::parse_duration)]
    pub pace: Duration,
    /// How long answers are asked for, once every socket is open.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// The message text.
    #[arg(long, default_value = "hello")]
    pub message: String,
}

#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    #[command(flatten)]
    pub common: Common,
    /// Turns in flight at once (one worker each, each on its own thread).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// How long turns are sent for.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// The message text.
    #[arg(long, default_value = "hello")]
    pub message: String,
}

impl Scenario {
    pub fn common(&self) -> &Common {
        match self {
            Scenario::Idle(a) => &a.common,
            Scenario::Storm(a) => &a.common,
            Scenario::Chat(a) => &a.common,
            Scenario::Paced(a) => &a.common,
            Scenario::Rest(a) | Scenario::Sse(a) | Scenario::Chatkit(a) => &a.common,
        }
    }

    pub(super) fn common_mut(&mut self) -> &mut Common {
        match self {
            Scenario::Idle(a) => &mut a.common,
            Scenario::Storm(a) => &mut a.common,
            Scenario::Chat(a) => &mut a.common,
            Scenario::Paced(a) => &mut a.common,
            Scenario::Rest(a) | Scenario::Sse(a) | Scenario::Chatkit(a) => &mut a.common,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Idle(_) => "idle",
            Scenario::Storm(_) => "storm",
            Scenario::Chat(_) => "chat",
            Scenario::Paced(_) => "paced",
            Scenario::Rest(_) => "rest",
            Scenario::Sse(_) => "sse",
            Scenario::Chatkit(_) => "chatkit",
        }
    }

    /// Sockets (idle, storm, chat) or workers (rest, sse): what `--procs` divides.
    pub(super) fn size(&self) -> usize {
        match self {
            Scenario::Idle(a) => a.connections,
            Scenario::Storm(a) => a.connections,
            Scenario::Chat(a) => a.connections,
            Scenario::Paced(a) => a.connections,
            Scenario::Rest(a) | Scenario::Sse(a) | Scenario::Chatkit(a) => a.concurrency,
        }
    }

    pub(super) fn users(&self) -> usize {
        match self.common().users {
            0 => self.size(),
            u => u,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_parses_with_its_flags() {
        let a = LoadArgs::try_parse_from([
            "load",
            "chat",
            "--url",
            "http://127.0.0.1:1",
            "--secret",
            "s",
            "--connections",
            "20",
            "--interval",
            "500ms",
            "--duration",
            "3s",
            "--poisson",
            "--source-ips",
            "127.0.0.2,127.0.0.3",
        ])
        .unwrap();
        let Scenario::Chat(c) = &a.scenario else {
            panic!("chat expected")
        };
        assert_eq!(c.interval, Duration::from_millis(500));
        assert!(c.poisson);
        assert_eq!(c.protocol, Protocol::Agentwire);
        assert_eq!(c.common.source_ips.len(), 2);
        assert_eq!(a.scenario.users(), 20);
        let Scenario::Chat(c) =
            LoadArgs::try_parse_from(["load", "chat", "--secret", "s", "--protocol", "ai-sdk"])
                .unwrap()
                .scenario
        else {
            panic!("chat expected")
        };
        assert_eq!(c.protocol, Protocol::AiSdk);
        for s in ["idle", "storm", "rest", "sse", "chatkit", "paced"] {
            assert!(
                LoadArgs::try_parse_from(["load", s, "--secret", "s"]).is_ok(),
                "{s}"
            );
        }
        assert!(
            LoadArgs::try_parse_from(["load", "chat", "--secret", "s", "--interval", "soon"])
                .is_err()
        );
        assert!(LoadArgs::try_parse_from(["load", "fly", "--secret", "s"]).is_err());
    }
}
