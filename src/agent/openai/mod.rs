//! The model-driven agent: any OpenAI-compatible Chat Completions server, streamed, with the
//! task tools declared as function tools.
//!
//! One turn is a loop: stream a completion, forward its text as deltas, reassemble its tool
//! calls, run each against the authenticated user's tools, give the results back, and repeat
//! until the model answers in text or `AGENT_MAX_TURNS` is reached. Opening a stream is retried
//! (connect errors, 429, 5xx); once text has flowed a failure ends the message as `failed`.
//! Provider errors are logged here and reach clients only as `agent_unavailable` or `internal`.

mod context;
mod events;
mod retry;
mod stream;

use std::sync::Arc;
use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::ReqwestService;
use async_openai::Client;
use futures::StreamExt;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::offline::OfflineAgent;
use super::tools::{tool_specs, Tools};
use super::{AgentInput, AgentStep, StepStream};
use crate::config::ProviderConfig;
use crate::error::{AgentError, Error};
use crate::model::{ToolCall, Usage};
use retry::ProviderRetry;
use stream::{Chunk, ToolCallAssembler};

/// Attempts at opening one completion stream (the first try included).
const TRIES: u32 = 3;

/// Cheap-to-clone handle to a configured provider.
#[derive(Clone)]
pub struct OpenAiAgent {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client<OpenAIConfig>,
    model: String,
    max_turns: u32,
    timeout: Duration,
    /// Answers instead when the provider is unavailable (`AGENT_FALLBACK=offline`).
    fallback: Option<OfflineAgent>,
    /// The tool declarations of every request, serialised once: they never change.
    tools: Box<RawValue>,
    temperature: Option<f32>,
    max_tokens: Option<u32>,
    transcribe_model: String,
}

impl OpenAiAgent {
    pub fn new(config: &ProviderConfig, fallback: Option<OfflineAgent>) -> Self {
        let mut openai =
            OpenAIConfig::new().with_api_key(config.api_key.clone().unwrap_or_default());
        if let Some(base) = &config.base_url {
            openai = openai.with_api_base(base.trim_end_matches('/'));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client builds");
        let service = tower::ServiceBuilder::new()
            .map_response(events::one_event_per_chunk)
            .layer(tower::retry::RetryLayer::new(ProviderRetry::new(
                TRIES,
                Duration::from_millis(250),
                Duration::from_secs(8),
            )))
            .service(ReqwestService::new(http));
        let tools =
            serde_json::value::to_raw_value(&tool_declarations()).expect("tool schemas serialise");
        OpenAiAgent {
            inner: Arc::new(Inner {
                client: Client::with_config(openai).with_http_service(service),
                model: config.model.clone(),
                max_turns: config.max_turns,
                timeout: config.timeout,
                fallback,
                tools,
                temperature: config.temperature,
                max_tokens: config.max_tokens,
                transcribe_model: config.transcribe_model.clone(),
            }),
        }
    }

    pub fn model(&self) -> &str {
        &self.inner.model
    }

    /// Speech to text through the provider's transcription endpoint (retried like a
    /// completion). `mime_type` names the recording's format, e.g. `audio/webm`.
    pub async fn transcribe(&self, audio: Vec<u8>, mime_type: &str) -> Result<String, Error> {
        use async_openai::types::audio::{AudioInput, CreateTranscriptionRequestArgs};
        use async_openai::types::InputSource;
        let filename = format!("recording.{}", audio_extension(mime_type));
        let request = CreateTranscriptionRequestArgs::default()
            .file(AudioInput {
                source: InputSource::VecU8 {
                    filename,
                    vec: audio,
                },
            })
            .model(self.inner.transcribe_model.clone())
            .build()
            .map_err(|e| Error::Agent(AgentError::Failed(e.to_string())))?;
        let audio_api = self.inner.client.audio();
        let transcriptions = audio_api.transcription();
        // Raw: compatible servers (whisper.cpp, vLLM …) answer `{"text"}` without the usage
        // block the typed response requires.
        match tokio::time::timeout(self.inner.timeout, transcriptions.create_raw(request)).await {
            Ok(Ok(bytes)) => serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("text")?.as_str().map(str::to_string))
                .ok_or_else(|| {
                    Error::Agent(AgentError::Failed("transcription without text".into()))
                }),
            Ok(Err(e)) => Err(classify(e, false)),
            Err(_) => Err(Error::AgentUnavailable(AgentError::Unavailable(
                "transcription timed out".into(),
            ))),
        }
    }

