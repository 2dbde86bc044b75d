//! The `log_line_prefix` compiler: turns a PostgreSQL prefix such as
//! `%m [%p] %q%u@%d ` into a byte-level matcher (see
//! [`super::prefix_match`]) and a regular expression that split a stderr log
//! line into its prefix fields, severity and message. The matcher reads
//! every ordinary line; the regex defines the result and decides the lines
//! the matcher cannot.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use regex::Regex;

use super::prefix_match::{Matcher, Outcome, Piece, BACKEND_TYPES};

/// A prefix field that pgcontract uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `%a`
    Application,
    /// `%u`
    User,
    /// `%d`
    Database,
    /// `%h`
    Host,
    /// `%r` (host and optional `(port)`)
    RemoteHostPort,
    /// `%p`
    Pid,
    /// `%t`, `%m` (log time with zone)
    Time,
    /// `%n` (epoch)
    EpochTime,
    /// `%c`
    Session,
}

/// A compiled prefix.
#[derive(Debug, Clone)]
pub struct Prefix {
    /// The prefix as given.
    pub source: String,
    regex: Regex,
    fields: Vec<(usize, Field)>,
    severity_group: usize,
    message_group: usize,
    pub(crate) matcher: Matcher,
    /// The field each capturing piece of `matcher` is.
    piece_fields: Vec<(usize, Field)>,
}

/// Error compiling a prefix.
#[derive(Debug, thiserror::Error)]
#[error("log_line_prefix `{prefix}` cannot be compiled: {message}")]
pub struct PrefixError {
    prefix: String,
    message: String,
}

/// Fields of one line split by a [`Prefix`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LineParts<'a> {
    /// `%a`
    pub application: Option<&'a str>,
    /// `%u`
    pub user: Option<&'a str>,
    /// `%d`
    pub database: Option<&'a str>,
    /// `%h` or the host of `%r`
    pub client: Option<&'a str>,
    /// `%p`
    pub pid: Option<&'a str>,
    /// `%t`/`%m`/`%n` text
    pub time: Option<&'a str>,
    /// `%c`
    pub session: Option<&'a str>,
    /// `LOG`, `ERROR`, `STATEMENT`, …
    pub severity: &'a str,
    /// The message after `SEVERITY:  ` (verbose SQLSTATE removed).
    pub message: &'a str,
}

const SEVERITIES: &str =
    "DEBUG[1-5]?|INFO|NOTICE|WARNING|ERROR|LOG|FATAL|PANIC|DETAIL|HINT|QUERY|CONTEXT|LOCATION|STATEMENT|BACKTRACE";

/// A timestamp as `%t` prints it, with an optional zone.
const TS: &str = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[ ]?(?:[A-Za-z][A-Za-z0-9/_+\-]{0,30}|[+\-]\d{2}(?::?\d{2})?))?";
const TS_MS: &str = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}\.\d{1,6}(?:[ ]?(?:[A-Za-z][A-Za-z0-9/_+\-]{0,30}|[+\-]\d{2}(?::?\d{2})?))?";

