//! Offline intent parser for the task assistant.
//!
//! Owns turning one user message, written in English or Roman Urdu (Urdu in
//! Latin letters), into a structured [`Intent`] plus the [`Language`] it was
//! written in, so the assistant can act and answer without a language model.
//!
//! The parser works in stages: quoted text is set aside, the rest is
//! lower-cased and stripped of punctuation, spelling variants and multi-word
//! phrases are folded into canonical words, the main verb picks the intent
//! (first verb for English, last verb for Roman Urdu, which is verb-final),
//! and dates, priorities, task references and titles are read from the
//! remaining words.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use chrono::{Datelike, Days, NaiveDate, Weekday};

use crate::model::{Priority, TaskFilter};

/// The language a message is written in, and the language to answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    English,
    RomanUrdu,
}

impl Language {
    /// Stable short code: `"en"` or `"roman-urdu"`.
    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::RomanUrdu => "roman-urdu",
        }
    }

    /// Reads a language tag from metadata. Accepts (case-insensitive, `_` or
    /// `-`) `en`, `english`, `en-*`, `ur`, `urdu`, `roman-urdu`, `ur-latn` and
    /// similar; returns `None` for anything else.
    pub fn from_tag(tag: &str) -> Option<Language> {
        let tag = tag.trim().to_ascii_lowercase().replace(['_', ' '], "-");
        match tag.as_str() {
            "en" | "eng" | "english" => Some(Language::English),
            "ur" | "urd" | "urdu" | "roman-urdu" | "romanurdu" | "ur-latn" | "urdu-latn"
            | "ur-roman" | "roman" => Some(Language::RomanUrdu),
            t if t.starts_with("en-") => Some(Language::English),
            _ => None,
        }
    }
}

/// Which task a message is talking about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskRef {
    /// The task's number as shown to the user ("task 3", "#3", "teesra task").
    Number(i64),
    /// Words that should match the task's title ("the meeting task" → `meeting`).
    Title(String),
    /// "it", "that one", "isko", "ise", "usay", "woh wala": the task mentioned
    /// last in the conversation.
    Previous,
}

/// What the user wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Create a task. `title` is never empty.
    Add {
        title: String,
        priority: Option<Priority>,
        due_date: Option<NaiveDate>,
    },
    /// Show tasks, optionally only pending or only completed ones.
    List { filter: TaskFilter },
    /// Mark a task as done.
    Complete { task: TaskRef },
    /// Remove a task.
    Delete { task: TaskRef },
    /// Change a task; each `Some` field is a new value, `None` means unchanged.
    /// All fields may be `None` ("update task 3"): the caller should ask what to change.
    Update {
        task: TaskRef,
        title: Option<String>,
        priority: Option<Priority>,
        due_date: Option<NaiveDate>,
    },
    /// A greeting with nothing else in it.
    Greeting,
    /// A request for help or for what the assistant can do.
    Help,
    /// An intent word without the thing it needs, e.g. "add a task" with no
    /// title, "delete" with no task.
    Incomplete { action: Action },
    /// Nothing the parser understood.
    Unknown,
}

/// The task actions that need extra information from the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Add,
    Complete,
    Delete,
    Update,
}

/// Result of [`parse`]: the intent and the language of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub intent: Intent,
    pub language: Language,
}

/// Parses one user message. `today` anchors relative dates ("kal",
/// "next friday", "in 3 days"). Never panics, on any input (empty, emoji,
/// very long text, mixed scripts).
pub fn parse(text: &str, today: NaiveDate) -> Parsed {
    let toks = tokenize(text);
    let language = language_of(&toks);
    let intent = classify(&toks, today, language);
    Parsed { intent, language }
}

/// Language of a message by its words: Roman Urdu when Urdu marker words
/// (kar do, mera, hai, ka, ko, wala, kal, dikhao, hata, bana, ho gaya,
/// zaroori, …) outnumber English marker words; English otherwise, including
/// when there are no markers at all. Quoted text is not counted.
pub fn detect_language(text: &str) -> Language {
    language_of(&tokenize(text))
}

// ---------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------

/// Canonical meaning of a word or phrase after spelling variants are folded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Canon {
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
    Greet,
    Help,
    HowTo,
    Prev,
    /// "#", "number", "no".
    NumMark,
    Wala,
    Mera,
    Ka,
}

