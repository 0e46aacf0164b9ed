//! Building an intent from the words its verb left.
//!
//! Dates and priorities are taken out first; what remains names the task or becomes its title.
//! A message can say its task in one clause and its verb in another ("i gotta pay the phone
//! bill, add that", "gym membership rehne do, hata do"): when the verb's own clause names
//! nothing but "it", the task or title comes from the other clauses.

use chrono::NaiveDate;

use super::dates::scan_due;
use super::normalise::Tok;
use super::priority::scan_priority;
use super::reference::{pure_ref, resolve_ref};
use super::titles::{is_filler, join, strip_edges, strip_title_edges};
use super::vocabulary::Canon;
use super::{Action, Intent, TaskRef};
use crate::agent::Language;

/// Words that mean a title is still to come: "add something".
const PLACEHOLDERS: &[&str] = &["something", "anything", "sth", "smth", "kuch", "kuchh"];

/// Words that carry the request rather than its content, in any intent.
fn request_word(t: &Tok) -> bool {
    matches!(
        t.canon,
        Some(Canon::Kardo | Canon::Filler | Canon::Dest | Canon::DestOut)
    ) && !t.quoted
}

/// Builds an add from the words around its verb at `verb` (none when the message only puts
/// something on a list).
pub(super) fn parse_add(
    toks: &[Tok],
    verb: Option<usize>,
    today: NaiveDate,
    lang: Language,
) -> Intent {
    let mut used: Vec<bool> = toks
        .iter()
        .enumerate()
        .map(|(k, t)| Some(k) == verb || t.is(Canon::Add) || t.is(Canon::Remind) || request_word(t))
        .collect();
    let due_date = scan_due(toks, &mut used, today, lang);
    let priority = scan_priority(toks, &mut used, false);
    let mut rest: Vec<&Tok> = unused(toks, &used, 0, toks.len());
    // "X, add it" / "X, isko yaad rakhna": the title is in the other clauses.
    if let Some(v) = verb {
        let clause = toks[v].clause;
        let own: Vec<&Tok> = rest
            .iter()
            .copied()
            .filter(|t| t.clause == clause)
            .collect();
        let others = rest.len() > own.len();
        if others && strip_title_edges(&own).is_empty() {
            rest.retain(|t| t.clause != clause);
        }
    }

    if let Some(q) = rest.iter().find(|t| t.quoted) {
        return Intent::Add {
            title: q.raw.clone(),
            priority,
            due_date,
        };
    }
    let core = strip_title_edges(&rest);
    // "task 3 ko zaroori bana do", "isko zaroori bana do", "passport wala kaam agle hafte pe
    // daal do": making an existing task something.
    if priority.is_some() || due_date.is_some() {
        // The title's edges lose a bare "isko" / "it", which here is the task itself.
        let task = pure_ref(core)
            .or_else(|| pure_ref(&rest))
            .or_else(|| names_existing(&rest).then(|| resolve_ref(&rest)).flatten());
        if let Some(task) = task {
            return Intent::Update {
                task,
                title: None,
                priority,
                due_date,
            };
        }
    }
    let placeholder = core
        .iter()
        .all(|t| PLACEHOLDERS.contains(&t.key.as_str()) || is_filler(t));
    if core.is_empty() || placeholder || pure_ref(core).is_some() {
        return Intent::Incomplete {
            action: Action::Add,
        };
    }
    Intent::Add {
        title: join(core),
        priority,
        due_date,
    }
}

/// Whether words point at a task that exists: "passport wala kaam", "meeting wale task ko".
fn names_existing(span: &[&Tok]) -> bool {
    let content: Vec<&&Tok> = span.iter().filter(|t| !t.is(Canon::Ka)).collect();
    match content.as_slice() {
        [.., w, t] => (w.is(Canon::Wala) && t.is(Canon::Task)) || t.is(Canon::Wala),
        [t] => t.is(Canon::Wala),
        [] => false,
    }
}

/// Builds a complete or delete from the words around its verb at `verb`.
pub(super) fn parse_target(toks: &[Tok], verb: usize, action: Action) -> Intent {
    let verb_canon = toks[verb].canon;
    let span: Vec<&Tok> = toks
        .iter()
        .enumerate()
        .filter(|&(k, t)| {
            !(k == verb
                || (t.canon == verb_canon && !t.quoted)
                || t.is(Canon::Weak)
                || t.is(Canon::Place)
                || request_word(t))
        })
        .map(|(_, t)| t)
        .collect();
    let task = in_clauses(&span, toks[verb].clause);
    match (task, action) {
        (Some(task), Action::Complete) => Intent::Complete { task },
        (Some(task), _) => Intent::Delete { task },
        (None, action) => Intent::Incomplete { action },
    }
}

