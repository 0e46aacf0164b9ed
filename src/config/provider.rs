//! Model-provider settings: the OpenAI-compatible server the model-driven agent talks to, and
//! how that agent runs (turn limits, timeout, sampling, offline fallback, dictation model).
//!
//! Read from `OPENAI_*` and `AGENT_*` variables; the API key never appears in `Debug` output.

use std::fmt;
use std::time::Duration;

use super::{bad, parse_num, ConfigError};

/// Settings of the OpenAI-compatible model provider and the model-driven agent.
#[derive(Clone)]
pub struct ProviderConfig {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    pub model: String,
    /// Model calls (each possibly followed by tool calls) one turn may make.
    pub max_turns: u32,
    /// Longest a whole turn may take with the model.
    pub timeout: Duration,
    pub temperature: Option<f32>,
    pub max_tokens: Option<u32>,
    /// Answer with the offline agent when the provider is unavailable.
    pub fallback_offline: bool,
    /// Speech-to-text model for dictation (`input.transcribe`).
    pub transcribe_model: String,
}

impl ProviderConfig {
    /// Reads the provider's variables through `get`; a bad value names its variable.
    pub(super) fn from_vars(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let base_url = get("OPENAI_BASE_URL");
        if let Some(url) = &base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad(
                    "OPENAI_BASE_URL",
                    "expected an http:// or https:// URL",
                ));
            }
        }
        let max_turns = parse_num(get, "AGENT_MAX_TURNS", 5u32)?;
        if max_turns == 0 {
            return Err(bad("AGENT_MAX_TURNS", "must be at least 1"));
        }
        let timeout_secs = parse_num(get, "AGENT_TIMEOUT_SECS", 60u64)?;
        if timeout_secs == 0 {
            return Err(bad("AGENT_TIMEOUT_SECS", "must be at least 1"));
        }
        let temperature = match get("AGENT_TEMPERATURE") {
            None => None,
            Some(v) => match v.parse::<f32>() {
                Ok(t) if (0.0..=2.0).contains(&t) => Some(t),
                _ => {
                    return Err(bad(
                        "AGENT_TEMPERATURE",
                        format!("expected a number from 0 to 2, got {v:?}"),
                    ))
                }
            },
        };
        let max_tokens = match get("AGENT_MAX_TOKENS") {
            None => None,
            Some(_) => Some(parse_num(get, "AGENT_MAX_TOKENS", 0u32)?),
        };
        let fallback_offline = match get("AGENT_FALLBACK").as_deref() {
            None | Some("none") => false,
            Some("offline") => true,
            Some(other) => {
                return Err(bad(
                    "AGENT_FALLBACK",
                    format!("expected offline or none, got {other:?}"),
                ))
            }
        };
        Ok(ProviderConfig {
            api_key: get("OPENAI_API_KEY"),
            base_url,
            model: get("OPENAI_MODEL").unwrap_or_else(|| "gpt-4o-mini".into()),
            max_turns,
            timeout: Duration::from_secs(timeout_secs),
            temperature,
            max_tokens,
            fallback_offline,
            transcribe_model: get("OPENAI_TRANSCRIBE_MODEL").unwrap_or_else(|| "whisper-1".into()),
        })
    }

    /// A model provider is configured: a key, or a base URL of a server that needs none.
    pub fn is_configured(&self) -> bool {
        self.api_key.is_some() || self.base_url.is_some()
    }
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("max_turns", &self.max_turns)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