    /// Runs one turn. The conversation with the provider runs in its own task feeding a small
    /// channel; dropping the returned stream stops it.
    pub fn run(&self, tools: Tools, input: AgentInput) -> StepStream {
        let (tx, rx) = mpsc::channel(64);
        let inner = self.inner.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = drive(&inner, &tools, &input, &tx) => {}
                // The turn went away (cancelled): stop talking to the provider.
                _ = tx.closed() => {}
            }
        });
        futures::stream::unfold(rx, |mut rx| async move {
            let step = rx.recv().await?;
            Some((step, rx))
        })
        .boxed()
    }
}

/// The task tools as Chat Completions function declarations.
pub fn tool_declarations() -> Vec<Value> {
    tool_specs()
        .into_iter()
        .map(|t| {
            json!({"type": "function", "function": {
                "name": t.name, "description": t.description, "parameters": t.parameters,
            }})
        })
        .collect()
}

type Sender = mpsc::Sender<Result<AgentStep, Error>>;

/// Whether anything reached the turn yet; decides between `unavailable` and `failed`.
#[derive(Default)]
struct Progress {
    produced: bool,
}

async fn drive(inner: &Inner, tools: &Tools, input: &AgentInput, tx: &Sender) {
    let mut progress = Progress::default();
    let outcome = tokio::time::timeout(
        inner.timeout,
        converse(inner, tools, input, tx, &mut progress),
    )
    .await;
    let error = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e,
        Err(_) if progress.produced => Error::Agent(AgentError::Failed("timed out".into())),
        Err(_) => Error::AgentUnavailable(AgentError::Unavailable("timed out".into())),
    };
    if let (Error::AgentUnavailable(cause), false, Some(offline)) =
        (&error, progress.produced, &inner.fallback)
    {
        tracing::warn!(error = %cause, "model provider unavailable; answering offline");
        let mut steps = offline.run(tools.clone(), input.clone());
        while let Some(step) = steps.next().await {
            if tx.send(step).await.is_err() {
                return;
            }
        }
        return;
    }
    let _ = tx.send(Err(error)).await;
}

/// The tool loop. Errors are already classified for the client.
async fn converse(
    inner: &Inner,
    tools: &Tools,
    input: &AgentInput,
    tx: &Sender,
    progress: &mut Progress,
) -> Result<(), Error> {
    let system = context::system_prompt(input.language, input.today);
    let mut messages = context::messages(&system, &input.history, &input.notes, &input.content);
    for _ in 0..inner.max_turns {
        let mut chunks = inner
            .client
            .chat()
            .create_stream_byot::<_, Chunk>(CompletionRequest::new(inner, &messages))
            .await
            .map_err(|e| classify(e, progress.produced))?;
        let mut text = String::new();
        let mut calls = ToolCallAssembler::default();
        let mut finished = false;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| classify(e, true))?;
            if let Some(u) = chunk.usage {
                let usage = Usage {
                    prompt_tokens: u.prompt_tokens,
                    completion_tokens: u.completion_tokens,
                    total_tokens: u.total_tokens,
                };
                send(tx, AgentStep::Usage(usage)).await?;
            }
            for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
                if let Some(delta) = choice.delta.content.filter(|d| !d.is_empty()) {
                    text.push_str(&delta);
                    progress.produced = true;
                    send(tx, AgentStep::Delta(delta)).await?;
                }
                for call in choice.delta.tool_calls.iter().flatten() {
                    calls.push(call);
                }
                finished |= choice.finish_reason.is_some();
            }
        }
        if !finished {
            return Err(Error::Agent(AgentError::Failed(
                "the stream ended before the answer did".into(),
            )));
        }
        if calls.is_empty() {
            return Ok(());
        }
        let calls = calls.finish();
        let mut assistant = json!({"role": "assistant", "tool_calls": calls.iter().map(|c| json!({
            "id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments},
        })).collect::<Vec<_>>()});
        if !text.is_empty() {
            assistant["content"] = json!(text);
        }
        messages.push(assistant);
        for call in calls {
            let (arguments, result, outcome) = match serde_json::from_str::<Value>(&call.arguments)
            {
                Ok(args) => {
                    let (result, outcome) = tools.call(&call.name, &args).await?;
                    (args, result, outcome)
                }
                Err(_) => {
                    let result = json!({"ok": false, "error": "invalid_arguments",
                        "message": "arguments must be a JSON object matching the tool's schema"});
                    (Value::String(call.arguments.clone()), result, None)
                }
            };
            progress.produced = true;
            messages.push(
                json!({"role": "tool", "tool_call_id": call.id, "content": result.to_string()}),
            );
            send(
                tx,
                AgentStep::ToolCalled(ToolCall {
                    id: Some(call.id),
                    tool_name: call.name,
                    arguments,
                    result,
                }),
            )
            .await?;
            if let Some((change, task)) = outcome.as_ref().and_then(|o| o.change()) {
                send(tx, AgentStep::TaskChanged(change, task.clone())).await?;
            }
        }
    }
    Err(Error::Agent(AgentError::Failed(format!(
        "no answer after {} model calls (AGENT_MAX_TURNS)",
        inner.max_turns
    ))))
}

