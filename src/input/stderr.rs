//! Reader for PostgreSQL stderr logs: splits lines with a compiled
//! `log_line_prefix`, joins continuation lines (which PostgreSQL starts with a
//! tab) back onto their entry, and detects the prefix when none is given.

use std::io::BufRead;

use super::prefix::{Prefix, KNOWN_PREFIXES};
use super::record::set_pooled;
use super::LogEntry;
use crate::inventory::FileCoverage;
use crate::time::TimeMemo;

/// Picks the known prefix that matches the most non-continuation lines of
/// `sample` (the earliest listed wins ties). `None` if none matches any.
pub fn detect_prefix(sample: &[&str]) -> Option<Prefix> {
    // Best: the most lines matched; on a tie, the most fields actually
    // captured (`%u@%d/%a ` must beat `%u@%d `, which would read `shop/web`
    // as the database, while a `%q` prefix whose optional part never occurs
    // does not beat the plain one); then the order of the list.
    let mut best: Option<((usize, usize), Prefix)> = None;
    for p in KNOWN_PREFIXES {
        let Ok(prefix) = Prefix::compile_known(p) else {
            continue;
        };
        let mut hits = 0;
        let mut fields = 0;
        for l in sample
            .iter()
            .filter(|l| !l.starts_with('\t') && !l.is_empty())
        {
            if let Some(parts) = prefix.split(l) {
                hits += 1;
                fields += captured_fields(&parts);
            }
        }
        let score = (hits, fields);
        if hits > 0 && best.as_ref().is_none_or(|(b, _)| score > *b) {
            best = Some((score, prefix));
        }
    }
    best.map(|(_, p)| p)
}

/// How many fields of a split line are present and non-empty. A value
/// holding `=` does not count: it is the `key=value` text of a longer
/// prefix swallowed by a lazy field (`user=%u,db=%d,app=%a ` reads
/// `app=,client= ` as the application `,client=`).
pub(crate) fn captured_fields(parts: &crate::input::prefix::LineParts<'_>) -> usize {
    [
        parts.application,
        parts.user,
        parts.database,
        parts.client,
        parts.pid,
        parts.time,
        parts.session,
    ]
    .iter()
    .filter(|f| f.is_some_and(|v| !v.is_empty() && !v.contains('=')))
    .count()
}

/// The first record start at or after byte `from` of `buf` (see
/// [`crate::chunk::RecordStart`]): a complete line that does not start with
/// a tab and matches the prefix. [`read_entries`] starts a new entry at such
/// a line whatever came before it, so a chunk cut there reads exactly as the
/// whole file does. Lines that are not valid UTF-8 are never chosen.
pub fn next_record_start(prefix: &Prefix, buf: &[u8], from: usize) -> Option<usize> {
    let mut pos = from;
    while pos < buf.len() {
        let end = pos + memchr::memchr(b'\n', buf.get(pos..)?)?;
        let mut line = buf.get(pos..end)?;
        while let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if line.first() != Some(&b'\t') {
            if let Ok(text) = std::str::from_utf8(line) {
                if prefix.split(text).is_some() {
                    return Some(pos);
                }
            }
        }
        pos = end + 1;
    }
    None
}

/// Longest entry kept in memory; longer continuations are cut and flagged.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024 * 1024;

/// Reads entries from `reader`, calling `sink` for each, and counting lines
/// and unmatched lines in `cov`. Returns the I/O error that stopped reading,
/// if any (everything before it has been delivered).
pub fn read_entries(
    mut reader: impl BufRead,
    prefix: &Prefix,
    cov: &mut FileCoverage,
    mut sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    let mut buf = Vec::with_capacity(4096);
    let mut entries = Entries::new(prefix, 0);
    let mut sink = |e: &LogEntry, cov: &mut FileCoverage| sink(e.clone(), cov);
    loop {
        buf.clear();
        let n = match reader.read_until(b'\n', &mut buf) {
            Ok(n) => n,
            Err(e) => {
                let lines = entries.line_no;
                entries.finish(cov, &mut sink);
                return Err((lines, e));
            }
        };
        if n == 0 {
            break;
        }
        entries.line(&buf, cov, &mut sink);
    }
    entries.finish(cov, &mut sink);
    Ok(())
}

