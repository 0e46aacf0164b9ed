//! Domain records shared by the chat core, the agent and the store.
//!
//! These are plain data: no SQL, no wire framing. Transports serialise them as they are (the
//! serde names here *are* the public JSON names), the store maps rows onto them.
//!
//! Ids live here; the rest by subject: [`messages`] (threads, messages, the queue), [`tasks`],
//! [`pages`] (paging and order) and [`items`] (feedback, hidden items, attachments). Everything
//! is re-exported, so `crate::model::Message` names it wherever it lives.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

mod items;
mod messages;
mod pages;
mod tasks;

pub use items::*;
pub use messages::*;
pub use pages::*;
pub use tasks::*;

/// The authenticated user a request acts for. Taken from the JWT, never from a model or a body.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct UserId(pub String);

impl UserId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A conversation ("thread" on the WebSocket and in ChatKit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct ThreadId(pub Uuid);

impl ThreadId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for ThreadId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ThreadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct MessageId(pub Uuid);

impl MessageId {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for MessageId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
