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

    /// Reads configuration from a map of variables (tests pass their own).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            vars.get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let environment = match get("ENVIRONMENT").as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                return Err(bad(
                    "ENVIRONMENT",
                    format!("expected development or production, got {other:?}"),
                ))
            }
        };
        let bind_addr = match get("BIND_ADDR") {
            None => SocketAddr::from(([127, 0, 0, 1], 8000)),
            Some(v) => v
                .parse()
                .map_err(|_| bad("BIND_ADDR", format!("expected host:port, got {v:?}")))?,
        };
        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://agentwire.db".into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(bad(
                "DATABASE_URL",
                "expected sqlite://… or postgres://…".to_string(),
            ));
        }
        let database_pool_size = parse_num(&get, "DATABASE_POOL_SIZE", 10u32)?;
        if database_pool_size == 0 {
            return Err(bad("DATABASE_POOL_SIZE", "must be at least 1"));
        }
        let database_timeout = parse_num(&get, "DATABASE_TIMEOUT_SECS", 5u64)?;
        if database_timeout == 0 {
            return Err(bad("DATABASE_TIMEOUT_SECS", "must be at least 1"));
        }

        let (jwt_secret, jwt_secret_generated) =
            match get("JWT_SECRET_KEY").or_else(|| get("BETTER_AUTH_SECRET")) {
                Some(s) => {
                    if environment == Environment::Production && s.len() < 32 {
                        return Err(bad(
                            "JWT_SECRET_KEY",
                            "must be at least 32 bytes in production",
                        ));
                    }
                    (s, false)
                }
                None if environment == Environment::Production => {
                    return Err(bad("JWT_SECRET_KEY", "is required in production"))
                }
                None => (random_secret(), true),
            };

        let provider = ProviderConfig::from_vars(&get)?;
        let context_history_limit = parse_num(&get, "CONTEXT_HISTORY_LIMIT", 20u32)?;
        let cors_origins: Vec<String> = get("CORS_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().to_string())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        for origin in &cors_origins {
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(bad(
                    "CORS_ORIGINS",
                    format!("{origin:?} is not an origin such as https://app.example.com"),
                ));
            }
        }
        let log_format = match get("LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(bad(
                    "LOG_FORMAT",
                    format!("expected pretty or json, got {other:?}"),
                ))
            }
        };
        let rate_limit_requests = parse_num(&get, "RATE_LIMIT_REQUESTS", 10u32)?;
        let window_secs = parse_num(&get, "RATE_LIMIT_WINDOW_SECS", 60u64)?;
        if window_secs == 0 {
            return Err(bad("RATE_LIMIT_WINDOW_SECS", "must be at least 1"));
        }
        let max_message_chars = parse_num(&get, "MAX_MESSAGE_CHARS", 2000usize)?;
        let max_queued_per_thread = parse_num(&get, "MAX_QUEUED_PER_THREAD", 10u32)?;
        let max_body_bytes = parse_num(&get, "MAX_BODY_BYTES", 64 * 1024usize)?;
        let attachment_max_bytes = parse_num(&get, "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024usize)?;
        if attachment_max_bytes == 0 {
            return Err(bad("ATTACHMENT_MAX_BYTES", "must be at least 1"));
        }
        let ai_sdk_max_body_bytes = parse_num(&get, "AI_SDK_MAX_BODY_BYTES", 1024 * 1024usize)?;
        let shutdown_drain = Duration::from_secs(parse_num(&get, "SHUTDOWN_DRAIN_SECS", 10u64)?);
        let offline_delta_delay =
            Duration::from_millis(parse_num(&get, "OFFLINE_DELTA_DELAY_MS", 0u64)?);
        let stream_coalesce = Duration::from_millis(parse_num(&get, "STREAM_COALESCE_MS", 0u64)?);
        if stream_coalesce > Duration::from_secs(1) {
            return Err(bad(
                "STREAM_COALESCE_MS",
                "must be at most 1000: a longer window holds text back for longer than it saves",
            ));
        }
        let bench_agent = match parse_num(&get, "BENCH_AGENT_DELTAS", 0u32)? {
            0 => {
                if get("BENCH_AGENT_DELAY_MS").is_some() {
                    return Err(bad(
                        "BENCH_AGENT_DELAY_MS",
                        "needs BENCH_AGENT_DELTAS set above 0",
                    ));
                }
                None
            }
            deltas => {
                if environment == Environment::Production {
                    return Err(bad(
                        "BENCH_AGENT_DELTAS",
                        "the bench agent is refused in production",
                    ));
                }
                Some(BenchAgentConfig {
                    deltas,
                    delay: Duration::from_millis(parse_num(&get, "BENCH_AGENT_DELAY_MS", 0u64)?),
                })
            }
        };
        let ws = WsConfig::from_vars(&get)?;
        let http = HttpConfig::from_vars(&get)?;
        let mcp = McpConfig::from_vars(&get)?;
        let tcp_send_buffer = match get("TCP_SEND_BUFFER_BYTES") {
            None => None,
            Some(_) => Some(parse_num(&get, "TCP_SEND_BUFFER_BYTES", 0usize)?),
        };

        let postgres = !database_url.starts_with("sqlite:");
        let (multi_instance, event_broker) = relay::from_vars(&get, postgres)?;

        let partial_save_every = Duration::from_millis(parse_num(&get, "PARTIAL_SAVE_MS", 250u64)?);
        if partial_save_every.is_zero() {
            return Err(bad("PARTIAL_SAVE_MS", "must be at least 1"));
        }
        let partial_save_bytes = parse_num(&get, "PARTIAL_SAVE_BYTES", 1024usize)?;
        if partial_save_bytes == 0 {
            return Err(bad("PARTIAL_SAVE_BYTES", "must be at least 1"));
        }
        let instance_dead_after =
            Duration::from_secs(parse_num(&get, "INSTANCE_DEAD_AFTER_SECS", 60u64)?);
        if instance_dead_after < Duration::from_secs(1) {
            return Err(bad("INSTANCE_DEAD_AFTER_SECS", "must be at least 1"));
        }

        Ok(Config {
            bind_addr,
            database_url,
            database_pool_size,
            database_timeout: Duration::from_secs(database_timeout),
            environment,
            jwt_secret,
            jwt_secret_generated,
            provider,
            context_history_limit,
            cors_origins,
            log_format,
            rate_limit_requests,
            rate_limit_window: Duration::from_secs(window_secs),
            max_message_chars,
            max_queued_per_thread,
            max_body_bytes,
            ai_sdk_max_body_bytes,
            attachment_max_bytes,
            shutdown_drain,
            offline_delta_delay,
            bench_agent,
            stream_coalesce,
            ws,
            http,
            mcp,
            tcp_send_buffer,
            multi_instance,
            event_broker,
            partial_save_every,
            partial_save_bytes,
            instance_dead_after,
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

/// 256 random bits from the OS (v4 UUIDs draw on getrandom), hex-encoded.
fn random_secret() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_development_sqlite_offline() {
        let c = Config::from_vars(&HashMap::new()).unwrap();
        assert_eq!(c.bind_addr.to_string(), "127.0.0.1:8000");
        assert_eq!(c.database_url, "sqlite://agentwire.db");
        assert_eq!(c.database_pool_size, 10);
        assert_eq!(c.database_timeout, Duration::from_secs(5));
        assert_eq!(c.environment, Environment::Development);
        assert!(c.jwt_secret_generated);
        assert_eq!(c.jwt_secret.len(), 64);
        assert_eq!(c.context_history_limit, 20);
        assert_eq!(c.rate_limit_requests, 10);
        assert_eq!(c.rate_limit_window, Duration::from_secs(60));
        assert!(c.provider.api_key.is_none());
        assert_eq!(c.partial_save_every, Duration::from_millis(250));
        assert_eq!(c.partial_save_bytes, 1024);
        assert_eq!(c.instance_dead_after, Duration::from_secs(60));
        assert_eq!(c.stream_coalesce, Duration::ZERO);
    }

    #[test]
    fn production_requires_a_long_secret() {
        let e = Config::from_vars(&vars(&[("ENVIRONMENT", "production")])).unwrap_err();
        assert_eq!(e.var, "JWT_SECRET_KEY");
        let e = Config::from_vars(&vars(&[
            ("ENVIRONMENT", "production"),
            ("JWT_SECRET_KEY", "short"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "JWT_SECRET_KEY");
        let ok = Config::from_vars(&vars(&[
            ("ENVIRONMENT", "production"),
            ("JWT_SECRET_KEY", &"k".repeat(32)),
        ]))
        .unwrap();
        assert!(ok.is_production());
    }

    #[test]
    fn better_auth_secret_is_an_alias() {
        let c = Config::from_vars(&vars(&[("BETTER_AUTH_SECRET", "abc")])).unwrap();
        assert_eq!(c.jwt_secret, "abc");
        assert!(!c.jwt_secret_generated);
    }

    #[test]
    fn bench_agent_is_off_unless_deltas_are_set() {
        assert_eq!(
            Config::from_vars(&HashMap::new()).unwrap().bench_agent,
            None
        );
        let c = Config::from_vars(&vars(&[
            ("BENCH_AGENT_DELTAS", "64"),
            ("BENCH_AGENT_DELAY_MS", "5"),
        ]))
        .unwrap();
        assert_eq!(
            c.bench_agent,
            Some(BenchAgentConfig {
                deltas: 64,
                delay: Duration::from_millis(5)
            })
        );
        for (pairs, var) in [
            (&[("BENCH_AGENT_DELTAS", "many")][..], "BENCH_AGENT_DELTAS"),
            (
                &[("BENCH_AGENT_DELTAS", "8"), ("BENCH_AGENT_DELAY_MS", "-1")][..],
                "BENCH_AGENT_DELAY_MS",
            ),
            (&[("BENCH_AGENT_DELAY_MS", "5")][..], "BENCH_AGENT_DELAY_MS"),
            (
                &[
                    ("BENCH_AGENT_DELTAS", "8"),
                    ("ENVIRONMENT", "production"),
                    ("JWT_SECRET_KEY", &"k".repeat(32)),
                ][..],
                "BENCH_AGENT_DELTAS",
            ),
        ] {
            assert_eq!(Config::from_vars(&vars(pairs)).unwrap_err().var, var);
        }
    }

    #[test]
    fn the_coalescing_window_is_off_unless_set_and_bounded() {
        let c = Config::from_vars(&vars(&[("STREAM_COALESCE_MS", "40")])).unwrap();
        assert_eq!(c.stream_coalesce, Duration::from_millis(40));
        for bad in ["-1", "soon", "1001"] {
            let e = Config::from_vars(&vars(&[("STREAM_COALESCE_MS", bad)])).unwrap_err();
            assert_eq!(e.var, "STREAM_COALESCE_MS", "{bad}");
        }
    }

    #[test]
    fn multi_instance_follows_the_database_unless_set() {
        let multi =
            |pairs: &[(&str, &str)]| Config::from_vars(&vars(pairs)).unwrap().multi_instance;
        let pg = ("DATABASE_URL", "postgres://db/app");
        assert!(!multi(&[]));
        assert!(multi(&[pg]));
        assert!(multi(&[pg, ("MULTI_INSTANCE", "on")]));
        assert!(!multi(&[pg, ("MULTI_INSTANCE", "off")]));
        assert!(!multi(&[("MULTI_INSTANCE", "off")]));
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (k, v) in [
            ("BIND_ADDR", "nope"),
            ("DATABASE_URL", "mysql://x"),
            ("DATABASE_POOL_SIZE", "-1"),
            ("DATABASE_POOL_SIZE", "0"),
            ("DATABASE_TIMEOUT_SECS", "0"),
            ("DATABASE_TIMEOUT_SECS", "soon"),
            ("ENVIRONMENT", "staging"),
            ("CONTEXT_HISTORY_LIMIT", "lots"),
            ("CORS_ORIGINS", "example.com"),
            ("LOG_FORMAT", "xml"),
            ("OPENAI_BASE_URL", "localhost:8080"),
            ("AGENT_MAX_TURNS", "0"),
            ("AGENT_TIMEOUT_SECS", "soon"),
            ("AGENT_TEMPERATURE", "3"),
            ("AGENT_MAX_TOKENS", "-5"),
            ("AGENT_FALLBACK", "magic"),
            ("RATE_LIMIT_REQUESTS", "1.5"),
            ("RATE_LIMIT_WINDOW_SECS", "0"),
            ("ATTACHMENT_MAX_BYTES", "0"),
            ("ATTACHMENT_MAX_BYTES", "ten"),
            ("MULTI_INSTANCE", "redis"),
            ("MULTI_INSTANCE", "on"),
            ("EVENT_BROKER", "kafka"),
            ("EVENT_BROKER", "nats"),
            ("PARTIAL_SAVE_MS", "0"),
            ("PARTIAL_SAVE_BYTES", "0"),
            ("PARTIAL_SAVE_BYTES", "lots"),
            ("INSTANCE_DEAD_AFTER_SECS", "0"),
        ] {
            let e = Config::from_vars(&vars(&[(k, v)])).unwrap_err();
            assert_eq!(e.var, k, "{k}={v}");
            assert!(e.to_string().starts_with(k));
        }
    }

    #[test]
    fn debug_redacts_secrets() {
        let c = Config::from_vars(&vars(&[
            ("JWT_SECRET_KEY", "topsecretvalue"),
            ("OPENAI_API_KEY", "sk-live-123"),
            ("DATABASE_URL", "postgres://app:pw123@db/app"),
        ]))
        .unwrap();
        let d = format!("{c:?}");
        assert!(!d.contains("topsecretvalue"));
        assert!(!d.contains("sk-live-123"));
        assert!(!d.contains("pw123"));
        assert!(d.contains("postgres://app:***@db/app"));
    }
}
