//! Cloud log shapes: recognising them by content and turning each into
//! [`LogEntry`] values, so that statement extraction is the same as for a
//! self-hosted server's stderr log. AWS RDS/Aurora exports with CloudWatch
//! timestamps ([`cloudwatch`]), Google Cloud SQL Logging entries
//! ([`cloudsql`]), Heroku logplex ([`heroku`]), and the structured records of
//! CloudNativePG and Azure ([`records`]).

pub mod cloudsql;
pub mod cloudwatch;
pub mod heroku;
pub mod records;

use std::io::BufRead;

use super::json_stream::{Keys, Pruned};
use super::prefix::Prefix;
use super::{InputFormat, LogEntry};
use crate::inventory::FileCoverage;
use crate::time::{parse_timestamp, Millis};

/// Recognises a cloud shape from the first bytes of an input.
pub fn detect(text: &str) -> Option<InputFormat> {
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        let has = |k: &str| t.contains(k);
        if has("\"textPayload\"") && (has("cloudsql") || has("postgres.log")) {
            return Some(InputFormat::CloudSql);
        }
        if has("\"logging_pod\"") && has("\"record\"") {
            return Some(InputFormat::CloudNativePg);
        }
        if has("\"record_error_severity_s\"") || has("\"record_message_s\"") {
            return Some(InputFormat::AzureLogAnalytics);
        }
        if has("\"records\"") && has("\"errorLevel\"") {
            return Some(InputFormat::AzureEventHub);
        }
        return None;
    }
    let sample: Vec<&str> = t.lines().take(200).collect();
    if heroku::detect(&sample) {
        return Some(InputFormat::Heroku);
    }
    if cloudwatch::detect(&sample).is_some() {
        return Some(InputFormat::RdsCloudWatch);
    }
    None
}

/// Reads a cloud-shaped input, calling `sink` for each log entry. `forced`
/// (`--log-line-prefix`) replaces prefix detection where the shape carries
/// the server's own lines (RDS/CloudWatch, Cloud SQL, Azure Event Hub);
/// Heroku's prefix is fixed and the record shapes have none. Returns the I/O
/// error that stopped reading, with the last line read.
pub fn read_entries(
    format: InputFormat,
    reader: impl BufRead,
    forced: Option<&Prefix>,
    cov: &mut FileCoverage,
    sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    read_entries_within(format, reader, forced, cloudsql::SORT_BUDGET, cov, sink)
}

/// [`read_entries`], holding about `budget` bytes of Cloud SQL payloads
/// in memory at most while putting them in time order.
pub fn read_entries_within(
    format: InputFormat,
    reader: impl BufRead,
    forced: Option<&Prefix>,
    budget: usize,
    cov: &mut FileCoverage,
    sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    match format {
        InputFormat::RdsCloudWatch => cloudwatch::read_entries(reader, forced, cov, sink),
        InputFormat::CloudSql => cloudsql::read_entries_within(reader, forced, budget, cov, sink),
        InputFormat::Heroku => heroku::read_entries(reader, cov, sink),
        InputFormat::CloudNativePg
        | InputFormat::AzureLogAnalytics
        | InputFormat::AzureEventHub => records::read_entries(format, reader, forced, cov, sink),
        _ => Ok(()),
    }
}

/// Builds log entries from prefixed lines and continuation lines (which start
/// with a tab), the way PostgreSQL's stderr output is read.
#[derive(Default)]
pub(crate) struct Assembler {
    current: Option<LogEntry>,
}

/// Longest message kept; longer continuations are cut.
const MAX_ENTRY_BYTES: usize = 64 * 1024 * 1024;

