//! The SQL that lets several instances share one PostgreSQL database (`crate::relay`): `NOTIFY`
//! for events and cancels, a table for events too large for a notification (or a NATS
//! message), the listening connection, and the registry of running turns that keeps one turn
//! per thread across instances.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgNotification};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::Result;
use crate::model::{ThreadId, UserId};

/// The channel events travel on. Channels are per database, so instances on different
/// databases never hear each other.
pub const CHANNEL: &str = "agentwire_events";

/// The channel cancel requests travel on, to whichever instance runs the turn.
pub const CANCEL_CHANNEL: &str = "agentwire_cancel";

/// How long a large event's row is kept for receivers to read.
const KEEP_SECS: i64 = 300;

/// By default, a running turn whose instance has not refreshed it for this long belongs to an
/// instance that died: the thread is free again, and its answer is interrupted. The store's
/// claim lapse sets it (`INSTANCE_DEAD_AFTER_SECS`); instances refresh their claims four times
/// per lapse ([`RelayDb::keep_alive_every`]).
pub const DEFAULT_LAPSE_SECS: u64 = 60;

/// Longest time between two refreshes of an instance's claims.
const KEEP_ALIVE_AT_MOST: Duration = Duration::from_secs(15);

/// The relay's handle to PostgreSQL, with the claim lapse in seconds.
#[derive(Debug, Clone)]
pub struct RelayDb(pub(super) PgPool, pub(super) f64);

impl RelayDb {
    /// A handle over `pool` (a migrated database's), with the default claim lapse.
    pub fn new(pool: PgPool) -> Self {
        RelayDb(pool, DEFAULT_LAPSE_SECS as f64)
    }

    /// How often an instance refreshes its claims: a quarter of the lapse, at most 15 s, so
    /// that a live instance's claim never lapses.
    pub fn keep_alive_every(&self) -> Duration {
        Duration::from_secs_f64(self.1 / 4.0).min(KEEP_ALIVE_AT_MOST)
    }

    /// A connection of its own, listening on [`CHANNEL`] and [`CANCEL_CHANNEL`]. It reconnects
    /// and listens again after a lost connection (see [`Listener::next`]).
    pub async fn listen(&self) -> Result<Listener> {
        let mut listener = PgListener::connect_with(&self.0).await?;
        listener.listen_all([CHANNEL, CANCEL_CHANNEL]).await?;
        Ok(Listener(listener))
    }

    /// Records that `instance` runs a turn on `thread`; false when a live instance already
    /// does. A claim left by an instance that stopped refreshing it is taken over. The claim
    /// names no answer, so it covers any answer of the thread in progress (see
    /// `Store::interrupt_answers`).
    pub async fn claim_turn(
        &self,
        thread: ThreadId,
        user: &UserId,
        instance: Uuid,
    ) -> Result<bool> {
        let claimed: Option<i32> = sqlx::query_scalar(
            "INSERT INTO running_turns (thread_id, user_id, instance) VALUES ($1, $2, $3) \
             ON CONFLICT (thread_id) DO UPDATE \
               SET user_id = EXCLUDED.user_id, instance = EXCLUDED.instance, \
                   message_id = NULL, seen_at = now() \
               WHERE running_turns.seen_at < now() - make_interval(secs => $4) \
             RETURNING 1",
        )
        .bind(thread.0)
        .bind(user.as_str())
        .bind(instance)
        .bind(self.1)
        .fetch_optional(&self.0)
        .await?;
        Ok(claimed.is_some())
    }

    /// Frees `thread` if `instance` holds it.
    pub async fn release_turn(&self, thread: ThreadId, instance: Uuid) -> Result<()> {
        sqlx::query("DELETE FROM running_turns WHERE thread_id = $1 AND instance = $2")
            .bind(thread.0)
            .bind(instance)
            .execute(&self.0)
            .await?;
        Ok(())
    }

    /// Whether a live instance runs a turn on `user`'s `thread`.
    pub async fn turn_running(&self, thread: ThreadId, user: &UserId) -> Result<bool> {
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM running_turns WHERE thread_id = $1 AND user_id = $2 \
             AND seen_at >= now() - make_interval(secs => $3)",
        )
        .bind(thread.0)
        .bind(user.as_str())
        .bind(self.1)
        .fetch_optional(&self.0)
        .await?;
        Ok(found.is_some())
    }

    /// Marks every turn `instance` runs as alive.
    pub async fn keep_alive(&self, instance: Uuid) -> Result<()> {
        sqlx::query("UPDATE running_turns SET seen_at = now() WHERE instance = $1")
            .bind(instance)
            .execute(&self.0)
            .await?;
        Ok(())
    }

    /// Asks every instance to cancel a turn (`payload` names it; see `crate::relay`).
    pub async fn notify_cancel(&self, payload: &str) -> Result<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CANCEL_CHANNEL)
            .bind(payload)
            .execute(&self.0)
            .await?;
        Ok(())
    }

    /// Sends one notification per payload, in order, in one statement (one transaction: they
    /// are delivered together, after each other, or not at all).
    pub async fn notify(&self, payloads: &[String]) -> Result<()> {
        if payloads.is_empty() {
            return Ok(());
        }
        sqlx::query("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p")
            .bind(CHANNEL)
            .bind(payloads)
            .execute(&self.0)
            .await?;
        Ok(())
    }

    /// Stores `payload` and notifies `head` followed by its row id and `}`: a notification
    /// small enough for any event.
    pub async fn notify_stored(&self, head: &str, payload: &str) -> Result<()> {
        sqlx::query(
            "WITH r AS (INSERT INTO event_relay (payload) VALUES ($1) RETURNING id) \
             SELECT pg_notify($2, $3 || r.id || '}') FROM r",
        )
        .bind(payload)
        .bind(CHANNEL)
        .bind(head)
        .execute(&self.0)
        .await?;
        Ok(())
    }

    /// Stores `payload` for another broker to point at (see `crate::relay`); returns its row
    /// id.
    pub async fn store(&self, payload: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar("INSERT INTO event_relay (payload) VALUES ($1) RETURNING id")
                .bind(payload)
                .fetch_one(&self.0)
                .await?,
        )
    }

    /// A stored payload by row id; `None` once swept.
    pub async fn stored(&self, id: i64) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT payload FROM event_relay WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.0)
                .await?,
        )
    }

    /// Deletes stored payloads older than every receiver could still need.
    pub async fn sweep(&self) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM event_relay WHERE created_at < now() - make_interval(secs => $1)",
        )
        .bind(KEEP_SECS as f64)
        .execute(&self.0)
        .await?;
        Ok(done.rows_affected())
    }
}

/// The listening connection.
pub struct Listener(PgListener);

/// What the listening connection produced.
pub enum Heard {
    Notification(PgNotification),
    /// The connection was lost and has been re-established: notifications sent meanwhile are
    /// gone.
    Reconnected,
    /// The store is closing.
    Closed,
}

impl Listener {
    /// The next notification. Errors (PostgreSQL unreachable while reconnecting) are returned
    /// as they come; calling again retries.
    pub async fn next(&mut self) -> Result<Heard> {
        match self.0.try_recv().await {
            Ok(Some(n)) => Ok(Heard::Notification(n)),
            Ok(None) => Ok(Heard::Reconnected),
            Err(sqlx::Error::PoolClosed) => Ok(Heard::Closed),
            Err(e) => Err(e.into()),
        }
    }
}
