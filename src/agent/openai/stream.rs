//! What a completion stream carries, and the reassembly of its tool calls.
//!
//! A model streams each tool call in pieces: the id and name first, then the JSON arguments
//! split at arbitrary points, several calls interleaved by `index`. The assembler collects the
//! pieces and hands back whole calls in index order once the stream ends.

use std::collections::BTreeMap;

use async_openai::types::chat::ChatCompletionMessageToolCallChunk;
use serde::Deserialize;

/// One streamed chunk, as far as the agent reads it. async-openai's own chunk type also builds
/// the id, model name, object and fingerprint as owned strings for each of the 60-odd chunks of
/// an answer; reading into this one skips past them.
#[derive(Debug, Deserialize)]
pub struct Chunk {
    pub choices: Vec<ChunkChoice>,
    pub usage: Option<ChunkUsage>,
}

#[derive(Debug, Deserialize)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: ChunkDelta,
    /// Any reason (`stop`, `tool_calls`, a provider's own): the answer is complete.
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ChunkDelta {
    pub content: Option<String>,
    pub tool_calls: Option<Vec<ChatCompletionMessageToolCallChunk>>,
}

#[derive(Debug, Deserialize)]
pub struct ChunkUsage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
}

/// One complete tool call as the model made it; `arguments` is the raw JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssembledCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

#[derive(Debug, Default)]
struct Partial {
    id: Option<String>,
    name: String,
    arguments: String,
}

/// Collects tool-call chunks of one model response.
#[derive(Debug, Default)]
pub struct ToolCallAssembler {
    calls: BTreeMap<u32, Partial>,
}

impl ToolCallAssembler {
    pub fn push(&mut self, chunk: &ChatCompletionMessageToolCallChunk) {
        let call = self.calls.entry(chunk.index).or_default();
        if let Some(id) = chunk.id.as_deref().filter(|id| !id.is_empty()) {
            call.id.get_or_insert_with(|| id.to_string());
        }
        if let Some(function) = &chunk.function {
            // Some servers repeat the name on every chunk; the first one counts.
            if let Some(name) = function.name.as_deref().filter(|n| !n.is_empty()) {
                if call.name.is_empty() {
                    call.name = name.to_string();
                }
            }
            if let Some(args) = &function.arguments {
                call.arguments.push_str(args);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The calls in index order; a call the model sent without an id gets one.
    pub fn finish(self) -> Vec<AssembledCall> {
        self.calls
            .into_iter()
            .map(|(index, p)| AssembledCall {
                id: p
                    .id
                    .unwrap_or_else(|| format!("call_{}_{index}", uuid::Uuid::new_v4().simple())),
                name: p.name,
                arguments: p.arguments,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chunk(v: serde_json::Value) -> ChatCompletionMessageToolCallChunk {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn interleaved_calls_with_split_arguments_reassemble() {
        let mut a = ToolCallAssembler::default();
        for c in [
            json!({"index": 0, "id": "call_a", "type": "function", "function": {"name": "add_task", "arguments": ""}}),
            json!({"index": 1, "id": "call_b", "type": "function", "function": {"name": "list_tasks", "arguments": "{\"sta"}}),
            json!({"index": 0, "function": {"arguments": "{\"title\": \"buy"}}),
            json!({"index": 1, "function": {"arguments": "tus\":\"pending\"}"}}),
            json!({"index": 0, "function": {"arguments": " milk\"}"}}),
        ] {
            a.push(&chunk(c));
        }
        let calls = a.finish();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].id, "call_a");
        assert_eq!(calls[0].name, "add_task");
        assert_eq!(calls[0].arguments, "{\"title\": \"buy milk\"}");
        assert_eq!(calls[1].name, "list_tasks");
        assert_eq!(calls[1].arguments, "{\"status\":\"pending\"}");
    }

    #[test]
    fn repeated_names_and_missing_ids_are_handled() {
        let mut a = ToolCallAssembler::default();
        a.push(&chunk(
            json!({"index": 0, "function": {"name": "delete_task", "arguments": "{"}}),
        ));
        a.push(&chunk(
            json!({"index": 0, "function": {"name": "delete_task", "arguments": "}"}}),
        ));
        let calls = a.finish();
        assert_eq!(calls[0].name, "delete_task");
        assert_eq!(calls[0].arguments, "{}");
        assert!(calls[0].id.starts_with("call_"));
    }

    #[test]
    fn chunks_read_what_the_agent_needs_from_any_provider() {
        // OpenAI's shape, with the fields the agent skips.
        let c: Chunk = serde_json::from_str(
            r#"{"id":"x","object":"chat.completion.chunk","created":1,"model":"m",
                "system_fingerprint":"fp","service_tier":"default",
                "choices":[{"index":0,"delta":{"role":"assistant","content":"hi","refusal":null},
                            "logprobs":null,"finish_reason":null}]}"#,
        )
        .unwrap();
        assert_eq!(c.choices[0].delta.content.as_deref(), Some("hi"));
        assert!(c.choices[0].finish_reason.is_none() && c.usage.is_none());
        // A provider's own finish reason still ends the answer; the usage chunk has no choice.
        let c: Chunk =
            serde_json::from_str(r#"{"choices":[{"index":0,"delta":{},"finish_reason":"eos"}]}"#)
                .unwrap();
        assert_eq!(c.choices[0].finish_reason.as_deref(), Some("eos"));
        let c: Chunk = serde_json::from_str(
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,
                "prompt_tokens_details":{"cached_tokens":0}}}"#,
        )
        .unwrap();
        let u = c.usage.unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (5, 2, 7)
        );
        // Tool-call pieces reach the assembler.
        let c: Chunk = serde_json::from_str(
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1",
                "type":"function","function":{"name":"add_task","arguments":"{}"}}]}}]}"#,
        )
        .unwrap();
        let mut a = ToolCallAssembler::default();
        for call in c.choices[0].delta.tool_calls.iter().flatten() {
            a.push(call);
        }
        assert_eq!(a.finish()[0].name, "add_task");
        // Something that is not a chunk is an error, not an empty chunk.
        assert!(serde_json::from_str::<Chunk>(r#"{"error":{"message":"overloaded"}}"#).is_err());
        assert!(serde_json::from_str::<Chunk>(r#"{"choices":[{"delta":{}}]}"#).is_err());
    }
}
