//! Store operations of a thread's queue: messages sent with `on_busy: "enqueue"` while the
//! thread answered another, each waiting for the turn before it to end.
//!
//! A queued message is its own row until its turn starts; the write that starts the turn
//! deletes the row and stores the user message and its answer in one transaction
//! ([`Store::start_queued_turn`]), so a queued message runs once, however many instances try to
//! start it, and a cancel either wins (nothing runs) or finds it gone. Each backend's SQL sits in
//! `sqlite/queue.rs` / `postgres/queue.rs`; every query filters by `user_id`.

use serde_json::Value;

use super::{now, postgres, sqlite, unclaimable, Backend, ClaimStep};
use super::{Store, TurnStart};
use crate::error::{Error, Result};
use crate::model::{Message, MessageId, QueuedMessage, ThreadId, UserId};

/// A message to queue on a thread.
#[derive(Debug, Clone, Copy)]
pub struct NewQueued<'a> {
    /// The id the user message will have.
    pub id: MessageId,
    pub thread: ThreadId,
    /// The id its answer will have.
    pub answer_id: MessageId,
    pub content: &'a str,
    /// The send's metadata (its `language`, say), for the turn when it starts.
    pub metadata: &'a Value,
    /// The `request_id` of the send, echoed on the events of its turn.
    pub request_id: Option<&'a str>,
    /// The client's id of the send, recorded in the same write (see `client_messages`).
    pub client_message_id: Option<&'a str>,
    /// Most messages the thread's queue may hold, this one included.
    pub cap: u32,
}

/// A queued message with what its turn needs when it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub user: UserId,
    pub message: QueuedMessage,
    pub answer_id: MessageId,
    pub metadata: Value,
    pub request_id: Option<String>,
}

impl Store {
    /// Queues a message on `user`'s thread. Errors, with nothing written:
    /// `NotFound("conversation")` (missing or another user's), `QueueFull`, `DuplicateSend`
    /// (the client id was used before).
    pub async fn enqueue(&self, user: &UserId, new: &NewQueued<'_>) -> Result<Queued> {
        let now = now();
        match &self.0 {
            Backend::Sqlite(conn) => {
                let owned = sqlite::queue::OwnedQueued::of(new);
                let user = user.clone();
                conn.grouped(false, move |c| {
                    sqlite::queue::enqueue(c, &user, &owned, now)
                })
                .await
            }
            Backend::Postgres(pool) => postgres::queue::enqueue(pool, user, new, now).await,
        }
    }

    /// The messages queued on `user`'s thread, next to run first (positions from 1).
    pub async fn queued(&self, user: &UserId, thread: ThreadId) -> Result<Vec<Queued>> {
        match &self.0 {
            Backend::Sqlite(conn) => conn.run(|c| sqlite::queue::queued(c, user, thread)).await,
            Backend::Postgres(pool) => postgres::queue::queued(pool, user, thread).await,
        }
    }

    /// Removes a queued message of `user`'s thread before it runs; false when it is not queued
    /// there (it started, was cancelled, or never was).
    pub async fn unqueue(&self, user: &UserId, thread: ThreadId, id: MessageId) -> Result<bool> {
        match &self.0 {
            Backend::Sqlite(conn) => {
                let user = user.clone();
                conn.grouped(true, move |c| sqlite::queue::unqueue(c, &user, thread, id))
                    .await
            }
            Backend::Postgres(pool) => postgres::queue::unqueue(pool, user, thread, id).await,
        }
    }

    /// The threads that have queued messages, with their owners.
    pub async fn queued_threads(&self) -> Result<Vec<(UserId, ThreadId)>> {
        match &self.0 {
            Backend::Sqlite(conn) => conn.run(sqlite::queue::queued_threads).await,
            Backend::Postgres(pool) => postgres::queue::queued_threads(pool).await,
        }
    }

    /// Starts the turn of the queued message `start.question.id` as [`Store::start_turn`] does,
    /// deleting it from the queue in the same transaction. `NotFound("queued message")`, with
    /// nothing written, when it is no longer queued; the other errors of `start_turn`.
    pub async fn start_queued_turn(
        &self,
        user: &UserId,
        start: &TurnStart<'_>,
    ) -> Result<(Message, Option<Message>)> {
        super::appendable(start.question)?;
        if start.client_message_id.is_some() || matches!(start.claim, ClaimStep::Release(_)) {
            return Err(Error::Internal(
                "a queued message's start records no client id and frees no claim".into(),
            ));
        }
        let now = now();
        match (&self.0, start.claim) {
            (Backend::Sqlite(conn), ClaimStep::None) => {
                let owned = sqlite::answers::OwnedStart::of(start);
                let user = user.clone();
                conn.grouped(false, move |c| {
                    sqlite::queue::take(c, &user, owned.question_id())?;
                    sqlite::answers::start(c, &user, None, &owned, now)
                })
                .await
            }
            (Backend::Sqlite(_), claim) => Err(unclaimable(claim)),
            (Backend::Postgres(pool), _) => {
                postgres::queue::start_queued(pool, user, start, now, self.1 .0).await
            }
        }
    }
}