impl Prefix {
    /// Compiles a `log_line_prefix` value.
    pub fn compile(prefix: &str) -> Result<Self, PrefixError> {
        let mut pattern = String::from("^");
        let mut fields = Vec::new();
        let mut group = 0usize;
        let mut optional_tail = false;
        let mut pieces: Vec<Piece> = Vec::new();
        let mut piece_fields = Vec::new();
        let mut optional_from = None;
        let mut literal = String::new();
        let chars: Vec<char> = prefix.chars().collect();
        let mut i = 0;
        while let Some(&c) = chars.get(i) {
            if c != '%' {
                pattern.push_str(&regex::escape(&c.to_string()));
                literal.push(c);
                i += 1;
                continue;
            }
            i += 1;
            // Padding: %-10u or %10u.
            let mut padded = false;
            if chars
                .get(i)
                .is_some_and(|c| *c == '-' || c.is_ascii_digit())
            {
                padded = true;
                if chars.get(i) == Some(&'-') {
                    i += 1;
                }
                while chars.get(i).is_some_and(char::is_ascii_digit) {
                    i += 1;
                }
            }
            let Some(&esc) = chars.get(i) else { break };
            i += 1;
            if !literal.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(&mut literal).into()));
            }
            let scanner = match esc {
                'a' | 'u' | 'd' | 'i' => Some(Piece::Lazy),
                'h' => Some(Piece::Host),
                'r' => Some(Piece::HostPort),
                'L' => Some(Piece::LocalOrWord),
                'b' => Some(Piece::BackendType),
                'p' | 'l' | 'x' => Some(Piece::Digits),
                'P' => Some(Piece::DigitsOpt),
                't' | 's' => Some(Piece::Time),
                'm' => Some(Piece::TimeMs),
                'n' => Some(Piece::Epoch),
                'e' => Some(Piece::Sqlstate),
                'c' => Some(Piece::Session),
                'v' => Some(Piece::Vxid),
                'Q' => Some(Piece::SignedDigits),
                '%' => Some(Piece::Lit("%".into())),
                _ => None,
            };
            let (piece, field): (String, Option<Field>) = match esc {
                'a' => ("(.*?)".into(), Some(Field::Application)),
                'u' => ("(.*?)".into(), Some(Field::User)),
                'd' => ("(.*?)".into(), Some(Field::Database)),
                'h' => (r"(\[local\]|[^\s()]*?)".into(), Some(Field::Host)),
                'r' => (
                    r"(\[local\]|[^\s()]*?(?:\(\d+\))?)".into(),
                    Some(Field::RemoteHostPort),
                ),
                'L' => (r"(?:\[local\]|[^\s]*?)".into(), None),
                // PostgreSQL's own backend types first (so that a lazy
                // neighbour cannot take a word of them), then any name
                // (background workers of extensions name themselves).
                'b' => (
                    format!(
                        "(?:{}|.*?)",
                        BACKEND_TYPES
                            .iter()
                            .map(|t| regex::escape(t))
                            .collect::<Vec<_>>()
                            .join("|")
                    ),
                    None,
                ),
                'p' => (r"(\d+)".into(), Some(Field::Pid)),
                'P' => (r"(?:\d*)".into(), None),
                't' => (format!("({TS})"), Some(Field::Time)),
                'm' => (format!("({TS_MS})"), Some(Field::Time)),
                's' => (format!("(?:{TS})"), None),
                'n' => (r"(\d+\.\d+)".into(), Some(Field::EpochTime)),
                'i' => (r"(?:.*?)".into(), None),
                'e' => (r"(?:[0-9A-Z]{5})".into(), None),
                'c' => (r"([0-9a-f]+\.[0-9a-f]+)".into(), Some(Field::Session)),
                'l' => (r"(?:\d+)".into(), None),
                'v' => (r"(?:\d+/\d+|)".into(), None),
                'x' => (r"(?:\d+)".into(), None),
                'Q' => (r"(?:-?\d+)".into(), None),
                '%' => ("%".into(), None),
                'q' => {
                    pattern.push_str("(?:");
                    optional_tail = true;
                    optional_from = Some(pieces.len());
                    continue;
                }
                // PostgreSQL prints nothing for unknown escapes.
                _ => (String::new(), None),
            };
            if padded {
                pattern.push_str(" *");
                pieces.push(Piece::Spaces);
            }
            if let Some(f) = field {
                group += 1;
                fields.push((group, f));
                piece_fields.push((pieces.len(), f));
            }
            if let Some(p) = scanner {
                pieces.push(p);
            }
            pattern.push_str(&piece);
            if padded {
                pattern.push_str(" *");
                pieces.push(Piece::Spaces);
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Lit(literal.into()));
        }
        if optional_tail {
            pattern.push_str(")?");
        }
        // Some platforms (RDS) put no space between the prefix and the
        // severity; the severity is followed by a colon and two spaces.
        // A verbose SQLSTATE always has a digit: `AUDIT:` (pgAudit) is not one.
        pattern.push_str(&format!(r"({SEVERITIES}):  ?(?:{SQLSTATE}:  ?)?"));
        let severity_group = group + 1;
        pattern.push_str("(.*)$");
        let message_group = group + 2;
        let regex = Regex::new(&format!("(?s){pattern}")).map_err(|e| PrefixError {
            prefix: prefix.to_string(),
            message: e.to_string(),
        })?;
        Ok(Self {
            source: prefix.to_string(),
            regex,
            fields,
            severity_group,
            message_group,
            matcher: Matcher {
                pieces,
                optional_from,
            },
            piece_fields,
        })
    }

    /// [`Prefix::compile`] for the built-in prefixes that detection tries,
    /// compiled once per process: detection runs once per input, and a scan
    /// of many small files would otherwise compile every candidate again
    /// for each of them.
    pub fn compile_known(prefix: &'static str) -> Result<Self, PrefixError> {
        static CACHE: OnceLock<Mutex<HashMap<&'static str, Prefix>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Mutex::default);
        if let Some(p) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(prefix) {
            return Ok(p.clone());
        }
        let p = Self::compile(prefix)?;
        cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(prefix, p.clone());
        Ok(p)
    }

    /// Does this prefix name the actor fields?
    pub fn has_field(&self, f: Field) -> bool {
        self.fields.iter().any(|(_, x)| *x == f)
    }

    /// Splits a line, or `None` when it does not start with this prefix.
    pub fn split<'a>(&self, line: &'a str) -> Option<LineParts<'a>> {
        match self.matcher.run(line) {
            Outcome::Match(spans) => {
                // The matcher's spans are at character boundaries; a span
                // that were not would make the line fall to the regex.
                let (Some(severity), Some(message)) = (
                    line.get(spans.severity.0..spans.severity.1),
                    line.get(spans.message..),
                ) else {
                    return self.split_regex(line);
                };
                let mut parts = LineParts {
                    severity,
                    message,
                    ..LineParts::default()
                };
                for (i, f) in &self.piece_fields {
                    if let Some(Some((a, b))) = spans.pieces.get(*i) {
                        let Some(v) = line.get(*a..*b) else {
                            return self.split_regex(line);
                        };
                        set_field(&mut parts, *f, v);
                    }
                }
                super::prefix_match::recycle(spans.pieces);
                Some(parts)
            }
            Outcome::NoMatch => None,
            Outcome::Unsure => self.split_regex(line),
        }
    }

    /// [`Prefix::split`] by the regular expression alone.
    pub(crate) fn split_regex<'a>(&self, line: &'a str) -> Option<LineParts<'a>> {
        let caps = self.regex.captures(line)?;
        let mut parts = LineParts {
            severity: caps.get(self.severity_group)?.as_str(),
            message: caps.get(self.message_group)?.as_str(),
            ..LineParts::default()
        };
        for (g, f) in &self.fields {
            let Some(m) = caps.get(*g) else { continue };
            set_field(&mut parts, *f, m.as_str());
        }
        Some(parts)
    }
}

