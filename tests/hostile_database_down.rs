//! A database that cannot be reached fails requests fast, with 503 `database_unavailable` (and
//! the same code in the WebSocket's `error` event), instead of hanging for the pool's 30 s and
//! answering 500; and a start-up against a refused port says where and why, at once.
//!
//! PostgreSQL is reached through a proxy the test stops, which is what "unreachable" is to the
//! server: the connections it holds are cut and new ones are refused. SQLite cannot lose its
//! file handle; what makes it unavailable is another process holding the write lock.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use agentwire::store::Store;
use common::ws::WsClient;
use common::{assert_error, fresh_postgres, json_of, TestApp, SECRET};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

/// The database timeout of these servers.
const TIMEOUT: Duration = Duration::from_secs(1);
/// Room for a loaded machine on top of the timeout before a request counts as hanging.
const SLACK: Duration = Duration::from_millis(2500);

/// A TCP proxy that can be stopped: its connections cut and its port closed.
struct Proxy {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut links = JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => {
                        let Ok((mut client, _)) = accepted else { continue };
                        let target = target.clone();
                        links.spawn(async move {
                            if let Ok(mut server) = TcpStream::connect(&target).await {
                                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            }
                        });
                    }
                }
            }
            // Dropping every link's sockets cuts them; dropping the listener closes the port.
            links.shutdown().await;
        });
        Proxy { addr, stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

/// `url` with its host and port replaced by `addr`; and the `host:port` it named.
fn through(url: &str, addr: SocketAddr) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), authority),
    };
    let target = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:5432")
    };
    (format!("{scheme}://{userinfo}{addr}/{path}"), target)
}

/// Sends `req`, and checks it was answered 503 `database_unavailable` within the timeout.
async fn assert_unavailable(what: &str, req: reqwest::RequestBuilder) {
    let start = Instant::now();
    let r = req
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let (status, v) = json_of(r).await;
    let took = start.elapsed();
    assert_eq!(status, 503, "{what}: {v}");
    assert_error(&v, "database_unavailable");
    assert!(took < TIMEOUT + SLACK, "{what} took {took:?}");
}

/// The same over the WebSocket: an `error` event with the code, as fast.
async fn assert_ws_unavailable(ws: &mut WsClient) {
    let start = Instant::now();
    ws.send(json!({"type": "message", "content": "add task call mum", "request_id": "m1"}))
        .await;
    let e = ws.next().await;
    assert_eq!(e["type"], "error", "{e}");
    assert_eq!(e["code"], "database_unavailable", "{e}");
    assert_eq!(e["request_id"], "m1", "{e}");
    assert!(start.elapsed() < TIMEOUT + SLACK, "{:?}", start.elapsed());
}

/// Every way in answers `database_unavailable` fast while the database is away.
async fn assert_every_way_fails_fast(app: &TestApp, ws: &mut WsClient) {
    // Twice over: the first requests find the pool's old connections cut, the later ones need
    // new connections, which are refused.
    for round in 0..2 {
        let at = |what: &str| format!("{what} (round {round})");
        assert_unavailable(
            &at("REST chat"),
            app.post("/api/alice/chat", "alice")
                .json(&json!({"message": "add task buy milk"})),
        )
        .await;
        assert_unavailable(
            &at("SSE chat"),
            app.post("/api/alice/chat/stream", "alice")
                .json(&json!({"message": "add task buy milk"})),
        )
        .await;
        assert_unavailable(&at("tasks"), app.get("/api/alice/tasks", "alice")).await;
        assert_unavailable(
            &at("conversations"),
            app.get("/api/alice/conversations", "alice"),
        )
        .await;
        assert_unavailable(
            &at("ChatKit"),
            app.post("/api/chatkit", "alice")
                .json(&json!({"type": "threads.list", "params": {}})),
        )
        .await;
        assert_ws_unavailable(ws).await;
    }
    let r = app.client().get(format!("{}/api/health", app.url)).send();
    let (status, v) = json_of(r.await.unwrap()).await;
    assert_eq!(status, 503, "{v}");
    assert_eq!(v["database"], "unavailable");
}

#[tokio::test]
async fn a_postgres_that_goes_away_fails_requests_fast_with_503() {
    let Some(url) = fresh_postgres().await else {
        eprintln!("TEST_DATABASE_URL not set; skipping");
        return;
    };
    let (_, target) = through(&url, "127.0.0.1:1".parse().unwrap());
    let proxy = Proxy::start(target).await;
    let (proxied, _) = through(&url, proxy.addr);
    let app = TestApp::spawn_on_with(&proxied, |c| {
        c.database_timeout = TIMEOUT;
        // One instance: the relay's own reconnects are another matter than these requests.
        c.multi_instance = false;
    })
    .await;
    app.say("alice", "add task buy milk", None).await;
    let mut ws = WsClient::connect(&app, "alice").await;

    proxy.stop().await;
    assert_every_way_fails_fast(&app, &mut ws).await;
}

#[tokio::test]
async fn a_sqlite_file_locked_by_another_process_fails_requests_fast_with_503() {
    let app = TestApp::spawn_with(|c| c.database_timeout = TIMEOUT).await;
    app.say("alice", "add task buy milk", None).await;
    let mut ws = WsClient::connect(&app, "alice").await;

    // Another process takes the write lock and keeps it (a backup, a shell left in a
    // transaction); reads go on in WAL mode, writes wait for it.
    let other = rusqlite::Connection::open(&app.db_path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    assert_unavailable(
        "REST chat",
        app.post("/api/alice/chat", "alice")
            .json(&json!({"message": "add task buy bread"})),
    )
    .await;
    assert_unavailable(
        "SSE chat",
        app.post("/api/alice/chat/stream", "alice")
            .json(&json!({"message": "add task buy bread"})),
    )
    .await;
    assert_ws_unavailable(&mut ws).await;
    // Reads are not held up by the lock.
    assert_eq!(app.tasks("alice").await.len(), 1);

    // Once the lock is let go, writes work again.
    other.execute_batch("COMMIT").unwrap();
    drop(other);
    app.say("alice", "add task buy bread", None).await;
    assert_eq!(app.tasks("alice").await.len(), 2);
}

#[tokio::test]
async fn a_postgres_statement_past_the_timeout_is_cancelled() {
    let Some(url) = fresh_postgres().await else {
        eprintln!("TEST_DATABASE_URL not set; skipping");
        return;
    };
    let store = Store::connect_timeout(&url, 2, TIMEOUT).await.unwrap();
    store.migrate().await.unwrap();
    use sqlx::Connection;
    let mut locker = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE conversations IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    let start = Instant::now();
    let user = agentwire::model::UserId::new("alice");
    let got = store
        .get_conversation(&user, agentwire::model::ThreadId::new())
        .await;
    assert!(
        matches!(got, Err(agentwire::error::Error::DatabaseUnavailable(_))),
        "{got:?}"
    );
    assert!(start.elapsed() < TIMEOUT + SLACK, "{:?}", start.elapsed());
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    assert!(store
        .get_conversation(&user, agentwire::model::ThreadId::new())
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn start_up_names_a_refused_postgres_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_agentwire"))
        .current_dir(dir.path())
        .env_clear()
        .env(
            "DATABASE_URL",
            "postgres://app:hunter2@127.0.0.1:1/agentwire",
        )
        .env("JWT_SECRET_KEY", SECRET)
        .env("BIND_ADDR", "127.0.0.1:0")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("start-up gives up within 20 s")
        .unwrap();
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {stderr}");
    assert!(stderr.contains("127.0.0.1:1"), "{stderr}");
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
