//! Google Cloud SQL (and AlloyDB) logs exported from Cloud Logging: JSON
//! entries, one a line (log sinks) or one array (`gcloud logging read
//! --format=json`, newest first). The server's line is in `textPayload`
//! (`[pid]: [N-1] db=…,user=… LOG:  …`, newer instances put `%m ` in front;
//! AlloyDB adds `[file.c:123]  `), the time in `timestamp`, and each
//! continuation line of a message is an entry of its own starting with a tab.

use std::io::BufRead;
use std::sync::OnceLock;

use regex::Regex;

use super::{for_each_json_value, json_str, Assembler};
use crate::input::prefix::Prefix;
use crate::input::stderr::detect_prefix;
use crate::input::LogEntry;
use crate::inventory::FileCoverage;
use crate::time::{parse_timestamp, Millis};

/// Cloud SQL's `log_line_prefix` values, newest first.
const PREFIXES: &[&str] = &[
    "%m [%p]: [%l-1] db=%d,user=%u ",
    "%t [%p]: [%l-1] db=%d,user=%u ",
    "[%p]: [%l-1] db=%d,user=%u ",
];

fn alloydb_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"^\[[A-Za-z0-9_.\-]+:\d+\]  ")
            .unwrap_or_else(|e| unreachable!("static regex: {e}"))
    })
}

struct Payload {
    line: u64,
    time: Option<Millis>,
    text: String,
}

/// Reads the entries, puts them in time order and reads their payloads like
/// a stderr log.
pub fn read_entries(
    reader: impl BufRead,
    forced: Option<&Prefix>,
    cov: &mut FileCoverage,
    mut sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    let mut payloads = Vec::new();
    let res = for_each_json_value(reader, cov, |v, line, cov| {
        let is_postgres = json_str(&v, "logName").is_some_and(|n| n.contains("postgres.log"));
        let Some(text) = v.get("textPayload").and_then(|t| t.as_str()) else {
            cov.skip("Cloud Logging entry without textPayload");
            return;
        };
        if !is_postgres {
            cov.skip("Cloud Logging entry of another log than postgres.log");
            return;
        }
        let text = match alloydb_re().find(text) {
            Some(m) => text.get(m.end()..).unwrap_or(text),
            None => text,
        };
        payloads.push(Payload {
            line,
            time: json_str(&v, "timestamp")
                .and_then(|t| parse_timestamp(&t))
                .map(|t| t.millis),
            text: text.trim_end_matches(['\n', '\r']).to_string(),
        });
    });
    // `gcloud logging read` lists newest first: put them back in order
    // (a stable sort keeps continuation entries after their first line).
    if payloads.first().and_then(|p| p.time) > payloads.last().and_then(|p| p.time) {
        payloads.reverse();
    }
    payloads.sort_by_key(|p| p.time);
    let sample: Vec<&str> = payloads
        .iter()
        .map(|p| p.text.as_str())
        .filter(|t| !t.starts_with('\t'))
        .take(500)
        .collect();
    let prefix = forced.cloned().or_else(|| {
        PREFIXES
            .iter()
            .filter_map(|p| Prefix::compile_known(p).ok())
            .map(|p| {
                let hits = sample.iter().filter(|l| p.split(l).is_some()).count();
                (hits, p)
            })
            .filter(|(hits, _)| *hits > 0)
            .max_by_key(|(hits, _)| *hits)
            .map(|(_, p)| p)
            .or_else(|| detect_prefix(&sample))
    });
    let Some(prefix) = prefix else {
        for _ in &payloads {
            cov.skip("line does not match log_line_prefix");
        }
        cov.errors
            .push("no textPayload matches a Cloud SQL or other known log_line_prefix".into());
        return res;
    };
    cov.log_line_prefix = Some(prefix.source.clone());
    let mut asm = Assembler::default();
    for p in &payloads {
        asm.line(&p.text, p.line, p.time, &prefix, cov, &mut sink);
    }
    asm.finish(cov, &mut sink);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_entries_with_tab_continuations_are_put_back_together() {
        let e = |ts: &str, payload: &str| {
            serde_json::json!({
                "logName": "projects/p/logs/cloudsql.googleapis.com%2Fpostgres.log",
                "resource": {"type": "cloudsql_database"},
                "textPayload": payload,
                "timestamp": ts,
            })
        };
        let entries = vec![
            e("2024-05-01T10:00:01.000001Z", "\tFROM t"),
            e("2024-05-01T10:00:01Z", "[42]: [3-1] db=app,user=alice LOG:  statement: SELECT a"),
            e("2024-05-01T10:00:00Z", "[42]: [2-1] db=app,user=alice LOG:  connection authorized: user=alice database=app application_name=psql"),
        ];
        let json = serde_json::to_string_pretty(&entries).unwrap();
        let mut cov = FileCoverage::default();
        let mut out = Vec::new();
        read_entries(json.as_bytes(), None, &mut cov, |e, _| out.push(e)).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].message, "statement: SELECT a\nFROM t");
        assert_eq!(out[1].user.as_deref(), Some("alice"));
        assert_eq!(out[1].time, Some(1_714_557_601_000));
        assert_eq!(
            cov.log_line_prefix.as_deref(),
            Some("[%p]: [%l-1] db=%d,user=%u ")
        );
    }
}