/// Sets a field from its captured text (trimmed; empty and `[unknown]` are
/// absent; the first capture of a field wins).
fn set_field<'a>(parts: &mut LineParts<'a>, f: Field, raw: &'a str) {
    // Most values start and end with an ASCII character that is not
    // whitespace: nothing to trim.
    let b = raw.as_bytes();
    let plain = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii() && !char::from(*c).is_whitespace());
    let v = if plain(b.first()) && plain(b.last()) {
        raw
    } else {
        raw.trim()
    };
    let v = if v.is_empty() || v == "[unknown]" {
        None
    } else {
        Some(v)
    };
    match f {
        Field::Application => parts.application = parts.application.or(v),
        Field::User => parts.user = parts.user.or(v),
        Field::Database => parts.database = parts.database.or(v),
        Field::Host => parts.client = parts.client.or(v),
        Field::RemoteHostPort => {
            let host = v.map(|s| match s.find('(') {
                Some(p) if s.ends_with(')') => s.get(..p).unwrap_or(s),
                _ => s,
            });
            parts.client = parts.client.or(host.filter(|h| !h.is_empty()));
        }
        Field::Pid => parts.pid = parts.pid.or(v),
        Field::Time | Field::EpochTime => parts.time = parts.time.or(v),
        Field::Session => parts.session = parts.session.or(v),
    }
}

