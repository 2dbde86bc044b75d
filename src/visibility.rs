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
    /// Changes of a logging setting seen in the log: a server's
    /// `parameter "log_statement" changed to …` on reload, or a logged
    /// `SET`/`ALTER … SET` of one (see [`is_logging_setting`]).
    #[serde(default)]
    pub setting_changes: u64,
    /// Logged `search_path` changes (`SET search_path`, `set_config`)
    /// whose session cannot be told (no `%p` or `%c` in the prefix).
    #[serde(default)]
    pub unattributed_path_changes: u64,
    /// Logged `DO` blocks that name `search_path`: a `SET` inside one lasts
    /// for the session, and is not followed.
    #[serde(default)]
    pub unfollowed_path_changes: u64,
    /// Failed texts that moved `search_path` (or an error without a
    /// `STATEMENT` line after one) where the path they left depends on
    /// which of their statements failed, which the log does not tell.
    #[serde(default)]
    pub uncertain_path_changes: u64,
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
        self.setting_changes += o.setting_changes;
        self.unattributed_path_changes += o.unattributed_path_changes;
        self.unfollowed_path_changes += o.unfollowed_path_changes;
        self.uncertain_path_changes += o.uncertain_path_changes;
    }

    /// Counts a statement logged by `log_statement` (no duration) or by
    /// `log_min_duration_statement` (`duration` in milliseconds). Only the
    /// first are classified (`read_like`, `mod_like`, `ddl_like`): they
    /// show the `log_statement` level; a slow SELECT on a `duration:` line
    /// shows nothing of it.
    pub fn logged_statement(&mut self, sql: &str, duration_ms: Option<f64>) {
        self.logged_text(TextFacts::of(sql), duration_ms);
    }

    /// [`LoggingSeen::logged_statement`] of a text whose facts are known.
    pub fn logged_text(&mut self, facts: TextFacts, duration_ms: Option<f64>) {
        match duration_ms {
            Some(ms) => {
                self.duration_statements += 1;
                // Durations are non-negative and far below u64::MAX µs.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let us = (ms.max(0.0) * 1000.0).round() as u64;
                self.min_duration_us = min_opt(self.min_duration_us, Some(us));
            }
            None => {
                self.plain_statements += 1;
                match facts.class {
                    StatementClass::Ddl => self.ddl_like += 1,
                    StatementClass::Mod => self.mod_like += 1,
                    StatementClass::Other => self.read_like += 1,
                    StatementClass::Depends => {}
                }
            }
        }
        if facts.sets_logging {
            self.setting_changes += 1;
        }
        if facts.do_names_path {
            self.unfollowed_path_changes += 1;
        }
    }

    /// Counts a server message; `parameter "NAME" changed to "…"` (or
    /// `removed from configuration file, reset to default`) of a logging
    /// setting is a change of what the log shows.
    pub fn server_message(&mut self, message: &str) {
        let Some((name, rest)) = message
            .strip_prefix("parameter \"")
            .and_then(|r| r.split_once('"'))
        else {
            return;
        };
        if (rest.starts_with(" changed to ")
            || rest.starts_with(" removed from configuration file"))
            && is_logging_setting(name)
        {
            self.setting_changes += 1;
        }
    }
}

/// What a logged statement text shows of the logging set-up, as
/// [`LoggingSeen::logged_statement`] counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextFacts {
    /// How `log_statement` treats it.
    class: StatementClass,
    /// It changes a logging setting.
    sets_logging: bool,
    /// A `DO` block that names `search_path`.
    do_names_path: bool,
}

impl TextFacts {
    /// The facts of `sql`.
    pub fn of(sql: &str) -> Self {
        Self {
            class: statement_class(sql),
            sets_logging: sets_logging(sql),
            do_names_path: is_do_block(sql) && crate::analyze::session::mentions_search_path(sql),
        }
    }

    /// Whether the facts of a text of this shape (its normalised text, see
    /// [`crate::normalize::normalize_bytes`]) may depend on its values,
    /// which the shape does not hold: a `set_config` name, a `DO` body, an
    /// `UPDATE pg_settings` row, `EXPLAIN`'s option values. Every other
    /// text of a shape has the facts of the first one seen: they come from
    /// its words, quoted names and punctuation, which the shape keeps.
    pub fn depend_on_values(shape: &[u8]) -> bool {
        let lower = shape.to_ascii_lowercase();
        let has = |w: &[u8]| memchr::memmem::find(&lower, w).is_some();
        has(b"set_config")
            || has(b"pg_settings")
            || has(b"explain")
            || is_do_block(&String::from_utf8_lossy(shape))
    }
}

/// Whether a text starts with `DO` (after any comments).
fn is_do_block(sql: &str) -> bool {
    first_word(sql).eq_ignore_ascii_case("do")
}

