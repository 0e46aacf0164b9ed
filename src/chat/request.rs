//! What a caller gives the core to start a turn ([`TurnRequest`]) and gets back ([`Turn`]): the
//! turn's ids and the stream of its events.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::event::Event;
use crate::agent::Language;
use crate::model::{AttachmentId, MessageId, ThreadId, UserId};

/// A request to run one turn.
#[derive(Debug, Clone)]
pub struct TurnRequest {
    pub user: UserId,
    /// `None` starts a new thread.
    pub thread_id: Option<ThreadId>,
    pub content: String,
    /// Client metadata; `language` ("en", "roman-urdu") overrides detection.
    pub metadata: Value,
    /// Echoed on every event the turn emits.
    pub request_id: Option<String>,
    /// ChatKit's shape of the user message, stored with it in the same write.
    pub details: Option<Value>,
    /// Uploaded attachments the message uses (checked with [`Chat::attachments_for_message`]);
    /// they join the thread before the turn runs.
    pub attachments: Vec<AttachmentId>,
    /// The client's id of this send (1–64 characters, unique per user): a send that repeats
    /// an earlier one's id gets that send's turn, never a second one.
    pub client_message_id: Option<String>,
    /// What to do when the thread is answering another message.
    pub on_busy: OnBusy,
    /// With `thread_id`: when the user has no thread with that id, start one with that id
    /// instead of refusing with `not_found` (for clients that name their threads; see
    /// `named`). The caller picks ids no other user can hold.
    pub create_thread: bool,
}

/// What a send to a thread that is answering another message does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnBusy {
    /// Refused with `thread_busy`.
    #[default]
    Reject,
    /// Queued: it runs when the turns before it end (see `queue`).
    Enqueue,
    /// The running turn stops with status `interrupted`, keeping its text, and this one starts.
    Interrupt,
}

/// A running turn: its ids and the stream of its events. Dropping a `Turn` does not stop the
/// turn; call [`Turn::cancel`] (or use [`Turn::cancel_on_drop`]) for that.
///
/// A send that repeated an earlier send's `client_message_id` gets that send's turn, running or
/// ended: then [`Turn::replayed`] holds the events that bring a client up to date with it (its
/// user message, and its answer as stored), which also come first from [`Turn::next`], followed
/// by the rest of the turn as it happens.
pub struct Turn {
    pub thread_id: ThreadId,
    /// The answer's id.
    pub message_id: MessageId,
    pub language: Language,
    /// Empty for a new turn; see above for a repeated send.
    pub replayed: Vec<Arc<Event>>,
    pub(super) events: mpsc::UnboundedReceiver<Arc<Event>>,
    pub(super) cancel: CancellationToken,
}

impl Turn {
    /// The next event of this turn; `None` after the last one (`message.done` or `error`).
    pub async fn next(&mut self) -> Option<Arc<Event>> {
        self.events.recv().await
    }

    /// Whether this is the turn of an earlier send with the same `client_message_id`.
    pub fn is_repeat(&self) -> bool {
        !self.replayed.is_empty()
    }

    /// Stops the turn; the text produced so far is kept with status `cancelled`.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// A guard that cancels the turn when dropped (for transports where disconnect means stop).
    pub fn cancel_on_drop(&self) -> tokio_util::sync::DropGuard {
        self.cancel.clone().drop_guard()
    }
}
