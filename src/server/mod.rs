//! The HTTP server under the router: the accept loop, connection caps and HTTP timeouts.
//!
//! `axum::serve` takes no limits, so this is its loop with them added:
//! - each accepted connection needs a place under `MAX_CONNECTIONS` and
//!   `MAX_CONNECTIONS_PER_IP` ([`limits`]); one over a cap gets a canned 503
//!   `too_many_connections`, written without waiting, and is closed at once;
//! - a request head has the header timeout, an idle keep-alive connection the keep-alive
//!   timeout ([`io`]), and a request body the body timeout, past which it is answered 408
//!   `request_timeout` ([`body`]);
//! - a failed `accept` (out of files, say) backs off instead of spinning.
//!
//! HTTP/1.1 only, like `axum::serve` with axum's default features. Upgrades (the WebSocket) are
//! served; an upgraded connection keeps its place under the caps until its socket closes, and no
//! HTTP timeout applies to it. On stop the loop stops accepting, lets every connection finish
//! the request it is serving (idle ones close at once), and returns when they all have.

mod body;
mod io;
mod limits;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::config::HttpConfig;
use crate::error::Error;
use body::{BodyDeadline, Tracked};
use io::{Activity, ClientIo, HeadTimeouts};
use limits::{ConnectionLimits, Permit, Refused};

/// The first and the longest pause after a failed `accept`.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));

/// How each accepted connection is set up and served.
#[derive(Clone)]
pub struct Settings {
    pub http: HttpConfig,
    /// Kernel send buffer of each connection; `None` leaves the kernel's autotuning.
    pub tcp_send_buffer: Option<usize>,
}

/// Serves `app` on `listener` until `stop` turns true; then stops accepting and returns once
/// every HTTP connection has finished its request in flight (upgraded ones are not waited for:
/// they have left HTTP).
pub async fn run(
    listener: TcpListener,
    app: Router,
    settings: Settings,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let http = &settings.http;
    warn_if_over_file_limit(http.max_connections);
    let limits = ConnectionLimits::new(http.max_connections, http.max_connections_per_ip);
    let refusal = refusal_bytes();
    let mut builder = http1::Builder::new();
    // Our own head deadlines replace hyper's (see `io`), which would also cut idle keep-alives.
    builder.header_read_timeout(None);
    let served = Served {
        app,
        builder,
        head: HeadTimeouts {
            header: http.header_timeout,
            keepalive_idle: http.keepalive_idle,
        },
        body_timeout: http.body_timeout,
    };
    let connections = TaskTracker::new();
    let mut full = FullHouse::default();
    while let Some((tcp, peer)) = next_connection(&listener, &mut stop).await {
        let permit = match limits.admit(peer.ip()) {
            Ok(permit) => permit,
            Err(why) => {
                refuse(tcp, peer, why, &refusal);
                if why == Refused::Total {
                    full.refused(http.max_connections);
                }
                continue;
            }
        };
        configure(&tcp, settings.tcp_send_buffer);
        connections.spawn(served.clone().connection(tcp, peer, permit, stop.clone()));
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    Ok(())
}

/// The next accepted connection; `None` once told to stop. A failure that would recur at once
/// (out of files or memory: the connection stays queued) pauses the loop, longer each time, so
/// it does not spin while connections close; one of a single connection (it went away before
/// we took it) does not.
async fn next_connection(
    listener: &TcpListener,
    stop: &mut watch::Receiver<bool>,
) -> Option<(TcpStream, SocketAddr)> {
    let mut backoff = BACKOFF.0;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped(stop) => return None,
        };
        match accepted {
            Ok(accepted) => return Some(accepted),
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                tracing::error!(error = %e, pause_ms = backoff.as_millis() as u64, "accept failed");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopped(stop) => return None,
                }
                backoff = (backoff * 2).min(BACKOFF.1);
            }
        }
    }
}

/// What every connection of one server is served with.
#[derive(Clone)]
struct Served {
    app: Router,
    builder: http1::Builder,
    head: HeadTimeouts,
    body_timeout: Duration,
}

