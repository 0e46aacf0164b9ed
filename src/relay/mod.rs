//! `relay`: what lets several instances share one PostgreSQL database, as behind a load
//! balancer.
//!
//! A user's sockets may sit on any instance, while a turn runs on the instance that received
//! its message. Each instance therefore sends every event its hub publishes to PostgreSQL
//! (`NOTIFY agentwire_events`) and delivers every event it hears from another instance to its
//! own subscribers ([`Hub::deliver`]). Transports see no difference. Cancel requests for a turn
//! run elsewhere arrive on `agentwire_cancel` and are applied here when the turn runs here; the
//! chat core claims each thread in a shared registry ([`crate::chat::cluster`]) that this
//! module keeps alive.
//!
//! A notification carries a run of consecutive events of one instance:
//! `{"o": instance, "s": seq of the first, "b": [[user, event, n], …]}`, each event being the
//! very JSON its sockets receive (less the `pos` each instance adds) and `n` its number in the
//! hub of the instance that published it (see [`crate::hub::position`]), packed up to the size a notification allows (8,000 bytes), so a
//! turn's 64 deltas travel in a few notifications, not 64. An event too large for one on its
//! own is stored in `event_relay` and its notification carries `{"o", "s", "r": row id}`.
//!
//! **Order.** One task per instance sends events in the order they were published, the
//! notifications of a batch in one statement; PostgreSQL delivers one sender's notifications in
//! that order.
//!
//! **No holes.** The event numbers count every event an instance published, including one the relay had to
//! drop (its queue full, PostgreSQL failing). A receiver that sees an instance's numbers jump, or
//! that lost its listening connection (notifications sent meanwhile are gone), marks every local
//! subscription lagged: each socket is closed with 1013, saying why, and the hub stops vouching
//! for positions that count on other instances' events made before then. The client reconnects
//! and resumes (`recovered: false` when the gap may touch it) rather than going on with a stream
//! that misses a delta.

mod wire;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

use crate::chat::cluster::{CancelRequest, Cluster};
use crate::chat::Chat;
use crate::error::Result;
use crate::hub::{Hub, Outgoing};
use crate::store::relay_db::{Heard, RelayDb, CANCEL_CHANNEL};
use wire::{Notice, Order, Packer, Relayed};

/// Events taken from the queue per statement at most. Large, so that a sender that fell behind
/// (one task among every socket's, on a busy core) catches up in few round trips.
const BATCH: usize = 4_096;
/// Events waiting to be sent at most; beyond it publishing drops (and receivers see a gap).
const QUEUE: usize = 65_536;
/// How often the sender sweeps old stored payloads.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Joins this instance to the others on `db`: from now on `hub`'s events reach every instance
/// listening on the same database and theirs reach it, and `chat` claims threads and cancels
/// turns across instances. The tasks run on `tasks` and end when `stop` is cancelled (the
/// sender once it has sent what was published before) or the store closes.
pub async fn start(
    db: RelayDb,
    hub: Hub,
    chat: Chat,
    stop: CancellationToken,
    tasks: &TaskTracker,
) -> Result<()> {
    let origin = hub.origin();
    // Listen before publishing anything: nothing sent after start is missed.
    let listener = db.listen().await?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let dropped = Arc::new(AtomicU64::new(0));
    if !hub.relay_to(tx, dropped.clone()) {
        return Ok(());
    }
    chat.join_cluster(Cluster::new(db.clone(), origin));
    tasks.spawn(send(db.clone(), rx, dropped, origin, stop.clone()));
    tasks.spawn(keep_alive(db.clone(), origin, chat.clone(), stop.clone()));
    tasks.spawn(receive(db, listener, hub, chat, origin, stop));
    tracing::info!(%origin, "joined the instances on this database");
    Ok(())
}

/// Refreshes this instance's running turns, so no other instance takes their threads over; and
/// at each refresh, interrupts the answers of instances that stopped refreshing theirs.
async fn keep_alive(db: RelayDb, origin: Uuid, chat: Chat, stop: CancellationToken) {
    let mut tick = tokio::time::interval(db.keep_alive_every());
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = db.keep_alive(origin).await {
            tracing::warn!(error = %e, "could not refresh this instance's running turns");
        }
        if let Err(e) = chat.interrupt_lapsed().await {
            tracing::warn!(error = %e, "could not look for answers of dead instances");
        }
    }
}

