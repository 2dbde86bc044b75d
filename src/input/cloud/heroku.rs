//! Heroku Postgres logs from logplex, in all three framings:
//! `ISO app[postgres.PID]: [COLOR] [N-M]  …` (older), `ISO d.UUID
//! app[postgres.PID] [COLOR] [N-M]  …` (newer) and the HTTPS drain's
//! `LEN <PRI>1 ISO host app postgres.PID - [COLOR] [N-M]  …` (RFC 5424).
//! The body is the server's line with Heroku's prefix (` sql_error_code = %e `,
//! or the long form with `time_ms`, `pid`, `session_id`, `database`, `user`,
//! …); a message longer than one line comes as chunks `[N-2]`, `[N-3]` … of
//! the same process, reassembled here.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::OnceLock;

use regex::Regex;

use super::{for_each_line, for_each_line_after};
use crate::input::prefix::Prefix;
use crate::input::LogEntry;
use crate::inventory::FileCoverage;
use crate::time::{parse_timestamp, Millis};

/// Heroku's `log_line_prefix` values (the long one first).
const PREFIXES: &[&str] = &[
    " sql_error_code = %e time_ms = \"%m\" pid=\"%p\" proc_start_time=\"%s\" session_id=\"%c\" vtid=\"%v\" tid=\"%x\" log_line=\"%l\" %qdatabase=\"%d\" connection_source=\"%r\" user=\"%u\" application_name=\"%a\" ",
    " sql_error_code = %e ",
];

fn frame_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(concat!(
            r"^(?:\d+ <\d+>1 (?P<dts>\S+) \S+ \S+ postgres\.(?P<dpid>\d+) - ",
            r"|(?P<ts>\d{4}-\d\d-\d\dT\S+) (?:d\.[0-9a-fA-F-]+ )?app\[postgres\.(?P<pid>\d+)\]:? )",
            r"\[(?P<color>[A-Z0-9_]+)\] \[(?P<seq>\d+)-(?P<chunk>\d+)\] ?"
        ))
        .unwrap_or_else(|e| unreachable!("static regex: {e}"))
    })
}

/// One logplex line taken apart.
struct Frame<'a> {
    time: Option<Millis>,
    pid: &'a str,
    seq: u64,
    chunk: u64,
    body: &'a str,
}

/// A line taken apart: the regex is the frame, the body the rest of the
/// line (the frame followed by `(?P<body>.*)$` matches the same lines, a
/// line holding no `\n`, without the capturing engine running over the
/// body).
fn frame(line: &str) -> Option<Frame<'_>> {
    if memchr::memchr(b'\n', line.as_bytes()).is_some() {
        return None;
    }
    frame_fast(line).or_else(|| frame_regex(line))
}

