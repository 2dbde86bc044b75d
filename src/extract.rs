//! Statement extraction: turns log entries into executed statements with
//! their actor, time and call count, following each backend's state (the
//! extended protocol, bare `duration:` lines, ERROR + STATEMENT pairs,
//! `connection authorized:` back-fill). Every entry is counted in coverage by
//! kind. Bind parameter values (`DETAIL:  parameters:`) are never kept.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;

use crate::input::{LogEntry, StatsRow};
use crate::inventory::{Actor, FileCoverage};
use crate::time::Millis;

/// A statement to analyse, with who ran it and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The SQL as logged (may hold several `;`-separated statements).
    pub text: String,
    /// Who ran it.
    pub actor: Actor,
    /// When (UTC), if the log says.
    pub time: Option<Millis>,
    /// Executions this represents (1 for log lines, `calls` for pg_stat_statements).
    pub calls: u64,
    /// It failed with an error (still evidence of use).
    pub failed: bool,
    /// Source line of the record.
    pub line: u64,
    /// pg_stat_statements `toplevel`, when known.
    pub toplevel: Option<bool>,
    /// The log cut the record short ([`TRUNCATED_MARKER`]): the text is
    /// only the start of the statement.
    pub truncated: bool,
}

/// What AWS RDS/Aurora appends to a message cut at its size limit.
pub const TRUNCATED_MARKER: &str = "[Your log message was truncated]";

#[derive(Debug, Default)]
struct Backend {
    user: Option<String>,
    database: Option<String>,
    application: Option<String>,
    client: Option<String>,
    last_statement: Option<String>,
    error_pending: bool,
}

/// Per-input extraction state.
#[derive(Debug, Default)]
pub struct Extractor {
    backends: HashMap<String, Backend>,
    /// The entry being processed was cut short by the log.
    truncating: bool,
}

fn re(cell: &'static OnceLock<Regex>, pat: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pat).unwrap_or_else(|e| unreachable!("static regex {pat}: {e}")))
}

fn execute_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(
        &R,
        r"(?s)^execute (fetch from )?[^:\s]+(?:/[^:\s]+)?: (.*)$",
    )
}

fn step_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"(?s)^(parse|bind) [^:\s]+(?:/[^:\s]+)?: (.*)$")
}

fn duration_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    re(&R, r"(?s)^duration: [0-9.]+ ms(?:  (.*))?$")
}

fn kv(message: &str, key: &str) -> Option<String> {
    let start = message.find(&format!("{key}="))? + key.len() + 1;
    let rest = &message[start..];
    let end = rest.find(' ').unwrap_or(rest.len());
    let v = rest[..end].trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// What a LOG message body is.
enum LogBody<'a> {
    Statement(&'a str),
    Execute(&'a str),
    PortalFetch,
    ProtocolStep,
    Duration,
    Other,
}

fn classify_log(msg: &str) -> LogBody<'_> {
    if let Some(sql) = msg.strip_prefix("statement: ") {
        return LogBody::Statement(sql);
    }
    if msg.starts_with("execute ") {
        if let Some(c) = execute_re().captures(msg) {
            if c.get(1).is_some() {
                return LogBody::PortalFetch;
            }
            return LogBody::Execute(c.get(2).map_or("", |m| m.as_str()));
        }
    }
    if msg.starts_with("duration: ") {
        if let Some(c) = duration_re().captures(msg) {
            return match c.get(1) {
                None => LogBody::Duration,
                Some(rest) => match classify_log(rest.as_str()) {
                    LogBody::Other if step_re().is_match(rest.as_str()) => LogBody::ProtocolStep,
                    other => other,
                },
            };
        }
    }
    if step_re().is_match(msg) {
        return LogBody::ProtocolStep;
    }
    LogBody::Other
}

fn other_kind(msg: &str) -> &'static str {
    if msg.starts_with("connection ") {
        "connection"
    } else if msg.starts_with("disconnection:") {
        "disconnection"
    } else if msg.starts_with("checkpoint") || msg.starts_with("restartpoint") {
        "checkpoint"
    } else if msg.starts_with("automatic vacuum") || msg.starts_with("automatic analyze") {
        "autovacuum"
    } else {
        "other_log"
    }
}

impl Extractor {
    fn actor(&self, e: &LogEntry) -> Actor {
        let b = e.backend.as_ref().and_then(|k| self.backends.get(k));
        Actor {
            user: e.user.clone().or_else(|| b.and_then(|b| b.user.clone())),
            database: e
                .database
                .clone()
                .or_else(|| b.and_then(|b| b.database.clone())),
            application: e
                .application
                .clone()
                .or_else(|| b.and_then(|b| b.application.clone())),
            client: e
                .client
                .clone()
                .or_else(|| b.and_then(|b| b.client.clone())),
        }
    }

