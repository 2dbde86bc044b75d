//! Reader for PostgreSQL logs written through syslog (`log_destination =
//! syslog`) as a syslog daemon stores them: BSD (`Nov 21 23:44:38 host
//! postgres[123]: [6-1] …`) or ISO (`2026-11-21T23:44:38.708+00:00 host
//! postgres[123]: [6-1] …`) headers. PostgreSQL numbers each message
//! `[seq-chunk]` and sends every line, and every 900-byte piece of a long
//! line, as a chunk of its own; the chunks are put back together per process,
//! `#011` (the daemon's escape for a tab) is turned back into a tab, and the
//! text after the header is split with the `log_line_prefix` machinery.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::BufRead;
use std::sync::OnceLock;

use regex::Regex;

use super::prefix::{Field, Prefix, KNOWN_PREFIXES};
use super::LogEntry;
use crate::inventory::FileCoverage;
use crate::time::{parse_timestamp, Millis};

/// PostgreSQL's `PG_SYSLOG_LIMIT`: the longest chunk it sends.
pub const PG_SYSLOG_LIMIT: usize = 900;

/// Longest message kept in memory; longer ones are cut.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Messages of at most this many processes are assembled at once.
const MAX_OPEN_MESSAGES: usize = 4096;

/// `log_line_prefix` values commonly used with syslog (the header already
/// has the time and pid), tried before the stderr ones; the empty prefix
/// last.
pub const SYSLOG_PREFIXES: &[&str] = &[
    "[%l-1] user=%u,db=%d,app=%a,client=%h ",
    "user=%u,db=%d,app=%a,client=%h ",
    "[%l-1] user=%u,db=%d ",
    "user=%u,db=%d ",
    "%q[user=%u,db=%d,app=%a] ",
    "%q%u@%d ",
];

fn header() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(concat!(
            r"^(?:<\d{1,3}>)?",
            r"(?:(?P<bsd>[A-Z][a-z]{2} [ 0-9]\d \d{2}:\d{2}:\d{2}(?:\.\d+)?)",
            r"|(?P<iso>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?))",
            r" (?:(?P<host>\S+) )?(?P<ident>[^\s\[\]:]+)\[(?P<pid>\d+)\]: ?",
            r"(?:\[(?P<seq>\d+)-(?P<chunk>\d+)\] ?)?(?P<msg>.*)$"
        ))
        .unwrap_or_else(|e| unreachable!("static regex: {e}"))
    })
}

fn severity_in_text() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"(?:^|[\s:\]])(?:LOG|ERROR|FATAL|PANIC|WARNING|STATEMENT|DETAIL):  ")
            .unwrap_or_else(|e| unreachable!("static regex: {e}"))
    })
}

/// One syslog line, split.
struct Line<'a> {
    bsd: bool,
    time: &'a str,
    key: (&'a str, &'a str, &'a str),
    pid: &'a str,
    seq: Option<u64>,
    chunk: Option<u64>,
    msg: Cow<'a, str>,
}

fn split(line: &str) -> Option<Line<'_>> {
    let c = header().captures(line)?;
    let (bsd, time) = match (c.name("bsd"), c.name("iso")) {
        (Some(t), _) => (true, t.as_str()),
        (None, Some(t)) => (false, t.as_str()),
        _ => return None,
    };
    let host = c.name("host").map_or("", |m| m.as_str());
    let ident = c.name("ident").map_or("", |m| m.as_str());
    let pid = c.name("pid")?.as_str();
    Some(Line {
        bsd,
        time,
        key: (host, ident, pid),
        pid,
        seq: c.name("seq").and_then(|m| m.as_str().parse().ok()),
        chunk: c.name("chunk").and_then(|m| m.as_str().parse().ok()),
        msg: unescape(c.name("msg").map_or("", |m| m.as_str())),
    })
}

