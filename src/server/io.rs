//! `ClientIo`: an accepted TCP stream that closes itself when its client is too slow to send a
//! request head, or stays idle too long between requests.
//!
//! hyper's own `header_read_timeout` starts when it begins waiting for a head, so it cannot tell
//! a keep-alive connection resting between requests from a client trickling a head; here the two
//! have their own deadlines. The connection's [`Activity`] is shared by this stream, which sees
//! bytes arrive, and by the connection's service (`super::handle`), which sees each request begin
//! and its response end. The deadlines apply only while the connection waits for a head:
//! - a connection's first head must be complete within the header timeout of the accept;
//! - a later head within the header timeout of its first byte;
//! - between requests, the first byte of the next head must come within the keep-alive timeout.
//!
//! While a request is served nothing here times out: its body has its own deadline
//! (`super::body`), and a response may stream for as long as it likes (SSE, MCP). Once a
//! connection switches protocols (WebSocket) these deadlines stop for good; the WebSocket has its
//! own (authentication timeout, pings, write timeout).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::limits::Permit;

/// The deadlines a connection waiting for a request head is held to.
#[derive(Debug, Clone, Copy)]
pub struct HeadTimeouts {
    pub header: Duration,
    pub keepalive_idle: Duration,
}

/// What one connection is doing, as far as its deadlines care.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request head since `since` (the accept, or the end of the last response).
    Waiting {
        since: Instant,
        first: bool,
        head_from: Option<Instant>,
    },
    /// This many requests whose responses are not yet fully written.
    Busy(usize),
    /// Switched protocols: HTTP's deadlines no longer apply.
    Upgraded,
}

/// Which deadline closed a connection (for the log).
#[derive(Debug, Clone, Copy)]
enum Late {
    Header,
    KeepAlive,
}

/// One connection's phase, shared by its stream and its service. The lock is held for a few
/// instructions and never across an await; both sides run on the connection's own task.
pub struct Activity(Mutex<Phase>);

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Activity(Mutex::new(Phase::Waiting {
            since: Instant::now(),
            first: true,
            head_from: None,
        })))
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        // A poisoned lock only means a panic elsewhere; the phase itself is always whole.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A request head has been read; its response is on its way. The returned guard marks the
    /// response as fully written when dropped (keep it in the response body).
    pub fn request_started(self: &Arc<Self>) -> Busy {
        let mut phase = self.phase();
        *phase = match *phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            Phase::Upgraded => Phase::Upgraded,
            Phase::Waiting { .. } => Phase::Busy(1),
        };
        Busy(self.clone())
    }

    /// The connection switched protocols (a 101 answer): no HTTP deadline applies from now on.
    pub fn upgraded(&self) {
        *self.phase() = Phase::Upgraded;
    }

    /// Bytes arrived: the first since the connection began waiting starts a later head's clock.
    fn bytes_arrived(&self) {
        if let Phase::Waiting {
            first: false,
            head_from: head_from @ None,
            ..
        } = &mut *self.phase()
        {
            *head_from = Some(Instant::now());
        }
    }

    /// The deadline in force now, if any; `None` for good once upgraded.
    fn deadline(&self, t: &HeadTimeouts) -> Deadline {
        match *self.phase() {
            Phase::Upgraded => Deadline::Never,
            Phase::Busy(_) => Deadline::None,
            Phase::Waiting {
                since, first: true, ..
            } => Deadline::At(since + t.header, Late::Header),
            Phase::Waiting {
                head_from: Some(from),
                ..
            } => Deadline::At(from + t.header, Late::Header),
            Phase::Waiting { since, .. } => Deadline::At(since + t.keepalive_idle, Late::KeepAlive),
        }
    }
}

enum Deadline {
    At(Instant, Late),
    /// None now (a request is being served).
    None,
    /// None ever again (upgraded).
    Never,
}

