//! Text normalisation: one message into the tokens the rest of the parser reads.
//!
//! Quoted text is set aside exactly as typed; the rest is lower-cased and split into words
//! (apostrophes inside words dropped, `#3` and `task3` split), and runs of words that form a
//! known phrase, however they are spelled, are folded into one token with its canonical meaning.
//! Commas and full stops are kept as clause breaks on the word that follows them, since "X, add
//! it" puts the task in one clause and the verb in another. The language of the message is then
//! counted from its tokens' tags.

use super::phrasing;
use super::spelling::key;
use super::vocabulary::{phrase_index, word_tag, Canon, Tag};
use crate::agent::Language;

/// What separates a word from the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Break {
    None,
    /// A comma, semicolon, full stop, `!`, `?` or new line: a new clause starts.
    Clause,
    /// A colon: "add task: pay rent".
    Colon,
}

/// One normalised word or phrase of the message.
#[derive(Debug, Clone)]
pub(in crate::agent) struct Tok {
    /// Lower-cased words as the user wrote them (phrases joined by one
    /// space); quoted text exactly as typed, trimmed.
    pub(super) raw: String,
    /// The spelling key of the word (see `spelling`), or the keys of a phrase's words.
    pub(super) key: String,
    /// Canonical meaning, `None` for ordinary words and quoted text.
    pub(super) canon: Option<Canon>,
    pub(super) tag: Tag,
    pub(super) quoted: bool,
    /// What separates this token from the one before it.
    pub(super) brk: Break,
    /// Which clause of the message the token is in, counting from 0.
    pub(super) clause: usize,
}

impl Tok {
    pub(super) fn is(&self, canon: Canon) -> bool {
        !self.quoted && self.canon == Some(canon)
    }
}

/// One word of the message before phrases are folded.
struct Word {
    text: String,
    quoted: bool,
    brk: Break,
}

pub(in crate::agent) fn tokenize(text: &str) -> Vec<Tok> {
    let mut words: Vec<Word> = Vec::new();
    let mut pending = Break::None;
    for (segment, quoted) in split_quotes(text) {
        if quoted {
            words.push(Word {
                text: segment,
                quoted: true,
                brk: std::mem::replace(&mut pending, Break::None),
            });
        } else {
            push_words(&segment, &mut words, &mut pending);
        }
    }
    let mut toks = canonicalize(&words);
    phrasing::read_word_order(&mut toks);
    let mut clause = 0;
    for t in &mut toks {
        if t.brk == Break::Clause {
            clause += 1;
        }
        t.clause = clause;
    }
    toks
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
/// makes `#` before a digit its own word, notes clause breaks and colons on
/// the word after them, and treats everything else as a separator.
fn push_words(text: &str, out: &mut Vec<Word>, pending: &mut Break) {
    let chars: Vec<char> = text.chars().collect();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<Word>, pending: &mut Break| {
        if !word.is_empty() {
            let brk = std::mem::replace(pending, Break::None);
            split_glued_number(std::mem::take(word), brk, out);
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
            flush(&mut word, out, pending);
            out.push(Word {
                text: "#".to_string(),
                quoted: false,
                brk: std::mem::replace(pending, Break::None),
            });
        } else {
            flush(&mut word, out, pending);
            if matches!(c, ',' | ';' | '.' | '!' | '?' | '\n' | '\u{060C}') {
                *pending = Break::Clause;
            } else if c == ':' && *pending == Break::None {
                *pending = Break::Colon;
            }
        }
    }
    flush(&mut word, out, pending);
}

/// "task3" -> "task", "3".
fn split_glued_number(word: String, brk: Break, out: &mut Vec<Word>) {
    let plain = |text: &str, brk| Word {
        text: text.to_string(),
        quoted: false,
        brk,
    };
    for prefix in ["task", "kaam"] {
        if let Some(rest) = word.strip_prefix(prefix) {
            if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
                out.push(plain(prefix, brk));
                out.push(plain(rest, Break::None));
                return;
            }
        }
    }
    out.push(plain(&word, brk));
}

/// Folds runs of words that form a known phrase into one token. Phrases match on spelling keys,
/// longest first, and never across a clause break or a quote.
fn canonicalize(words: &[Word]) -> Vec<Tok> {
    let index = phrase_index();
    let keys: Vec<String> = words.iter().map(|w| key(&w.text)).collect();
    let mut out: Vec<Tok> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        if word.quoted {
            out.push(Tok {
                raw: word.text.clone(),
                key: word.text.clone(),
                canon: None,
                tag: Tag::Neutral,
                quoted: true,
                brk: word.brk,
                clause: 0,
            });
            i += 1;
            continue;
        }
        let hit = index.get(&keys[i]).and_then(|cands| {
            cands.iter().find(|p| {
                p.words.len() <= words.len() - i
                    && p.words.iter().enumerate().all(|(j, pw)| {
                        let w = &words[i + j];
                        !w.quoted && (j == 0 || w.brk == Break::None) && *pw == keys[i + j]
                    })
            })
        });
        let (len, canon, tag) = match hit {
            Some(p) => {
                let len = p.words.len();
                let tag = if p.tag == Tag::Neutral && len == 1 {
                    word_tag(&keys[i])
                } else {
                    p.tag
                };
                (len, Some(p.canon), tag)
            }
            None => (1, None, word_tag(&keys[i])),
        };
        let join = |parts: Vec<&str>| parts.join(" ");
        out.push(Tok {
            raw: join(words[i..i + len].iter().map(|w| w.text.as_str()).collect()),
            key: join(keys[i..i + len].iter().map(String::as_str).collect()),
            canon,
            tag,
            quoted: false,
            brk: word.brk,
            clause: 0,
        });
        i += len;
    }
    out
}

pub(in crate::agent) fn language_of(toks: &[Tok]) -> Language {
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
