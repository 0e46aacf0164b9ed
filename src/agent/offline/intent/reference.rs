//! Task references: which existing task a message points to.
//!
//! A task is named by its number ("task 3", "#3", "3 wala", "task three", "do number wala",
//! "teesra task", "the 2nd one"), by a pronoun that points to the task mentioned last ("it",
//! "that one", "isko", "woh wala"), or by words from its title ("the meeting task", a quoted
//! title). A number said as a word counts only next to "task", "number" or "wala", since "do"
//! and "one" are ordinary words too.

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

/// Nouns that stand for a task in a reference without naming it: "the dentist thing".
const VAGUE_NOUNS: &[&str] = &["thing", "stuff"];

/// Numbers said as words, in English and Roman Urdu, up to twenty.
const NUMBER_WORDS: &[(&str, i64)] = &[
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("thirteen", 13),
    ("fourteen", 14),
    ("fifteen", 15),
    ("sixteen", 16),
    ("seventeen", 17),
    ("eighteen", 18),
    ("nineteen", 19),
    ("twenty", 20),
    ("ek", 1),
    ("aik", 1),
    ("do", 2),
    ("teen", 3),
    ("tin", 3),
    ("char", 4),
    ("chaar", 4),
    ("paanch", 5),
    ("panch", 5),
    ("chhe", 6),
    ("che", 6),
    ("chay", 6),
    ("saat", 7),
    ("aath", 8),
    ("nau", 9),
    ("das", 10),
    ("gyarah", 11),
    ("gyara", 11),
    ("barah", 12),
    ("bara", 12),
    ("terah", 13),
    ("tera", 13),
    ("chaudah", 14),
    ("chauda", 14),
    ("pandrah", 15),
    ("pandra", 15),
    ("solah", 16),
    ("sola", 16),
    ("satrah", 17),
    ("satra", 17),
    ("atharah", 18),
    ("athara", 18),
    ("unnees", 19),
    ("unees", 19),
    ("bees", 20),
];

/// The word as a number when it is a number word ("nine", "gyarah").
fn number_word(t: &Tok) -> Option<i64> {
    if t.quoted {
        return None;
    }
    NUMBER_WORDS
        .iter()
        .find(|(w, _)| *w == t.raw)
        .map(|&(_, n)| n)
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
        if let Some(n) = int_of(t).or_else(|| number_word(t)) {
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
    // "that meeting task" -> "meeting", "the dentist thing" -> "dentist"
    let mut core = core;
    while core.first().is_some_and(|t| t.is(Canon::Prev)) {
        core = strip_edges(&core[1..]);
    }
    while core
        .last()
        .is_some_and(|t| t.is(Canon::Prev) || VAGUE_NOUNS.contains(&t.key.as_str()))
    {
        core = strip_edges(&core[..core.len() - 1]);
    }
    if core.is_empty() {
        return Some(TaskRef::Previous);
    }
    Some(TaskRef::Title(join(core)))
}
