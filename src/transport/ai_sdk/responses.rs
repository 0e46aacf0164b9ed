//! What `/api/ai-sdk/ws` sends: `WebSocketChatTransportResponse` frames, and the stream of
//! them that answers one request.

use futures::StreamExt;
use serde_json::json;

use super::chunks::error_text;
use super::{chunk_stream, Cut, Source};
use crate::error::ErrorBody;
use crate::model::ThreadId;

/// What a request's stream yields.
pub enum Out {
    Frame(String),
    /// The request's last frame: it is over.
    Last(String, String),
}

/// The frames of one request: its turn's chunks after `after`, then `end` (or `error` when the
/// turn could not be followed to its end).
pub fn frames(
    request_id: String,
    source: Source,
    thread: ThreadId,
    after: Option<u64>,
) -> impl futures::Stream<Item = Out> + Send + 'static {
    let chunks = Box::pin(chunk_stream(source, thread));
    futures::stream::unfold(Some((chunks, request_id)), move |state| async move {
        let (mut chunks, request_id) = state?;
        loop {
            let out = match chunks.next().await {
                Some(Ok((sequence, _))) if after.is_some_and(|a| sequence <= a) => continue,
                Some(Ok((sequence, chunk))) => {
                    let f = json!({"type": "chunk", "requestId": request_id,
                        "sequence": sequence, "chunk": chunk});
                    Out::Frame(f.to_string())
                }
                Some(Err(Cut)) => {
                    let body = ErrorBody {
                        code: "stream_lost".into(),
                        message: "the turn could not be followed to its end; resume again".into(),
                    };
                    return Some((
                        Out::Last(request_id.clone(), error_frame(&request_id, &body)),
                        None,
                    ));
                }
                None => {
                    let end = frame(&request_id, "end");
                    return Some((Out::Last(request_id, end), None));
                }
            };
            return Some((out, Some((chunks, request_id))));
        }
    })
}

/// A frame with only a type and a `requestId` (`start`, `end`, `no-active`).
pub fn frame(request_id: &str, kind: &str) -> String {
    json!({"type": kind, "requestId": request_id}).to_string()
}

/// The `error` frame of `body`; a bad field of a frame is `invalid_frame`, as on `/api/ws`.
pub fn error_frame(request_id: &str, body: &ErrorBody) -> String {
    let mut body = body.clone();
    if body.code == "invalid_request" {
        body.code = "invalid_frame".into();
    }
    json!({"type": "error", "requestId": request_id, "errorText": error_text(&body)}).to_string()
}
