//! Reader for PostgreSQL `csvlog` files: 23 columns (PostgreSQL 12 and
//! older), 24 (13, + backend_type) or 26 (14 and newer, + leader_pid and
//! query_id). Quoted fields may hold raw newlines; a record with an
//! unbalanced quote is reported with its line and reading resumes at the
//! next line that starts a record.

use std::io::BufRead;
use std::sync::OnceLock;

use regex::Regex;

use super::record::{present, RecordErrors, StructuredRecord, TimeNotes};
use super::LogEntry;
use crate::inventory::FileCoverage;

/// Longest record kept in memory; a record still open past this size is
/// reported as unparseable (an unbalanced quote).
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

fn record_start() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?(?: [^,]*)?,")
            .unwrap_or_else(|e| unreachable!("static regex: {e}"))
    })
}

fn severity_field() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r#",(?:DEBUG[1-5]?|INFO|NOTICE|WARNING|ERROR|LOG|FATAL|PANIC),[0-9A-Z]{5},"#)
            .unwrap_or_else(|e| unreachable!("static regex: {e}"))
    })
}

/// Does the sample look like a csvlog (its first non-blank line starts with
/// a log time and carries a severity and SQLSTATE column)?
pub fn looks_like_csvlog(sample: &[&str]) -> bool {
    sample
        .iter()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| record_start().is_match(l) && severity_field().is_match(l))
}

/// Column positions (0-based) of the csvlog layout.
mod col {
    pub const LOG_TIME: usize = 0;
    pub const USER: usize = 1;
    pub const DATABASE: usize = 2;
    pub const PID: usize = 3;
    pub const CONNECTION_FROM: usize = 4;
    pub const SESSION_ID: usize = 5;
    pub const SESSION_LINE: usize = 6;
    pub const TXID: usize = 10;
    pub const SEVERITY: usize = 11;
    pub const SQLSTATE: usize = 12;
    pub const MESSAGE: usize = 13;
    pub const DETAIL: usize = 14;
    pub const HINT: usize = 15;
    pub const INTERNAL_QUERY: usize = 16;
    pub const CONTEXT: usize = 18;
    pub const QUERY: usize = 19;
    pub const LOCATION: usize = 21;
    pub const APPLICATION: usize = 22;
}

/// `host:port` → `host` (also for IPv6 `::1:5432`); `[local]` stays.
fn client_host(connection_from: &str) -> Option<String> {
    let host = match connection_from.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => connection_from,
    };
    present(Some(host))
}

/// Splits one complete record into its fields with one CSV parser, built
/// once (building one is far dearer than using it) and reset for each
/// record: the fields [`csv::Reader`] with `has_headers(false)` and
/// `flexible(true)` reads from the record alone (it is a loop over this
/// same parser), and where it stops.
struct Fields {
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// Fields found by the last [`Fields::split`].
    len: usize,
}

impl Fields {
    fn new() -> Self {
        Self {
            core: csv_core::Reader::new(),
            out: vec![0; 4096],
            ends: vec![0; 32],
            len: 0,
        }
    }

