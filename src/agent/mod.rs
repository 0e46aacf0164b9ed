//! The agent: turns a user message (with history) into text deltas and tool calls.
//!
//! `Agent` is an enum of the implementations the server can run; each returns the same stream of
//! [`AgentStep`]s, so the chat core drives every agent the same way. Agents act on data only
//! through [`tools::Tools`], which is bound to the authenticated user before the agent runs.

pub mod bench;
pub mod coalesce;
pub mod language;
pub mod offline;
pub mod openai;
pub mod tools;

use chrono::NaiveDate;
use futures::stream::BoxStream;

use crate::error::Error;
use crate::model::{Message, Task, TaskChange, ToolCall, Usage};
pub use bench::BenchAgent;
pub use language::{detect_language, Language};
pub use offline::OfflineAgent;
pub use openai::OpenAiAgent;
use tools::Tools;

/// What an agent is given for one turn.
#[derive(Debug, Clone)]
pub struct AgentInput {
    /// Earlier messages of the conversation, oldest first (the new user message excluded).
    pub history: Vec<Message>,
    /// The user's new message, trimmed.
    pub content: String,
    /// The language to answer in.
    pub language: Language,
    /// The user's "today", for relative dates.
    pub today: NaiveDate,
    /// Context the user never sees but the model should (e.g. "the user stopped the previous
    /// answer"), each placed after the history message it follows.
    pub notes: Vec<ContextNote>,
}

/// A hidden context note, placed after the message with `seq == after_seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextNote {
    pub after_seq: i64,
    pub text: String,
}

/// One thing an agent did, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentStep {
    /// More assistant text.
    Delta(String),
    /// A tool ran with these arguments and returned this result.
    ToolCalled(ToolCall),
    /// A tool changed a task.
    TaskChanged(TaskChange, Task),
    /// Tokens used by a model call.
    Usage(Usage),
}

/// The steps of one turn. Dropping the stream stops the agent.
pub type StepStream = BoxStream<'static, Result<AgentStep, Error>>;

/// The agent implementations.
#[derive(Clone)]
pub enum Agent {
    Offline(OfflineAgent),
    OpenAi(OpenAiAgent),
    /// Fixed-shape answers for load runs (`BENCH_AGENT_DELTAS`).
    Bench(BenchAgent),
    /// Another agent whose deltas are grouped by a window ([`coalesce`], `STREAM_COALESCE_MS`).
    Coalesced(Box<Agent>, std::time::Duration),
}

impl Agent {
    /// The name reported by `/api/health`.
    pub fn name(&self) -> &'static str {
        match self {
            Agent::Offline(_) => "offline",
            Agent::OpenAi(_) => "openai",
            Agent::Bench(_) => "bench",
            Agent::Coalesced(a, _) => a.name(),
        }
    }

    /// Whether this agent uses hidden context notes (so the turn need not load them otherwise).
    pub fn reads_context_notes(&self) -> bool {
        match self {
            Agent::Coalesced(a, _) => a.reads_context_notes(),
            other => matches!(other, Agent::OpenAi(_)),
        }
    }

    /// This agent, its deltas grouped by `window` (itself when the window is zero).
    pub fn coalesced(self, window: std::time::Duration) -> Agent {
        if window.is_zero() {
            self
        } else {
            Agent::Coalesced(Box::new(self), window)
        }
    }

    /// Speech to text, when a model provider is configured.
    pub async fn transcribe(&self, audio: Vec<u8>, mime_type: &str) -> Result<String, Error> {
        match self {
            Agent::OpenAi(a) => a.transcribe(audio, mime_type).await,
            Agent::Coalesced(a, _) => Box::pin(a.transcribe(audio, mime_type)).await,
            Agent::Offline(_) | Agent::Bench(_) => Err(Error::NotConfigured(
                "dictation needs an OpenAI-compatible provider: set OPENAI_API_KEY or OPENAI_BASE_URL"
                    .into(),
            )),
        }
    }

    /// Runs one turn for the user `tools` is bound to.
    pub fn run(&self, tools: Tools, input: AgentInput) -> StepStream {
        match self {
            Agent::Offline(a) => a.run(tools, input),
            Agent::OpenAi(a) => a.run(tools, input),
            Agent::Bench(a) => a.run(input),
            Agent::Coalesced(a, window) => coalesce::coalesce(a.run(tools, input), *window),
        }
    }
}

/// Splits text into word-sized deltas that concatenate back to the text exactly.
pub fn word_deltas(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_space = false;
    for ch in text.chars() {
        if !ch.is_whitespace() && in_space && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        in_space = ch.is_whitespace();
        current.push(ch);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_deltas_round_trip() {
        for text in [
            "",
            "one",
            "Theek hai, 'meeting' task delete ho gaya.",
            "a  b\nc ",
            " x",
        ] {
            assert_eq!(word_deltas(text).concat(), text);
        }
        assert_eq!(word_deltas("a b c"), vec!["a ", "b ", "c"]);
    }
}