/// The logplex framings of [`frame_re`] but the drain's, read byte by
/// byte: `Some` only where every byte that decides the match is ASCII (the
/// regex's `\d` and `\S` are Unicode-aware), `None` (ask the regex) for
/// anything else. Each piece has one way to match that lets the next one
/// match, so the first way found is the regex's.
fn frame_fast(line: &str) -> Option<Frame<'_>> {
    let b = line.as_bytes();
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let digits = |from: usize| {
        let n = b
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        // A non-ASCII byte after the digits might be a digit to the regex.
        b.get(from + n).is_none_or(u8::is_ascii).then_some(n)
    };
    // `\d{4}-\d\d-\d\dT\S+ `
    let date = [0, 1, 2, 3, 5, 6, 8, 9]
        .iter()
        .all(|&i| b.get(i).is_some_and(u8::is_ascii_digit))
        && at(4, b'-')
        && at(7, b'-')
        && at(10, b'T');
    if !date {
        return None;
    }
    let mut i = 11;
    while let Some(&c) = b.get(i) {
        if !c.is_ascii() {
            return None;
        }
        if matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
            break;
        }
        i += 1;
    }
    if i == 11 || !at(i, b' ') {
        return None;
    }
    let ts = line.get(..i)?;
    i += 1;
    // `(?:d\.[0-9a-fA-F-]+ )?`
    if b.get(i..i + 2) == Some(b"d.") {
        let n = b
            .get(i + 2..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| c.is_ascii_hexdigit() || **c == b'-')
            .count();
        if n > 0 && at(i + 2 + n, b' ') {
            i += 3 + n;
        }
    }
    // `app\[postgres\.\d+\]:? `
    if b.get(i..i + 13) != Some(b"app[postgres.") {
        return None;
    }
    i += 13;
    let pid_start = i;
    let n = digits(i)?;
    if n == 0 || !at(i + n, b']') {
        return None;
    }
    let pid = line.get(pid_start..i + n)?;
    i += n + 1;
    if at(i, b':') {
        i += 1;
    }
    if !at(i, b' ') {
        return None;
    }
    i += 1;
    // `\[[A-Z0-9_]+\] \[\d+-\d+\] ?`
    if !at(i, b'[') {
        return None;
    }
    let n = b
        .get(i + 1..)
        .unwrap_or_default()
        .iter()
        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || **c == b'_')
        .count();
    if n == 0 || b.get(i + 1 + n..i + 4 + n) != Some(b"] [") {
        return None;
    }
    i += 4 + n;
    let n = digits(i)?;
    if n == 0 || !at(i + n, b'-') {
        return None;
    }
    let seq = line.get(i..i + n)?.parse().ok()?;
    i += n + 1;
    let n = digits(i)?;
    if n == 0 || !at(i + n, b']') {
        return None;
    }
    let chunk = line.get(i..i + n)?.parse().ok()?;
    i += n + 1;
    if at(i, b' ') {
        i += 1;
    }
    Some(Frame {
        time: parse_timestamp(ts).map(|t| t.millis),
        pid,
        seq,
        chunk,
        body: line.get(i..)?,
    })
}

/// [`frame`] by the regex alone.
fn frame_regex(line: &str) -> Option<Frame<'_>> {
    let c = frame_re().captures(line)?;
    let ts = c.name("dts").or(c.name("ts"))?.as_str();
    Some(Frame {
        time: parse_timestamp(ts).map(|t| t.millis),
        pid: c.name("dpid").or(c.name("pid"))?.as_str(),
        seq: c.name("seq")?.as_str().parse().ok()?,
        chunk: c.name("chunk")?.as_str().parse().ok()?,
        body: line.get(c.get(0)?.end()..).unwrap_or_default(),
    })
}

/// Do lines of the sample look like Heroku Postgres logplex lines?
pub fn detect(sample: &[&str]) -> bool {
    sample
        .iter()
        .any(|l| frame(l).is_some_and(|f| f.chunk == 1))
}

/// Messages of at most this many processes are put together at once: past
/// it, the oldest is handed on (as for syslog).
const MAX_OPEN_MESSAGES: usize = 4096;

/// Longest message kept in memory (as for syslog); longer ones are cut.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// One logplex line of a PostgreSQL message, taken apart: a message's
/// first chunk (its entry, split with Heroku's prefix) or a later one.
/// Lines are split by [`Splitter`] (the chunks of a file at once) and put
/// together, in file order, by one [`Assembler`].
#[derive(Debug)]
pub struct Piece {
    line: u64,
    pid: Box<str>,
    seq: u64,
    kind: PieceKind,
}

#[derive(Debug)]
enum PieceKind {
    /// A first chunk, and which of [`PREFIXES`] split it.
    First(Box<LogEntry>, usize),
    /// A later chunk's text.
    More(String),
}

/// Splits logplex lines into [`Piece`]s, counting what is not one as
/// skipped.
pub struct Splitter {
    prefixes: Vec<Prefix>,
}

