//! The evidence window (`--since`, `--until`, `--window`): which statement
//! times count as evidence, and which stretches of the window the inputs'
//! time ranges do not cover (so the logs cannot show absence there).

use serde::{Deserialize, Serialize};

use crate::inventory::FileCoverage;
use crate::time::{format_rfc3339, parse_timestamp, Millis};

/// How long the inputs may be silent (no record at all) before the stretch
/// counts as not covered, unless `--max-gap` says otherwise: one hour.
pub const DEFAULT_MAX_GAP: Millis = 3_600_000;

/// Silences shorter than this are not recorded per input.
pub const MIN_SILENCE: Millis = 5 * 60_000;

/// The time window the evidence must cover: `since` inclusive, `until`
/// exclusive; an open end takes the inputs' own range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Start (inclusive), UTC milliseconds.
    pub since: Option<Millis>,
    /// End (exclusive), UTC milliseconds.
    pub until: Option<Millis>,
    /// Longest silence of the inputs that still counts as covered.
    pub max_gap: Millis,
}

/// No bound: all the evidence counts.
pub const UNBOUNDED: Window = Window {
    since: None,
    until: None,
    max_gap: DEFAULT_MAX_GAP,
};

impl Default for Window {
    fn default() -> Self {
        UNBOUNDED
    }
}

/// A bad `--since`, `--until`, `--window` or `--max-gap`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// Not a date or time.
    #[error(
        "`{0}` is not a time: write 2026-11-01, 2026-11-01T10:00:00Z or 2026-11-01 10:00:00+02"
    )]
    Time(String),
    /// Not a duration.
    #[error("`{0}` is not a duration: write a number and a unit, e.g. 30m, 12h, 7d, 2w")]
    Duration(String),
    /// `--since`, `--until` and `--window` all given.
    #[error("give at most two of --since, --until and --window")]
    Overdetermined,
    /// Empty window.
    #[error("the window is empty: --since must be before --until")]
    Empty,
}

/// Parses `30m`, `12h`, `7d`, `2w` (also `90s`).
pub fn parse_duration(s: &str) -> Result<Millis, WindowError> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| WindowError::Duration(s.to_string()))?;
    let (n, unit) = t.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| WindowError::Duration(s.to_string()))?;
    let unit_ms = match unit {
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(WindowError::Duration(s.to_string())),
    };
    n.checked_mul(unit_ms)
        .filter(|&ms| ms > 0)
        .ok_or_else(|| WindowError::Duration(s.to_string()))
}

/// Parses a `--since`/`--until` value (a date means its midnight UTC; a
/// time without a zone is UTC).
pub fn parse_instant(s: &str) -> Result<Millis, WindowError> {
    match parse_timestamp(s) {
        Some(p) if p.zone_known && s.trim().len() >= 10 => Ok(p.millis),
        _ => Err(WindowError::Time(s.to_string())),
    }
}

impl Window {
    /// Builds the window from the flags; `now` is the clock (injected for
    /// tests). `--window D` alone means the last D up to now.
    pub fn from_flags(
        since: Option<&str>,
        until: Option<&str>,
        window: Option<&str>,
        max_gap: Option<&str>,
        now: Millis,
    ) -> Result<Window, WindowError> {
        let since_t = since.map(parse_instant).transpose()?;
        let until_t = until.map(parse_instant).transpose()?;
        let len = window.map(parse_duration).transpose()?;
        let (since, until) = match (since_t, until_t, len) {
            (Some(_), Some(_), Some(_)) => return Err(WindowError::Overdetermined),
            (s, u, None) => (s, u),
            (Some(s), None, Some(d)) => (Some(s), Some(s + d)),
            (None, Some(u), Some(d)) => (Some(u - d), Some(u)),
            (None, None, Some(d)) => (Some(now - d), Some(now)),
        };
        if let (Some(s), Some(u)) = (since, until) {
            if s >= u {
                return Err(WindowError::Empty);
            }
        }
        Ok(Window {
            since,
            until,
            max_gap: max_gap
                .map(parse_duration)
                .transpose()?
                .unwrap_or(DEFAULT_MAX_GAP),
        })
    }