impl Assembler {
    /// One line: a continuation of the current entry, a new entry, or a
    /// skipped line. `time` is the transport's time, used when the prefix
    /// has none.
    pub(crate) fn line(
        &mut self,
        text: &str,
        line: u64,
        time: Option<Millis>,
        prefix: &Prefix,
        cov: &mut FileCoverage,
        sink: &mut impl FnMut(LogEntry, &mut FileCoverage),
    ) {
        if let Some(rest) = text.strip_prefix('\t') {
            if self.continuation(rest) {
                return;
            }
        }
        match prefix.split(text) {
            Some(parts) => {
                let entry = LogEntry {
                    line,
                    time: parts
                        .time
                        .and_then(parse_timestamp)
                        .map(|t| t.millis)
                        .or(time),
                    backend: parts.session.or(parts.pid).map(str::to_string),
                    user: parts.user.map(str::to_string),
                    database: parts.database.map(str::to_string),
                    application: parts.application.map(str::to_string),
                    client: parts.client.map(str::to_string),
                    severity: parts.severity.to_string(),
                    message: parts.message.to_string(),
                };
                self.start(entry, cov, sink);
            }
            None if text.trim().is_empty() => cov.skip("blank line"),
            None => crate::input::skip_unmatched(cov, text),
        }
    }

    /// Starts a new entry, handing the previous one to `sink`.
    pub(crate) fn start(
        &mut self,
        entry: LogEntry,
        cov: &mut FileCoverage,
        sink: &mut impl FnMut(LogEntry, &mut FileCoverage),
    ) {
        if let Some(e) = self.current.replace(entry) {
            sink(e, cov);
        }
    }

    /// Appends a continuation line (its leading tab already removed) to the
    /// current entry; false when there is none.
    pub(crate) fn continuation(&mut self, rest: &str) -> bool {
        match self.current.as_mut() {
            Some(e) => {
                if e.message.len() + rest.len() < MAX_ENTRY_BYTES {
                    e.message.push('\n');
                    e.message.push_str(rest);
                }
                true
            }
            None => false,
        }
    }

    /// Hands the last entry to `sink`.
    pub(crate) fn finish(
        &mut self,
        cov: &mut FileCoverage,
        sink: &mut impl FnMut(LogEntry, &mut FileCoverage),
    ) {
        if let Some(e) = self.current.take() {
            sink(e, cov);
        }
    }
}

/// Reads physical lines, counting them (and their bytes, and invalid UTF-8)
/// in `cov`; `f` gets each line without its line break, and its number.
pub(crate) fn for_each_line(
    reader: impl BufRead,
    cov: &mut FileCoverage,
    f: impl FnMut(&str, u64, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    for_each_line_after(reader, 0, cov, f)
}

/// [`for_each_line`], numbering lines after `lines_before`.
pub(crate) fn for_each_line_after(
    mut reader: impl BufRead,
    lines_before: u64,
    cov: &mut FileCoverage,
    mut f: impl FnMut(&str, u64, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = lines_before;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| (line_no, e))?;
        if n == 0 {
            return Ok(());
        }
        line_no += 1;
        cov.lines += 1;
        cov.bytes += n as u64;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        match std::str::from_utf8(&buf) {
            Ok(s) => f(s, line_no, cov),
            Err(_) => {
                cov.invalid_utf8_lines += 1;
                f(&String::from_utf8_lossy(&buf), line_no, cov);
            }
        }
    }
}

