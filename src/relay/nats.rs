//! The NATS broker: payloads on `<prefix>.events`, cancels on `<prefix>.cancel`, both heard on
//! one subscription to `<prefix>.*`. It takes the relay's traffic off the database; large
//! events are still stored in `event_relay`, as with `NOTIFY`.
//!
//! Core NATS delivers at most once, in order per sending connection. A message is lost when a
//! connection is down (or not yet subscribed again) while it is sent, or when this instance
//! falls behind its subscription (a slow consumer); the client reports each as an event, which
//! becomes [`Heard::Lost`]. What a report could miss, the relay's event numbers catch.
//!
//! After a reconnect the client subscribes again, but what is sent before the server has the
//! subscription is gone. So the connection counts as back only once this instance hears a
//! probe it sent itself after reconnecting, as PostgreSQL's listener reports a reconnection
//! only once it listens again. The same probe, at start, makes [`Listening::start`] return
//! only once the subscription is in place.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event, Message, ServerAddr, Subject, Subscriber};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::Notify;
use uuid::Uuid;

use super::broker::Heard;
use super::wire::{Limits, Notice};
use crate::config::NatsConfig;
use crate::error::{Error, Result};
use crate::store::relay_db::RelayDb;

/// A run of events is cut at this size. NATS's own limit (1 MiB by default) is left for single
/// large events: a receiver parses a run before delivering any of it, so smaller runs reach
/// sockets sooner, and this still packs a turn's deltas a few hundred to a message.
const BATCH: usize = 64 * 1024;
/// How long start waits for its probe.
const PROBE_WAIT: Duration = Duration::from_secs(5);

/// A connection to NATS and this deployment's subjects. Cheap to clone.
#[derive(Debug, Clone)]
pub(super) struct Nats {
    client: Client,
    subjects: Arc<Subjects>,
    alarms: Arc<Alarms>,
    origin: Uuid,
}

#[derive(Debug)]
struct Subjects {
    events: Subject,
    cancel: Subject,
    probe: Subject,
    all: Subject,
}

/// What the client reported since the listener last looked: bits of `raised`, set by the
/// client's event task and taken by the listener, so no report is lost between them.
#[derive(Debug, Default)]
struct Alarms {
    raised: AtomicU8,
    connects: AtomicU64,
    wake: Notify,
}

const DROPPED: u8 = 1;
const BACK: u8 = 2;
const BEHIND: u8 = 4;

impl Alarms {
    fn raise(&self, event: Event) {
        let bit = match event {
            Event::Disconnected => DROPPED,
            // The first is the connection made at start.
            Event::Connected if self.connects.fetch_add(1, Ordering::Relaxed) > 0 => BACK,
            Event::Connected => return,
            Event::SlowConsumer(_) => BEHIND,
            Event::ServerError(e) => {
                tracing::warn!(error = %e, "event relay: NATS reported an error");
                return;
            }
            Event::ClientError(e) => {
                tracing::warn!(error = %e, "event relay: the NATS client failed");
                return;
            }
            Event::LameDuckMode | Event::Draining | Event::Closed => return,
        };
        self.raised.fetch_or(bit, Ordering::AcqRel);
        self.wake.notify_one();
    }

    fn take(&self) -> u8 {
        self.raised.swap(0, Ordering::AcqRel)
    }
}

impl Nats {
    /// Connects to `config`'s servers; the client reconnects by itself from then on.
    pub(super) async fn connect(config: &NatsConfig, origin: Uuid) -> Result<Self> {
        let unreachable = |e: &dyn std::fmt::Display| {
            let url = config.shown_url();
            Error::Internal(format!("could not connect to NATS at {url}: {e}"))
        };
        let servers = config
            .url
            .split(',')
            .map(|u| u.trim().parse::<ServerAddr>())
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| unreachable(&e))?;
        let alarms = Arc::new(Alarms::default());
        let heard = alarms.clone();
        let client = ConnectOptions::new()
            .name(format!("agentwire {origin}"))
            .event_callback(move |event| {
                heard.raise(event);
                async {}
            })
            .connect(servers)
            .await
            .map_err(|e| unreachable(&e))?;
        let prefix = &config.subject_prefix;
        let subjects = Subjects {
            events: format!("{prefix}.events").into(),
            cancel: format!("{prefix}.cancel").into(),
            probe: format!("{prefix}.probe").into(),
            all: format!("{prefix}.*").into(),
        };
        Ok(Nats {
            client,
            subjects: Arc::new(subjects),
            alarms,
            origin,
        })
    }

    /// Runs up to [`BATCH`] bytes; stored past the server's limit.
    pub(super) fn limits(&self) -> Limits {
        let max = self.client.max_payload();
        Limits {
            batch: BATCH.min(max),
            max,
        }
    }

    /// Publishes `notices` in order (a stored one's row first), then writes them out.
    /// Returns how many events were sent and how many were lost.
    pub(super) async fn send(&self, db: &RelayDb, notices: Vec<Notice>) -> (u64, u64) {
        let (mut sent, mut lost) = (0u64, 0u64);
        for notice in notices {
            let (payload, events) = match notice {
                Notice::Inline { payload, events } => (Bytes::from(payload), events),
                Notice::Stored {
                    head,
                    payload,
                    events,
                } => match db.store(&payload).await {
                    Ok(id) => (Bytes::from(format!("{head}{id}}}")), events),
                    Err(e) => {
                        tracing::warn!(error = %e, "event relay: could not store a large event");
                        lost += events;
                        continue;
                    }
                },
            };
            match self
                .client
                .publish(self.subjects.events.clone(), payload)
                .await
            {
                Ok(()) => sent += events,
                Err(e) => {
                    tracing::warn!(error = %e, "event relay: could not send events");
                    lost += events;
                }
            }
        }
        // Out of the client before the batch counts as sent, and before a stopping instance
        // ends.
        if let Err(e) = self.client.flush().await {
            tracing::warn!(error = %e, "event relay: could not send events");
            lost += std::mem::take(&mut sent);
        }
        (sent, lost)
    }

    /// Publishes a cancel request.
    pub(super) async fn cancel(&self, request: &str) -> Result<()> {
        let payload = Bytes::copy_from_slice(request.as_bytes());
        let failed = |e: &dyn std::fmt::Display| Error::BrokerUnavailable(format!("NATS: {e}"));
        self.client
            .publish(self.subjects.cancel.clone(), payload)
            .await
            .map_err(|e| failed(&e))?;
        self.client.flush().await.map_err(|e| failed(&e))
    }
}

