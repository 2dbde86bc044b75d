//! What an input's logging set-up lets it show: the evidence about the
//! set-up gathered while reading (which statement kinds were logged, through
//! which messages, which pgAudit classes), the settings the user declared
//! with `--logging`, and the blind spots that follow from both. A blind spot
//! that hides reads or writes keeps a verdict from being `clear`.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::inventory::FileCoverage;
use crate::normalize::{tokens, Token};

/// Evidence about the logging set-up, counted while reading one input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggingSeen {
    /// `statement:` / `execute …:` lines (log_statement).
    pub plain_statements: u64,
    /// `duration: … statement|execute …:` lines (log_min_duration_statement).
    pub duration_statements: u64,
    /// Smallest duration on those lines, in microseconds.
    pub min_duration_us: Option<u64>,
    /// Logged statements that only `log_statement = all` logs (SELECT, SET, …).
    pub read_like: u64,
    /// Logged INSERT/UPDATE/DELETE/TRUNCATE/MERGE (`mod`).
    pub mod_like: u64,
    /// Logged CREATE/ALTER/DROP/COMMENT/GRANT/REVOKE (`ddl`).
    pub ddl_like: u64,
    /// pgAudit SESSION lines by class.
    pub audit_session_classes: BTreeMap<String, u64>,
    /// pgAudit lines of any kind.
    pub audit_lines: u64,
    /// pgAudit lines whose statement text was `<not logged>`.
    pub audit_text_not_logged: u64,
    /// pgAudit substatements (statements run inside functions).
    pub audit_substatements: u64,
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl LoggingSeen {
    /// Nothing was seen (a pg_stat_statements export, totals, older stored
    /// inventories).
    pub fn is_empty(&self) -> bool {
        self == &LoggingSeen::default()
    }

    /// Folds another input chunk's evidence in (commutative).
    pub fn merge(&mut self, o: &LoggingSeen) {
        self.plain_statements += o.plain_statements;
        self.duration_statements += o.duration_statements;
        self.min_duration_us = min_opt(self.min_duration_us, o.min_duration_us);
        self.read_like += o.read_like;
        self.mod_like += o.mod_like;
        self.ddl_like += o.ddl_like;
        for (k, v) in &o.audit_session_classes {
            *self.audit_session_classes.entry(k.clone()).or_default() += v;
        }
        self.audit_lines += o.audit_lines;
        self.audit_text_not_logged += o.audit_text_not_logged;
        self.audit_substatements += o.audit_substatements;
    }

    /// Counts a statement logged by `log_statement` (no duration) or by
    /// `log_min_duration_statement` (`duration` in milliseconds).
    pub fn logged_statement(&mut self, sql: &str, duration_ms: Option<f64>) {
        match duration_ms {
            Some(ms) => {
                self.duration_statements += 1;
                // Durations are non-negative and far below u64::MAX µs.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let us = (ms.max(0.0) * 1000.0).round() as u64;
                self.min_duration_us = min_opt(self.min_duration_us, Some(us));
            }
            None => self.plain_statements += 1,
        }
        match statement_class(sql) {
            StatementClass::Ddl => self.ddl_like += 1,
            StatementClass::Mod => self.mod_like += 1,
            StatementClass::Other => self.read_like += 1,
            StatementClass::Depends => {}
        }
    }
}

/// How `log_statement` treats a statement, from its first word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementClass {
    /// Logged from `ddl` up.
    Ddl,
    /// Logged from `mod` up.
    Mod,
    /// Depends on the contained command (WITH, PREPARE, EXECUTE, EXPLAIN, COPY).
    Depends,
    /// Logged only with `all` (SELECT, SET, BEGIN, …).
    Other,
}