/// Reads the entries of `data` (complete lines, e.g. a chunk cut at record
/// boundaries), as [`read_entries`] does, numbering lines after
/// `lines_before`. The entry passed to `sink` is reused for the next one.
pub fn read_chunk(
    data: &[u8],
    prefix: &Prefix,
    lines_before: u64,
    cov: &mut FileCoverage,
    mut sink: impl FnMut(&LogEntry, &mut FileCoverage),
) {
    let mut entries = Entries::new(prefix, lines_before);
    // A chunk that is valid UTF-8 as a whole (the usual case) is checked
    // once, not line by line.
    if let Ok(text) = std::str::from_utf8(data) {
        let mut pos = 0;
        while pos < text.len() {
            // `\n` is ASCII: the cuts fall on character boundaries.
            let len = memchr::memchr(b'\n', data.get(pos..).unwrap_or_default())
                .map_or(text.len() - pos, |n| n + 1);
            let raw = text.get(pos..pos + len).unwrap_or_default();
            entries.count(raw.as_bytes(), cov);
            entries.text(without_line_end(raw), cov, &mut sink);
            pos += len;
        }
    } else {
        let mut pos = 0;
        while let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) {
            let len = memchr::memchr(b'\n', rest).map_or(rest.len(), |n| n + 1);
            entries.line(rest.get(..len).unwrap_or(rest), cov, &mut sink);
            pos += len;
        }
    }
    entries.finish(cov, &mut sink);
}

/// `line` without the `\n` and `\r` bytes it ends with (the bytes are
/// ASCII: the cut falls on a character boundary).
fn without_line_end(line: &str) -> &str {
    let b = line.as_bytes();
    let mut end = b.len();
    while end > 0 && matches!(b.get(end - 1), Some(b'\n' | b'\r')) {
        end -= 1;
    }
    line.get(..end).unwrap_or(line)
}

/// Builds entries line by line, reusing one entry's buffers.
struct Entries<'p> {
    prefix: &'p Prefix,
    current: LogEntry,
    /// `current` holds an entry not yet delivered.
    open: bool,
    line_no: u64,
    unknown_zone_noted: bool,
    times: TimeMemo,
    /// Buffers of actor fields absent from the current line.
    spare: Vec<String>,
}

impl<'p> Entries<'p> {
    fn new(prefix: &'p Prefix, line_no: u64) -> Self {
        Self {
            prefix,
            current: LogEntry::default(),
            open: false,
            line_no,
            unknown_zone_noted: false,
            times: TimeMemo::default(),
            spare: Vec::new(),
        }
    }

