//! Hostile sockets: every failed authentication closes 4401, silence closes 4408, a flood of
//! 2,000 sockets that never authenticate is closed by the first-frame timeout while everyone
//! else is served, and 300 sockets of one user opened at once get exactly the per-user cap.
//!
//! The floods speak WebSocket by hand over plain TCP: a handshake, then a read of the server's
//! frames. A full client per socket would cost more than the server's side of it, and this
//! file's test process holds both ends (2,000 × 2 files, well under a 20,000-file limit).

mod common;

use std::time::{Duration, Instant};

use agentwire::model::UserId;
use common::jwt::{expiring, signed};
use common::ws::{bearer_request, Ended, WsClient, WAIT};
use common::TestApp;
use futures::{stream, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// Handshakes in flight at once while a flood connects: under the listener's backlog.
const CONNECTING_AT_ONCE: usize = 200;

/// A socket opened by hand: the upgrade request at `path`, its `101` read.
async fn raw_socket(app: &TestApp, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        app.addr
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        assert_eq!(s.read(&mut byte).await.unwrap(), 1, "upgrade answered");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    s
}

/// The server's first frame other than a ping on a hand-made socket: `Ok(text)` for a text
/// frame, `Err(code)` for a close (1005 without a code, 1006 for a cut without one).
async fn first_frame(s: &mut TcpStream) -> Result<String, u16> {
    loop {
        let mut head = [0u8; 2];
        if s.read_exact(&mut head).await.is_err() {
            return Err(1006);
        }
        let len = match head[1] & 0x7f {
            126 => u64::from(s.read_u16().await.unwrap()),
            127 => s.read_u64().await.unwrap(),
            n => u64::from(n),
        };
        let mut payload = vec![0u8; len as usize];
        s.read_exact(&mut payload).await.unwrap();
        match head[0] & 0x0f {
            0x1 => return Ok(String::from_utf8(payload).unwrap()),
            0x8 if payload.len() >= 2 => return Err(u16::from_be_bytes([payload[0], payload[1]])),
            0x8 => return Err(1005),
            _ => continue,
        }
    }
}

/// Each of `n` hand-made sockets at `path`, opened `CONNECTING_AT_ONCE` at a time.
async fn flood(app: &TestApp, path: &str, n: usize) -> Vec<TcpStream> {
    stream::iter(0..n)
        .map(|_| raw_socket(app, path))
        .buffer_unordered(CONNECTING_AT_ONCE)
        .collect()
        .await
}

#[tokio::test]
async fn every_auth_failure_closes_4401() {
    let app = TestApp::spawn().await;
    let expired = signed(json!({"sub": "x", "exp": agentwire::auth::now_secs() - 120}));

    // Bad header token.
    let mut c = WsClient::connect_request(bearer_request(&app, "nonsense")).await;
    assert_eq!(c.ended().await, Ended::Close(4401));

    // Expired query token.
    let mut c =
        WsClient::connect_request(format!("ws://{}/api/ws?token={expired}", app.addr)).await;
    assert_eq!(c.ended().await, Ended::Close(4401));

    // Bad first-frame token.
    let mut c = WsClient::connect_bare(&app).await;
    c.send(json!({"type": "auth", "token": "nonsense"})).await;
    assert_eq!(c.ended().await, Ended::Close(4401));

    // Anything but an auth frame first.
    let mut c = WsClient::connect_bare(&app).await;
    c.send(json!({"type": "message", "content": "hi"})).await;
    assert_eq!(c.ended().await, Ended::Close(4401));
    let mut c = WsClient::connect_bare(&app).await;
    c.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    assert_eq!(c.ended().await, Ended::Close(4401));

    // Nothing reached the store.
    assert!(app.tasks("x").await.is_empty());
}

#[tokio::test]
async fn silence_closes_4408() {
    let app = TestApp::spawn_with(|c| c.ws.auth_timeout = Duration::from_millis(200)).await;
    let mut c = WsClient::connect_bare(&app).await;
    assert_eq!(c.ended().await, Ended::Close(4408));
}

#[tokio::test]
async fn a_refresh_to_the_largest_exp_keeps_the_socket_serving() {
    let app = TestApp::spawn().await;
    let mut c = WsClient::connect_with_token(&app, &expiring("forever", 60)).await;
    let token = signed(json!({"sub": "forever", "exp": u64::MAX}));
    c.send(json!({"type": "auth", "token": token, "request_id": "a"}))
        .await;
    let ok = c.next().await;
    assert_eq!(ok["type"], "auth.refreshed", "{ok}");
    assert_eq!(ok["expires_at"], u64::MAX);
    assert!(c.sync("after").await.is_empty());
    c.send(json!({"type": "message", "content": "show my tasks"}))
        .await;
    let frames = c.until_done(1).await;
    assert_eq!(frames.last().unwrap()["message"]["status"], "completed");
}

#[tokio::test]
async fn two_thousand_sockets_that_never_authenticate_are_closed_and_others_are_served() {
    const FLOOD: usize = 2000;
    let timeout = Duration::from_secs(4);
    let app = TestApp::spawn_with(|c| {
        c.ws.auth_timeout = timeout;
        // All from one address: the per-address cap (a defence of its own) is not what is
        // tested here.
        c.http.max_connections_per_ip = 0;
    })
    .await;
    let started = Instant::now();
    let mut silent = flood(&app, "/api/ws", FLOOD).await;
    let opened = started.elapsed();

    // While they are held, the server serves everyone else: a socket, a turn, a REST call.
    let mut c = WsClient::connect(&app, "busy-day").await;
    c.send(json!({"type": "message", "content": "add buy milk"}))
        .await;
    let frames = c.until_done(1).await;
    assert_eq!(frames.last().unwrap()["message"]["status"], "completed");
    assert_eq!(app.tasks("busy-day").await.len(), 1);
    assert!(
        started.elapsed() < timeout,
        "the flood was not held at once (opened in {opened:?}): nothing was tested"
    );

    // Then each silent socket is closed 4408 by the first-frame timeout, none much later.
    let codes = futures::future::join_all(silent.iter_mut().map(|s| async move {
        tokio::time::timeout(timeout + WAIT, first_frame(s))
            .await
            .expect("closed within the timeout")
    }))
    .await;
    assert!(codes.iter().all(|c| *c == Err(4408)), "{:?}", &codes[..5]);
    assert!(started.elapsed() < opened + timeout + WAIT);
    // And the socket that authenticated is still served.
    assert!(c.sync("after the flood").await.is_empty());
}

#[tokio::test]
async fn three_hundred_sockets_of_one_user_get_exactly_the_cap() {
    const SOCKETS: usize = 300;
    let app = TestApp::spawn().await;
    let cap = app.state.config.ws.max_sockets_per_user;
    assert!(cap < SOCKETS, "the default cap ({cap}) is under the flood");
    let path = format!("/api/ws?token={}", app.token_for("herd"));
    // All at once, so the count and the subscription race if they can.
    let mut sockets = flood(&app, &path, SOCKETS).await;
    let answers = futures::future::join_all(sockets.iter_mut().map(first_frame)).await;
    let ready = answers
        .iter()
        .filter(|a| a.as_ref().is_ok_and(|t| t.contains(r#""type":"ready""#)))
        .count();
    let refused = answers.iter().filter(|a| **a == Err(4429)).count();
    assert_eq!(
        (ready, refused),
        (cap, SOCKETS - cap),
        "{:?}",
        &answers[..3]
    );
    let herd = UserId::new("herd");
    assert_eq!(app.state.hub.subscribers(&herd), cap);

    // Another user is unaffected; once the herd's sockets close, its room comes back.
    WsClient::connect(&app, "other").await;
    drop(sockets);
    tokio::time::timeout(WAIT, async {
        while app.state.hub.subscribers(&herd) > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("closed sockets free their room");
    WsClient::connect(&app, "herd").await;
}
