//! The Vercel AI SDK's chat protocols: `WebSocketChatTransport` at `GET /api/ai-sdk/ws`
//! ([`ws`]) and `DefaultChatTransport`'s UI message stream at `POST /api/ai-sdk` and
//! `GET /api/ai-sdk/{chat_id}/stream` ([`http`]). `docs/ai-sdk.md` is the contract.
//!
//! Both go through the chat core like every transport: a turn started here streams to the
//! user's other sockets, and one started elsewhere can be followed here. What they share lives
//! in this module: which thread a chat id names ([`ChatThreads`]), the requests ([`request`],
//! [`messages`]), and one turn as a numbered stream of chunks ([`chunks`], [`chunk_stream`]).
//!
//! A chat id names a thread of the user who sends it. The UUID of one of the user's threads
//! names that thread, so a conversation started elsewhere opens here. Any other id (the SDK's
//! generated ones, a fresh UUID) names the thread whose id is derived from the user and the chat
//! id (a UUIDv5), made on the chat's first send. So the same chat id from two users names two
//! threads: no chat id reaches another user's conversation, and nothing answered says whether
//! another user has one.

pub mod chunks;
pub mod http;
pub mod messages;
pub mod request;
pub mod responses;
pub mod socket_auth;
pub mod ws;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use futures::Stream;
use serde_json::Value;
use sha1::{Digest, Sha1};
use uuid::Uuid;

use crate::chat::event::Event;
use crate::chat::{Chat, Followed, OnBusy, Turn, TurnRequest};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::{MessageId, Role, ThreadId, UserId};
use crate::state::AppState;
use chunks::Chunks;
use request::{ChatRequest, Trigger};

/// The AI SDK routes, to merge into the API router. They take `/api/{user_id}/…` paths of a user
/// called `ai-sdk` first (a static segment wins over a parameter); of those, only
/// `POST /api/ai-sdk/chat/stream` has a method here, and it is handed over
/// ([`http::shadowed`]). tests/ai_sdk_http.rs checks that user's routes.
pub fn routes(config: &Config) -> Router<AppState> {
    // The SDK sends the whole chat with every message (see `Config::ai_sdk_max_body_bytes`).
    let limit = DefaultBodyLimit::max(config.ai_sdk_max_body_bytes);
    Router::new()
        .route("/api/ai-sdk", post(http::chat).layer(limit))
        .route("/api/ai-sdk/ws", get(ws::upgrade))
        .route(
            "/api/ai-sdk/{chat_id}/stream",
            get(http::resume).post(http::shadowed),
        )
}

/// The namespace of the UUIDv5 thread ids derived from chat ids. Fixed forever: changing it
/// would orphan every chat a client named.
const CHAT_NAMESPACE: Uuid = Uuid::from_u128(0x59fa3b8b_5bb4_4ef4_bd1c_c2e6ad8c1ec6);

/// The thread derived from `user`'s chat id `chat_id`: the UUIDv5 of `user \0 chat_id` in
/// [`CHAT_NAMESPACE`] (the NUL, which neither can hold, keeps every pair distinct).
pub fn derived_thread(user: &UserId, chat_id: &str) -> ThreadId {
    let mut hash = Sha1::new();
    hash.update(CHAT_NAMESPACE.as_bytes());
    hash.update(user.as_str().as_bytes());
    hash.update([0u8]);
    hash.update(chat_id.as_bytes());
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    ThreadId(uuid::Builder::from_sha1_bytes(bytes).into_uuid())
}

/// Which threads the chat ids of one user name, through the chat core.
pub struct ChatThreads<'a> {
    pub chat: &'a Chat,
    pub user: &'a UserId,
}

