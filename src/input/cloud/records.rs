//! Structured cloud records: CloudNativePG's JSON lines (`"logger":"postgres"`
//! with a `record` object of csvlog-named fields), Azure Log Analytics rows
//! (`record_<csvlog name>_s` columns) and Azure Event Hub batches
//! (`{"records":[{"properties":{timestamp, processId, errorLevel, message,
//! detail}}]}`). A record's `detail` becomes a `DETAIL` entry and its `query`
//! (the statement of an error) a `STATEMENT` entry, as the server logs them.

use std::borrow::Cow;
use std::io::BufRead;

use super::{for_each_json_value_while, json_str, Assembler};
use crate::input::json_stream::Keys;
use crate::input::prefix::Prefix;
use crate::input::stderr::detect_prefix;
use crate::input::{InputFormat, LogEntry};
use crate::inventory::FileCoverage;
use crate::time::parse_timestamp;

/// Reads CloudNativePG, Azure Log Analytics or Azure Event Hub records.
pub fn read_entries(
    format: InputFormat,
    reader: impl BufRead,
    forced: Option<&Prefix>,
    cov: &mut FileCoverage,
    sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    read(format, reader, forced.map(Some), 0, false, cov, sink).0
}

/// Whether an input of `format` whose first bytes are `head` can be read
/// in chunks ([`read_chunk`]): CloudNativePG, Azure Log Analytics and
/// Azure Event Hub records (given the prefix a whole read detects, see
/// [`event_hub_prefix`]), objects one after another or the elements of one
/// array ([`is_array`]).
pub fn chunkable(format: InputFormat, head: &[u8]) -> bool {
    matches!(
        format,
        InputFormat::CloudNativePg | InputFormat::AzureLogAnalytics | InputFormat::AzureEventHub
    ) && matches!(first_byte(head), Some(b'{' | b'['))
}

/// Whether an input whose first bytes are `head` is one JSON array.
pub fn is_array(head: &[u8]) -> bool {
    first_byte(head) == Some(b'[')
}

/// The first byte of `head` that is not a leading BOM or whitespace.
fn first_byte(head: &[u8]) -> Option<u8> {
    head.strip_prefix("\u{feff}".as_bytes())
        .unwrap_or(head)
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace())
}