/// Marks a request's response as fully written (or abandoned) when dropped.
pub struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let mut phase = self.0.phase();
        *phase = match *phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            Phase::Busy(_) | Phase::Waiting { .. } => Phase::Waiting {
                since: Instant::now(),
                first: false,
                head_from: None,
            },
            Phase::Upgraded => Phase::Upgraded,
        };
    }
}

/// An accepted stream held to its connection's head deadlines. It also holds the connection's
/// [`Permit`], so the place is freed when the stream is dropped, after an upgrade too.
pub struct ClientIo {
    tcp: TcpStream,
    peer: SocketAddr,
    activity: Arc<Activity>,
    timeouts: HeadTimeouts,
    /// Reset to each deadline in force; created when first needed.
    sleep: Option<Pin<Box<Sleep>>>,
    /// Set once the connection has switched protocols, to skip the lock on every later read.
    upgraded: bool,
    _permit: Permit,
}

impl ClientIo {
    pub fn new(
        tcp: TcpStream,
        peer: SocketAddr,
        permit: Permit,
        activity: Arc<Activity>,
        timeouts: HeadTimeouts,
    ) -> Self {
        ClientIo {
            tcp,
            peer,
            activity,
            timeouts,
            sleep: None,
            upgraded: false,
            _permit: permit,
        }
    }

    /// `Ready(err)` once the deadline in force has passed; registers the wake-up otherwise.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        if self.upgraded {
            return Poll::Pending;
        }
        let (at, late) = match self.activity.deadline(&self.timeouts) {
            Deadline::At(at, late) => (at, late),
            Deadline::None => return Poll::Pending,
            Deadline::Never => {
                self.upgraded = true;
                self.sleep = None;
                return Poll::Pending;
            }
        };
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        if sleep.deadline() != at {
            sleep.as_mut().reset(at);
        }
        match sleep.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                let what = match late {
                    Late::Header => "request head not received in time",
                    Late::KeepAlive => "idle keep-alive connection",
                };
                tracing::debug!(peer = %self.peer, "closing connection: {what}");
                Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, what))
            }
        }
    }
}

impl AsyncRead for ClientIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Checked before reading too: a client that sends a byte whenever asked must still
        // finish its head in time.
        if let Poll::Ready(e) = this.poll_deadline(cx) {
            return Poll::Ready(Err(e));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before && !this.upgraded {
            this.activity.bytes_arrived();
        }
        read
    }
}

impl AsyncWrite for ClientIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: HeadTimeouts = HeadTimeouts {
        header: Duration::from_secs(10),
        keepalive_idle: Duration::from_secs(60),
    };

    fn at(d: Deadline) -> Option<Instant> {
        match d {
            Deadline::At(at, _) => Some(at),
            _ => None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_wait_has_its_deadline() {
        let start = Instant::now();
        let a = Activity::new();
        // The first head: from the accept, whatever arrives.
        assert_eq!(at(a.deadline(&T)), Some(start + T.header));
        a.bytes_arrived();
        assert_eq!(at(a.deadline(&T)), Some(start + T.header));

        let busy = a.request_started();
        assert!(matches!(a.deadline(&T), Deadline::None));
        tokio::time::advance(Duration::from_secs(100)).await;
        drop(busy);
        // Between requests: the keep-alive timeout from the end of the response.
        let idle_from = Instant::now();
        assert_eq!(at(a.deadline(&T)), Some(idle_from + T.keepalive_idle));
        tokio::time::advance(Duration::from_secs(30)).await;
        // A later head: the header timeout from its first byte.
        a.bytes_arrived();
        assert_eq!(at(a.deadline(&T)), Some(Instant::now() + T.header));

        let _busy = a.request_started();
        a.upgraded();
        assert!(matches!(a.deadline(&T), Deadline::Never));
    }

    #[tokio::test(start_paused = true)]
    async fn the_upgrade_outlives_its_response() {
        let a = Activity::new();
        let busy = a.request_started();
        a.upgraded();
        drop(busy);
        assert!(matches!(a.deadline(&T), Deadline::Never));
    }
}
