//! Reader for PostgreSQL 15+ `jsonlog` files: one JSON object per line,
//! absent (null) strings omitted, unknown keys ignored, ids as numbers or
//! strings. A line that is not a JSON log object is reported with its line
//! and reading goes on.

use std::borrow::Cow;
use std::io::BufRead;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::json_stream::{KeyText, Skip};

use super::record::{present, RecordErrors, StructuredRecord, TimeNotes};
use super::LogEntry;
use crate::inventory::FileCoverage;

/// A value of a key pgcontract reads, as [`text`] sees it: a string
/// (borrowed from the line when it has no escapes), the text of a number
/// or boolean as `serde_json` prints it, or anything else (null, an array,
/// an object), which has no text.
#[derive(Debug)]
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Text(String),
    Other,
}

/// The keys of a jsonlog object that pgcontract reads (the last of a key
/// written twice wins, as in a JSON map); every other value is checked
/// and skipped without being kept.
#[derive(Debug, Default)]
struct LogObject<'a> {
    timestamp: Option<Scalar<'a>>,
    session_id: Option<Scalar<'a>>,
    pid: Option<Scalar<'a>>,
    user: Option<Scalar<'a>>,
    dbname: Option<Scalar<'a>>,
    application_name: Option<Scalar<'a>>,
    remote_host: Option<Scalar<'a>>,
    error_severity: Option<Scalar<'a>>,
    message: Option<Scalar<'a>>,
    detail: Option<Scalar<'a>>,
    hint: Option<Scalar<'a>>,
    internal_query: Option<Scalar<'a>>,
    context: Option<Scalar<'a>>,
    statement: Option<Scalar<'a>>,
    func_name: Option<Scalar<'a>>,
    file_name: Option<Scalar<'a>>,
    file_line_num: Option<Scalar<'a>>,
}

/// A line's JSON value: a log object, or any other value.
enum Parsed<'a> {
    Object(Box<LogObject<'a>>),
    NotObject,
}

fn parse_line(line: &str) -> Result<Parsed<'_>, serde_json::Error> {
    serde_json::from_str(line)
}

fn parse_object(line: &str) -> Option<LogObject<'_>> {
    match parse_line(line) {
        Ok(Parsed::Object(m)) => Some(*m),
        _ => None,
    }
}

