//! Task references: which existing task a message points to.
//!
//! A task is named by its number ("task 3", "#3", "3 wala", "teesra task", "the 2nd one"), by a
//! pronoun that points to the task mentioned last ("it", "that one", "isko", "woh wala"), or by
//! words from its title ("the meeting task", a quoted title).

use super::normalise::Tok;
use super::titles::{join, strip_edges};
use super::vocabulary::Canon;
use super::TaskRef;

/// The word as a task number, when it is nothing but digits.
pub(super) fn int_of(t: &Tok) -> Option<i64> {
    let raw = t.raw.as_str();
    if t.quoted || raw.is_empty() || raw.len() > 18 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

fn ordinal(t: &Tok) -> Option<i64> {
    if t.quoted {
        return None;
    }
    let w = t.raw.as_str();
    let named = match w {
        "first" | "pehla" | "pehli" | "pahla" | "pahli" => 1,
        "second" | "doosra" | "dusra" | "doosri" | "dusri" | "doosre" | "dusre" => 2,
        "third" | "teesra" | "tisra" | "teesri" | "tisri" | "teesre" => 3,
        "fourth" | "chautha" | "chotha" | "chauthi" | "chothi" | "chauthe" => 4,
        "fifth" | "paanchwa" | "panchwa" | "paanchwan" | "panchwan" | "paanchvi" | "panchvi" => 5,
        "sixth" => 6,
        "seventh" => 7,
        "eighth" => 8,
        "ninth" => 9,
        "tenth" => 10,
        _ => 0,
    };
    if named > 0 {
        return Some(named);
    }
    let digits = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|s| w.strip_suffix(s))?;
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `Some` when the words are nothing but a task number or a pronoun.
pub(super) fn pure_ref(core: &[&Tok]) -> Option<TaskRef> {
    if let [only] = core {
        if let Some(n) = int_of(only).or_else(|| ordinal(only)) {
            return Some(TaskRef::Number(n));
        }
    }
    if !core.is_empty() && core.iter().all(|t| t.is(Canon::Prev)) {
        return Some(TaskRef::Previous);
    }
    None
}

/// Reads which task a span of words points to; `None` when nothing is left.
pub(super) fn resolve_ref(span: &[&Tok]) -> Option<TaskRef> {
    if let Some(q) = span.iter().find(|t| t.quoted) {
        return Some(TaskRef::Title(q.raw.clone()));
    }
    for (k, t) in span.iter().enumerate() {
        let next = span.get(k + 1);
        if let Some(n) = int_of(t) {
            let marked_before =
                k > 0 && (span[k - 1].is(Canon::Task) || span[k - 1].is(Canon::NumMark));
            let marked_after = next
                .is_some_and(|x| x.is(Canon::Wala) || x.is(Canon::NumMark) || x.is(Canon::Task));
            if marked_before || marked_after {
                return Some(TaskRef::Number(n));
            }
        }
        if let Some(n) = ordinal(t) {
            if next.is_some_and(|x| x.is(Canon::Task) || x.is(Canon::Wala) || x.raw == "one") {
                return Some(TaskRef::Number(n));
            }
        }
    }
    let core = strip_edges(span);
    // Nothing left, or only "all" ("delete all tasks"): no single task named.
    if core.iter().all(|t| t.is(Canon::All)) {
        return None;
    }
    if let Some(r) = pure_ref(core) {
        return Some(r);
    }
    // "that meeting task" -> "meeting"
    let mut core = core;
    while core.first().is_some_and(|t| t.is(Canon::Prev)) {
        core = strip_edges(&core[1..]);
    }
    while core.last().is_some_and(|t| t.is(Canon::Prev)) {
        core = strip_edges(&core[..core.len() - 1]);
    }
    if core.is_empty() {
        return Some(TaskRef::Previous);
    }
    Some(TaskRef::Title(join(core)))
}