impl Served {
    /// Serves one connection until it closes, upgrades, or finishes its request after `stop`.
    async fn connection(
        self,
        tcp: TcpStream,
        peer: SocketAddr,
        permit: Permit,
        mut stop: watch::Receiver<bool>,
    ) {
        let activity = Activity::new();
        let io = ClientIo::new(tcp, peer, permit, activity.clone(), self.head);
        let (app, body_timeout) = (self.app, self.body_timeout);
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            handle(app.clone(), activity.clone(), peer, body_timeout, req)
        });
        let conn = self
            .builder
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        tokio::pin!(conn);
        let result = tokio::select! {
            result = conn.as_mut() => result,
            _ = stopped(&mut stop) => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = result {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}

/// Serves one request through the router, with its body due by the body deadline.
async fn handle(
    app: Router,
    activity: Arc<Activity>,
    peer: SocketAddr,
    body_timeout: Duration,
    req: Request<Incoming>,
) -> Result<Response<Tracked>, Infallible> {
    let busy = activity.request_started();
    let expired = Arc::new(AtomicBool::new(false));
    let mut req = req.map(|body| Body::new(BodyDeadline::new(body, body_timeout, expired.clone())));
    req.extensions_mut().insert(ConnectInfo(peer));
    let mut response = app.oneshot(req).await.unwrap_or_else(|e| match e {});
    if expired.load(Ordering::Relaxed) {
        tracing::debug!(%peer, "request body not received in time");
        // The body is half read: the connection cannot carry another request.
        response = Error::RequestTimeout.into_response();
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    } else if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        activity.upgraded();
    }
    Ok(response.map(|body| Tracked::new(body, busy)))
}

/// Warns, at most every [`FullHouse::EVERY`], that the total cap is turning clients away: one
/// client over its own cap is its own business (debug), a full server is the operator's.
#[derive(Default)]
struct FullHouse {
    last_warned: Option<Instant>,
    refused: u64,
}

impl FullHouse {
    const EVERY: Duration = Duration::from_secs(10);

    fn refused(&mut self, max_connections: usize) {
        self.refused += 1;
        if self
            .last_warned
            .is_some_and(|at| at.elapsed() < Self::EVERY)
        {
            return;
        }
        tracing::warn!(
            max_connections,
            refused_since_last_warning = self.refused,
            "MAX_CONNECTIONS reached: refusing new connections"
        );
        self.last_warned = Some(Instant::now());
        self.refused = 0;
    }
}

/// Answers a connection over a cap with a canned 503 and closes it. The write never waits: it
/// fits the fresh socket's send buffer, and a peer that cannot take it just sees the close.
fn refuse(tcp: TcpStream, peer: SocketAddr, why: Refused, refusal: &[u8]) {
    tracing::debug!(%peer, ?why, "connection refused: too many open connections");
    let _ = tcp.try_write(refusal);
}

/// The whole HTTP answer a refused connection gets.
fn refusal_bytes() -> Vec<u8> {
    let body = serde_json::json!({ "error": Error::TooManyConnections.body() }).to_string();
    let status = Error::TooManyConnections.status();
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         retry-after: 1\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    [head.into_bytes(), body.into_bytes()].concat()
}

/// Chat deltas are small frames: send them at once rather than wait to coalesce (Nagle). A set
/// send buffer bounds kernel memory per slow peer.
fn configure(tcp: &TcpStream, send_buffer: Option<usize>) {
    let _ = tcp.set_nodelay(true);
    if let Some(bytes) = send_buffer {
        let _ = socket2::SockRef::from(tcp).set_send_buffer_size(bytes);
    }
}

/// Resolves once the server is told to stop (or its stop signal is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Errors of one pending connection (it went away before we took it), not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset | Interrupted
    )
}

/// A cap above the open-file limit cannot protect `accept`: say so once at start.
fn warn_if_over_file_limit(max_connections: usize) {
    if let Some(limit) = crate::config::open_file_limit() {
        if max_connections as u64 >= limit {
            tracing::warn!(
                max_connections,
                open_file_limit = limit,
                "MAX_CONNECTIONS is not below the open-file limit: raise the limit \
                 (ulimit -n, LimitNOFILE) or lower MAX_CONNECTIONS, or accept will fail when full"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_whole_json_answer() {
        let bytes = refusal_bytes();
        let text = std::str::from_utf8(&bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{head}"
        );
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "too_many_connections");
    }
}
