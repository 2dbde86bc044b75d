//! Timestamps: parsing the forms PostgreSQL writes in logs (`%t`, `%m`, `%n`,
//! csv/json `log_time`) into UTC epoch milliseconds, and formatting them as
//! RFC 3339.

/// Milliseconds since 1970-01-01T00:00:00Z.
pub type Millis = i64;

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats epoch milliseconds as RFC 3339 in UTC, with milliseconds.
pub fn format_rfc3339(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Offsets in seconds east of UTC for the time-zone abbreviations PostgreSQL
/// commonly prints with `log_timezone`. Unknown names yield `None` and the
/// caller records that the time was assumed to be UTC.
fn zone_offset(name: &str) -> Option<i64> {
    const H: i64 = 3600;
    let off = match name {
        "UTC" | "GMT" | "Z" | "UT" | "WET" | "Etc/UTC" => 0,
        "BST" | "CET" | "WEST" | "MET" | "WAT" => H,
        "CEST" | "EET" | "MEST" | "SAST" | "CAT" => 2 * H,
        "EEST" | "MSK" | "EAT" | "IDT" => 3 * H,
        "IST" => 5 * H + 30 * 60,
        "ICT" | "WIB" => 7 * H,
        "HKT" | "SGT" | "AWST" | "CST8" => 8 * H,
        "JST" | "KST" => 9 * H,
        "ACST" => 9 * H + 30 * 60,
        "AEST" => 10 * H,
        "ACDT" => 10 * H + 30 * 60,
        "AEDT" => 11 * H,
        "NZST" => 12 * H,
        "NZDT" => 13 * H,
        "ADT" => -3 * H,
        "AST" | "EDT" => -4 * H,
        "EST" | "CDT" => -5 * H,
        "CST" | "MDT" => -6 * H,
        "MST" | "PDT" => -7 * H,
        "PST" | "AKDT" => -8 * H,
        "AKST" => -9 * H,
        "HST" => -10 * H,
        "NST" => -(3 * H + 30 * 60),
        _ => return numeric_offset(name),
    };
    Some(off)
}

/// `+03`, `-0530`, `+05:30`.
fn numeric_offset(s: &str) -> Option<i64> {
    let (sign, rest) = if let Some(rest) = s.strip_prefix('+') {
        (1, rest)
    } else {
        (-1, s.strip_prefix('-')?)
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i64>().ok()?, 0),
        3 | 4 => {
            let (h, m) = digits.split_at_checked(digits.len() - 2)?;
            (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?)
        }
        _ => return None,
    };
    Some(sign * (h * 3600 + m * 60))
}

/// The result of parsing a log timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// UTC epoch milliseconds.
    pub millis: Millis,
    /// False when a zone name was present but unknown (UTC was assumed).
    pub zone_known: bool,
}

/// Parses `YYYY-MM-DD HH:MM:SS[.fff][ ZONE]` (also with `T` and a trailing
/// `Z` or offset) or an epoch `1669575482.097` (`%n`).
pub fn parse_timestamp(s: &str) -> Option<Parsed> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() >= 10 && b.get(4) == Some(&b'-') && b.get(7) == Some(&b'-') {
        let y: i64 = s.get(0..4)?.parse().ok()?;
        let mo: i64 = s.get(5..7)?.parse().ok()?;
        let d: i64 = s.get(8..10)?.parse().ok()?;
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
            return None;
        }
        let mut ms = days_from_civil(y, mo, d) * 86_400_000;
        let rest = s.get(10..)?;
        let rest = rest.strip_prefix([' ', 'T']).unwrap_or(rest);
        if rest.len() < 8 {
            return Some(Parsed {
                millis: ms,
                zone_known: true,
            });
        }
        let h: i64 = rest.get(0..2)?.parse().ok()?;
        let mi: i64 = rest.get(3..5)?.parse().ok()?;
        let se: i64 = rest.get(6..8)?.parse().ok()?;
        ms += (h * 3600 + mi * 60 + se) * 1000;
        let mut rest = rest.get(8..)?;
        if let Some(frac) = rest.strip_prefix('.') {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            let mut f = 0i64;
            for (i, c) in frac.bytes().take(n.min(3)).enumerate() {
                f += i64::from(c - b'0') * 10i64.pow(2 - i as u32);
            }
            rest = frac.get(n..)?;
            ms += f;
        }
        let zone = rest.trim();
        if zone.is_empty() {
            return Some(Parsed {
                millis: ms,
                zone_known: true,
            });
        }
        return Some(match zone_offset(zone) {
            Some(off) => Parsed {
                millis: ms - off * 1000,
                zone_known: true,
            },
            None => Parsed {
                millis: ms,
                zone_known: false,
            },
        });
    }
    // Epoch seconds with optional fraction.
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().all(|c| c.is_ascii_digit()) || int.len() > 12 {
        return None;
    }
    let secs: i64 = int.parse().ok()?;
    let mut f = 0i64;
    for (i, c) in frac.chars().take(3).enumerate() {
        f += i64::from(c.to_digit(10)? as u8) * 10i64.pow(2 - i as u32);
    }
    Some(Parsed {
        millis: secs * 1000 + f,
        zone_known: true,
    })
}

