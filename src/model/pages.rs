//! Paging: a request for a page, the order a listing runs in, and the page.

use serde::Serialize;

/// A page request: at most `limit` rows after the opaque cursor `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<String>,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        Self { limit, after: None }
    }
}

/// Sort direction of a listing by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// One page of a listing. `after` is the cursor to pass for the next page (present when
/// `has_more`); cursors are opaque strings and stay valid while rows are inserted.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub has_more: bool,
    pub after: Option<String>,
}
