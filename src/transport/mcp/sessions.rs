//! Who owns each MCP session, and how many sessions each user and everyone hold.
//!
//! rmcp's `LocalSessionManager` knows sessions by id alone: any request that names an id reaches
//! that session. [`Sessions`] records the user whose `initialize` opened each one, so the edge
//! can answer another user's id with 404, and counts them against [`McpConfig`]'s limits.
//! [`LocalSessions`] is rmcp's manager plus one duty: whenever a session ends (DELETE, idle
//! timeout, eviction, shutdown) its entry leaves the index, so no count includes a dead session.
//!
//! The index is plain data behind a std `Mutex`: each critical section is a few map operations
//! and none crosses an `.await`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use futures::Stream;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError,
};
use rmcp::transport::streamable_http_server::session::{
    EventStore, RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};

use crate::config::McpConfig;
use crate::error::Error;
use crate::model::UserId;

/// The owner and the use of every open MCP session, and the slots being opened.
pub struct Sessions {
    max_per_user: usize,
    max_total: usize,
    index: Mutex<Index>,
}

#[derive(Default)]
struct Index {
    open: HashMap<SessionId, Open>,
    users: HashMap<UserId, Held>,
    /// Slots handed out whose `initialize` has not answered yet, over all users.
    pending: usize,
}

struct Open {
    user: UserId,
    last_used: Instant,
}

/// One user's sessions: the open ones by id, and the slots still being opened.
#[derive(Default)]
struct Held {
    open: Vec<SessionId>,
    pending: usize,
}

impl Held {
    fn count(&self) -> usize {
        self.open.len() + self.pending
    }
}

/// Room for one session of `user`, held while its `initialize` runs. Dropped without
/// [`LocalSessions::open`] (the request failed or was cancelled), it gives the room back.
pub struct Slot {
    sessions: Arc<Sessions>,
    user: UserId,
    taken: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.taken {
            let mut index = self.sessions.lock();
            index.pending -= 1;
            index.release_pending(&self.user);
        }
    }
}

impl Index {
    fn release_pending(&mut self, user: &UserId) {
        if let Some(held) = self.users.get_mut(user) {
            held.pending -= 1;
            if held.count() == 0 {
                self.users.remove(user);
            }
        }
    }

    /// Removes `id`; returns whether it was there.
    fn remove(&mut self, id: &str) -> bool {
        let Some(open) = self.open.remove(id) else {
            return false;
        };
        if let Some(held) = self.users.get_mut(&open.user) {
            held.open.retain(|s| &**s != id);
            if held.count() == 0 {
                self.users.remove(&open.user);
            }
        }
        true
    }
}

