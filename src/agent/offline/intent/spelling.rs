//! Spelling: one key for the many ways a word is typed, and the pattern notation of the lexicon.
//!
//! Roman Urdu has no settled spelling. Long vowels are doubled or not ("yaad"/"yad",
//! "zaroori"/"zaruri"), consonants are doubled or not ("mukammal"/"mukamal"), "q" is written "k"
//! ("muqammal"), "v" is "w" ("vala"), a final "ay"/"ey" is "e" ("kapray"). [`key`] maps all of
//! these to one spelling, so the lexicon lists each word once and a message matches it however
//! it was typed. Words shorter than five letters keep their spelling, because there vowel length
//! tells words apart ("kaam" work, "kam" less); their variants are listed in the lexicon.
//!
//! [`expand`] reads the lexicon's pattern notation, so a row states a class of phrasings
//! instead of listing each sentence.

/// The spelling key of one lower-case word.
pub(super) fn key(word: &str) -> String {
    if word.chars().count() < 5 || !word.chars().all(|c| c.is_ascii_lowercase()) {
        return word.to_string();
    }
    let folded = word
        .replace("ee", "i")
        .replace("oo", "u")
        .replace('q', "k")
        .replace('v', "w");
    let mut out = String::with_capacity(folded.len());
    for c in folded.chars() {
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    for (end, with) in [("ay", "e"), ("ey", "e")] {
        if let Some(stem) = out.strip_suffix(end) {
            return format!("{stem}{with}");
        }
    }
    out
}

/// Every phrasing a pattern stands for, each as its words.
///
/// A pattern is slots separated by spaces. A slot lists its alternatives separated by `/`, and
/// a slot ending in `?` may be left out; `_` joins words inside one alternative. So
/// `"dont/do_not forget to?"` is "dont forget", "dont forget to", "do not forget" and "do not
/// forget to".
pub(super) fn expand(pattern: &str) -> Vec<Vec<&str>> {
    let mut out: Vec<Vec<&str>> = vec![Vec::new()];
    for slot in pattern.split_whitespace() {
        let (slot, optional) = match slot.strip_suffix('?') {
            Some(s) => (s, true),
            None => (slot, false),
        };
        let mut next = Vec::new();
        for prefix in &out {
            if optional {
                next.push(prefix.clone());
            }
            for alt in slot.split('/') {
                let mut words = prefix.clone();
                words.extend(alt.split('_').filter(|w| !w.is_empty()));
                next.push(words);
            }
        }
        out = next;
    }
    out.retain(|words| !words.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urdu_spellings_share_a_key() {
        for group in [
            &["mukammal", "mukamal", "mukkamal", "muqammal"][..],
            &["zaroori", "zaruri"],
            &["hataao", "hatao"],
            &["dikhaao", "dikhao"],
            &["bhoolna", "bhulna"],
            &["kapray", "kapre"],
            &["zaroorat", "zarurat"],
        ] {
            let keys: Vec<String> = group.iter().map(|w| key(w)).collect();
            assert!(keys.iter().all(|k| k == &keys[0]), "{group:?} -> {keys:?}");
        }
        assert_ne!(key("kaam"), key("kam"));
        assert_eq!(key("yaad"), "yaad");
        assert_eq!(key("2026-11-30"), "2026-11-30");
    }

    #[test]
    fn patterns_expand_to_each_phrasing() {
        let got: Vec<String> = expand("dont/do_not forget to?")
            .iter()
            .map(|w| w.join(" "))
            .collect();
        assert_eq!(
            got,
            [
                "dont forget",
                "dont forget to",
                "do not forget",
                "do not forget to"
            ]
        );
        assert_eq!(expand("a? b?").len(), 3);
        assert!(expand("").is_empty());
    }
}