fn is_log_object(m: &LogObject<'_>) -> bool {
    m.timestamp.is_some() && m.error_severity.is_some()
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
fn text(v: &Option<Scalar<'_>>) -> Option<String> {
    match v.as_ref()? {
        Scalar::Str(s) => present(Some(s)),
        Scalar::Text(t) => Some(t.clone()),
        Scalar::Other => None,
    }
}

fn record(m: &LogObject<'_>, line: u64) -> Result<StructuredRecord, String> {
    let severity = text(&m.error_severity).ok_or("jsonlog object has no error_severity")?;
    let location = match (text(&m.func_name), text(&m.file_name)) {
        (Some(f), Some(file)) => Some(match text(&m.file_line_num) {
            Some(n) => format!("{f}, {file}:{n}"),
            None => format!("{f}, {file}"),
        }),
        _ => None,
    };
    Ok(StructuredRecord {
        line,
        time: text(&m.timestamp),
        backend: text(&m.session_id).or_else(|| text(&m.pid)),
        user: text(&m.user),
        database: text(&m.dbname),
        application: text(&m.application_name),
        client: text(&m.remote_host),
        severity,
        message: text(&m.message).unwrap_or_default(),
        detail: text(&m.detail),
        hint: text(&m.hint),
        internal_query: text(&m.internal_query),
        context: text(&m.context),
        location,
        statement: text(&m.statement),
    })
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Text(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Text(serde_json::Number::from(v).to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Text(serde_json::Number::from(v).to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(serde_json::Number::from_f64(v)
                    .map_or(Scalar::Other, |n| Scalar::Text(n.to_string())))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_element::<Skip>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Parsed<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Parsed<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut m = LogObject::default();
                while let Some(KeyText(k)) = a.next_key::<KeyText<'de>>()? {
                    let slot = match &*k {
                        "timestamp" => &mut m.timestamp,
                        "session_id" => &mut m.session_id,
                        "pid" => &mut m.pid,
                        "user" => &mut m.user,
                        "dbname" => &mut m.dbname,
                        "application_name" => &mut m.application_name,
                        "remote_host" => &mut m.remote_host,
                        "error_severity" => &mut m.error_severity,
                        "message" => &mut m.message,
                        "detail" => &mut m.detail,
                        "hint" => &mut m.hint,
                        "internal_query" => &mut m.internal_query,
                        "context" => &mut m.context,
                        "statement" => &mut m.statement,
                        "func_name" => &mut m.func_name,
                        "file_name" => &mut m.file_name,
                        "file_line_num" => &mut m.file_line_num,
                        _ => {
                            a.next_value::<Skip>()?;
                            continue;
                        }
                    };
                    *slot = Some(a.next_value::<Scalar<'de>>()?);
                }
                Ok(Parsed::Object(Box::new(m)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                while a.next_element::<Skip>()?.is_some() {}
                Ok(Parsed::NotObject)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Parsed::NotObject)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Parsed::NotObject)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Parsed::NotObject)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Parsed::NotObject)
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Parsed::NotObject)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Parsed::NotObject)
            }
        }
        d.deserialize_any(V)
    }
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
        let m = match parse_line(line) {
            Ok(Parsed::Object(m)) => m,
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

#[cfg(test)]
mod typed_parse_tests {
    use serde_json::{Map, Value};

    use super::*;
    use crate::test_rng::Rng;

    /// What a line reads as: a JSON error, not an object (`None`), or an
    /// object (whether it is a log object, and its record).
    type Read = Result<Option<(bool, Result<StructuredRecord, String>)>, String>;

    /// The reading this module did before its typed parse: the whole line
    /// as a `serde_json::Value`, then the keys looked up in its map.
    fn by_value(line: &str) -> Read {
        fn text(m: &Map<String, Value>, key: &str) -> Option<String> {
            match m.get(key)? {
                Value::String(s) => present(Some(s)),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            }
        }
        let m = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        let log = m.contains_key("timestamp") && m.contains_key("error_severity");
        let rec = (|| {
            let severity =
                text(&m, "error_severity").ok_or("jsonlog object has no error_severity")?;
            let location = match (text(&m, "func_name"), text(&m, "file_name")) {
                (Some(f), Some(file)) => Some(match text(&m, "file_line_num") {
                    Some(n) => format!("{f}, {file}:{n}"),
                    None => format!("{f}, {file}"),
                }),
                _ => None,
            };
            Ok(StructuredRecord {
                line: 7,
                time: text(&m, "timestamp"),
                backend: text(&m, "session_id").or_else(|| text(&m, "pid")),
                user: text(&m, "user"),
                database: text(&m, "dbname"),
                application: text(&m, "application_name"),
                client: text(&m, "remote_host"),
                severity,
                message: text(&m, "message").unwrap_or_default(),
                detail: text(&m, "detail"),
                hint: text(&m, "hint"),
                internal_query: text(&m, "internal_query"),
                context: text(&m, "context"),
                location,
                statement: text(&m, "statement"),
            })
        })();
        Ok(Some((log, rec)))
    }

    fn by_typed(line: &str) -> Read {
        match parse_line(line) {
            Ok(Parsed::Object(m)) => Ok(Some((is_log_object(&m), record(&m, 7)))),
            Ok(Parsed::NotObject) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The typed parse reads every line as the `Value` parse did: the same
    /// records, the same "not an object" and the same JSON error messages,
    /// on objects with every key pgcontract reads and unknown ones, keys
    /// written twice, values of every JSON type (null, numbers of every
    /// kind, booleans, arrays, objects), escaped keys and strings, empty
    /// and `[unknown]` strings, other top-level values, and broken JSON
    /// (cut short, trailing text, bad escapes and numbers, deep nesting).
    #[test]
    fn typed_parse_reads_every_line_as_the_value_parse_did() {
        let keys = [
            "timestamp",
            "session_id",
            "pid",
            "user",
            "dbname",
            "application_name",
            "remote_host",
            "error_severity",
            "message",
            "detail",
            "hint",
            "internal_query",
            "context",
            "statement",
            "func_name",
            "file_name",
            "file_line_num",
            "ps",
            "x",
            "time\\u0073tamp",
            "us\\ner",
        ];
        let values = [
            "\"2024-06-27 00:00:07.369 CEST\"",
            "\"LOG\"",
            "\"\"",
            "\"[unknown]\"",
            "null",
            "0",
            "-12",
            "18446744073709551615",
            "1.5",
            "1e3",
            "-0.0",
            "1E400",
            "true",
            "false",
            "[]",
            "[1,{\"a\":[null]}]",
            "{}",
            "{\"message\":\"inner\"}",
            "\"a\\nb \\u00e9\"",
            "\"caf\u{e9}\"",
            "\"\\ud83d\\ude00\"",
            "\"x\\\"y\"",
            "123456789012345678901234567890",
        ];
        let broken = [
            "", "{", "{\"a\"", "{\"a\":}", "{\"a\":1,}", "{} x", "[1,2", "\"\\x\"", "01",
            "{\"a\":tru}", "nul", "{\"a\":\"\\ud800\"}", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
            "1", "\"s\"", "true", "null", "[]",
        ];
        let mut rng = Rng(11);
        let mut compared = 0;
        for round in 0..30_000 {
            let line = if round % 10 == 0 {
                let mut l = rng.pick(&broken).to_string();
                if round % 20 == 0 {
                    l = format!("{{\"timestamp\":\"t\",\"error_severity\":{l}}}");
                }
                l
            } else {
                let n = (rng.next() % 12) as usize;
                let body: Vec<String> = (0..n)
                    .map(|_| format!("\"{}\":{}", rng.pick(&keys), rng.pick(&values)))
                    .collect();
                format!("{{{}}}", body.join(","))
            };
            assert_eq!(by_typed(&line), by_value(&line), "{line}");
            compared += 1;
        }
        assert_eq!(compared, 30_000);
        let good = by_typed(GOOD_LINE).expect("valid JSON").expect("an object");
        assert!(good.0);
        assert_eq!(
            good.1.expect("a record").backend.as_deref(),
            Some("667c8f67.e327")
        );
    }

    const GOOD_LINE: &str = r#"{"timestamp":"2024-06-27 00:00:07.369 CEST","pid":58151,"session_id":"667c8f67.e327","error_severity":"LOG","message":"m"}"#;
}