/// Reads a JSON input and calls `f` for each top-level value (the elements
/// of an array, or a sequence of values such as one object a line), with the
/// line it starts on. The input is streamed: only the value being read is
/// held, and of it only the members under the keys `K` keeps (see
/// [`Pruned`]). A malformed value is counted and named; the reader goes on
/// at the next line.
pub(crate) fn for_each_json_value<K: Keys>(
    reader: impl BufRead,
    cov: &mut FileCoverage,
    mut f: impl FnMut(serde_json::Value, u64, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    for_each_json_value_while::<K>(reader, 0, false, cov, |v, line, cov| {
        f(v, line, cov);
        true
    })
    .0
}

/// [`for_each_json_value`] until `f` returns false, numbering lines after
/// `lines_before`: then the rest of the input is left unread (and
/// uncounted). `inside_array`: the input is a part of an array's elements
/// (a chunk of a file after its first), which may start with the comma
/// after the element before it. The second value returned says whether
/// the input ended between values: false when the last value was cut off
/// by the end of the input, and also when the array ended (the input may
/// go on after it, and a whole read ignores what follows).
pub(crate) fn for_each_json_value_while<K: Keys>(
    reader: impl BufRead,
    lines_before: u64,
    inside_array: bool,
    cov: &mut FileCoverage,
    mut f: impl FnMut(serde_json::Value, u64, &mut FileCoverage) -> bool,
) -> (Result<(), (u64, std::io::Error)>, bool) {
    use super::json_stream::{JsonWindow, Next};
    let mut w = JsonWindow::after(reader, lines_before);
    let mut cut = false;
    w.skip_ws();
    let array = if inside_array {
        true
    } else {
        w.skip_bom();
        w.skip_ws();
        let array = w.peek() == Some(b'[');
        if array {
            w.bump();
            w.skip_ws();
        }
        array
    };
    let skip_comma = |w: &mut JsonWindow<_>| {
        if array && w.peek() == Some(b',') {
            w.bump();
            w.skip_ws();
        }
    };
    if inside_array {
        skip_comma(&mut w);
    }
    while w.peek().is_some() {
        if array && w.peek() == Some(b']') {
            cut = true;
            break;
        }
        match w.value_as::<Pruned<K>>() {
            Next::Value(Pruned(v, _), line) => {
                w.skip_ws();
                if !f(v, line, cov) {
                    return (Ok(()), true);
                }
                skip_comma(&mut w);
            }
            Next::Malformed(e, line) => {
                // Only at the end of the input: more is read otherwise.
                cut |= e.is_eof();
                cov.skip("malformed JSON record");
                cov.errors.push(format!(
                    "line {line}: malformed JSON ({e}); went on at the next line"
                ));
                // Resynchronise at the next line.
                w.next_line();
                w.skip_ws();
                skip_comma(&mut w);
            }
            Next::End => break,
        }
    }
    let totals = w.finish();
    cov.bytes += totals.bytes;
    cov.lines += totals.lines;
    let res = match totals.error {
        Some(e) => Err((lines_before + totals.newlines, e)),
        None => Ok(()),
    };
    (res, !cut)
}

/// A string field of a JSON object (numbers are given as text; empty and
/// `[unknown]` are absent).
pub(crate) fn json_str<'a>(
    v: &'a serde_json::Value,
    key: &str,
) -> Option<std::borrow::Cow<'a, str>> {
    match v.get(key)? {
        serde_json::Value::String(s) => {
            let t = s.trim();
            (!t.is_empty() && t != "[unknown]").then_some(std::borrow::Cow::Borrowed(s.as_str()))
        }
        serde_json::Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(format: InputFormat, text: &str, cap: usize) -> (Vec<LogEntry>, FileCoverage) {
        let mut entries = Vec::new();
        let mut cov = FileCoverage::default();
        read_entries(
            format,
            std::io::BufReader::with_capacity(cap, text.as_bytes()),
            None,
            &mut cov,
            |e, _| entries.push(e),
        )
        .unwrap();
        (entries, cov)
    }

    #[test]
    fn json_shapes_are_streamed_with_the_same_entries_whatever_the_reads() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/cloud/");
        for (file, format) in [
            ("azure-log-analytics.json", InputFormat::AzureLogAnalytics),
            ("cloudsql.json", InputFormat::CloudSql),
            ("azure-eventhub.ndjson", InputFormat::AzureEventHub),
            ("cnpg.ndjson", InputFormat::CloudNativePg),
        ] {
            let text = std::fs::read_to_string(format!("{dir}{file}")).unwrap();
            // A value broken on its 3rd line: reading goes on at the next line.
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            let broken = format!(
                "{}{{\"broken\": [1,\n{}",
                lines[..2].concat(),
                lines[2..].concat()
            );
            for input in [&text, &broken] {
                let (whole, whole_cov) = read(format, input, 1 << 22);
                assert!(whole.len() > 20, "{file}: {}", whole.len());
                assert_eq!(whole_cov.lines, input.lines().count() as u64, "{file}");
                for cap in [1, 7, 4096] {
                    let (got, cov) = read(format, input, cap);
                    assert_eq!(got, whole, "{file}, {cap}-byte reads");
                    assert_eq!(cov, whole_cov, "{file}, {cap}-byte reads");
                }
            }
            let (_, cov) = read(format, &broken, 1);
            assert!(
                cov.errors
                    .iter()
                    .any(|e| e.starts_with("line 3: malformed JSON (")),
                "{file}: {:?}",
                cov.errors
            );
        }
    }
}
