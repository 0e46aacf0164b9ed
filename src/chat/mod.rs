//! The chat core: one entry point, [`Chat::start_turn`], that every transport calls.
//!
//! A turn loads or creates the thread, persists the user message with its answer in
//! progress (in one write), runs the agent in its own task, saves the answer as it streams and
//! emits [`event::ChatEvent`]s, each published to the user's hub subscribers and handed to the
//! caller's [`Turn`]. REST collects that stream, SSE forwards it, the WebSocket ignores it (its
//! hub subscription carries the same events). A send repeated with its `client_message_id` gets
//! the first send's turn (`repeat`); answers whose process died are marked interrupted
//! (`recovery`). Nothing here knows about HTTP, sockets or SQL.
//!
//! Where things are: `request` (what a caller asks for and gets back), `start` (starting a
//! turn, from any source), `claim` (one turn per thread), `turn` (a turn as it runs), `stop`
//! (cancel, interrupt, shutdown), `queue` (messages waiting for a turn), `read` (the read side),
//! `threads` (other thread operations), `cluster` (turns across instances).

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
mod request;
mod start;
mod stop;
mod threads;
mod turn;

pub use follow::Followed;
pub use partial::SaveLag;
pub use read::{Reader, ThreadPage};
pub use repeat::{valid_client_message_id, MAX_CLIENT_MESSAGE_ID_CHARS};
pub use request::{OnBusy, Turn, TurnRequest};
pub use start::{title_from, validate_content};
pub use threads::{TaskAction, TaskActionResult};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use dashmap::DashMap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::agent::Agent;
use crate::error::Result;
use crate::hub::Hub;
use crate::model::{ThreadId, UserId};
use crate::ratelimit::RateLimiter;
use crate::store::Store;
use claim::Running;

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
}
