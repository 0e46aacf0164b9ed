//! Store operations of a turn: the write that starts it (its user message, its answer in
//! progress and the client's id of the send, together), the saves of the answer's text as it
//! streams, the write that ends it, the sweep that interrupts answers whose process died, and
//! the look-up of a send by its client id.
//!
//! Same rules as the rest of the store: every query filters by `user_id`; each backend's SQL
//! sits side by side in `sqlite/answers.rs` / `postgres/answers.rs` (the start is the generalised
//! append of `sqlite.rs` / `postgres.rs`).

use chrono::Duration as Age;

use super::{
    appendable, new_conversation, now, postgres, sqlite, unclaimable, Backend, ClaimStep, Store,
};
use crate::error::{Error, Result};
use crate::model::{
    Conversation, Message, MessageId, MessageStatus, NewMessage, Role, ThreadId, ToolCall, UserId,
};

/// The write that starts a turn.
#[derive(Debug, Clone, Copy)]
pub struct TurnStart<'a> {
    /// The user message (any status but `InProgress`).
    pub question: &'a NewMessage,
    /// The id of the turn's answer, stored in the same write right after the user message:
    /// an assistant message with status `in_progress` and no text yet.
    pub answer: Option<MessageId>,
    /// The client's id of this send, recorded in the same write: unique per user, so a second
    /// start with it writes nothing and is `Error::DuplicateSend`. Needs `answer`.
    pub client_message_id: Option<&'a str>,
    /// The step on the thread's claim among instances (`Take`, or `None`; never `Free`).
    pub claim: ClaimStep,
}

impl<'a> TurnStart<'a> {
    /// The write of one message on its own: no answer, no client id, `claim`'s step.
    pub(super) fn message(question: &'a NewMessage, claim: ClaimStep) -> Self {
        TurnStart {
            question,
            answer: None,
            client_message_id: None,
            claim,
        }
    }
}

/// An answer's text and tool calls so far, saved as it streams.
#[derive(Debug, Clone, PartialEq)]
pub struct PartialAnswer {
    pub id: MessageId,
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    /// How many deltas `content` holds.
    pub next_seq: u32,
}

/// Which answers in progress [`Store::interrupt_answers`] takes for dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// Every one: the process that starts is the only one, and nothing runs yet.
    Every,
    /// Those no live claim in `running_turns` covers (PostgreSQL, several instances): their
    /// instance stopped refreshing its claims longer than the claim lapse ago, or the claims
    /// are gone. Stale claims are deleted with them, which frees their threads. SQLite, which
    /// serves one process and holds no claims, takes every one here too.
    Unclaimed,
}

/// An answer marked `interrupted`, with its owner.
#[derive(Debug, Clone, PartialEq)]
pub struct Interrupted {
    pub user: UserId,
    pub message: Message,
}

/// The turn a send with a client id started: its thread, and its messages as they are now
/// (either may be gone: deleted with a retry, or the answer of a turn that failed before it
/// said anything).
#[derive(Debug, Clone, PartialEq)]
pub struct SentTurn {
    pub thread_id: ThreadId,
    pub question_id: MessageId,
    pub answer_id: MessageId,
    pub question: Option<Message>,
    pub answer: Option<Message>,
    /// The send is queued behind the thread's running turn: its messages are not stored yet.
    pub queued: bool,
}

/// The answer row a turn's start writes: an assistant message with no text yet.
pub(super) fn new_answer(id: MessageId, thread: ThreadId) -> NewMessage {
    NewMessage {
        id,
        conversation_id: thread,
        role: Role::Assistant,
        content: String::new(),
        tool_calls: Vec::new(),
        status: MessageStatus::InProgress,
        usage: None,
        details: None,
    }
}

impl Store {
    /// Starts a turn on `user`'s conversation `start.question.conversation_id` in one write
    /// (one transaction): the user message as [`Store::append_message`] appends it, then its
    /// answer in progress (the next seq) when asked, the client id of the send, and the step
    /// on the thread's claim. Returns the user message and the answer. Errors, with nothing
    /// written: `NotFound("conversation")`, `ThreadBusy` (the claim is held), `DuplicateSend`.
    pub async fn start_turn(
        &self,
        user: &UserId,
        start: &TurnStart<'_>,
    ) -> Result<(Message, Option<Message>)> {
        appendable(start.question)?;
        startable(start)?;
        self.start(user, start).await
    }

