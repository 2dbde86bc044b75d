//! AWS RDS/Aurora logs as CloudWatch Logs exports and `aws logs` downloads
//! write them: each event starts with the CloudWatch timestamp
//! (`2018-08-22T16:00:04.123Z `) in front of the server's own line (RDS
//! prefix `%t:%r:%u@%d:[%p]:` by default, or any other); continuation lines
//! of a multi-line event may carry the stamp or not.

use std::io::BufRead;
use std::sync::OnceLock;

use regex::Regex;

use super::{for_each_line_after, Assembler};
use crate::input::prefix::Prefix;
use crate::input::stderr::detect_prefix;
use crate::input::LogEntry;
use crate::inventory::FileCoverage;
use crate::time::{parse_timestamp, Millis};

fn stamp_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) ")
            .unwrap_or_else(|e| unreachable!("static regex: {e}"))
    })
}

/// Splits the CloudWatch stamp off a line: (stamp time, the rest).
pub fn strip_stamp(line: &str) -> (Option<Millis>, &str) {
    match stamp_re().captures(line) {
        Some(c) => {
            let t = c
                .get(1)
                .and_then(|m| parse_timestamp(m.as_str()))
                .map(|t| t.millis);
            let rest = line.get(c.get(0).map_or(0, |m| m.end())..);
            (t, rest.unwrap_or(line))
        }
        None => (None, line),
    }
}

/// The server's prefix, when the sample's lines carry CloudWatch stamps and
/// what follows them is a PostgreSQL log line.
pub fn detect(sample: &[&str]) -> Option<Prefix> {
    let stamped: Vec<&str> = sample
        .iter()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let (t, rest) = strip_stamp(l);
            t.map(|_| rest)
        })
        .collect();
    if stamped.is_empty() {
        return None;
    }
    detect_prefix(&stamped)
}

/// The server's prefix of a CloudWatch export whose first bytes are
/// `head`: `forced` (`--log-line-prefix`), else the one detected from the
/// stamped lines of the first 64 KiB.
pub fn prefix_for(head: &[u8], forced: Option<&Prefix>) -> Option<Prefix> {
    if let Some(p) = forced {
        return Some(p.clone());
    }
    let text = String::from_utf8_lossy(head.get(..64 * 1024).unwrap_or(head));
    let sample: Vec<&str> = text.lines().take(500).collect();
    detect(&sample)
}

/// The error when [`prefix_for`] finds no prefix.
pub const NO_PREFIX: &str = "no CloudWatch-stamped PostgreSQL line with a known log_line_prefix";

/// Reads entries: stamps removed, the rest read like a stderr log.
pub fn read_entries(
    mut reader: impl BufRead,
    forced: Option<&Prefix>,
    cov: &mut FileCoverage,
    sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    let head = reader.fill_buf().map_err(|e| (0, e))?;
    let Some(prefix) = prefix_for(head, forced) else {
        cov.errors.push(NO_PREFIX.into());
        return Ok(());
    };
    cov.log_line_prefix = Some(prefix.source.clone());
    read_lines(reader, &prefix, 0, cov, sink)
}

/// Reads the entries of lines under `prefix`, numbering lines after
/// `lines_before`: a whole input, or a chunk of one cut at a record start
/// ([`next_record_start`]).
pub fn read_lines(
    reader: impl BufRead,
    prefix: &Prefix,
    lines_before: u64,
    cov: &mut FileCoverage,
    mut sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    let mut asm = Assembler::default();
    let res = for_each_line_after(reader, lines_before, cov, |line, n, cov| {
        let (time, rest) = strip_stamp(line);
        asm.line(rest, n, time, prefix, cov, &mut sink);
    });
    asm.finish(cov, &mut sink);
    res
}

/// The first record start at or after byte `from` of `buf` (see
/// [`crate::chunk::RecordStart`]): a complete line whose text after the
/// stamp (if any) does not start with a tab and matches the prefix.
/// [`read_lines`] starts a new entry at such a line whatever came before
/// it, so a chunk cut there reads exactly as the whole input does. Lines
/// that are not valid UTF-8 are never chosen.
pub fn next_record_start(prefix: &Prefix, buf: &[u8], from: usize) -> Option<usize> {
    let mut pos = from;
    while pos < buf.len() {
        let end = pos + memchr::memchr(b'\n', buf.get(pos..)?)?;
        let mut line = buf.get(pos..end)?;
        while let [rest @ .., b'\n' | b'\r'] = line {
            line = rest;
        }
        if let Ok(text) = std::str::from_utf8(line) {
            let (_, rest) = strip_stamp(text);
            if !rest.starts_with('\t') && prefix.split(rest).is_some() {
                return Some(pos);
            }
        }
        pos = end + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamped_and_unstamped_continuations_join() {
        let log = "2024-05-01T10:00:00.123Z 2024-05-01 10:00:00 UTC:10.0.0.1(5000):alice@app:[42]:LOG:  statement: SELECT a\n\tFROM t\n2024-05-01T10:00:00.124Z \tWHERE b = 1\n2024-05-01T10:00:01.000Z 2024-05-01 10:00:01 UTC::@:[7]:LOG:  checkpoint starting: time\n";
        let mut cov = FileCoverage::default();
        let mut out = Vec::new();
        read_entries(log.as_bytes(), None, &mut cov, |e, _| out.push(e)).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].message, "statement: SELECT a\nFROM t\nWHERE b = 1");
        assert_eq!(out[0].user.as_deref(), Some("alice"));
        assert_eq!(out[0].client.as_deref(), Some("10.0.0.1"));
        assert_eq!(out[0].backend.as_deref(), Some("42"));
        assert_eq!(out[1].line, 4);
        assert_eq!(cov.lines, 4);
        assert_eq!(cov.log_line_prefix.as_deref(), Some("%t:%r:%u@%d:[%p]:"));
    }

    #[test]
    fn a_forced_prefix_reads_a_prefix_detection_does_not_know() {
        let log = "2024-05-01T10:00:00.123Z <2024-05-01 10:00:00 UTC|alice|app|42> LOG:  statement: SELECT 1\n";
        let p = Prefix::compile("<%t|%u|%d|%p> ").unwrap();
        let mut cov = FileCoverage::default();
        let mut out = Vec::new();
        read_entries(log.as_bytes(), Some(&p), &mut cov, |e, _| out.push(e)).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].user.as_deref(), Some("alice"));
        assert_eq!(out[0].message, "statement: SELECT 1");
        assert!(cov.errors.is_empty());
        let mut cov = FileCoverage::default();
        read_entries(log.as_bytes(), None, &mut cov, |_, _| {}).unwrap();
        assert_eq!(cov.errors.len(), 1);
    }
}