/// Classifies a statement text by its first word.
pub fn statement_class(sql: &str) -> StatementClass {
    // The first word (keywords are short: no folded copy needed).
    let first = tokens(sql).find_map(|t| match t {
        Token::Word(w) => Some(Some(w)),
        Token::Space | Token::Punct("(") => None,
        _ => Some(None),
    });
    let is = |words: &[&str]| {
        first
            .flatten()
            .is_some_and(|w| words.iter().any(|k| w.eq_ignore_ascii_case(k)))
    };
    if first.is_none() || is(&["with", "prepare", "execute", "explain", "copy"]) {
        StatementClass::Depends
    } else if is(&["create", "alter", "drop", "comment", "grant", "revoke"]) {
        StatementClass::Ddl
    } else if is(&["insert", "update", "delete", "truncate", "merge"]) {
        StatementClass::Mod
    } else {
        StatementClass::Other
    }
}

/// `log_statement` levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogStatement {
    /// Nothing.
    None,
    /// DDL.
    Ddl,
    /// DDL and data changes.
    Mod,
    /// Everything.
    All,
}

/// Logging settings the user states with `--logging KEY=VALUE` (they
/// override what is inferred from the logs' content).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Declared {
    /// `log_statement`.
    pub log_statement: Option<LogStatement>,
    /// `log_min_duration_statement` in ms (-1 = off).
    pub log_min_duration_statement: Option<i64>,
    /// `log_statement_sample_rate` (with `log_min_duration_sample`).
    pub sample_rate: Option<f64>,
    /// `pgaudit.log` classes (upper case; `ALL` expanded).
    pub pgaudit_log: Option<BTreeSet<String>>,
}

/// A `--logging` value that is not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--logging {0}: {1}")]
pub struct DeclaredError(pub String, pub String);

const AUDIT_CLASSES: &[&str] = &[
    "READ", "WRITE", "FUNCTION", "ROLE", "DDL", "MISC", "MISC_SET",
];

impl Declared {
    /// Parses `KEY=VALUE` settings.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<Declared, DeclaredError> {
        let mut d = Declared::default();
        for item in items {
            let item = item.as_ref();
            let err = |m: &str| DeclaredError(item.to_string(), m.to_string());
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| err("expected KEY=VALUE"))?;
            let v = v.trim().trim_matches('\'').trim();
            match k.trim() {
                "log_statement" => {
                    d.log_statement = Some(match v.to_ascii_lowercase().as_str() {
                        "none" => LogStatement::None,
                        "ddl" => LogStatement::Ddl,
                        "mod" => LogStatement::Mod,
                        "all" => LogStatement::All,
                        _ => return Err(err("log_statement is none, ddl, mod or all")),
                    });
                }
                "log_min_duration_statement" => {
                    let n: i64 = v
                        .trim_end_matches("ms")
                        .trim()
                        .parse()
                        .map_err(|_| err("log_min_duration_statement is a number of milliseconds (-1 = off)"))?;
                    d.log_min_duration_statement = Some(n);
                }
                "log_statement_sample_rate" => {
                    let r: f64 = v
                        .parse()
                        .ok()
                        .filter(|r: &f64| (0.0..=1.0).contains(r))
                        .ok_or_else(|| err("log_statement_sample_rate is between 0 and 1"))?;
                    d.sample_rate = Some(r);
                }
                "pgaudit.log" => {
                    let mut set = BTreeSet::new();
                    for c in v.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                        let (neg, name) = match c.strip_prefix('-') {
                            Some(n) => (true, n.trim().to_ascii_uppercase()),
                            None => (false, c.to_ascii_uppercase()),
                        };
                        let names: Vec<String> = match name.as_str() {
                            "ALL" => AUDIT_CLASSES.iter().map(|s| (*s).to_string()).collect(),
                            "NONE" => Vec::new(),
                            n if AUDIT_CLASSES.contains(&n) => vec![n.to_string()],
                            _ => return Err(err("pgaudit.log classes are read, write, function, role, ddl, misc, misc_set, all, none")),
                        };
                        for n in names {
                            if neg {
                                set.remove(&n);
                            } else {
                                set.insert(n);
                            }
                        }
                    }
                    d.pgaudit_log = Some(set);
                }
                other => {
                    return Err(err(&format!(
                        "unknown setting `{other}` (known: log_statement, log_min_duration_statement, log_statement_sample_rate, pgaudit.log)"
                    )))
                }
            }
        }
        Ok(d)
    }
}

