//! Server configuration, read once at start from the environment (and `.env`, loaded by `main`).
//!
//! Every variable is documented in `.env.example`. A bad value fails start-up with one line that
//! names the variable; secrets never appear in `Debug` output.
//!
//! The WebSocket settings ([`WsConfig`]), the HTTP connection limits ([`HttpConfig`]), the MCP
//! session limits ([`McpConfig`]), the model provider's ([`ProviderConfig`]) and the relay's
//! between instances ([`EventBroker`]) each read their own variables in a file of their own;
//! [`Config`] holds them with everything else.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

mod groups;
mod http;
mod mcp;
mod provider;
mod relay;
mod ws;

pub use http::{default_max_connections, open_file_limit, HttpConfig};
pub use mcp::McpConfig;
pub use provider::ProviderConfig;
pub use relay::{EventBroker, NatsConfig};
pub use ws::WsConfig;

/// Where the server runs; production refuses unsafe defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// A start-up configuration error: which variable, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

fn bad(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

/// Everything the server is configured with.
#[derive(Clone)]
pub struct Config {
    pub bind_addr: SocketAddr,
    pub database_url: String,
    pub database_pool_size: u32,
    /// How long an operation waits for the database (a pooled connection, SQLite's lock, one
    /// PostgreSQL statement) before failing with `database_unavailable`; also the start-up
    /// connection's limit.
    pub database_timeout: Duration,
    pub environment: Environment,
    /// HS256 key. In development an unset key is replaced by a random one (`jwt_secret_generated`).
    pub jwt_secret: String,
    pub jwt_secret_generated: bool,
    pub provider: ProviderConfig,
    pub context_history_limit: u32,
    /// Allowed browser origins; empty = none, `["*"]` = any.
    pub cors_origins: Vec<String>,
    pub log_format: LogFormat,
    /// Turn-starting requests allowed per user per window; 0 disables the limit.
    pub rate_limit_requests: u32,
    pub rate_limit_window: Duration,
    /// Longest user message, in characters, after trimming.
    pub max_message_chars: usize,
    /// Most messages queued on one thread behind its running turn (`on_busy: "enqueue"`).
    pub max_queued_per_thread: u32,
    /// Largest accepted HTTP request body.
    pub max_body_bytes: usize,
    /// Largest attachment upload (ChatKit), in bytes.
    pub attachment_max_bytes: usize,
    /// Largest AI SDK request: a `POST /api/ai-sdk` body or a frame on `/api/ai-sdk/ws`. The
    /// SDK sends the whole chat with every message, so it outgrows `max_body_bytes` first.
    pub ai_sdk_max_body_bytes: usize,
    /// How long shutdown waits for running turns.
    pub shutdown_drain: Duration,
    /// Spacing between the offline agent's deltas (zero in production; tests and benches pace it).
    pub offline_delta_delay: Duration,
    /// When set, every turn is answered by the bench agent instead (load runs only).
    pub bench_agent: Option<BenchAgentConfig>,
    /// The delta coalescing window (`STREAM_COALESCE_MS`; zero, the default, is off): text an
    /// agent produces within it of a delta's first piece travels as one delta.
    pub stream_coalesce: Duration,
    /// WebSocket settings.
    pub ws: WsConfig,
    /// HTTP timeouts and connection caps.
    pub http: HttpConfig,
    /// MCP session limits.
    pub mcp: McpConfig,
    /// Kernel send buffer of each accepted connection; `None` leaves the kernel's autotuning.
    /// Bounds kernel memory per slow peer when many sockets are open.
    pub tcp_send_buffer: Option<usize>,
    /// Join the other instances on the same PostgreSQL database: relay events between them and
    /// claim threads in a shared registry (`MULTI_INSTANCE`: `auto`, the default, is on for
    /// PostgreSQL and off for SQLite).
    pub multi_instance: bool,
    /// With several instances: what carries events and cancels between them (`EVENT_BROKER`:
    /// `postgres`, the default, or `nats` with `NATS_URL` and `NATS_SUBJECT_PREFIX`).
    pub event_broker: EventBroker,
    /// Longest time an answer's streamed text may wait before it is saved (`PARTIAL_SAVE_MS`).
    pub partial_save_every: Duration,
    /// Most streamed text, in bytes, that may wait before it is saved (`PARTIAL_SAVE_BYTES`).
    pub partial_save_bytes: usize,
    /// With several instances: how long an instance may go without refreshing its running
    /// turns' claims before the others take it for dead, interrupt its answers and free its
    /// threads (`INSTANCE_DEAD_AFTER_SECS`). Claims are refreshed four times as often.
    pub instance_dead_after: Duration,
}

/// The bench agent's fixed answer: `deltas` word deltas, `delay` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchAgentConfig {
    pub deltas: u32,
    pub delay: Duration,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("bind_addr", &self.bind_addr)
            .field("database_url", &redact_url(&self.database_url))
            .field("database_pool_size", &self.database_pool_size)
            .field("database_timeout", &self.database_timeout)
            .field("environment", &self.environment)
            .field("jwt_secret", &"<redacted>")
            .field("provider", &self.provider)
            .field("context_history_limit", &self.context_history_limit)
            .field("cors_origins", &self.cors_origins)
            .field("rate_limit_requests", &self.rate_limit_requests)
            .field("rate_limit_window", &self.rate_limit_window)
            .field("multi_instance", &self.multi_instance)
            .field("event_broker", &self.event_broker)
            .finish_non_exhaustive()
    }
}