/// Undoes the syslog daemon's `#ooo` escapes of control characters (`#011`
/// is a tab); a newline is never in a chunk, so `#012` stays as it is.
pub fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('#') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut last = 0;
    while let Some(window) = b.get(i..i + 4) {
        let octal = match window {
            [b'#', digits @ ..] if digits.iter().all(|d| (b'0'..=b'7').contains(d)) => {
                Some(digits.iter().fold(0u32, |v, d| v * 8 + u32::from(d - b'0')))
            }
            _ => None,
        };
        if let Some(v) = octal {
            if (v < 0x20 && v != 0x0a) || v == 0x7f {
                out.push_str(s.get(last..i).unwrap_or_default());
                out.push(char::from(v as u8));
                i += 4;
                last = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(s.get(last..).unwrap_or_default());
    Cow::Owned(out)
}

/// Does the sample look like a syslog file of PostgreSQL messages?
pub fn looks_like_syslog(sample: &[&str]) -> bool {
    let Some(first) = sample.iter().find(|l| !l.trim().is_empty()) else {
        return false;
    };
    if split(first).is_none() {
        return false;
    }
    sample
        .iter()
        .filter_map(|l| split(l))
        .any(|l| severity_in_text().is_match(&l.msg))
}

/// Picks the prefix that splits the most message starts of `sample` (the
/// syslog-style ones first, then the stderr ones, then the empty prefix;
/// the earliest wins ties).
pub fn detect_inner_prefix(sample: &[&str]) -> Option<Prefix> {
    let starts: Vec<String> = sample
        .iter()
        .filter_map(|l| split(l))
        .filter(|l| l.chunk.is_none_or(|c| c == 1) && !l.msg.starts_with('\t'))
        .map(|l| l.msg.into_owned())
        .collect();
    let mut best: Option<(usize, Prefix)> = None;
    for p in SYSLOG_PREFIXES.iter().chain(KNOWN_PREFIXES).chain(&[""]) {
        let Ok(prefix) = Prefix::compile_known(p) else {
            continue;
        };
        let hits = starts.iter().filter(|m| prefix.split(m).is_some()).count();
        if hits > 0 && best.as_ref().is_none_or(|(b, _)| hits > *b) {
            best = Some((hits, prefix));
        }
    }
    best.map(|(_, p)| p)
}

/// One message being put back together from its chunks.
struct Message {
    seq: Option<u64>,
    chunk: u64,
    line: u64,
    time: Option<Millis>,
    pid: String,
    text: String,
    last_len: usize,
}

struct Reader<'p> {
    prefix: &'p Prefix,
    prefix_has_time: bool,
    prefix_has_backend: bool,
    open: HashMap<(String, String, String), Message>,
    unknown_zone_noted: bool,
    no_year_noted: bool,
}

impl Reader<'_> {
    /// Turns one assembled message into entries, as the stderr reader would.
    fn flush(
        &mut self,
        m: Message,
        cov: &mut FileCoverage,
        sink: &mut impl FnMut(LogEntry, &mut FileCoverage),
    ) {
        let mut current: Option<LogEntry> = None;
        for line in m.text.split('\n') {
            if let Some(rest) = line.strip_prefix('\t') {
                if let Some(e) = current.as_mut() {
                    e.message.push('\n');
                    e.message.push_str(rest);
                    continue;
                }
            }
            match self.prefix.split(line) {
                Some(parts) => {
                    if let Some(e) = current.take() {
                        sink(e, cov);
                    }
                    let time = if self.prefix_has_time {
                        let t = parts.time.and_then(parse_timestamp);
                        if let Some(t) = t {
                            if !t.zone_known && !self.unknown_zone_noted {
                                self.unknown_zone_noted = true;
                                cov.notes.push("a time zone abbreviation is unknown; those times were read as UTC".into());
                            }
                        }
                        t.map(|t| t.millis)
                    } else {
                        m.time
                    };
                    let backend = if self.prefix_has_backend {
                        parts.session.or(parts.pid).map(str::to_string)
                    } else {
                        None
                    };
                    current = Some(LogEntry {
                        line: m.line,
                        time,
                        backend: backend.or_else(|| Some(m.pid.clone())),
                        user: parts.user.map(str::to_string),
                        database: parts.database.map(str::to_string),
                        application: parts.application.map(str::to_string),
                        client: parts.client.map(str::to_string),
                        severity: parts.severity.to_string(),
                        message: parts.message.to_string(),
                    });
                }
                None => {
                    if line.trim().is_empty() {
                        cov.skip("blank line");
                    } else {
                        cov.skip("line does not match log_line_prefix");
                    }
                }
            }
        }
        if let Some(e) = current.take() {
            sink(e, cov);
        }
    }

    fn header_time(&mut self, l: &Line<'_>, cov: &mut FileCoverage) -> Option<Millis> {
        if self.prefix_has_time {
            return None;
        }
        if l.bsd {
            if !self.no_year_noted {
                self.no_year_noted = true;
                cov.notes.push("BSD syslog timestamps carry no year and the log_line_prefix has no time: times are not reported for this input".into());
            }
            return None;
        }
        let t = parse_timestamp(l.time)?;
        Some(t.millis)
    }
}