/// How much of one access kind an input can show.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sight {
    Full,
    Partial(String),
    Blind(String),
}

fn is_log_format(format: &str) -> bool {
    !(format.is_empty()
        || format.starts_with("pg_stat_statements")
        || matches!(
            format,
            "empty" | "unrecognised" | "unreadable" | "unscanned"
        ))
}

/// Works out an input's blind spots from what was seen and what was
/// declared, filling `cov.blind_spots` (they keep verdicts from `clear`) and
/// `cov.notes` (informational). Idempotent.
pub fn assess(cov: &mut FileCoverage, declared: &Declared) {
    cov.blind_spots.clear();
    if cov
        .errors
        .iter()
        .any(|e| crate::panics::is_internal_error(e))
    {
        cov.blind_spots.push(
            "an internal error (a bug in pgcontract) stopped the scan of part of this input: what that part holds is unknown".into(),
        );
    }
    let seen = cov.logging.clone();
    // pg_stat_statements exports count every statement (their top-level-only
    // note comes from the scan); nothing else here applies to them.
    if !is_log_format(&cov.format) {
        finish(cov);
        return;
    }
    let failed_only = cov
        .records_by_kind
        .get("failed_statement")
        .copied()
        .unwrap_or(0);
    // log_statement: declared, or inferred from the kinds of statements logged.
    let (ls, ls_source) = match declared.log_statement {
        Some(l) => (Some(l), "declared"),
        None if seen.plain_statements == 0 => (None, "inferred"),
        None if seen.read_like > 0 => (Some(LogStatement::All), "inferred"),
        None if seen.mod_like > 0 => (Some(LogStatement::Mod), "inferred"),
        None if seen.ddl_like > 0 => (Some(LogStatement::Ddl), "inferred"),
        None => (None, "inferred"),
    };
    // log_min_duration_statement: declared, or inferred from the durations.
    let duration = match declared.log_min_duration_statement {
        Some(n) if n < 0 => None,
        Some(n) => Some((n, "declared")),
        None => match seen.min_duration_us {
            Some(us) if seen.duration_statements > 0 => {
                // The setting is whole milliseconds: a logged statement
                // faster than 1 ms means it is 0.
                let bound = i64::try_from(us / 1000).unwrap_or(i64::MAX);
                Some((bound, "inferred"))
            }
            _ => None,
        },
    };
    let sampled = declared.sample_rate.filter(|r| *r < 1.0);
    // pgAudit session classes: declared, or the classes seen.
    let audit: Option<BTreeSet<String>> = match &declared.pgaudit_log {
        Some(set) => Some(set.clone()),
        None if seen.audit_lines > 0 => Some(seen.audit_session_classes.keys().cloned().collect()),
        None => None,
    };
    let audit_has = |c: &str| audit.as_ref().is_some_and(|s| s.contains(c));
    let sight = |access: &str| -> Sight {
        let by_ls = matches!(
            (ls, access),
            (Some(LogStatement::All), _) | (Some(LogStatement::Mod), "writes")
        );
        let audit_class = if access == "reads" { "READ" } else { "WRITE" };
        if by_ls || audit_has(audit_class) {
            return Sight::Full;
        }
        if let Some((ms, src)) = duration {
            if let Some(r) = sampled {
                return Sight::Partial(format!(
                    "statements are logged only through sampled duration logging (log_statement_sample_rate = {r}, declared)"
                ));
            }
            if ms == 0 {
                return Sight::Full;
            }
            return Sight::Partial(if src == "declared" {
                format!("only statements slower than {ms} ms are logged (log_min_duration_statement = {ms}, declared)")
            } else {
                format!("statements appear only on `duration:` lines, the fastest taking {ms} ms or more: log_min_duration_statement seems to be above 0, so faster statements are not logged (inferred; state it with --logging log_min_duration_statement=N)")
            });
        }
        let mut why = Vec::new();
        if let Some(l) = ls {
            why.push(format!(
                "log_statement = {} ({ls_source})",
                match l {
                    LogStatement::None => "none",
                    LogStatement::Ddl => "ddl",
                    LogStatement::Mod => "mod",
                    LogStatement::All => "all",
                }
            ));
        }
        if let Some(set) = &audit {
            why.push(format!(
                "pgAudit session classes {}",
                if set.is_empty() {
                    "none".to_string()
                } else {
                    set.iter().cloned().collect::<Vec<_>>().join(", ")
                }
            ));
        }
        if why.is_empty() {
            return Sight::Full; // nothing shows how statements are logged
        }
        Sight::Blind(why.join(", "))
    };
    let any_source = ls.is_some() || duration.is_some() || audit.is_some();
    let (reads, writes) = if any_source {
        (sight("reads"), sight("writes"))
    } else if failed_only > 0 {
        let why = "only failing statements are logged (ERROR + STATEMENT): log_statement seems to be none".to_string();
        (Sight::Blind(why.clone()), Sight::Blind(why))
    } else {
        (Sight::Full, Sight::Full)
    };
    let inferred_hint = if declared == &Declared::default() {
        " (state the set-up with --logging if this inference is wrong)"
    } else {
        ""
    };
    match (&reads, &writes) {
        (Sight::Full, Sight::Full) => {}
        (Sight::Blind(a), Sight::Blind(b)) if a == b => cov.blind_spots.push(format!(
            "reads and writes are not logged: {a}{inferred_hint}"
        )),
        (Sight::Partial(a), Sight::Partial(b)) if a == b => cov
            .blind_spots
            .push(format!("reads and writes are only partly logged: {a}")),
        _ => {
            for (what, s) in [("reads", &reads), ("writes", &writes)] {
                match s {
                    Sight::Full => {}
                    Sight::Partial(why) => cov
                        .blind_spots
                        .push(format!("{what} are only partly logged: {why}")),
                    Sight::Blind(why) => cov
                        .blind_spots
                        .push(format!("{what} are not logged: {why}{inferred_hint}")),
                }
            }
        }
    }
    if seen.audit_text_not_logged > 0 {
        cov.notes.push("pgAudit lines without statement text (pgaudit.log_statement = off): only the tables they touched are known, so they count as possible dependencies of every target column of those tables".into());
    }
    if seen.audit_substatements > 0 {
        cov.notes.push("statements inside functions are visible only as pgAudit substatements, for the audited classes".into());
    } else if seen.plain_statements + seen.duration_statements + seen.audit_lines > 0 {
        cov.notes.push("only top-level statements are logged: SQL inside functions, triggers and DO blocks is not visible".into());
    }
    finish(cov);
}