impl Sessions {
    pub fn new(config: &McpConfig) -> Arc<Self> {
        Arc::new(Sessions {
            max_per_user: config.max_sessions_per_user,
            max_total: config.max_sessions,
            index: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        // A panic while holding this lock leaves the counts as they were; keep serving.
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `id` is an open session of `user`; if so, marks it used now. Another user's
    /// session and an unknown id are alike to the caller: both are 404.
    pub fn touch(&self, id: &str, user: &UserId) -> bool {
        match self.lock().open.get_mut(id) {
            Some(open) if &open.user == user => {
                open.last_used = Instant::now();
                true
            }
            _ => false,
        }
    }

    /// Room for a new session of `user`. At the per-user limit, the user's least recently used
    /// session makes room: it leaves the index at once and is returned, for the caller to close
    /// in rmcp. At the total limit, `too_many_sessions`: one user may not push out another's.
    pub fn reserve(self: &Arc<Self>, user: &UserId) -> Result<(Slot, Option<SessionId>), Error> {
        let mut index = self.lock();
        let held = index.users.get(user).map_or(0, Held::count);
        let evicted = if held >= self.max_per_user {
            let oldest = index.users.get(user).and_then(|held| {
                held.open
                    .iter()
                    .min_by_key(|id| index.open.get(*id).map(|o| o.last_used))
                    .cloned()
            });
            // Every one of them is still being opened: nothing idle to close.
            let Some(oldest) = oldest else {
                return Err(Error::TooManySessions);
            };
            index.remove(&oldest);
            Some(oldest)
        } else {
            None
        };
        if evicted.is_none() && index.open.len() + index.pending >= self.max_total {
            return Err(Error::TooManySessions);
        }
        index.pending += 1;
        index.users.entry(user.clone()).or_default().pending += 1;
        let slot = Slot {
            sessions: self.clone(),
            user: user.clone(),
            taken: false,
        };
        Ok((slot, evicted))
    }

    /// Turns `slot` into the open session `id`.
    fn fill(&self, mut slot: Slot, id: SessionId) {
        let mut index = self.lock();
        slot.taken = true;
        index.pending -= 1;
        let held = index.users.entry(slot.user.clone()).or_default();
        held.pending -= 1;
        held.open.push(id.clone());
        let open = Open {
            user: slot.user.clone(),
            last_used: Instant::now(),
        };
        index.open.insert(id, open);
    }

    /// Forgets `id` (the session ended).
    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Open sessions of `user`.
    pub fn held_by(&self, user: &UserId) -> usize {
        self.lock().users.get(user).map_or(0, |h| h.open.len())
    }

    /// Open sessions of everyone.
    pub fn len(&self) -> usize {
        self.lock().open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// rmcp's in-memory session manager, with each session's end reported to [`Sessions`].
pub struct LocalSessions {
    inner: LocalSessionManager,
    sessions: Arc<Sessions>,
}

impl LocalSessions {
    /// Sessions that close after `config.session_idle` without a message.
    pub fn new(config: &McpConfig) -> Self {
        let mut inner = LocalSessionManager::default();
        inner.session_config.keep_alive = Some(config.session_idle);
        LocalSessions {
            inner,
            sessions: Sessions::new(config),
        }
    }

    /// The owner index.
    pub fn sessions(&self) -> &Arc<Sessions> {
        &self.sessions
    }

    /// Records `id`, just answered to an `initialize`, as the session `slot` was held for.
    /// A session that already ended meanwhile (its worker failed) is forgotten again: it was
    /// entered after its close had looked for it.
    pub async fn open(&self, slot: Slot, id: SessionId) {
        self.sessions.fill(slot, id.clone());
        if !self.inner.has_session(&id).await.unwrap_or(false) {
            self.sessions.remove(&id);
        }
    }
}

/// Every call goes to rmcp's manager; `close_session`, which rmcp also calls when a session's
/// worker ends (idle timeout, shutdown), removes the session from the index too.
impl SessionManager for LocalSessions {
    type Error = LocalSessionManagerError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.inner.create_session().await
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.inner.initialize_session(id, message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.sessions.remove(id);
        self.inner.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_stream(id, message).await
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.inner.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.resume(id, last_event_id).await
    }

    // No external session store is configured, so rmcp never restores; refuse like the default.
    async fn restore_session(
        &self,
        _id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        Ok(RestoreOutcome::NotSupported)
    }

    fn event_store(&self) -> Option<Arc<dyn EventStore>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn sessions(per_user: usize, total: usize) -> Arc<Sessions> {
        Sessions::new(&McpConfig {
            max_sessions_per_user: per_user,
            max_sessions: total,
            session_idle: Duration::from_secs(60),
        })
    }

    fn user(name: &str) -> UserId {
        UserId::new(name)
    }

    /// Opens a session `id` for `who`; returns what it evicted.
    fn open(s: &Arc<Sessions>, who: &str, id: &str) -> Option<SessionId> {
        let (slot, evicted) = s.reserve(&user(who)).expect("room");
        s.fill(slot, id.into());
        evicted
    }

    #[test]
    fn a_session_answers_only_its_owner() {
        let s = sessions(4, 10);
        open(&s, "alice", "a1");
        assert!(s.touch("a1", &user("alice")));
        assert!(!s.touch("a1", &user("bob")));
        assert!(!s.touch("nope", &user("alice")));
        s.remove("a1");
        assert!(!s.touch("a1", &user("alice")));
        assert!(s.is_empty());
    }

    #[test]
    fn the_per_user_limit_evicts_that_users_least_recently_used() {
        let s = sessions(2, 10);
        assert_eq!(open(&s, "alice", "a1"), None);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(open(&s, "alice", "a2"), None);
        std::thread::sleep(Duration::from_millis(2));
        assert!(s.touch("a1", &user("alice")));
        open(&s, "bob", "b1");
        assert_eq!(open(&s, "alice", "a3").as_deref(), Some("a2"));
        assert_eq!(s.held_by(&user("alice")), 2);
        assert!(!s.touch("a2", &user("alice")));
        assert!(s.touch("b1", &user("bob")));
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn the_total_limit_refuses_and_evicts_no_one_else() {
        let s = sessions(2, 3);
        open(&s, "alice", "a1");
        open(&s, "alice", "a2");
        open(&s, "bob", "b1");
        assert!(matches!(
            s.reserve(&user("carol")),
            Err(Error::TooManySessions)
        ));
        // Alice at her own limit still gets room, by closing her oldest.
        assert_eq!(open(&s, "alice", "a3").as_deref(), Some("a1"));
        s.remove("b1");
        assert!(s.reserve(&user("carol")).is_ok());
    }

    #[test]
    fn a_dropped_slot_gives_its_room_back() {
        let s = sessions(1, 1);
        let (slot, _) = s.reserve(&user("alice")).unwrap();
        // The room is held while the first initialize runs: nothing to evict, none left.
        assert!(matches!(
            s.reserve(&user("alice")),
            Err(Error::TooManySessions)
        ));
        assert!(matches!(
            s.reserve(&user("bob")),
            Err(Error::TooManySessions)
        ));
        drop(slot);
        assert!(s.lock().users.is_empty());
        assert_eq!(s.lock().pending, 0);
        assert!(s.reserve(&user("bob")).is_ok());
    }
}
