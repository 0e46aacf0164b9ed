//! The checkpointer: a thread with a connection of its own that folds the WAL back into the
//! database file, so the syncs of a checkpoint (milliseconds) never run inside a request. Its
//! checkpoints are passive: they never block the store's writer.
//!
//! It checkpoints when the store asks (every [`Policy::rows`] changed rows) and, whatever the
//! load, at least every [`Policy::interval`] while the WAL holds frames not yet copied back.
//! With `synchronous = NORMAL` a commit is durable against a crash of the process at once, but
//! against a power cut only once a checkpoint has synced the WAL: the interval bounds that
//! window, which a row count alone would leave open for hours on a quiet server.
//!
//! Passive checkpoints alone never shrink the WAL under steady writes. SQLite goes back to the
//! start of the WAL only when a write begins with every frame already copied back, and a
//! checkpoint running beside a writer always ends a few frames behind it: at 1,000 turns a
//! second the WAL grew by 40 MB a second, without end. So when a checkpoint finds the WAL
//! longer than [`Policy::reset_frames`], it flags the store, which then holds its connection
//! for one more checkpoint ([`Checkpointer::complete`]): with no writer beside it that one
//! copies every frame, and the next write starts the WAL over.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use crate::error::{Error, Result};

/// When the checkpointer runs and when the WAL is started over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Policy {
    /// Rows changed on the store's connection between two checkpoints it asks for.
    pub rows: u64,
    /// Longest time frames wait in the WAL before a checkpoint copies and syncs them.
    pub interval: Duration,
    /// WAL length, in frames (pages), past which the store holds its writes for a checkpoint
    /// that lets the WAL start over. The WAL file is also cut back to this length after.
    pub reset_frames: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            rows: 1024,
            interval: Duration::from_secs(1),
            // 64 MiB of 4 KiB pages. At 1,000 turns a second the WAL grows by about 9,500
            // frames a second, so the store holds its writes (2–5 ms) every second or two.
            reset_frames: 16_384,
        }
    }
}

/// What the thread is asked to do.
enum Request {
    /// A passive checkpoint.
    Checkpoint,
    /// A passive checkpoint run while the store writes nothing; answers whether it copied
    /// every frame, so that the next write starts the WAL over.
    Complete(oneshot::Sender<bool>),
}

#[derive(Debug)]
pub(super) struct Checkpointer {
    requests: Sender<Request>,
    /// A checkpoint request is queued and not yet started (so requests coalesce).
    pending: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    /// Opens its connection to the database at `path` and starts the thread, which sets
    /// `oversized` when the WAL has grown past the policy's `reset_frames` (the store then
    /// holds its writes for [`Checkpointer::complete`]). Dropping the checkpointer ends the
    /// thread after its current checkpoint.
    pub fn start(
        path: &Path,
        busy_timeout: Duration,
        policy: Policy,
        oversized: Arc<AtomicBool>,
    ) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(busy_timeout)?;
        let (requests, received) = mpsc::channel();
        let pending = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            conn,
            pending: pending.clone(),
            oversized,
            policy,
        };
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || worker.run(received))
            .map_err(|e| Error::Internal(format!("starting the SQLite checkpointer: {e}")))?;
        Ok(Checkpointer {
            requests,
            pending,
            thread,
        })
    }

    /// Asks for a checkpoint. One already asked for and not yet started covers this request.
    pub fn request(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            let _ = self.requests.send(Request::Checkpoint);
        }
    }

    /// Asks for a checkpoint that the caller lets copy every frame (it writes nothing until
    /// the answer); the answer says whether it did. `None` once the thread is gone.
    pub fn complete(&self) -> Option<oneshot::Receiver<bool>> {
        let (tx, rx) = oneshot::channel();
        self.requests.send(Request::Complete(tx)).ok()?;
        Some(rx)
    }

    /// Ends the thread once its current checkpoint is done, and waits for it (blocking).
    pub fn stop(self) {
        drop(self.requests);
        let _ = self.thread.join();
    }
}

/// The thread's side.
struct Worker {
    conn: Connection,
    pending: Arc<AtomicBool>,
    oversized: Arc<AtomicBool>,
    policy: Policy,
}

/// What `PRAGMA wal_checkpoint` reports, as of the checkpoint's start (a writer beside it may
/// have added frames since).
struct Counts {
    /// Another checkpoint held the lock, so this one did nothing.
    busy: bool,
    /// Frames in the WAL.
    log: i64,
    /// Frames copied back into the database file.
    copied: i64,
}

impl Worker {
    fn run(self, requests: mpsc::Receiver<Request>) {
        loop {
            // Ends when the store drops its sender.
            let request = match requests.recv_timeout(self.policy.interval) {
                Ok(r) => Some(r),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            if matches!(request, Some(Request::Checkpoint)) {
                self.pending.store(false, Ordering::Release);
            }
            let counts = self.checkpoint();
            if let Some(Request::Complete(answer)) = request {
                let _ = answer.send(counts.is_some_and(|c| !c.busy && c.copied >= c.log));
            } else if counts.is_some_and(|c| c.log >= i64::from(self.policy.reset_frames)) {
                // Right after a reset, before the store's next write starts the WAL over, this
                // asks for one more: that one finds nothing left to copy and costs no sync.
                self.oversized.store(true, Ordering::Release);
            }
        }
    }

    /// One passive checkpoint.
    fn checkpoint(&self) -> Option<Counts> {
        let counts = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok(Counts {
                    busy: row.get::<_, i64>(0)? != 0,
                    log: row.get(1)?,
                    copied: row.get(2)?,
                })
            });
        counts
            .map_err(|e| tracing::warn!(error = %e, "SQLite checkpoint failed"))
            .ok()
    }
}