    /// [`Store::start_turn`] on a new conversation, created in the same write with the id
    /// `start.question.conversation_id` (title and metadata as for
    /// [`Store::create_conversation`]).
    pub async fn start_turn_in_new(
        &self,
        user: &UserId,
        title: Option<&str>,
        metadata: &serde_json::Value,
        start: &TurnStart<'_>,
    ) -> Result<(Conversation, Message, Option<Message>)> {
        appendable(start.question)?;
        startable(start)?;
        self.start_new(user, title, metadata, start).await
    }

    /// Stores the answer of a turn whose user message is already stored (a retry): an
    /// assistant message in progress with no text yet, at the thread's next seq.
    pub async fn start_answer(
        &self,
        user: &UserId,
        thread: ThreadId,
        id: MessageId,
    ) -> Result<Message> {
        let answer = new_answer(id, thread);
        let start = TurnStart::message(&answer, ClaimStep::None);
        Ok(self.start(user, &start).await?.0)
    }

    /// The start of a turn on an existing conversation, unchecked.
    pub(super) async fn start(
        &self,
        user: &UserId,
        start: &TurnStart<'_>,
    ) -> Result<(Message, Option<Message>)> {
        let now = now();
        match (&self.0, start.claim) {
            (Backend::Sqlite(conn), ClaimStep::None) => {
                let owned = sqlite::answers::OwnedStart::of(start);
                let user = user.clone();
                conn.grouped(owned.one_statement(), move |c| {
                    sqlite::answers::start(c, &user, None, &owned, now)
                })
                .await
            }
            (Backend::Sqlite(_), claim) => Err(unclaimable(claim)),
            (Backend::Postgres(pool), _) => {
                postgres::append_message(pool, user, start, now, self.1 .0).await
            }
        }
    }

    /// The start of a turn on a new conversation, unchecked.
    pub(super) async fn start_new(
        &self,
        user: &UserId,
        title: Option<&str>,
        metadata: &serde_json::Value,
        start: &TurnStart<'_>,
    ) -> Result<(Conversation, Message, Option<Message>)> {
        let now = now();
        let id = start.question.conversation_id;
        let conversation = new_conversation(id, user, title, metadata, now)?;
        let (question, answer) = match (&self.0, start.claim) {
            (Backend::Sqlite(conn), ClaimStep::None) => {
                let owned = sqlite::answers::OwnedStart::of(start);
                let (user, create) = (user.clone(), conversation.clone());
                conn.grouped(false, move |c| {
                    sqlite::answers::start(c, &user, Some(&create), &owned, now)
                })
                .await?
            }
            (Backend::Postgres(pool), ClaimStep::None | ClaimStep::Take(_)) => {
                postgres::start_conversation(pool, &conversation, start, now).await?
            }
            (_, claim) => return Err(unclaimable(claim)),
        };
        Ok((conversation, question, answer))
    }

    /// Saves an answer's text and tool calls so far, while it is still in progress; false
    /// (nothing written) once it has ended, or when it is missing or another user's.
    pub async fn save_partial(&self, user: &UserId, answer: &PartialAnswer) -> Result<bool> {
        let saved = self
            .save_partials(vec![(user.clone(), answer.clone())])
            .await?;
        Ok(!saved.is_empty())
    }

    /// Saves several answers in progress, each as [`Store::save_partial`] does, in one write
    /// (one statement on PostgreSQL); returns the ids of those saved, in no particular order. On PostgreSQL the write
    /// does not wait for the disk: a save guards against this process dying, which a commit
    /// in PostgreSQL's hands survives.
    pub async fn save_partials(
        &self,
        saves: Vec<(UserId, PartialAnswer)>,
    ) -> Result<Vec<MessageId>> {
        if saves.is_empty() {
            return Ok(Vec::new());
        }
        match &self.0 {
            Backend::Sqlite(conn) => {
                let one = saves.len() == 1;
                conn.grouped(one, move |c| sqlite::answers::save_partials(c, &saves))
                    .await
            }
            Backend::Postgres(pool) => postgres::answers::save_partials(pool, &saves).await,
        }
    }