/// Parses timestamps exactly as [`parse_timestamp`] does, remembering the
/// last one: the lines of one second differ only in their fraction, which
/// is then read alone (the time is linear in it).
#[derive(Debug, Default)]
pub struct TimeMemo {
    /// `YYYY-MM-DD HH:MM:SS` of the remembered timestamp.
    head: Vec<u8>,
    /// What follows its fraction (the zone).
    tail: Vec<u8>,
    /// Its time without the fraction (`None`: nothing remembered).
    base: Option<Parsed>,
}

impl TimeMemo {
    /// [`parse_timestamp`] of `s`.
    pub fn parse(&mut self, s: &str) -> Option<Parsed> {
        let b = s.as_bytes();
        // `YYYY-MM-DD[ T]HH:MM:SS.` with nothing to trim: the shape whose
        // fraction `parse_timestamp` reads at byte 20.
        let shaped = b.len() >= 20
            && b.first().is_some_and(u8::is_ascii_digit)
            && b.get(4) == Some(&b'-')
            && matches!(b.get(10), Some(b' ' | b'T'))
            && b.get(19) == Some(&b'.')
            && b.last()
                .is_some_and(|c| c.is_ascii() && !char::from(*c).is_whitespace());
        let (Some(head), Some(frac), true) = (b.get(..19), b.get(20..), shaped) else {
            return parse_timestamp(s);
        };
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut f = 0i64;
        for (i, c) in frac.iter().take(n.min(3)).enumerate() {
            f += i64::from(c - b'0') * 10i64.pow(2 - i as u32);
        }
        let tail = frac.get(n..).unwrap_or_default();
        if let Some(base) = self.base {
            if self.head == head && self.tail == tail {
                return Some(Parsed {
                    millis: base.millis + f,
                    zone_known: base.zone_known,
                });
            }
        }
        let p = parse_timestamp(s)?;
        self.head.clear();
        self.head.extend_from_slice(head);
        self.tail.clear();
        self.tail.extend_from_slice(tail);
        self.base = Some(Parsed {
            millis: p.millis - f,
            zone_known: p.zone_known,
        });
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_memo_gives_exactly_what_parse_timestamp_gives() {
        let mut rng = crate::test_rng::Rng(7);
        let mut memo = TimeMemo::default();
        let heads = [
            "2026-11-20 00:00:01",
            "2026-11-20 00:00:02",
            "2026-11-20T23:59:59",
            "2024-02-29 12:00:00",
            "2024-13-01 00:00:00",
            "2024-01-01x00:00:00",
            "2024-01-01 0a:00:00",
        ];
        let fracs = ["", ".", ".1", ".12", ".123", ".1234", ".999999", ".5x"];
        let zones = [
            "", " UTC", " CEST", " EST", " XYZ", " +0530", " -03", "+00:00", "Z", " UTC ", " ",
        ];
        // Runs of one second and zone (read from the memo), with other
        // fractions; then another second or zone.
        let (mut head, mut zone) = (heads[0], zones[0]);
        let mut hits = 0;
        for _ in 0..20_000 {
            if rng.next() % 4 == 0 {
                (head, zone) = (rng.pick(&heads), rng.pick(&zones));
            }
            let s = format!("{head}{}{zone}", rng.pick(&fracs));
            let remembered =
                memo.base.is_some() && s.get(..19).is_some_and(|h| h.as_bytes() == memo.head);
            assert_eq!(memo.parse(&s), parse_timestamp(&s), "{s:?}");
            hits += usize::from(remembered);
        }
        assert!(hits > 5_000, "the memo was used {hits} times");
    }

    #[test]
    fn parses_and_formats_round_trip() {
        let p = parse_timestamp("2024-06-27 00:00:07.369 CEST").unwrap();
        assert_eq!(format_rfc3339(p.millis), "2024-06-26T22:00:07.369Z");
        let p = parse_timestamp("2018-08-22 16:00:04 UTC").unwrap();
        assert_eq!(format_rfc3339(p.millis), "2018-08-22T16:00:04.000Z");
        let p = parse_timestamp("2018-08-22 16:00:04 +0530").unwrap();
        assert_eq!(format_rfc3339(p.millis), "2018-08-22T10:30:04.000Z");
        let p = parse_timestamp("1669575482.097").unwrap();
        assert_eq!(format_rfc3339(p.millis), "2022-11-27T18:58:02.097Z");
        let p = parse_timestamp("2021-09-07T04:01:27+00:00").unwrap();
        assert_eq!(format_rfc3339(p.millis), "2021-09-07T04:01:27.000Z");
    }

    #[test]
    fn unknown_zone_is_flagged() {
        let p = parse_timestamp("2024-01-01 00:00:00 XYZT").unwrap();
        assert!(!p.zone_known);
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(parse_timestamp("not a time").is_none());
        assert!(parse_timestamp("2024-13-01 00:00:00").is_none());
    }
}
