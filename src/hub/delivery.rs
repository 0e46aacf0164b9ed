//! [`Delivery`]: what a socket reads of its user's stream, one event or adjacent deltas of one
//! message merged, and its WebSocket frame.

use std::sync::Arc;

use serde::Serialize;

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

#[derive(Serialize)]
struct DeltaFrame<'a> {
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
            } => serde_json::to_string(&DeltaFrame {
                kind: "stream.delta",
                thread_id: *thread_id,
                message_id: *message_id,
                delta: text,
                seq: *seq,
                count: (ends.len() > 1).then_some(ends.len()),
                request_id: request_id.as_deref(),
                pos,
            })
            .expect("delta frames serialise"),
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
