//! Reader for PostgreSQL 15+ `jsonlog` files: one JSON object per line,
//! absent (null) strings omitted, unknown keys ignored, ids as numbers or
//! strings. A line that is not a JSON log object is reported with its line
//! and reading goes on.

use std::io::BufRead;

use serde_json::{Map, Value};

use super::record::{present, RecordErrors, StructuredRecord, TimeNotes};
use super::LogEntry;
use crate::inventory::FileCoverage;

fn parse_object(line: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

fn is_log_object(m: &Map<String, Value>) -> bool {
    m.contains_key("timestamp") && m.contains_key("error_severity")
}

/// Does the sample look like a jsonlog (its first non-blank line is a JSON
/// object with `timestamp` and `error_severity`)?
pub fn looks_like_jsonlog(sample: &[&str]) -> bool {
    sample
        .iter()
        .find(|l| !l.trim().is_empty())
        .filter(|l| l.trim_start().starts_with('{'))
        .and_then(|l| parse_object(l))
        .is_some_and(|m| is_log_object(&m))
}

/// A string or number value as text; `None` for null, absent or empty.
fn text(m: &Map<String, Value>, key: &str) -> Option<String> {
    match m.get(key)? {
        Value::String(s) => present(Some(s)),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn record(m: &Map<String, Value>, line: u64) -> Result<StructuredRecord, String> {
    let severity = text(m, "error_severity").ok_or("jsonlog object has no error_severity")?;
    let location = match (text(m, "func_name"), text(m, "file_name")) {
        (Some(f), Some(file)) => Some(match text(m, "file_line_num") {
            Some(n) => format!("{f}, {file}:{n}"),
            None => format!("{f}, {file}"),
        }),
        _ => None,
    };
    Ok(StructuredRecord {
        line,
        time: text(m, "timestamp"),
        backend: text(m, "session_id").or_else(|| text(m, "pid")),
        user: text(m, "user"),
        database: text(m, "dbname"),
        application: text(m, "application_name"),
        client: text(m, "remote_host"),
        severity,
        message: text(m, "message").unwrap_or_default(),
        detail: text(m, "detail"),
        hint: text(m, "hint"),
        internal_query: text(m, "internal_query"),
        context: text(m, "context"),
        location,
        statement: text(m, "statement"),
    })
}

/// The first record start at or after byte `from` of `buf` (see
/// [`crate::chunk::RecordStart`]): every line is a record of its own (JSON
/// strings escape their line breaks), so the first complete line.
pub fn next_record_start(buf: &[u8], from: usize) -> Option<usize> {
    memchr::memchr(b'\n', buf.get(from..)?).map(|_| from)
}

/// Reads jsonlog lines from `reader`, calling `sink` for each entry (one per
/// non-empty message/detail/hint/internal_query/context/location/statement
/// key, as stderr would write them). Returns the I/O error that stopped
/// reading, if any (everything before it has been delivered).
pub fn read_entries(
    mut reader: impl BufRead,
    name: &str,
    lines_before: u64,
    cov: &mut FileCoverage,
    mut sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    let mut errors = RecordErrors::new(name);
    let mut notes = TimeNotes::default();
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = lines_before;
    loop {
        buf.clear();
        let n = match reader.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                errors.finish(cov);
                return Err((line_no, e));
            }
        };
        line_no += 1;
        cov.lines += 1;
        cov.bytes += n as u64;
        let line = match std::str::from_utf8(&buf) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => {
                cov.invalid_utf8_lines += 1;
                String::from_utf8_lossy(&buf)
            }
        };
        let line = line.trim();
        if line.is_empty() {
            cov.skip("blank line");
            continue;
        }
        let m = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                errors.bad(cov, "jsonlog", line_no, "not a JSON object");
                continue;
            }
            Err(e) => {
                errors.bad(cov, "jsonlog", line_no, &format!("not valid JSON: {e}"));
                continue;
            }
        };
        match record(&m, line_no) {
            Ok(rec) => {
                for e in rec.into_entries(cov, &mut notes) {
                    sink(e, cov);
                }
            }
            Err(why) => errors.bad(cov, "jsonlog", line_no, &why),
        }
    }
    errors.finish(cov);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Vec<LogEntry>, FileCoverage) {
        let mut cov = FileCoverage::default();
        let mut out = Vec::new();
        read_entries(text.as_bytes(), "x.json", 0, &mut cov, |e, _| out.push(e)).unwrap();
        (out, cov)
    }

    const GOOD: &str = r#"{"timestamp":"2024-06-27 00:00:07.369 CEST","user":"alice","dbname":"app","pid":58151,"remote_host":"::1","remote_port":5555,"session_id":"667c8f67.e327","line_num":3,"ps":"SELECT","error_severity":"ERROR","state_code":"22012","message":"division by zero","statement":"SELECT a\n FROM t","func_name":"int4div","file_name":"int.c","file_line_num":841,"application_name":"my app","backend_type":"client backend","query_id":0,"some_future_key":{"x":1}}"#;

    #[test]
    fn object_maps_to_entries_and_unknown_keys_are_ignored() {
        let (out, cov) = read(&format!("{GOOD}\n"));
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].severity, "ERROR");
        assert_eq!(out[0].backend.as_deref(), Some("667c8f67.e327"));
        assert_eq!(out[0].client.as_deref(), Some("::1"));
        assert_eq!(out[0].application.as_deref(), Some("my app"));
        assert_eq!(out[1].severity, "LOCATION");
        assert_eq!(out[1].message, "int4div, int.c:841");
        assert_eq!(out[2].message, "SELECT a\n FROM t");
        assert_eq!(out[0].time, Some(1_719_439_207_369));
        assert!(cov.errors.is_empty());
        assert!(looks_like_jsonlog(&[GOOD]));
    }

    #[test]
    fn broken_line_is_reported_and_reading_goes_on() {
        let text =
            format!("{GOOD}\n{{\"timestamp\":\"2024-06-27 00:00:08 CEST\",\"mess\n\n[1]\n{GOOD}\n");
        let (out, cov) = read(&text);
        assert_eq!(out.len(), 6);
        assert_eq!(out[3].line, 5);
        assert_eq!(cov.errors.len(), 2);
        assert!(
            cov.errors[0].starts_with("x.json:2: not valid JSON"),
            "{:?}",
            cov.errors
        );
        assert_eq!(cov.errors[1], "x.json:4: not a JSON object");
        assert_eq!(cov.skipped["unparseable jsonlog record"], 2);
        assert_eq!(cov.skipped["blank line"], 1);
        assert_eq!(cov.lines, 5);
    }
}
