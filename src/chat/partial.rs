//! Saving a turn's answer as it streams, so that a process killed mid-turn loses at most a
//! moment of it: the text, the tool calls so far and how many deltas that text holds, written
//! together ([`crate::store::Store::save_partials`]), at most `every` or `bytes` of text behind.
//!
//! The turn never waits for a save: it hands the save to the process's one save writer
//! ([`Saves`]) and goes on, one save in flight per turn; what arrives meanwhile goes into the
//! next. The writer writes every save queued while it wrote the last batch in one statement, so
//! all the turns of a process take one database connection for their saves and one round trip
//! per batch. The turn's loop polls [`Saver::wake`] beside the agent's steps to learn when a
//! save landed or came due; the final write waits for the save in flight ([`Saver::settle`]),
//! so no save lands after it.

use std::future::pending;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant, Sleep};

use crate::model::{MessageId, ToolCall, UserId};
use crate::store::{PartialAnswer, Store};

/// Most saves written in one statement.
const BATCH: usize = 256;

/// The process's save writer: cheap to clone; the writer task ends when every clone is gone.
#[derive(Clone)]
pub(super) struct Saves {
    tx: mpsc::UnboundedSender<Save>,
}

struct Save {
    user: UserId,
    answer: PartialAnswer,
    landed: oneshot::Sender<()>,
}

impl Saves {
    /// Starts the writer on `store`. Needs a Tokio runtime.
    pub fn start(store: Store) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_saves(store, rx));
        Saves { tx }
    }

    /// Queues a save; the receiver resolves once it was written (or failed: the answer goes
    /// on, and the next save or the final write carries its text).
    fn save(&self, user: UserId, answer: PartialAnswer) -> oneshot::Receiver<()> {
        let (landed, rx) = oneshot::channel();
        let _ = self.tx.send(Save {
            user,
            answer,
            landed,
        });
        rx
    }
}

/// Writes queued saves, a batch at a time, until every [`Saves`] is dropped.
async fn write_saves(store: Store, mut rx: mpsc::UnboundedReceiver<Save>) {
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(save) => batch.push(save),
                Err(_) => break,
            }
        }
        let saves = batch
            .iter()
            .map(|s| (s.user.clone(), s.answer.clone()))
            .collect();
        match store.save_partials(saves).await {
            Ok(saved) => crate::metrics::partial_saved(saved.len()),
            Err(e) => tracing::warn!(error = %e, "could not save answers in progress"),
        }
        for save in batch.drain(..) {
            let _ = save.landed.send(());
        }
    }
}

/// How far behind the stream the saved answer may fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaveLag {
    /// Longest time text may wait unsaved.
    pub every: Duration,
    /// Most text, in bytes, that may wait unsaved.
    pub bytes: usize,
}

/// The answer as the agent has produced it so far.
pub(super) struct Snapshot<'a> {
    pub content: &'a str,
    pub tool_calls: &'a [ToolCall],
    pub deltas: u32,
}

/// The saves of one turn's answer.
pub(super) struct Saver {
    saves: Saves,
    user: UserId,
    id: MessageId,
    lag: SaveLag,
    /// Bytes of text and tool calls the last save started with.
    saved_bytes: usize,
    saved_calls: usize,
    /// When the oldest change not in any save arrived; `None` when every change is in one.
    since: Option<Instant>,
    /// Fires at `since + lag.every`.
    timer: Pin<Box<Sleep>>,
    flight: Option<oneshot::Receiver<()>>,
}

/// Why [`Saver::wake`] returned.
pub(super) enum Wake {
    /// The save in flight ended.
    Landed,
    /// Unsaved text has waited its longest.
    Due,
}

impl Saver {
    pub fn new(saves: Saves, user: UserId, id: MessageId, lag: SaveLag) -> Self {
        Saver {
            saves,
            user,
            id,
            lag,
            saved_bytes: 0,
            saved_calls: 0,
            since: None,
            timer: Box::pin(sleep_until(Instant::now())),
            flight: None,
        }
    }

    /// Notes that the answer changed (a delta or a tool call): saves at once when enough text
    /// or a new tool call waits and no save is in flight, and otherwise starts the clock on
    /// the change. Cheap: no clock read unless the answer was all saved before.
    pub fn changed(&mut self, now: &Snapshot<'_>) {
        if self.since.is_none() {
            let at = Instant::now();
            self.since = Some(at);
            self.timer.as_mut().reset(at + self.lag.every);
        }
        if self.flight.is_none() && self.enough(now) {
            self.start(now);
        }
    }

    /// Whether [`Saver::wake`] has anything to wait for.
    pub fn busy(&self) -> bool {
        self.flight.is_some() || self.since.is_some()
    }

    /// Resolves when a save lands or unsaved changes come due; never while idle. Cancel-safe.
    pub async fn wake(&mut self) -> Wake {
        if let Some(flight) = &mut self.flight {
            let _ = flight.await;
            self.flight = None;
            return Wake::Landed;
        }
        if self.since.is_some() {
            self.timer.as_mut().await;
            return Wake::Due;
        }
        pending().await
    }

