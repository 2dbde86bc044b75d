//! Structured log records (csvlog, jsonlog): one record holds the message and
//! its DETAIL, HINT, QUERY, CONTEXT, LOCATION and STATEMENT parts in fields of
//! its own. This module turns such a record into the same sequence of
//! [`LogEntry`] values a stderr log gives for the same event, so statement
//! extraction is identical whatever the format.

use super::LogEntry;
use crate::inventory::FileCoverage;

/// The fields of one structured log record that pgcontract uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StructuredRecord {
    /// 1-based line where the record starts.
    pub line: u64,
    /// `log_time` / `timestamp` as written.
    pub time: Option<String>,
    /// `session_id`, else `process_id` / `pid`.
    pub backend: Option<String>,
    /// `user_name` / `user`.
    pub user: Option<String>,
    /// `database_name` / `dbname`.
    pub database: Option<String>,
    /// `application_name`.
    pub application: Option<String>,
    /// The client host (`connection_from` without its port, `remote_host`).
    pub client: Option<String>,
    /// `error_severity`.
    pub severity: String,
    /// `message`.
    pub message: String,
    /// `detail`.
    pub detail: Option<String>,
    /// `hint`.
    pub hint: Option<String>,
    /// `internal_query`.
    pub internal_query: Option<String>,
    /// `context`.
    pub context: Option<String>,
    /// `location` (csvlog) or `func_name, file_name:file_line_num` (jsonlog).
    pub location: Option<String>,
    /// `query` (csvlog) / `statement` (jsonlog): the statement a message
    /// belongs to, written where stderr writes a `STATEMENT:` line.
    pub statement: Option<String>,
}

/// Empty strings and `[unknown]` are absent values.
pub fn present(v: Option<&str>) -> Option<String> {
    v.filter(|s| !s.is_empty() && *s != "[unknown]")
        .map(str::to_string)
}

/// Sets `slot` to `v`, reusing the buffer it holds (the hot paths fill the
/// same entry and statement again and again).
pub fn set_reusing(slot: &mut Option<String>, v: Option<&str>) {
    match (slot.as_mut(), v) {
        (Some(s), Some(v)) => {
            s.clear();
            s.push_str(v);
        }
        (None, Some(v)) => *slot = Some(v.to_string()),
        (_, None) => *slot = None,
    }
}

/// [`set_reusing`], keeping the buffer of a value that goes away in `spare`
/// and taking a buffer from there for a value that comes back (a field of
/// the hot paths comes and goes from one record to the next).
pub fn set_pooled(slot: &mut Option<String>, v: Option<&str>, spare: &mut Vec<String>) {
    match (slot.as_mut(), v) {
        (Some(s), Some(v)) => {
            s.clear();
            s.push_str(v);
        }
        (None, Some(v)) => {
            let mut s = spare.pop().unwrap_or_default();
            s.push_str(v);
            *slot = Some(s);
        }
        (Some(_), None) => {
            if let Some(mut s) = slot.take() {
                s.clear();
                spare.push(s);
            }
        }
        (None, None) => {}
    }
}

/// Remembers whether an unknown time-zone note was already added, and the
/// last timestamp read.
#[derive(Debug, Default)]
pub struct TimeNotes {
    unknown_zone_noted: bool,
    times: crate::time::TimeMemo,
}

impl StructuredRecord {
    /// The entries a stderr log would hold for this record, in stderr's
    /// order: the message, then DETAIL, HINT, QUERY, CONTEXT, LOCATION and
    /// STATEMENT when present.
    pub fn into_entries(self, cov: &mut FileCoverage, notes: &mut TimeNotes) -> Vec<LogEntry> {
        let time = self.time.as_deref().and_then(|t| notes.times.parse(t));
        if let Some(t) = time {
            if !t.zone_known && !notes.unknown_zone_noted {
                notes.unknown_zone_noted = true;
                cov.notes.push(
                    "a time zone abbreviation is unknown; those times were read as UTC".into(),
                );
            }
        }
        let base = LogEntry {
            line: self.line,
            time: time.map(|t| t.millis),
            backend: self.backend,
            user: self.user,
            database: self.database,
            application: self.application,
            client: self.client,
            severity: String::new(),
            message: String::new(),
        };
        let mut out = Vec::with_capacity(2);
        let parts = [
            (self.severity.as_str(), Some(self.message)),
            ("DETAIL", self.detail),
            ("HINT", self.hint),
            ("QUERY", self.internal_query),
            ("CONTEXT", self.context),
            ("LOCATION", self.location),
            ("STATEMENT", self.statement),
        ];
        for (severity, text) in parts {
            let Some(text) = text.filter(|t| !t.is_empty()) else {
                continue;
            };
            out.push(LogEntry {
                severity: severity.to_string(),
                message: text,
                ..base.clone()
            });
        }
        out
    }
}

