//! HTTP timeouts and connection caps against real slow sockets: a silent connection, a trickled
//! head, a trickled body, an idle keep-alive, the total and per-address caps, and a WebSocket
//! that must outlive all the HTTP timeouts.

mod common;

use std::time::{Duration, Instant};

use agentwire::Config;
use common::ws::WsClient;
use common::TestApp;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Room for a loaded machine on top of a timeout before a test calls the connection held.
const SLACK: Duration = ms(2500);

/// A server whose HTTP limits are set by `tweak` (sub-second timeouts keep these tests fast).
async fn app(tweak: impl FnOnce(&mut Config)) -> TestApp {
    TestApp::spawn_with(|c| tweak(c)).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.addr).await.unwrap()
}

/// Reads until the server closes `s` (EOF or reset); panics if it is still open after `within`.
/// Returns what was read and how long it took.
async fn read_until_closed(s: &mut TcpStream, within: Duration) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Err(_) => panic!(
                "connection still open after {within:?}; read {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, start.elapsed()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one whole response (head and `content-length` body): its status and JSON body.
async fn read_response(s: &mut TcpStream) -> (u16, Value) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let parsed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(end) = find(&got, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                if got.len() >= end + 4 + len {
                    let status = head[9..12].parse().unwrap();
                    let body = serde_json::from_slice(&got[end + 4..end + 4 + len]).unwrap();
                    return (status, body);
                }
            }
            let n = s.read(&mut buf).await.expect("read");
            assert!(
                n > 0,
                "closed mid-response: {:?}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    parsed.expect("a whole response in time")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn send(s: &mut TcpStream, bytes: &str) {
    s.write_all(bytes.as_bytes()).await.unwrap();
}

const HEALTH: &str = "GET /api/health HTTP/1.1\r\nhost: test\r\n\r\n";

/// `GET /api/health` on a fresh connection: its status (503 when refused by a cap).
async fn health_status(app: &TestApp) -> u16 {
    let mut s = connect(app).await;
    send(&mut s, HEALTH).await;
    read_response(&mut s).await.0
}

/// Asserts that a fresh connection is refused: the canned 503, then the close.
async fn assert_refused(app: &TestApp) {
    let mut s = connect(app).await;
    let (got, _) = read_until_closed(&mut s, SLACK).await;
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
    let body: Value = serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
    common::assert_error(&body, "too_many_connections");
}

/// Polls `GET /api/health` on fresh connections until it answers 200.
async fn eventually_served(app: &TestApp) {
    let deadline = Instant::now() + SLACK;
    loop {
        if health_status(app).await == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still refused after the others closed"
        );
        tokio::time::sleep(ms(20)).await;
    }
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_header_timeout() {
    let app = app(|c| c.http.header_timeout = ms(400)).await;
    let mut s = connect(&app).await;
    let (got, took) = read_until_closed(&mut s, ms(400) + SLACK).await;
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert!(took >= ms(350), "closed too early: {took:?}");
}

#[tokio::test]
async fn a_head_trickled_one_byte_per_200ms_is_cut_off() {
    let app = app(|c| c.http.header_timeout = ms(600)).await;
    let (mut read, mut write) = connect(&app).await.into_split();
    let head = "GET /api/health HTTP/1.1\r\nhost: test\r\nx-slow: a-header-sent-slowly\r\n\r\n";
    let trickle = tokio::spawn(async move {
        for byte in head.as_bytes() {
            if write.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(ms(200)).await;
        }
    });
    let start = Instant::now();
    let mut got = Vec::new();
    let closed = tokio::time::timeout(ms(600) + SLACK, read.read_to_end(&mut got)).await;
    assert!(closed.is_ok(), "the trickled head held its connection");
    assert!(
        got.is_empty(),
        "answered a late head: {:?}",
        String::from_utf8_lossy(&got)
    );
    assert!(start.elapsed() >= ms(550), "{:?}", start.elapsed());
    trickle.abort();
}

#[tokio::test]
async fn a_body_trickled_slowly_gets_408_and_the_close() {
    let app = app(|c| c.http.body_timeout = ms(600)).await;
    let body = r#"{"message":"slowly now, one byte at a time"}"#;
    let head = format!(
        "POST /api/alice/chat HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        app.token_for("alice"),
        body.len()
    );
    let (mut read, mut write) = connect(&app).await.into_split();
    write.write_all(head.as_bytes()).await.unwrap();
    let trickle = tokio::spawn(async move {
        for byte in body.as_bytes() {
            if write.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(ms(100)).await;
        }
    });
    let start = Instant::now();
    let mut got = Vec::new();
    let closed = tokio::time::timeout(ms(600) + SLACK, read.read_to_end(&mut got)).await;
    assert!(closed.is_ok(), "the trickled body held its connection");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
    assert!(text.to_lowercase().contains("connection: close"), "{text}");
    let json: Value = serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
    common::assert_error(&json, "request_timeout");
    assert!(start.elapsed() >= ms(550), "{:?}", start.elapsed());
    trickle.abort();
    // The turn never started.
    assert!(app.tasks("alice").await.is_empty());
}

#[tokio::test]
async fn a_body_sent_in_time_is_served() {
    let app = app(|c| c.http.body_timeout = ms(600)).await;
    let body = r#"{"message":"hello"}"#;
    let head = format!(
        "POST /api/alice/chat HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        app.token_for("alice"),
        body.len()
    );
    let mut s = connect(&app).await;
    send(&mut s, &head).await;
    for chunk in body.as_bytes().chunks(6) {
        s.write_all(chunk).await.unwrap();
        tokio::time::sleep(ms(50)).await;
    }
    let (status, v) = read_response(&mut s).await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn an_idle_keepalive_connection_is_closed_after_its_own_timeout() {
    let app = app(|c| {
        c.http.header_timeout = ms(300);
        c.http.keepalive_idle = ms(1000);
    })
    .await;
    let mut s = connect(&app).await;
    send(&mut s, HEALTH).await;
    assert_eq!(read_response(&mut s).await.0, 200);
    // Idle longer than the header timeout: the keep-alive timeout is the one that counts.
    tokio::time::sleep(ms(600)).await;
    send(&mut s, HEALTH).await;
    assert_eq!(read_response(&mut s).await.0, 200);
    let (got, took) = read_until_closed(&mut s, ms(1000) + SLACK).await;
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert!(
        took >= ms(900),
        "closed before the keep-alive timeout: {took:?}"
    );
}

#[tokio::test]
async fn the_total_cap_refuses_the_extra_connection_until_one_closes() {
    let app = app(|c| {
        c.http.max_connections = 2;
        c.http.max_connections_per_ip = 0;
    })
    .await;
    let mut held = vec![connect(&app).await, connect(&app).await];
    assert_refused(&app).await;
    // The held connections are still served.
    send(&mut held[0], HEALTH).await;
    assert_eq!(read_response(&mut held[0]).await.0, 200);
    held.pop();
    eventually_served(&app).await;
}

#[tokio::test]
async fn the_per_ip_cap_refuses_the_extra_connection_until_one_closes() {
    let app = app(|c| {
        c.http.max_connections = 100;
        c.http.max_connections_per_ip = 2;
    })
    .await;
    let mut held = vec![connect(&app).await, connect(&app).await];
    assert_refused(&app).await;
    send(&mut held[1], HEALTH).await;
    assert_eq!(read_response(&mut held[1]).await.0, 200);
    held.remove(0);
    eventually_served(&app).await;
}

#[tokio::test]
async fn a_websocket_outlives_the_http_timeouts() {
    let app = app(|c| {
        c.http.header_timeout = ms(300);
        c.http.keepalive_idle = ms(300);
        c.http.body_timeout = ms(300);
    })
    .await;
    let mut ws = WsClient::connect(&app, "alice").await;
    tokio::time::sleep(ms(1200)).await;
    ws.sync("still-open").await;
}

#[tokio::test]
async fn an_open_websocket_holds_its_place_under_the_cap() {
    let app = app(|c| {
        c.http.max_connections = 1;
        c.http.max_connections_per_ip = 0;
    })
    .await;
    let mut ws = WsClient::connect(&app, "alice").await;
    assert_refused(&app).await;
    ws.sync("served").await;
    drop(ws);
    eventually_served(&app).await;
}
