//! The load tester's side of a connection: tokens, source addresses, the WebSocket connect and
//! the few facts it reads from each server frame; plus the process limits it needs.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Deserialize;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::dialect::Protocol;
use agentwire::auth::Jwt;
use agentwire::model::UserId;

pub type Socket = WebSocketStream<TcpStream>;

/// Longest wait for TCP connect, upgrade and `ready` together.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the sockets go and who they are.
pub struct Target {
    /// `ws://host:port/api/ws` (or the path of [`Target::speaking`]'s protocol).
    pub ws_url: String,
    /// Whether the server greets a socket with `ready`, which connect then waits for.
    greets: bool,
    pub addr: SocketAddr,
    /// One token per user; socket `i` uses `tokens[i % len]`.
    pub tokens: Vec<(String, String)>,
    /// Local addresses to connect from, round robin; empty lets the kernel choose.
    pub sources: Vec<IpAddr>,
}

impl Target {
    /// Resolves `base_url` (`http://host:port`) and mints `users` tokens for users
    /// `load-{offset}` … with `secret`, valid for `ttl`.
    pub async fn new(
        base_url: &str,
        secret: &str,
        users: usize,
        offset: usize,
        ttl: Duration,
        sources: Vec<IpAddr>,
    ) -> Result<Self, String> {
        let authority = base_url
            .strip_prefix("http://")
            .or_else(|| base_url.strip_prefix("ws://"))
            .ok_or_else(|| format!("--url: expected http://host:port, got {base_url:?}"))?
            .trim_end_matches('/');
        let addr = tokio::net::lookup_host(authority)
            .await
            .map_err(|e| format!("--url: cannot resolve {authority}: {e}"))?
            .next()
            .ok_or_else(|| format!("--url: {authority} has no address"))?;
        let jwt = Jwt::new(secret);
        let tokens = (0..users.max(1))
            .map(|u| {
                let user = format!("load-{}", offset + u);
                let token = jwt.mint(&UserId::new(user.clone()), ttl);
                (user, token)
            })
            .collect();
        Ok(Target {
            ws_url: format!("ws://{authority}{}", Protocol::Agentwire.path()),
            greets: true,
            addr,
            tokens,
            sources,
        })
    }

    /// The same target, its sockets speaking `protocol`.
    pub fn speaking(mut self, protocol: Protocol) -> Self {
        let base = self.ws_url.trim_end_matches(Protocol::Agentwire.path());
        self.ws_url = format!("{base}{}", protocol.path());
        self.greets = protocol.greets();
        self
    }

    /// The user and token of socket (or worker) `i`.
    pub fn user(&self, i: usize) -> (&str, &str) {
        let (u, t) = &self.tokens[i % self.tokens.len()];
        (u, t)
    }

    pub fn source(&self, i: usize) -> Option<IpAddr> {
        (!self.sources.is_empty()).then(|| self.sources[i % self.sources.len()])
    }

    /// Opens socket `i`: TCP from its source address, the upgrade with a bearer header, and
    /// the `ready` frame (when the protocol has one). Errors are codes for the summary: `connect_refused`, `timeout`,
    /// `handshake_<status>`, `close_<code>` (e.g. `close_4401`), `closed`.
    pub async fn connect(&self, i: usize) -> Result<(Socket, Duration), String> {
        let started = Instant::now();
        let (_, token) = self.user(i);
        match tokio::time::timeout(CONNECT_TIMEOUT, self.open(token, self.source(i))).await {
            Ok(Ok(ws)) => Ok((ws, started.elapsed())),
            Ok(Err(code)) => Err(code),
            Err(_) => Err("timeout".into()),
        }
    }