/// Hides the password of `scheme://user:password@host/db`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Reads configuration from a map of variables (tests pass their own). Each group of
    /// variables is read by a function of its own ([`groups`], and the settings' own files).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            vars.get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let environment = groups::environment(&get)?;
        let database = groups::database(&get)?;
        let (jwt_secret, jwt_secret_generated) = groups::jwt_secret(&get, environment)?;
        let limits = groups::limits(&get)?;
        let streaming = groups::streaming(&get, environment)?;
        let durability = groups::durability(&get)?;
        let postgres = !database.url.starts_with("sqlite:");
        let (multi_instance, event_broker) = relay::from_vars(&get, postgres)?;
        Ok(Config {
            bind_addr: groups::bind_addr(&get)?,
            database_url: database.url,
            database_pool_size: database.pool_size,
            database_timeout: database.timeout,
            environment,
            jwt_secret,
            jwt_secret_generated,
            provider: ProviderConfig::from_vars(&get)?,
            context_history_limit: parse_num(&get, "CONTEXT_HISTORY_LIMIT", 20u32)?,
            cors_origins: groups::cors_origins(&get)?,
            log_format: groups::log_format(&get)?,
            rate_limit_requests: limits.rate_limit_requests,
            rate_limit_window: limits.rate_limit_window,
            max_message_chars: limits.max_message_chars,
            max_queued_per_thread: limits.max_queued_per_thread,
            max_body_bytes: limits.max_body_bytes,
            ai_sdk_max_body_bytes: limits.ai_sdk_max_body_bytes,
            attachment_max_bytes: limits.attachment_max_bytes,
            shutdown_drain: Duration::from_secs(parse_num(&get, "SHUTDOWN_DRAIN_SECS", 10u64)?),
            offline_delta_delay: streaming.offline_delta_delay,
            bench_agent: streaming.bench_agent,
            stream_coalesce: streaming.coalesce,
            ws: WsConfig::from_vars(&get)?,
            http: HttpConfig::from_vars(&get)?,
            mcp: McpConfig::from_vars(&get)?,
            tcp_send_buffer: match get("TCP_SEND_BUFFER_BYTES") {
                None => None,
                Some(_) => Some(parse_num(&get, "TCP_SEND_BUFFER_BYTES", 0usize)?),
            },
            multi_instance,
            event_broker,
            partial_save_every: durability.partial_save_every,
            partial_save_bytes: durability.partial_save_bytes,
            instance_dead_after: durability.instance_dead_after,
        })
    }

    /// A development configuration for tests: in-memory defaults, a fixed secret, no rate limit.
    pub fn for_tests(database_url: &str, jwt_secret: &str) -> Self {
        let mut vars = HashMap::new();
        vars.insert("DATABASE_URL".into(), database_url.into());
        vars.insert("JWT_SECRET_KEY".into(), jwt_secret.into());
        vars.insert("RATE_LIMIT_REQUESTS".into(), "0".into());
        Self::from_vars(&vars).expect("test configuration is valid")
    }

    /// `"sqlite"` or `"postgres"`, from the URL.
    pub fn database_backend(&self) -> &'static str {
        if self.database_url.starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        }
    }

    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }
}

fn parse_num<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            bad(
                var,
                format!("expected a non-negative whole number, got {v:?}"),
            )
        }),
    }
}

#[cfg(test)]
mod tests;
