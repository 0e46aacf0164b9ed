//! The parser's vocabulary: what each known word and phrase means, and which language it marks.
//!
//! The phrases themselves are classes in two lexicons: `lexicon` (English and shared words) and
//! `urdu` (Roman Urdu stems and the endings a request puts on them). Here they are gathered into
//! one index, under their spelling keys ([`key`]), so a message matches a phrase however it was
//! spelled. Single marker words that no phrase claims tag a word as Urdu or English; filler
//! words are what a title or a task reference is trimmed of.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use super::spelling::{expand, key};
use super::{lexicon, urdu};

/// Canonical meaning of a word or phrase after spelling variants are folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Canon {
    /// "kar do", "karo", "rakh do": generic Urdu "do it" suffix.
    Kardo,
    List,
    Delete,
    Add,
    Remind,
    Done,
    Update,
    Rename,
    Move,
    /// "set", "make", "mark": verbs that only mean something with a field.
    Weak,
    /// "put", "stick", "take": add to a list or take off it, said with the list ([`Canon::Dest`]).
    Place,
    /// "naam", "name", "title".
    Naam,
    /// "priority".
    Prio,
    /// "date", "due date", "deadline", "tareekh".
    DateWord,
    Task,
    Pending,
    All,
    Question,
    /// "kya karna hai": a question that asks for the list.
    Agenda,
    Greet,
    Help,
    HowTo,
    Prev,
    /// "#", "number", "no".
    NumMark,
    Wala,
    Mera,
    Ka,
    /// "for me", "ke baare mein": words of a request that are never part of a title.
    Filler,
    /// A list something goes onto: "on my shopping list", "list mein", "on my plate".
    Dest,
    /// A list something comes off: "off my list", "list se".
    DestOut,
}

/// Which language a word or phrase points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    Urdu,
    English,
    Neutral,
}

/// Single words that mark Roman Urdu when no phrase claimed them.
const URDU_WORDS: &str = "hai hain hay hy kya kia se mein mujhe mujhay mjhe aur nahi nahin \
    tak liye jana jaana lena laina dena karna krna karni karne kar kr par pe ek aik din dino \
    dinon baad agle agla aglay hafte haftay hafta jo bhi abhi ab zara bhai yaar jee ji apna apni \
    apne naya nayi lene dene jane aaj aj kal kl parson parso peer pir mangal budh jumeraat juma \
    jumma itwaar itwar zaroori zaruri zuroori bohat bahut kam raat subah shaam paas ghar wapas \
    wapis kuch koi sirf bas tha thi hoon ho raha rahe rahi gayi gaye diya liya chahiye lo ahem \
    aham tum aap ap acha theek shukriya lana lani lane leni deni jani bharna bharni karwana \
    karwani karwane bhejna bhejni dhona mat baje yaad sath saath phir";

/// Single words that mark English when no phrase claimed them.
const ENGLISH_WORDS: &str = "the a an my our your to of and or is are was were what whats \
    which me i for on in with as please tomorrow today tonight can could would you \
    new due next by from have has want need called named about week days day monday tuesday \
    wednesday thursday friday saturday sunday urgent important not get give tell how does be \
    will just also now then there one ones some any at after before until till buy call pay \
    thanks anymore off down let dont";

/// Words dropped from the edges of titles and task references.
const EDGE_FILLERS: &str = "a an the my our your his her their to please plz pls kindly i im \
    me you u can could would will just also now then for of as is are was were be been has \
    have had so and or called named titled about with in on at into we list ek aik hai hain \
    hay hy tha thi thay liye lie jo zara bhai yaar yar jee ji mujhe mujhay mjhe main mein me mai \
    maine mene ne kar kr lo ab abhi bhi aur se one ones ok okay thanks thank shukriya acha achha \
    accha theek thik sirf bas due actually basically anymore already yet finally gotta need \
    needs must should want wanna like id got lets";

/// Words allowed next to a greeting without making it more than a greeting.
const GREET_FILLERS: &str = "there bot bhai jee ji dost friend yaar yar assistant everyone \
    again sir madam alaikum o u aap ap tum all";

/// One phrase of the lexicons: the spelling keys of its words.
pub(super) struct Phrase {
    pub(super) words: Vec<String>,
    pub(super) canon: Canon,
    pub(super) tag: Tag,
}

/// Every phrase of both lexicons, indexed by the key of its first word, longest first.
pub(super) fn phrase_index() -> &'static HashMap<String, Vec<Phrase>> {
    static INDEX: OnceLock<HashMap<String, Vec<Phrase>>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut all: Vec<(Canon, Tag, Vec<String>)> = Vec::new();
        for &(canon, tag, patterns) in lexicon::ROWS {
            for words in patterns.split('|').flat_map(expand) {
                all.push((canon, tag, words.iter().map(|w| w.to_string()).collect()));
            }
        }
        all.extend(urdu::rows());
        let mut map: HashMap<String, Vec<Phrase>> = HashMap::new();
        for (canon, tag, words) in all {
            let words: Vec<String> = words.iter().map(|w| key(w)).collect();
            if let Some(first) = words.first() {
                map.entry(first.clone())
                    .or_default()
                    .push(Phrase { words, canon, tag });
            }
        }
        for list in map.values_mut() {
            // Longest first; among equals the first row listed wins.
            list.sort_by_key(|p| Reverse(p.words.len()));
        }
        map
    })
}

fn word_set(
    cell: &'static OnceLock<HashSet<String>>,
    src: &'static str,
) -> &'static HashSet<String> {
    cell.get_or_init(|| src.split_whitespace().map(key).collect())
}

fn urdu_words() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    word_set(&SET, URDU_WORDS)
}

fn english_words() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    word_set(&SET, ENGLISH_WORDS)
}

pub(super) fn edge_fillers() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    word_set(&SET, EDGE_FILLERS)
}

pub(super) fn greet_fillers() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    word_set(&SET, GREET_FILLERS)
}

/// Which language a single word (by its spelling key) points to, by the marker word lists.
pub(super) fn word_tag(word_key: &str) -> Tag {
    if urdu_words().contains(word_key) {
        Tag::Urdu
    } else if english_words().contains(word_key) {
        Tag::English
    } else {
        Tag::Neutral
    }
}