/// The prefix a read of the Event Hub input `reader` detects (from its
/// first [`HUB_SAMPLE`] messages), reading no further than them.
pub fn event_hub_prefix(reader: impl BufRead) -> Option<Prefix> {
    let mut firsts: Vec<String> = Vec::new();
    let mut cov = FileCoverage::default();
    let _ = for_each_json_value_while::<HubKeys>(reader, 0, false, &mut cov, |v, _, _| {
        if let Some(serde_json::Value::Array(records)) = v.get("records") {
            for r in records {
                let message = r
                    .get("properties")
                    .filter(|p| p.is_object())
                    .and_then(|p| p.get("message"))
                    .and_then(|m| m.as_str());
                if let Some(m) = message.filter(|_| firsts.len() < HUB_SAMPLE) {
                    firsts.push(m.split('\n').next().unwrap_or("").to_string());
                }
            }
        }
        firsts.len() < HUB_SAMPLE
    });
    detect_prefix(&firsts.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The first record start at or after byte `from` of `buf` (see
/// [`crate::chunk::RecordStart`]): a complete line starting with `{` (after
/// spaces, as the elements of an indented array do). A sequential read need
/// not be between values there (a value may span lines); [`read_chunk`]
/// says when the chunk before it ended inside one.
pub fn next_record_start(buf: &[u8], from: usize) -> Option<usize> {
    let mut pos = from;
    while pos < buf.len() {
        let end = pos + memchr::memchr(b'\n', buf.get(pos..)?)?;
        let line = buf.get(pos..end).unwrap_or_default();
        if line.iter().find(|b| !matches!(b, b' ' | b'\t')) == Some(&b'{') {
            return Some(pos);
        }
        pos = end + 1;
    }
    None
}

/// Reads the records of a chunk of a [`chunkable`] input, numbering lines
/// after `lines_before`; `hub_prefix` is the Event Hub prefix of the whole
/// input, `inside_array` says the chunk is a later one of an array. Returns
/// false when the chunk ends inside a value (or the array ends in it): the
/// chunk after it does not start where a sequential read would, and the
/// input must be read in order.
pub fn read_chunk(
    format: InputFormat,
    data: &[u8],
    lines_before: u64,
    hub_prefix: Option<&Prefix>,
    inside_array: bool,
    cov: &mut FileCoverage,
    sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> bool {
    // Reading a byte slice cannot fail.
    read(
        format,
        data,
        Some(hub_prefix),
        lines_before,
        inside_array,
        cov,
        sink,
    )
    .1
}

/// Reads records; `decided` is the Event Hub prefix when it is known
/// (`Some(None)`: none), `None` to detect it from the first messages.
fn read(
    format: InputFormat,
    reader: impl BufRead,
    decided: Option<Option<&Prefix>>,
    lines_before: u64,
    inside_array: bool,
    cov: &mut FileCoverage,
    sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> (Result<(), (u64, std::io::Error)>, bool) {
    let args = (decided, lines_before, inside_array);
    match format {
        InputFormat::CloudNativePg => read_keeping::<CnpgKeys>(format, reader, args, cov, sink),
        InputFormat::AzureLogAnalytics => {
            read_keeping::<LogAnalyticsKeys>(format, reader, args, cov, sink)
        }
        _ => read_keeping::<HubKeys>(format, reader, args, cov, sink),
    }
}

/// The keys of a CloudNativePG line that are read: `logger`, `record` and
/// the fields of the record [`csvlog_record`] reads.
struct CnpgKeys;

impl Keys for CnpgKeys {
    const KEYS: &'static [&'static str] = &[
        "logger",
        "record",
        "error_severity",
        "log_time",
        "session_id",
        "process_id",
        "user_name",
        "database_name",
        "application_name",
        "connection_from",
        "message",
        "detail",
        "query",
    ];
}

/// The columns of a Log Analytics row that are read: `record_{k}_s` for
/// each field `k` [`csvlog_record`] reads.
struct LogAnalyticsKeys;

impl Keys for LogAnalyticsKeys {
    const KEYS: &'static [&'static str] = &[
        "record_error_severity_s",
        "record_log_time_s",
        "record_session_id_s",
        "record_process_id_s",
        "record_user_name_s",
        "record_database_name_s",
        "record_application_name_s",
        "record_connection_from_s",
        "record_message_s",
        "record_detail_s",
        "record_query_s",
    ];
}

/// The keys of an Event Hub document that are read: `records`, their
/// `properties` and the properties [`event_hub_record`] reads.
struct HubKeys;

impl Keys for HubKeys {
    const KEYS: &'static [&'static str] = &[
        "records",
        "properties",
        "message",
        "timestamp",
        "processId",
        "errorLevel",
        "detail",
    ];
}

/// [`read`], keeping the keys `K` of each value.
fn read_keeping<K: Keys>(
    format: InputFormat,
    reader: impl BufRead,
    (decided, lines_before, inside_array): (Option<Option<&Prefix>>, u64, bool),
    cov: &mut FileCoverage,
    mut sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> (Result<(), (u64, std::io::Error)>, bool) {
    // Flexible Server messages carry the server's prefix: it is detected
    // once from the first messages, as for a stderr log; records are held
    // only until then.
    let mut hub = Hub {
        prefix: decided.map(|p| p.cloned()),
        ..Hub::default()
    };
    let res =
        for_each_json_value_while::<K>(reader, lines_before, inside_array, cov, |v, line, cov| {
            record(format, v, line, &mut hub, cov, &mut sink);
            true
        });
    hub.finish(cov, &mut sink);
    res
}

/// One top-level JSON value of a records input.
fn record(
    format: InputFormat,
    v: serde_json::Value,
    line: u64,
    hub: &mut Hub,
    cov: &mut FileCoverage,
    sink: &mut impl FnMut(LogEntry, &mut FileCoverage),
) {
    match format {
        InputFormat::CloudNativePg => {
            let rec = v.get("record").filter(|r| r.is_object());
            match rec {
                Some(r) if json_str(&v, "logger").is_none_or(|l| l == "postgres") => {
                    csvlog_record(|k| json_str(r, k), line, cov, sink);
                }
                _ => cov.skip("CloudNativePG line that is not a PostgreSQL log record"),
            }
        }
        InputFormat::AzureLogAnalytics => {
            let field = |k: &str| json_str(&v, &format!("record_{k}_s"));
            if field("message").is_none() && field("error_severity").is_none() {
                cov.skip("Log Analytics row without record_message_s");
                return;
            }
            csvlog_record(field, line, cov, sink);
        }
        _ => {
            let serde_json::Value::Object(mut doc) = v else {
                cov.skip("Event Hub document without records");
                return;
            };
            let Some(serde_json::Value::Array(records)) = doc.remove("records") else {
                cov.skip("Event Hub document without records");
                return;
            };
            for r in records {
                match r {
                    serde_json::Value::Object(mut r) => match r.remove("properties") {
                        Some(p @ serde_json::Value::Object(_)) => {
                            hub.record(line, p, cov, sink);
                        }
                        _ => cov.skip("Event Hub record without properties"),
                    },
                    _ => cov.skip("Event Hub record without properties"),
                }
            }
        }
    }
}

/// How many messages the prefix of Event Hub records is detected from.
const HUB_SAMPLE: usize = 500;

/// Event Hub records, held until their prefix is known.
#[derive(Default)]
struct Hub {
    /// The prefix, once decided (`Some(None)`: none detected).
    prefix: Option<Option<Prefix>>,
    held: Vec<(u64, serde_json::Value)>,
    /// Held records with a message.
    messages: usize,
    used_prefix: Option<String>,
}

impl Hub {
    fn record(
        &mut self,
        line: u64,
        p: serde_json::Value,
        cov: &mut FileCoverage,
        sink: &mut impl FnMut(LogEntry, &mut FileCoverage),
    ) {
        if let Some(prefix) = &self.prefix {
            event_hub_record(&p, line, prefix.as_ref(), &mut self.used_prefix, cov, sink);
            return;
        }
        if p.get("message").is_some_and(|m| m.is_string()) {
            self.messages += 1;
        }
        self.held.push((line, p));
        if self.messages >= HUB_SAMPLE {
            self.decide(cov, sink);
        }
    }

    /// Detects the prefix from the held records and hands them on.
    fn decide(
        &mut self,
        cov: &mut FileCoverage,
        sink: &mut impl FnMut(LogEntry, &mut FileCoverage),
    ) {
        let firsts: Vec<&str> = self
            .held
            .iter()
            .filter_map(|(_, p)| p.get("message").and_then(|m| m.as_str()))
            .map(|m| m.split('\n').next().unwrap_or(""))
            .take(HUB_SAMPLE)
            .collect();
        let prefix = detect_prefix(&firsts);
        for (line, p) in std::mem::take(&mut self.held) {
            event_hub_record(&p, line, prefix.as_ref(), &mut self.used_prefix, cov, sink);
        }
        self.prefix = Some(prefix);
    }

    fn finish(
        mut self,
        cov: &mut FileCoverage,
        sink: &mut impl FnMut(LogEntry, &mut FileCoverage),
    ) {
        if self.prefix.is_none() {
            self.decide(cov, sink);
        }
        if let Some(p) = self.used_prefix {
            cov.log_line_prefix = Some(p);
        }
    }
}

/// One csvlog-shaped record (field names as in csvlog).
fn csvlog_record<'a>(
    get: impl Fn(&str) -> Option<Cow<'a, str>>,
    line: u64,
    cov: &mut FileCoverage,
    sink: &mut impl FnMut(LogEntry, &mut FileCoverage),
) {
    let Some(severity) = get("error_severity") else {
        cov.skip("log record without error_severity");
        return;
    };
    let s = |k: &str| get(k).map(|v| v.trim().to_string());
    let base = LogEntry {
        line,
        time: get("log_time")
            .and_then(|t| parse_timestamp(&t))
            .map(|t| t.millis),
        backend: s("session_id").or_else(|| s("process_id")),
        user: s("user_name"),
        database: s("database_name"),
        application: s("application_name"),
        client: s("connection_from").map(|c| match c.rsplit_once(':') {
            // host:port (IPv6 hosts hold colons too; the port is last)
            Some((h, p)) if p.chars().all(|ch| ch.is_ascii_digit()) => h.to_string(),
            _ => c,
        }),
        severity: severity.trim().to_string(),
        message: get("message").map(|m| m.into_owned()).unwrap_or_default(),
    };
    let detail = get("detail").map(Cow::into_owned);
    let query = get("query").map(Cow::into_owned);
    let base_for = |sev: &str, msg: String| LogEntry {
        severity: sev.to_string(),
        message: msg,
        ..base.clone()
    };
    let extra: Vec<LogEntry> = [
        detail.map(|d| base_for("DETAIL", d)),
        query.map(|q| base_for("STATEMENT", q)),
    ]
    .into_iter()
    .flatten()
    .collect();
    sink(base, cov);
    for e in extra {
        sink(e, cov);
    }
}

/// One Event Hub record. Flexible Server's `message` is the whole line
/// with its prefix; Single Server's is the message alone (the prefix in a
/// `prefix` property).
fn event_hub_record(
    p: &serde_json::Value,
    line: u64,
    prefix: Option<&Prefix>,
    used: &mut Option<String>,
    cov: &mut FileCoverage,
    sink: &mut impl FnMut(LogEntry, &mut FileCoverage),
) {
    let Some(message) = p.get("message").and_then(|m| m.as_str()) else {
        cov.skip("Event Hub record without message");
        return;
    };
    let time = json_str(p, "timestamp")
        .and_then(|t| parse_timestamp(&t))
        .map(|t| t.millis);
    let pid = json_str(p, "processId").map(Cow::into_owned);
    let mut lines = message.split('\n');
    let first = lines.next().unwrap_or("");
    let mut asm = Assembler::default();
    let mut emit = |e: LogEntry, cov: &mut FileCoverage| sink(e, cov);
    match prefix.filter(|pr| pr.split(first).is_some()) {
        Some(pr) => {
            if used.is_none() {
                *used = Some(pr.source.clone());
            }
            asm.line(first, line, time, pr, cov, &mut emit);
        }
        None => {
            let level = json_str(p, "errorLevel")
                .map_or_else(|| "LOG".to_string(), |l| l.trim().to_string());
            // Single Server: the message may still start with `LEVEL:  `.
            let body = first
                .strip_prefix(&format!("{level}:  "))
                .unwrap_or(first)
                .to_string();
            asm.start(
                LogEntry {
                    line,
                    time,
                    backend: pid.clone(),
                    severity: level,
                    message: body,
                    ..LogEntry::default()
                },
                cov,
                &mut emit,
            );
        }
    }
    for l in lines {
        asm.continuation(l.strip_prefix('\t').unwrap_or(l));
    }
    asm.finish(cov, &mut emit);
    if let Some(detail) = json_str(p, "detail") {
        emit(
            LogEntry {
                line,
                time,
                backend: pid,
                severity: "DETAIL".into(),
                message: detail.into_owned(),
                ..LogEntry::default()
            },
            cov,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(format: InputFormat, text: &str) -> (Vec<LogEntry>, FileCoverage) {
        let mut cov = FileCoverage::default();
        let mut out = Vec::new();
        read_entries(format, text.as_bytes(), None, &mut cov, |e, _| out.push(e)).unwrap();
        (out, cov)
    }

    /// Reading only the keys each format reads reads every record as
    /// reading whole values does: the CloudNativePG, Log Analytics and
    /// Event Hub fixtures, and copies whose values carry the read keys
    /// inside skipped values, twice, or with other types.
    #[test]
    fn records_read_with_only_the_keys_read_as_whole_values() {
        use crate::input::json_stream::AllKeys;
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/cloud/");
        let mut checked = 0;
        // Per format, the key mutated, and changes that send records down
        // the paths that read the fallback keys (`process_id` without a
        // session id, a `logger` other than postgres, `errorLevel` for a
        // message without the server's prefix).
        for (format, file, key, fallbacks) in [
            (
                InputFormat::CloudNativePg,
                "cnpg.ndjson",
                r#""message":"#,
                &[
                    (r#""session_id":"#, r#""session_idx":"#),
                    (r#""logger":"postgres""#, r#""logger":"pooler""#),
                ][..],
            ),
            (
                InputFormat::AzureLogAnalytics,
                "azure-log-analytics.json",
                r#""record_message_s":"#,
                &[(r#""record_session_id_s":"#, r#""record_session_idx_s":"#)][..],
            ),
            (
                InputFormat::AzureEventHub,
                "azure-eventhub.ndjson",
                r#""message":"#,
                &[(r#""message":""#, r#""message":"x"#)][..],
            ),
        ] {
            let text = std::fs::read_to_string(format!("{root}{file}")).unwrap();
            let odd = text
                .lines()
                .enumerate()
                .map(|(i, l)| match i % 4 {
                    0 => l.replacen(
                        key,
                        &format!(r#""extra":{{{key}"x","records":[]}},{key}"#),
                        1,
                    ),
                    1 => l.replacen(key, &format!("{key}7,{key}"), 1),
                    2 => l.replacen(key, &format!(r#"{key}null,"z":"#), 1),
                    // One fallback a line, in turn.
                    _ => match fallbacks.get((i / 4) % fallbacks.len()) {
                        Some((from, to)) => l.replace(from, to),
                        None => l.to_string(),
                    },
                })
                .collect::<Vec<_>>()
                .join("\n");
            for text in [&text, &odd] {
                let read_as = |whole: bool| {
                    let mut cov = FileCoverage::default();
                    let mut out = Vec::new();
                    let sink = |e, _: &mut FileCoverage| out.push(e);
                    let args = (None, 0, false);
                    let res = if whole {
                        read_keeping::<AllKeys>(format, text.as_bytes(), args, &mut cov, sink)
                    } else {
                        super::read(format, text.as_bytes(), None, 0, false, &mut cov, sink)
                    };
                    assert!(res.0.is_ok());
                    (out, cov)
                };
                let (pruned, whole) = (read_as(false), read_as(true));
                assert_eq!(pruned, whole, "{file}");
                checked += pruned.0.len();
            }
        }
        assert!(checked > 500, "{checked}");
    }

    #[test]
    fn cnpg_record_with_error_and_statement() {
        let text = concat!(
            r#"{"level":"info","ts":"2024-05-01T10:00:00Z","logger":"instance-manager","msg":"ready","logging_pod":"db-1"}"#,
            "\n",
            r#"{"level":"info","ts":"2024-05-01T10:00:01Z","logger":"postgres","msg":"record","logging_pod":"db-1","record":{"log_time":"2024-05-01 10:00:01.000 UTC","user_name":"app","database_name":"appdb","process_id":"42","connection_from":"10.0.0.9:5123","session_id":"66320000.2a","error_severity":"ERROR","message":"division by zero","detail":"","query":"SELECT a/0 FROM t","application_name":"web"}}"#,
            "\n",
        );
        let (out, cov) = read(InputFormat::CloudNativePg, text);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].severity, "ERROR");
        assert_eq!(out[1].severity, "STATEMENT");
        assert_eq!(out[1].message, "SELECT a/0 FROM t");
        assert_eq!(out[1].client.as_deref(), Some("10.0.0.9"));
        assert_eq!(out[1].backend.as_deref(), Some("66320000.2a"));
        assert_eq!(out[1].line, 2);
        assert_eq!(
            cov.skipped["CloudNativePG line that is not a PostgreSQL log record"],
            1
        );
    }

    #[test]
    fn event_hub_flexible_and_single_server_messages() {
        let text = r#"{"records":[
 {"properties":{"timestamp":"2024-05-01 10:00:00.000 UTC","processId":42,"errorLevel":"LOG","message":"2024-05-01 10:00:00.000 UTC [42] [user=alice,db=app,app=web] LOG:  statement: SELECT a\n\tFROM t","detail":"parameters: $1 = 'x'"}},
 {"properties":{"timestamp":"2024-05-01 10:00:01.000 UTC","processId":43,"errorLevel":"LOG","prefix":"2024-05-01 10:00:01 UTC-66320001.2b-","message":"statement: SELECT b"}}
]}"#;
        let (out, _) = read(InputFormat::AzureEventHub, text);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].message, "statement: SELECT a\nFROM t");
        assert_eq!(out[0].user.as_deref(), Some("alice"));
        assert_eq!(out[1].severity, "DETAIL");
        assert_eq!(out[2].message, "statement: SELECT b");
        assert_eq!(out[2].backend.as_deref(), Some("43"));
        assert_eq!(out[2].time, Some(1_714_557_601_000));
    }
}