/// Collects per-record errors for one input: the first few are listed with
/// their `file:line`, the rest are counted.
#[derive(Debug)]
pub struct RecordErrors {
    name: String,
    listed: usize,
    more: u64,
}

/// How many record errors are listed per input.
pub const LISTED_ERRORS: usize = 10;

impl RecordErrors {
    /// Errors for the input `name`.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            listed: 0,
            more: 0,
        }
    }

    /// Counts the record at `line` as unparseable (`kind` names the reader)
    /// and lists `why` with its position.
    pub fn bad(&mut self, cov: &mut FileCoverage, kind: &str, line: u64, why: &str) {
        cov.skip(&format!("unparseable {kind} record"));
        if self.listed < LISTED_ERRORS {
            self.listed += 1;
            cov.errors.push(format!("{}:{line}: {why}", self.name));
        } else {
            self.more += 1;
        }
    }

    /// Adds the count of errors not listed.
    pub fn finish(self, cov: &mut FileCoverage) {
        if self.more > 0 {
            cov.errors.push(more_line(&self.name, self.more));
        }
    }
}

fn more_line(name: &str, more: u64) -> String {
    format!("{name}: {more} more unparseable records (not listed)")
}

/// The record errors of an input read in chunks, listed as one reader of
/// the whole input lists them: the first [`LISTED_ERRORS`] in file order,
/// then a count of the rest.
#[derive(Debug, Default)]
pub struct ChunkErrors {
    listed: usize,
    more: u64,
}

impl ChunkErrors {
    /// Takes what a reader of one chunk listed out of `errors` (which must
    /// hold only that reader's record errors): the errors it listed and how
    /// many it did not.
    pub fn take(name: &str, errors: &mut Vec<String>) -> (Vec<String>, u64) {
        let suffix = " more unparseable records (not listed)";
        let mut more = 0;
        errors.retain(|e| {
            let n = e
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix(": "))
                .and_then(|r| r.strip_suffix(suffix))
                .and_then(|n| n.parse::<u64>().ok());
            more += n.unwrap_or(0);
            n.is_none()
        });
        (std::mem::take(errors), more)
    }

    /// Adds the next chunk's errors (chunks in file order).
    pub fn add(&mut self, cov: &mut FileCoverage, listed: Vec<String>, more: u64) {
        for e in listed {
            if self.listed < LISTED_ERRORS {
                self.listed += 1;
                cov.errors.push(e);
            } else {
                self.more += 1;
            }
        }
        self.more += more;
    }

    /// Adds the count of errors not listed.
    pub fn finish(self, name: &str, cov: &mut FileCoverage) {
        if self.more > 0 {
            cov.errors.push(more_line(name, self.more));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_expands_in_stderr_order() {
        let r = StructuredRecord {
            line: 3,
            time: Some("2024-01-01 00:00:00.000 UTC".into()),
            backend: Some("65a1.1".into()),
            severity: "ERROR".into(),
            message: "division by zero".into(),
            hint: Some("h".into()),
            detail: Some("d".into()),
            statement: Some("SELECT 1/0".into()),
            ..StructuredRecord::default()
        };
        let mut cov = FileCoverage::default();
        let e = r.into_entries(&mut cov, &mut TimeNotes::default());
        let sev: Vec<&str> = e.iter().map(|e| e.severity.as_str()).collect();
        assert_eq!(sev, ["ERROR", "DETAIL", "HINT", "STATEMENT"]);
        assert!(e
            .iter()
            .all(|e| e.line == 3 && e.time == Some(1_704_067_200_000)));
        assert_eq!(e[3].message, "SELECT 1/0");
    }

    #[test]
    fn chunk_errors_are_listed_as_one_reader_lists_them() {
        let mut whole = FileCoverage::default();
        let mut e = RecordErrors::new("f");
        for line in 1..=25 {
            e.bad(&mut whole, "x", line, "bad");
        }
        e.finish(&mut whole);
        let mut chunked = FileCoverage::default();
        let mut all = ChunkErrors::default();
        for lines in [1..=3, 4..=17, 18..=25] {
            let mut cov = FileCoverage::default();
            let mut e = RecordErrors::new("f");
            for line in lines {
                e.bad(&mut cov, "x", line, "bad");
            }
            e.finish(&mut cov);
            let (listed, more) = ChunkErrors::take("f", &mut cov.errors);
            all.add(&mut chunked, listed, more);
        }
        all.finish("f", &mut chunked);
        assert_eq!(chunked.errors, whole.errors);
        assert_eq!(chunked.errors.len(), LISTED_ERRORS + 1);
        assert_eq!(
            chunked.errors[10],
            "f: 15 more unparseable records (not listed)"
        );
    }
}