    /// Acts on what [`Saver::wake`] said: saves what waits when it is due.
    pub fn woke(&mut self, why: Wake, now: &Snapshot<'_>) {
        let Some(since) = self.since else { return };
        let due = match why {
            Wake::Due => true,
            Wake::Landed => self.enough(now) || since.elapsed() >= self.lag.every,
        };
        if due && self.flight.is_none() {
            self.start(now);
        }
    }

    /// Waits for the save in flight, so that the turn's final write comes after it.
    pub async fn settle(&mut self) {
        if let Some(flight) = self.flight.take() {
            let _ = flight.await;
        }
    }

    fn enough(&self, now: &Snapshot<'_>) -> bool {
        now.content.len() - self.saved_bytes >= self.lag.bytes
            || now.tool_calls.len() > self.saved_calls
    }

    fn start(&mut self, now: &Snapshot<'_>) {
        self.saved_bytes = now.content.len();
        self.saved_calls = now.tool_calls.len();
        self.since = None;
        let partial = PartialAnswer {
            id: self.id,
            content: now.content.to_string(),
            tool_calls: now.tool_calls.to_vec(),
            next_seq: now.deltas,
        };
        self.flight = Some(self.saves.save(self.user.clone(), partial));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Message, MessageStatus, NewMessage, Role, ThreadId};
    use crate::store::{ClaimStep, TurnStart};

    fn snap(content: &str, deltas: u32) -> Snapshot<'_> {
        Snapshot {
            content,
            tool_calls: &[],
            deltas,
        }
    }

    /// A store with one turn's answer in progress.
    async fn answer() -> (Store, UserId, Message) {
        let store = Store::connect("sqlite::memory:", 1).await.unwrap();
        store.migrate().await.unwrap();
        let user = UserId::new("u");
        let question = NewMessage {
            id: MessageId::new(),
            conversation_id: ThreadId::new(),
            role: Role::User,
            content: "hi".into(),
            tool_calls: Vec::new(),
            status: MessageStatus::Completed,
            usage: None,
            details: None,
        };
        let start = TurnStart {
            question: &question,
            answer: Some(MessageId::new()),
            client_message_id: None,
            claim: ClaimStep::None,
        };
        let (_, _, answer) = store
            .start_turn_in_new(&user, None, &serde_json::json!({}), &start)
            .await
            .unwrap();
        (store, user, answer.unwrap())
    }

    async fn stored(store: &Store, user: &UserId, a: &Message) -> (String, Option<u32>) {
        let m = store
            .get_message(user, a.conversation_id, a.id)
            .await
            .unwrap()
            .unwrap();
        (m.content, m.next_seq)
    }

    #[tokio::test(start_paused = true)]
    async fn little_text_waits_its_time_and_enough_text_is_saved_at_once() {
        let (store, user, a) = answer().await;
        let lag = SaveLag {
            every: Duration::from_millis(100),
            bytes: 10,
        };
        let mut saver = Saver::new(Saves::start(store.clone()), user.clone(), a.id, lag);
        assert!(!saver.busy());
        let start = Instant::now();
        saver.changed(&snap("abc", 1));
        assert!(saver.busy());
        // Due once the text has waited `every`, not before.
        let why = saver.wake().await;
        assert!(matches!(why, Wake::Due));
        assert!(start.elapsed() >= lag.every);
        assert_eq!(stored(&store, &user, &a).await, (String::new(), Some(0)));
        saver.woke(why, &snap("abc", 1));
        assert!(matches!(saver.wake().await, Wake::Landed));
        assert_eq!(stored(&store, &user, &a).await, ("abc".into(), Some(1)));
        assert!(!saver.busy());

        // Ten bytes more: saved at once, with the count of deltas it holds.
        saver.changed(&snap("abc defghijkl", 3));
        saver.settle().await;
        assert_eq!(
            stored(&store, &user, &a).await,
            ("abc defghijkl".into(), Some(3))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn one_save_at_a_time_and_what_came_meanwhile_goes_in_the_next() {
        let (store, user, a) = answer().await;
        let lag = SaveLag {
            every: Duration::from_secs(60),
            bytes: 2,
        };
        let mut saver = Saver::new(Saves::start(store.clone()), user.clone(), a.id, lag);
        saver.changed(&snap("ab", 1));
        // A save is in flight: more text waits for it, however much.
        saver.changed(&snap("abcdef", 2));
        saver.changed(&snap("abcdefgh", 3));
        let why = saver.wake().await;
        assert!(matches!(why, Wake::Landed));
        assert_eq!(stored(&store, &user, &a).await, ("ab".into(), Some(1)));
        saver.woke(why, &snap("abcdefgh", 3));
        saver.settle().await;
        assert_eq!(
            stored(&store, &user, &a).await,
            ("abcdefgh".into(), Some(3))
        );
        // A tool call is saved at once, however little text came with it.
        let call = ToolCall {
            id: None,
            tool_name: "add_task".into(),
            arguments: serde_json::json!({}),
            result: serde_json::json!({"ok": true}),
        };
        let calls = [call];
        saver.changed(&Snapshot {
            content: "abcdefgh",
            tool_calls: &calls,
            deltas: 3,
        });
        saver.settle().await;
        let m = store
            .get_message(&user, a.conversation_id, a.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.tool_calls.len(), 1);
    }
}
