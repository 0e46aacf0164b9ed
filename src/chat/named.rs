//! Threads named by the client: a turn whose request sets `create_thread` starts the thread
//! with the id it names when the user has none (the AI SDK's chat ids, mapped by its transport).
//!
//! Two first sends to the same new name can race: both find no thread, both write one, and the
//! database refuses the second as a duplicate. That send then finds the thread the first made
//! and is answered as any send to a thread already answering (`thread_busy`).

use super::{Chat, Turn, TurnRequest};
use crate::error::{Error, Result};

impl Chat {
    /// Answers a send whose write of a new named thread failed with `e`: `thread_busy` (through
    /// the usual refusal, so a repeated send still gets its turn) when the user has that thread
    /// now, `e` otherwise.
    pub(super) async fn named_start_failed(&self, req: &TurnRequest, e: Error) -> Result<Turn> {
        let made_meanwhile = match req.thread_id {
            Some(id) => self.inner.store.get_conversation(&req.user, id).await?,
            None => None,
        };
        let e = if made_meanwhile.is_some() {
            Error::ThreadBusy
        } else {
            e
        };
        self.refused(req, e).await
    }
}