    fn backend(&mut self, e: &LogEntry) -> Option<&mut Backend> {
        let key = e.backend.as_ref()?;
        Some(self.backends.entry(key.clone()).or_default())
    }

    fn statement(&mut self, e: &LogEntry, sql: &str, failed: bool) -> Statement {
        let actor = self.actor(e);
        if let Some(b) = self.backend(e) {
            b.last_statement = Some(sql.to_string());
        }
        Statement {
            text: sql.to_string(),
            actor,
            time: e.time,
            calls: 1,
            failed,
            line: e.line,
            toplevel: None,
            truncated: self.truncating,
        }
    }

    /// Processes one log entry, counting it in `cov` and emitting the
    /// statements it carries. An entry that ends with [`TRUNCATED_MARKER`] is
    /// counted as truncated and read without the marker; its statements are
    /// marked truncated.
    pub fn entry(
        &mut self,
        e: &LogEntry,
        cov: &mut FileCoverage,
        emit: &mut impl FnMut(Statement, &mut FileCoverage),
    ) {
        if let Some(cut) = e.message.trim_end().strip_suffix(TRUNCATED_MARKER) {
            cov.truncated_records += 1;
            let cut = LogEntry {
                message: cut.trim_end().to_string(),
                ..e.clone()
            };
            self.truncating = true;
            self.entry_whole(&cut, cov, emit);
            self.truncating = false;
        } else {
            self.entry_whole(e, cov, emit);
        }
    }

    fn entry_whole(
        &mut self,
        e: &LogEntry,
        cov: &mut FileCoverage,
        emit: &mut impl FnMut(Statement, &mut FileCoverage),
    ) {
        cov.saw_time(e.time);
        match e.severity.as_str() {
            "LOG" => match classify_log(&e.message) {
                LogBody::Statement(sql) => {
                    cov.record("statement");
                    let s = self.statement(e, sql, false);
                    emit(s, cov);
                }
                LogBody::Execute(sql) => {
                    cov.record("statement");
                    let s = self.statement(e, sql, false);
                    emit(s, cov);
                }
                LogBody::PortalFetch => cov.record("portal_fetch"),
                LogBody::ProtocolStep => cov.record("protocol_step"),
                LogBody::Duration => cov.record("duration"),
                LogBody::Other => {
                    let kind = other_kind(&e.message);
                    cov.record(kind);
                    self.connection_state(e);
                }
            },
            "ERROR" | "FATAL" | "PANIC" => {
                cov.record("error");
                if let Some(b) = self.backend(e) {
                    b.error_pending = true;
                }
            }
            "STATEMENT" => {
                let pending = self
                    .backend(e)
                    .is_some_and(|b| std::mem::take(&mut b.error_pending));
                let already = e
                    .backend
                    .as_ref()
                    .and_then(|k| self.backends.get(k))
                    .and_then(|b| b.last_statement.as_deref())
                    == Some(e.message.as_str());
                if already {
                    cov.record("failed_statement_already_logged");
                } else if pending {
                    cov.record("failed_statement");
                    let s = self.statement(e, &e.message, true);
                    emit(s, cov);
                } else {
                    cov.record("statement_context");
                    let s = self.statement(e, &e.message, false);
                    emit(s, cov);
                }
            }
            "DETAIL" => {
                let m = e.message.as_str();
                if m.starts_with("parameters: ") || m.starts_with("Parameters: ") {
                    cov.record("bind_parameters");
                } else if let Some(prepare) = m.strip_prefix("prepare: ") {
                    // SQL-level EXECUTE: the PREPARE text names the columns.
                    cov.record("prepare_detail");
                    let s = self.statement(e, prepare, false);
                    emit(s, cov);
                } else {
                    cov.record("detail");
                }
            }
            "HINT" | "CONTEXT" | "QUERY" | "LOCATION" | "BACKTRACE" => cov.record("auxiliary"),
            _ => cov.record("other_severity"),
        }
    }

    fn connection_state(&mut self, e: &LogEntry) {
        let m = e.message.as_str();
        if m.starts_with("connection received:") {
            if let Some(key) = e.backend.clone() {
                // A new connection: a reused pid must not inherit old state.
                self.backends.insert(
                    key,
                    Backend {
                        client: kv(m, "host"),
                        ..Backend::default()
                    },
                );
            }
        } else if m.starts_with("connection authorized:") {
            let app = m.find("application_name=").map(|i| {
                let rest = &m[i + "application_name=".len()..];
                let end = [" SSL enabled", " GSS ", " (", "\n"]
                    .iter()
                    .filter_map(|s| rest.find(s))
                    .min()
                    .unwrap_or(rest.len());
                rest[..end].trim().to_string()
            });
            if let Some(b) = self.backend(e) {
                b.user = kv(m, "user").or(b.user.take());
                b.database = kv(m, "database").or(b.database.take());
                if let Some(app) = app.filter(|a| !a.is_empty()) {
                    b.application = Some(app);
                }
            }
        } else if m.starts_with("disconnection:") {
            if let Some(k) = &e.backend {
                self.backends.remove(k);
            }
        }
    }
}