    /// Reads the first record of `text`: `Some(bytes read)` (its end, line
    /// end included), `None` when `text` holds none.
    fn split(&mut self, text: &str) -> Option<usize> {
        use csv_core::ReadRecordResult as R;
        self.core.reset();
        // A buffer grown for one huge record is not kept for the rest of
        // the input.
        if self.out.len() > 1 << 20 {
            self.out = vec![0; 4096];
        }
        if self.ends.len() > 4096 {
            self.ends = vec![0; 32];
        }
        let mut input = text.as_bytes();
        let (mut read, mut outlen, mut endlen) = (0, 0, 0);
        loop {
            let (res, nin, nout, nend) = self.core.read_record(
                input,
                self.out.get_mut(outlen..).unwrap_or_default(),
                self.ends.get_mut(endlen..).unwrap_or_default(),
            );
            input = input.get(nin..).unwrap_or_default();
            read += nin;
            outlen += nout;
            endlen += nend;
            match res {
                // An empty input next is the end of the text.
                R::InputEmpty => {}
                R::OutputFull => self.out.resize(self.out.len() * 2, 0),
                R::OutputEndsFull => self.ends.resize(self.ends.len() * 2, 0),
                R::Record => {
                    self.len = endlen;
                    return Some(read);
                }
                R::End => return None,
            }
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Field `i` of the last record split (`None` past its last field, or
    /// if it is not UTF-8, which a field of a `&str` cut at ASCII commas
    /// and quotes always is).
    fn get(&self, i: usize) -> Option<&str> {
        if i >= self.len {
            return None;
        }
        let start = match i {
            0 => 0,
            _ => *self.ends.get(i - 1)?,
        };
        let end = *self.ends.get(i)?;
        std::str::from_utf8(self.out.get(start..end)?).ok()
    }
}

/// Parses one complete record (quotes balanced) into its fields.
fn parse_record(fields: &mut Fields, text: &str, line: u64) -> Result<StructuredRecord, String> {
    let Some(read) = fields.split(text) else {
        return Err("empty csvlog record".into());
    };
    if read < text.len() {
        return Err("csvlog record has text after its last column".into());
    }
    let rec = &*fields;
    let n = rec.len();
    if !matches!(n, 23 | 24 | 26) {
        return Err(format!(
            "csvlog record has {n} columns (expected 23, 24 or 26)"
        ));
    }
    // Columns written without quotes have fixed shapes: a stray quote that
    // swallowed a line break shifts them.
    let shaped = |i: usize, ok: fn(&str) -> bool| rec.get(i).is_some_and(ok);
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(shaped(col::PID, digits)
        && shaped(col::SESSION_LINE, digits)
        && shaped(col::TXID, digits)
        && shaped(col::SQLSTATE, |s| {
            s.is_empty()
                || (s.len() == 5
                    && s.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
        }))
    {
        return Err("csvlog record has misplaced columns (a quote is probably unbalanced)".into());
    }
    let get = |i: usize| present(rec.get(i));
    let severity = rec.get(col::SEVERITY).unwrap_or("").to_string();
    if severity.is_empty()
        || !severity
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err("csvlog record has no error_severity".into());
    }
    Ok(StructuredRecord {
        line,
        time: get(col::LOG_TIME),
        backend: get(col::SESSION_ID).or_else(|| get(col::PID)),
        user: get(col::USER),
        database: get(col::DATABASE),
        application: get(col::APPLICATION),
        client: rec.get(col::CONNECTION_FROM).and_then(client_host),
        severity,
        message: rec.get(col::MESSAGE).unwrap_or("").to_string(),
        detail: get(col::DETAIL),
        hint: get(col::HINT),
        internal_query: get(col::INTERNAL_QUERY),
        context: get(col::CONTEXT),
        location: get(col::LOCATION),
        statement: get(col::QUERY),
    })
}

struct Pending {
    start: u64,
    lines: Vec<(u64, String)>,
    bytes: usize,
    open_quote: bool,
}

/// Reads csvlog records from `reader`, calling `sink` for each entry (a
/// record gives one entry per non-empty message/detail/hint/query/context/
/// location/statement column, as stderr would). Returns the I/O error that
/// stopped reading, if any (everything before it has been delivered).
/// Line numbers continue from `lines_before` (a resumed read).
pub fn read_entries(
    reader: impl BufRead,
    name: &str,
    lines_before: u64,
    cov: &mut FileCoverage,
    sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    read_part(reader, name, lines_before, false, cov, sink)
}

/// The first record start at or after byte `from` of `buf` (see
/// [`crate::chunk::RecordStart`]): a complete line holding the whole head of
/// a record (log time, and a severity and SQLSTATE column). [`read_entries`]
/// starts a new record at such a line whatever came before it (a record
/// still open there lost its closing quote), so a chunk cut there reads
/// exactly as the whole file does (see [`read_chunk`]). Lines that are not
/// valid UTF-8 are never chosen.
pub fn next_record_start(buf: &[u8], from: usize) -> Option<usize> {
    let mut pos = from;
    while let Some(rest) = buf.get(pos..).filter(|rest| !rest.is_empty()) {
        let len = memchr::memchr(b'\n', rest)?;
        let end = pos + len;
        let mut line = rest.get(..len).unwrap_or_default();
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        if let Ok(text) = std::str::from_utf8(line) {
            if record_start().is_match(text) && severity_field().is_match(text) {
                return Some(pos);
            }
        }
        pos = end + 1;
    }
    None
}

/// Reads one chunk of a csvlog cut by [`next_record_start`]: unless it is
/// the last (`last`), the chunk after it starts with a record head, so a
/// record still open at its end is reported as [`read_entries`] reports it
/// when that head arrives.
pub fn read_chunk(
    chunk: &[u8],
    name: &str,
    lines_before: u64,
    last: bool,
    cov: &mut FileCoverage,
    sink: impl FnMut(LogEntry, &mut FileCoverage),
) {
    // Reading a byte slice cannot fail.
    let _ = read_part(chunk, name, lines_before, !last, cov, sink);
}

fn read_part(
    mut reader: impl BufRead,
    name: &str,
    lines_before: u64,
    head_follows: bool,
    cov: &mut FileCoverage,
    mut sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    let mut errors = RecordErrors::new(name);
    let mut notes = TimeNotes::default();
    let mut fields = Fields::new();
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = lines_before;
    let mut pending: Option<Pending> = None;
    // Lines to look at again after a broken record, before reading more.
    let mut replay: std::collections::VecDeque<(u64, String)> = Default::default();
    let mut resyncing = false;
    let mut io_error = None;
    loop {
        let (no, line) = if let Some(l) = replay.pop_front() {
            l
        } else {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => {
                    // End of input: a record still open never closed its quote.
                    match pending.take() {
                        Some(p) if head_follows => {
                            // What the next record's head does to it.
                            errors.bad(
                                cov,
                                "csvlog",
                                p.start,
                                "unbalanced quote: the next record starts before it ends",
                            );
                            break;
                        }
                        Some(p) => {
                            errors.bad(
                                cov,
                                "csvlog",
                                p.start,
                                "unbalanced quote: the record never ends",
                            );
                            replay.extend(p.lines.into_iter().skip(1));
                            resyncing = true;
                            continue;
                        }
                        None => break,
                    }
                }
                Ok(n) => {
                    line_no += 1;
                    cov.lines += 1;
                    cov.bytes += n as u64;
                    if buf.last() == Some(&b'\n') {
                        buf.pop();
                    }
                    if buf.last() == Some(&b'\r') {
                        buf.pop();
                    }
                    let text = match std::str::from_utf8(&buf) {
                        Ok(s) => s.to_string(),
                        Err(_) => {
                            cov.invalid_utf8_lines += 1;
                            String::from_utf8_lossy(&buf).into_owned()
                        }
                    };
                    (line_no, text)
                }
                Err(e) => {
                    io_error = Some((line_no, e));
                    break;
                }
            }
        };
        let quotes_odd = line.bytes().filter(|b| *b == b'"').count() % 2 == 1;
        match pending.as_mut() {
            None => {
                if resyncing {
                    if !record_start().is_match(&line) {
                        // Still inside the broken record.
                        continue;
                    }
                    resyncing = false;
                }
                if line.trim().is_empty() {
                    cov.skip("blank line");
                    continue;
                }
                if !quotes_odd {
                    // A record of one line: read at once, as below.
                    deliver(
                        &mut fields,
                        &line,
                        no,
                        cov,
                        &mut notes,
                        &mut errors,
                        &mut sink,
                    );
                    continue;
                }
                pending = Some(Pending {
                    start: no,
                    bytes: line.len(),
                    lines: vec![(no, line)],
                    open_quote: quotes_odd,
                });
            }
            Some(p) if record_start().is_match(&line) && severity_field().is_match(&line) => {
                // A line that has the whole head of a csvlog record while a
                // quote is open: the open record lost its closing quote.
                let start = p.start;
                pending = None;
                errors.bad(
                    cov,
                    "csvlog",
                    start,
                    "unbalanced quote: the next record starts before it ends",
                );
                replay.push_front((no, line));
                continue;
            }
            Some(p) => {
                p.bytes += line.len() + 1;
                p.lines.push((no, line));
                p.open_quote ^= quotes_odd;
            }
        }
        let Some(p) = pending.as_ref() else { continue };
        if !p.open_quote {
            let Some(p) = pending.take() else { continue };
            let text = p
                .lines
                .iter()
                .map(|(_, l)| l.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            let read = deliver(
                &mut fields,
                &text,
                p.start,
                cov,
                &mut notes,
                &mut errors,
                &mut sink,
            );
            if !read && p.lines.len() > 1 {
                // A quote left open may have swallowed the records that
                // follow: look at them again.
                replay.extend(p.lines.into_iter().skip(1));
                resyncing = true;
            }
        } else if p.bytes > MAX_RECORD_BYTES {
            let Some(p) = pending.take() else { continue };
            errors.bad(
                cov,
                "csvlog",
                p.start,
                "unbalanced quote: the record grows past 64 MiB",
            );
            replay.extend(p.lines.into_iter().skip(1));
            resyncing = true;
        }
    }
    errors.finish(cov);
    match io_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Reads the record `text` (starting at line `start`) and hands on its
/// entries, or reports it: whether it was read.
fn deliver(
    fields: &mut Fields,
    text: &str,
    start: u64,
    cov: &mut FileCoverage,
    notes: &mut TimeNotes,
    errors: &mut RecordErrors,
    sink: &mut impl FnMut(LogEntry, &mut FileCoverage),
) -> bool {
    match parse_record(fields, text, start) {
        Ok(rec) => {
            for e in rec.into_entries(cov, notes) {
                sink(e, cov);
            }
            true
        }
        Err(why) => {
            errors.bad(cov, "csvlog", start, &why);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG15: &str = concat!(
        r#"2024-01-01 00:00:01.000 UTC,"alice","app",42,"127.0.0.1:5555",65a1b2c3.2a,3,"SELECT",2024-01-01 00:00:00 UTC,3/7,0,LOG,00000,"statement: SELECT a,"#,
        "\n",
        r#"       ""b"" FROM t",,,,,,,,,"psql","client backend",,0"#,
        "\n",
        r#"2024-01-01 00:00:02.000 UTC,"alice","app",42,"[::1]:5555",65a1b2c3.2a,4,"SELECT",2024-01-01 00:00:00 UTC,3/8,0,ERROR,22012,"division by zero",,,,,,"SELECT 1/0",,,"psql","client backend",,0"#,
        "\n",
    );

    fn read(text: &str) -> (Vec<LogEntry>, FileCoverage) {
        let mut cov = FileCoverage::default();
        let mut out = Vec::new();
        read_entries(text.as_bytes(), "x.csv", 0, &mut cov, |e, _| out.push(e)).unwrap();
        (out, cov)
    }

    #[test]
    fn pg15_record_with_raw_newline_and_doubled_quotes() {
        let (out, cov) = read(PG15);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].message, "statement: SELECT a,\n       \"b\" FROM t");
        assert_eq!(out[0].line, 1);
        assert_eq!(out[0].user.as_deref(), Some("alice"));
        assert_eq!(out[0].client.as_deref(), Some("127.0.0.1"));
        assert_eq!(out[0].application.as_deref(), Some("psql"));
        assert_eq!(out[0].backend.as_deref(), Some("65a1b2c3.2a"));
        assert_eq!(out[1].severity, "ERROR");
        assert_eq!(out[1].client.as_deref(), Some("[::1]"));
        assert_eq!(
            (out[2].severity.as_str(), out[2].message.as_str()),
            ("STATEMENT", "SELECT 1/0")
        );
        assert_eq!(out[2].line, 3);
        assert_eq!(cov.lines, 3);
        assert!(cov.errors.is_empty());
        assert!(looks_like_csvlog(&PG15.lines().collect::<Vec<_>>()));
    }

    #[test]
    fn twenty_three_and_twenty_four_columns() {
        let pg12 = r#"2020-01-01 00:00:01.000 UTC,"bob","db",7,"10.0.0.1:1",5e0b.7,1,"idle",2020-01-01 00:00:00 UTC,3/1,0,LOG,00000,"statement: SELECT 1",,,,,,,,,"app12""#;
        let pg13 = r#"2020-01-01 00:00:01.000 UTC,"bob","db",7,"10.0.0.1:1",5e0b.7,1,"idle",2020-01-01 00:00:00 UTC,3/1,0,LOG,00000,"statement: SELECT 1",,,,,,,,,"app13","client backend""#;
        let (out, cov) = read(&format!("{pg12}\n{pg13}\n"));
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].application.as_deref(), Some("app12"));
        assert_eq!(out[1].application.as_deref(), Some("app13"));
        assert!(cov.errors.is_empty());
    }

    #[test]
    fn unbalanced_quote_is_reported_and_reading_resumes() {
        let broken = r#"2024-01-01 00:00:00.500 UTC,"alice","app",42,"127.0.0.1:5555",65a1b2c3.2a,2,"SELECT",2024-01-01 00:00:00 UTC,3/6,0,LOG,00000,"statement: SELECT 'oops"#;
        let (out, cov) = read(&format!("{broken}\n{PG15}"));
        assert_eq!(out.len(), 3, "{:?}", cov.errors);
        assert_eq!(out[0].line, 2);
        assert_eq!(
            cov.errors,
            ["x.csv:1: unbalanced quote: the next record starts before it ends"]
        );
        assert_eq!(cov.skipped["unparseable csvlog record"], 1);
        assert_eq!(cov.lines, 4);
    }

    #[test]
    fn quote_open_at_the_end_is_reported() {
        let (out, cov) = read(&format!(
            "{PG15}2024-01-01 00:00:03.000 UTC,\"a\",\"x\n\nmore\n"
        ));
        assert_eq!(out.len(), 3);
        assert_eq!(
            cov.errors,
            ["x.csv:4: unbalanced quote: the record never ends"]
        );
        assert_eq!(cov.skipped["unparseable csvlog record"], 1);
        assert_eq!(cov.lines, 6);
    }

    #[test]
    fn wrong_column_count_is_reported() {
        let (out, cov) = read("2024-01-01 00:00:00.000 UTC,a,b,LOG,00000,\"x\"\n");
        assert!(out.is_empty());
        assert_eq!(
            cov.errors,
            ["x.csv:1: csvlog record has 6 columns (expected 23, 24 or 26)"]
        );
    }
}

#[cfg(test)]
mod fields_tests {
    use super::Fields;
    use crate::test_rng::Rng;

    /// What `csv::Reader` (headers off, flexible) reads from `text` alone:
    /// the first record's fields and where it stops, as [`Fields::split`]
    /// must.
    fn by_csv_reader(text: &str) -> Option<(Vec<String>, usize)> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        let mut rec = csv::StringRecord::new();
        match rdr.read_record(&mut rec) {
            Ok(true) => Some((
                rec.iter().map(str::to_string).collect(),
                rdr.position().byte() as usize,
            )),
            Ok(false) => None,
            Err(e) => panic!("csv::Reader failed on {text:?}: {e}"),
        }
    }

    fn by_fields(f: &mut Fields, text: &str) -> Option<(Vec<String>, usize)> {
        let read = f.split(text)?;
        let fields = (0..f.len())
            .map(|i| f.get(i).map(str::to_string).expect("a UTF-8 field"))
            .collect();
        assert_eq!(f.get(f.len()), None);
        Some((fields, read))
    }

    /// One parser, reused, splits every text as a fresh `csv::Reader` does:
    /// quotes, doubled quotes, stray quotes, line ends of every kind inside
    /// and outside quotes, a byte-order mark, blank lines, empty fields,
    /// text after the record, non-ASCII text and fields longer than the
    /// parser's first buffers.
    #[test]
    fn one_reused_parser_splits_records_as_a_fresh_csv_reader_does() {
        let pieces = [
            "a",
            "",
            ",",
            ",",
            ",",
            "\"",
            "\"\"",
            "\"x,y\"",
            "\n",
            "\r\n",
            "\r",
            "é",
            " ",
            "2024-01-01 00:00:01.000 UTC",
            "LOG",
            "00000",
            "\"a\nb\"",
            "\u{feff}",
            "\"\"\"\"",
        ];
        let mut f = Fields::new();
        let mut rng = Rng(7);
        let mut checked = 0;
        for round in 0..20_000 {
            let n = (rng.next() % 24) as usize;
            let mut text: String = (0..n).map(|_| rng.pick(&pieces)).collect();
            if round % 97 == 0 {
                // Longer than the output buffer and with more fields than
                // the ends buffer holds at first.
                text.push_str(&"x".repeat(5000 + round % 300));
                text.push_str(&",".repeat(40 + round % 7));
            }
            if round % 4999 == 0 {
                // Past the size at which the parser gives its buffers back.
                text.push_str(&"y".repeat(1_200_000));
                text.push_str(&",".repeat(5000));
            }
            assert_eq!(by_fields(&mut f, &text), by_csv_reader(&text), "{text:?}");
            checked += 1;
        }
        assert_eq!(checked, 20_000);
        let real = concat!(
            r#"2024-01-01 00:00:01.000 UTC,"alice","app",42,"127.0.0.1:5555",65a1b2c3.2a,3,"SELECT",2024-01-01 00:00:00 UTC,3/7,0,LOG,00000,"statement: SELECT a,"#,
            "\n",
            r#"       ""b"" FROM t",,,,,,,,,"psql","client backend",,0"#,
        );
        let (fields, read) = by_fields(&mut f, real).expect("a record");
        assert_eq!(read, real.len());
        assert_eq!(fields.len(), 26);
        assert_eq!(fields[13], "statement: SELECT a,\n       \"b\" FROM t");
        assert_eq!(Some((fields, read)), by_csv_reader(real));
    }
}