impl Default for Splitter {
    fn default() -> Self {
        Self {
            prefixes: PREFIXES
                .iter()
                .filter_map(|p| Prefix::compile_known(p).ok())
                .collect(),
        }
    }
}

impl Splitter {
    /// Line `n` (its text without the line end).
    pub fn line(&self, line: &str, n: u64, cov: &mut FileCoverage) -> Option<Piece> {
        let Some(f) = frame(line) else {
            if line.trim().is_empty() {
                cov.skip("blank line");
            } else {
                cov.skip("not a Heroku Postgres log line");
            }
            return None;
        };
        if f.chunk > 1 {
            return Some(Piece {
                line: n,
                pid: f.pid.into(),
                seq: f.seq,
                kind: PieceKind::More(f.body.to_string()),
            });
        }
        let Some((idx, parts)) = self
            .prefixes
            .iter()
            .enumerate()
            .find_map(|(i, p)| p.split(f.body).map(|parts| (i, parts)))
        else {
            crate::input::skip_unmatched(cov, f.body);
            return None;
        };
        let entry = LogEntry {
            line: n,
            time: parts
                .time
                .and_then(parse_timestamp)
                .map(|t| t.millis)
                .or(f.time),
            backend: Some(
                parts
                    .session
                    .map_or_else(|| f.pid.to_string(), str::to_string),
            ),
            user: parts.user.map(str::to_string),
            database: parts.database.map(str::to_string),
            application: parts.application.map(str::to_string),
            client: parts.client.map(str::to_string),
            severity: parts.severity.to_string(),
            message: parts.message.to_string(),
        };
        Some(Piece {
            line: n,
            pid: f.pid.into(),
            seq: f.seq,
            kind: PieceKind::First(Box::new(entry), idx),
        })
    }

    /// Splits every line of `data` (whole lines; the last one may lack its
    /// line end only at the end of the input), numbered after
    /// `lines_before`, counting them in `cov` as a whole read does.
    pub fn chunk(&self, data: &[u8], lines_before: u64, cov: &mut FileCoverage) -> Vec<Piece> {
        let mut out = Vec::new();
        // Reading a byte slice cannot fail.
        let _ = for_each_line_after(data, lines_before, cov, |line, n, cov| {
            out.extend(self.line(line, n, cov));
        });
        out
    }
}

/// Where a chunk of a Heroku log may start: at any complete line (one
/// [`Assembler`] takes the pieces of all chunks in file order).
pub fn next_record_start(buf: &[u8], from: usize) -> Option<usize> {
    memchr::memchr(b'\n', buf.get(from..)?).map(|_| from)
}

struct Pending {
    seq: u64,
    entry: Box<LogEntry>,
}

/// Puts each process's chunks back together. An entry is complete when its
/// process starts another one, when it is the oldest of
/// [`MAX_OPEN_MESSAGES`] open ones, or at the end of the input (then in the
/// order of their first lines); it is handed on then.
#[derive(Default)]
pub struct Assembler {
    pending: rustc_hash::FxHashMap<Box<str>, Pending>,
    /// The pid of each open entry, by its first line.
    by_line: BTreeMap<u64, Box<str>>,
    /// Which of [`PREFIXES`] split a first chunk.
    used: [bool; PREFIXES.len()],
}