/// Which language a word or phrase points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Urdu,
    English,
    Neutral,
}

/// Phrase table: every `|`-separated phrase (words separated by spaces) in a
/// row folds into that row's canonical meaning. Longest match wins.
const PHRASES: &[(Canon, Tag, &str)] = &[
    (
        Canon::Kardo,
        Tag::Urdu,
        "kar do|kardo|kr do|krdo|kar dein|kardein|kar den|karden|kar dain|kr dein|kr den|\
         kar dijiye|kar dijie|kar dejiye|kardijiye|kar dena|kr dena|kar de|karde|kr de|karo|kro|\
         kijiye|kijie|karein|karen|krein|kar dou|kar lo|karlo|kr lo|rakh do|rakhdo|rakh dein|\
         rakh den|rakho",
    ),
    (
        Canon::List,
        Tag::Urdu,
        "dikhao|dikhaao|dikha do|dikhaa do|dikhado|dikha dein|dikha den|dikha dijiye|dikhaiye|\
         dikhayen|dikhaen|dikhaye|dikha|dkhao|batao|bataao|bata do|btao|bta do|batado|\
         bata dein|bata den|bata dijiye|bataiye|batayen|bataen|bata|sunao",
    ),
    (
        Canon::List,
        Tag::English,
        "show|show me|list|display|view|see",
    ),
    (Canon::Delete, Tag::Neutral, "delete|del|remove|cancel"),
    (
        Canon::Delete,
        Tag::English,
        "erase|discard|drop|trash|get rid of|deleted|removed",
    ),
    (
        Canon::Delete,
        Tag::Urdu,
        "hata do|hatado|hata dein|hata den|hata dijiye|hatao|hataao|hata|hta do|htado|hta|\
         mita do|mitado|mita dein|mita den|mita dijiye|mitao|mita|khatam kar do|khatam kardo|\
         khatam krdo|khatam karo|khatam kar dein|khatm kar do|khatm kardo|nikal do|nikaal do|\
         nikalo|nikal dein",
    ),
    (Canon::Add, Tag::Neutral, "add|new task|note"),
    (
        Canon::Add,
        Tag::English,
        "create|insert|make a task|make a new task|make task|new todo|jot down|put down",
    ),
    (
        Canon::Add,
        Tag::Urdu,
        "bana do|banado|bana dein|bana den|bana dijiye|banao|banaao|bana|banaa do|daal do|\
         dal do|daldo|daal dein|daal den|daalo|dalo|daal|likh lo|likhlo|likh lein|likh do|\
         likhdo|likho|shamil kar do|shaamil kar do|shamil karo|jor do|jod do|naya task|\
         nayi task|naya kaam|note kar lo|note karlo",
    ),
    (
        Canon::Remind,
        Tag::English,
        "remind|reminder|remember to|dont forget to|do not forget to|set a reminder|\
         set reminder|set a reminder to",
    ),
    (
        Canon::Remind,
        Tag::Urdu,
        "yaad dila do|yaad dilado|yaad dilana|yaad dila|yaad dilao|yaad dilaana|yaad dila dena|\
         yaad dila dein|yad dila do|yad dilana|yaad karwa do|yaad karwana|yaad rakhna|\
         yaad dilaiye",
    ),
    (
        Canon::Done,
        Tag::Neutral,
        "done|complete|completed|finish|finished",
    ),
    (
        Canon::Done,
        Tag::English,
        "completes|finishes|accomplished|did|tick off|ticked off|check off|checked off|\
         cross off|crossed off",
    ),
    (
        Canon::Done,
        Tag::Urdu,
        "ho gaya|ho gya|hogaya|hogya|ho gayi|ho gai|ho gyi|hogayi|ho gaye|ho gye|ho gae|\
         ho chuka|ho chuki|ho chuke|ho chukay|kar liya|kar lia|kr liya|kr lia|karliya|karlia|\
         kar li|kr li|kar diya|kar dia|kr diya|kr dia|kardiya|kardia|kar chuka|kar chuki|\
         kar chuke|mukammal|mukamal|mukmal|muqammal|mukammil|khatam ho gaya|khatam ho gya|\
         khatam hogaya|khatam|khatm|poora|pura",
    ),
    (Canon::Update, Tag::Neutral, "update|change|edit"),
    (Canon::Update, Tag::English, "modify|alter|updated|changed"),
    (
        Canon::Update,
        Tag::Urdu,
        "badal do|badaldo|badal dein|badal den|badal dijiye|badlo|badal|badal kar|badal ke|\
         tabdeel|tabdil|tabdeeli|tabdili",
    ),
    (Canon::Rename, Tag::English, "rename|retitle"),
    (Canon::Move, Tag::Neutral, "move|shift"),
    (
        Canon::Move,
        Tag::English,
        "reschedule|postpone|push|delay|prepone|push back",
    ),
    (Canon::Weak, Tag::English, "set|make|mark|put"),
    (Canon::Naam, Tag::Urdu, "naam|nam|unwan"),
    (Canon::Naam, Tag::English, "name|title|heading"),
    (Canon::Prio, Tag::Neutral, "priority|prio"),
    (Canon::Prio, Tag::Urdu, "tarjeeh|ahmiyat"),
    (Canon::DateWord, Tag::English, "due date|deadline|date"),
    (Canon::DateWord, Tag::Urdu, "tareekh|tarikh|tarekh"),
    (Canon::Task, Tag::Neutral, "task|tasks"),
    (
        Canon::Task,
        Tag::English,
        "todo|todos|to do list|todo list|items|item|reminders|chores|have to do|need to do",
    ),
    (Canon::Task, Tag::Urdu, "kaam|kaamon|kamon"),
    (
        Canon::Pending,
        Tag::English,
        "pending|remaining|open|incomplete|unfinished|undone|outstanding|not done|\
         not completed|not finished|left",
    ),
    (
        Canon::Pending,
        Tag::Urdu,
        "baqi|baaqi|baki|baaki|baqee|reh gaye|reh gae|rehte|adhoore|adhure|adhoora|adhura|\
         nahi hue|nahi huay|nahin hue|nahi hua|nahi kiye|nahi huye",
    ),
    (Canon::All, Tag::English, "all|every|everything"),
    (
        Canon::All,
        Tag::Urdu,
        "sab|saare|sare|saray|saaray|tamam|tamaam|sab ke sab",
    ),
    (Canon::Question, Tag::English, "what|whats|which|how many"),
    (
        Canon::Question,
        Tag::Urdu,
        "kaun|kon|kaunse|konse|kaun se|kon se|konsa|kaunsa|konsi|kaunsi|kya|kia|kitne|kitnay",
    ),
    (
        Canon::Greet,
        Tag::English,
        "hi|hello|hey|hiya|heya|yo|howdy|hola|greetings|good morning|good evening|\
         good afternoon|hi there|hello there|hey there|how are you|how r u|whats up|sup",
    ),
    (
        Canon::Greet,
        Tag::Urdu,
        "salam|salaam|slam|assalam|asalam|assalamualaikum|asalamualaikum|assalamu alaikum|\
         assalam o alaikum|asalam o alaikum|assalam u alaikum|assalam alaikum|salam alaikum|\
         aoa|adaab|aadab|walaikum salam|wa alaikum salam|kya haal hai|kia haal hai|kya hal hai|\
         kaise ho|kese ho|kaisay ho|kaisi ho|kesi ho",
    ),
    (
        Canon::Help,
        Tag::English,
        "help|help me|what can you do|what can u do|what do you do|what else can you do|\
         what are you|commands|command list|how does this work|how does it work|guide|\
         options|features|menu|instructions|usage|capabilities",
    ),
    (
        Canon::Help,
        Tag::Urdu,
        "madad|madad karo|madad kar do|madad chahiye|help chahiye|kya kar sakte ho|\
         kia kar sakte ho|kya kar sakti ho|kya kar sakte hain|kya kya kar sakte ho|\
         kya kya kar sakte hain|tum kya kar sakte ho|aap kya kar sakte hain|\
         ap kya kar sakte hain|rahnumai|rehnumai",
    ),
    (
        Canon::HowTo,
        Tag::English,
        "how do i|how can i|how to|how do you|how should i",
    ),
    (Canon::HowTo, Tag::Urdu, "kaise|kese|kaisay|kis tarah"),
    (
        Canon::Prev,
        Tag::English,
        "it|this|that|this one|that one|the last one|last one|the previous one|previous one|\
         the same one|same one",
    ),
    (
        Canon::Prev,
        Tag::Urdu,
        "isko|isku|ise|isey|isay|isy|usko|usku|usay|usey|usy|woh|wo|voh|vo|yeh|ye|yahi|yehi|\
         wohi|wahi",
    ),
    (Canon::NumMark, Tag::Neutral, "#|number|num|no|nr|nmbr"),
    (Canon::NumMark, Tag::Urdu, "nambar|numbar"),
    (
        Canon::Wala,
        Tag::Urdu,
        "wala|wali|wale|walay|waala|waali|waale|waly|vala|vali|vale",
    ),
    (
        Canon::Mera,
        Tag::Urdu,
        "mera|meri|mere|mra|mri|mre|mery|hamara|hamari|hamare",
    ),
    (Canon::Ka, Tag::Urdu, "ka|ki|ke|kay|ko|kaa|kii"),
];

