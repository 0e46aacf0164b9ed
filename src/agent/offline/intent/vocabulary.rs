//! The parser's vocabulary: every word and phrase it knows, in English and Roman Urdu.
//!
//! Each phrase folds, with its spelling variants, into one canonical meaning ([`Canon`]) and
//! points to a language ([`Tag`]); single marker words that no phrase claims tag a word as Urdu
//! or English. The tables stand apart from the code that reads them, so a new spelling is one
//! more entry here.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

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
pub(super) enum Tag {
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

/// One phrase of [`PHRASES`], split into its words.
pub(super) struct Phrase {
    pub(super) words: Vec<&'static str>,
    pub(super) canon: Canon,
    pub(super) tag: Tag,
}

/// Every phrase, indexed by its first word, longest first.
pub(super) fn phrase_index() -> &'static HashMap<&'static str, Vec<Phrase>> {
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

pub(super) fn edge_fillers() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    word_set(&SET, EDGE_FILLERS)
}

pub(super) fn greet_fillers() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    word_set(&SET, GREET_FILLERS)
}

/// Which language a single word points to, by the marker word lists.
pub(super) fn word_tag(word: &str) -> Tag {
    if urdu_words().contains(word) {
        Tag::Urdu
    } else if english_words().contains(word) {
        Tag::English
    } else {
        Tag::Neutral
    }
}