    /// True when no bound is set.
    pub fn is_unbounded(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    /// Whether a statement at `t` counts. Statements without a time always
    /// count: they cannot be placed outside the window.
    pub fn admits(&self, t: Option<Millis>) -> bool {
        let Some(t) = t else { return true };
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }

    /// The window in words, for reports.
    pub fn describe(&self) -> String {
        match (self.since, self.until) {
            (None, None) => "all the evidence".to_string(),
            (Some(s), None) => format!("from {}", format_rfc3339(s)),
            (None, Some(u)) => format!("until {}", format_rfc3339(u)),
            (Some(s), Some(u)) => format!("{} to {}", format_rfc3339(s), format_rfc3339(u)),
        }
    }

    /// The stretches of the window (longer than `max_gap`) that no timed
    /// input covers, given each input's time range and silences. An open
    /// end of the window takes the inputs' earliest or latest time.
    /// Returns `None` when no input has times at all.
    pub fn uncovered<'a>(
        &self,
        inputs: impl IntoIterator<Item = &'a FileCoverage>,
    ) -> Option<Vec<(Millis, Millis)>> {
        // Covered intervals: each input's range minus its silences.
        let mut covered: Vec<(Millis, Millis)> = Vec::new();
        for c in inputs {
            let (Some(first), Some(last)) = (c.first_time, c.last_time) else {
                continue;
            };
            let mut silences: Vec<(Millis, Millis)> = c
                .silences
                .iter()
                .copied()
                .filter(|(a, b)| b - a > self.max_gap)
                .collect();
            silences.sort();
            let mut start = first;
            for (a, b) in silences {
                if a > start {
                    covered.push((start, a));
                }
                start = start.max(b);
            }
            covered.push((start, last.max(start)));
        }
        if covered.is_empty() {
            return None;
        }
        covered.sort();
        let lo = self
            .since
            .or_else(|| covered.first().map(|c| c.0))
            .unwrap_or_default();
        let hi = self
            .until
            .unwrap_or_else(|| covered.iter().map(|c| c.1).max().unwrap_or(lo));
        let mut gaps = Vec::new();
        let mut reach = lo;
        for (a, b) in covered {
            if a > reach && a.min(hi) - reach > self.max_gap {
                gaps.push((reach, a.min(hi)));
            }
            reach = reach.max(b);
            if reach >= hi {
                break;
            }
        }
        if hi - reach > self.max_gap {
            gaps.push((reach, hi));
        }
        Some(gaps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Millis = 3_600_000;
    const DAY: Millis = 24 * H;

    fn cov(first: Millis, last: Millis, silences: &[(Millis, Millis)]) -> FileCoverage {
        FileCoverage {
            first_time: Some(first),
            last_time: Some(last),
            silences: silences.to_vec(),
            ..FileCoverage::default()
        }
    }

    #[test]
    fn durations_and_instants() {
        assert_eq!(parse_duration("7d"), Ok(7 * DAY));
        assert_eq!(parse_duration("12h"), Ok(12 * H));
        assert_eq!(parse_duration("2w"), Ok(14 * DAY));
        assert!(parse_duration("7").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("0d").is_err());
        assert_eq!(parse_instant("1970-01-02"), Ok(DAY));
        assert_eq!(parse_instant("1970-01-02T01:00:00+01:00"), Ok(DAY));
        assert!(parse_instant("yesterday").is_err());
    }

    #[test]
    fn window_flag_alone_ends_now() {
        let w = Window::from_flags(None, None, Some("7d"), None, 10 * DAY).unwrap();
        assert_eq!((w.since, w.until), (Some(3 * DAY), Some(10 * DAY)));
        let w = Window::from_flags(Some("1970-01-02"), None, Some("1d"), None, 0).unwrap();
        assert_eq!((w.since, w.until), (Some(DAY), Some(2 * DAY)));
        assert_eq!(
            Window::from_flags(Some("1970-01-02"), Some("1970-01-01"), None, None, 0),
            Err(WindowError::Empty)
        );
        assert_eq!(
            Window::from_flags(Some("1970-01-02"), Some("1970-01-03"), Some("1d"), None, 0),
            Err(WindowError::Overdetermined)
        );
    }

    #[test]
    fn admits_is_since_inclusive_until_exclusive_and_keeps_untimed() {
        let w = Window {
            since: Some(10),
            until: Some(20),
            max_gap: H,
        };
        assert!(w.admits(Some(10)));
        assert!(!w.admits(Some(20)));
        assert!(!w.admits(Some(9)));
        assert!(w.admits(None));
    }

    #[test]
    fn uncovered_stretches_at_the_start_between_inputs_and_in_silences() {
        let w = Window {
            since: Some(0),
            until: Some(10 * DAY),
            max_gap: H,
        };
        // Day 1-4 and day 5-10 (a one-day hole), and a 3-hour silence on day 7.
        let a = cov(DAY, 4 * DAY, &[]);
        let b = cov(5 * DAY, 10 * DAY, &[(7 * DAY, 7 * DAY + 3 * H)]);
        assert_eq!(
            w.uncovered([&a, &b]),
            Some(vec![
                (0, DAY),
                (4 * DAY, 5 * DAY),
                (7 * DAY, 7 * DAY + 3 * H)
            ])
        );
        // Overlapping inputs cover each other's silences; short edges are fine.
        let c = cov(30 * 60_000, 10 * DAY - 30 * 60_000, &[]);
        assert_eq!(w.uncovered([&b, &c]), Some(vec![]));
        assert_eq!(w.uncovered([&FileCoverage::default()]), None);
    }

    #[test]
    fn open_window_takes_the_inputs_range() {
        let w = Window::default();
        let a = cov(DAY, 2 * DAY, &[]);
        let b = cov(3 * DAY, 4 * DAY, &[]);
        assert_eq!(w.uncovered([&a, &b]), Some(vec![(2 * DAY, 3 * DAY)]));
    }
}
