//! The hash chain's byte format: how a line is hashed, how the hash and a signature are attached,
//! and the UTC calendar arithmetic for timestamps and day-file names.
//!
//! A line is a JSON object whose last member is `"hash":"<64 hex>"`. Its *canonical bytes* are
//! the line without that member: `line[..len - HASH_SUFFIX_LEN] + "}"`. The hash is SHA-256 over
//! the canonical bytes, and the canonical bytes contain `"prev"`, the previous record's hash —
//! so each hash covers the whole chain before it. Hashing the raw bytes (not a re-serialisation)
//! means any byte change is detected, including changes that would parse to the same value.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::digest;

/// The `prev` of the very first record of a chain: 64 zeros.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The largest sequence number a log may hold: far beyond any real log, and small enough that
/// `seq + 1` never overflows anywhere.
pub(crate) const MAX_SEQ: u64 = 1 << 62;

/// Length of `,"hash":"` + 64 hex digits + `"}`.
pub(crate) const HASH_SUFFIX_LEN: usize = 9 + 64 + 2;

/// A SHA-256 hash as 64 lowercase hex digits.
pub(crate) type HashHex = String;

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Decodes lowercase or uppercase hex; `None` on odd length or a non-hex character.
pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|pair| match pair {
            [hi, lo] => Some(nibble(*hi)? << 4 | nibble(*lo)?),
            _ => None,
        })
        .collect()
}

/// SHA-256 of `canonical` as hex.
pub(crate) fn hash_canonical(canonical: &[u8]) -> HashHex {
    hex(digest::digest(&digest::SHA256, canonical).as_ref())
}

/// Turns canonical bytes (a JSON object ending in `}`) into the full line with `"hash"` as the
/// last member and a trailing newline; returns the line and the hash.
pub(crate) fn seal(canonical: &[u8]) -> (Vec<u8>, HashHex) {
    let hash = hash_canonical(canonical);
    let body = canonical.strip_suffix(b"}").unwrap_or(canonical);
    let mut line = Vec::with_capacity(body.len() + HASH_SUFFIX_LEN + 1);
    line.extend_from_slice(body);
    line.extend_from_slice(b",\"hash\":\"");
    line.extend_from_slice(hash.as_bytes());
    line.extend_from_slice(b"\"}\n");
    (line, hash)
}

/// Splits a line (without its newline) into its canonical bytes and stored hash; `None` when the
/// line does not end in a well-formed `"hash"` member.
pub(crate) fn unseal(line: &[u8]) -> Option<(Vec<u8>, &str)> {
    let split = line.len().checked_sub(HASH_SUFFIX_LEN)?;
    let (body, suffix) = line.split_at(split);
    let hash = suffix.strip_prefix(b",\"hash\":\"")?.strip_suffix(b"\"}")?;
    if hash.len() != 64 || !hash.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let hash = std::str::from_utf8(hash).ok()?;
    let mut canonical = body.to_vec();
    canonical.push(b'}');
    Some((canonical, hash))
}

/// Attaches a signature as the last member of `signed` (a JSON object ending in `}`).
pub(crate) fn attach_sig(signed: &[u8], sig_hex: &str) -> Vec<u8> {
    let body = signed.strip_suffix(b"}").unwrap_or(signed);
    let mut out = Vec::with_capacity(body.len() + sig_hex.len() + 10);
    out.extend_from_slice(body);
    out.extend_from_slice(b",\"sig\":\"");
    out.extend_from_slice(sig_hex.as_bytes());
    out.extend_from_slice(b"\"}");
    out
}

/// Splits canonical checkpoint bytes into the signed bytes and the signature hex; `None` when
/// the object does not end in a `"sig"` member of hex digits.
pub(crate) fn detach_sig(canonical: &[u8]) -> Option<(Vec<u8>, &str)> {
    const TAG: &[u8] = b",\"sig\":\"";
    let body = canonical.strip_suffix(b"\"}")?;
    let at = body.windows(TAG.len()).rposition(|w| w == TAG)?;
    let (head, rest) = body.split_at(at);
    let sig = rest.get(TAG.len()..)?;
    if sig.is_empty() || !sig.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let sig = std::str::from_utf8(sig).ok()?;
    let mut signed = head.to_vec();
    signed.push(b'}');
    Some((signed, sig))
}

/// A UTC calendar day, the key of a day file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Day(pub i64);