/// Settings that change which statements a log shows.
pub fn is_logging_setting(name: &str) -> bool {
    let name = name.trim().trim_matches('"').to_ascii_lowercase();
    matches!(
        name.as_str(),
        "log_statement"
            | "log_statement_sample_rate"
            | "log_min_duration_statement"
            | "log_min_duration_sample"
            | "log_transaction_sample_rate"
            | "log_destination"
            | "log_line_prefix"
            | "log_min_messages"
            | "logging_collector"
    ) || name.starts_with("pgaudit.log")
}

/// The statements of a text of several (split at `;` outside parentheses,
/// strings and comments); a text with no `;` but at its end is one.
fn each_statement(sql: &str) -> Vec<&str> {
    if !crate::normalize::several_statements(sql) {
        return vec![sql];
    }
    let mut parts = Vec::new();
    let mut lx = tokens(sql);
    let mut depth = 0usize;
    let mut from = 0;
    loop {
        let start = lx.offset();
        let Some(t) = lx.next() else { break };
        match t {
            Token::Punct("(") => depth += 1,
            Token::Punct(")") => depth = depth.saturating_sub(1),
            Token::Punct(";") if depth == 0 => {
                parts.push(sql.get(from..start).unwrap_or_default());
                from = lx.offset();
            }
            _ => {}
        }
    }
    parts.push(sql.get(from..).unwrap_or_default());
    // A part of only whitespace and comments is no statement.
    parts.retain(|p| tokens(p).any(|t| t != Token::Space));
    parts
}

/// Whether a statement text changes a logging setting: `SET`/`RESET` of
/// one (also `ALTER ROLE|DATABASE|SYSTEM … SET|RESET`, and `RESET ALL`),
/// or `set_config('log_statement', …)`.
fn sets_logging(sql: &str) -> bool {
    // `set_config(` as a name (found from its `_`, then read word by word:
    // not inside a literal or a comment).
    let b = sql.as_bytes();
    let set_config = memchr::memchr_iter(b'_', b).any(|p| {
        p >= 3
            && b.get(p - 3..p + 7)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"set_config"))
    }) && has_name(sql, "set_config");
    let first = first_word(sql);
    let is = |w: &str| first.eq_ignore_ascii_case(w);
    // Also a `DO` block's body (a SET there lasts for the session) and an
    // `UPDATE pg_settings` (PostgreSQL's equivalent of SET) that name one.
    static PG_SETTINGS: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new("pg_settings"));
    let indirect = set_config
        || is("do")
        || (is("update")
            && PG_SETTINGS
                .find(sql.to_ascii_lowercase().as_bytes())
                .is_some()
            && has_name(sql, "pg_settings"));
    if indirect {
        let lower = sql.to_ascii_lowercase();
        if LOGGING_SETTINGS.iter().any(|n| lower.contains(n)) || lower.contains("pgaudit.log") {
            return true;
        }
    }
    // Most statements start with another word: not lexed.
    if !(crate::normalize::several_statements(sql) || is("set") || is("reset") || is("alter")) {
        return false;
    }
    each_statement(sql).into_iter().any(statement_sets_logging)
}

/// Whether `name` (lower-case) is a word or a quoted name of `sql`, not
/// only inside a literal or a comment.
fn has_name(sql: &str, name: &str) -> bool {
    tokens(sql).any(|t| match t {
        Token::Word(w) => w.eq_ignore_ascii_case(name),
        Token::QuotedIdent(q) => crate::normalize::unquote_identifier(q) == name,
        _ => false,
    })
}

/// The first word of `sql` after whitespace and comments (`""` when it
/// starts with anything else).
fn first_word(sql: &str) -> &str {
    crate::normalize::first_word(sql)
}

const LOGGING_SETTINGS: &[&str] = &[
    "log_statement",
    "log_min_duration",
    "log_transaction_sample_rate",
    "log_destination",
    "log_line_prefix",
    "log_min_messages",
    "logging_collector",
];

