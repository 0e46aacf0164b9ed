//! The PostgreSQL pool: connecting (one attempt first, so an unreachable server says where and
//! why), and bringing the schema up to date on a connection of its own.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::error::{Error, Result};
use crate::store::migrator;

/// A pool of at most `pool_size` connections to `url`, after one connection proved the server
/// reachable. Waiting for a pooled connection and running one statement each take at most
/// `timeout`; past it the operation fails (`Error::DatabaseUnavailable`).
pub(in crate::store) async fn connect(
    url: &str,
    pool_size: u32,
    timeout: Duration,
) -> Result<PgPool> {
    // The server cancels a statement that runs past the timeout (57014); a startup parameter,
    // so it costs no round trip.
    let options = PgConnectOptions::from_str(url)?
        .options([("statement_timeout", timeout.as_millis().to_string())]);
    // The pool retries a refused connection until its acquire timeout and then says only that
    // it timed out; one attempt of our own first says where and why, as soon as it fails.
    let place = format!("{}:{}", options.get_host(), options.get_port());
    let unreachable = |why: String| {
        Error::DatabaseUnavailable(format!("cannot connect to PostgreSQL at {place}: {why}"))
    };
    match tokio::time::timeout(timeout, PgConnection::connect_with(&options)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
        }
        Ok(Err(sqlx::Error::Io(e))) => return Err(unreachable(e.to_string())),
        Ok(Err(e)) => return Err(unreachable(e.to_string())),
        Err(_) => return Err(unreachable(format!("no answer within {timeout:?}"))),
    }
    // sqlx already pings each connection when it comes back to the pool; a second ping when it
    // is taken out again would cost every query one more round trip to the server.
    Ok(PgPoolOptions::new()
        .max_connections(pool_size)
        .test_before_acquire(false)
        .acquire_timeout(timeout)
        .connect_lazy_with(options))
}

pub(in crate::store) async fn migrate(pool: &PgPool) -> Result<()> {
    // A migration may rewrite a large table: it runs without the statement timeout, on a
    // connection taken out of the pool for good so the setting never reaches a request.
    let mut conn = pool.acquire().await?.detach();
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut conn)
        .await?;
    let result = migrations().run_direct(&mut conn).await;
    let _ = conn.close().await;
    result.map_err(sqlx::Error::from)?;
    Ok(())
}

fn migrations() -> sqlx::migrate::Migrator {
    migrator(&[
        (
            1,
            "init",
            include_str!("../../../migrations/postgres/0001_init.sql"),
        ),
        (
            2,
            "chatkit",
            include_str!("../../../migrations/postgres/0002_chatkit.sql"),
        ),
        (
            3,
            "drop_messages_user",
            include_str!("../../../migrations/postgres/0003_drop_messages_user.sql"),
        ),
        (
            4,
            "event_relay",
            include_str!("../../../migrations/postgres/0004_event_relay.sql"),
        ),
        (
            5,
            "running_turns",
            include_str!("../../../migrations/postgres/0005_running_turns.sql"),
        ),
        (
            6,
            "durable_answers",
            include_str!("../../../migrations/postgres/0006_durable_answers.sql"),
        ),
        (
            7,
            "queued_messages",
            include_str!("../../../migrations/postgres/0007_queued_messages.sql"),
        ),
    ])
}