/// Reads syslog lines from `reader`, calling `sink` for each entry; `prefix`
/// is the `log_line_prefix` of the text after the syslog header. Returns the
/// I/O error that stopped reading, if any (everything before it has been
/// delivered). Line numbers continue from `lines_before` (a resumed read).
pub fn read_entries(
    mut reader: impl BufRead,
    prefix: &Prefix,
    lines_before: u64,
    cov: &mut FileCoverage,
    mut sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    let mut r = Reader {
        prefix,
        prefix_has_time: prefix.has_field(Field::Time) || prefix.has_field(Field::EpochTime),
        prefix_has_backend: prefix.has_field(Field::Pid) || prefix.has_field(Field::Session),
        open: HashMap::new(),
        unknown_zone_noted: false,
        no_year_noted: false,
    };
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = lines_before;
    let mut result = Ok(());
    loop {
        buf.clear();
        let n = match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                result = Err((line_no, e));
                break;
            }
        };
        line_no += 1;
        cov.lines += 1;
        cov.bytes += n as u64;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let text = match std::str::from_utf8(&buf) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => {
                cov.invalid_utf8_lines += 1;
                String::from_utf8_lossy(&buf)
            }
        };
        let Some(l) = split(&text) else {
            if text.trim().is_empty() {
                cov.skip("blank line");
            } else {
                cov.skip("line is not a syslog record");
            }
            continue;
        };
        let key = (
            l.key.0.to_string(),
            l.key.1.to_string(),
            l.key.2.to_string(),
        );
        let first = match l.chunk {
            Some(c) => c <= 1,
            None => !l.msg.starts_with('\t'),
        };
        if first {
            if let Some(m) = r.open.remove(&key) {
                r.flush(m, cov, &mut sink);
            }
            if r.open.len() >= MAX_OPEN_MESSAGES {
                if let Some(oldest) = r
                    .open
                    .iter()
                    .min_by_key(|(_, m)| m.line)
                    .map(|(k, _)| k.clone())
                {
                    if let Some(m) = r.open.remove(&oldest) {
                        r.flush(m, cov, &mut sink);
                    }
                }
            }
            let time = r.header_time(&l, cov);
            r.open.insert(
                key,
                Message {
                    seq: l.seq,
                    chunk: l.chunk.unwrap_or(1),
                    line: line_no,
                    time,
                    pid: l.pid.to_string(),
                    last_len: l.msg.len(),
                    text: l.msg.into_owned(),
                },
            );
            continue;
        }
        let prefix_matches = r.prefix.split(&l.msg).is_some();
        let Some(m) = r.open.get_mut(&key) else {
            cov.skip("syslog continuation without its first chunk");
            continue;
        };
        let follows = match (l.seq, l.chunk) {
            (Some(s), Some(c)) => m.seq == Some(s) && m.chunk + 1 == c,
            _ => m.seq.is_none(),
        };
        if !follows {
            cov.skip("syslog continuation without its first chunk");
            continue;
        }
        // A chunk either starts a new line of the message (continuation
        // lines start with a tab; DETAIL/STATEMENT lines with the prefix) or
        // carries on a line cut at PG_SYSLOG_LIMIT bytes.
        let cut = m.last_len + 3 >= PG_SYSLOG_LIMIT && !l.msg.starts_with('\t') && !prefix_matches;
        if m.text.len() + l.msg.len() < MAX_MESSAGE_BYTES {
            if !cut {
                m.text.push('\n');
            }
            m.text.push_str(&l.msg);
        }
        m.chunk = l.chunk.unwrap_or(m.chunk + 1);
        m.last_len = l.msg.len();
    }
    let mut rest: Vec<Message> = r.open.drain().map(|(_, m)| m).collect();
    rest.sort_by_key(|m| m.line);
    for m in rest {
        r.flush(m, cov, &mut sink);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, prefix: &str) -> (Vec<LogEntry>, FileCoverage) {
        let p = Prefix::compile(prefix).unwrap();
        let mut cov = FileCoverage::default();
        let mut out = Vec::new();
        read_entries(text.as_bytes(), &p, 0, &mut cov, |e, _| out.push(e)).unwrap();
        (out, cov)
    }

    const BSD: &str = "\
Nov 21 23:44:38 vm postgres[12570]: [6-1] user=alice,db=app,app=psql,client=127.0.0.1 LOG:  statement: SELECT 1,
Nov 21 23:44:38 vm postgres[12572]: [6-1] user=bob,db=app,app=psql,client=::1 LOG:  statement: SELECT 1/0
Nov 21 23:44:38 vm postgres[12570]: [6-2] #011 2 AS x,#011#011y
Nov 21 23:44:38 vm postgres[12572]: [7-1] user=bob,db=app,app=psql,client=::1 ERROR:  division by zero
Nov 21 23:44:38 vm postgres[12572]: [7-2] user=bob,db=app,app=psql,client=::1 STATEMENT:  SELECT 1/0
Nov 21 23:44:38 vm CRON[1]: (root) CMD (true)
";

    #[test]
    fn bsd_chunks_are_reassembled_per_process() {
        assert!(looks_like_syslog(&BSD.lines().collect::<Vec<_>>()));
        let p = detect_inner_prefix(&BSD.lines().collect::<Vec<_>>()).unwrap();
        assert_eq!(p.source, "user=%u,db=%d,app=%a,client=%h ");
        let (out, cov) = read(BSD, "user=%u,db=%d,app=%a,client=%h ");
        let got: Vec<(&str, &str, &str, u64)> = out
            .iter()
            .map(|e| {
                (
                    e.backend.as_deref().unwrap(),
                    e.severity.as_str(),
                    e.message.as_str(),
                    e.line,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("12572", "LOG", "statement: SELECT 1/0", 2),
                ("12570", "LOG", "statement: SELECT 1,\n 2 AS x,\t\ty", 1),
                ("12572", "ERROR", "division by zero", 4),
                ("12572", "STATEMENT", "SELECT 1/0", 4),
            ]
        );
        assert_eq!(out[3].client.as_deref(), Some("::1"));
        assert!(out.iter().all(|e| e.time.is_none()));
        assert_eq!(cov.skipped["line does not match log_line_prefix"], 1);
        assert_eq!(cov.lines, 6);
        assert!(cov.notes[0].contains("no year"));
    }

    #[test]
    fn iso_header_gives_the_time_and_long_lines_are_joined_without_a_break() {
        let long = format!(
            "LOG:  statement: SELECT {}",
            "x".repeat(PG_SYSLOG_LIMIT - 24)
        );
        assert_eq!(long.len(), PG_SYSLOG_LIMIT);
        let text = format!(
            "2026-11-21T23:44:38.708394+01:00 vm postgres[7]: [3-1] {long}\n2026-11-21T23:44:38.708400+01:00 vm postgres[7]: [3-2] yz FROM t\n2026-11-21T23:44:39+01:00 vm postgres[7]: [3-3] DETAIL:  parameters: $1 = 'secret'\n"
        );
        let (out, cov) = read(&text, "");
        assert_eq!(out.len(), 2);
        assert!(
            out[0].message.ends_with("xxyz FROM t"),
            "{}",
            out[0].message
        );
        assert_eq!(out[0].time, Some(1_795_301_078_708));
        assert_eq!(out[1].severity, "DETAIL");
        assert!(cov.errors.is_empty() && cov.skipped.is_empty());
    }

    #[test]
    fn orphan_continuation_is_counted() {
        let (out, cov) = read(
            "Nov  1 00:00:00 h postgres[9]: [4-2] #011FROM t\nnot syslog at all\n",
            "",
        );
        assert!(out.is_empty());
        assert_eq!(
            cov.skipped["syslog continuation without its first chunk"],
            1
        );
        assert_eq!(cov.skipped["line is not a syslog record"], 1);
    }

    #[test]
    fn unescape_only_control_characters() {
        assert_eq!(unescape("a#011b#012c#1234#377"), "a\tb#012c#1234#377");
    }
}
