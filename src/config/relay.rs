//! Whether instances sharing one PostgreSQL database hear each other (`MULTI_INSTANCE`), and
//! through what (`EVENT_BROKER`, `NATS_URL`, `NATS_SUBJECT_PREFIX`); see `crate::relay`.

use std::fmt;

use async_nats::ServerAddr;

use super::{bad, redact_url, ConfigError};

/// What carries events and cancel requests between instances.
#[derive(Clone, PartialEq, Eq)]
pub enum EventBroker {
    /// PostgreSQL's `NOTIFY`: nothing more to run (the default).
    Postgres,
    /// A NATS server: `NOTIFY` takes a database-wide lock at every commit, which serialises
    /// writers as instances are added; NATS takes that traffic off the database.
    Nats(NatsConfig),
}

/// Where the NATS broker is, and the subjects' prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsConfig {
    /// One server URL or several, comma-separated (`nats://` or `tls://`).
    pub url: String,
    /// First tokens of every subject (`<prefix>.events`, `<prefix>.cancel`), so deployments
    /// sharing one NATS server do not hear each other.
    pub subject_prefix: String,
}

impl fmt::Debug for EventBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventBroker::Postgres => f.write_str("Postgres"),
            EventBroker::Nats(n) => f.debug_tuple("Nats").field(n).finish(),
        }
    }
}

impl NatsConfig {
    /// The URLs with their passwords hidden, for logs and errors.
    pub fn shown_url(&self) -> String {
        let urls: Vec<String> = self.url.split(',').map(|u| redact_url(u.trim())).collect();
        urls.join(",")
    }
}

impl fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsConfig")
            .field("url", &self.shown_url())
            .field("subject_prefix", &self.subject_prefix)
            .finish()
    }
}

/// Reads `MULTI_INSTANCE` and the broker. `NATS_*` are read only with `EVENT_BROKER=nats`: the
/// names are common enough that an environment may hold them for something else.
/// `EVENT_BROKER=nats` without several instances is refused rather than ignored: the operator
/// meant instances to relay through NATS, and one that relays nothing should not pass for it.
pub(super) fn from_vars(
    get: &impl Fn(&str) -> Option<String>,
    postgres: bool,
) -> Result<(bool, EventBroker), ConfigError> {
    let multi_instance = match get("MULTI_INSTANCE").as_deref() {
        None | Some("auto") => postgres,
        Some("off") => false,
        Some("on") if postgres => true,
        Some("on") => {
            return Err(bad(
                "MULTI_INSTANCE",
                "needs a postgres:// DATABASE_URL (SQLite serves one instance)",
            ))
        }
        Some(other) => {
            return Err(bad(
                "MULTI_INSTANCE",
                format!("expected auto, on or off, got {other:?}"),
            ))
        }
    };
    let broker = match get("EVENT_BROKER").as_deref() {
        None | Some("postgres") => EventBroker::Postgres,
        Some("nats") if multi_instance => EventBroker::Nats(nats(get)?),
        Some("nats") => {
            return Err(bad(
                "EVENT_BROKER",
                "nats relays between instances: it needs a postgres:// DATABASE_URL and \
                 MULTI_INSTANCE on or auto",
            ))
        }
        Some(other) => {
            return Err(bad(
                "EVENT_BROKER",
                format!("expected postgres or nats, got {other:?}"),
            ))
        }
    };
    Ok((multi_instance, broker))
}