impl Assembler {
    /// Takes the next piece of the input; `done` gets each entry completed
    /// by it.
    pub fn push(
        &mut self,
        p: Piece,
        cov: &mut FileCoverage,
        done: &mut impl FnMut(LogEntry, &mut FileCoverage),
    ) {
        match p.kind {
            PieceKind::More(body) => match self.pending.get_mut(&p.pid) {
                Some(open) if open.seq == p.seq => {
                    // A chunk that starts with a tab (or syslog's `#011`)
                    // follows a line break; others continue an over-long line.
                    // Longer messages are cut (the rest of a hostile one
                    // is not kept).
                    let message = &mut open.entry.message;
                    if message.len() + body.len() < MAX_MESSAGE_BYTES {
                        if let Some(rest) = body
                            .strip_prefix('\t')
                            .or_else(|| body.strip_prefix("#011"))
                        {
                            message.push('\n');
                            message.push_str(rest);
                        } else {
                            message.push_str(&body);
                        }
                    }
                }
                _ => cov.skip("Heroku chunk without its first chunk"),
            },
            PieceKind::First(entry, idx) => {
                if let Some(u) = self.used.get_mut(idx) {
                    *u = true;
                }
                if let Some(prev) = self.pending.remove(&p.pid) {
                    self.by_line.remove(&prev.entry.line);
                    done(*prev.entry, cov);
                }
                if self.pending.len() >= MAX_OPEN_MESSAGES {
                    if let Some((_, oldest)) = self.by_line.pop_first() {
                        if let Some(prev) = self.pending.remove(&oldest) {
                            done(*prev.entry, cov);
                        }
                    }
                }
                self.by_line.insert(p.line, p.pid.clone());
                self.pending.insert(p.pid, Pending { seq: p.seq, entry });
            }
        }
    }

    /// The input ended: hands on the open entries, oldest first.
    pub fn finish(
        &mut self,
        cov: &mut FileCoverage,
        done: &mut impl FnMut(LogEntry, &mut FileCoverage),
    ) {
        while let Some((_, pid)) = self.by_line.pop_first() {
            if let Some(prev) = self.pending.remove(&pid) {
                done(*prev.entry, cov);
            }
        }
    }

    /// Takes the pieces of the next chunk of the input (`last`: the input
    /// ends with it); returns the entries they completed, in order.
    pub fn chunk(
        &mut self,
        pieces: Vec<Piece>,
        last: bool,
        cov: &mut FileCoverage,
    ) -> Vec<LogEntry> {
        let mut out = Vec::new();
        let mut done = |e: LogEntry, _: &mut FileCoverage| out.push(e);
        for p in pieces {
            self.push(p, cov, &mut done);
        }
        if last {
            self.finish(cov, &mut done);
        }
        out
    }

    /// The prefixes that split a first chunk so far (for coverage).
    pub fn prefixes_used(&self) -> Option<String> {
        let mut used: Vec<&str> = PREFIXES
            .iter()
            .zip(self.used)
            .filter(|(_, u)| *u)
            .map(|(p, _)| *p)
            .collect();
        used.sort_unstable();
        (!used.is_empty()).then(|| used.join(" | "))
    }
}

