//! The NUL rule: no text a client sends may contain U+0000, on any transport or backend.
//!
//! PostgreSQL cannot store NUL in `TEXT` or `JSONB`, SQLite can; left to the store, the same
//! message was a 500 on one backend and kept on the other. Stripping it would change what the
//! user sent without telling them, so a request carrying one is refused where it is decoded:
//! 400 `invalid_request` over HTTP, an `invalid_frame` error event on the WebSocket and a
//! JSON-RPC error over MCP. Nothing behind the edges checks again.

use crate::error::{Error, Result};

/// `Error::Invalid` saying that `place` (e.g. "the request body") holds a NUL.
pub fn refused(place: &str) -> Error {
    Error::Invalid(format!(
        "{place} must not contain the NUL character (U+0000)"
    ))
}

/// Refuses `text` (a decoded path segment, file name …) when it holds a NUL.
pub fn refuse(text: &str, place: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(refused(place));
    }
    Ok(())
}

/// Whether JSON text holds a NUL in any string, key or value: a `\u0000` escape, the only way
/// valid JSON can spell one (a raw control character is found too, though no parser takes it).
/// Exact without parsing: outside strings a backslash is not valid JSON, and inside them each
/// escape is skipped whole, so `"\\u0000"` (a backslash, then `u0000`) is not a NUL.
pub fn in_json(json: &[u8]) -> bool {
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            0 => return true,
            b'\\' if json.get(i + 1..i + 6) == Some(&b"u0000"[..]) => return true,
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_escaped_nuls_only() {
        assert!(in_json(br#"{"message":"a\u0000b"}"#));
        assert!(in_json(br#"{"a\u0000":1}"#));
        assert!(in_json(br#"["\n\u0000"]"#));
        assert!(in_json(b"\"\0\""));
        assert!(!in_json(br#"{"message":"a\\u0000b"}"#));
        assert!(!in_json(br#"{"m":"\u0001"}"#));
        assert!(!in_json(br#"{"m":"\\\\u0000"}"#));
        assert!(in_json(br#"{"m":"\\\u0000"}"#));
        assert!(!in_json(br#"{"m":"\u0100"}"#));
        assert!(!in_json(b"\\"));
        assert!(!in_json(b"\\u000"));
        assert!(!in_json(b""));
    }

    #[test]
    fn agrees_with_a_parser() {
        for text in [
            r#"{"a":"\u0000"}"#,
            r#"{"a":"\\u0000"}"#,
            r#"{"a":["x","\\\\\u0000"]}"#,
            r#"{"\u0000":{"b":"c"}}"#,
            r#"{"a":"\u00001"}"#,
            r#"{"a":"\\\\u0000"}"#,
        ] {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(in_json(text.as_bytes()), value_has_nul(&value), "{text}");
        }
    }

    fn value_has_nul(v: &serde_json::Value) -> bool {
        use serde_json::Value;
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().any(value_has_nul),
            Value::Object(map) => map
                .iter()
                .any(|(k, v)| k.contains('\0') || value_has_nul(v)),
            _ => false,
        }
    }

    #[test]
    fn refuses_text_with_a_nul() {
        assert!(refuse("abc", "x").is_ok());
        let e = refuse("a\0c", "the file name").unwrap_err();
        assert_eq!(e.code(), "invalid_request");
        assert!(e.to_string().starts_with("the file name must not contain"));
    }
}
