//! The chat core: one entry point, [`Chat::start_turn`], that every transport calls.
//!
//! A turn loads or creates the thread, persists the user message with its answer in
//! progress (in one write), runs the agent in its own task, saves the answer as it streams and
//! emits [`event::ChatEvent`]s, each published to the user's hub subscribers and handed to the
//! caller's [`Turn`]. REST collects that stream, SSE forwards it, the WebSocket ignores it (its
//! hub subscription carries the same events). A send repeated with its `client_message_id` gets
//! the first send's turn (`repeat`); answers whose process died are marked interrupted
//! (`recovery`). Nothing here knows about HTTP, sockets or SQL.

mod attachments;
mod claim;
pub mod cluster;
pub mod event;
mod follow;
mod named;
mod partial;
mod queue;
mod read;
mod recovery;
mod repeat;
mod threads;
mod turn;

pub use follow::Followed;
pub use partial::SaveLag;
pub use read::{Reader, ThreadPage};
pub use repeat::{valid_client_message_id, MAX_CLIENT_MESSAGE_ID_CHARS};
pub use threads::{TaskAction, TaskActionResult};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dashmap::DashMap;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::agent::{Agent, Language};
use crate::error::{Error, Result};
use crate::hub::Hub;
use crate::model::{
    AttachmentId, Conversation, Message, MessageId, MessageStatus, NewMessage, Role, ThreadId,
    UserId,
};
use crate::ratelimit::RateLimiter;
use crate::store::{Store, TurnStart};
use claim::Claim;
use event::Event;

/// Limits the core enforces on every transport's behalf.
#[derive(Debug, Clone)]
pub struct ChatSettings {
    /// Earlier messages given to the agent as context.
    pub history_limit: u32,
    /// Longest user message in characters, after trimming.
    pub max_message_chars: usize,
    /// How far behind the stream an answer's saved text may fall.
    pub save_lag: SaveLag,
    /// Most messages one thread's queue holds (`on_busy: "enqueue"`).
    pub max_queued: u32,
}

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

/// How long an interrupting send waits for the turn it stops to end.
const INTERRUPT_WAIT: Duration = Duration::from_secs(10);

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
    events: mpsc::UnboundedReceiver<Arc<Event>>,
    cancel: CancellationToken,
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

/// Cheap-to-clone handle to the chat core.
#[derive(Clone)]
pub struct Chat {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    hub: Hub,
    agent: Agent,
    limiter: RateLimiter,
    settings: ChatSettings,
    /// Turns running in this process, by thread: one turn per thread at a time.
    running: DashMap<ThreadId, Running>,
    tracker: TaskTracker,
    /// Cancels every running turn (shutdown after the drain deadline).
    kill: CancellationToken,
    closing: AtomicBool,
    /// Set when several instances share the database: threads are claimed there too.
    cluster: OnceLock<cluster::Cluster>,
    /// The writer of every turn's saves of its answer, started with the first.
    saves: OnceLock<partial::Saves>,
    /// Threads an interrupting send is about to start a turn on: their queues wait for it.
    interrupting: DashMap<ThreadId, usize>,
}

impl Inner {
    /// The save writer (see `partial`), started on first use: it needs the runtime.
    fn saves(&self) -> partial::Saves {
        self.saves
            .get_or_init(|| partial::Saves::start(self.store.clone()))
            .clone()
    }
}

struct Running {
    user: UserId,
    cancel: CancellationToken,
    /// The client's id of the send that started the turn, and whether the write that starts
    /// it is done: a repeat of that send arriving meanwhile waits for it (see `repeat`).
    client_message_id: Option<String>,
    written: watch::Receiver<bool>,
    /// Set when the turn is stopped for another message (`interrupted`, not `cancelled`).
    interrupted: Arc<AtomicBool>,
    /// Set when a message may be queued behind the turn: the thread's queue is looked at when
    /// the turn ends.
    queued: AtomicBool,
}

impl Chat {
    pub fn new(
        store: Store,
        hub: Hub,
        agent: Agent,
        limiter: RateLimiter,
        settings: ChatSettings,
    ) -> Self {
        Chat {
            inner: Arc::new(Inner {
                store,
                hub,
                agent,
                limiter,
                settings,
                running: DashMap::new(),
                tracker: TaskTracker::new(),
                kill: CancellationToken::new(),
                closing: AtomicBool::new(false),
                cluster: OnceLock::new(),
                saves: OnceLock::new(),
                interrupting: DashMap::new(),
            }),
        }
    }

