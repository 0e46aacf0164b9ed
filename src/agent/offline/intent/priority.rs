//! Priorities: the priority phrases of a message.
//!
//! Phrases such as "urgent", "bohat zaroori", "not important", "baad mein" or "low priority" are
//! matched after their spelling variants are folded; a lone "high", "low" or "kam" counts only
//! when a task is being changed or the message says "priority".

use std::cmp::Reverse;
use std::sync::OnceLock;

use super::normalise::Tok;
use super::vocabulary::Canon;
use crate::model::Priority;

/// Priority phrases in normalised words (see [`prio_norm`]); longest match wins.
const PRIORITY_PHRASES: &[(&str, Priority)] = &[
    ("not that urgent", Priority::Low),
    ("not so urgent", Priority::Low),
    ("not urgent", Priority::Low),
    ("not important", Priority::Low),
    ("not zaroori", Priority::Low),
    ("zaroori not", Priority::Low),
    ("important not", Priority::Low),
    ("urgent not", Priority::Low),
    ("kam zaroori", Priority::Low),
    ("kam important", Priority::Low),
    ("ghair zaroori", Priority::Low),
    ("baad mein", Priority::Low),
    ("no rush", Priority::Low),
    ("low priority", Priority::Low),
    ("priority low", Priority::Low),
    ("whenever", Priority::Low),
    ("someday", Priority::Low),
    ("kabhi bhi", Priority::Low),
    ("medium priority", Priority::Medium),
    ("priority medium", Priority::Medium),
    ("normal priority", Priority::Medium),
    ("priority normal", Priority::Medium),
    ("moderate priority", Priority::Medium),
    ("mid priority", Priority::Medium),
    ("average priority", Priority::Medium),
    ("darmiyani", Priority::Medium),
    ("darmiyana", Priority::Medium),
    ("high priority", Priority::High),
    ("priority high", Priority::High),
    ("top priority", Priority::High),
    ("very important", Priority::High),
    ("very urgent", Priority::High),
    ("very zaroori", Priority::High),
    ("urgent", Priority::High),
    ("important", Priority::High),
    ("zaroori", Priority::High),
    ("asap", Priority::High),
    ("critical", Priority::High),
    ("emergency", Priority::High),
    ("fori", Priority::High),
];

/// Folds spelling variants of priority words.
fn prio_norm(w: &str) -> &str {
    match w {
        "zaroori" | "zaruri" | "zuroori" | "zarori" | "zruri" | "zaroore" | "zaruree"
        | "zaroory" | "zaroorat" => "zaroori",
        "bohat" | "bahut" | "bohot" | "boht" | "buhat" | "bht" | "bohut" | "bhot" | "bahot"
        | "very" | "really" | "super" | "extremely" => "very",
        "ahem" | "aham" | "ahm" | "important" => "important",
        "urgent" | "urgently" => "urgent",
        "nahi" | "nahin" | "nai" | "ni" | "nhi" | "not" => "not",
        "mein" | "me" | "main" | "mai" | "mien" => "mein",
        "baad" | "bad" => "baad",
        "ghair" | "gair" => "ghair",
        "prio" | "priority" => "priority",
        other => other,
    }
}

fn priority_phrases() -> &'static Vec<(Vec<&'static str>, Priority)> {
    static LIST: OnceLock<Vec<(Vec<&'static str>, Priority)>> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut v: Vec<(Vec<&'static str>, Priority)> = PRIORITY_PHRASES
            .iter()
            .map(|&(p, level)| (p.split_whitespace().collect(), level))
            .collect();
        v.sort_by_key(|(words, _)| Reverse(words.len()));
        v
    })
}

/// Finds priority phrases, marks their words used and returns the last one.
/// With `bare_levels` (or when the message says "priority"), a lone
/// "high"/"low"/"medium"/"normal"/"zyada"/"kam" counts too.
pub(super) fn scan_priority(
    toks: &[Tok],
    used: &mut [bool],
    bare_levels: bool,
) -> Option<Priority> {
    let prio_word = toks
        .iter()
        .enumerate()
        .any(|(k, t)| t.is(Canon::Prio) && !used[k]);
    let bare = bare_levels || prio_word;
    let word = |used: &[bool], k: usize| -> &str {
        match toks.get(k) {
            Some(t) if !t.quoted && !used[k] => prio_norm(&t.raw),
            _ => "",
        }
    };
    let mut found = None;
    let mut i = 0;
    while i < toks.len() {
        let hit = priority_phrases().iter().find(|(words, _)| {
            words
                .iter()
                .enumerate()
                .all(|(o, pw)| word(used, i + o) == *pw)
        });
        if let Some((words, level)) = hit {
            for u in used.iter_mut().skip(i).take(words.len()) {
                *u = true;
            }
            found = Some(*level);
            i += words.len();
            continue;
        }
        if bare {
            let level = match word(used, i) {
                "high" | "top" | "zyada" | "ziada" | "ziyada" => Some(Priority::High),
                "low" | "kam" => Some(Priority::Low),
                "medium" | "normal" | "mid" | "moderate" => Some(Priority::Medium),
                _ => None,
            };
            if let Some(level) = level {
                used[i] = true;
                found = Some(level);
            }
        }
        i += 1;
    }
    if found.is_some() {
        for (k, t) in toks.iter().enumerate() {
            if t.is(Canon::Prio) {
                used[k] = true;
            }
        }
    }
    found
}
