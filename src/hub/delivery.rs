//! [`Delivery`]: what a socket reads of its user's stream, one event or adjacent deltas of one
//! message merged, and its WebSocket frame.

use std::sync::Arc;

use super::position::push_decimal;
use crate::chat::event::{ChatEvent, Event};
use crate::model::{MessageId, ThreadId};

/// What a reader receives: one event, or one or more adjacent deltas of one message.
#[derive(Debug, Clone)]
pub enum Delivery {
    Event {
        event: Arc<Event>,
        pos: String,
    },
    Deltas {
        thread_id: ThreadId,
        message_id: MessageId,
        request_id: Option<String>,
        /// `seq` of the first delta.
        seq: u32,
        /// The deltas' text, one after the other.
        text: String,
        /// Where each delta ends in `text`.
        ends: Vec<u32>,
        /// The position after the last delta.
        pos: String,
    },
}

impl Delivery {
    /// The position after this delivery.
    pub fn pos(&self) -> &str {
        match self {
            Delivery::Event { pos, .. } | Delivery::Deltas { pos, .. } => pos,
        }
    }

    /// The WebSocket frame: the event's JSON with `pos`; several deltas as one `stream.delta`
    /// whose `count` says how many it covers (its `seq` is the first one's).
    pub fn to_text(&self) -> String {
        match self {
            Delivery::Event { event, pos } => {
                let json = event.to_json();
                let mut out = String::with_capacity(json.len() + pos.len() + 10);
                out.push_str(&json[..json.len() - 1]);
                out.push_str(",\"pos\":\"");
                out.push_str(pos);
                out.push_str("\"}");
                out
            }
            Delivery::Deltas {
                thread_id,
                message_id,
                request_id,
                seq,
                text,
                ends,
                pos,
            } => delta_frame(DeltaFrame {
                thread_id: *thread_id,
                message_id: *message_id,
                delta: text,
                seq: *seq,
                count: ends.len(),
                request_id: request_id.as_deref(),
                pos,
            }),
        }
    }

    /// The events this delivery stands for, one `stream.delta` per delta.
    pub fn into_events(self, user: &crate::model::UserId) -> Vec<Arc<Event>> {
        match self {
            Delivery::Event { event, .. } => vec![event],
            Delivery::Deltas {
                thread_id,
                message_id,
                request_id,
                seq,
                text,
                ends,
                ..
            } => {
                let mut start = 0usize;
                ends.iter()
                    .enumerate()
                    .map(|(i, &end)| {
                        let delta = text[start..end as usize].to_string();
                        start = end as usize;
                        Arc::new(Event::new(
                            user.clone(),
                            ChatEvent::StreamDelta {
                                thread_id,
                                message_id,
                                delta,
                                seq: seq + i as u32,
                            },
                            request_id.clone(),
                        ))
                    })
                    .collect()
            }
        }
    }
}

/// A `stream.delta` frame's fields.
struct DeltaFrame<'a> {
    thread_id: ThreadId,
    message_id: MessageId,
    delta: &'a str,
    seq: u32,
    /// How many deltas it merges; said only when more than one.
    count: usize,
    request_id: Option<&'a str>,
    pos: &'a str,
}

/// The `stream.delta` frame, written by hand: it is the frame a socket writes most, one per
/// delta at a model's pace, and serde's general path (escaping every key, formatting each
/// UUID through `fmt`) cost more than the rest of the delivery. The fields and their order are
/// those of `ChatEvent::StreamDelta` as serde writes it, with `count` and `pos` after.
fn delta_frame(f: DeltaFrame<'_>) -> String {
    let mut out =
        Vec::with_capacity(160 + f.delta.len() + f.pos.len() + f.request_id.map_or(0, str::len));
    let mut uuid = uuid::Uuid::encode_buffer();
    out.extend_from_slice(br#"{"type":"stream.delta","thread_id":""#);
    out.extend_from_slice(
        f.thread_id
            .0
            .hyphenated()
            .encode_lower(&mut uuid)
            .as_bytes(),
    );
    out.extend_from_slice(br#"","message_id":""#);
    out.extend_from_slice(
        f.message_id
            .0
            .hyphenated()
            .encode_lower(&mut uuid)
            .as_bytes(),
    );
    out.extend_from_slice(br#"","delta":"#);
    push_json_str(&mut out, f.delta);
    out.extend_from_slice(br#","seq":"#);
    push_decimal(&mut out, u64::from(f.seq), 1);
    if f.count > 1 {
        out.extend_from_slice(br#","count":"#);
        push_decimal(&mut out, f.count as u64, 1);
    }
    if let Some(request_id) = f.request_id {
        out.extend_from_slice(br#","request_id":"#);
        push_json_str(&mut out, request_id);
    }
    // A position is digits, hex, dots and dashes (`position`): nothing to escape.
    out.extend_from_slice(br#","pos":""#);
    out.extend_from_slice(f.pos.as_bytes());
    out.extend_from_slice(b"\"}");
    String::from_utf8(out).expect("built from UTF-8 pieces")
}

/// Appends `s` as a JSON string, as serde_json writes it: text with nothing to escape (no
/// quote, backslash or control character), which is nearly all text, is copied as it is.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).expect("strings serialise");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    /// The frame as serde writes it: what the hand-written one must equal, byte for byte.
    #[derive(Serialize)]
    struct Reference<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        thread_id: ThreadId,
        message_id: MessageId,
        delta: &'a str,
        seq: u32,
        #[serde(skip_serializing_if = "Option::is_none")]
        count: Option<usize>,
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<&'a str>,
        pos: &'a str,
    }

    #[test]
    fn delta_frames_are_what_serde_would_write() {
        let (thread_id, message_id) = (ThreadId::new(), MessageId::new());
        let texts = [
            "w0 ",
            "",
            "quote \" and backslash \\ here",
            "line\nbreak\ttab\u{1}\u{1f}",
            "Mera task 🙂 ہے \u{7f}",
        ];
        for delta in texts {
            for request_id in [None, Some("r-1"), Some("odd \"id\"\n")] {
                for count in [1usize, 3] {
                    let (seq, pos) = (4_000_000_000u32, "1795000000123.abc.abc-11");
                    let ours = delta_frame(DeltaFrame {
                        thread_id,
                        message_id,
                        delta,
                        seq,
                        count,
                        request_id,
                        pos,
                    });
                    let theirs = serde_json::to_string(&Reference {
                        kind: "stream.delta",
                        thread_id,
                        message_id,
                        delta,
                        seq,
                        count: (count > 1).then_some(count),
                        request_id,
                        pos,
                    })
                    .unwrap();
                    assert_eq!(ours, theirs);
                }
            }
        }
    }
}
