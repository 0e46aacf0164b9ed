//! Keyset page cursors and page assembly shared by both backends.
//!
//! Owns the cursor string formats (clients treat them as opaque) and the limit clamp. A cursor
//! encodes the sort key of the last row returned, never an offset, so inserts do not shift later
//! pages. This file must not touch the database.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::{Conversation, Page, PageRequest};

/// Largest page a listing returns.
pub(super) const MAX_PAGE: u32 = 100;

/// Where a conversation listing resumes: strictly older than this `(updated_at, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ConversationKey {
    pub updated_at: DateTime<Utc>,
    pub id: Uuid,
}

/// The requested limit clamped to `1..=MAX_PAGE`.
pub(super) fn clamp_limit(limit: u32) -> i64 {
    i64::from(limit.clamp(1, MAX_PAGE))
}

fn invalid() -> Error {
    Error::invalid("invalid cursor")
}

/// `"{updated_at_micros}:{uuid}"`.
pub(super) fn encode_conversation(c: &Conversation) -> String {
    format!("{}:{}", c.updated_at.timestamp_micros(), c.id.0)
}

pub(super) fn decode_conversation(cursor: &str) -> Result<ConversationKey> {
    let (micros, id_text) = cursor.split_once(':').ok_or_else(invalid)?;
    let updated_at = from_micros(parse_i64(micros)?).ok_or_else(invalid)?;
    let id = Uuid::try_parse(id_text).map_err(|_| invalid())?;
    // Only the canonical lowercase hyphenated form, so one key has exactly one cursor.
    if id.hyphenated().to_string() != id_text {
        return Err(invalid());
    }
    Ok(ConversationKey { updated_at, id })
}

/// A message `seq` or task `number`, in decimal.
pub(super) fn encode_number(n: i64) -> String {
    n.to_string()
}

pub(super) fn decode_number(cursor: &str) -> Result<i64> {
    parse_i64(cursor)
}

/// Where a listing by `seq` or `number` resumes (after 0 on the first page), and its clamped
/// limit.
pub(super) fn number_page(page: &PageRequest) -> Result<(i64, i64)> {
    let after = page.after.as_deref().map(decode_number).transpose()?;
    Ok((after.unwrap_or(0), clamp_limit(page.limit)))
}

fn parse_i64(s: &str) -> Result<i64> {
    // Plain non-negative decimal only: no sign, no spaces.
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    s.parse().map_err(|_| invalid())
}

/// Microseconds since the epoch back to a timestamp (the SQLite storage form).
pub(super) fn from_micros(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
}

/// Turns `limit + 1` fetched rows into a page: the extra row only signals `has_more`.
pub(super) fn page<T>(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    let after = if has_more {
        rows.last().map(cursor_of)
    } else {
        None
    };
    Page {
        data: rows,
        has_more,
        after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_limits() {
        assert_eq!(clamp_limit(0), 1);
        assert_eq!(clamp_limit(7), 7);
        assert_eq!(clamp_limit(10_000), 100);
    }

    #[test]
    fn rejects_malformed_cursors() {
        for bad in ["", "-1", "+3", " 3", "x", "99999999999999999999"] {
            assert!(decode_number(bad).is_err(), "{bad:?}");
        }
        assert_eq!(decode_number("42").unwrap(), 42);
        let id = Uuid::new_v4();
        let ok = format!("123:{id}");
        assert_eq!(decode_conversation(&ok).unwrap().id, id);
        for bad in [
            "123".to_string(),
            format!("x:{id}"),
            "123:not-a-uuid".to_string(),
            format!("123:{}", id.simple()),
            format!("123:{}", id.hyphenated().to_string().to_uppercase()),
        ] {
            assert!(decode_conversation(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn page_uses_extra_row_for_has_more() {
        let p = page(vec![1, 2, 3], 2, |n| n.to_string());
        assert_eq!(
            (p.data, p.has_more, p.after),
            (vec![1, 2], true, Some("2".into()))
        );
        let p = page(vec![1, 2], 2, |n| n.to_string());
        assert_eq!((p.data, p.has_more, p.after), (vec![1, 2], false, None));
    }
}