/// Five characters, digits and upper-case letters, at least one digit.
const SQLSTATE: &str =
    "(?:[0-9][0-9A-Z]{4}|[A-Z][0-9][0-9A-Z]{3}|[A-Z]{2}[0-9][0-9A-Z]{2}|[A-Z]{3}[0-9][0-9A-Z]|[A-Z]{4}[0-9])";

/// Prefixes tried, in order, when none is given: the default, AWS RDS, the
/// Debian/Ubuntu package default, the pganalyze/Azure recommendation,
/// pgBadger's recommended ones and their common shorter variants. A shorter
/// `key=value` list comes after the longer ones it is a beginning of: on a
/// line whose later values are empty both capture as many fields, and the
/// earlier one wins (the shorter one would read `shop,app=,client=` as the
/// database).
pub const KNOWN_PREFIXES: &[&str] = &[
    "%m [%p] ",
    "%t:%r:%u@%d:[%p]:",
    "%m [%p] %q%u@%d ",
    "%m [%p] %q[user=%u,db=%d,app=%a] ",
    "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: [%l-1] user=%u,db=%d ",
    "%m [%p] user=%u,db=%d,app=%a,client=%h ",
    "%m [%p] %q%u@%d/%a ",
    "%m [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "%t [%p-%l] %q%u@%d ",
    "%t [%p] user=%u,db=%d,app=%a,client=%h ",
    "%m [%p] [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: [%l-1] user=%u,db=%d,app=%a ",
    "%m [%p] user=%u,db=%d,app=%a ",
    "%m [%p] user=%u,db=%d ",
    "%t [%p]: [%l-1] db=%d,user=%u ",
    "%t [%p] ",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_db_prefix_without_app_is_detected() {
        // regression: `%m [%p] user=%u,db=%d ` (fixtures/search_path) was not
        // in the list, and no known prefix matched its lines.
        let sample = [
            "2026-11-22 00:46:50.861 UTC [10946] user=,db= LOG:  starting PostgreSQL 15",
            "2026-11-22 00:46:51.001 UTC [10950] user=app,db=shop LOG:  statement: select 1",
        ];
        let p = crate::input::stderr::detect_prefix(&sample).unwrap();
        assert_eq!(p.source, "%m [%p] user=%u,db=%d ");
        let f = p.split(sample[1]).unwrap();
        assert_eq!((f.user, f.database), (Some("app"), Some("shop")));
    }

    #[test]
    fn longer_key_value_prefix_wins_when_its_later_values_are_empty() {
        let sample = [
            "2026-11-22 00:46:51.001 UTC [10950] user=app,db=shop,app=,client= LOG:  statement: select 1",
            "2026-11-22 00:46:51.002 UTC [10951] user=etl,db=shop,app=cron,client=10.0.0.5 LOG:  statement: select 2",
        ];
        let p = crate::input::stderr::detect_prefix(&sample).unwrap();
        assert_eq!(p.source, "%m [%p] user=%u,db=%d,app=%a,client=%h ");
        // Only lines whose app and client are empty (a server's start): the
        // shorter prefixes would read `,client=` as the application.
        let only_empty = [
            sample[0],
            "2026-11-22 00:34:01.922 UTC [15160] user=,db=,app=,client= LOG:  starting PostgreSQL 15",
        ];
        let p = crate::input::stderr::detect_prefix(&only_empty).unwrap();
        assert_eq!(p.source, "%m [%p] user=%u,db=%d,app=%a,client=%h ");
        assert_eq!(p.split(sample[0]).unwrap().database, Some("shop"));
        assert!(p
            .split(sample[0])
            .unwrap()
            .application
            .is_none_or(str::is_empty));
    }

    #[test]
    fn pgaudit_word_is_not_a_verbose_sqlstate() {
        let p = Prefix::compile("%m [%p] ").unwrap();
        let a = p
            .split("2024-01-01 00:00:00.000 UTC [7] LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,SELECT 1,<none>")
            .unwrap();
        assert_eq!(
            a.message,
            "AUDIT: SESSION,1,1,READ,SELECT,,,SELECT 1,<none>"
        );
        let v = p
            .split("2024-01-01 00:00:00.000 UTC [7] ERROR:  42P01: relation \"t\" does not exist")
            .unwrap();
        assert_eq!(v.message, "relation \"t\" does not exist");
    }

    #[test]
    fn default_prefix() {
        let p = Prefix::compile("%m [%p] ").unwrap();
        let l = p
            .split("2024-06-27 00:00:07.369 UTC [58151] LOG:  statement: SELECT 1")
            .unwrap();
        assert_eq!(l.pid, Some("58151"));
        assert_eq!(l.time, Some("2024-06-27 00:00:07.369 UTC"));
        assert_eq!(l.severity, "LOG");
        assert_eq!(l.message, "statement: SELECT 1");
    }

    #[test]
    fn rds_prefix_without_space_before_severity() {
        let p = Prefix::compile("%t:%r:%u@%d:[%p]:").unwrap();
        let l = p
            .split("2018-08-22 16:00:04 UTC:ec2-1-1-1-1.compute-1.amazonaws.com(48808):myuser@mydb:[18762]:LOG:  duration: 3668.685 ms  execute <unnamed>: SELECT 1")
            .unwrap();
        assert_eq!(l.client, Some("ec2-1-1-1-1.compute-1.amazonaws.com"));
        assert_eq!(l.user, Some("myuser"));
        assert_eq!(l.database, Some("mydb"));
        assert_eq!(l.pid, Some("18762"));
        let bg = p
            .split("2018-09-18 21:13:15 UTC::@:[8097]:FATAL:  terminating")
            .unwrap();
        assert_eq!(bg.user, None);
        assert_eq!(bg.client, None);
    }

    #[test]
    fn q_makes_the_tail_optional_and_unknown_is_none() {
        let p = Prefix::compile("%m [%p] %q%u@%d ").unwrap();
        let bg = p
            .split("2024-01-01 00:00:00.000 UTC [7] LOG:  checkpoint starting: time")
            .unwrap();
        assert_eq!(bg.user, None);
        let s = p
            .split("2024-01-01 00:00:00.000 UTC [7] [unknown]@app LOG:  x")
            .unwrap();
        assert_eq!(s.user, None);
        assert_eq!(s.database, Some("app"));
    }

    #[test]
    fn padding_and_verbose_sqlstate() {
        let p = Prefix::compile("%m [%-6p] %-10u ").unwrap();
        let l = p
            .split(
                "2024-01-01 00:00:00.000 UTC [42    ] alice      LOG:  00000: statement: SELECT 1",
            )
            .unwrap();
        assert_eq!(l.pid, Some("42"));
        assert_eq!(l.user, Some("alice"));
        assert_eq!(l.message, "statement: SELECT 1");
    }

    #[test]
    fn every_escape_in_one_prefix() {
        let p = Prefix::compile("%a|%u|%d|%r|%h|%L|%b|%p|%P|%t|%m|%n|%i|%e|%c|%l|%s|%v|%x|%Q|%%|")
            .unwrap();
        let l = p
            .split(concat!(
                "my app|alice|shop|::1(5432)|::1|10.0.0.1|client backend|4242|4240|",
                "2024-06-27 00:00:07 CEST|2024-06-27 00:00:07.369 CEST|1719439207.369|",
                "SELECT|00000|667c8f67.e327|12|2024-06-26 23:59:00 CEST|3/77|0|-123456789|%|",
                "LOG:  statement: SELECT 1"
            ))
            .unwrap();
        assert_eq!(l.application, Some("my app"));
        assert_eq!(l.user, Some("alice"));
        assert_eq!(l.database, Some("shop"));
        assert_eq!(l.client, Some("::1"));
        assert_eq!(l.pid, Some("4242"));
        assert_eq!(l.time, Some("2024-06-27 00:00:07 CEST"));
        assert_eq!(l.session, Some("667c8f67.e327"));
        assert_eq!(l.message, "statement: SELECT 1");
    }

    #[test]
    fn names_with_at_dot_dash_space_and_non_ascii() {
        let p = Prefix::compile("%m [%p] user=%u,db=%d,app=%a,client=%h ").unwrap();
        let l = p
            .split("2024-01-01 00:00:00.000 +03 [9] user=ops.bot-1@corp,db=Bücher und Co,app=Jörg's tool,client=2001:db8::7 LOG:  x")
            .unwrap();
        assert_eq!(l.user, Some("ops.bot-1@corp"));
        assert_eq!(l.database, Some("Bücher und Co"));
        assert_eq!(l.application, Some("Jörg's tool"));
        assert_eq!(l.client, Some("2001:db8::7"));
        assert_eq!(l.time, Some("2024-01-01 00:00:00.000 +03"));
        let empty = p
            .split("2024-01-01 00:00:00.000 Europe/Berlin [9] user=,db=,app=,client= LOG:  x")
            .unwrap();
        assert_eq!(
            (empty.user, empty.database, empty.client),
            (None, None, None)
        );
    }

    #[test]
    fn epoch_time_session_and_right_padding() {
        let p = Prefix::compile("%n %c %10u %-8d|").unwrap();
        let l = p
            .split(
                "1719439207.369 667c8f67.e327      alice shop    |ERROR:  22012: division by zero",
            )
            .unwrap();
        assert_eq!(l.time, Some("1719439207.369"));
        assert_eq!(l.session, Some("667c8f67.e327"));
        assert_eq!(l.user, Some("alice"));
        assert_eq!(l.database, Some("shop"));
        assert_eq!(l.severity, "ERROR");
        assert_eq!(l.message, "division by zero");
    }

    #[test]
    fn q_with_line_number_and_backend_type_of_a_background_process() {
        let p = Prefix::compile("%m [%p] %b %l %q%u@%d/%a ").unwrap();
        let bg = p
            .split("2024-01-01 00:00:00.000 UTC [7] TimescaleDB Background Worker Scheduler 3 LOG:  started")
            .unwrap();
        assert_eq!((bg.user, bg.database), (None, None));
        assert_eq!(bg.message, "started");
        let s = p
            .split("2024-01-01 00:00:00.000 UTC [8] client backend 14 bob@db/psql LOG:  statement: SELECT 1")
            .unwrap();
        assert_eq!(
            (s.user, s.database, s.application),
            (Some("bob"), Some("db"), Some("psql"))
        );
    }

    #[test]
    fn verbose_location_line() {
        let p = Prefix::compile("%m [%p] ").unwrap();
        let l = p
            .split("2024-01-01 00:00:00.000 UTC [7] LOCATION:  exec_simple_query, postgres.c:1071")
            .unwrap();
        assert_eq!(l.severity, "LOCATION");
    }

    #[test]
    fn non_matching_line_is_none() {
        let p = Prefix::compile("%m [%p] ").unwrap();
        assert!(p.split("\tcontinuation").is_none());
        assert!(p
            .split("2024-01-01 00:00:00 UTC:x(1):u@d:[1]:LOG:  x")
            .is_none());
    }

    #[test]
    fn compile_known_is_compile_cached() {
        let line = "2026-11-21 10:00:00 UTC:10.0.0.1(5432):app@shop:[42]:LOG:  statement: select 1";
        for _ in 0..2 {
            let cached = Prefix::compile_known("%t:%r:%u@%d:[%p]:").unwrap();
            let fresh = Prefix::compile("%t:%r:%u@%d:[%p]:").unwrap();
            assert_eq!(cached.source, fresh.source);
            assert_eq!(cached.split(line), fresh.split(line));
            assert_eq!(cached.split(line).unwrap().database, Some("shop"));
        }
    }
}