    /// Ends a turn's answer: its final text, tool calls, status, usage and count of deltas
    /// replace what the row held (whatever its status: an answer marked interrupted by an
    /// instance that took this one for dead gets its real end). With `ClaimStep::Release` the same
    /// write releases the thread's claim, even when the answer is gone. Returns the stored
    /// message; `NotFound("message")` when it is missing (its thread was deleted) or another
    /// user's.
    pub async fn finish_answer(
        &self,
        user: &UserId,
        answer: &NewMessage,
        next_seq: u32,
        claim: ClaimStep,
    ) -> Result<Message> {
        if answer.status == MessageStatus::InProgress {
            return Err(Error::Internal("an answer cannot end in progress".into()));
        }
        match (&self.0, claim) {
            (Backend::Sqlite(conn), ClaimStep::None) => {
                let (user, answer) = (user.clone(), answer.clone());
                conn.grouped(true, move |c| {
                    sqlite::answers::finish_answer(c, &user, &answer, next_seq)
                })
                .await
            }
            (Backend::Postgres(pool), ClaimStep::None | ClaimStep::Release(_)) => {
                postgres::answers::finish_answer(pool, user, answer, next_seq, claim).await
            }
            (_, claim) => Err(unclaimable(claim)),
        }
    }

    /// Deletes the answer of a turn that ended before it said or did anything (it failed), so
    /// the thread shows no empty message; with `ClaimStep::Release` the same write releases the
    /// thread's claim. False when the answer was already gone.
    pub async fn drop_answer(
        &self,
        user: &UserId,
        thread: ThreadId,
        id: MessageId,
        claim: ClaimStep,
    ) -> Result<bool> {
        match (&self.0, claim) {
            (Backend::Sqlite(conn), ClaimStep::None) => {
                let user = user.clone();
                conn.grouped(true, move |c| sqlite::answers::drop_answer(c, &user, id))
                    .await
            }
            (Backend::Postgres(pool), ClaimStep::None | ClaimStep::Release(_)) => {
                postgres::answers::drop_answer(pool, user, thread, id, claim).await
            }
            (_, claim) => Err(unclaimable(claim)),
        }
    }

    /// Marks `interrupted` the answers in progress that `stale` takes for dead, keeping the text
    /// saved so far, and returns them. One UPDATE, conditional on the status, so when several
    /// instances sweep at once each answer is marked (and returned) by one of them only.
    pub async fn interrupt_answers(&self, stale: Stale) -> Result<Vec<Interrupted>> {
        match (&self.0, stale) {
            (Backend::Sqlite(conn), _) => conn.run(sqlite::answers::interrupt_every).await,
            (Backend::Postgres(pool), Stale::Every) => {
                postgres::answers::interrupt_every(pool).await
            }
            (Backend::Postgres(pool), Stale::Unclaimed) => {
                postgres::answers::interrupt_unclaimed(pool, self.1 .0).await
            }
        }
    }

    /// The turn `user`'s send with this client id started, or `None` when no send had it (or
    /// its thread was deleted since).
    pub async fn sent_turn(
        &self,
        user: &UserId,
        client_message_id: &str,
    ) -> Result<Option<SentTurn>> {
        match &self.0 {
            Backend::Sqlite(conn) => {
                conn.run(|c| sqlite::answers::sent_turn(c, user, client_message_id))
                    .await
            }
            Backend::Postgres(pool) => {
                postgres::answers::sent_turn(pool, user, client_message_id).await
            }
        }
    }

    /// Forgets the client ids of sends older than `age`; returns how many went.
    pub async fn sweep_client_ids(&self, age: std::time::Duration) -> Result<u64> {
        let age = Age::from_std(age).map_err(|e| Error::Internal(e.to_string()))?;
        let before = now() - age;
        match &self.0 {
            Backend::Sqlite(conn) => {
                conn.run(|c| sqlite::answers::sweep_client_ids(c, before))
                    .await
            }
            Backend::Postgres(pool) => postgres::answers::sweep_client_ids(pool, before).await,
        }
    }
}

/// Refuses a start no store may write.
fn startable(start: &TurnStart<'_>) -> Result<()> {
    if start.client_message_id.is_some() && start.answer.is_none() {
        return Err(Error::Internal(
            "a client id is recorded only with the answer it started".into(),
        ));
    }
    if matches!(start.claim, ClaimStep::Release(_)) {
        return Err(unclaimable(start.claim));
    }
    Ok(())
}