/// Single words that mark Roman Urdu when no phrase claimed them.
const URDU_WORDS: &str = "hai hain hay hy kya kia se mein mujhe mujhay mjhe aur nahi nahin \
    tak liye jana jaana lena laina dena karna krna karni karne kar kr par pe ek aik din dino \
    dinon baad agle agla aglay hafte haftay hafta jo bhi abhi ab zara bhai yaar jee ji apna apni \
    apne naya nayi lene dene jane aaj aj kal kl parson parso peer pir mangal budh jumeraat juma \
    jumma itwaar itwar zaroori zaruri zuroori bohat bahut kam raat subah shaam paas ghar wapas \
    wapis kuch koi sirf bas tha thi hoon ho raha rahe rahi gayi gaye diya liya chahiye lo ahem \
    aham tum aap ap acha theek shukriya";

/// Single words that mark English when no phrase claimed them.
const ENGLISH_WORDS: &str = "the a an my our your to of and or is are was were what whats \
    which me i for on in with as please tomorrow today tonight can could would you \
    new due next by from have has want need called named about week days day monday tuesday \
    wednesday thursday friday saturday sunday urgent important not get give tell how does be \
    will just also now then there one ones some any at after before until till buy call pay \
    thanks";

/// Words dropped from the edges of titles and task references.
const EDGE_FILLERS: &str = "a an the my our your his her their to please plz pls kindly i im \
    me you u can could would will just also now then for of as is are was were be been has \
    have had so and or called named titled about with in on at into new list ek aik hai hain \
    hay hy tha thi thay liye lie jo zara bhai yaar yar jee ji naya nayi naye mujhe mujhay mjhe \
    main mein me mai maine mene ne kar kr lo ab abhi bhi aur se one ones ok okay thanks thank \
    shukriya acha achha accha theek thik sirf bas due";

