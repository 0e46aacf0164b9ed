//! The Roman Urdu side of the lexicon: verb stems and the endings a request puts on them.
//!
//! Urdu asks with a stem and an ending: "hata" is said "hata do", "hatado", "hatao", "hata dein",
//! "hata dijiye", "hataiye", "hatana"; a compound such as "khatam kar" takes the same endings on
//! "kar" ("khatam kar do", "khatam karo", "khatam kijiye"). A done thing takes a perfective
//! ending instead ("ho gaya", "ho chuka", "kar liya", "nipta diya"). So the lexicon lists, per
//! intent, the stems (each with its common spellings; [`key`](super::spelling::key) folds the
//! rest) and the endings are put on by [`rows`]. Idioms that are not stem + ending ("… ki
//! zaroorat nahi rahi", "likhna mat bhoolna") are patterns of their own.

use super::spelling::expand;
use super::vocabulary::{Canon, Tag};

/// Verb stems of each intent, as patterns; every stem takes the request endings.
const STEMS: &[(Canon, &str)] = &[
    (Canon::Kardo, "kar|kr|rakh"),
    (Canon::List, "dikha|dkha|bata|bta"),
    (
        Canon::Delete,
        "hata|hta|mita|nikal|nikaal|nkal|urra|ura|uda|khatam/khatm kar/kr|chhor|chor|chhod|chod",
    ),
    (
        Canon::Add,
        "bana|bna|daal|dal|likh|jor|jod|shamil/shaamil kar/kr|note kar/kr",
    ),
    (
        Canon::Remind,
        "yaad/yad dila/karwa/krwa/kara|yaad/yad rakh|reminder laga/bana|reminder set kar/kr",
    ),
    (Canon::Update, "badal|tabdeel/tabdil kar/kr"),
    (
        Canon::Move,
        "aage/aagay/agay/age/peeche/pichay/piche kar/kr|taal|tal",
    ),
];

/// Stems whose "-na" form is an ordinary word ("banana"), or would swallow a title's own verb
/// ("karna" in "ammi ko phone karna"): they are not asked with "-na".
const NO_INFINITIVE: &[&str] = &["bana", "bna", "kar", "kr", "rakh", "tal", "ura", "uda"];

/// Stems that alone are another word ("kar" in "call kar ke", "chor" a thief): only their
/// endings are verbs.
const NO_BARE: &[&str] = &[
    "kar", "kr", "rakh", "chor", "chhor", "chod", "chhod", "tal", "ura",
];

/// Endings said as a word of their own after the stem: "hata do", "likh lo", "hata dijiye".
const SEPARATE: &str =
    "do|dou|dein|den|dain|dijiye|dijie|dejiye|dena|de|dey|lo|lein|len|lijiye|lena|le";

/// Idioms and particles that are not a stem with an ending.
const PATTERNS: &[(Canon, &str)] = &[
    (Canon::Kardo, "kijiye|kijie|karein|karen|krein|kariye"),
    (
        Canon::Delete,
        "rehne/rehnay/rahne do/dein/den|\
         ki? ab? zaroorat/zarorat nahi/nahin/nhi/nai rahi/hai/he?|\
         ab? nahi/nahin/nhi/nai chahiye/chaiye/chahie",
    ),
    (
        Canon::Add,
        "naya/nayi/naye/nya/nai task/kaam/todo|daal/dal de",
    ),
    (
        Canon::Remind,
        "likhna? mat/na bhoolna/bhulna|bhoolna/bhulna mat|\
         bhoolna/bhulna nahi/nahin/nhi hai?|bhool na jana|yaad dilaana|yaad dilaiye",
    ),
    (
        Canon::Done,
        "ho/hw gaya/gya/gayi/gai/gyi/gaye/gye/gae/chuka/chuki/chuke/chukay|\
         hogaya|hogya|hogayi|hogai|hogyi|hogaye|hogye|\
         kar/kr liya/lia/li/liye/diya/dia/di/diye/chuka/chuki/chuke|\
         karliya|karlia|kardiya|kardia|\
         nipta/nipat/nimta/nibta diya/dia/di/liya/lia/li/gaya/gya/gayi|\
         mukammal|mukmal|mukammil|khatam/khatm ho? gaya/gya?|khatam|khatm|poora|pura",
    ),
    (
        Canon::Update,
        "badlo|badal ke/kar|tabdeel|tabdil|tabdeeli|tabdili",
    ),
    (Canon::Naam, "naam|nam|unwan"),
    (Canon::Prio, "tarjeeh|ahmiyat"),
    (Canon::DateWord, "tareekh|tarikh|tarekh"),
    (Canon::Task, "kaam|kaamon|kamon"),
    (
        Canon::Pending,
        "baqi|baaqi|baki|baaki|baqee|reh/rah gaya/gya/gayi/gai/gaye/gye/gae|rehte|rehta|\
         adhoore|adhure|adhoora|adhura|nahi/nahin hue/huay/huye/hua|nahi kiye",
    ),
    (Canon::Agenda, "kya/kia kya/kuch? karna/krna hai/he/hain"),
    (
        Canon::All,
        "sab|saare|sare|saray|saaray|tamam|tamaam|sab ke sab",
    ),
    (
        Canon::Question,
        "kaun/kon se?|kaunse|konse|konsa|kaunsa|konsi|kaunsi|kya|kia|kitne|kitnay",
    ),
    (
        Canon::Greet,
        "salam|salaam|slam|assalam|asalam|assalamualaikum|asalamualaikum|\
         assalamu/assalam/asalam o/u? alaikum|salam alaikum|aoa|adaab|aadab|\
         walaikum/wa_alaikum salam|kya/kia haal/hal hai|kaise/kese/kaisay/kaisi/kesi ho",
    ),
    (
        Canon::Help,
        "madad|madad karo|madad kar do|madad/help chahiye|\
         tum/aap/ap? kya kya? kar sakte/sakti ho/hain|kia kar sakte ho|rahnumai|rehnumai|\
         kaise/kese kaam karta/karti hai|kaise/kese chalta hai|kaise/kese use karun",
    ),
    (Canon::HowTo, "kaise|kese|kaisay|kis tarah"),
    (
        Canon::Prev,
        "isko|isku|ise|isey|isay|isy|usko|usku|usay|usey|usy|iska|iski|uska|uski|\
         woh|wo|voh|vo|yeh|ye|yahi|yehi|wohi|wahi",
    ),
    (Canon::NumMark, "nambar|numbar"),
    (
        Canon::Wala,
        "wala|wali|wale|walay|waala|waali|waale|waly|vala|vali|vale",
    ),
    (
        Canon::Mera,
        "mera|meri|mere|mra|mri|mre|mery|hamara|hamari|hamare",
    ),
    (Canon::Ka, "ka|ki|ke|kay|ko|kaa|kii"),
    (
        Canon::Filler,
        "ke/kay baare/bare mein/me/main/mai|ke mutaliq|yaad se|mere/meray/hamare liye",
    ),
];