    /// From now on, claims threads in `cluster` as well and sends cancels for turns run
    /// elsewhere there. False when already joined.
    pub fn join_cluster(&self, cluster: cluster::Cluster) -> bool {
        self.inner.cluster.set(cluster).is_ok()
    }

    pub fn agent_name(&self) -> &'static str {
        self.inner.agent.name()
    }

    /// False once shutdown has begun: new turns are refused with `shutting_down`.
    pub fn accepting(&self) -> bool {
        !self.inner.closing.load(Ordering::Acquire)
    }

    /// Turns running in this process now.
    pub fn running_turns(&self) -> usize {
        self.inner.running.len()
    }

    /// The task tools of `user`, for transports that expose them directly (MCP).
    pub fn tools_for(&self, user: &UserId) -> crate::agent::tools::Tools {
        crate::agent::tools::Tools::new(self.inner.store.clone(), user.clone())
    }

    /// Speech to text for dictation, through the configured agent's provider.
    pub async fn transcribe(&self, audio: Vec<u8>, mime_type: &str) -> Result<String> {
        self.inner.agent.transcribe(audio, mime_type).await
    }

    /// Whether the database answers.
    pub async fn database_ok(&self) -> bool {
        self.inner.store.ping().await.is_ok()
    }

    /// Validates and starts a turn. Errors come back before anything runs: `invalid_request`,
    /// `message_too_long`, `rate_limited`, `not_found` (unknown or another user's thread),
    /// `thread_busy`, `shutting_down`. On success the user message and the answer (in
    /// progress) are already stored, and the turn runs in its own task, independent of the
    /// caller. A send whose `client_message_id` an earlier send used gets that send's turn
    /// (see [`Turn`]): nothing is stored and nothing runs again.
    pub async fn start_turn(&self, req: TurnRequest) -> Result<Turn> {
        let first = self.start_turn_once(&req, true).await;
        match (req.on_busy, &first, req.thread_id) {
            (OnBusy::Enqueue, Err(Error::ThreadBusy), Some(thread)) => {
                self.enqueue(&req, thread).await
            }
            (OnBusy::Interrupt, Err(Error::ThreadBusy), Some(thread)) => {
                self.interrupt_and_start(&req, thread).await
            }
            _ => first,
        }
    }

    /// Stops the running turn (its text kept, `interrupted`), wherever it runs, and starts
    /// `req`'s once the thread is free, ahead of the thread's queue. The allowance was taken by
    /// the first try.
    async fn interrupt_and_start(&self, req: &TurnRequest, thread: ThreadId) -> Result<Turn> {
        *self.inner.interrupting.entry(thread).or_insert(0) += 1;
        let started = async {
            self.interrupt_turn(&req.user, thread).await?;
            let deadline = tokio::time::Instant::now() + INTERRUPT_WAIT;
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                match self.start_turn_once(req, false).await {
                    Err(Error::ThreadBusy) if tokio::time::Instant::now() < deadline => continue,
                    other => return other,
                }
            }
        }
        .await;
        self.inner.interrupting.remove_if_mut(&thread, |_, n| {
            *n -= 1;
            *n == 0
        });
        // The queue waited for this send: it goes on after its turn, or now.
        self.wake_queue(&req.user, thread);
        started
    }

    /// One try at starting `req`'s turn: checked, answered from an earlier send with the same
    /// client id, or written and launched; the allowance is taken when `limit`.
    async fn start_turn_once(&self, req: &TurnRequest, limit: bool) -> Result<Turn> {
        let inner = &self.inner;
        if inner.closing.load(Ordering::Acquire) {
            return Err(Error::ShuttingDown);
        }
        let checked = Checked::of(req, inner.settings.max_message_chars)?;
        // A retried send is answered with its turn before any limit applies: it runs nothing.
        if let Some(id) = checked.client_id {
            if inner.store.sent_turn(&req.user, id).await?.is_some() {
                return self.repeat(req, id).await;
            }
        }
        if limit {
            inner.limiter.check(&req.user)?;
        }
        let existing = self.existing_thread(req).await?;
        let named_new = existing.is_none() && req.thread_id.is_some();
        let cancel = inner.kill.child_token();
        let thread_id = match &existing {
            Some((c, _)) => c.id,
            None => req.thread_id.unwrap_or_default(),
        };
        let question = checked.question(thread_id, req.details.clone());
        // With several instances, the write of the user message also takes the thread's claim
        // among them (`thread_busy` when another runs a turn on it).
        let start = TurnStart {
            question: &question,
            answer: Some(MessageId::new()),
            client_message_id: checked.client_id,
            claim: self.take_step(),
        };
        let written = self.write_start(req, existing, &start, &checked.metadata, &cancel, false);
        let started = match written.await {
            Ok(started) => started,
            Err(e) if named_new => return self.named_start_failed(req, e).await,
            Err(e) => return self.refused(req, e).await,
        };
        let language = repeat::language_of(req, &checked.content);
        let request_id = req.request_id.clone();
        self.launch(
            &req.user,
            request_id,
            &req.attachments,
            started,
            language,
            cancel,
        )
        .await
    }

    /// The thread `req` names, with whether it holds hidden items; `None` for a new thread
    /// (none named, or a named one to create). `not_found` for a thread the user does not have.
    async fn existing_thread(&self, req: &TurnRequest) -> Result<Option<(Conversation, bool)>> {
        let Some(id) = req.thread_id else {
            return Ok(None);
        };
        match self
            .inner
            .store
            .conversation_for_turn(&req.user, id)
            .await?
        {
            Some(found) => Ok(Some(found)),
            None if req.create_thread => Ok(None),
            None => Err(Error::NotFound("conversation")),
        }
    }

    /// Runs the turn whose start `started` wrote, in its own task, after joining `attachments`
    /// to its thread. Every turn starts here: a send's, a queued message's and a retry's.
    async fn launch(
        &self,
        user: &UserId,
        request_id: Option<String>,
        attachments: &[AttachmentId],
        started: Started,
        language: Language,
        cancel: CancellationToken,
    ) -> Result<Turn> {
        let inner = &self.inner;
        let Started {
            thread,
            created,
            has_notes,
            user_message,
            answer,
            claim,
        } = started;
        claim.written();
        if !attachments.is_empty() {
            inner
                .store
                .assign_attachments(user, attachments, thread.id)
                .await?;
        }
        let thread_id = thread.id;
        let (tx, rx) = mpsc::unbounded_channel();
        let message_id = answer.id;
        let job = turn::TurnJob {
            user: user.clone(),
            request_id,
            thread,
            created,
            has_notes,
            user_message,
            answer,
            language,
            cancel: cancel.clone(),
            events: tx,
            claim,
        };
        let inner = self.inner.clone();
        self.inner
            .tracker
            .spawn(async move { turn::run(&inner, job).await });
        Ok(Turn {
            thread_id,
            message_id,
            language,
            replayed: Vec::new(),
            events: rx,
            cancel,
        })
    }

    /// The write that starts a turn (see [`Store::start_turn`]), with the thread's claim: on
    /// `existing`, taken here first; on a new thread, once the write created it (nobody can
    /// know its id before the turn announces it). `start.claim` takes it among instances.
    async fn write_start(
        &self,
        req: &TurnRequest,
        existing: Option<(Conversation, bool)>,
        start: &TurnStart<'_>,
        metadata: &Value,
        cancel: &CancellationToken,
        from_queue: bool,
    ) -> Result<Started> {
        let store = &self.inner.store;
        let client_id = start.client_message_id;
        let (thread, created, has_notes, user_message, answer, mut claim) = match existing {
            Some((thread, has_notes)) => {
                let claim = self.take_claim(thread.id, &req.user, cancel.clone(), client_id)?;
                let (m, a) = match from_queue {
                    true => store.start_queued_turn(&req.user, start).await?,
                    false => store.start_turn(&req.user, start).await?,
                };
                (thread, false, has_notes, m, a, claim)
            }
            None => {
                let title = title_from(&start.question.content);
                let (thread, m, a) = store
                    .start_turn_in_new(&req.user, Some(&title), metadata, start)
                    .await?;
                let claim = self.take_claim(thread.id, &req.user, cancel.clone(), client_id)?;
                (thread, true, false, m, a, claim)
            }
        };
        let answer =
            answer.ok_or_else(|| Error::Internal("a turn started without its answer".into()))?;
        claim.taken_with_write();
        Ok(Started {
            thread,
            created,
            has_notes,
            user_message,
            answer,
            claim,
        })
    }

    /// Cancels the running turn of `user`'s thread, here or on another instance; false when
    /// none runs.
    pub async fn cancel(&self, user: &UserId, thread_id: ThreadId) -> Result<bool> {
        if self.cancel_here(user, thread_id) {
            return Ok(true);
        }
        match self.inner.cluster.get() {
            Some(cluster) => cluster.cancel(user, thread_id).await,
            None => Ok(false),
        }
    }

    /// Stops the running turn of `user`'s thread, here or on another instance, with status
    /// `interrupted` (its text kept); false when none runs.
    pub async fn interrupt_turn(&self, user: &UserId, thread_id: ThreadId) -> Result<bool> {
        if self.stop_here(user, thread_id, true) {
            return Ok(true);
        }
        match self.inner.cluster.get() {
            Some(cluster) => cluster.stop(user, thread_id, true).await,
            None => Ok(false),
        }
    }

    /// Cancels the running turn of `user`'s thread if it runs in this process.
    pub fn cancel_here(&self, user: &UserId, thread_id: ThreadId) -> bool {
        self.stop_here(user, thread_id, false)
    }

    /// Stops the running turn of `user`'s thread if it runs in this process: `interrupted`
    /// when `interrupt`, else `cancelled`.
    pub fn stop_here(&self, user: &UserId, thread_id: ThreadId, interrupt: bool) -> bool {
        match self.inner.running.get(&thread_id) {
            Some(r) if &r.user == user => {
                if interrupt {
                    r.interrupted.store(true, Ordering::Release);
                }
                r.cancel.cancel();
                true
            }
            _ => false,
        }
    }

    /// Stops accepting turns, waits up to `drain` for running ones, then cancels the rest
    /// (they persist what they have, status `cancelled`) and waits for them to finish.
    pub async fn shutdown(&self, drain: Duration) {
        self.inner.closing.store(true, Ordering::Release);
        self.inner.tracker.close();
        if tokio::time::timeout(drain, self.inner.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                running = self.inner.running.len(),
                "drain timeout: cancelling running turns"
            );
            self.inner.kill.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), self.inner.tracker.wait()).await;
        }
    }
}