/// Words allowed next to a greeting without making it more than a greeting.
const GREET_FILLERS: &str = "there bot bhai jee ji dost friend yaar yar assistant everyone \
    again sir madam alaikum o u aap ap tum all";

struct Phrase {
    words: Vec<&'static str>,
    canon: Canon,
    tag: Tag,
}

fn phrase_index() -> &'static HashMap<&'static str, Vec<Phrase>> {
    static INDEX: OnceLock<HashMap<&'static str, Vec<Phrase>>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut map: HashMap<&'static str, Vec<Phrase>> = HashMap::new();
        for &(canon, tag, list) in PHRASES {
            for phrase in list.split('|') {
                let words: Vec<&'static str> = phrase.split_whitespace().collect();
                if let Some(&first) = words.first() {
                    map.entry(first)
                        .or_default()
                        .push(Phrase { words, canon, tag });
                }
            }
        }
        for list in map.values_mut() {
            list.sort_by_key(|p| Reverse(p.words.len()));
        }
        map
    })
}

fn word_set(
    cell: &'static OnceLock<HashSet<&'static str>>,
    src: &'static str,
) -> &'static HashSet<&'static str> {
    cell.get_or_init(|| src.split_whitespace().collect())
}

fn urdu_words() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    word_set(&SET, URDU_WORDS)
}

fn english_words() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    word_set(&SET, ENGLISH_WORDS)
}

fn edge_fillers() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    word_set(&SET, EDGE_FILLERS)
}

fn greet_fillers() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    word_set(&SET, GREET_FILLERS)
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

