//! The checkpointer: a thread with a connection of its own that folds the WAL back into the
//! database file when the store asks, so the syncs of a checkpoint (milliseconds) never run
//! inside a request. Its checkpoints are passive: they never block the store's writer.

use std::path::Path;
use std::sync::mpsc::{self, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

#[derive(Debug)]
pub(super) struct Checkpointer {
    wake: SyncSender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    /// Opens its connection to the database at `path` and starts the thread. Dropping the
    /// checkpointer ends the thread after its current checkpoint.
    pub fn start(path: &Path, busy_timeout: Duration) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(busy_timeout)?;
        let (wake, woken) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                // Ends when the store drops its sender.
                for () in woken {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "SQLite checkpoint failed");
                    }
                }
            })
            .map_err(|e| Error::Internal(format!("starting the SQLite checkpointer: {e}")))?;
        Ok(Checkpointer { wake, thread })
    }

    /// Asks for a checkpoint. One already asked for and not yet started covers this request.
    pub fn request(&self) {
        let _ = self.wake.try_send(());
    }

    /// Ends the thread once its current checkpoint is done, and waits for it (blocking).
    pub fn stop(self) {
        drop(self.wake);
        let _ = self.thread.join();
    }
}
