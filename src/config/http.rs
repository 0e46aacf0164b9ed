//! HTTP connection settings: how long a client may take to send a request, how long an idle
//! connection is kept, and how many connections may be open at once.
//!
//! Each bounds what a slow or greedy client can hold of the server's sockets, and so of its
//! open files: without them, a few hundred connections that trickle a byte now and then kept
//! every other client out (`accept: Too many open files`).

use std::time::Duration;

use super::{bad, parse_num, ConfigError};

/// Timeouts and caps of the HTTP server (see `crate::server`).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// How long a client has to send a request's head: counted from the accept for a
    /// connection's first request, from the first byte of the head for later ones.
    pub header_timeout: Duration,
    /// How long a client has to send a request's whole body, counted from the end of its head.
    /// Past it the request is answered 408 `request_timeout` and the connection closed.
    pub body_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request before it is closed.
    pub keepalive_idle: Duration,
    /// Connections open at once, WebSockets included (each holds a file); more are refused.
    pub max_connections: usize,
    /// Connections open at once from one client address (an IPv6 address counts as its /64);
    /// 0 = no per-address cap (behind a reverse proxy every client has the proxy's address).
    pub max_connections_per_ip: usize,
}

impl HttpConfig {
    /// Reads the HTTP variables through `get`; a bad value names its variable.
    pub(super) fn from_vars(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let secs = |var: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match parse_num(get, var, default)? {
                0 => Err(bad(var, "must be at least 1")),
                n => Ok(Duration::from_secs(n)),
            }
        };
        let http = HttpConfig {
            header_timeout: secs("HTTP_HEADER_TIMEOUT_SECS", 10)?,
            body_timeout: secs("HTTP_BODY_TIMEOUT_SECS", 30)?,
            keepalive_idle: secs("HTTP_KEEPALIVE_IDLE_SECS", 60)?,
            max_connections: parse_num(get, "MAX_CONNECTIONS", default_max_connections())?,
            max_connections_per_ip: parse_num(get, "MAX_CONNECTIONS_PER_IP", 1000usize)?,
        };
        if http.max_connections == 0 {
            return Err(bad("MAX_CONNECTIONS", "must be at least 1"));
        }
        Ok(http)
    }
}

/// Nine tenths of the process's open-file limit: the server keeps a tenth for what else it
/// opens (the database and its pool, the model provider's connections, the listener), so a
/// full house of clients is refused one by one instead of making `accept` fail for everyone.
/// With the 20,000-file limit of the benchmark machine that is 18,000, above the 15,000 idle
/// sockets the server is meant to hold.
pub fn default_max_connections() -> usize {
    let limit = open_file_limit().unwrap_or(1024);
    (limit - limit / 10).clamp(1, 1_000_000) as usize
}

/// The soft `RLIMIT_NOFILE` of this process, if the platform tells it.
pub fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the rlimit we own and pass by valid pointer.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            // rlim_t is u64 on Linux, not on every unix.
            #[allow(clippy::useless_conversion)]
            return Some(u64::try_from(limit.rlim_cur).unwrap_or(u64::MAX));
        }
        None
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<HttpConfig, ConfigError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        HttpConfig::from_vars(&|k: &str| vars.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let h = read(&[]).unwrap();
        assert_eq!(h.header_timeout, Duration::from_secs(10));
        assert_eq!(h.body_timeout, Duration::from_secs(30));
        assert_eq!(h.keepalive_idle, Duration::from_secs(60));
        assert_eq!(h.max_connections, default_max_connections());
        assert_eq!(h.max_connections_per_ip, 1000);
    }

    #[test]
    fn the_cap_leaves_a_tenth_of_the_file_limit() {
        if let Some(limit) = open_file_limit() {
            let cap = default_max_connections() as u64;
            assert!(cap >= 1 && cap < limit.max(2), "{cap} of {limit}");
        }
    }

    #[test]
    fn zero_timeouts_and_a_zero_total_cap_are_refused() {
        for var in [
            "HTTP_HEADER_TIMEOUT_SECS",
            "HTTP_BODY_TIMEOUT_SECS",
            "HTTP_KEEPALIVE_IDLE_SECS",
            "MAX_CONNECTIONS",
        ] {
            assert_eq!(read(&[(var, "0")]).unwrap_err().var, var);
        }
        assert_eq!(
            read(&[("HTTP_BODY_TIMEOUT_SECS", "soon")]).unwrap_err().var,
            "HTTP_BODY_TIMEOUT_SECS"
        );
        let h = read(&[("MAX_CONNECTIONS_PER_IP", "0"), ("MAX_CONNECTIONS", "50")]).unwrap();
        assert_eq!((h.max_connections, h.max_connections_per_ip), (50, 0));
    }
}