/// One normalised word or phrase of the message.
#[derive(Debug, Clone)]
struct Tok {
    /// Lower-cased words as the user wrote them (phrases joined by one
    /// space); quoted text exactly as typed, trimmed.
    raw: String,
    /// Canonical meaning, `None` for ordinary words and quoted text.
    canon: Option<Canon>,
    tag: Tag,
    quoted: bool,
}

impl Tok {
    fn is(&self, canon: Canon) -> bool {
        !self.quoted && self.canon == Some(canon)
    }
}

fn tokenize(text: &str) -> Vec<Tok> {
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

fn word_tag(word: &str) -> Tag {
    if urdu_words().contains(word) {
        Tag::Urdu
    } else if english_words().contains(word) {
        Tag::English
    } else {
        Tag::Neutral
    }
}

fn language_of(toks: &[Tok]) -> Language {
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

// ---------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Add,
    Delete,
    Done,
    Update,
    List,
}

fn classify(toks: &[Tok], today: NaiveDate, lang: Language) -> Intent {
    if toks.is_empty() {
        return Intent::Unknown;
    }
    let has = |c: Canon| toks.iter().any(|t| t.is(c));
    if toks
        .iter()
        .find(|t| !is_filler(t))
        .is_some_and(|t| t.is(Canon::HowTo))
    {
        return Intent::Help;
    }

    // "done" next to a list verb or a question ("show done tasks", "kaun se
    // kaam ho chuke") describes tasks instead of completing one.
    let has_number = toks.iter().any(|t| int_of(t).is_some());
    let done_is_filter = has(Canon::List) || (has(Canon::Question) && !has_number);
    let mut verbs: Vec<(usize, Verb)> = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        if t.quoted {
            continue;
        }
        let verb = match t.canon {
            Some(Canon::Add | Canon::Remind) => Verb::Add,
            Some(Canon::Delete) => Verb::Delete,
            Some(Canon::Done) => {
                if done_is_filter || plural_task_follows(toks, k) {
                    continue;
                }
                Verb::Done
            }
            Some(Canon::Update | Canon::Rename | Canon::Move) => Verb::Update,
            Some(Canon::List) => Verb::List,
            _ => continue,
        };
        verbs.push((k, verb));
    }
    let chosen = match lang {
        Language::English => verbs.first(),
        Language::RomanUrdu => verbs.last(),
    };
    match chosen.copied() {
        Some((_, Verb::Add)) => parse_add(toks, today, lang),
        Some((_, Verb::Delete)) => parse_target(toks, Canon::Delete, Action::Delete),
        Some((_, Verb::Done)) => parse_target(toks, Canon::Done, Action::Complete),
        Some((k, Verb::Update)) => parse_update(toks, k, today, lang),
        Some((_, Verb::List)) => Intent::List {
            filter: list_filter(toks),
        },
        None => classify_without_verb(toks, today, lang),
    }
}

fn plural_task_follows(toks: &[Tok], k: usize) -> bool {
    toks.get(k + 1).is_some_and(|t| {
        t.is(Canon::Task)
            && matches!(
                t.raw.as_str(),
                "tasks" | "todos" | "items" | "reminders" | "chores" | "kaamon" | "kamon"
            )
    })
}

fn classify_without_verb(toks: &[Tok], today: NaiveDate, lang: Language) -> Intent {
    let has = |c: Canon| toks.iter().any(|t| t.is(c));
    if has(Canon::Help) {
        return Intent::Help;
    }
    let greet_only = toks
        .iter()
        .all(|t| t.is(Canon::Greet) || (!t.quoted && greet_fillers().contains(t.raw.as_str())));
    if greet_only && has(Canon::Greet) {
        return Intent::Greeting;
    }

    // "task 1 ki priority high kar do", "mark task 3 as urgent".
    if let Some(k) = toks.iter().position(|t| {
        t.is(Canon::Kardo)
            || t.is(Canon::Weak)
            || t.is(Canon::Naam)
            || t.is(Canon::Prio)
            || t.is(Canon::DateWord)
    }) {
        let intent = parse_update(toks, k, today, lang);
        if let Intent::Update {
            title,
            priority,
            due_date,
            ..
        } = &intent
        {
            if title.is_some() || priority.is_some() || due_date.is_some() {
                return intent;
            }
        }
    }

    let plural_tasks = toks.iter().any(|t| {
        t.is(Canon::Task)
            && matches!(
                t.raw.as_str(),
                "tasks" | "todos" | "items" | "reminders" | "chores" | "kaamon" | "kamon"
            )
    });
    let only_list_words = toks.iter().all(|t| {
        is_filler(t)
            || t.is(Canon::Question)
            || t.is(Canon::All)
            || t.is(Canon::Pending)
            || t.is(Canon::Done)
    });
    if has(Canon::Pending)
        || has(Canon::Done)
        || plural_tasks
        || (has(Canon::Task) && (only_list_words || has(Canon::Question)))
    {
        return Intent::List {
            filter: list_filter(toks),
        };
    }
    if has(Canon::Greet) {
        return Intent::Greeting;
    }
    Intent::Unknown
}

