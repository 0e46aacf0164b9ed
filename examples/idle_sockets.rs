//! Opens N authenticated idle WebSockets to a running server and reports its RSS per socket.
//!
//! `JWT_SECRET_KEY=… cargo run --release --example idle_sockets -- URL N SERVER_PID [USERS]`
//! e.g. `… -- ws://127.0.0.1:8000/api/ws 10000 $(pgrep -f 'agentwire serve') 1000`.
//! The full load tester (`agentwire load idle`) supersedes this for larger runs.

use std::time::{Duration, Instant};

use agentwire::auth::Jwt;
use agentwire::model::UserId;
use futures::StreamExt;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("server pid");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).expect("URL").clone();
    let n: usize = args.get(2).expect("N").parse().unwrap();
    let pid: u32 = args.get(3).expect("SERVER_PID").parse().unwrap();
    let users: usize = args.get(4).map(|u| u.parse().unwrap()).unwrap_or(n);
    let jwt = Jwt::new(&std::env::var("JWT_SECRET_KEY").expect("JWT_SECRET_KEY"));
    let tokens: Vec<String> = (0..users)
        .map(|u| jwt.mint(&UserId::new(format!("idle-{u}")), Duration::from_secs(3600)))
        .collect();

    let before = rss_kib(pid);
    let started = Instant::now();
    let mut sockets = Vec::with_capacity(n);
    for i in 0..n {
        let (mut ws, _) =
            tokio_tungstenite::connect_async(format!("{url}?token={}", tokens[i % users]))
                .await
                .expect("connect");
        let ready = ws.next().await.expect("ready").expect("ready frame");
        assert!(ready.to_text().unwrap().contains("\"ready\""));
        sockets.push(ws);
    }
    let connect_time = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid);
    println!(
        "sockets={n} users={users} connect_s={:.2} rss_before_kib={before} rss_after_kib={after} \
         growth_per_socket_kib={:.2}",
        connect_time.as_secs_f64(),
        (after.saturating_sub(before)) as f64 / n as f64
    );
    drop(sockets);
}