fn statement_sets_logging(sql: &str) -> bool {
    // Words and quoted names, outside parentheses.
    let mut depth = 0usize;
    let words: Vec<String> = tokens(sql)
        .filter_map(|t| match t {
            Token::Punct("(") => {
                depth += 1;
                None
            }
            Token::Punct(")") => {
                depth = depth.saturating_sub(1);
                None
            }
            Token::Word(w) if depth == 0 => Some(w.to_ascii_lowercase()),
            Token::QuotedIdent(q) if depth == 0 => {
                Some(crate::normalize::unquote_identifier(q).to_ascii_lowercase())
            }
            Token::Punct(".") if depth == 0 => Some(".".into()),
            _ => None,
        })
        .collect();
    // Its first token (after comments) is the command word.
    let first = first_word(sql);
    if !["set", "reset", "alter"]
        .iter()
        .any(|w| first.eq_ignore_ascii_case(w))
    {
        return false;
    }
    // The name after SET or RESET (past SESSION/LOCAL), dotted parts joined.
    words.iter().enumerate().any(|(i, w)| {
        if w != "set" && w != "reset" {
            return false;
        }
        let mut j = i + 1;
        while words.get(j).is_some_and(|w| w == "session" || w == "local") {
            j += 1;
        }
        let Some(first) = words.get(j) else {
            return false;
        };
        if w == "reset" && first == "all" {
            return true;
        }
        let mut name = first.clone();
        while words.get(j + 1).is_some_and(|d| d == ".") {
            if let Some(next) = words.get(j + 2) {
                name.push('.');
                name.push_str(next);
            }
            j += 2;
        }
        is_logging_setting(&name)
    })
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

/// Classifies a statement text as PostgreSQL's `log_statement` does
/// (`GetCommandLogLevel`): by its command, looking inside `PREPARE … AS`,
/// `EXPLAIN ANALYZE` and `WITH …` for the command they hold, `COPY … FROM`
/// being a change and `SELECT … INTO` DDL.
pub fn statement_class(sql: &str) -> StatementClass {
    if !crate::normalize::several_statements(sql) {
        return class_of(sql, 0);
    }
    // A text of several statements is logged when any of them is: it
    // counts as the most logged one.
    let classes: Vec<StatementClass> = each_statement(sql)
        .into_iter()
        .map(|s| class_of(s, 0))
        .collect();
    [
        StatementClass::Ddl,
        StatementClass::Mod,
        StatementClass::Depends,
    ]
    .into_iter()
    .find(|c| classes.contains(c))
    .unwrap_or(StatementClass::Other)
}

fn class_of(sql: &str, nesting: u8) -> StatementClass {
    // The first word, inside the parentheses of `(SELECT …) UNION …`.
    let base = sql.as_ptr() as usize;
    let first = tokens(sql).find_map(|t| match t {
        Token::Word(w) => Some(Some(w)),
        Token::Space | Token::Punct("(") => None,
        _ => Some(None),
    });
    let Some(Some(first)) = first else {
        return StatementClass::Depends;
    };
    let first_at = first.as_ptr() as usize - base;
    // The words after it, outside parentheses.
    let mut words = top_words(sql).filter(move |(at, _)| *at > first_at);
    let is = |w: &str, k: &[&str]| k.iter().any(|k| w.eq_ignore_ascii_case(k));
    // The text from a word on, for the command it holds.
    let inner = |at: usize| match nesting {
        0..=3 => class_of(sql.get(at..).unwrap_or_default(), nesting + 1),
        _ => StatementClass::Depends,
    };
    let ddl = [
        "create", "alter", "drop", "comment", "grant", "revoke", "refresh", "security", "import",
        "reassign", "cluster",
    ];
    if is(first, &ddl) {
        StatementClass::Ddl
    } else if is(first, &["insert", "update", "delete", "truncate", "merge"]) {
        StatementClass::Mod
    } else if is(first, &["select"]) {
        if mentions_into(sql) && words.any(|(_, w)| w.eq_ignore_ascii_case("into")) {
            StatementClass::Ddl
        } else {
            StatementClass::Other
        }
    } else if is(first, &["with"]) {
        // The command after the common table expressions.
        match words.find(|(_, w)| is(w, &["select", "insert", "update", "delete", "merge"])) {
            Some((at, _)) => inner(at),
            None => StatementClass::Depends,
        }
    } else if is(first, &["prepare"]) {
        match words.find(|(_, w)| w.eq_ignore_ascii_case("as")) {
            Some((at, _)) => inner(at + 2),
            None => StatementClass::Depends,
        }
    } else if is(first, &["explain"]) {
        let after = sql.get(first_at + first.len()..).unwrap_or_default();
        explain_class(after, words, inner)
    } else if is(first, &["copy"]) {
        match words.find(|(_, w)| is(w, &["from", "to"])) {
            Some((_, w)) if w.eq_ignore_ascii_case("from") => StatementClass::Mod,
            Some(_) => StatementClass::Other,
            None => StatementClass::Depends,
        }
    } else if is(first, &["execute"]) {
        // The prepared statement's command, not in the text.
        StatementClass::Depends
    } else {
        StatementClass::Other
    }
}

/// `EXPLAIN`: logged as the command it explains with `ANALYZE` (which runs
/// it), otherwise only with `all`.
fn explain_class<'a>(
    after_explain: &str,
    mut words: impl Iterator<Item = (usize, &'a str)>,
    inner: impl Fn(usize) -> StatementClass,
) -> StatementClass {
    let is = |w: &str, k: &[&str]| k.iter().any(|k| w.eq_ignore_ascii_case(k));
    // `EXPLAIN (ANALYZE [true|on|1], …)`: the options are in parentheses,
    // which top_words skips; read them from the text.
    let after_explain = after_explain.trim_start();
    let mut analyze = false;
    if after_explain.starts_with('(') {
        let close = after_explain.find(')').unwrap_or(after_explain.len());
        let options = after_explain.get(1..close).unwrap_or_default();
        for option in options.split(',') {
            let mut parts = option.split_whitespace();
            if parts.next().is_some_and(|o| is(o, &["analyze", "analyse"])) {
                analyze = parts.next().is_none_or(|v| !is(v, &["false", "off", "0"]));
            }
        }
    }
    for (at, w) in words.by_ref() {
        if is(w, &["analyze", "analyse"]) {
            analyze = true;
        } else if !is(w, &["verbose"]) {
            return if analyze {
                inner(at)
            } else {
                StatementClass::Other
            };
        }
    }
    StatementClass::Depends
}

/// Whether `sql` may hold the word `into` (`into`, `INTO` or `Into`): a
/// fast check before the words are read.
fn mentions_into(sql: &str) -> bool {
    let b = sql.as_bytes();
    memchr::memchr2_iter(b'i', b'I', b).any(|p| {
        b.get(p + 1..p + 4)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"nto"))
    })
}

