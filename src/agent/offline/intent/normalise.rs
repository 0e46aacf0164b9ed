//! Text normalisation: one message into the tokens the rest of the parser reads.
//!
//! Quoted text is set aside exactly as typed; the rest is lower-cased and split into words
//! (apostrophes inside words dropped, `#3` and `task3` split), and runs of words that form a
//! known phrase are folded into one token with its canonical meaning. The language of the
//! message is then counted from its tokens' tags.

use super::vocabulary::{phrase_index, word_tag, Canon, Tag};
use super::Language;

/// One normalised word or phrase of the message.
#[derive(Debug, Clone)]
pub(super) struct Tok {
    /// Lower-cased words as the user wrote them (phrases joined by one
    /// space); quoted text exactly as typed, trimmed.
    pub(super) raw: String,
    /// Canonical meaning, `None` for ordinary words and quoted text.
    pub(super) canon: Option<Canon>,
    tag: Tag,
    pub(super) quoted: bool,
}

impl Tok {
    pub(super) fn is(&self, canon: Canon) -> bool {
        !self.quoted && self.canon == Some(canon)
    }
}

pub(super) fn tokenize(text: &str) -> Vec<Tok> {
    let mut words: Vec<(String, bool)> = Vec::new();
    for (segment, quoted) in split_quotes(text) {
        if quoted {
            words.push((segment, true));
        } else {
            push_words(&segment, &mut words);
        }
    }
    canonicalize(&words)
}

fn is_double_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '«' | '»')
}

fn is_single_quote(c: char) -> bool {
    matches!(c, '\'' | '‘' | '’')
}

/// Splits text into plain and quoted segments. A single quote opens only
/// after a non-letter and closes only before a non-letter, so apostrophes in
/// "what's" or "mom's" are not quotes. Runs in linear time.
fn split_quotes(text: &str) -> Vec<(String, bool)> {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let mut next_double = vec![n; n + 1];
    let mut next_single_close = vec![n; n + 1];
    for i in (0..n).rev() {
        next_double[i] = if is_double_quote(chars[i]) {
            i
        } else {
            next_double[i + 1]
        };
        let closes =
            is_single_quote(chars[i]) && !chars.get(i + 1).is_some_and(|c| c.is_alphanumeric());
        next_single_close[i] = if closes { i } else { next_single_close[i + 1] };
    }

    let mut out = Vec::new();
    let mut plain = String::new();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        let close = if is_double_quote(c) {
            Some(next_double[i + 1])
        } else if is_single_quote(c) && (i == 0 || !chars[i - 1].is_alphanumeric()) {
            Some(next_single_close[i + 1])
        } else {
            None
        };
        if let Some(j) = close.filter(|&j| j < n) {
            let inner: String = chars[i + 1..j].iter().collect();
            let inner = inner.trim();
            if inner.chars().any(char::is_alphanumeric) {
                if !plain.is_empty() {
                    out.push((std::mem::take(&mut plain), false));
                }
                out.push((inner.to_string(), true));
                i = j + 1;
                continue;
            }
        }
        plain.push(c);
        i += 1;
    }
    if !plain.is_empty() {
        out.push((plain, false));
    }
    out
}

/// Lower-cases and splits plain text into words. Keeps letters and digits,
/// keeps `-` between digits (ISO dates), drops apostrophes inside words,
/// makes `#` before a digit its own word, and treats everything else as a
/// separator.
fn push_words(text: &str, out: &mut Vec<(String, bool)>) {
    let chars: Vec<char> = text.chars().collect();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<(String, bool)>| {
        if !word.is_empty() {
            split_glued_number(std::mem::take(word), out);
        }
    };
    for (i, &c) in chars.iter().enumerate() {
        let prev = if i > 0 {
            chars.get(i - 1).copied()
        } else {
            None
        };
        let next = chars.get(i + 1).copied();
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if c == '-'
            && prev.is_some_and(|p| p.is_ascii_digit())
            && next.is_some_and(|n| n.is_ascii_digit())
        {
            word.push('-');
        } else if (is_single_quote(c) || c == '`')
            && prev.is_some_and(char::is_alphanumeric)
            && next.is_some_and(char::is_alphanumeric)
        {
            // apostrophe inside a word: "what's" -> "whats"
        } else if c == '#' && next.is_some_and(|n| n.is_ascii_digit()) {
            flush(&mut word, out);
            out.push(("#".to_string(), false));
        } else {
            flush(&mut word, out);
        }
    }
    flush(&mut word, out);
}

/// "task3" -> "task", "3".
fn split_glued_number(word: String, out: &mut Vec<(String, bool)>) {
    for prefix in ["task", "kaam"] {
        if let Some(rest) = word.strip_prefix(prefix) {
            if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
                out.push((prefix.to_string(), false));
                out.push((rest.to_string(), false));
                return;
            }
        }
    }
    out.push((word, false));
}

fn canonicalize(words: &[(String, bool)]) -> Vec<Tok> {
    let index = phrase_index();
    let mut out: Vec<Tok> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let (word, quoted) = &words[i];
        if *quoted {
            out.push(Tok {
                raw: word.clone(),
                canon: None,
                tag: Tag::Neutral,
                quoted: true,
            });
            i += 1;
            continue;
        }
        let hit = index.get(word.as_str()).and_then(|cands| {
            cands.iter().find(|p| {
                p.words.len() <= words.len() - i
                    && p.words
                        .iter()
                        .zip(&words[i..])
                        .all(|(pw, (w, q))| !*q && pw == w)
            })
        });
        match hit {
            Some(p) => {
                let len = p.words.len();
                let raw = words[i..i + len]
                    .iter()
                    .map(|(w, _)| w.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                let tag = if p.tag == Tag::Neutral && len == 1 {
                    word_tag(&raw)
                } else {
                    p.tag
                };
                out.push(Tok {
                    raw,
                    canon: Some(p.canon),
                    tag,
                    quoted: false,
                });
                i += len;
            }
            None => {
                out.push(Tok {
                    raw: word.clone(),
                    canon: None,
                    tag: word_tag(word),
                    quoted: false,
                });
                i += 1;
            }
        }
    }
    // Urdu "is task" / "us wala" mean "this task" / "that one".
    for k in 0..out.len() {
        let demonstrative =
            !out[k].quoted && matches!(out[k].raw.as_str(), "is" | "iss" | "us" | "uss");
        let before_noun = out
            .get(k + 1)
            .is_some_and(|n| n.is(Canon::Task) || n.is(Canon::Wala));
        if demonstrative && before_noun {
            out[k].canon = Some(Canon::Prev);
            out[k].tag = Tag::Urdu;
        }
    }
    out
}

pub(super) fn language_of(toks: &[Tok]) -> Language {
    let (mut urdu, mut english) = (0usize, 0usize);
    for t in toks.iter().filter(|t| !t.quoted) {
        match t.tag {
            Tag::Urdu => urdu += 1,
            Tag::English => english += 1,
            Tag::Neutral => {}
        }
    }
    if urdu > english {
        Language::RomanUrdu
    } else {
        Language::English
    }
}