fn nats(get: &impl Fn(&str) -> Option<String>) -> Result<NatsConfig, ConfigError> {
    let url = get("NATS_URL").unwrap_or_else(|| "nats://127.0.0.1:4222".into());
    for one in url.split(',').map(str::trim) {
        let ok = one
            .parse::<ServerAddr>()
            .is_ok_and(|a| (a.scheme() == "nats" || a.scheme() == "tls") && one.contains("://"));
        if !ok {
            return Err(bad(
                "NATS_URL",
                format!(
                    "expected nats://host:port or tls://host:port (comma-separated), got {:?}",
                    redact_url(one)
                ),
            ));
        }
    }
    let subject_prefix = get("NATS_SUBJECT_PREFIX").unwrap_or_else(|| "agentwire".into());
    let token_ok = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if !subject_prefix.split('.').all(token_ok) {
        return Err(bad(
            "NATS_SUBJECT_PREFIX",
            format!(
                "expected words of letters, digits, - and _ joined by dots, got \
                 {subject_prefix:?}"
            ),
        ));
    }
    Ok(NatsConfig {
        url,
        subject_prefix,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<(bool, EventBroker), ConfigError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let postgres = vars
            .get("DATABASE_URL")
            .is_some_and(|u| u.starts_with("postgres"));
        from_vars(&|k: &str| vars.get(k).cloned(), postgres)
    }

    const PG: (&str, &str) = ("DATABASE_URL", "postgres://db/app");

    #[test]
    fn the_broker_is_postgres_unless_nats_is_asked_for() {
        assert_eq!(read(&[PG]).unwrap(), (true, EventBroker::Postgres));
        let nats_vars = [
            ("NATS_URL", "nats://elsewhere:1"),
            ("NATS_SUBJECT_PREFIX", "x"),
        ];
        // NATS_* alone change nothing: other software reads the same names.
        assert_eq!(read(&nats_vars).unwrap(), (false, EventBroker::Postgres));
        assert_eq!(
            read(&[PG, ("EVENT_BROKER", "postgres")]).unwrap().1,
            EventBroker::Postgres
        );
        let (_, broker) = read(&[PG, ("EVENT_BROKER", "nats")]).unwrap();
        assert_eq!(
            broker,
            EventBroker::Nats(NatsConfig {
                url: "nats://127.0.0.1:4222".into(),
                subject_prefix: "agentwire".into(),
            })
        );
        let (_, broker) = read(&[
            PG,
            ("EVENT_BROKER", "nats"),
            ("NATS_URL", "nats://a:4222, tls://b:4223"),
            ("NATS_SUBJECT_PREFIX", "prod.chat-1"),
        ])
        .unwrap();
        let EventBroker::Nats(n) = broker else {
            panic!("nats expected")
        };
        assert_eq!(n.url, "nats://a:4222, tls://b:4223");
        assert_eq!(n.subject_prefix, "prod.chat-1");
    }

    #[test]
    fn nats_without_several_instances_or_with_bad_values_is_refused() {
        let nats = ("EVENT_BROKER", "nats");
        for (pairs, var) in [
            (&[nats][..], "EVENT_BROKER"),
            (&[PG, nats, ("MULTI_INSTANCE", "off")][..], "EVENT_BROKER"),
            (&[PG, ("EVENT_BROKER", "redis")][..], "EVENT_BROKER"),
            (&[PG, nats, ("NATS_URL", "localhost:4222")][..], "NATS_URL"),
            (
                &[PG, nats, ("NATS_URL", "http://localhost:4222")][..],
                "NATS_URL",
            ),
            (&[PG, nats, ("NATS_URL", "nats://a:1,")][..], "NATS_URL"),
            (
                &[PG, nats, ("NATS_SUBJECT_PREFIX", "a..b")][..],
                "NATS_SUBJECT_PREFIX",
            ),
            (
                &[PG, nats, ("NATS_SUBJECT_PREFIX", "app.*")][..],
                "NATS_SUBJECT_PREFIX",
            ),
            (
                &[PG, nats, ("NATS_SUBJECT_PREFIX", "app.")][..],
                "NATS_SUBJECT_PREFIX",
            ),
            (
                &[PG, nats, ("NATS_SUBJECT_PREFIX", "a b")][..],
                "NATS_SUBJECT_PREFIX",
            ),
        ] {
            let e = read(pairs).unwrap_err();
            assert_eq!(e.var, var, "{pairs:?}");
            assert!(e.to_string().starts_with(var));
        }
    }

    #[test]
    fn a_nats_password_is_neither_shown_nor_echoed() {
        let n = NatsConfig {
            url: "nats://app:pw123@a:4222,nats://b:4222".into(),
            subject_prefix: "agentwire".into(),
        };
        let d = format!("{:?}", EventBroker::Nats(n));
        assert!(!d.contains("pw123"), "{d}");
        assert!(d.contains("nats://app:***@a:4222,nats://b:4222"), "{d}");
        let e = read(&[
            PG,
            ("EVENT_BROKER", "nats"),
            ("NATS_URL", "nats://app:pw123@a:4222,ftp://app:pw123@b"),
        ])
        .unwrap_err();
        assert!(!e.to_string().contains("pw123"), "{e}");
    }
}