/// The words of `sql` outside parentheses, with their byte offsets.
fn top_words(sql: &str) -> impl Iterator<Item = (usize, &str)> {
    let base = sql.as_ptr() as usize;
    let mut depth = 0u32;
    tokens(sql).filter_map(move |t| match t {
        Token::Punct("(") => {
            depth += 1;
            None
        }
        Token::Punct(")") => {
            depth = depth.saturating_sub(1);
            None
        }
        Token::Word(w) if depth == 0 => Some((w.as_ptr() as usize - base, w)),
        _ => None,
    })
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
    /// `log_min_duration_sample` in ms (-1 = off).
    pub log_min_duration_sample: Option<i64>,
    /// `log_transaction_sample_rate`.
    pub transaction_sample_rate: Option<f64>,
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
                "log_statement_sample_rate" | "log_transaction_sample_rate" => {
                    let r: f64 = v
                        .parse()
                        .ok()
                        .filter(|r: &f64| (0.0..=1.0).contains(r))
                        .ok_or_else(|| err("a sample rate is between 0 and 1"))?;
                    if k.trim() == "log_statement_sample_rate" {
                        d.sample_rate = Some(r);
                    } else {
                        d.transaction_sample_rate = Some(r);
                    }
                }
                "log_min_duration_sample" => {
                    let n: i64 = v
                        .trim_end_matches("ms")
                        .trim()
                        .parse()
                        .map_err(|_| err("log_min_duration_sample is a number of milliseconds (-1 = off)"))?;
                    d.log_min_duration_sample = Some(n);
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
                        "unknown setting `{other}` (known: log_statement, log_min_duration_statement, log_min_duration_sample, log_statement_sample_rate, log_transaction_sample_rate, pgaudit.log)"
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

pub(crate) fn is_log_format(format: &str) -> bool {
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
    // Records that could not be read, an input that could not be read at
    // all, or the part after a read error: they could use any column.
    if cov
        .errors
        .iter()
        .any(|e| !crate::panics::is_internal_error(e))
    {
        cov.blind_spots.push(
            "part of this input could not be read (see its errors): the records or the part not read could use any column".into(),
        );
    }
    let unread = cov
        .skipped
        .get(crate::input::UNMATCHED_STATEMENT)
        .copied()
        .unwrap_or(0);
    if unread > 0 {
        cov.blind_spots.push(format!(
            "{unread} line{} that log_line_prefix does not match carr{} a statement (the prefix changed, or the line was cut): what {} ran is not known",
            if unread == 1 { "" } else { "s" },
            if unread == 1 { "ies" } else { "y" },
            if unread == 1 { "it" } else { "they" }
        ));
    }
    let seen = cov.logging.clone();
    if seen.setting_changes > 0 {
        cov.blind_spots.push(format!(
            "the logging set-up changed within this input ({} change{} of log_statement, log_min_duration_statement, pgaudit.log or a like setting: a reload's `parameter … changed` line, or a logged SET or ALTER … SET): statements may have gone unlogged while it was lower",
            seen.setting_changes,
            if seen.setting_changes == 1 { "" } else { "s" }
        ));
    }
    if seen.unfollowed_path_changes > 0 {
        let n = seen.unfollowed_path_changes;
        cov.blind_spots.push(format!(
            "{n} DO block{} name search_path: a SET inside one lasts for the session and is not followed, so later statements of {} may resolve with another path",
            if n == 1 { "" } else { "s" },
            if n == 1 { "that session" } else { "those sessions" }
        ));
    }
    if seen.uncertain_path_changes > 0 {
        let n = seen.uncertain_path_changes;
        cov.blind_spots.push(format!(
            "{n} failed text{} that moved search_path left a path that depends on which of {} statements failed, which the log does not tell (a text of several statements that also ends its transaction, or an ERROR without a STATEMENT line): the later statements of {} may resolve with another path",
            if n == 1 { "" } else { "s" },
            if n == 1 { "its" } else { "their" },
            if n == 1 { "that session" } else { "those sessions" }
        ));
    }
    if seen.unattributed_path_changes > 0 {
        let n = seen.unattributed_path_changes;
        cov.blind_spots.push(format!(
            "{n} search_path change{} (SET search_path, or SET ROLE for $user) could not be tied to a session, as log_line_prefix has no %p or %c: the later statements of {} resolve their names with a path not known, so a reference could be to another table than the one found",
            if n == 1 { "" } else { "s" },
            if n == 1 { "that session" } else { "those sessions" }
        ));
    }
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
    // Only a logged statement that `mod` would not log (a SELECT, SET, …)
    // shows `all`; one whose level the text does not tell (EXECUTE of a
    // prepared statement) shows at most `mod`.
    let unknown_level = seen
        .plain_statements
        .saturating_sub(seen.read_like + seen.mod_like + seen.ddl_like);
    let (ls, ls_source) = match declared.log_statement {
        Some(l) => (Some(l), "declared"),
        None if seen.plain_statements == 0 => (None, "inferred"),
        None if seen.read_like > 0 => (Some(LogStatement::All), "inferred"),
        None if seen.mod_like > 0 || unknown_level > 0 => (Some(LogStatement::Mod), "inferred"),
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
    let sampled = declared
        .sample_rate
        .filter(|r| *r < 1.0)
        .map(|r| format!("log_statement_sample_rate = {r}, declared"))
        .or_else(|| {
            declared
                .transaction_sample_rate
                .filter(|r| *r > 0.0)
                .map(|r| format!("log_transaction_sample_rate = {r}, declared"))
        });
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
            if let Some(r) = &sampled {
                return Sight::Partial(format!(
                    "statements are logged only through sampled duration logging ({r})"
                ));
            }
            if ms == 0 && src == "declared" {
                return Sight::Full;
            }
            if ms == 0 {
                // Sampling (log_min_duration_sample with
                // log_statement_sample_rate, or log_transaction_sample_rate)
                // writes the same lines for some statements only.
                return Sight::Partial("statements appear only on `duration:` lines, some faster than 1 ms: log_min_duration_statement = 0 logs every statement so, but sampled duration logging (log_min_duration_sample with log_statement_sample_rate, or log_transaction_sample_rate) writes the same lines for only some (inferred; state it with --logging log_min_duration_statement=0)".into());
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
    } else if let Some(why) = unlogged_activity(cov) {
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

/// Sessions, or statements timed without their text, in a log that shows
/// no statement: what they ran was not logged.
fn unlogged_activity(cov: &FileCoverage) -> Option<String> {
    let kind = |k: &str| cov.records_by_kind.get(k).copied().unwrap_or(0);
    let sessions = kind("connection") + kind("disconnection");
    let timed = kind("duration");
    if timed > 0 {
        Some(format!("{timed} statement{} timed on `duration:` lines without their text (log_duration), and no statement text logged: log_statement seems to be none", if timed == 1 { " was" } else { "s were" }))
    } else if sessions > 0 {
        Some(format!("{sessions} connection record{} but no statement logged: log_statement seems to be none", if sessions == 1 { "" } else { "s" }))
    } else {
        None
    }
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
    fn texts_of_a_shape_have_its_facts_unless_they_may_depend_on_values() {
        // The one-pass normaliser gives this same text (a test holds it).
        let shape = |sql: &str| crate::normalize::normalize(sql).into_bytes();
        // Pairs of texts of one shape.
        let same = [
            (
                "SELECT a FROM t WHERE b = 'into'",
                "SELECT a FROM t WHERE b = 1",
            ),
            (
                "/* x */ SET log_statement = 'none'",
                "SET log_statement = 'all'",
            ),
            ("/* c */ SELECT 1", "SELECT 2"),
            ("SELECT 'a;b' INTO t2 FROM t", "SELECT 'ab' INTO t2 FROM t"),
            ("COPY t FROM STDIN", "copy t from stdin"),
            (
                "WITH x AS (SELECT 1) DELETE FROM t",
                "WITH x AS (SELECT 2) DELETE FROM t",
            ),
            (
                "ALTER ROLE r SET log_min_duration_statement = 5",
                "ALTER ROLE r SET log_min_duration_statement = 9",
            ),
        ];
        // Found by a review: a literal or comment naming `pg_settings`,
        // `set_config` or a setting, a comment-only part after a `;`, and
        // `INTO` in any case.
        let reviewed = [
            (
                "UPDATE notes SET body = 'see pg_settings: log_statement' WHERE id = 1",
                "UPDATE notes SET body = 'hello' WHERE id = 2",
            ),
            (
                "SELECT 'set_config(''log_statement'', ''none'')' FROM t",
                "SELECT 'x' FROM t",
            ),
            (
                "SELECT * FROM users WHERE id = 1; /* trailing */",
                "SELECT * FROM users WHERE id = 2;",
            ),
            (
                "SELECT id inTo TEMP tt FROM notes WHERE id = 1",
                "SELECT id INTO TEMP tt FROM notes WHERE id = 2",
            ),
            (
                "/* ; */ :: set log_statement = 1",
                ":: set log_statement = 2",
            ),
        ];
        for (a, b) in same.into_iter().chain(reviewed) {
            assert_eq!(shape(a), shape(b), "{a} / {b}");
            assert!(!TextFacts::depend_on_values(&shape(a)), "{a}");
            assert_eq!(TextFacts::of(a), TextFacts::of(b), "{a} / {b}");
        }
        // These differ in their values: worked out per text.
        let differ = [
            (
                "EXPLAIN (ANALYZE 1) DELETE FROM t",
                "EXPLAIN (ANALYZE 0) DELETE FROM t",
            ),
            (
                "SELECT set_config('log_statement', 'none', false)",
                "SELECT set_config('work_mem', '1MB', false)",
            ),
            (
                "UPDATE pg_settings SET setting = 'none' WHERE name = 'log_statement'",
                "UPDATE pg_settings SET setting = '1MB' WHERE name = 'work_mem'",
            ),
            (
                "/* c */ DO $$BEGIN SET search_path = x; END$$",
                "DO $$BEGIN PERFORM 1; END$$",
            ),
        ];
        for (a, b) in differ {
            assert_eq!(shape(a), shape(b), "{a} / {b}");
            assert!(TextFacts::depend_on_values(&shape(a)), "{a}");
            assert_ne!(TextFacts::of(a), TextFacts::of(b), "{a} / {b}");
        }
    }

    #[test]
    fn generated_texts_of_one_shape_have_one_set_of_facts() {
        // Statement forms, with slots for a value and a comment, filled
        // with values and comments that hold keywords, names and `;`.
        let forms = [
            "SELECT a{C} FROM t WHERE b = {L}{C}",
            "{C}SELECT a INTO t2 FROM t WHERE b = {L}",
            "SELECT a inTo TEMP t2 FROM t WHERE b = {L}{C}",
            "UPDATE t SET b = {L}{C} WHERE c = {L}",
            "{C}SET log_statement = {L}{C}",
            "SET work_mem = {L}{C}",
            "SELECT {L}{C}; {C}",
            "SELECT {L}; {C}SET log_statement = {L}",
            "WITH x AS (SELECT {L}) {C}DELETE FROM t",
            "COPY t FROM STDIN{C}",
            "COPY (SELECT {L}) TO STDOUT{C}",
            "{C}ALTER ROLE r SET log_min_duration_statement = {L}",
            "PREPARE p AS {C}UPDATE t SET a = {L}",
            "RESET ALL{C}",
            "{C}RESET log_statement",
            "(SELECT {L}) UNION (SELECT {L}){C}",
            "INSERT INTO t VALUES ({L}){C}",
            "CREATE TABLE t2 AS SELECT {L}{C}",
        ];
        let values = [
            "1",
            "'x'",
            "'into'",
            "'set_config(''log_statement'', ''none'', false)'",
            "';'",
            "'pg_settings log_statement'",
            "E'\\'; into'",
            "$q$ ; set log_statement $q$",
            "'search_path'",
        ];
        let comments = [
            "",
            " /* ; */ ",
            " -- ; into\n",
            " /* set_config pg_settings log_statement; */ ",
        ];
        let mut by_shape: BTreeMap<Vec<u8>, (String, TextFacts)> = BTreeMap::new();
        for form in forms {
            for v in values {
                for c in comments {
                    let text = form.replace("{L}", v).replace("{C}", c);
                    for t in [text.clone(), text.to_uppercase(), text.to_lowercase()] {
                        let mut shape = Vec::new();
                        crate::normalize::normalize_bytes(&t, &mut shape);
                        if TextFacts::depend_on_values(&shape) {
                            continue;
                        }
                        let facts = TextFacts::of(&t);
                        match by_shape.get(&shape) {
                            Some((first, f)) => assert_eq!(*f, facts, "{first} / {t}"),
                            None => {
                                by_shape.insert(shape, (t, facts));
                            }
                        }
                    }
                }
            }
        }
        assert!(by_shape.len() >= 15, "{}", by_shape.len());
    }

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
            StatementClass::Mod
        );
        assert_eq!(statement_class("BEGIN"), StatementClass::Other);
        // As GetCommandLogLevel: the command inside, COPY's direction,
        // SELECT INTO creating a table.
        for (sql, class) in [
            (
                "WITH x AS (DELETE FROM t RETURNING a) SELECT * FROM x",
                StatementClass::Other,
            ),
            (
                "with recursive r(n) as (select 1) insert into t select n from r",
                StatementClass::Mod,
            ),
            (
                "SELECT id INTO TEMP tt FROM orders WHERE id < 5",
                StatementClass::Ddl,
            ),
            (
                "SELECT 'into' FROM orders WHERE x IN (SELECT y FROM z)",
                StatementClass::Other,
            ),
            ("select insert_into(1)", StatementClass::Other),
            (
                "PREPARE pu (int) AS UPDATE t SET a = $1",
                StatementClass::Mod,
            ),
            ("prepare q as select 1", StatementClass::Other),
            ("EXPLAIN ANALYZE UPDATE t SET a = 1", StatementClass::Mod),
            ("explain analyze verbose delete from t", StatementClass::Mod),
            (
                "EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1",
                StatementClass::Mod,
            ),
            (
                "EXPLAIN (ANALYZE false) UPDATE t SET a = 1",
                StatementClass::Other,
            ),
            ("EXPLAIN UPDATE t SET a = 1", StatementClass::Other),
            (
                "/* c */ EXPLAIN (analyze) insert into t values (1)",
                StatementClass::Mod,
            ),
            ("COPY t (a, b) FROM STDIN", StatementClass::Mod),
            ("COPY (SELECT a FROM t) TO STDOUT", StatementClass::Other),
            ("EXECUTE pu(5)", StatementClass::Depends),
            ("REFRESH MATERIALIZED VIEW mv", StatementClass::Ddl),
            ("SECURITY LABEL ON TABLE t IS 'x'", StatementClass::Ddl),
            ("CLUSTER users USING users_id_idx", StatementClass::Ddl),
            // A text of several statements is logged if any of them is.
            (
                "BEGIN ; UPDATE users SET name = 'x' WHERE id = 0 ; COMMIT;",
                StatementClass::Mod,
            ),
            ("BEGIN; CREATE TABLE x (a int); COMMIT", StatementClass::Ddl),
            ("SELECT 1; SELECT ';'", StatementClass::Other),
            ("SELECT 1;", StatementClass::Other),
        ] {
            assert_eq!(statement_class(sql), class, "{sql}");
        }
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
        let d = Declared::parse(&[
            "log_min_duration_sample=0",
            "log_transaction_sample_rate=0.2",
        ])
        .unwrap();
        assert_eq!(d.log_min_duration_sample, Some(0));
        assert_eq!(d.transaction_sample_rate, Some(0.2));
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
        // Faster than 1 ms: log_min_duration_statement = 0, or sampling,
        // which writes the same lines for some statements only.
        assess(&mut cov, &Declared::default());
        assert_eq!(cov.blind_spots, vec!["reads and writes are only partly logged: statements appear only on `duration:` lines, some faster than 1 ms: log_min_duration_statement = 0 logs every statement so, but sampled duration logging (log_min_duration_sample with log_statement_sample_rate, or log_transaction_sample_rate) writes the same lines for only some (inferred; state it with --logging log_min_duration_statement=0)".to_string()]);
        assess(
            &mut cov,
            &Declared::parse(&["log_min_duration_statement=0"]).unwrap(),
        );
        assert!(cov.blind_spots.is_empty(), "{:?}", cov.blind_spots);
    }

    #[test]
    fn a_slow_select_on_a_duration_line_does_not_show_log_statement_all() {
        // log_statement = mod with log_min_duration_statement = 50: the
        // plain lines are writes, the SELECT is on a duration line.
        let mut seen = LoggingSeen::default();
        seen.logged_statement("UPDATE t SET a = 1", None);
        seen.logged_statement("SELECT id, pg_sleep(0.1) FROM t", Some(100.3));
        assert_eq!((seen.read_like, seen.mod_like), (0, 1));
        let mut cov = log_cov(seen);
        assess(&mut cov, &Declared::default());
        assert_eq!(cov.blind_spots.len(), 1, "{:?}", cov.blind_spots);
        assert!(
            cov.blind_spots[0].starts_with("reads are only partly logged: statements appear only on `duration:` lines, the fastest taking 100 ms"),
            "{:?}",
            cov.blind_spots
        );
    }

    #[test]
    fn statements_whose_level_the_text_hides_do_not_show_log_statement_all() {
        // EXECUTE of a prepared UPDATE, logged under mod.
        let mut seen = LoggingSeen::default();
        seen.logged_statement("EXECUTE pu(5)", None);
        let mut cov = log_cov(seen);
        assess(&mut cov, &Declared::default());
        assert_eq!(cov.blind_spots.len(), 1, "{:?}", cov.blind_spots);
        assert!(
            cov.blind_spots[0].starts_with("reads are not logged: log_statement = mod (inferred)")
        );
    }

    #[test]
    fn sessions_or_timings_without_any_statement_hide_reads_and_writes() {
        for (kind, start) in [
            ("connection", "reads and writes are not logged: 2 connection records but no statement logged"),
            ("duration", "reads and writes are not logged: 2 statements were timed on `duration:` lines without their text"),
        ] {
            let mut cov = log_cov(LoggingSeen::default());
            cov.records_by_kind.insert(kind.into(), 2);
            cov.records_by_kind.insert("checkpoint".into(), 1);
            assess(&mut cov, &Declared::default());
            assert_eq!(cov.blind_spots.len(), 1, "{kind}: {:?}", cov.blind_spots);
            assert!(cov.blind_spots[0].starts_with(start), "{:?}", cov.blind_spots);
            assess(&mut cov, &Declared::parse(&["log_statement=all"]).unwrap());
            assert!(cov.blind_spots.is_empty(), "{kind}: {:?}", cov.blind_spots);
        }
    }

    #[test]
    fn a_logging_setting_changed_within_the_log_is_a_blind_spot() {
        let mut seen = LoggingSeen::default();
        seen.logged_statement("SELECT 1", None);
        seen.server_message("parameter \"work_mem\" changed to \"8MB\"");
        seen.logged_statement("SET work_mem = '8MB'", None);
        seen.logged_statement("ALTER TABLE t ADD COLUMN b int", None);
        assert_eq!(seen.setting_changes, 0);
        seen.server_message("parameter \"log_statement\" changed to \"none\"");
        seen.logged_statement("SET log_statement = 'none'", None);
        seen.logged_statement("set LOCAL Log_Min_Duration_Statement to 1000", None);
        seen.logged_statement("ALTER ROLE etl SET pgaudit.log = 'none'", None);
        seen.logged_statement("ALTER SYSTEM SET log_statement = 'ddl'", None);
        assert_eq!(seen.setting_changes, 5);
        seen.server_message(
            "parameter \"log_statement\" removed from configuration file, reset to default",
        );
        seen.logged_statement("SELECT set_config('log_statement', 'none', false)", None);
        seen.logged_statement("SET \"log_statement\" = 'none'", None);
        seen.logged_statement("ALTER ROLE etl RESET ALL", None);
        seen.logged_statement(
            "BEGIN; SET LOCAL log_min_messages = 'panic'; SELECT 1",
            None,
        );
        seen.logged_statement("DO $$ BEGIN SET log_statement = 'none'; END $$", None);
        seen.logged_statement(
            "UPDATE pg_settings SET setting = 'none' WHERE name = 'log_statement'",
            None,
        );
        assert_eq!(seen.setting_changes, 12);
        // Not a setting: a column named like one.
        seen.logged_statement("ALTER TABLE t ADD COLUMN log_destination text", None);
        seen.logged_statement("SELECT log_statement FROM audit_settings", None);
        assert_eq!(seen.setting_changes, 12);
        let mut cov = log_cov(seen);
        assess(&mut cov, &Declared::parse(&["log_statement=all"]).unwrap());
        assert_eq!(cov.blind_spots.len(), 1, "{:?}", cov.blind_spots);
        assert!(cov.blind_spots[0]
            .starts_with("the logging set-up changed within this input (12 changes"));
    }

    #[test]
    fn a_do_block_that_names_search_path_is_a_blind_spot() {
        let mut seen = LoggingSeen::default();
        seen.logged_statement("DO $$ BEGIN PERFORM 1; END $$", None);
        seen.logged_statement("SELECT do_search_path FROM t", None);
        assert_eq!(seen.unfollowed_path_changes, 0);
        seen.logged_statement("do $$begin SET Search_Path = archive; end$$", None);
        assert_eq!(seen.unfollowed_path_changes, 1);
        let mut cov = log_cov(seen);
        assess(&mut cov, &Declared::parse(&["log_statement=all"]).unwrap());
        assert_eq!(cov.blind_spots.len(), 1, "{:?}", cov.blind_spots);
        assert!(cov.blind_spots[0].starts_with("1 DO block name search_path"));
    }

    #[test]
    fn an_input_error_is_a_blind_spot() {
        let mut cov = log_cov(LoggingSeen::default());
        cov.errors
            .push("x.log: read error after line 193: unexpected end of file".into());
        assess(&mut cov, &Declared::parse(&["log_statement=all"]).unwrap());
        assert_eq!(cov.blind_spots, vec!["part of this input could not be read (see its errors): the records or the part not read could use any column".to_string()]);
        // An input no reader could read at all.
        let mut cov = FileCoverage {
            format: "unreadable".into(),
            errors: vec!["y.log: No such file or directory".into()],
            ..FileCoverage::default()
        };
        assess(&mut cov, &Declared::default());
        assert_eq!(cov.blind_spots.len(), 1);
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