    /// One line, with its line end (`\n`, `\r\n`) if it has one.
    fn line(
        &mut self,
        raw: &[u8],
        cov: &mut FileCoverage,
        sink: &mut impl FnMut(&LogEntry, &mut FileCoverage),
    ) {
        self.count(raw, cov);
        let mut bytes = raw;
        while let [rest @ .., b'\n' | b'\r'] = bytes {
            bytes = rest;
        }
        let line = match std::str::from_utf8(bytes) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => {
                cov.invalid_utf8_lines += 1;
                String::from_utf8_lossy(bytes)
            }
        };
        self.text(&line, cov, sink);
    }

    /// Counts a line read (`raw` with its line end).
    fn count(&mut self, raw: &[u8], cov: &mut FileCoverage) {
        self.line_no += 1;
        cov.lines += 1;
        cov.bytes += raw.len() as u64;
    }

    /// A counted line's text, without its line end.
    fn text(
        &mut self,
        line: &str,
        cov: &mut FileCoverage,
        sink: &mut impl FnMut(&LogEntry, &mut FileCoverage),
    ) {
        if let Some(rest) = line.strip_prefix('\t') {
            if self.open {
                let message = &mut self.current.message;
                if message.len() + rest.len() < MAX_ENTRY_BYTES {
                    message.push('\n');
                    message.push_str(rest);
                }
                return;
            }
        }
        match self.prefix.split(line) {
            Some(parts) => {
                if self.open {
                    sink(&self.current, cov);
                }
                let time = parts.time.and_then(|t| self.times.parse(t));
                if let Some(t) = time {
                    if !t.zone_known && !self.unknown_zone_noted {
                        self.unknown_zone_noted = true;
                        cov.notes.push(
                            "a time zone abbreviation is unknown; those times were read as UTC"
                                .into(),
                        );
                    }
                }
                let e = &mut self.current;
                e.line = self.line_no;
                e.time = time.map(|t| t.millis);
                let spare = &mut self.spare;
                set_pooled(&mut e.backend, parts.session.or(parts.pid), spare);
                set_pooled(&mut e.user, parts.user, spare);
                set_pooled(&mut e.database, parts.database, spare);
                set_pooled(&mut e.application, parts.application, spare);
                set_pooled(&mut e.client, parts.client, spare);
                e.severity.clear();
                e.severity.push_str(parts.severity);
                e.message.clear();
                e.message.push_str(parts.message);
                self.open = true;
            }
            None => {
                if line.trim().is_empty() {
                    cov.skip("blank line");
                } else {
                    super::skip_unmatched(cov, line);
                }
            }
        }
    }

    /// Delivers the last entry.
    fn finish(
        &mut self,
        cov: &mut FileCoverage,
        sink: &mut impl FnMut(&LogEntry, &mut FileCoverage),
    ) {
        if std::mem::take(&mut self.open) {
            sink(&self.current, cov);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn detect_prefix_prefers_the_more_specific_prefix_on_a_tie() {
        let sample = [
            "2026-11-21 10:00:00.123 UTC [123] app@shop/web LOG:  statement: select 1",
            "2026-11-21 10:00:01.123 UTC [124] etl@shop/cron LOG:  statement: select 2",
        ];
        let p = super::detect_prefix(&sample).unwrap();
        assert_eq!(p.source, "%m [%p] %q%u@%d/%a ");
        let f = p.split(sample[0]).unwrap();
        assert_eq!(f.database, Some("shop"));
        assert_eq!(f.application, Some("web"));
    }

    use super::*;

    #[test]
    fn joins_continuation_lines_exactly() {
        let log = "2024-01-01 00:00:00.000 UTC [1] LOG:  statement: SELECT a,\n\t\tb\n\tFROM t\n2024-01-01 00:00:01.000 UTC [1] LOG:  duration: 1 ms\n";
        let p = Prefix::compile("%m [%p] ").unwrap();
        let mut cov = FileCoverage::default();
        let mut out = Vec::new();
        read_entries(log.as_bytes(), &p, &mut cov, |e, _| out.push(e)).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].message, "statement: SELECT a,\n\tb\nFROM t");
        assert_eq!(out[0].line, 1);
        assert_eq!(out[1].line, 4);
        assert_eq!(cov.lines, 4);
    }

    #[test]
    fn without_line_end_strips_every_trailing_line_end_byte() {
        for (line, want) in [
            ("a\n", "a"),
            ("a\r\n", "a"),
            ("a\r\r\n", "a"),
            ("a\n\r", "a"),
            ("a", "a"),
            ("\r\n", ""),
            ("é\n", "é"),
            ("a\rb\n", "a\rb"),
        ] {
            assert_eq!(without_line_end(line), want);
            assert_eq!(without_line_end(line), line.trim_end_matches(['\n', '\r']));
        }
    }

    #[test]
    fn detects_rds_over_default() {
        let lines =
            ["2018-08-22 16:00:04 UTC:10.0.0.1(48808):u@d:[18762]:LOG:  statement: SELECT 1"];
        assert_eq!(detect_prefix(&lines).unwrap().source, "%t:%r:%u@%d:[%p]:");
    }
}
