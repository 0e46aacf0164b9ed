//! The two protocols the socket scenarios speak: ours (`/api/ws`) and the Vercel AI SDK's
//! `WebSocketChatTransport` (`/api/ai-sdk/ws`). Each turns a message into the frame that asks
//! for a turn and reads what the server sends back into the few facts the scenarios time, so
//! the same scenario measures both over the same server.

use serde::Deserialize;
use serde_json::json;

use super::client::Frame;

/// Which protocol a socket speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Protocol {
    /// Ours: `message` frames, `stream.delta` … `message.done` back.
    #[default]
    Agentwire,
    /// The AI SDK's: `send` frames, `chunk`s (`text-delta` …) then `end` back.
    AiSdk,
}

/// A turn's request id, and what its frames hold (checked without parsing them).
#[derive(Debug, Clone)]
pub struct TurnKey {
    pub request_id: String,
    pub marker: String,
}

/// What a frame tells the socket that has turn `marker` in flight.
#[derive(Debug, PartialEq, Eq)]
pub enum Heard {
    /// Text deltas of the turn in flight: how many, and the `seq` of the first when the
    /// protocol numbers deltas (ours does; the AI SDK numbers chunks, not deltas).
    Delta { count: u64, seq: Option<u64> },
    /// Text deltas of another turn of the same user (another socket's).
    OtherDelta(u64),
    /// The server took the turn: our `message.added` (with the thread to continue in) or the
    /// AI SDK's `start` chunk.
    Added { thread_id: Option<String> },
    /// The turn ended with its whole answer.
    Done,
    /// The turn ended with this error code.
    Failed(String),
    /// Anything else (another turn's events, tool calls, steps).
    Other,
}

/// How every `stream.delta` frame begins (the server writes `type` first).
pub(super) const DELTA_PREFIX: &str = "{\"type\":\"stream.delta\"";

/// What an AI SDK text delta chunk holds, wherever its keys fall.
const TEXT_DELTA: &str = "\"type\":\"text-delta\"";

impl Protocol {
    /// The socket path on the server.
    pub fn path(self) -> &'static str {
        match self {
            Protocol::Agentwire => "/api/ws",
            Protocol::AiSdk => "/api/ai-sdk/ws",
        }
    }

    /// Whether the server greets a new socket with `ready` (ours) or says nothing until asked.
    pub fn greets(self) -> bool {
        self == Protocol::Agentwire
    }

    /// The key by which the frames of the turn `request_id` are recognised.
    pub fn key(self, request_id: String) -> TurnKey {
        let marker = match self {
            Protocol::Agentwire => format!(",\"request_id\":\"{request_id}\""),
            Protocol::AiSdk => format!("\"requestId\":\"{request_id}\""),
        };
        TurnKey { request_id, marker }
    }

    /// The frame asking for a turn: `message` in our thread `thread_id` (a new one when none),
    /// or an AI SDK `send` of `message` in the chat `chat_id` (created on first use; the
    /// server keeps its history, so only the new message is sent).
    pub fn ask(
        self,
        request_id: &str,
        message: &str,
        thread_id: Option<&str>,
        chat_id: &str,
    ) -> String {
        match self {
            Protocol::Agentwire => {
                let mut frame =
                    json!({"type": "message", "content": message, "request_id": request_id});
                if let Some(t) = thread_id {
                    frame["thread_id"] = json!(t);
                }
                frame.to_string()
            }
            Protocol::AiSdk => json!({
                "type": "send", "requestId": request_id, "id": chat_id,
                "trigger": "submit-message", "headers": {}, "body": {},
                "messages": [{"id": format!("{request_id}-u"), "role": "user",
                    "parts": [{"type": "text", "text": message}]}],
            })
            .to_string(),
        }
    }

    /// Reads one frame for the socket whose turn in flight is `turn` (none: between turns).
    /// Deltas, most of the traffic, are recognised without a JSON parse.
    pub fn read(self, text: &str, turn: Option<&TurnKey>) -> Heard {
        match self {
            Protocol::Agentwire => read_ours(text, turn),
            Protocol::AiSdk => read_ai_sdk(text, turn),
        }
    }
}

fn read_ours(text: &str, turn: Option<&TurnKey>) -> Heard {
    if text.starts_with(DELTA_PREFIX) {
        let count = deltas_in(text);
        return match turn {
            Some(t) if text.contains(&t.marker) => Heard::Delta {
                count,
                seq: seq_of(text),
            },
            _ => Heard::OtherDelta(count),
        };
    }
    let Some(turn) = turn else {
        return Heard::Other;
    };
    let frame = Frame::parse(text);
    if frame.request_id.as_deref() != Some(turn.request_id.as_str()) {
        return Heard::Other;
    }
    match frame.kind.as_str() {
        "message.added" => Heard::Added {
            thread_id: frame.thread_id,
        },
        "message.done" => Heard::Done,
        "error" => Heard::Failed(frame.code.unwrap_or_else(|| "error_without_code".into())),
        _ => Heard::Other,
    }
}

/// The fields of an AI SDK response frame read when it is not a text delta.
#[derive(Deserialize)]
struct AiSdkFrame {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(rename = "errorText", default)]
    error_text: Option<String>,
    #[serde(default)]
    chunk: Option<AiSdkChunk>,
}

#[derive(Deserialize)]
struct AiSdkChunk {
    #[serde(rename = "type", default)]
    kind: String,
}

