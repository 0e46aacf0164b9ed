//! `TestApp`: the real server on an ephemeral port, with a temp SQLite file, the offline agent
//! and a known JWT secret, driven over HTTP like a client.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agentwire::auth::Jwt;
use agentwire::model::UserId;
use agentwire::{AppState, Config};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const SECRET: &str = "integration-test-secret-0123456789abcdef";

pub struct TestApp {
    pub addr: SocketAddr,
    pub url: String,
    pub state: AppState,
    pub db_path: PathBuf,
    jwt: Jwt,
    client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestApp {
    /// A server on a fresh temp SQLite database.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose agent talks to the OpenAI-compatible server at `base_url` (a
    /// `mock_openai::MockOpenAi`), after `tweak` adjusts its configuration.
    pub async fn spawn_with_provider(base_url: &str, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_with(move |c| {
            use_provider(c, base_url);
            tweak(c);
        })
        .await
    }

    /// A server on a fresh temp database, after `tweak` adjusts its configuration.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.db");
        let mut app = Self::spawn_at(&path, tweak).await;
        app._dir = Some(dir);
        app
    }

    /// A server on the SQLite file at `path` (kept after the server stops).
    pub async fn spawn_at(path: &Path, tweak: impl FnOnce(&mut Config)) -> Self {
        let url = format!("sqlite://{}", path.display());
        let mut config = Config::for_tests(&url, SECRET);
        tweak(&mut config);
        Self::start(config, path.to_path_buf()).await
    }

    /// A server on `database_url` (e.g. a fresh PostgreSQL database).
    pub async fn spawn_on(database_url: &str) -> Self {
        Self::spawn_on_with(database_url, |_| {}).await
    }

    /// A server on `database_url`, after `tweak` adjusts its configuration.
    pub async fn spawn_on_with(database_url: &str, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::for_tests(database_url, SECRET);
        tweak(&mut config);
        Self::start(config, PathBuf::new()).await
    }

    async fn start(config: Config, db_path: PathBuf) -> Self {
        // Bind before spawning, so the first request can never race the listener.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = AppState::build(config).await.expect("state builds");
        let (tx, rx) = oneshot::channel::<()>();
        let served = state.clone();
        let handle = tokio::spawn(async move {
            agentwire::serve(listener, served, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestApp {
            addr,
            url: format!("http://{addr}"),
            state,
            db_path,
            jwt: Jwt::new(SECRET),
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            handle: Some(handle),
            _dir: None,
        }
    }

    pub fn token_for(&self, user: &str) -> String {
        self.jwt.mint(&UserId::new(user), Duration::from_secs(3600))
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn get(&self, path: &str, user: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.url))
            .bearer_auth(self.token_for(user))
    }

    pub fn post(&self, path: &str, user: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.url))
            .bearer_auth(self.token_for(user))
    }

    /// `POST /api/{user}/chat`; returns status and JSON body.
    pub async fn chat(&self, user: &str, body: Value) -> (u16, Value) {
        let r = self
            .post(&format!("/api/{user}/chat"), user)
            .json(&body)
            .send()
            .await
            .unwrap();
        json_of(r).await
    }

    /// `POST /api/{user}/chat` with just a message; panics unless 200.
    pub async fn say(&self, user: &str, message: &str, conversation: Option<&str>) -> Value {
        let mut body = serde_json::json!({ "message": message });
        if let Some(c) = conversation {
            body["conversation_id"] = c.into();
        }
        let (status, v) = self.chat(user, body).await;
        assert_eq!(status, 200, "chat failed: {v}");
        v
    }

    pub async fn tasks(&self, user: &str) -> Vec<Value> {
        let r = self
            .get(&format!("/api/{user}/tasks"), user)
            .send()
            .await
            .unwrap();
        let (status, v) = json_of(r).await;
        assert_eq!(status, 200, "{v}");
        v["data"].as_array().unwrap().clone()
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let r = self
            .client
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }

    /// Graceful stop: stops accepting, drains turns, closes the store.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            tokio::time::timeout(Duration::from_secs(20), h)
                .await
                .expect("server stops")
                .unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

/// Points `config`'s agent at the OpenAI-compatible server at `base_url`.
pub fn use_provider(config: &mut Config, base_url: &str) {
    config.provider.base_url = Some(base_url.to_string());
    config.provider.api_key = Some("sk-test-key".into());
    config.provider.model = "mock-model".into();
}

pub async fn json_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let v = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, v)
}

/// Asserts `{"error":{"code","message"}}` with this code.
pub fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "body: {body}"
    );
}

/// The value of one series (`name` or `name{labels}`) in a `/metrics` text; 0 when absent.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// A fresh PostgreSQL database for one test, when `TEST_DATABASE_URL` is set.
pub async fn fresh_postgres() -> Option<String> {
    let base = std::env::var("TEST_DATABASE_URL").ok()?;
    let name = format!("agentwire_t_{}", uuid::Uuid::new_v4().simple());
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&base)
        .await
        .expect("TEST_DATABASE_URL reachable");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    let (prefix, _) = base.rsplit_once('/').expect("database url has a path");
    Some(format!("{prefix}/{name}"))
}
pub mod ai_sdk;
pub mod chatkit;
pub mod jwt;
pub mod mcp;
pub mod mock_openai;
pub mod nats;
pub mod process;
pub mod source;
pub mod ws;