/// The task a span names, read from the verb's own clause first. When that clause names no
/// task or only "it", the nearest other clause that names one is taken ("nevermind the laundry,
/// remove it"); a message of one clause is read whole.
fn in_clauses(span: &[&Tok], clause: usize) -> Option<TaskRef> {
    let count = span
        .iter()
        .map(|t| t.clause + 1)
        .max()
        .unwrap_or(0)
        .max(clause + 1);
    let mut clauses: Vec<Vec<&Tok>> = vec![Vec::new(); count];
    for t in span {
        clauses[t.clause].push(t);
    }
    let own = resolve_ref(&clauses[clause]);
    if !matches!(own, None | Some(TaskRef::Previous)) {
        return own;
    }
    let mut others: Vec<usize> = (0..count).filter(|&c| c != clause).collect();
    others.sort_by_key(|&c| (c.abs_diff(clause), c > clause));
    for c in others {
        if let Some(r @ (TaskRef::Number(_) | TaskRef::Title(_))) = resolve_ref(&clauses[c]) {
            return Some(r);
        }
    }
    own
}

/// Builds an update from the words around its verb at `verb_idx`: the words before "to" / "ka
/// naam" name the task, those after are its new title, and dates and priorities anywhere are
/// its new due date and priority.
pub(super) fn parse_update(
    toks: &[Tok],
    verb_idx: usize,
    today: NaiveDate,
    lang: Language,
) -> Intent {
    let n = toks.len();
    let mut used: Vec<bool> = toks
        .iter()
        .map(|t| {
            t.is(Canon::Update)
                || t.is(Canon::Rename)
                || t.is(Canon::Move)
                || t.is(Canon::Weak)
                || t.is(Canon::Place)
                || request_word(t)
        })
        .collect();
    let naam_idx = toks.iter().position(|t| t.is(Canon::Naam));
    let renaming = naam_idx.is_some() || toks.iter().any(|t| t.is(Canon::Rename));

    // Split into "which task" (left) and "new value" (right).
    let split = match (lang, naam_idx) {
        (Language::RomanUrdu, Some(k)) => Some(k),
        _ => toks
            .iter()
            .enumerate()
            .position(|(k, t)| {
                k > verb_idx
                    && !used[k]
                    && !t.quoted
                    && matches!(t.raw.as_str(), "to" | "into" | "as")
            })
            .or(naam_idx),
    };

    // A new title keeps its own words: no dates or priorities are read from it.
    let mut scan_mask = used.clone();
    if let (true, Some(s)) = (renaming, split) {
        for m in scan_mask.iter_mut().skip(s + 1) {
            *m = true;
        }
    }
    let due_date = scan_due(toks, &mut scan_mask, today, lang);
    let priority = scan_priority(toks, &mut scan_mask, !renaming);
    for k in 0..n {
        let in_right = renaming && split.is_some_and(|s| k > s);
        if !in_right {
            used[k] = scan_mask[k];
        }
    }

    let (left, right) = match split {
        Some(s) => (unused(toks, &used, 0, s), unused(toks, &used, s + 1, n)),
        None => (unused(toks, &used, 0, n), Vec::new()),
    };
    let mut title = right.iter().find(|t| t.quoted).map(|t| t.raw.clone());
    if title.is_none() {
        let core = strip_edges(&right);
        if !core.is_empty() {
            title = Some(join(core));
        }
    }
    let mut task = resolve_ref(&left);
    // "task 4 ko 'Bank Call' kar do": quoted new title next to a number.
    if title.is_none() {
        if let Some(q) = left.iter().find(|t| t.quoted) {
            let plain: Vec<&Tok> = left.iter().copied().filter(|t| !t.quoted).collect();
            if let Some(r @ (TaskRef::Number(_) | TaskRef::Previous)) = resolve_ref(&plain) {
                task = Some(r);
                title = Some(q.raw.clone());
            }
        }
    }
    match task {
        Some(task) => Intent::Update {
            task,
            title,
            priority,
            due_date,
        },
        None => Intent::Incomplete {
            action: Action::Update,
        },
    }
}

fn unused<'t>(toks: &'t [Tok], used: &[bool], from: usize, to: usize) -> Vec<&'t Tok> {
    toks.iter()
        .enumerate()
        .take(to)
        .skip(from)
        .filter(|(k, _)| !used[*k])
        .map(|(_, t)| t)
        .collect()
}
