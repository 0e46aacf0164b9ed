//! WebSocket settings: the limits and timers of the WebSocket transport.
//!
//! Read from `WS_*` variables; each bounds what one socket or one user may cost the server. The
//! `RESUME_*` variables bound what the hub keeps of each user's stream for resumes.

use std::time::Duration;

use super::{bad, parse_num, ConfigError};

/// Limits and timers of the WebSocket transport.
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// How long a socket may stay unauthenticated (close 4408 after).
    pub auth_timeout: Duration,
    /// Server ping period; a peer that misses two pongs is dropped.
    pub ping_interval: Duration,
    /// Time between a token's expiry (`token_expired` event) and close 4401, for a refresh.
    pub token_grace: Duration,
    /// Largest client frame; bigger ones close the socket with 1009.
    pub max_frame_bytes: usize,
    /// Events a socket may fall behind (adjacent deltas merged) before it is closed with 1013.
    pub send_queue: usize,
    /// What the hub keeps of each user's stream, for resumes and slow sockets (its
    /// `max_behind` is `send_queue`).
    pub resume: crate::hub::HubSettings,
    /// Longest a single write may take before the peer is considered unable to drain.
    pub write_timeout: Duration,
    /// Open sockets one user may hold.
    pub max_sockets_per_user: usize,
}

impl WsConfig {
    /// Reads the WebSocket variables through `get`; a bad value names its variable.
    pub(super) fn from_vars(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let ws = WsConfig {
            auth_timeout: Duration::from_secs(parse_num(get, "WS_AUTH_TIMEOUT_SECS", 5u64)?),
            ping_interval: Duration::from_secs(parse_num(get, "WS_PING_INTERVAL_SECS", 30u64)?),
            token_grace: Duration::from_secs(parse_num(get, "WS_TOKEN_GRACE_SECS", 5u64)?),
            max_frame_bytes: parse_num(get, "WS_MAX_FRAME_BYTES", 64 * 1024usize)?,
            send_queue: parse_num(get, "WS_SEND_QUEUE", 1024usize)?,
            write_timeout: Duration::from_secs(parse_num(get, "WS_WRITE_TIMEOUT_SECS", 10u64)?),
            max_sockets_per_user: parse_num(get, "WS_MAX_SOCKETS_PER_USER", 64usize)?,
            resume: crate::hub::HubSettings::default(),
        };
        let d = &ws.resume;
        let resume = crate::hub::HubSettings {
            max_behind: d.max_behind,
            window: Duration::from_secs(parse_num(get, "RESUME_WINDOW_SECS", d.window.as_secs())?),
            max_events_per_user: parse_num(get, "RESUME_MAX_EVENTS", d.max_events_per_user)?,
            max_bytes_per_user: parse_num(get, "RESUME_MAX_USER_BYTES", d.max_bytes_per_user)?,
            max_bytes: parse_num(get, "RESUME_MAX_BYTES", d.max_bytes)?,
        };
        let ws = WsConfig { resume, ..ws };
        if ws.ping_interval.is_zero() {
            return Err(bad("WS_PING_INTERVAL_SECS", "must be at least 1"));
        }
        if ws.send_queue == 0 {
            return Err(bad("WS_SEND_QUEUE", "must be at least 1"));
        }
        if ws.max_sockets_per_user == 0 {
            return Err(bad("WS_MAX_SOCKETS_PER_USER", "must be at least 1"));
        }
        Ok(ws)
    }
}
