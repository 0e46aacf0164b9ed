//! Titles: the words of a message that are left once its verb, date and priority are read.
//!
//! Filler words ("the", "my", "please", "for me", "zara", "wala", "ka", "kar do", …) are trimmed
//! from the edges of the span, and the remaining words are joined into the title of a new task,
//! the new title of a renamed one, or the title words of a task reference. A new task's title is
//! also trimmed of the deixis that points at it ("add this to my list: …", "yeh bhi likh lo",
//! "… isko yaad rakhna").

use super::normalise::Tok;
use super::vocabulary::{edge_fillers, Canon, Tag};

/// Words of address ("bhai", "yaar") that are fillers in a request but people in a title.
const ADDRESS: &[&str] = &["bhai", "yaar", "yar", "dost"];

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
                | Canon::Filler
                | Canon::Dest
                | Canon::DestOut
                | Canon::Agenda
        )
    ) || edge_fillers().contains(&t.key)
}

/// The span without the filler words at either end.
pub(super) fn strip_edges<'s, 't>(mut span: &'s [&'t Tok]) -> &'s [&'t Tok] {
    while let Some((first, rest)) = span.split_first() {
        // "bhai ko", "yaar ki shaadi": a word of address before "ko" / "ki" is the person.
        let owned =
            ADDRESS.contains(&first.key.as_str()) && rest.first().is_some_and(|t| t.is(Canon::Ka));
        if !is_filler(first) || owned {
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

/// A new task's title: the span without fillers at its edges, without a leading "this" /
/// "yeh" / "woh wala", and without a trailing Urdu "isko" / "yeh".
pub(super) fn strip_title_edges<'s, 't>(span: &'s [&'t Tok]) -> &'s [&'t Tok] {
    let mut span = strip_edges(span);
    loop {
        let lead = span
            .first()
            .is_some_and(|t| t.is(Canon::Prev) || t.is(Canon::Wala));
        let trail = span
            .last()
            .is_some_and(|t| t.is(Canon::Prev) && t.tag == Tag::Urdu);
        match (lead, trail) {
            (true, _) => span = strip_edges(&span[1..]),
            (_, true) => span = strip_edges(&span[..span.len() - 1]),
            _ => return span,
        }
    }
}