/// The body of one completion request: the agent's fixed settings and this call's messages,
/// serialised straight from the JSON the context was built as.
#[derive(Serialize)]
struct CompletionRequest<'a> {
    model: &'a str,
    messages: &'a [Value],
    tools: &'a RawValue,
    stream: bool,
    stream_options: StreamOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
}

/// Asks for a last chunk with the call's token usage.
#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

impl<'a> CompletionRequest<'a> {
    fn new(inner: &'a Inner, messages: &'a [Value]) -> Self {
        CompletionRequest {
            model: &inner.model,
            messages,
            tools: &inner.tools,
            stream: true,
            stream_options: StreamOptions {
                include_usage: true,
            },
            temperature: inner.temperature,
            max_tokens: inner.max_tokens,
        }
    }
}

async fn send(tx: &Sender, step: AgentStep) -> Result<(), Error> {
    // A closed channel means the turn is gone; the select in `run` ends this task.
    let _ = tx.send(Ok(step)).await;
    Ok(())
}

/// Maps a provider error to what the client may learn: the provider could not be reached or
/// refused for load (`agent_unavailable`), or it failed (`internal`). The cause is kept for
/// the log only.
fn classify(e: OpenAIError, produced: bool) -> Error {
    let unavailable = match &e {
        OpenAIError::ApiError(r) => {
            r.status_code.as_u16() == 429 || r.status_code.is_server_error()
        }
        OpenAIError::Reqwest(r) => r.is_connect() || r.is_timeout() || r.is_request(),
        _ => false,
    };
    let cause = describe(&e);
    if unavailable && !produced {
        Error::AgentUnavailable(AgentError::Unavailable(cause))
    } else {
        Error::Agent(AgentError::Failed(cause))
    }
}

/// The file extension providers use to recognise a recording's format.
fn audio_extension(mime_type: &str) -> &'static str {
    let media = mime_type.split(';').next().unwrap_or("").trim();
    match media {
        "audio/webm" => "webm",
        "audio/ogg" | "audio/opus" => "ogg",
        "audio/mpeg" | "audio/mp3" => "mp3",
        "audio/mp4" | "audio/m4a" | "audio/x-m4a" | "audio/aac" => "m4a",
        "audio/flac" | "audio/x-flac" => "flac",
        _ => "wav",
    }
}

/// A log line for a provider error without its body (which may echo the prompt).
fn describe(e: &OpenAIError) -> String {
    match e {
        OpenAIError::ApiError(r) => format!("HTTP {}", r.status_code),
        OpenAIError::Reqwest(r) => format!("transport: {r}"),
        OpenAIError::JSONDeserialize(err, _) => format!("unreadable chunk: {err}"),
        OpenAIError::StreamError(err) => format!("stream: {err}"),
        other => other.to_string(),
    }
}
