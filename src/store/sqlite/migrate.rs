//! SQLite's embedded migrations, and applying them: each is recorded in `_sqlx_migrations`
//! exactly as `sqlx migrate` does (same table, same checksums), so a database migrated by either
//! is current for the other and PostgreSQL and SQLite keep one migration history format.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sqlx::migrate::Migrator;

use crate::error::{Error, Result};
use crate::store::migrator;

/// SQLite's embedded migrations, in order.
pub(super) fn migrations() -> Migrator {
    migrator(&[
        (
            1,
            "init",
            include_str!("../../../migrations/sqlite/0001_init.sql"),
        ),
        (
            2,
            "chatkit",
            include_str!("../../../migrations/sqlite/0002_chatkit.sql"),
        ),
        (
            3,
            "append",
            include_str!("../../../migrations/sqlite/0003_append.sql"),
        ),
        (
            4,
            "drop_messages_user",
            include_str!("../../../migrations/sqlite/0004_drop_messages_user.sql"),
        ),
        (
            5,
            "durable_answers",
            include_str!("../../../migrations/sqlite/0005_durable_answers.sql"),
        ),
        (
            6,
            "queued_messages",
            include_str!("../../../migrations/sqlite/0006_queued_messages.sql"),
        ),
    ])
}

/// Brings the schema up to date (see [`run`]).
pub(in crate::store) fn migrate(conn: &mut Connection) -> Result<()> {
    run(conn, &migrations())
}

/// Applies the migrations not yet recorded, each in its own transaction. Refuses to run when
/// an earlier migration failed half way, when an applied migration's SQL has changed, or when
/// the database records a migration this build does not know (it is newer than this build).
pub(super) fn run(conn: &mut Connection, migrator: &Migrator) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS _sqlx_migrations ( \
             version BIGINT PRIMARY KEY, \
             description TEXT NOT NULL, \
             installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
             success BOOLEAN NOT NULL, \
             checksum BLOB NOT NULL, \
             execution_time BIGINT NOT NULL)",
    )?;
    let dirty: Option<i64> = conn
        .query_row(
            "SELECT version FROM _sqlx_migrations WHERE success = false ORDER BY version LIMIT 1",
            [],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(version) = dirty {
        return Err(Error::Internal(format!(
            "migration {version} failed part way; repair the database before starting"
        )));
    }
    let applied: Vec<(i64, Vec<u8>)> = conn
        .prepare("SELECT version, checksum FROM _sqlx_migrations ORDER BY version")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (version, checksum) in &applied {
        match migrator.iter().find(|m| m.version == *version) {
            None => {
                return Err(Error::Internal(format!(
                    "the database has migration {version}, which this build does not know"
                )))
            }
            Some(m) if *m.checksum != **checksum => {
                return Err(Error::Internal(format!(
                    "migration {version} was applied with different SQL"
                )))
            }
            Some(_) => {}
        }
    }
    for m in migrator.iter() {
        if applied.iter().any(|(version, _)| *version == m.version) {
            continue;
        }
        let started = std::time::Instant::now();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(&m.sql)?;
        tx.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (?, ?, TRUE, ?, ?)",
            params![
                m.version,
                &*m.description,
                &*m.checksum,
                i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX)
            ],
        )?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection as _;

    fn versions(conn: &Connection) -> Vec<i64> {
        conn.prepare("SELECT version FROM _sqlx_migrations ORDER BY version")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[tokio::test]
    async fn a_database_migrated_by_sqlx_is_current_here_and_the_other_way_round() {
        let dir = tempfile::tempdir().unwrap();
        let all: Vec<i64> = migrations().iter().map(|m| m.version).collect();

        let by_sqlx = dir.path().join("sqlx.db");
        let url = format!("sqlite://{}?mode=rwc", by_sqlx.display());
        let mut theirs = sqlx::SqliteConnection::connect(&url).await.unwrap();
        migrations().run_direct(&mut theirs).await.unwrap();
        theirs.close().await.unwrap();
        let mut conn = Connection::open(&by_sqlx).unwrap();
        run(&mut conn, &migrations()).unwrap();
        assert_eq!(versions(&conn), all);

        let by_us = dir.path().join("ours.db");
        let mut conn = Connection::open(&by_us).unwrap();
        run(&mut conn, &migrations()).unwrap();
        run(&mut conn, &migrations()).unwrap();
        assert_eq!(versions(&conn), all);
        drop(conn);
        let url = format!("sqlite://{}", by_us.display());
        let mut theirs = sqlx::SqliteConnection::connect(&url).await.unwrap();
        migrations().run_direct(&mut theirs).await.unwrap();
    }

    #[test]
    fn refuses_changed_unknown_and_half_applied_migrations() {
        let fresh = || {
            let mut conn = Connection::open_in_memory().unwrap();
            run(&mut conn, &migrations()).unwrap();
            conn
        };
        let refused = |conn: &mut Connection, needle: &str| {
            let Err(Error::Internal(msg)) = run(conn, &migrations()) else {
                panic!("migrations ran on a database they should refuse")
            };
            assert!(msg.contains(needle), "{msg}");
        };

        let mut conn = fresh();
        conn.execute(
            "UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 2",
            [],
        )
        .unwrap();
        refused(&mut conn, "different SQL");

        let mut conn = fresh();
        conn.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (999, 'future', TRUE, x'00', 0)",
            [],
        )
        .unwrap();
        refused(&mut conn, "does not know");

        let mut conn = fresh();
        conn.execute(
            "UPDATE _sqlx_migrations SET success = FALSE WHERE version = 3",
            [],
        )
        .unwrap();
        refused(&mut conn, "failed part way");
    }

    #[test]
    fn a_failing_migration_leaves_nothing_behind() {
        let broken = crate::store::migrator(&[
            (1, "ok", "CREATE TABLE a (x INTEGER);"),
            (
                2,
                "broken",
                "CREATE TABLE b (x INTEGER); CREATE TABLE a (y INTEGER);",
            ),
        ]);
        let mut conn = Connection::open_in_memory().unwrap();
        assert!(run(&mut conn, &broken).is_err());
        assert_eq!(versions(&conn), vec![1]);
        let b: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'b'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(b, 0, "the failed migration's first statement was kept");
    }
}
