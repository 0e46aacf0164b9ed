//! Word order: meanings that come from where words stand, read once phrases are folded.
//!
//! - A list named after a preposition ("on my shopping list", "to my to do list", "off my
//!   list", "on my plate") or before a postposition ("grocery list mein", "list se") is where a
//!   task goes or comes from, not a request to show the list.
//! - Urdu "is" / "us" before a task noun or "wala" is "this" / "that" ("is task ko").
//! - A word saying a thing is over ("over", "sorted", "handled") at the end of a message ("team
//!   meeting over") completes a task.

use super::normalise::{Break, Tok};
use super::vocabulary::{Canon, Tag};

/// Prepositions that put something on a list, and those that take it off.
const ONTO: &[&str] = &["on", "to", "onto", "in", "into"];
const OFF: &[&str] = &["off", "from"];
/// Urdu postpositions after a list: "mein" onto it, "se" off it.
const URDU_ONTO: &[&str] = &["mein", "me", "main", "mai", "men", "pe", "par"];
const URDU_OFF: &[&str] = &["se"];
/// Words that may stand between a preposition and the list: "on my", "to the", "onto our".
const DETERMINERS: &[&str] = &["my", "the", "our", "your", "this", "mera", "meri", "mere"];
/// "sabzi ki list": the genitive that names which list ("ko" marks an object instead).
const GENITIVE: &[&str] = &["ka", "ki", "ke", "kay", "kaa", "kii"];
/// Names of the list itself.
const LIST_NOUNS: &[&str] = &["list", "plate", "agenda", "calendar", "todo", "todos"];
/// Words that may follow the word saying a thing is over: "team meeting over now".
const AFTERWORDS: &[&str] = &[
    "now", "already", "anymore", "too", "yet", "finally", "lol", "thanks", "plz", "please", "pls",
];

/// Reads the word-order meanings into the tokens' canonical meanings.
pub(super) fn read_word_order(toks: &mut [Tok]) {
    for k in 0..toks.len() {
        let demonstrative =
            !toks[k].quoted && matches!(toks[k].raw.as_str(), "is" | "iss" | "us" | "uss");
        let before_noun = toks
            .get(k + 1)
            .is_some_and(|n| n.is(Canon::Task) || n.is(Canon::Wala));
        if demonstrative && before_noun {
            toks[k].canon = Some(Canon::Prev);
            toks[k].tag = Tag::Urdu;
        }
    }
    mark_destinations(toks);
    mark_state_at_end(toks);
}

/// The list a task is put on or taken off, in either language.
fn mark_destinations(toks: &mut [Tok]) {
    let n = toks.len();
    let mut k = 0;
    while k < n {
        if let Some((from, to, canon)) =
            english_destination(toks, k).or_else(|| urdu_destination(toks, k))
        {
            for t in &mut toks[from..=to] {
                t.canon = Some(canon);
            }
            k = to + 1;
        } else {
            k += 1;
        }
    }
}

fn plain(t: &Tok) -> bool {
    !t.quoted && t.canon.is_none()
}

fn is_list_noun(t: &Tok) -> bool {
    if t.quoted {
        return false;
    }
    LIST_NOUNS.contains(&t.key.as_str())
        || (t.is(Canon::Task) && (t.key.ends_with("list") || t.key == "tasks"))
}

/// "on my shopping list" starting at `p`: (first, last, meaning).
fn english_destination(toks: &[Tok], p: usize) -> Option<(usize, usize, Canon)> {
    let t = &toks[p];
    if !plain(t) {
        return None;
    }
    let canon = if ONTO.contains(&t.key.as_str()) {
        Canon::Dest
    } else if OFF.contains(&t.key.as_str()) {
        Canon::DestOut
    } else {
        return None;
    };
    let mut h = p + 1;
    if toks
        .get(h)
        .is_some_and(|d| DETERMINERS.contains(&d.key.as_str()))
    {
        h += 1;
    }
    // At most two words naming which list: "shopping", "weekly grocery".
    for _ in 0..3 {
        let head = toks.get(h)?;
        if head.brk == Break::Clause {
            return None;
        }
        if is_list_noun(head) {
            return Some((p, h, canon));
        }
        if !(plain(head) || head.is(Canon::Task)) {
            return None;
        }
        h += 1;
    }
    None
}

/// "grocery list mein", "meri list mein", "sabzi wali list mein", "sabzi ki list mein", "list se"
/// ending at the
/// postposition after the list noun at `h`.
fn urdu_destination(toks: &[Tok], h: usize) -> Option<(usize, usize, Canon)> {
    if !is_list_noun(&toks[h]) {
        return None;
    }
    let post = toks.get(h + 1).filter(|t| plain(t))?;
    let canon = if URDU_ONTO.contains(&post.key.as_str()) {
        Canon::Dest
    } else if URDU_OFF.contains(&post.key.as_str()) {
        Canon::DestOut
    } else {
        return None;
    };
    let mut from = h;
    while from > 0 && toks[from].brk != Break::Clause {
        let before = &toks[from - 1];
        // A word opening the clause names the list only when the item follows it ("grocery list
        // mein aata likh do"); before a bare verb it is the item ("gutters list se nikal do").
        let item_follows = toks.get(h + 2).is_some_and(plain);
        let named_by = |k: usize| (k == 0 || toks[k].brk == Break::Clause) && item_follows;
        if before.is(Canon::Mera) {
            from -= 1;
        } else if (before.is(Canon::Wala) || GENITIVE.contains(&before.key.as_str()))
            && from >= 2
            && plain(&toks[from - 2])
        {
            from -= 2;
        } else if plain(before) && named_by(from - 1) {
            from -= 1;
        } else {
            break;
        }
    }
    Some((from, h + 1, canon))
}

/// "team meeting over", "book flights sorted now": the last word says the thing is done.
fn mark_state_at_end(toks: &mut [Tok]) {
    let Some(last) = toks
        .iter()
        .rposition(|t| !(t.is(Canon::Filler) || AFTERWORDS.contains(&t.key.as_str())))
    else {
        return;
    };
    let t = &mut toks[last];
    if last > 0 && plain(t) && matches!(t.key.as_str(), "over" | "sorted" | "handled") {
        t.canon = Some(Canon::Done);
        t.tag = Tag::English;
    }
}
