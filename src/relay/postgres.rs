//! The PostgreSQL broker: payloads are `NOTIFY`s on `agentwire_events`, cancels on
//! `agentwire_cancel`, heard on one listening connection. Nothing more to run; but every
//! `NOTIFY` takes a database-wide lock at commit.

use std::time::Duration;

use bytes::Bytes;

use super::broker::Heard;
use super::wire::Notice;
use crate::error::Result;
use crate::store::relay_db::{self, RelayDb, CANCEL_CHANNEL};

/// Sends notices in order: runs of inline ones in one statement, stored ones one by one.
/// Returns how many events were sent and how many were lost.
pub(super) async fn send(db: &RelayDb, notices: Vec<Notice>) -> (u64, u64) {
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

/// The listening connection, which tells when notifications may have been missed.
pub(super) struct Listening {
    conn: relay_db::Listener,
    /// PostgreSQL could not be reached at the last try. While it cannot, sockets are closed
    /// when the outage starts and again when it ends, not at every retry.
    down: bool,
    /// Wait a second before the next try.
    pause: bool,
    /// A notification heard as the connection came back, after the `Lost` that says so.
    pending: Option<Heard>,
}

impl Listening {
    pub(super) async fn start(db: &RelayDb) -> Result<Self> {
        Ok(Listening {
            conn: db.listen().await?,
            down: false,
            pause: false,
            pending: None,
        })
    }

    pub(super) async fn next(&mut self) -> Heard {
        if let Some(heard) = self.pending.take() {
            return heard;
        }
        loop {
            if std::mem::take(&mut self.pause) {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let heard = match self.conn.next().await {
                Ok(relay_db::Heard::Notification(n)) => {
                    let payload = Bytes::copy_from_slice(n.payload().as_bytes());
                    if n.channel() == CANCEL_CHANNEL {
                        Heard::Cancel(payload)
                    } else {
                        Heard::Events(payload)
                    }
                }
                Ok(relay_db::Heard::Reconnected) => Heard::Lost("the listening connection dropped"),
                Ok(relay_db::Heard::Closed) => return Heard::Closed,
                Err(e) => {
                    tracing::warn!(error = %e, "event relay: listening again in a second");
                    self.pause = true;
                    if !std::mem::replace(&mut self.down, true) {
                        return Heard::Lost("the listening connection failed");
                    }
                    continue;
                }
            };
            if std::mem::take(&mut self.down) {
                // Sockets opened during the outage missed what was sent meanwhile too.
                if !matches!(heard, Heard::Lost(_)) {
                    self.pending = Some(heard);
                }
                return Heard::Lost("the listening connection is back");
            }
            return heard;
        }
    }
}
