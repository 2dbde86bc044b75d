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

use super::for_each_line;
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
            r"\[(?P<color>[A-Z0-9_]+)\] \[(?P<seq>\d+)-(?P<chunk>\d+)\] ?(?P<body>.*)$"
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

fn frame(line: &str) -> Option<Frame<'_>> {
    let c = frame_re().captures(line)?;
    let ts = c.name("dts").or(c.name("ts"))?.as_str();
    Some(Frame {
        time: parse_timestamp(ts).map(|t| t.millis),
        pid: c.name("dpid").or(c.name("pid"))?.as_str(),
        seq: c.name("seq")?.as_str().parse().ok()?,
        chunk: c.name("chunk")?.as_str().parse().ok()?,
        body: c.name("body").map_or("", |m| m.as_str()),
    })
}

/// Do lines of the sample look like Heroku Postgres logplex lines?
pub fn detect(sample: &[&str]) -> bool {
    sample
        .iter()
        .any(|l| frame(l).is_some_and(|f| f.chunk == 1))
}

struct Pending {
    seq: u64,
    entry: LogEntry,
}

/// Reads entries, reassembling each process's chunks.
pub fn read_entries(
    reader: impl BufRead,
    cov: &mut FileCoverage,
    mut sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    let prefixes: Vec<Prefix> = PREFIXES
        .iter()
        .filter_map(|p| Prefix::compile_known(p).ok())
        .collect();
    let mut pending: BTreeMap<String, Pending> = BTreeMap::new();
    let mut used: BTreeMap<String, ()> = BTreeMap::new();
    let res = for_each_line(reader, cov, |line, n, cov| {
        let Some(f) = frame(line) else {
            if line.trim().is_empty() {
                cov.skip("blank line");
            } else {
                cov.skip("not a Heroku Postgres log line");
            }
            return;
        };
        if f.chunk > 1 {
            match pending.get_mut(f.pid) {
                Some(p) if p.seq == f.seq => {
                    // A chunk that starts with a tab (or syslog's `#011`)
                    // follows a line break; others continue an over-long line.
                    if let Some(rest) = f
                        .body
                        .strip_prefix('\t')
                        .or_else(|| f.body.strip_prefix("#011"))
                    {
                        p.entry.message.push('\n');
                        p.entry.message.push_str(rest);
                    } else {
                        p.entry.message.push_str(f.body);
                    }
                }
                _ => cov.skip("Heroku chunk without its first chunk"),
            }
            return;
        }
        let Some((idx, parts)) = prefixes
            .iter()
            .enumerate()
            .find_map(|(i, p)| p.split(f.body).map(|parts| (i, parts)))
        else {
            cov.skip("line does not match log_line_prefix");
            return;
        };
        if let Some(prefix) = PREFIXES.get(idx) {
            used.insert(prefix.to_string(), ());
        }
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
        if let Some(prev) = pending.insert(f.pid.to_string(), Pending { seq: f.seq, entry }) {
            sink(prev.entry, cov);
        }
    });
    let mut rest: Vec<LogEntry> = pending.into_values().map(|p| p.entry).collect();
    rest.sort_by_key(|e| e.line);
    for e in rest {
        sink(e, cov);
    }
    if !used.is_empty() {
        cov.log_line_prefix = Some(used.into_keys().collect::<Vec<_>>().join(" | "));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

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