/// Sends what the hub publishes, in order, packing whatever is queued.
async fn send(
    db: RelayDb,
    mut rx: mpsc::Receiver<Outgoing>,
    dropped: Arc<AtomicU64>,
    origin: Uuid,
    stop: CancellationToken,
) {
    let mut seq = 0u64;
    let mut swept = tokio::time::Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    let mut packer = Packer::new(origin);
    loop {
        // After `stop`, send what is still queued, then end.
        let first = tokio::select! {
            biased;
            e = rx.recv() => e,
            _ = stop.cancelled() => rx.try_recv().ok(),
        };
        let Some(first) = first else { return };
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        let mut failed = 0u64;
        for (event, n) in batch.drain(..) {
            // Events dropped before this one leave their numbers unused: a gap receivers see.
            let skipped = dropped.swap(0, Ordering::Relaxed);
            failed += skipped;
            seq += 1 + skipped;
            packer.push(seq, &event, n);
        }
        let notices = packer.finish();
        let (sent, lost) = send_notices(&db, notices).await;
        crate::metrics::relay_sent(sent, failed + lost);
        if swept.elapsed() >= SWEEP_EVERY {
            swept = tokio::time::Instant::now();
            if let Err(e) = db.sweep().await {
                tracing::warn!(error = %e, "event relay: could not sweep stored events");
            }
        }
    }
}

/// Sends notices in order: runs of inline ones in one statement, stored ones one by one.
/// Returns how many events were sent and how many were lost.
async fn send_notices(db: &RelayDb, notices: Vec<Notice>) -> (u64, u64) {
    let (mut sent, mut lost) = (0u64, 0u64);
    let mut inline: Vec<String> = Vec::new();
    let mut inline_events = 0u64;
    let mut notices = notices.into_iter().peekable();
    while let Some(notice) = notices.next() {
        match notice {
            Notice::Inline { payload, events } => {
                inline.push(payload);
                inline_events += events;
                if !matches!(notices.peek(), Some(Notice::Inline { .. })) {
                    match db.notify(&inline).await {
                        Ok(()) => sent += inline_events,
                        Err(e) => {
                            tracing::warn!(error = %e, "event relay: could not send events");
                            lost += inline_events;
                        }
                    }
                    inline.clear();
                    inline_events = 0;
                }
            }
            Notice::Stored {
                head,
                payload,
                events,
            } => match db.notify_stored(&head, &payload).await {
                Ok(()) => sent += events,
                Err(e) => {
                    tracing::warn!(error = %e, "event relay: could not send a large event");
                    lost += events;
                }
            },
        }
    }
    (sent, lost)
}
/// Delivers what other instances publish to this instance's subscribers.
async fn receive(
    db: RelayDb,
    mut listener: crate::store::relay_db::Listener,
    hub: Hub,
    chat: Chat,
    origin: Uuid,
    stop: CancellationToken,
) {
    let mut order = Order::new(origin);
    // While PostgreSQL cannot be reached, sockets are closed when the outage starts and again
    // when it ends, not at every retry.
    let mut down = false;
    loop {
        let heard = tokio::select! {
            _ = stop.cancelled() => return,
            heard = listener.next() => heard,
        };
        let back = matches!(heard, Ok(Heard::Notification(_) | Heard::Reconnected));
        let recovered = back && std::mem::take(&mut down);
        if recovered {
            // Sockets opened during the outage missed what was sent meanwhile too.
            lost(&hub, &mut order, "the listening connection is back");
        }
        match heard {
            Ok(Heard::Notification(n)) if n.channel() == CANCEL_CHANNEL => {
                match serde_json::from_str::<CancelRequest>(n.payload()) {
                    Ok(c) if c.queued => {
                        chat.mark_queued(c.thread);
                    }
                    Ok(c) => {
                        chat.stop_here(&c.user, c.thread, c.interrupt);
                    }
                    Err(e) => tracing::warn!(error = %e, "ignoring an unreadable cancel request"),
                }
            }
            Ok(Heard::Notification(n)) => match order.accept(&db, n.payload()).await {
                Relayed::Events(origin, events) => {
                    for (event, n) in events {
                        hub.deliver(event, origin, n);
                        crate::metrics::relay_received();
                        // Nothing else makes this loop give way: let the sockets drain their
                        // queues between deliveries, as they do between a local turn's events.
                        tokio::task::consume_budget().await;
                    }
                }
                Relayed::Gap => lost(&hub, &mut order, "an instance's events arrived with a gap"),
                Relayed::Skip => {}
            },
            Ok(Heard::Reconnected) => {
                if !recovered {
                    lost(&hub, &mut order, "the listening connection dropped");
                }
            }
            Ok(Heard::Closed) => return,
            Err(e) => {
                if !std::mem::replace(&mut down, true) {
                    lost(&hub, &mut order, "the listening connection failed");
                }
                tracing::warn!(error = %e, "event relay: listening again in a second");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}

/// Events from other instances may be lost: close every local socket (1013) and start afresh.
fn lost(hub: &Hub, order: &mut Order, why: &str) {
    tracing::warn!(
        why,
        "event relay: events may be lost; closing this instance's sockets"
    );
    crate::metrics::relay_gap();
    hub.lag_all();
    order.last.clear();
}
