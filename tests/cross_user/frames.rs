//! Every client frame type of the WebSocket protocol, as Bob sends it. The list is checked
//! against the frame decoder's source: a frame type missing here fails the matrix.

use serde_json::{json, Value};

use super::common::ws::WsClient;
use super::ids::{Ids, Kind};
use super::world::World;
use super::Answer;

/// Builds one frame (without its `request_id`) from the ids.
pub type Frame = fn(&Ids) -> Value;

/// Every client frame type, each with the frames that name an id.
pub const FRAMES: &[(&str, &[Frame])] = &[
    ("auth", &[auth_resuming]),
    ("resume", &[resume]),
    (
        "message",
        &[message, message_interrupting, message_enqueued],
    ),
    ("cancel", &[cancel_turn, cancel_queued]),
    ("threads.list", &[threads_after]),
    ("thread.load", &[thread_load, thread_load_after]),
    ("ping", &[ping]),
];

fn auth_resuming(ids: &Ids) -> Value {
    json!({"type": "auth", "token": ids.token, "resume_after": ids.get(Kind::Position)})
}

fn resume(ids: &Ids) -> Value {
    json!({"type": "resume", "after": ids.get(Kind::Position)})
}

fn message_with(ids: &Ids, on_busy: &str) -> Value {
    json!({"type": "message", "content": "what are my tasks", "on_busy": on_busy,
        "thread_id": ids.get(Kind::Thread), "client_message_id": ids.get(Kind::SendId)})
}

fn message(ids: &Ids) -> Value {
    message_with(ids, "reject")
}

fn message_interrupting(ids: &Ids) -> Value {
    message_with(ids, "interrupt")
}

fn message_enqueued(ids: &Ids) -> Value {
    message_with(ids, "enqueue")
}

fn cancel_turn(ids: &Ids) -> Value {
    json!({"type": "cancel", "thread_id": ids.get(Kind::Thread)})
}

fn cancel_queued(ids: &Ids) -> Value {
    json!({"type": "cancel", "thread_id": ids.get(Kind::Thread),
        "message_id": ids.get(Kind::Queued)})
}

fn threads_after(ids: &Ids) -> Value {
    json!({"type": "threads.list", "after": ids.get(Kind::Cursor)})
}

fn thread_load(ids: &Ids) -> Value {
    json!({"type": "thread.load", "thread_id": ids.get(Kind::Thread)})
}

fn thread_load_after(ids: &Ids) -> Value {
    json!({"type": "thread.load", "thread_id": ids.get(Kind::Thread),
        "after": ids.get(Kind::Cursor)})
}

fn ping(_: &Ids) -> Value {
    json!({"type": "ping"})
}

/// Bob's socket that sends the frames, and a count to tag them.
pub struct Sockets {
    socket: WsClient,
    sent: usize,
}

impl Sockets {
    pub async fn new(w: &World) -> Self {
        Sockets {
            socket: WsClient::connect(&w.app, "bob").await,
            sent: 0,
        }
    }

    /// Sends one frame and reads up to a ping's pong: the answer is the first frame that
    /// carries the frame's `request_id` (none: `ok`). Everything else read on the way must
    /// show nothing of Alice's. An `auth` frame goes first on a socket of its own.
    pub async fn send(&mut self, w: &World, mut frame: Value) -> Answer {
        self.sent += 1;
        let tag = format!("probe-{}", self.sent);
        let fresh = frame["type"] == "auth";
        let mut own;
        let socket = if fresh {
            own = WsClient::connect_bare(&w.app).await;
            &mut own
        } else {
            frame["request_id"] = json!(tag);
            &mut self.socket
        };
        socket.send(frame).await;
        let frames = socket.sync(&format!("{tag}-sync")).await;
        // An auth frame is answered by the first frame; any other, by the first with its tag.
        let at = frames.iter().position(|f| fresh || f["request_id"] == tag);
        for (i, other) in frames.iter().enumerate() {
            if Some(i) != at {
                w.assert_clean("a frame Bob's socket received", &other.to_string(), &[]);
            }
        }
        match at.map(|i| &frames[i]) {
            None => Answer::ok(String::new()),
            Some(f) if f["type"] == "error" => Answer {
                status: 0,
                code: f["code"].as_str().unwrap().to_string(),
                text: f.to_string(),
            },
            Some(f) => Answer::ok(f.to_string()),
        }
    }
}