/// The subscription, with the probe it waits for.
pub(super) struct Listening {
    nats: Nats,
    sub: Subscriber,
    /// The probe sent since the last reconnect, not heard yet.
    probe: Option<Bytes>,
    /// A reconnect was reported: a probe is to be sent.
    probe_due: bool,
    probes: u64,
    /// Messages heard while start waited for its probe.
    early: VecDeque<Message>,
}

impl Listening {
    /// Subscribes, and returns once the server has the subscription.
    pub(super) async fn start(nats: &Nats) -> Result<Self> {
        let failed = |e: &dyn std::fmt::Display| Error::Internal(format!("NATS: {e}"));
        let sub = nats
            .client
            .subscribe(nats.subjects.all.clone())
            .await
            .map_err(|e| failed(&e))?;
        let mut listening = Listening {
            nats: nats.clone(),
            sub,
            probe: None,
            probe_due: false,
            probes: 0,
            early: VecDeque::new(),
        };
        listening.send_probe().await;
        let heard = tokio::time::timeout(PROBE_WAIT, async {
            while let Some(m) = listening.sub.next().await {
                if listening.is_probe(&m) {
                    return true;
                }
                listening.early.push_back(m);
            }
            false
        })
        .await;
        if !matches!(heard, Ok(true)) {
            return Err(failed(&"the subscription was not confirmed in time"));
        }
        listening.probe = None;
        Ok(listening)
    }

    pub(super) async fn next(&mut self) -> Heard {
        loop {
            let raised = self.nats.alarms.take();
            self.probe_due |= raised & BACK != 0;
            if raised & DROPPED != 0 {
                return Heard::Lost("the connection to NATS dropped");
            }
            if raised & BEHIND != 0 {
                return Heard::Lost("this instance fell behind the messages from NATS");
            }
            if std::mem::take(&mut self.probe_due) {
                self.send_probe().await;
            }
            let message = match self.early.pop_front() {
                Some(m) => m,
                None => tokio::select! {
                    biased;
                    _ = self.nats.alarms.wake.notified() => continue,
                    m = self.sub.next() => match m {
                        Some(m) => m,
                        None => return Heard::Closed,
                    },
                },
            };
            let subjects = &self.nats.subjects;
            if message.subject == subjects.events {
                return Heard::Events(message.payload);
            }
            if message.subject == subjects.cancel {
                return Heard::Cancel(message.payload);
            }
            if self.is_probe(&message) {
                self.probe = None;
                return Heard::Lost("the connection to NATS is back");
            }
        }
    }

    /// Sends a new probe (superseding an older one still unheard).
    async fn send_probe(&mut self) {
        self.probes += 1;
        let probe = Bytes::from(format!("{} {}", self.nats.origin, self.probes));
        self.probe = Some(probe.clone());
        // Queued, not flushed: the client writes it out once connected, while the listener
        // goes on hearing (and reporting) meanwhile.
        let subject = self.nats.subjects.probe.clone();
        if let Err(e) = self.nats.client.publish(subject, probe).await {
            tracing::warn!(error = %e, "event relay: could not probe NATS");
        }
    }

    fn is_probe(&self, message: &Message) -> bool {
        message.subject == self.nats.subjects.probe && self.probe.as_ref() == Some(&message.payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_connect_raises_nothing_and_every_later_report_of_a_loss_is_kept() {
        let alarms = Alarms::default();
        alarms.raise(Event::Connected);
        assert_eq!(alarms.take(), 0);
        // Reports add up until the listener looks.
        alarms.raise(Event::Disconnected);
        alarms.raise(Event::Connected);
        assert_eq!(alarms.take(), DROPPED | BACK);
        assert_eq!(alarms.take(), 0);
        alarms.raise(Event::SlowConsumer(1));
        alarms.raise(Event::LameDuckMode);
        assert_eq!(alarms.take(), BEHIND);
    }
}
