//! `chat --watch-url`: a twin for each chat socket, on another instance sharing the database,
//! timing when the socket's turns reach it.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use super::client::{Frame, Socket, Target};
use super::dialect::DELTA_PREFIX;
use super::report::Counters;
use super::ws::close;

/// How long a twin keeps reading after its socket's last turn ended.
const WATCH_TAIL: Duration = Duration::from_millis(500);

/// A turn a socket sent that its twin has not yet seen end.
pub(super) struct WatchedTurn {
    pub request_id: String,
    /// What the turn's deltas hold (see the socket's own `InFlight`).
    pub marker: String,
    pub sent_at: Instant,
    /// Whether the twin saw its first delta.
    pub first_delta: bool,
}

/// The turns a socket and its twin share.
pub(super) type Watched = Arc<std::sync::Mutex<Vec<WatchedTurn>>>;

/// A socket's twin on another instance: times the socket's turns as they arrive there.
pub(super) struct Watcher {
    ws: Socket,
    c: Arc<Counters>,
    pub(super) watched: Watched,
}

impl Watcher {
    /// The twin of socket `i` on `watch`, if there is a watch target; `Err` (counted as a
    /// failed connect) when it could not connect.
    pub(super) async fn connect(
        watch: Option<&Target>,
        i: usize,
        c: &Arc<Counters>,
    ) -> Result<Option<Watcher>, ()> {
        let Some(watch) = watch else { return Ok(None) };
        match watch.connect(i).await {
            Ok((ws, latency)) => {
                c.record("watch_connect", latency);
                Ok(Some(Watcher {
                    ws,
                    c: c.clone(),
                    watched: Watched::default(),
                }))
            }
            Err(code) => {
                c.connect_failed(&format!("watch_{code}"));
                Err(())
            }
        }
    }

    /// Reads the twin's frames while `talk` runs, and a little longer, so the twin sees the end
    /// of the last turn; then closes it.
    pub(super) async fn watch_while(self, talk: impl std::future::Future<Output = ()>) {
        let done = CancellationToken::new();
        let watching = tokio::spawn(self.run(done.clone()));
        talk.await;
        tokio::time::sleep(WATCH_TAIL).await;
        done.cancel();
        let _ = watching.await;
    }

    async fn run(mut self, done: CancellationToken) {
        loop {
            let frame = tokio::select! {
                _ = done.cancelled() => break,
                frame = self.ws.next() => frame,
            };
            match frame {
                Some(Ok(Message::Text(text))) => self.on_text(text.as_str()),
                Some(Ok(Message::Close(close))) => {
                    let code = close.map(|c| u16::from(c.code)).unwrap_or(1005);
                    return self.c.error(&format!("watch_close_{code}"));
                }
                None | Some(Err(_)) => return self.c.error("watch_socket_closed"),
                Some(Ok(_)) => {}
            }
        }
        close(self.ws).await;
    }

    fn on_text(&mut self, text: &str) {
        let mut watched = self.watched.lock().expect("not poisoned");
        if text.starts_with(DELTA_PREFIX) {
            if let Some(turn) = watched
                .iter_mut()
                .find(|t| !t.first_delta && text.contains(t.marker.as_str()))
            {
                turn.first_delta = true;
                self.c.record("watch_first_delta", turn.sent_at.elapsed());
            }
            return;
        }
        let frame = Frame::parse(text);
        if frame.kind != "message.done" {
            return;
        }
        let Some(id) = frame.request_id else { return };
        if let Some(at) = watched.iter().position(|t| t.request_id == id) {
            let turn = watched.remove(at);
            self.c.record("watch_done", turn.sent_at.elapsed());
        }
    }
}