/// What the write that starts a turn gave.
struct Started {
    thread: Conversation,
    /// Whether the write created the thread.
    created: bool,
    /// Whether the thread held hidden items.
    has_notes: bool,
    user_message: Message,
    answer: Message,
    claim: Claim,
}

/// A send's fields, checked.
struct Checked<'a> {
    content: String,
    metadata: Value,
    client_id: Option<&'a str>,
}

impl<'a> Checked<'a> {
    /// `req`'s content trimmed and bounded, its metadata an object, its client id valid.
    fn of(req: &'a TurnRequest, max_chars: usize) -> Result<Self> {
        let content = validate_content(&req.content, max_chars)?;
        let metadata = match &req.metadata {
            Value::Null => Value::Object(Default::default()),
            Value::Object(m) => Value::Object(m.clone()),
            _ => return Err(Error::invalid("metadata must be an object")),
        };
        let client_id = req
            .client_message_id
            .as_deref()
            .map(valid_client_message_id)
            .transpose()?;
        Ok(Checked {
            content,
            metadata,
            client_id,
        })
    }

    /// The user message to store in `thread`.
    fn question(&self, thread: ThreadId, details: Option<Value>) -> NewMessage {
        NewMessage {
            id: MessageId::new(),
            conversation_id: thread,
            role: Role::User,
            content: self.content.clone(),
            tool_calls: Vec::new(),
            status: MessageStatus::Completed,
            usage: None,
            details,
        }
    }
}

