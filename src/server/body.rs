//! The two body wrappers of a served request: [`BodyDeadline`] on the way in, [`Tracked`] on
//! the way out.
//!
//! tower-http's `RequestBodyTimeout` restarts its clock at every frame, so a body trickled one
//! byte at a time never trips it; [`BodyDeadline`] gives the whole body one deadline instead.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::io::Busy;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error a late body yields to whoever reads it.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimeout;

/// A request body that must arrive whole by a deadline set when its head was read. Past it,
/// reading yields [`BodyTimeout`] and the shared flag is raised, so the request can be answered
/// 408 whatever the handler made of the error.
pub struct BodyDeadline {
    body: Incoming,
    deadline: Instant,
    /// Created on the first read that has to wait: most bodies are empty or already buffered.
    sleep: Option<Pin<Box<Sleep>>>,
    expired: Arc<AtomicBool>,
}

impl BodyDeadline {
    /// Wraps `body`, due within `timeout` from now; `expired` is raised if it is late.
    pub fn new(body: Incoming, timeout: Duration, expired: Arc<AtomicBool>) -> Self {
        BodyDeadline {
            body,
            deadline: Instant::now() + timeout,
            sleep: None,
            expired,
        }
    }
}

impl HttpBody for BodyDeadline {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.expired.load(Ordering::Relaxed) {
            return Poll::Ready(Some(Err(BodyTimeout.into())));
        }
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => {
                // A client that sends a byte whenever asked must still finish in time.
                if frame.is_some() && Instant::now() >= this.deadline {
                    return this.expire();
                }
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let deadline = this.deadline;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => this.expire(),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl BodyDeadline {
    fn expire(&mut self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.expired.store(true, Ordering::Relaxed);
        self.sleep = None;
        Poll::Ready(Some(Err(BodyTimeout.into())))
    }
}

/// A response body that tells its connection when it has been fully written (or dropped):
/// until then the connection is busy and no head deadline runs.
pub struct Tracked {
    body: Body,
    _busy: Busy,
}

impl Tracked {
    pub fn new(body: Body, busy: Busy) -> Self {
        Tracked { body, _busy: busy }
    }
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
