//! Dates said by day of the month: "3rd dec", "december 1", "10th of december", "on the 25th",
//! "15 tareekh ko".
//!
//! A date with a month is the next such day from today (so in November "15 jan" is next
//! January); a day alone ("on the 25th", "1 tareekh") is the next such day of this month or the
//! next. A day the month does not have ("31 nov") is no date.

use chrono::{Datelike, Months, NaiveDate};

/// Month names and their short forms, numbered from 1. "may" and "mar" count only next to a day.
const MONTHS: &[(&str, u32)] = &[
    ("january", 1),
    ("jan", 1),
    ("february", 2),
    ("feb", 2),
    ("march", 3),
    ("mar", 3),
    ("april", 4),
    ("apr", 4),
    ("may", 5),
    ("june", 6),
    ("jun", 6),
    ("july", 7),
    ("jul", 7),
    ("august", 8),
    ("aug", 8),
    ("september", 9),
    ("sept", 9),
    ("sep", 9),
    ("october", 10),
    ("oct", 10),
    ("november", 11),
    ("nov", 11),
    ("december", 12),
    ("dec", 12),
];

/// Urdu for "date" after a day: "15 tareekh".
const TAREEKH: &[&str] = &["tareekh", "tarikh", "tarekh"];

fn month(w: &str) -> Option<u32> {
    MONTHS.iter().find(|(m, _)| *m == w).map(|&(_, n)| n)
}

/// "25", "25th", "1st", "3rd": a day of the month.
fn day(w: &str) -> Option<u32> {
    let digits = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|s| w.strip_suffix(s))
        .unwrap_or(w);
    if digits.is_empty() || digits.len() > 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let d: u32 = digits.parse().ok()?;
    (1..=31).contains(&d).then_some(d)
}

fn is_ordinal(w: &str) -> bool {
    day(w).is_some() && w.bytes().any(|b| b.is_ascii_alphabetic())
}

/// The date said by the words from `w(0)` on, and how many words it took. `w(k)` is the k-th
/// word from the start ("" past the end or on a word already read); `before` is the word before
/// the start.
pub(super) fn day_of_month(
    w: impl Fn(usize) -> String,
    before: &str,
    today: NaiveDate,
) -> Option<(NaiveDate, usize)> {
    let (w0, w1, w2) = (w(0), w(1), w(2));
    // "3rd dec", "30 november", "10th of december"
    if let Some(d) = day(&w0) {
        if let Some(m) = month(&w1) {
            return Some((next_date(today, Some(m), d)?, 2));
        }
        if w1 == "of" {
            if let Some(m) = month(&w2) {
                return Some((next_date(today, Some(m), d)?, 3));
            }
        }
        if TAREEKH.contains(&w1.as_str()) {
            return Some((next_date(today, None, d)?, 2));
        }
    }
    // "december 1", "dec 3rd"
    if let (Some(m), Some(d)) = (month(&w0), day(&w1)) {
        return Some((next_date(today, Some(m), d)?, 2));
    }
    // "on the 25th"
    let after_preposition = matches!(before, "on" | "by" | "for" | "before" | "till" | "until");
    if w0 == "the" && is_ordinal(&w1) && after_preposition {
        return Some((next_date(today, None, day(&w1)?)?, 2));
    }
    None
}

/// The next `day` of `month` (or of this month or the next) that is not before today.
fn next_date(today: NaiveDate, month: Option<u32>, day: u32) -> Option<NaiveDate> {
    match month {
        Some(m) => {
            let this_year = NaiveDate::from_ymd_opt(today.year(), m, day);
            match this_year {
                Some(d) if d >= today => Some(d),
                _ => NaiveDate::from_ymd_opt(today.year().checked_add(1)?, m, day),
            }
        }
        None => {
            if day >= today.day() {
                NaiveDate::from_ymd_opt(today.year(), today.month(), day)
            } else {
                let next = today.with_day(1)?.checked_add_months(Months::new(1))?;
                NaiveDate::from_ymd_opt(next.year(), next.month(), day)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(words: &str, before: &str) -> Option<(NaiveDate, usize)> {
        let words: Vec<String> = words.split(' ').map(str::to_string).collect();
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        day_of_month(|k| words.get(k).cloned().unwrap_or_default(), before, today)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn days_of_the_month() {
        assert_eq!(read("3rd dec", ""), Some((date(2026, 12, 3), 2)));
        assert_eq!(read("december 1", ""), Some((date(2026, 12, 1), 2)));
        assert_eq!(read("10th of december", ""), Some((date(2026, 12, 10), 3)));
        assert_eq!(read("15 jan", ""), Some((date(2027, 1, 15), 2)));
        assert_eq!(read("22 nov", ""), Some((date(2026, 11, 22), 2)));
        assert_eq!(read("the 25th", "on"), Some((date(2026, 11, 25), 2)));
        assert_eq!(read("15 tareekh", ""), Some((date(2026, 12, 15), 2)));
        assert_eq!(read("1 tareekh", ""), Some((date(2026, 12, 1), 2)));
        assert_eq!(read("31 nov", ""), None);
        assert_eq!(read("the 25th", "is"), None);
        assert_eq!(read("may i", ""), None);
        assert_eq!(read("99 dec", ""), None);
    }
}