/// Trims a user message and enforces its length limits.
pub fn validate_content(content: &str, max_chars: usize) -> Result<String> {
    let content = content.trim();
    if content.is_empty() {
        return Err(Error::invalid("message must not be empty"));
    }
    if content.chars().count() > max_chars {
        return Err(Error::MessageTooLong(format!(
            "message is longer than {max_chars} characters"
        )));
    }
    Ok(content.to_string())
}

/// A thread title from its first message: the first line, at most 60 characters, cut at
/// a word boundary.
pub fn title_from(content: &str) -> String {
    const MAX: usize = 60;
    let line = content.lines().next().unwrap_or("").trim();
    if line.chars().count() <= MAX {
        return line.to_string();
    }
    let cut: String = line.chars().take(MAX).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > MAX / 2 => &cut[..i],
        _ => &cut[..],
    };
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_trimmed_and_bounded() {
        assert_eq!(validate_content("  hi \n", 10).unwrap(), "hi");
        assert!(matches!(
            validate_content(" \n\t", 10),
            Err(Error::Invalid(_))
        ));
        assert!(validate_content(&"é".repeat(10), 10).is_ok());
        assert!(matches!(
            validate_content(&"é".repeat(11), 10),
            Err(Error::MessageTooLong(_))
        ));
    }

    #[test]
    fn titles_are_short_first_lines() {
        assert_eq!(title_from("buy milk\nand eggs"), "buy milk");
        let long = "word ".repeat(30);
        let t = title_from(&long);
        assert!(t.chars().count() <= 61);
        assert!(t.ends_with('…'));
        assert!(!t.contains("  "));
    }
}