fn read_ai_sdk(text: &str, turn: Option<&TurnKey>) -> Heard {
    // A socket hears only its own requests: a frame without the marker is an earlier turn's.
    if !turn.is_some_and(|t| text.contains(&t.marker)) {
        return Heard::Other;
    }
    if text.contains(TEXT_DELTA) {
        return Heard::Delta {
            count: 1,
            seq: None,
        };
    }
    let Ok(frame) = serde_json::from_str::<AiSdkFrame>(text) else {
        return Heard::Failed("unparseable".into());
    };
    match (frame.kind.as_str(), frame.chunk) {
        ("chunk", Some(chunk)) if chunk.kind == "start" => Heard::Added { thread_id: None },
        ("chunk", Some(chunk)) if chunk.kind == "error" => Heard::Other,
        ("end", _) => Heard::Done,
        // `errorText` is `code: message`; the code is what the summary counts.
        ("error", _) => Heard::Failed(
            frame
                .error_text
                .as_deref()
                .and_then(|t| t.split(':').next())
                .unwrap_or("error_without_code")
                .to_string(),
        ),
        ("no-active", _) => Heard::Failed("no_active".into()),
        _ => Heard::Other,
    }
}

/// How many deltas a `stream.delta` frame covers: its `count` when it merges several, else 1.
/// Read without a JSON parse: `count` follows the text, so the last one in the frame is it.
pub(super) fn deltas_in(frame: &str) -> u64 {
    number_after(frame, ",\"count\":").unwrap_or(1)
}

/// The `seq` of a `stream.delta` frame, read without a JSON parse: the delta's text comes
/// before it, so the last `"seq":` of the frame is it.
pub(super) fn seq_of(frame: &str) -> Option<u64> {
    number_after(frame, ",\"seq\":")
}

fn number_after(frame: &str, key: &str) -> Option<u64> {
    let at = frame.rfind(key)?;
    let digits: String = frame[at + key.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merged_delta_counts_as_many_as_it_covers() {
        let one = r#"{"type":"stream.delta","delta":"a,\"count\":9","seq":3,"pos":"1.a.a-1"}"#;
        assert_eq!(deltas_in(one), 1);
        let merged = r#"{"type":"stream.delta","delta":"ab","seq":3,"count":12,"pos":"1.a.a-2"}"#;
        assert_eq!(deltas_in(merged), 12);
    }

    #[test]
    fn the_seq_is_read_after_the_delta_text() {
        let frame = r#"{"type":"stream.delta","delta":"a,\"seq\":9","seq":31,"count":2}"#;
        assert_eq!(seq_of(frame), Some(31));
        assert_eq!(seq_of(r#"{"type":"stream.delta","delta":"x"}"#), None);
    }

    #[test]
    fn our_frames_are_read_for_the_turn_in_flight_only() {
        let p = Protocol::Agentwire;
        let k = p.key("s1-t1".into());
        let m = Some(&k);
        let mine = r#"{"type":"stream.delta","thread_id":"t","request_id":"s1-t1","delta":"hi","seq":4,"count":2}"#;
        assert_eq!(
            p.read(mine, m),
            Heard::Delta {
                count: 2,
                seq: Some(4)
            }
        );
        let other = mine.replace("s1-t1", "s2-t1");
        assert_eq!(p.read(&other, m), Heard::OtherDelta(2));
        assert_eq!(p.read(mine, None), Heard::OtherDelta(2));
        let added = r#"{"type":"message.added","thread_id":"th","request_id":"s1-t1"}"#;
        assert_eq!(
            p.read(added, m),
            Heard::Added {
                thread_id: Some("th".into())
            }
        );
        let done = r#"{"type":"message.done","request_id":"s1-t1"}"#;
        assert_eq!(p.read(done, m), Heard::Done);
        // A request id that merely ends like ours is another turn's.
        let done_elsewhere = r#"{"type":"message.done","request_id":"xs1-t1"}"#;
        assert_eq!(p.read(done_elsewhere, m), Heard::Other);
        let failed = r#"{"type":"error","code":"thread_busy","request_id":"s1-t1"}"#;
        assert_eq!(p.read(failed, m), Heard::Failed("thread_busy".into()));
    }

    #[test]
    fn ai_sdk_frames_are_read_whatever_their_key_order() {
        let p = Protocol::AiSdk;
        let k = p.key("s1-t1".into());
        let m = Some(&k);
        let delta = r#"{"chunk":{"delta":"hi","id":"x","type":"text-delta"},"requestId":"s1-t1","sequence":4,"type":"chunk"}"#;
        assert_eq!(
            p.read(delta, m),
            Heard::Delta {
                count: 1,
                seq: None
            }
        );
        assert_eq!(p.read(delta, None), Heard::Other);
        let start = r#"{"type":"chunk","requestId":"s1-t1","sequence":0,"chunk":{"type":"start"}}"#;
        assert_eq!(p.read(start, m), Heard::Added { thread_id: None });
        let end = r#"{"requestId":"s1-t1","type":"end"}"#;
        assert_eq!(p.read(end, m), Heard::Done);
        let error = r#"{"errorText":"rate_limited: slow down","requestId":"s1-t1","type":"error"}"#;
        assert_eq!(p.read(error, m), Heard::Failed("rate_limited".into()));
        let sent: serde_json::Value =
            serde_json::from_str(&p.ask("s1-t1", "hello", None, "chat-1")).unwrap();
        assert_eq!(sent["type"], "send");
        assert_eq!(sent["id"], "chat-1");
        assert_eq!(sent["messages"][0]["parts"][0]["text"], "hello");
    }
}
