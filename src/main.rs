//! The `agentwire` binary: `serve` (default), `token`, `migrate`, `load`.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use agentwire::config::{Config, LogFormat};
use agentwire::model::UserId;
use agentwire::store::Store;
use agentwire::AppState;

/// The load tester (`agentwire load`): a client of the server, so it is part of the binary and
/// not of the library.
mod load;

/// mimalloc rather than glibc's malloc: a turn allocates many small short-lived buffers across
/// threads (JSON, events, rows), and glibc's arenas spent about 15% of a loaded server's CPU on
/// them (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "agentwire",
    version,
    about = "Realtime chat server for task assistants"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Print a JWT for a user, signed with JWT_SECRET_KEY.
    Token {
        /// The user id (`sub`).
        #[arg(long)]
        user: String,
        /// How long the token is valid, e.g. 30m, 1h, 7d.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Serve one user's task tools over MCP on stdin/stdout (for local MCP clients).
    Mcp {
        /// The user whose tasks the tools act on.
        #[arg(long)]
        user: String,
    },
    /// Drive load at a running server (idle, storm, chat, rest, sse) and report.
    Load(load::LoadArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    // A missing .env is normal; a broken one is reported.
    if let Err(e) = dotenvy::dotenv() {
        if !e.not_found() {
            eprintln!("error: .env: {e}");
            return ExitCode::FAILURE;
        }
    }
    let cli = Cli::parse();
    // The load tester is a client: it needs none of the server's configuration.
    if let Some(Command::Load(args)) = cli.command {
        return match load::main(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    init_tracing(config.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Token { user, ttl } => token(&config, &user, ttl),
        Command::Migrate => migrate(&config).await,
        Command::Mcp { user } => mcp(config, &user).await,
        Command::Load(_) => unreachable!("handled before the configuration is read"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let addr = config.bind_addr;
    let listener = listen(addr).map_err(|e| format!("BIND_ADDR: cannot listen on {addr}: {e}"))?;
    let state = AppState::build(config)
        .await
        .map_err(|e| format!("DATABASE_URL: {}", describe(&e)))?;
    tracing::info!(
        %addr,
        database = state.store.backend_name(),
        agent = state.chat.agent_name(),
        "agentwire listening"
    );
    if state.config.jwt_secret_generated {
        let token = state
            .jwt
            .mint(&UserId::new("demo"), Duration::from_secs(24 * 3600));
        eprintln!(
            "\nJWT_SECRET_KEY is not set: using a random key for this run (tokens die with it).\n\
             A token for user `demo`, valid 24h:\n\n  {token}\n\n\
             Try:\n  curl -s -X POST http://{addr}/api/demo/chat \\\n    \
             -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\\n    \
             -d '{{\"message\":\"Kal doctor ke paas jana hai, task bana do\"}}'\n"
        );
    }
    agentwire::serve(listener, state, shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

/// A listener with a deep accept queue: under a connect storm the default 1024 overflows, and
/// every dropped SYN costs its client a one-second retransmit (the kernel caps it at somaxconn).
fn listen(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(8192)
}

fn token(config: &Config, user: &str, ttl: Duration) -> Result<(), String> {
    if config.jwt_secret_generated {
        return Err("JWT_SECRET_KEY: set it so the server can verify this token".into());
    }
    if user.trim().is_empty() {
        return Err("--user must not be empty".into());
    }
    let jwt = agentwire::auth::Jwt::new(&config.jwt_secret);
    println!("{}", jwt.mint(&UserId::new(user.trim()), ttl));
    Ok(())
}

async fn migrate(config: &Config) -> Result<(), String> {
    let store = Store::connect_timeout(&config.database_url, 1, config.database_timeout)
        .await
        .map_err(|e| format!("DATABASE_URL: {}", describe(&e)))?;
    store
        .migrate()
        .await
        .map_err(|e| format!("DATABASE_URL: {}", describe(&e)))?;
    store.close().await;
    eprintln!("migrations applied ({})", store.backend_name());
    Ok(())
}

async fn mcp(config: Config, user: &str) -> Result<(), String> {
    let user = user.trim();
    if user.is_empty() {
        return Err("--user must not be empty".into());
    }
    let state = AppState::build(config)
        .await
        .map_err(|e| format!("DATABASE_URL: {}", describe(&e)))?;
    let served =
        agentwire::transport::mcp::serve_stdio(state.chat.clone(), UserId::new(user)).await;
    // Task changes made here reach the server instances' sockets before the store closes.
    state.closing.cancel();
    state.relay_tasks.close();
    let _ = tokio::time::timeout(Duration::from_secs(5), state.relay_tasks.wait()).await;
    state.store.close().await;
    served.map_err(|e| format!("mcp: {e}"))
}

/// The operator-facing cause of a start-up failure (this is the server's own console, so the
/// database's message is shown; clients never see it).
fn describe(e: &agentwire::error::Error) -> String {
    match e {
        agentwire::error::Error::Db(db) => db.to_string(),
        agentwire::error::Error::Sqlite(db) => db.to_string(),
        agentwire::error::Error::Internal(detail) => detail.clone(),
        agentwire::error::Error::DatabaseUnavailable(detail) => detail.clone(),
        other => other.to_string(),
    }
}

/// Resolves on ctrl-c or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; draining");
}
