//! The `messages` of a send: checked for the shape of a list of the SDK's `UIMessage`s (an `id`,
//! a `role`, `parts` whose `type`s are ones the SDK knows). Only the newest is read, and only
//! its text: history comes from our store, so a client cannot rewrite it.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Part types of a `UIMessage` besides `data-*`, `tool-*` and `dynamic-tool`.
const PART_TYPES: &[&str] = &[
    "text",
    "reasoning",
    "source-url",
    "source-document",
    "file",
    "reasoning-file",
    "step-start",
    "custom",
    "steering-message",
];

/// Checks `messages` for the shape of a non-empty list of `UIMessage`s; returns the newest.
pub fn check_messages(messages: &Value) -> Result<&Map<String, Value>> {
    let Some(list) = messages.as_array().filter(|l| !l.is_empty()) else {
        return Err(Error::invalid("messages must be a non-empty array"));
    };
    for (i, message) in list.iter().enumerate() {
        let bad = |what: &str| Error::Invalid(format!("messages[{i}]: {what}"));
        let Value::Object(m) = message else {
            return Err(bad("must be an object"));
        };
        if !m.get("id").is_some_and(Value::is_string) {
            return Err(bad("id must be a string"));
        }
        let role = m.get("role").and_then(Value::as_str);
        if !matches!(role, Some("system" | "user" | "assistant")) {
            return Err(bad("role must be system, user or assistant"));
        }
        let Some(parts) = m.get("parts").and_then(Value::as_array) else {
            return Err(bad("parts must be an array"));
        };
        if parts.is_empty() && role != Some("assistant") {
            return Err(bad("must contain at least one part"));
        }
        for part in parts {
            let kind = part.get("type").and_then(Value::as_str).unwrap_or("");
            let known = PART_TYPES.contains(&kind)
                || kind.starts_with("data-")
                || kind.starts_with("tool-")
                || kind == "dynamic-tool";
            if !known {
                return Err(bad("a part has no type the AI SDK knows"));
            }
            if kind == "text" && !part.get("text").is_some_and(Value::is_string) {
                return Err(bad("a text part's text must be a string"));
            }
        }
    }
    Ok(list
        .last()
        .and_then(Value::as_object)
        .expect("checked above"))
}

/// The text a new user message says: its text parts, one per line.
pub fn user_text(newest: &Map<String, Value>) -> Result<String> {
    if newest.get("role").and_then(Value::as_str) != Some("user") {
        return Err(Error::invalid("the newest message must be the user's"));
    }
    let parts = newest["parts"].as_array().expect("checked");
    if parts.iter().any(|p| p["type"] == "file") {
        return Err(Error::invalid(
            "files are not supported on this transport: send text",
        ));
    }
    let texts: Vec<&str> = parts
        .iter()
        .filter(|p| p["type"] == "text")
        .filter_map(|p| p["text"].as_str())
        .collect();
    if texts.is_empty() {
        return Err(Error::invalid("the newest message has no text"));
    }
    Ok(texts.join("\n"))
}
