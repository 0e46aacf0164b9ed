//! Titles: the words of a message that are left once its verb, date and priority are read.
//!
//! Filler words ("the", "my", "please", "wala", "ka", "kar do", …) are trimmed from the edges of
//! the span, a trailing "to my list" is dropped, and the remaining words are joined into the
//! title of a new task, the new title of a renamed one, or the title words of a task reference.

use super::normalise::Tok;
use super::vocabulary::{edge_fillers, Canon};

/// A word that carries no content of its own at the edge of a title or reference.
pub(super) fn is_filler(t: &Tok) -> bool {
    if t.quoted || t.canon == Some(Canon::Prev) {
        return false;
    }
    matches!(
        t.canon,
        Some(
            Canon::Task
                | Canon::Mera
                | Canon::Wala
                | Canon::Ka
                | Canon::Kardo
                | Canon::Greet
                | Canon::NumMark
                | Canon::Prio
                | Canon::DateWord
                | Canon::Naam
                | Canon::Weak
        )
    ) || edge_fillers().contains(t.raw.as_str())
}

/// The span without the filler words at either end.
pub(super) fn strip_edges<'s, 't>(mut span: &'s [&'t Tok]) -> &'s [&'t Tok] {
    while let Some((first, rest)) = span.split_first() {
        if !is_filler(first) {
            break;
        }
        span = rest;
    }
    while let Some((last, rest)) = span.split_last() {
        if !is_filler(last) {
            break;
        }
        span = rest;
    }
    span
}

/// The words of a span, joined by single spaces.
pub(super) fn join(toks: &[&Tok]) -> String {
    toks.iter()
        .map(|t| t.raw.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// "milk to my shopping list" -> "milk": drops a trailing "to/in … list".
pub(super) fn drop_list_destination(rest: &mut Vec<&Tok>) {
    let ends_in_list = rest
        .last()
        .is_some_and(|t| !t.quoted && (t.raw == "list" || t.is(Canon::Task)));
    if !ends_in_list {
        return;
    }
    let n = rest.len();
    let cut = (n.saturating_sub(5)..n.saturating_sub(1)).rev().find(|&k| {
        !rest[k].quoted && matches!(rest[k].raw.as_str(), "to" | "in" | "on" | "into" | "mein")
    });
    if let Some(k) = cut.filter(|&k| k > 0) {
        rest.truncate(k);
    }
}
