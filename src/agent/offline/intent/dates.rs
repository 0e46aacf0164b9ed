//! Due dates: the date phrases of a message, read against today's date.
//!
//! Understands ISO dates (`2026-12-01`), today / tomorrow / the day after ("aaj", "kal",
//! "parson"), counted offsets ("in 3 days", "3 din baad", "do hafte mein"), "next week" and
//! weekday names in both languages ("next friday", "juma ko", "hafte ko"), and days of the month
//! ("3rd dec", "15 tareekh ko", see `calendar`). The words around a date ("on",
//! "by", "tak", "ko", "subah", …) are taken with it, so they do not end up in a title. A date
//! that would fall past the end of the calendar is dropped.

use chrono::{Datelike, Days, NaiveDate, Weekday};

use super::calendar::day_of_month;
use super::normalise::Tok;
use crate::agent::Language;

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
pub(super) fn scan_due(
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
    let before = if i > 0 { w(i - 1) } else { "" };
    if let Some(found) = day_of_month(|k| w(i + k).to_string(), before, today) {
        return Some(found);
    }
    // "hafte ko": Saturday, where "hafte" alone is "week" ("agle hafte", "do hafte baad").
    if w0 == "hafte" && w(i + 1) == "ko" {
        return Some((next_weekday(today, Weekday::Sat)?, 1));
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