/// Reads entries, reassembling each process's chunks.
pub fn read_entries(
    reader: impl BufRead,
    cov: &mut FileCoverage,
    mut sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    let splitter = Splitter::default();
    let mut asm = Assembler::default();
    let res = for_each_line(reader, cov, |line, n, cov| {
        if let Some(p) = splitter.line(line, n, cov) {
            asm.push(p, cov, &mut sink);
        }
    });
    asm.finish(cov, &mut sink);
    if let Some(p) = asm.prefixes_used() {
        cov.log_line_prefix = Some(p);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The frame regex with the body's `(?P<body>.*)$` after it, as it was
    /// written before: [`frame`] takes the same lines apart the same way.
    #[test]
    fn frame_then_the_rest_of_the_line_reads_as_the_regex_with_the_body_group() {
        let full = Regex::new(&format!("{}(?P<body>.*)$", frame_re().as_str())).unwrap();
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/cloud/");
        let mut lines: Vec<String> = Vec::new();
        for f in ["heroku.log", "heroku-new.log", "heroku-drain.log"] {
            let text = std::fs::read_to_string(format!("{root}{f}")).unwrap();
            for l in text.lines() {
                lines.push(l.to_string());
                // Mutations: no space after the chunk tag, a line break in
                // the body, a carriage return, cut short, no colon.
                lines.push(l.replacen("-1]  ", "-1]", 1));
                lines.push(l.replacen(" = ", " =\n", 1));
                lines.push(format!("{l}\r"));
                lines.push(l.chars().take(60).collect());
                lines.push(l.replacen("]: [", "] [", 1));
            }
        }
        let mut matched = 0;
        for l in &lines {
            // As the old `frame` read it: a tag number past `u64` refuses
            // the line.
            let want = full.captures(l).and_then(|c| {
                let g = |n: &str| c.name(n).map(|m| m.as_str());
                Some((
                    g("dts")
                        .or(g("ts"))
                        .and_then(parse_timestamp)
                        .map(|t| t.millis),
                    g("dpid").or(g("pid"))?,
                    g("seq")?.parse::<u64>().ok()?,
                    g("chunk")?.parse::<u64>().ok()?,
                    g("body").unwrap_or_default(),
                ))
            });
            let got = frame(l).map(|f| (f.time, f.pid, f.seq, f.chunk, f.body));
            matched += usize::from(want.is_some());
            assert_eq!(got, want, "{l:?}");
        }
        assert!(matched > 100, "{matched}");
    }

    /// The byte-level frame split agrees with the regex wherever it
    /// answers, and answers for every ordinary line: lines put together
    /// from pieces (both framings and the drain's, times, dyno ids,
    /// colours, chunk tags, Unicode digits and spaces) and mutated.
    #[test]
    fn fast_frame_split_agrees_with_the_regex() {
        let time = [
            "2019-03-14T00:22:56+00:00",
            "2021-09-07T04:01:27.123456Z",
            "2019-03-14T",
            "2019-3-14T00:22:56+00:00",
            "2019-03-14T00:22:56+00:00\t",
            "2019-03-14T00:٢2:56+00:00",
            "2019-03-14T00:22:56+00:00\u{b}",
            "2019-03-14T00:22:56+00:00\u{c}",
            "2019-03-14T00:22:56\u{a0}+00:00",
            "2019-03-14T00:22:56+00:00\u{3000}",
            "451 <134>1 2023-06-05T19:33:14+00:00 host app postgres.1105947 - [YELLOW] [12-1] x\n",
        ];
        let dyno = [
            "",
            "d.af28c0b6-1f0e-4b5a-9f8e-1c2d3e4f5a6b ",
            "d. ",
            "d.xyz ",
            "d.af28 d.af28 ",
        ];
        let app = [
            "app[postgres.4882]: ",
            "app[postgres.4882] ",
            "app[postgres.]: ",
            "app[postgres.48٣]: ",
            "app[postgres.4882]:x ",
            "app[heroku-postgres]: ",
            "heroku[router]: ",
        ];
        let color = ["[GREEN] ", "[AQUA_2] ", "[] ", "[green] ", "[GREEN]  "];
        let tag = [
            "[15-1] ",
            "[15-2]",
            "[15-1]  ",
            "[1-] ",
            "[-1] ",
            "[١5-1] ",
            "[99999999999999999999-1] ",
            "[15-1",
        ];
        let body = [
            " sql_error_code = 00000 LOG:  statement: SELECT 1",
            "",
            "\tFROM t",
            "é",
        ];
        let mut rng = crate::test_rng::Rng(9);
        let (mut fast, mut total) = (0, 0);
        for _ in 0..40_000 {
            let mut l = String::new();
            for (k, set) in [&time[..], &[" "], &dyno, &app, &color, &tag, &body]
                .into_iter()
                .enumerate()
            {
                let piece = if rng.next() % 3 == 0 {
                    rng.pick(set)
                } else {
                    // Both framings: with a dyno id and without.
                    set[usize::from(k == 2) * (rng.next() % 2) as usize]
                };
                l.push_str(piece);
            }
            if rng.next() % 4 == 0 {
                rng.mutate(
                    &mut l,
                    &[
                        " ", "[", "]", ":", "1", "-", "\t", "٣", "d", "\u{b}", "\u{c}", "\u{a0}",
                        "\u{2009}",
                    ],
                );
            }
            let l = l.trim_end_matches('\n');
            let want = frame_regex(l).filter(|_| !l.contains('\n'));
            let as_tuple = |f: Option<Frame<'_>>| {
                f.map(|f| {
                    (
                        f.time,
                        f.pid.to_string(),
                        f.seq,
                        f.chunk,
                        f.body.to_string(),
                    )
                })
            };
            if let Some(got) = frame_fast(l) {
                fast += 1;
                assert_eq!(as_tuple(Some(got)), as_tuple(frame_regex(l)), "{l:?}");
            }
            assert_eq!(as_tuple(frame(l)), as_tuple(want), "{l:?}");
            total += 1;
        }
        assert_eq!(total, 40_000);
        assert!(fast > 5_000, "{fast}");
        // Every line of the two logplex framings is read without the regex.
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/cloud/");
        let mut ordinary = 0;
        for f in ["heroku.log", "heroku-new.log"] {
            let text = std::fs::read_to_string(format!("{root}{f}")).unwrap();
            for l in text.lines().filter(|l| frame_regex(l).is_some()) {
                assert!(frame_fast(l).is_some(), "{l:?}");
                ordinary += 1;
            }
        }
        assert!(ordinary > 300, "{ordinary}");
    }

    #[test]
    fn all_three_framings_and_chunks() {
        let log = concat!(
            "2019-03-14T00:22:56+00:00 app[postgres.4882]: [GREEN] [15-1]  sql_error_code = 00000 LOG:  statement: SELECT a\n",
            "2021-09-07T04:01:27+00:00 d.af28c0b6-1f0e-4b5a-9f8e-1c2d3e4f5a6b app[postgres.5925] [AQUA] [9-1]  sql_error_code = 00000 LOG:  statement: SELECT b\n",
            "2019-03-14T00:22:56+00:00 app[postgres.4882]: [GREEN] [15-2] \tFROM t\n",
            "2021-09-07T04:01:27+00:00 d.af28c0b6-1f0e-4b5a-9f8e-1c2d3e4f5a6b app[postgres.5925] [AQUA] [9-2] #011FROM u\n",
            "451 <134>1 2023-06-05T19:33:14+00:00 host app postgres.1105947 - [YELLOW] [12-1]  sql_error_code = 00000 time_ms = \"2023-06-05 19:33:14.123 UTC\" pid=\"1105947\" proc_start_time=\"2023-06-05 19:00:00 UTC\" session_id=\"647e3a00.10e0db\" vtid=\"3/1\" tid=\"0\" log_line=\"12\" database=\"d1\" connection_source=\"10.0.0.1(5000)\" user=\"u1\" application_name=\"web\" LOG:  statement: SELECT c\n",
            "2019-03-14T00:22:57+00:00 heroku[router]: at=info method=GET path=\"/\"\n",
        );
        let mut cov = FileCoverage::default();
        let mut out = Vec::new();
        read_entries(log.as_bytes(), &mut cov, |e, _| out.push(e)).unwrap();
        let msgs: Vec<_> = out.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            msgs,
            vec![
                "statement: SELECT a\nFROM t",
                "statement: SELECT b\nFROM u",
                "statement: SELECT c"
            ]
        );
        assert_eq!(out[0].backend.as_deref(), Some("4882"));
        assert_eq!(out[2].backend.as_deref(), Some("647e3a00.10e0db"));
        assert_eq!(out[2].user.as_deref(), Some("u1"));
        assert_eq!(out[2].database.as_deref(), Some("d1"));
        assert_eq!(out[2].application.as_deref(), Some("web"));
        assert_eq!(out[2].client.as_deref(), Some("10.0.0.1"));
        assert_eq!(cov.skipped["not a Heroku Postgres log line"], 1);
    }
}
