//! What carries payloads between instances: PostgreSQL's `NOTIFY` or NATS. Brokers differ only
//! in how payloads are sent and heard, and in how large they may be; packing, numbering, gap
//! checks and delivery (the module above and `wire`) are written once for both.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use uuid::Uuid;

use super::wire::{Limits, Notice, NOTIFY};
use super::{nats, postgres};
use crate::chat::cluster::SendCancel;
use crate::config::EventBroker;
use crate::error::Result;
use crate::store::relay_db::RelayDb;

/// The relay's way to the other instances: the shared database (claims, large payloads) and
/// the broker that carries events and cancels. Cheap to clone.
#[derive(Debug, Clone)]
pub(super) struct Broker {
    db: RelayDb,
    via: Via,
}

#[derive(Debug, Clone)]
enum Via {
    Postgres,
    Nats(nats::Nats),
}

/// What a broker heard.
pub(super) enum Heard {
    /// A payload of events (`wire`'s format).
    Events(Bytes),
    /// A cancel request (`crate::chat::cluster::CancelRequest`).
    Cancel(Bytes),
    /// Payloads sent meanwhile may be lost; says why.
    Lost(&'static str),
    /// The broker is closing.
    Closed,
}

/// The listening side of a [`Broker`].
pub(super) enum Listener {
    Postgres(postgres::Listening),
    Nats(nats::Listening),
}

impl Broker {
    /// Connects to the broker `config` names (PostgreSQL's is `db` itself).
    pub(super) async fn connect(db: RelayDb, config: &EventBroker, origin: Uuid) -> Result<Self> {
        let via = match config {
            EventBroker::Postgres => Via::Postgres,
            EventBroker::Nats(c) => Via::Nats(nats::Nats::connect(c, origin).await?),
        };
        Ok(Broker { db, via })
    }

    pub(super) fn db(&self) -> &RelayDb {
        &self.db
    }

    /// `"postgres"` or `"nats"`, for the log.
    pub(super) fn name(&self) -> &'static str {
        match self.via {
            Via::Postgres => "postgres",
            Via::Nats(_) => "nats",
        }
    }

    /// How large payloads may be now (NATS's limit is the server's, read at each connect).
    pub(super) fn limits(&self) -> Limits {
        match &self.via {
            Via::Postgres => NOTIFY,
            Via::Nats(n) => n.limits(),
        }
    }

    /// Starts hearing every instance's payloads; once this returns, nothing sent is missed
    /// unless the listener says so ([`Heard::Lost`]).
    pub(super) async fn listen(&self) -> Result<Listener> {
        Ok(match &self.via {
            Via::Postgres => Listener::Postgres(postgres::Listening::start(&self.db).await?),
            Via::Nats(n) => Listener::Nats(nats::Listening::start(n).await?),
        })
    }

    /// Sends `notices` in order; returns how many events were sent and how many were lost.
    pub(super) async fn send(&self, notices: Vec<Notice>) -> (u64, u64) {
        match &self.via {
            Via::Postgres => postgres::send(&self.db, notices).await,
            Via::Nats(n) => n.send(&self.db, notices).await,
        }
    }

    /// A handle the chat core sends cancel requests through.
    pub(super) fn cancels(&self) -> Arc<dyn SendCancel> {
        Arc::new(self.clone())
    }
}

impl SendCancel for Broker {
    fn send<'a>(&'a self, request: &'a str) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match &self.via {
                Via::Postgres => self.db.notify_cancel(request).await,
                Via::Nats(n) => n.cancel(request).await,
            }
        })
    }
}

impl Listener {
    /// The next thing heard. Cancel-safe: nothing is lost when the future is dropped.
    pub(super) async fn next(&mut self) -> Heard {
        match self {
            Listener::Postgres(l) => l.next().await,
            Listener::Nats(l) => l.next().await,
        }
    }
}
