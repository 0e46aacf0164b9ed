//! Running a SQLite statement and reading its rows: the helpers every SQLite query uses.
//!
//! Statements are prepared once per connection (rusqlite's statement cache). A column that does
//! not hold what its storage form promises is an internal error naming the column, never a panic.

use chrono::{DateTime, Utc};
use rusqlite::types::{FromSql, ValueRef};
use rusqlite::{Connection, Params, Row};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::store::corrupt;
use crate::store::cursor;

/// Every row `sql` returns, each read by `read`.
pub(super) fn all<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    read: impl Fn(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(read(row)?);
    }
    Ok(out)
}

/// The row `sql` returns, read by `read`, or `None`. The statement is run to its end, so a
/// write with `RETURNING` is complete before the answer is.
pub(super) fn one<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    read: impl FnOnce(&Row<'_>) -> Result<T>,
) -> Result<Option<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let first = rows.next()?.map(read).transpose()?;
    while rows.next()?.is_some() {}
    Ok(first)
}

/// Runs a statement that returns no rows; the number of rows it changed.
pub(super) fn execute(conn: &Connection, sql: &str, params: impl Params) -> Result<usize> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

/// A column of a result row: its name (`"title"`), or its position in the query with the name
/// for error messages ([`At`]).
pub(super) trait Column: Copy {
    fn name(self) -> &'static str;
    fn value<'r>(self, row: &'r Row<'_>) -> rusqlite::Result<ValueRef<'r>>;
    fn get<T: FromSql>(self, row: &Row<'_>) -> rusqlite::Result<T>;
}

impl Column for &'static str {
    fn name(self) -> &'static str {
        self
    }
    fn value<'r>(self, row: &'r Row<'_>) -> rusqlite::Result<ValueRef<'r>> {
        row.get_ref(self)
    }
    fn get<T: FromSql>(self, row: &Row<'_>) -> rusqlite::Result<T> {
        row.get(self)
    }
}

/// A column by position. rusqlite finds a column named in `get` by comparing it with each
/// column's name in turn, so rows read many times a turn (the history) are read by position.
#[derive(Debug, Clone, Copy)]
pub(super) struct At(pub usize, pub &'static str);

impl Column for At {
    fn name(self) -> &'static str {
        self.1
    }
    fn value<'r>(self, row: &'r Row<'_>) -> rusqlite::Result<ValueRef<'r>> {
        row.get_ref(self.0)
    }
    fn get<T: FromSql>(self, row: &Row<'_>) -> rusqlite::Result<T> {
        row.get(self.0)
    }
}

pub(super) fn text<'r>(row: &'r Row<'_>, col: impl Column) -> Result<&'r str> {
    col.value(row)?
        .as_str()
        .map_err(|e| corrupt(col.name(), e.to_string()))
}

pub(super) fn ts(row: &Row<'_>, col: impl Column) -> Result<DateTime<Utc>> {
    cursor::from_micros(col.get(row)?).ok_or_else(|| corrupt(col.name(), "timestamp out of range"))
}

pub(super) fn uuid(row: &Row<'_>, col: impl Column) -> Result<Uuid> {
    Uuid::try_parse(text(row, col)?).map_err(|e| corrupt(col.name(), e.to_string()))
}

/// A JSON column, read back.
pub(super) fn json<T: DeserializeOwned>(row: &Row<'_>, col: impl Column) -> Result<T> {
    serde_json::from_str(text(row, col)?).map_err(|e| corrupt(col.name(), e.to_string()))
}

/// A value as the JSON text stored for it.
pub(super) fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Internal(format!("encoding JSON: {e}")))
}