impl Day {
    /// The UTC day `t` falls in.
    pub(crate) fn of(t: SystemTime) -> Day {
        Day(unix_secs(t).div_euclid(86_400))
    }

    /// `YYYY-MM-DD`.
    pub(crate) fn name(self) -> String {
        let (y, m, d) = civil_from_days(self.0);
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// Parses `YYYY-MM-DD` (exactly that shape, a real date).
    pub(crate) fn parse(s: &str) -> Option<Day> {
        let b = s.as_bytes();
        if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return None;
        }
        let y: i64 = s.get(0..4)?.parse().ok()?;
        let m: u32 = s.get(5..7)?.parse().ok()?;
        let d: u32 = s.get(8..10)?.parse().ok()?;
        if !(1..=12).contains(&m) || d == 0 || d > 31 {
            return None;
        }
        let day = Day(days_from_civil(y, m, d));
        (day.name() == s).then_some(day)
    }
}

fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX) - 1,
    }
}

/// RFC 3339 UTC with milliseconds: `2026-11-21T14:35:00.123Z`.
pub(crate) fn format_time(t: SystemTime) -> String {
    let millis = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.subsec_millis(),
        Err(_) => 0,
    };
    let secs = unix_secs(t);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Parses exactly the shape [`format_time`] writes.
pub(crate) fn parse_time(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 24 || b.get(10) != Some(&b'T') || b.get(19) != Some(&b'.') || !s.ends_with('Z') {
        return None;
    }
    let day = Day::parse(s.get(0..10)?)?;
    let field = |r: std::ops::Range<usize>| -> Option<u64> {
        let f = s.get(r)?;
        f.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| f.parse().ok())?
    };
    let (h, mi, se, ms) = (
        field(11..13)?,
        field(14..16)?,
        field(17..19)?,
        field(20..23)?,
    );
    if h > 23 || mi > 59 || se > 59 || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let day_secs = u64::try_from(day.0).ok()?.checked_mul(86_400)?;
    let secs = day_secs + h * 3600 + mi * 60 + se;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs) + Duration::from_millis(ms))
}

/// Days since 1970-01-01 → (year, month, day); Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u32, d as u32)
}

/// (year, month, day) → days since 1970-01-01; Howard Hinnant's `days_from_civil`.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates() {
        assert_eq!(Day(0).name(), "1970-01-01");
        assert_eq!(Day(20_513).name(), "2026-03-01");
        assert_eq!(Day::parse("2024-02-29"), Some(Day(19_782)));
        assert_eq!(Day::parse("2023-02-29"), None);
        assert_eq!(Day::parse("2023-2-28x"), None);
        let t = UNIX_EPOCH + Duration::from_millis(1_795_271_700_123);
        assert_eq!(format_time(t), "2026-11-21T14:35:00.123Z");
    }

    #[test]
    fn seal_unseal_round_trip() {
        let (line, hash) = seal(br#"{"seq":1,"prev":"00"}"#);
        let text = line.strip_suffix(b"\n").unwrap();
        let (canonical, stored) = unseal(text).unwrap();
        assert_eq!(canonical, br#"{"seq":1,"prev":"00"}"#);
        assert_eq!(stored, hash);
        assert_eq!(hash_canonical(&canonical), hash);
        assert!(unseal(b"{\"seq\":1}").is_none());
    }

    #[test]
    fn sig_round_trip() {
        let with = attach_sig(br#"{"a":"x"}"#, "00ff");
        assert_eq!(with, br#"{"a":"x","sig":"00ff"}"#);
        let (signed, sig) = detach_sig(&with).unwrap();
        assert_eq!((signed.as_slice(), sig), (&br#"{"a":"x"}"#[..], "00ff"));
        assert!(detach_sig(br#"{"a":"x"}"#).is_none());
    }

    proptest! {
        #[test]
        fn time_round_trips(ms in 0u64..8_000_000_000_000) {
            let t = UNIX_EPOCH + Duration::from_millis(ms);
            let s = format_time(t);
            prop_assert_eq!(parse_time(&s), Some(t));
            prop_assert_eq!(Day::parse(&s[..10]), Some(Day::of(t)));
        }

        #[test]
        fn hex_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        }

        #[test]
        fn unseal_never_panics(line in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = unseal(&line);
            let _ = detach_sig(&line);
            let _ = parse_time(&String::from_utf8_lossy(&line));
        }
    }
}