    async fn open(&self, token: &str, source: Option<IpAddr>) -> Result<Socket, String> {
        let socket = match self.addr {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(|e| io_code("socket", &e))?;
        if let Some(ip) = source {
            bind_without_port(&socket, ip).map_err(|e| io_code("bind", &e))?;
        }
        let tcp = socket
            .connect(self.addr)
            .await
            .map_err(|e| io_code("connect", &e))?;
        let _ = tcp.set_nodelay(true);
        let mut request = self
            .ws_url
            .as_str()
            .into_client_request()
            .map_err(|_| "bad_url".to_string())?;
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}")
                .parse()
                .map_err(|_| "bad_token".to_string())?,
        );
        // A small read buffer, as the server uses: 15,000 sockets in one process add up.
        let config = WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(request, tcp, Some(config))
            .await
            .map_err(|e| match e {
                tokio_tungstenite::tungstenite::Error::Http(r) => {
                    format!("handshake_{}", r.status().as_u16())
                }
                _ => "handshake".to_string(),
            })?;
        if !self.greets {
            return Ok(ws);
        }
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let frame = Frame::parse(t.as_str());
                    return if frame.kind == "ready" {
                        Ok(ws)
                    } else {
                        Err(format!("unexpected_{}", frame.kind))
                    };
                }
                Some(Ok(Message::Close(Some(c)))) => {
                    return Err(format!("close_{}", u16::from(c.code)))
                }
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return Err("closed".into()),
                Some(Ok(_)) => continue,
            }
        }
    }
}

/// Binds `socket` to `ip` and lets connect() pick the port: with IP_BIND_ADDRESS_NO_PORT the
/// port is chosen per destination, so each source address gets its own ~28k ports.
fn bind_without_port(socket: &TcpSocket, ip: IpAddr) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let one: libc::c_int = 1;
        // SAFETY: a valid fd and a pointer to a c_int of the size given.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    socket.bind(SocketAddr::new(ip, 0))
}

fn io_code(stage: &str, e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connect_refused".into(),
        AddrNotAvailable => format!("{stage}_addr_not_available"),
        TimedOut => "timeout".into(),
        _ => match e.raw_os_error() {
            Some(libc::EMFILE) | Some(libc::ENFILE) => "too_many_open_files".into(),
            _ => format!("{stage}_failed"),
        },
    }
}

/// The fields of a server frame the load tester reads; everything else is skipped.
#[derive(Debug, Default, Deserialize)]
pub struct Frame {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub thread_id: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
}

impl Frame {
    /// Unparseable text becomes a frame of kind `unparseable`.
    pub fn parse(text: &str) -> Frame {
        serde_json::from_str(text).unwrap_or_else(|_| Frame {
            kind: "unparseable".into(),
            ..Frame::default()
        })
    }
}

/// Raises the soft open-file limit to the hard one; returns the limit now in force.
pub fn raise_open_file_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid pointer to an rlimit.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
        limit.rlim_cur
    }
}

/// Resident memory of process `pid` in KiB, from `/proc`.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_read_only_what_they_need() {
        let f = Frame::parse(
            r#"{"type":"error","code":"thread_busy","message":"x","thread_id":"t","request_id":"r1"}"#,
        );
        assert_eq!(f.kind, "error");
        assert_eq!(f.code.as_deref(), Some("thread_busy"));
        assert_eq!(f.request_id.as_deref(), Some("r1"));
        assert_eq!(Frame::parse("not json").kind, "unparseable");
    }

    #[test]
    fn the_open_file_limit_ends_at_the_hard_limit() {
        let now = raise_open_file_limit();
        // SAFETY: as above.
        let hard = unsafe {
            let mut l = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
            l.rlim_max
        };
        assert_eq!(now, hard);
    }

    #[tokio::test]
    async fn bad_urls_are_refused_with_the_flag_named() {
        let e = Target::new("ftp://x", "s", 1, 0, Duration::from_secs(60), vec![])
            .await
            .err()
            .unwrap();
        assert!(e.starts_with("--url"), "{e}");
    }

    #[test]
    fn own_rss_is_readable() {
        assert!(rss_kib(std::process::id()).unwrap() > 0);
        assert_eq!(rss_kib(u32::MAX), None);
    }
}