/// Turns a pg_stat_statements row into a statement (or counts why not).
pub fn stats_row(row: StatsRow, cov: &mut FileCoverage) -> Option<Statement> {
    let Some(query) = row.query else {
        cov.skip("pg_stat_statements row without query text");
        return None;
    };
    if query.trim() == "<insufficient privilege>" {
        cov.skip("pg_stat_statements text hidden (<insufficient privilege>)");
        return None;
    }
    if row.calls == 0 {
        cov.skip("pg_stat_statements row with zero calls");
        return None;
    }
    // `toplevel = false` (track = all): run inside a function, trigger or DO
    // block. Kept, counted apart, and marked on the dependency (`nested_calls`).
    cov.record(if row.toplevel == Some(false) {
        "pg_stat_statements_nested_row"
    } else {
        "pg_stat_statements_row"
    });
    Some(Statement {
        text: query,
        actor: Actor {
            user: row.user,
            database: row.database,
            application: None,
            client: None,
        },
        time: None,
        calls: row.calls,
        failed: false,
        line: row.line,
        toplevel: row.toplevel,
        truncated: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(line: u64, sev: &str, msg: &str) -> LogEntry {
        LogEntry {
            line,
            backend: Some("7".into()),
            severity: sev.into(),
            message: msg.into(),
            ..LogEntry::default()
        }
    }

    fn run(entries: &[LogEntry]) -> (Vec<Statement>, FileCoverage) {
        let mut x = Extractor::default();
        let mut cov = FileCoverage::default();
        let mut out = Vec::new();
        for e in entries {
            x.entry(e, &mut cov, &mut |s, _| out.push(s));
        }
        (out, cov)
    }

    #[test]
    fn extended_protocol_counts_once() {
        let (out, cov) = run(&[
            entry(
                1,
                "LOG",
                "duration: 0.1 ms  parse S_1: SELECT a FROM t WHERE id = $1",
            ),
            entry(
                2,
                "LOG",
                "duration: 0.1 ms  bind S_1: SELECT a FROM t WHERE id = $1",
            ),
            entry(3, "DETAIL", "Parameters: $1 = '42'"),
            entry(
                4,
                "LOG",
                "duration: 0.2 ms  execute S_1: SELECT a FROM t WHERE id = $1",
            ),
            entry(5, "DETAIL", "parameters: $1 = '42'"),
            entry(6, "LOG", "execute <unnamed>: SELECT b FROM t"),
            entry(7, "LOG", "duration: 0.3 ms"),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].text, "SELECT a FROM t WHERE id = $1");
        assert_eq!(out[1].text, "SELECT b FROM t");
        assert_eq!(cov.records_by_kind["protocol_step"], 2);
        assert_eq!(cov.records_by_kind["bind_parameters"], 2);
        assert_eq!(cov.records_by_kind["duration"], 1);
        assert_eq!(cov.records, 7);
    }

    #[test]
    fn failed_statement_is_evidence_once() {
        let (out, _) = run(&[
            entry(1, "LOG", "statement: SELECT 1/0"),
            entry(2, "ERROR", "division by zero"),
            entry(3, "STATEMENT", "SELECT 1/0"),
            entry(4, "ERROR", "syntax error at or near \"FORM\""),
            entry(5, "STATEMENT", "SELECT a FORM t"),
        ]);
        assert_eq!(out.len(), 2);
        assert!(!out[0].failed);
        assert!(out[1].failed);
    }

    #[test]
    fn backfills_actor_from_connection_authorized() {
        let (out, _) = run(&[
            entry(1, "LOG", "connection received: host=10.0.0.5 port=5555"),
            entry(2, "LOG", "connection authorized: user=alice database=app application_name=my app"),
            entry(3, "LOG", "statement: SELECT 1"),
            entry(4, "LOG", "disconnection: session time: 0:00:00.010 user=alice database=app host=10.0.0.5 port=5555"),
            entry(5, "LOG", "statement: SELECT 2"),
        ]);
        assert_eq!(out[0].actor.user.as_deref(), Some("alice"));
        assert_eq!(out[0].actor.database.as_deref(), Some("app"));
        assert_eq!(out[0].actor.application.as_deref(), Some("my app"));
        assert_eq!(out[0].actor.client.as_deref(), Some("10.0.0.5"));
        assert_eq!(out[1].actor, Actor::default());
    }
}