fn finish(cov: &mut FileCoverage) {
    cov.notes.sort();
    cov.notes.dedup();
    cov.blind_spots.sort();
    cov.blind_spots.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statements_like_log_statement() {
        assert_eq!(statement_class("SELECT 1"), StatementClass::Other);
        assert_eq!(statement_class("  (SELECT 1)"), StatementClass::Other);
        assert_eq!(
            statement_class("/* c */ update t set a = 1"),
            StatementClass::Mod
        );
        assert_eq!(
            statement_class("COMMENT ON COLUMN t.a IS 'x'"),
            StatementClass::Ddl
        );
        assert_eq!(
            statement_class("WITH x AS (SELECT 1) DELETE FROM t"),
            StatementClass::Depends
        );
        assert_eq!(statement_class("BEGIN"), StatementClass::Other);
    }

    #[test]
    fn parses_declared_settings() {
        let d = Declared::parse(&[
            "log_statement=mod",
            "log_min_duration_statement=250",
            "pgaudit.log='all, -misc'",
            "log_statement_sample_rate=0.5",
        ])
        .unwrap();
        assert_eq!(d.log_statement, Some(LogStatement::Mod));
        assert_eq!(d.log_min_duration_statement, Some(250));
        assert_eq!(d.sample_rate, Some(0.5));
        let classes = d.pgaudit_log.unwrap();
        assert!(classes.contains("READ") && !classes.contains("MISC"));
        assert!(Declared::parse(&["log_statement=some"]).is_err());
        assert!(Declared::parse(&["work_mem=4MB"]).is_err());
        assert!(Declared::parse(&["log_statement"]).is_err());
    }

    fn log_cov(seen: LoggingSeen) -> FileCoverage {
        FileCoverage {
            format: "stderr".into(),
            logging: seen,
            ..FileCoverage::default()
        }
    }

    #[test]
    fn writes_only_log_hides_reads() {
        let mut seen = LoggingSeen::default();
        seen.logged_statement("UPDATE t SET a = 1", None);
        seen.logged_statement("CREATE TABLE x (a int)", None);
        let mut cov = log_cov(seen);
        assess(&mut cov, &Declared::default());
        assert_eq!(cov.blind_spots.len(), 1);
        assert!(
            cov.blind_spots[0].starts_with("reads are not logged: log_statement = mod (inferred)"),
            "{:?}",
            cov.blind_spots
        );
        // the user says log_statement = all: nothing hidden
        assess(&mut cov, &Declared::parse(&["log_statement=all"]).unwrap());
        assert!(cov.blind_spots.is_empty());
    }

    #[test]
    fn duration_threshold_hides_fast_statements() {
        let mut seen = LoggingSeen::default();
        seen.logged_statement("SELECT pg_sleep(1)", Some(1000.4));
        let mut cov = log_cov(seen.clone());
        assess(&mut cov, &Declared::default());
        assert_eq!(cov.blind_spots.len(), 1);
        assert!(cov.blind_spots[0].starts_with("reads and writes are only partly logged: statements appear only on `duration:` lines, the fastest taking 1000 ms"), "{:?}", cov.blind_spots);
        seen.logged_statement("SELECT 1", Some(0.02));
        let mut cov = log_cov(seen);
        assess(&mut cov, &Declared::default());
        assert!(cov.blind_spots.is_empty(), "{:?}", cov.blind_spots);
    }

    #[test]
    fn pgaudit_write_class_only_hides_reads() {
        let mut seen = LoggingSeen {
            audit_lines: 2,
            ..LoggingSeen::default()
        };
        seen.audit_session_classes.insert("WRITE".into(), 2);
        let mut cov = log_cov(seen);
        assess(&mut cov, &Declared::default());
        assert_eq!(cov.blind_spots, vec!["reads are not logged: pgAudit session classes WRITE (state the set-up with --logging if this inference is wrong)".to_string()]);
    }

    #[test]
    fn failing_statements_alone_show_nothing() {
        let mut cov = log_cov(LoggingSeen::default());
        cov.records_by_kind.insert("failed_statement".into(), 1);
        assess(&mut cov, &Declared::default());
        assert_eq!(cov.blind_spots.len(), 1);
        assert!(cov.blind_spots[0]
            .starts_with("reads and writes are not logged: only failing statements"));
    }

    #[test]
    fn ddl_only_log_hides_reads_and_writes() {
        let mut seen = LoggingSeen::default();
        seen.logged_statement("ALTER TABLE t ADD COLUMN b int", None);
        let mut cov = log_cov(seen);
        assess(&mut cov, &Declared::default());
        assert_eq!(cov.blind_spots.len(), 1);
        assert!(
            cov.blind_spots[0]
                .starts_with("reads and writes are not logged: log_statement = ddl (inferred)"),
            "{:?}",
            cov.blind_spots
        );
    }

    #[test]
    fn declared_sampling_makes_duration_logging_partial() {
        let mut seen = LoggingSeen::default();
        seen.logged_statement("SELECT 1", Some(0.01));
        let mut cov = log_cov(seen);
        assess(
            &mut cov,
            &Declared::parse(&["log_statement_sample_rate=0.1"]).unwrap(),
        );
        assert_eq!(cov.blind_spots.len(), 1);
        assert!(
            cov.blind_spots[0]
                .contains("sampled duration logging (log_statement_sample_rate = 0.1, declared)"),
            "{:?}",
            cov.blind_spots
        );
    }

    #[test]
    fn a_quiet_log_has_no_blind_spot() {
        let mut cov = log_cov(LoggingSeen::default());
        cov.records_by_kind.insert("checkpoint".into(), 3);
        assess(&mut cov, &Declared::default());
        assert!(cov.blind_spots.is_empty());
    }
}