/// Every Urdu phrase the lexicon knows, as (meaning, words): each stem with every request
/// ending, then the idioms.
pub(super) fn rows() -> Vec<(Canon, Tag, Vec<String>)> {
    let mut out = Vec::new();
    for &(canon, stems) in STEMS {
        for stem in stems.split('|').flat_map(expand) {
            for words in request_forms(&stem) {
                out.push((canon, Tag::Urdu, words));
            }
        }
    }
    for &(canon, patterns) in PATTERNS {
        for words in patterns.split('|').flat_map(expand) {
            out.push((
                canon,
                Tag::Urdu,
                words.iter().map(|w| w.to_string()).collect(),
            ));
        }
    }
    out
}

/// A stem with each request ending: "hata" → "hata", "hata do", "hatado", "hatao",
/// "hataiye", "hatayen", "hatana", …
fn request_forms(stem: &[&str]) -> Vec<Vec<String>> {
    let Some((last, before)) = stem.split_last() else {
        return Vec::new();
    };
    let with_last = |word: String| {
        let mut words: Vec<String> = before.iter().map(|w| w.to_string()).collect();
        words.push(word);
        words
    };
    let whole = stem.join(" ");
    let vowel_final = last.ends_with('a');
    let mut forms = Vec::new();
    if !NO_BARE.contains(&whole.as_str()) {
        forms.push(with_last(last.to_string()));
    }
    for ending in SEPARATE.split('|') {
        let mut words = with_last(last.to_string());
        words.push(ending.to_string());
        forms.push(words);
    }
    let mut fused = vec!["do", "dein", "den", "de", "lo", "o", "en", "ein"];
    fused.extend(if vowel_final {
        ["iye", "yen", "ye"]
    } else {
        ["iye", "e", "ein"]
    });
    if !NO_INFINITIVE.contains(&whole.as_str()) {
        fused.push("na");
    }
    for ending in fused {
        forms.push(with_last(format!("{last}{ending}")));
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(stem: &str) -> Vec<String> {
        let words: Vec<&str> = stem.split(' ').collect();
        request_forms(&words).iter().map(|w| w.join(" ")).collect()
    }

    #[test]
    fn a_stem_takes_every_request_ending() {
        let hata = forms("hata");
        for form in [
            "hata",
            "hata do",
            "hatado",
            "hatao",
            "hata dein",
            "hataiye",
            "hatana",
        ] {
            assert!(hata.contains(&form.to_string()), "{form}: {hata:?}");
        }
        let khatam = forms("khatam kar");
        for form in [
            "khatam kar do",
            "khatam kardo",
            "khatam karo",
            "khatam kar dijiye",
        ] {
            assert!(khatam.contains(&form.to_string()), "{form}: {khatam:?}");
        }
        assert!(!forms("bana").contains(&"banana".to_string()));
        assert!(!forms("kar").contains(&"karna".to_string()));
        assert!(!forms("kar").contains(&"kar".to_string()));
        assert!(forms("yaad rakh").contains(&"yaad rakhna".to_string()));
    }
}
