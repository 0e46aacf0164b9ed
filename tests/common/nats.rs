//! NATS for the several-instance tests: the server they use, and a TCP proxy in front of it
//! that a test can cut (as a network failure would) or that announces a smaller payload limit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agentwire::config::{EventBroker, NatsConfig};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The NATS server of the tests: `TEST_NATS_URL`, else the local one. CI runs one; a test that
/// cannot reach it fails rather than skips.
pub fn url() -> String {
    std::env::var("TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A broker on `url` with a prefix of its own, so tests running at once do not hear each other.
pub fn broker(url: &str, prefix: &str) -> EventBroker {
    EventBroker::Nats(NatsConfig {
        url: url.into(),
        subject_prefix: prefix.into(),
    })
}

/// A subject prefix no other test uses.
pub fn fresh_prefix() -> String {
    format!("agentwire_test.{}", uuid::Uuid::new_v4().simple())
}

/// A proxy to the tests' NATS server; stops on drop.
pub struct Proxy {
    /// `nats://` URL of the proxy.
    pub url: String,
    cuts: watch::Sender<u64>,
    held: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Forwards every connection to the server; with `max_payload`, the server's first `INFO`
    /// announces that limit instead of its own.
    pub async fn start(max_payload: Option<usize>) -> Self {
        let upstream = url().trim_start_matches("nats://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("nats://{}", listener.local_addr().unwrap());
        let (cuts, cut) = watch::channel(0u64);
        let held = Arc::new(AtomicBool::new(false));
        let refuse = held.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if refuse.load(Ordering::Acquire) {
                    continue;
                }
                let (upstream, cut) = (upstream.clone(), cut.clone());
                tokio::spawn(forward(client, upstream, max_payload, cut));
            }
        });
        Proxy {
            url,
            cuts,
            held,
            task,
        }
    }

    /// Closes every connection open now; new ones are forwarded again.
    pub fn cut(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Closes every connection open now, and new ones at once until [`Proxy::release`]: an
    /// outage.
    pub fn hold(&self) {
        self.held.store(true, Ordering::Release);
        self.cut();
    }

    /// Ends the outage [`Proxy::hold`] began.
    pub fn release(&self) {
        self.held.store(false, Ordering::Release);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

async fn forward(
    mut client: TcpStream,
    upstream: String,
    max_payload: Option<usize>,
    mut cut: watch::Receiver<u64>,
) {
    let _ = cut.borrow_and_update();
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let mut server = BufReader::new(server);
    if let Some(max) = max_payload {
        // The server speaks first: `INFO {...}\r\n`.
        let mut info = String::new();
        let read = tokio::time::timeout(Duration::from_secs(5), server.read_line(&mut info));
        if !matches!(read.await, Ok(Ok(n)) if n > 0) {
            return;
        }
        let info = rewrite_max_payload(&info, max);
        if client.write_all(info.as_bytes()).await.is_err() {
            return;
        }
    }
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cut.changed() => {}
    }
}

/// `INFO` with `"max_payload":<max>`.
fn rewrite_max_payload(info: &str, max: usize) -> String {
    let key = "\"max_payload\":";
    let Some(at) = info.find(key) else {
        return info.to_string();
    };
    let start = at + key.len();
    let end = start
        + info[start..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(0);
    format!("{}{max}{}", &info[..start], &info[end..])
}
