//! `relay`: what lets several instances share one PostgreSQL database, as behind a load
//! balancer.
//!
//! A user's sockets may sit on any instance, while a turn runs on the instance that received
//! its message. Each instance therefore sends every event its hub publishes to a broker and
//! delivers every event it hears from another instance to its own subscribers
//! ([`Hub::deliver`]). Transports see no difference. Cancel requests for a turn run elsewhere
//! travel the same way and are applied where the turn runs; the chat core claims each thread in
//! a shared registry in PostgreSQL ([`crate::chat::cluster`]) that this module keeps alive,
//! whichever the broker.
//!
//! **Brokers** (`EVENT_BROKER`, see `broker`). By default PostgreSQL itself: events are
//! `NOTIFY agentwire_events`, cancels `agentwire_cancel`, so nothing more runs. But every
//! `NOTIFY` takes a database-wide lock at commit, which serialises writers as instances are
//! added; `nats` sends the same payloads through a NATS server instead (`<prefix>.events`,
//! `<prefix>.cancel`), core NATS with no persistence. Both only send and hear payloads; what
//! follows holds for both.
//!
//! A payload carries a run of consecutive events of one instance:
//! `{"o": instance, "s": seq of the first, "b": [[user, event, n], …]}`, each event being the
//! very JSON its sockets receive (less the `pos` each instance adds) and `n` its number in the
//! hub of the instance that published it (see [`crate::hub::position`]). Runs are packed up to
//! the broker's size (a notification allows 8,000 bytes; NATS messages are cut at 64 KiB), so
//! a turn's 64 deltas travel in a few payloads, not 64. An event too large for a payload on
//! its own (past 8,000 bytes, or past the NATS server's `max_payload`, 1 MiB by default) is
//! stored in `event_relay` and its payload carries `{"o", "s", "r": row id}`; an event that
//! cannot be stored is lost visibly, as below.
//!
//! **Order.** One task per instance sends events in the order they were published. PostgreSQL
//! delivers one sender's notifications in that order (a batch's in one statement); NATS
//! delivers one connection's messages in order.
//!
//! **No holes.** Neither broker keeps what a receiver missed: `NOTIFY` reaches only the
//! connections listening at the time, and core NATS delivers at most once. So the event
//! numbers count every event an instance published, including one the relay had to drop (its
//! queue full, the broker or database failing). A receiver that sees an instance's numbers
//! jump, or that may have missed payloads (its listening connection to PostgreSQL, or its
//! connection to NATS, dropped; or it fell behind its NATS subscription), marks every local
//! subscription lagged: each socket is closed with 1013, saying why, and the hub stops vouching
//! for positions that count on other instances' events made before then. The client reconnects
//! and resumes (`recovered: false` when the gap may touch it) rather than going on with a
//! stream that misses a delta.

mod broker;
mod nats;
mod postgres;
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
use crate::config::EventBroker;
use crate::error::Result;
use crate::hub::{Hub, Outgoing};
use crate::store::relay_db::RelayDb;
use broker::{Broker, Heard, Listener};
use wire::{Order, Packer, Relayed};

/// Events taken from the queue per batch at most. Large, so that a sender that fell behind
/// (one task among every socket's, on a busy core) catches up in few round trips.
const BATCH: usize = 4_096;
/// Events waiting to be sent at most; beyond it publishing drops (and receivers see a gap).
const QUEUE: usize = 65_536;
/// How often the sender sweeps old stored payloads.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Joins this instance to the others on `db` through `broker`: from now on `hub`'s events reach
/// every instance on the same database (and broker) and theirs reach it, and `chat` claims
/// threads and cancels turns across instances. The tasks run on `tasks` and end when `stop` is
/// cancelled (the sender once it has sent what was published before) or the store closes.
/// Fails when the broker cannot be reached.
pub async fn start(
    db: RelayDb,
    broker: &EventBroker,
    hub: Hub,
    chat: Chat,
    stop: CancellationToken,
    tasks: &TaskTracker,
) -> Result<()> {
    let origin = hub.origin();
    let broker = Broker::connect(db, broker, origin).await?;
    // Listen before publishing anything: nothing sent after start is missed.
    let listener = broker.listen().await?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let dropped = Arc::new(AtomicU64::new(0));
    if !hub.relay_to(tx, dropped.clone()) {
        return Ok(());
    }
    let db = broker.db().clone();
    chat.join_cluster(Cluster::new(db.clone(), origin, broker.cancels()));
    tasks.spawn(send(broker.clone(), rx, dropped, origin, stop.clone()));
    tasks.spawn(keep_alive(db, origin, chat.clone(), stop.clone()));
    let broker_name = broker.name();
    tasks.spawn(receive(broker, listener, hub, chat, origin, stop));
    tracing::info!(%origin, broker = broker_name, "joined the instances on this database");
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
    broker: Broker,
    mut rx: mpsc::Receiver<Outgoing>,
    dropped: Arc<AtomicU64>,
    origin: Uuid,
    stop: CancellationToken,
) {
    let mut seq = 0u64;
    let mut swept = tokio::time::Instant::now();
    let mut batch = Vec::with_capacity(BATCH);
    let mut packer = Packer::new(origin, broker.limits());
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
        // A NATS server met after a reconnect may allow other sizes.
        packer.set_limits(broker.limits());
        let mut failed = 0u64;
        for (event, n) in batch.drain(..) {
            // Events dropped before this one leave their numbers unused: a gap receivers see.
            let skipped = dropped.swap(0, Ordering::Relaxed);
            failed += skipped;
            seq += 1 + skipped;
            packer.push(seq, &event, n);
        }
        let (sent, lost) = broker.send(packer.finish()).await;
        crate::metrics::relay_sent(sent, failed + lost);
        if swept.elapsed() >= SWEEP_EVERY {
            swept = tokio::time::Instant::now();
            if let Err(e) = broker.db().sweep().await {
                tracing::warn!(error = %e, "event relay: could not sweep stored events");
            }
        }
    }
}

/// Delivers what other instances publish to this instance's subscribers.
async fn receive(
    broker: Broker,
    mut listener: Listener,
    hub: Hub,
    chat: Chat,
    origin: Uuid,
    stop: CancellationToken,
) {
    let mut order = Order::new(origin);
    loop {
        let heard = tokio::select! {
            _ = stop.cancelled() => return,
            heard = listener.next() => heard,
        };
        match heard {
            Heard::Cancel(payload) => match serde_json::from_slice::<CancelRequest>(&payload) {
                Ok(c) if c.queued => {
                    chat.mark_queued(c.thread);
                }
                Ok(c) => {
                    chat.stop_here(&c.user, c.thread, c.interrupt);
                }
                Err(e) => tracing::warn!(error = %e, "ignoring an unreadable cancel request"),
            },
            Heard::Events(payload) => match order.accept(broker.db(), &payload).await {
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
            Heard::Lost(why) => lost(&hub, &mut order, why),
            Heard::Closed => return,
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
