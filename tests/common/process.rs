//! The server binary as a child process, for tests that kill it (SIGKILL) and start it again.

use std::time::Duration;

use agentwire::auth::Jwt;
use agentwire::model::UserId;
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::ws::WsClient;
use super::SECRET;

/// A server process on its own port.
pub struct Server {
    child: Child,
    pub url: String,
    pub addr: String,
    jwt: Jwt,
}

impl Server {
    /// Starts `agentwire serve` on `database_url` with the offline agent, no rate limit and
    /// the test secret, plus `env`; waits until `/api/health` answers.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_agentwire"));
        cmd.arg("serve")
            .env("BIND_ADDR", &addr)
            .env("DATABASE_URL", database_url)
            .env("JWT_SECRET_KEY", SECRET)
            .env("RATE_LIMIT_REQUESTS", "0")
            .env("RUST_LOG", "warn")
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .env_remove("BENCH_AGENT_DELTAS")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("the server binary starts");
        let server = Server {
            child,
            url: format!("http://{addr}"),
            addr,
            jwt: Jwt::new(SECRET),
        };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&self) {
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let r = client.get(format!("{}/api/health", self.url)).send().await;
            if matches!(&r, Ok(r) if r.status() == 200) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server did not come up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn token_for(&self, user: &str) -> String {
        self.jwt.mint(&UserId::new(user), Duration::from_secs(3600))
    }

    /// A socket for `user`, past `ready`.
    pub async fn socket(&self, user: &str) -> WsClient {
        let mut req = format!("ws://{}/api/ws", self.addr)
            .into_client_request()
            .unwrap();
        let bearer = format!("Bearer {}", self.token_for(user));
        req.headers_mut()
            .insert("authorization", bearer.parse().unwrap());
        let mut c = WsClient::connect_request(req).await;
        let ready = c.next().await;
        assert_eq!(ready["type"], "ready", "{ready}");
        c
    }

    /// `GET path` as `user`: status and JSON body.
    pub async fn get(&self, path: &str, user: &str) -> (u16, serde_json::Value) {
        let r = reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .bearer_auth(self.token_for(user))
            .send()
            .await
            .unwrap();
        super::json_of(r).await
    }

    /// SIGKILL: the process dies at once, with no chance to drain or save anything.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("the server can be killed");
        let _ = self.child.wait().await;
    }
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
