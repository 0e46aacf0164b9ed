//! Reading the configuration: defaults, every variable's bad values, and the rules between them.

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
    let multi = |pairs: &[(&str, &str)]| Config::from_vars(&vars(pairs)).unwrap().multi_instance;
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
