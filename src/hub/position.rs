//! `Position`: where a user's event stream stands, as the opaque `pos` string clients keep.
//!
//! Every instance numbers the events it publishes with one counter of its own (its *origin*
//! counter); an event keeps its origin and number wherever it is relayed. What a socket has
//! received of one user is then exactly, for each origin, every event of that user up to some
//! number, so a position is that vector, plus the time it was made and the instance that made
//! it (which tell another instance, or a restarted one, whether it can know what came after).
//!
//! Text form: `{t}.{via}.{origin}-{n}.{origin}-{n}…`, all lowercase hex except `t` (unix
//! milliseconds, 13 decimal digits for centuries yet), so positions made later sort later.

use std::fmt::{self, Write};

/// A point in one user's event stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Position {
    /// Unix milliseconds when the position was made.
    pub t_ms: u64,
    /// The instance that made it.
    pub via: u64,
    /// For each origin, the number of the last event of it the client has.
    pub seen: Vec<(u64, u64)>,
}

impl Position {
    /// The number of the last event of `origin` the client has; 0 for none.
    pub fn seen(&self, origin: u64) -> u64 {
        self.seen
            .iter()
            .find(|(o, _)| *o == origin)
            .map_or(0, |(_, n)| *n)
    }

    /// Reads the text form; `None` for anything else.
    pub fn parse(s: &str) -> Option<Position> {
        if s.len() > 1024 {
            return None;
        }
        let mut parts = s.split('.');
        let t_ms = parts.next()?.parse().ok()?;
        let via = u64::from_str_radix(parts.next()?, 16).ok()?;
        let mut seen = Vec::new();
        for part in parts {
            let (o, n) = part.split_once('-')?;
            let o = u64::from_str_radix(o, 16).ok()?;
            let n = u64::from_str_radix(n, 16).ok()?;
            if seen.iter().any(|(x, _)| *x == o) {
                return None;
            }
            seen.push((o, n));
        }
        Some(Position { t_ms, via, seen })
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:013}.{:x}", self.t_ms, self.via)?;
        for (o, n) in &self.seen {
            f.write_char('.')?;
            write!(f, "{o:x}-{n:x}")?;
        }
        Ok(())
    }
}

/// Writes the text form of a position without building one: `seen` is `others` with `origin`
/// at `n` added. Written as bytes by hand rather than through `write!`: every delta a socket
/// receives carries a position, and the formatting machinery cost more than the rest of the
/// frame.
pub(super) fn write_pos(
    out: &mut Vec<u8>,
    t_ms: u64,
    via: u64,
    others: &[(u64, u64)],
    origin: u64,
    n: u64,
) {
    push_decimal(out, t_ms, 13);
    out.push(b'.');
    push_hex(out, via);
    for &(o, m) in others {
        out.push(b'.');
        push_hex(out, o);
        out.push(b'-');
        push_hex(out, m);
    }
    out.push(b'.');
    push_hex(out, origin);
    out.push(b'-');
    push_hex(out, n);
}

/// `v` in lowercase hex without leading zeros (`{v:x}`), as ASCII bytes.
pub(super) fn push_hex(out: &mut Vec<u8>, v: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = DIGITS[(v & 0xf) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// `v` in decimal, zero-padded to at least `width` digits (at most 20): `{v:0width$}`, as
/// ASCII bytes.
pub(super) fn push_decimal(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let start = i.min(buf.len() - width.min(buf.len()));
    out.extend_from_slice(&buf[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_reads_back() {
        let p = Position {
            t_ms: 1_795_000_000_123,
            via: 0xabc,
            seen: vec![(0xabc, 17), (0x1234_5678_9abc_def0, 0)],
        };
        let s = p.to_string();
        assert_eq!(s, "1795000000123.abc.abc-11.123456789abcdef0-0");
        assert_eq!(Position::parse(&s), Some(p));
        let mut out = Vec::new();
        write_pos(
            &mut out,
            1_795_000_000_123,
            0xabc,
            &[(0xabc, 17)],
            0x1234_5678_9abc_def0,
            0,
        );
        assert_eq!(String::from_utf8(out).unwrap(), s);
    }

    #[test]
    fn written_by_hand_as_display_writes_it() {
        for (t_ms, via, others, origin, n) in [
            (0, 0, vec![], 0, 0),
            (5, 1, vec![(2, 3)], 0xf, 0x10),
            (
                u64::MAX,
                u64::MAX,
                vec![(u64::MAX, 0), (1, u64::MAX)],
                7,
                u64::MAX,
            ),
            (1_795_000_000_123, 0xabc, vec![], 0x1234_5678_9abc_def0, 42),
        ] {
            let mut seen = others.clone();
            seen.push((origin, n));
            let p = Position { t_ms, via, seen };
            let mut out = Vec::new();
            write_pos(&mut out, t_ms, via, &others, origin, n);
            let out = String::from_utf8(out).unwrap();
            assert_eq!(out, p.to_string());
            assert_eq!(Position::parse(&out), Some(p));
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "x",
            "12",
            "12.zz",
            "12.a.b",
            "12.a.b-",
            "12.a.b-1.b-2",
            "-1.a",
            &"1.a.".repeat(400),
        ] {
            assert_eq!(Position::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            Position::parse("5.a"),
            Some(Position {
                t_ms: 5,
                via: 10,
                seen: vec![]
            })
        );
        assert_eq!(Position::parse("1.a").unwrap().seen(10), 0);
    }
}
