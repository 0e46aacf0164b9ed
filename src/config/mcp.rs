//! MCP settings: how many streamable HTTP sessions the server keeps, and for how long.
//!
//! Read from `MCP_*` variables. Each session holds a worker task and its buffers until it is
//! closed, so these bound what one user, and everyone together, may make the server keep.

use std::time::Duration;

use super::{bad, parse_num, ConfigError};

/// Limits of the MCP sessions at `/api/mcp`.
#[derive(Debug, Clone)]
pub struct McpConfig {
    /// Sessions one user may hold; a new one beyond it closes that user's least recently used.
    pub max_sessions_per_user: usize,
    /// Sessions all users together may hold; a new one beyond it is refused with 429.
    pub max_sessions: usize,
    /// A session without a request for this long is closed (its id then answers 404).
    pub session_idle: Duration,
}

impl McpConfig {
    /// Reads the MCP variables through `get`; a bad value names its variable.
    pub(super) fn from_vars(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mcp = McpConfig {
            max_sessions_per_user: parse_num(get, "MCP_MAX_SESSIONS_PER_USER", 8usize)?,
            max_sessions: parse_num(get, "MCP_MAX_SESSIONS", 1000usize)?,
            session_idle: Duration::from_secs(parse_num(get, "MCP_SESSION_IDLE_SECS", 120u64)?),
        };
        if mcp.max_sessions_per_user == 0 {
            return Err(bad("MCP_MAX_SESSIONS_PER_USER", "must be at least 1"));
        }
        if mcp.max_sessions == 0 {
            return Err(bad("MCP_MAX_SESSIONS", "must be at least 1"));
        }
        if mcp.session_idle.is_zero() {
            return Err(bad("MCP_SESSION_IDLE_SECS", "must be at least 1"));
        }
        Ok(mcp)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<McpConfig, ConfigError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        McpConfig::from_vars(&|k: &str| vars.get(k).cloned())
    }

    #[test]
    fn defaults_bound_sessions_and_their_idle_time() {
        let c = read(&[]).unwrap();
        assert_eq!(c.max_sessions_per_user, 8);
        assert_eq!(c.max_sessions, 1000);
        assert_eq!(c.session_idle, Duration::from_secs(120));
    }

    #[test]
    fn zero_limits_are_refused_by_name() {
        for var in [
            "MCP_MAX_SESSIONS_PER_USER",
            "MCP_MAX_SESSIONS",
            "MCP_SESSION_IDLE_SECS",
        ] {
            assert_eq!(read(&[(var, "0")]).unwrap_err().var, var);
        }
        assert_eq!(
            read(&[("MCP_MAX_SESSIONS", "lots")]).unwrap_err().var,
            "MCP_MAX_SESSIONS"
        );
    }
}
