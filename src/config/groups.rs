//! The variables of [`super::Config`] that have no settings struct of their own, read a group
//! at a time: where the server listens and logs, its database and key, its request limits, how
//! answers stream, and how they are kept safe.

use std::net::SocketAddr;
use std::time::Duration;

use super::{bad, parse_num, BenchAgentConfig, ConfigError, Environment, LogFormat};

/// Reads one variable, trimmed; `None` when unset or blank.
type Get<'a> = dyn Fn(&str) -> Option<String> + 'a;

pub(super) fn environment(get: &Get) -> Result<Environment, ConfigError> {
    match get("ENVIRONMENT").as_deref() {
        None | Some("development") | Some("dev") => Ok(Environment::Development),
        Some("production") | Some("prod") => Ok(Environment::Production),
        Some(other) => Err(bad(
            "ENVIRONMENT",
            format!("expected development or production, got {other:?}"),
        )),
    }
}

pub(super) fn bind_addr(get: &Get) -> Result<SocketAddr, ConfigError> {
    match get("BIND_ADDR") {
        None => Ok(SocketAddr::from(([127, 0, 0, 1], 8000))),
        Some(v) => v
            .parse()
            .map_err(|_| bad("BIND_ADDR", format!("expected host:port, got {v:?}"))),
    }
}

pub(super) fn log_format(get: &Get) -> Result<LogFormat, ConfigError> {
    match get("LOG_FORMAT").as_deref() {
        None | Some("pretty") => Ok(LogFormat::Pretty),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(bad(
            "LOG_FORMAT",
            format!("expected pretty or json, got {other:?}"),
        )),
    }
}

pub(super) struct Database {
    pub url: String,
    pub pool_size: u32,
    pub timeout: Duration,
}

pub(super) fn database(get: &Get) -> Result<Database, ConfigError> {
    let url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://agentwire.db".into());
    if !(url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://"))
    {
        return Err(bad("DATABASE_URL", "expected sqlite://… or postgres://…"));
    }
    let pool_size = parse_num(&get, "DATABASE_POOL_SIZE", 10u32)?;
    if pool_size == 0 {
        return Err(bad("DATABASE_POOL_SIZE", "must be at least 1"));
    }
    let timeout = parse_num(&get, "DATABASE_TIMEOUT_SECS", 5u64)?;
    if timeout == 0 {
        return Err(bad("DATABASE_TIMEOUT_SECS", "must be at least 1"));
    }
    Ok(Database {
        url,
        pool_size,
        timeout: Duration::from_secs(timeout),
    })
}

/// The HS256 key, and whether it was made up for this run (development only).
pub(super) fn jwt_secret(
    get: &Get,
    environment: Environment,
) -> Result<(String, bool), ConfigError> {
    match get("JWT_SECRET_KEY").or_else(|| get("BETTER_AUTH_SECRET")) {
        Some(s) if environment == Environment::Production && s.len() < 32 => Err(bad(
            "JWT_SECRET_KEY",
            "must be at least 32 bytes in production",
        )),
        Some(s) => Ok((s, false)),
        None if environment == Environment::Production => {
            Err(bad("JWT_SECRET_KEY", "is required in production"))
        }
        None => Ok((random_secret(), true)),
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

pub(super) fn cors_origins(get: &Get) -> Result<Vec<String>, ConfigError> {
    let origins: Vec<String> = get("CORS_ORIGINS")
        .map(|v| {
            v.split(',')
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .collect()
        })
        .unwrap_or_default();
    for origin in &origins {
        if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
            return Err(bad(
                "CORS_ORIGINS",
                format!("{origin:?} is not an origin such as https://app.example.com"),
            ));
        }
    }
    Ok(origins)
}

/// What one request or user may ask for.
pub(super) struct Limits {
    pub rate_limit_requests: u32,
    pub rate_limit_window: Duration,
    pub max_message_chars: usize,
    pub max_queued_per_thread: u32,
    pub max_body_bytes: usize,
    pub ai_sdk_max_body_bytes: usize,
    pub attachment_max_bytes: usize,
}

pub(super) fn limits(get: &Get) -> Result<Limits, ConfigError> {
    let window_secs = parse_num(&get, "RATE_LIMIT_WINDOW_SECS", 60u64)?;
    if window_secs == 0 {
        return Err(bad("RATE_LIMIT_WINDOW_SECS", "must be at least 1"));
    }
    let attachment_max_bytes = parse_num(&get, "ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024usize)?;
    if attachment_max_bytes == 0 {
        return Err(bad("ATTACHMENT_MAX_BYTES", "must be at least 1"));
    }
    Ok(Limits {
        rate_limit_requests: parse_num(&get, "RATE_LIMIT_REQUESTS", 10u32)?,
        rate_limit_window: Duration::from_secs(window_secs),
        max_message_chars: parse_num(&get, "MAX_MESSAGE_CHARS", 2000usize)?,
        max_queued_per_thread: parse_num(&get, "MAX_QUEUED_PER_THREAD", 10u32)?,
        max_body_bytes: parse_num(&get, "MAX_BODY_BYTES", 64 * 1024usize)?,
        ai_sdk_max_body_bytes: parse_num(&get, "AI_SDK_MAX_BODY_BYTES", 1024 * 1024usize)?,
        attachment_max_bytes,
    })
}

/// How answers stream: the offline agent's pace, the bench agent, the coalescing window.
pub(super) struct Streaming {
    pub offline_delta_delay: Duration,
    pub bench_agent: Option<BenchAgentConfig>,
    pub coalesce: Duration,
}

pub(super) fn streaming(get: &Get, environment: Environment) -> Result<Streaming, ConfigError> {
    let coalesce = Duration::from_millis(parse_num(&get, "STREAM_COALESCE_MS", 0u64)?);
    if coalesce > Duration::from_secs(1) {
        return Err(bad(
            "STREAM_COALESCE_MS",
            "must be at most 1000: a longer window holds text back for longer than it saves",
        ));
    }
    Ok(Streaming {
        offline_delta_delay: Duration::from_millis(parse_num(
            &get,
            "OFFLINE_DELTA_DELAY_MS",
            0u64,
        )?),
        bench_agent: bench_agent(get, environment)?,
        coalesce,
    })
}

fn bench_agent(
    get: &Get,
    environment: Environment,
) -> Result<Option<BenchAgentConfig>, ConfigError> {
    match parse_num(&get, "BENCH_AGENT_DELTAS", 0u32)? {
        0 if get("BENCH_AGENT_DELAY_MS").is_some() => Err(bad(
            "BENCH_AGENT_DELAY_MS",
            "needs BENCH_AGENT_DELTAS set above 0",
        )),
        0 => Ok(None),
        _ if environment == Environment::Production => Err(bad(
            "BENCH_AGENT_DELTAS",
            "the bench agent is refused in production",
        )),
        deltas => Ok(Some(BenchAgentConfig {
            deltas,
            delay: Duration::from_millis(parse_num(&get, "BENCH_AGENT_DELAY_MS", 0u64)?),
        })),
    }
}

/// How an answer is kept safe while it streams, and when another instance counts as dead.
pub(super) struct Durability {
    pub partial_save_every: Duration,
    pub partial_save_bytes: usize,
    pub instance_dead_after: Duration,
}

pub(super) fn durability(get: &Get) -> Result<Durability, ConfigError> {
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
    Ok(Durability {
        partial_save_every,
        partial_save_bytes,
        instance_dead_after,
    })
}