impl ChatThreads<'_> {
    /// The thread `chat_id` names, and whether a send may make it (a derived thread is made by
    /// the chat's first send).
    pub async fn for_send(&self, chat_id: &str) -> Result<(ThreadId, bool)> {
        if let Ok(uuid) = Uuid::parse_str(chat_id) {
            match self.chat.read(self.user).thread(ThreadId(uuid)).await {
                Ok(_) => return Ok((ThreadId(uuid), false)),
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok((derived_thread(self.user, chat_id), true))
    }

    /// The turn running on the thread `chat_id` names, from its start; `None` when none runs
    /// there (or the chat names no thread yet).
    pub fn follow(&self, chat_id: &str) -> Option<(ThreadId, Followed)> {
        // The user's own stream is read either way: an id of another user's thread finds
        // nothing, as an unknown one does.
        let named = Uuid::parse_str(chat_id).ok().map(ThreadId);
        let derived = derived_thread(self.user, chat_id);
        named
            .into_iter()
            .chain([derived])
            .find_map(|t| self.chat.follow(self.user, t).map(|f| (t, f)))
    }

    /// Starts the turn `request` asks for: a new user message (`submit-message`) or the last
    /// answer again (`regenerate-message`). Errors come from the core before anything runs.
    pub async fn start(&self, request: &ChatRequest) -> Result<Turn> {
        let (thread, create) = self.for_send(&request.chat_id).await?;
        match &request.trigger {
            Trigger::Submit { content } => {
                self.chat
                    .start_turn(TurnRequest {
                        user: self.user.clone(),
                        thread_id: Some(thread),
                        content: content.clone(),
                        metadata: request.metadata.clone(),
                        request_id: None,
                        details: None,
                        attachments: Vec::new(),
                        client_message_id: None,
                        on_busy: OnBusy::Reject,
                        create_thread: create,
                    })
                    .await
            }
            Trigger::Regenerate => {
                // A chat never sent to has no thread: `not_found` from the core.
                let from = self
                    .regenerated(thread, request.message_id.as_deref())
                    .await?;
                self.chat.retry_turn(self.user, thread, from, None).await
            }
        }
    }

    /// The user message a regeneration answers again: the thread's newest. A `messageId` of
    /// ours must name it or an answer after it (only the last answer can be regenerated); an
    /// id we never made is the client's own and names nothing here.
    async fn regenerated(&self, thread: ThreadId, message_id: Option<&str>) -> Result<MessageId> {
        let messages = self.chat.read(self.user).messages(thread).await?;
        let newest = messages
            .iter()
            .rposition(|m| m.role == Role::User)
            .ok_or_else(|| Error::invalid("the chat has no message to answer again"))?;
        if let Some(named) = message_id.and_then(|id| Uuid::parse_str(id).ok()) {
            let position = messages.iter().position(|m| m.id.0 == named);
            if position.is_some_and(|p| p < newest) {
                return Err(Error::invalid("only the last answer can be regenerated"));
            }
        }
        Ok(messages[newest].id)
    }
}

/// Where a turn's events come from: the turn a request started, or one followed.
pub enum Source {
    Turn(Turn),
    Followed(Followed),
}

impl Source {
    async fn next(&mut self) -> Option<Arc<Event>> {
        match self {
            Source::Turn(turn) => turn.next().await,
            Source::Followed(followed) => followed.next().await,
        }
    }
}

/// The stream ended before the turn did (its events could not be followed whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut;

/// One turn's chunks, each with its number (from 0) in the turn's chunk stream; the same
/// numbers however the turn is read. Ends after the turn's last chunk, or with `Err(Cut)`.
pub fn chunk_stream(
    source: Source,
    thread: ThreadId,
) -> impl Stream<Item = std::result::Result<(u64, Value), Cut>> + Send + 'static {
    struct State {
        source: Source,
        chunks: Chunks,
        ready: std::collections::VecDeque<Value>,
        sequence: u64,
        over: bool,
    }
    let state = State {
        source,
        chunks: Chunks::new(thread),
        ready: Default::default(),
        sequence: 0,
        over: false,
    };
    futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(chunk) = s.ready.pop_front() {
                let item = (s.sequence, chunk);
                s.sequence += 1;
                return Some((Ok(item), s));
            }
            if s.over || s.chunks.ended() {
                return None;
            }
            match s.source.next().await {
                Some(event) => s.ready.extend(s.chunks.push(&event.body)),
                None => {
                    s.over = true;
                    match s.chunks.close() {
                        Some(last) => s.ready.extend(last),
                        None => return Some((Err(Cut), s)),
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_threads_are_per_user_and_stable() {
        let alice = UserId::new("alice");
        let bob = UserId::new("bob");
        let a = derived_thread(&alice, "chat-1");
        assert_eq!(a, derived_thread(&alice, "chat-1"));
        assert_ne!(a, derived_thread(&bob, "chat-1"));
        assert_ne!(a, derived_thread(&alice, "chat-2"));
        // No pair spells another: the separator keeps "a"+"b\0c" apart from "a\0b"+"c".
        assert_ne!(
            derived_thread(&UserId::new("ab"), "c"),
            derived_thread(&UserId::new("a"), "bc")
        );
        assert_eq!(a.0.get_version_num(), 5);
        // Fixed forever: a chat named today names the same thread after an upgrade. This is
        // the standard UUIDv5 of "alice\0chat-1" (Python: uuid.uuid5(namespace, name)).
        assert_eq!(a.0.to_string(), "31c73c00-ff23-5005-80ee-71fd22f50dc6");
    }
}