fn list_filter(toks: &[Tok]) -> TaskFilter {
    let pending = toks.iter().any(|t| t.is(Canon::Pending));
    let done = toks.iter().any(|t| t.is(Canon::Done));
    match (pending, done) {
        (true, false) => TaskFilter::Pending,
        (false, true) => TaskFilter::Completed,
        _ => TaskFilter::All,
    }
}

// ---------------------------------------------------------------------------
// Intent builders
// ---------------------------------------------------------------------------

fn parse_add(toks: &[Tok], today: NaiveDate, lang: Language) -> Intent {
    let mut used: Vec<bool> = toks
        .iter()
        .map(|t| t.is(Canon::Add) || t.is(Canon::Remind) || t.is(Canon::Kardo))
        .collect();
    let due_date = scan_due(toks, &mut used, today, lang);
    let priority = scan_priority(toks, &mut used, false);
    let mut rest: Vec<&Tok> = unused(toks, &used, 0, toks.len());
    drop_list_destination(&mut rest);

    if let Some(q) = rest.iter().find(|t| t.quoted) {
        return Intent::Add {
            title: q.raw.clone(),
            priority,
            due_date,
        };
    }
    let core = strip_edges(&rest);
    if core.is_empty() {
        return Intent::Incomplete {
            action: Action::Add,
        };
    }
    // "task 3 ko zaroori bana do": making an existing task something.
    if let Some(task) = pure_ref(core) {
        if priority.is_some() || due_date.is_some() {
            return Intent::Update {
                task,
                title: None,
                priority,
                due_date,
            };
        }
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

/// "milk to my shopping list" -> "milk": drops a trailing "to/in … list".
fn drop_list_destination(rest: &mut Vec<&Tok>) {
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

fn parse_target(toks: &[Tok], verb: Canon, action: Action) -> Intent {
    let span: Vec<&Tok> = toks
        .iter()
        .filter(|t| !(t.is(verb) || t.is(Canon::Kardo) || t.is(Canon::Weak)))
        .collect();
    match (resolve_ref(&span), action) {
        (Some(task), Action::Complete) => Intent::Complete { task },
        (Some(task), _) => Intent::Delete { task },
        (None, action) => Intent::Incomplete { action },
    }
}

fn parse_update(toks: &[Tok], verb_idx: usize, today: NaiveDate, lang: Language) -> Intent {
    let n = toks.len();
    let mut used: Vec<bool> = toks
        .iter()
        .map(|t| {
            t.is(Canon::Update)
                || t.is(Canon::Rename)
                || t.is(Canon::Move)
                || t.is(Canon::Weak)
                || t.is(Canon::Kardo)
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

fn join(toks: &[&Tok]) -> String {
    toks.iter()
        .map(|t| t.raw.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------
// Task references
// ---------------------------------------------------------------------------

fn is_filler(t: &Tok) -> bool {
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

fn strip_edges<'s, 't>(mut span: &'s [&'t Tok]) -> &'s [&'t Tok] {
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

fn int_of(t: &Tok) -> Option<i64> {
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
fn pure_ref(core: &[&Tok]) -> Option<TaskRef> {
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
fn resolve_ref(span: &[&Tok]) -> Option<TaskRef> {
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

// ---------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------

const TODAY_WORDS: &[&str] = &["today", "aaj", "aj", "tonight", "tday", "2day"];
const TOMORROW_WORDS: &[&str] = &[
    "tomorrow",
    "tmrw",
    "tmr",
    "tmrow",
    "tomorow",
    "tommorow",
    "tommorrow",
    "tomarrow",
    "kal",
    "kl",
    "kall",
];
const PARSON_WORDS: &[&str] = &["parson", "parso", "parsoon", "parsun", "parsoun", "parsu"];
const NEXT_WORDS: &[&str] = &[
    "next", "agle", "agla", "agli", "aglay", "agley", "agly", "coming", "upcoming",
];
const WEEK_WORDS: &[&str] = &["week", "hafte", "haftay", "hafta", "haftey", "hafty"];
const WEEKDAY_MODIFIERS: &[&str] = &[
    "next", "agle", "agla", "aglay", "agley", "agly", "this", "coming", "upcoming", "is", "iss",
];
const DATE_BEFORE: &[&str] = &["on", "by", "due", "before", "for", "till", "until"];
const DATE_AFTER: &[&str] = &[
    "ko",
    "tak",
    "tk",
    "takk",
    "pe",
    "par",
    "morning",
    "evening",
    "night",
    "afternoon",
    "subah",
    "subha",
    "shaam",
    "sham",
    "raat",
    "dopahar",
    "dopehar",
];

/// The word at `k` if it can take part in a date phrase, else "".
fn date_word<'a>(toks: &'a [Tok], used: &[bool], k: usize) -> &'a str {
    match toks.get(k) {
        Some(t) if !t.quoted && !used.get(k).copied().unwrap_or(true) => &t.raw,
        _ => "",
    }
}

/// Finds every date phrase, marks its words used, and returns the last date.
fn scan_due(
    toks: &[Tok],
    used: &mut [bool],
    today: NaiveDate,
    lang: Language,
) -> Option<NaiveDate> {
    let mut found = None;
    let mut i = 0;
    while i < toks.len() {
        let Some((date, len)) = date_core(toks, used, i, today, lang) else {
            i += 1;
            continue;
        };
        let mut start = i;
        while start > 0 && i - start < 2 && DATE_BEFORE.contains(&date_word(toks, used, start - 1))
        {
            start -= 1;
        }
        let mut end = i + len;
        loop {
            let w = date_word(toks, used, end);
            if DATE_AFTER.contains(&w) {
                end += 1;
            } else if w == "se"
                && matches!(
                    date_word(toks, used, end + 1),
                    "pehle" | "pahle" | "phle" | "pehlay"
                )
            {
                end += 2;
            } else {
                break;
            }
        }
        for u in used.iter_mut().take(end).skip(start) {
            *u = true;
        }
        found = Some(date);
        i = end;
    }
    found
}

fn date_core(
    toks: &[Tok],
    used: &[bool],
    i: usize,
    today: NaiveDate,
    lang: Language,
) -> Option<(NaiveDate, usize)> {
    let w = |k: usize| date_word(toks, used, k);
    let w0 = w(i);
    if w0.is_empty() {
        return None;
    }
    if let Some(d) = iso_date(w0) {
        return Some((d, 1));
    }

    // "in 3 days", "3 din baad", "do hafte mein", "after 2 weeks"
    let prefixed = matches!(w0, "in" | "after" | "within");
    let ni = if prefixed { i + 1 } else { i };
    if let (Some(count), Some(unit)) = (count_word(w(ni)), unit_days(w(ni + 1))) {
        let mut end = ni + 2;
        let mut suffixed = false;
        if matches!(w(end), "ke" | "kay" | "k") && matches!(w(end + 1), "baad" | "bad") {
            end += 2;
            suffixed = true;
        } else if matches!(
            w(end),
            "baad" | "bad" | "later" | "mein" | "me" | "main" | "mai"
        ) {
            end += 1;
            suffixed = true;
            if matches!(w(end), "mein" | "me") {
                end += 1;
            }
        } else if w(end) == "from" && w(end + 1) == "now" {
            end += 2;
            suffixed = true;
        }
        if prefixed || suffixed {
            let d = add_days(today, count.saturating_mul(unit))?;
            return Some((d, end - i));
        }
    }

    if w0 == "day" && w(i + 1) == "after" && TOMORROW_WORDS.contains(&w(i + 2)) {
        return Some((add_days(today, 2)?, 3));
    }
    if TODAY_WORDS.contains(&w0) {
        return Some((today, 1));
    }
    if TOMORROW_WORDS.contains(&w0) {
        return Some((add_days(today, 1)?, 1));
    }
    if PARSON_WORDS.contains(&w0) {
        return Some((add_days(today, 2)?, 1));
    }
    if NEXT_WORDS.contains(&w0) && WEEK_WORDS.contains(&w(i + 1)) {
        return Some((add_days(today, 7)?, 2));
    }

    let modified = WEEKDAY_MODIFIERS.contains(&w0);
    let wi = if modified { i + 1 } else { i };
    if let Some((day, ambiguous)) = weekday(w(wi)) {
        let context = modified
            || lang == Language::RomanUrdu
            || (i > 0 && DATE_BEFORE.contains(&w(i - 1)))
            || DATE_AFTER.contains(&w(wi + 1));
        if !ambiguous || context {
            return Some((next_weekday(today, day)?, wi + 1 - i));
        }
    }
    None
}

fn add_days(today: NaiveDate, days: u64) -> Option<NaiveDate> {
    today.checked_add_days(Days::new(days))
}

/// The next `day` strictly after `today`.
fn next_weekday(today: NaiveDate, day: Weekday) -> Option<NaiveDate> {
    let current = today.weekday().num_days_from_monday();
    let target = day.num_days_from_monday();
    let ahead = match (target + 7 - current) % 7 {
        0 => 7,
        d => d,
    };
    add_days(today, u64::from(ahead))
}

/// Weekday name in English or Roman Urdu; the flag marks names that are
/// also ordinary words ("peer") and need context.
fn weekday(w: &str) -> Option<(Weekday, bool)> {
    let day = match w {
        "monday" | "somwar" | "somvar" => Weekday::Mon,
        "peer" | "pir" => return Some((Weekday::Mon, true)),
        "tuesday" | "mangal" | "mangalwar" | "mangalvar" => Weekday::Tue,
        "wednesday" | "budh" | "budhwar" | "budhvar" | "buddh" => Weekday::Wed,
        "thursday" | "jumeraat" | "jumerat" | "jumairat" | "jummeraat" | "jumaraat"
        | "jumeratt" => Weekday::Thu,
        "friday" | "juma" | "jumma" | "jummah" | "jumah" | "jumaa" | "shukarwar" => Weekday::Fri,
        "saturday" | "hafta" | "haftay" | "sanichar" | "sanicharwar" => Weekday::Sat,
        "sunday" | "itwaar" | "itwar" | "itvaar" | "itvar" | "etwar" | "etwaar" | "ravivar" => {
            Weekday::Sun
        }
        _ => return None,
    };
    Some((day, false))
}

fn count_word(w: &str) -> Option<u64> {
    let n = match w {
        "one" | "a" | "an" | "ek" | "aik" => 1,
        "two" | "do" => 2,
        "three" | "teen" | "tin" => 3,
        "four" | "char" | "chaar" => 4,
        "five" | "paanch" | "panch" => 5,
        "six" | "chhe" | "che" | "chay" | "chhay" => 6,
        "seven" | "saat" => 7,
        "eight" | "aath" => 8,
        "nine" | "nau" => 9,
        "ten" | "das" => 10,
        _ if !w.is_empty() && w.len() <= 4 && w.bytes().all(|b| b.is_ascii_digit()) => {
            w.parse().ok()?
        }
        _ => return None,
    };
    Some(n)
}

fn unit_days(w: &str) -> Option<u64> {
    match w {
        "day" | "days" | "din" | "dino" | "dinon" | "dinoon" | "dinn" => Some(1),
        "week" | "weeks" | "hafte" | "haftay" | "hafta" | "hafton" | "haftey" | "hafty" => Some(7),
        _ => None,
    }
}

/// `YYYY-MM-DD` (month and day may be one digit); `None` when malformed or
/// not a real date.
fn iso_date(w: &str) -> Option<NaiveDate> {
    let mut parts = w.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || y.len() != 4
        || !(1..=2).contains(&m.len())
        || !(1..=2).contains(&d.len())
    {
        return None;
    }
    if ![y, m, d]
        .iter()
        .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

// ---------------------------------------------------------------------------
// Priorities
// ---------------------------------------------------------------------------

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
fn scan_priority(toks: &[Tok], used: &mut [bool], bare_levels: bool) -> Option<Priority> {
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

#[cfg(test)]
mod tests;
