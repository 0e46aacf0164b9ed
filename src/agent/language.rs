//! The language a message is written in, and the language to answer in.
//!
//! Every agent answers in the user's language, and the chat core picks it (from the client's
//! metadata or, failing that, from the message's words) before any agent runs. Telling the
//! language by its words borrows the offline parser's tokenizer, whose marker word lists are the
//! only ones the server has; nothing here knows about intents.

use super::offline::intent::normalise::{language_of, tokenize};

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

/// Language of a message by its words: Roman Urdu when Urdu marker words
/// (kar do, mera, hai, ka, ko, wala, kal, dikhao, hata, bana, ho gaya,
/// zaroori, …) outnumber English marker words; English otherwise, including
/// when there are no markers at all. Quoted text is not counted.
pub fn detect_language(text: &str) -> Language {
    language_of(&tokenize(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EN: Language = Language::English;
    const UR: Language = Language::RomanUrdu;

    #[test]
    fn detect_language_by_marker_words() {
        assert_eq!(detect_language("Mera meeting wala task delete kar do"), UR);
        assert_eq!(detect_language("mere tasks dikhao"), UR);
        assert_eq!(detect_language("meeting wala kaam ho gaya"), UR);
        assert_eq!(detect_language("show my tasks"), EN);
        assert_eq!(detect_language("delete task 2"), EN);
        assert_eq!(detect_language(""), EN);
        assert_eq!(detect_language("🙂🙂"), EN);
        assert_eq!(detect_language("'mera kaam' add"), EN);
    }

    #[test]
    fn language_tags() {
        assert_eq!(Language::from_tag("en"), Some(EN));
        assert_eq!(Language::from_tag("English"), Some(EN));
        assert_eq!(Language::from_tag("en-US"), Some(EN));
        assert_eq!(Language::from_tag("ur"), Some(UR));
        assert_eq!(Language::from_tag("URDU"), Some(UR));
        assert_eq!(Language::from_tag("roman-urdu"), Some(UR));
        assert_eq!(Language::from_tag("roman_urdu"), Some(UR));
        assert_eq!(Language::from_tag("ur-Latn"), Some(UR));
        assert_eq!(Language::from_tag("fr"), None);
        assert_eq!(Language::from_tag(""), None);
        assert_eq!(EN.code(), "en");
        assert_eq!(UR.code(), "roman-urdu");
        for lang in [EN, UR] {
            assert_eq!(Language::from_tag(lang.code()), Some(lang));
        }
    }
}
