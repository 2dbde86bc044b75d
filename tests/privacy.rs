//! Leak nothing: unique secrets are planted in every field of every input
//! format that can carry a value (statement literals of every kind,
//! comments, bind parameters, pgAudit parameter fields, error messages,
//! DETAIL/HINT/CONTEXT/QUERY records and the csvlog/jsonlog/cloud fields
//! that hold them, failed statements, pg_stat_statements query texts,
//! migration files, schema dumps, broken records) by mutating a copy of
//! every fixture, and no output of any command may carry one: every report
//! format, `--output` files, the `--state` file, `merge`, `report`,
//! `explain`, stderr and the error paths.
//!
//! Every secret carries one random tag (and every planted number one
//! random digit run), so a single search per output finds any of them.

mod common;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use regex::{Captures, Regex};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_pgcontract");

/// Hands out unique secrets that all carry the same random tag.
struct Planter {
    /// Random lower-case hex: every text secret contains it.
    tag: String,
    /// Random digits: every numeric secret starts with them.
    digits: String,
    n: usize,
}

impl Planter {
    fn new() -> Self {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos(),
        );
        h.write_u32(std::process::id());
        let r = h.finish();
        Self {
            tag: format!("{:012x}", r & 0xffff_ffff_ffff),
            // 9 digits after a fixed 7 (so it is never a leading zero)
            digits: format!("7{:09}", (r >> 20) % 1_000_000_000),
            n: 0,
        }
    }

    /// `SECRET_<field>_<tag>_<n>`.
    fn text(&mut self, field: &str) -> String {
        self.n += 1;
        format!("SECRET_{field}_{}_{}", self.tag, self.n)
    }

    /// A number no output has any reason to show.
    fn number(&mut self) -> String {
        self.n += 1;
        format!("{}{:05}", self.digits, self.n)
    }

    /// A literal of one of PostgreSQL's spellings, chosen by `k`; never a
    /// `"`, `\`, `,` or newline, so it is safe in every file format as is.
    fn literal(&mut self, k: usize, field: &str) -> String {
        let s = self.text(field);
        match k % 8 {
            0 => format!("'{s}'"),
            1 => format!("E'{s}'"),
            2 => format!("$q${s}$q$"),
            3 => format!("ARRAY['{s}']"),
            4 => format!("'{{{s}}}'"),
            5 => format!("U&'{s}'"),
            6 => format!("N'{s}'"),
            _ => format!("'it''s {s}'"),
        }
    }

    /// Does `text` carry any secret?
    fn found_in(&self, text: &str) -> Option<String> {
        let lower = text.to_ascii_lowercase();
        for needle in [self.tag.as_str(), self.digits.as_str()] {
            if let Some(i) = lower.find(needle) {
                let from = lower[..i].char_indices().rev().nth(60).map_or(0, |c| c.0);
                let to = (i + 60).min(lower.len());
                let to = (to..=lower.len())
                    .find(|&j| lower.is_char_boundary(j))
                    .unwrap_or(lower.len());
                return Some(lower[from..to].to_string());
            }
        }
        None
    }

    fn count_in(&self, text: &str) -> usize {
        let lower = text.to_ascii_lowercase();
        lower.matches(self.tag.as_str()).count() + lower.matches(self.digits.as_str()).count()
    }
}

/// The regexes of [`plant_in_line`], compiled once.
struct Patterns {
    quoted: Regex,
    compared: Regex,
    listed: Regex,
    logged: Regex,
    param: Regex,
}

fn patterns() -> &'static Patterns {
    static P: std::sync::OnceLock<Patterns> = std::sync::OnceLock::new();
    P.get_or_init(|| Patterns {
        // E'…' with its backslash escapes, or a plain, B, X, N or U& string
        quoted: Regex::new(
            r"\b[Ee]'(?:[^'\\\n]|''|\\.)*'|(?:\b(?:[BbXxNn]|[Uu]&))?'(?:[^'\n]|'')*'",
        )
        .unwrap(),
        compared: Regex::new(
            r"(?i)(\b(?:where|and|or|on|set)\s+[a-z_][a-z0-9_.]*\s*(?:=|<>|<=|>=|<|>)\s*)(\d+)\b",
        )
        .unwrap(),
        listed: Regex::new(r"(?i)(\b(?:in|values)\s*\()(\d+)\b").unwrap(),
        logged: Regex::new(r"(statement: |execute [^:\s]+: )").unwrap(),
        param: Regex::new(r"\$\d+\b").unwrap(),
    })
}

/// Plants secrets in the values of one line of SQL-bearing text: every
/// quoted literal, numbers compared in WHERE clauses and IN lists, a
/// comment after every logged statement's `statement: `/`execute …: `, and
/// pgAudit's parameter field.
fn plant_in_line(p: &mut Planter, line: &str, pgss: bool) -> String {
    let pats = patterns();
    let mut k = 0usize;
    let mut out = pats
        .quoted
        .replace_all(line, |_: &Captures| {
            k += 1;
            p.literal(k, "literal")
        })
        .into_owned();
    out = pats
        .compared
        .replace_all(&out, |c: &Captures| format!("{}{}", &c[1], p.number()))
        .into_owned();
    out = pats
        .listed
        .replace_all(&out, |c: &Captures| format!("{}{}", &c[1], p.number()))
        .into_owned();
    out = pats
        .logged
        .replace_all(&out, |c: &Captures| {
            format!("{}/* {} */ ", &c[1], p.text("comment"))
        })
        .into_owned();
    if out.contains("AUDIT: ") {
        out = out.replace("<none>", &p.text("audit_parameter"));
    }
    if pgss {
        out = pats
            .param
            .replace_all(&out, |_: &Captures| {
                k += 1;
                p.literal(k, "pgss_literal")
            })
            .into_owned();
    }
    out
}

/// A statement with a secret in every spelling of a value.
fn rich_sql(p: &mut Planter) -> String {
    format!(
        "SELECT id, legacy_email /* {c} */ FROM users WHERE id = {n1} AND name = '{s1}' AND name IN ({n2}, E'{s2}') AND name = $q${s3}$q$ AND name = ANY (ARRAY['{s4}']) AND j = '{{\"k\": \"{s5}\"}}'::jsonb AND name = U&'{s6}' AND name = B'{b}' AND n = {n3}.5e3 -- {s7}",
        c = p.text("comment"),
        n1 = p.number(),
        s1 = p.text("string"),
        n2 = p.number(),
        s2 = p.text("escape_string"),
        s3 = p.text("dollar_quote"),
        s4 = p.text("array"),
        s5 = p.text("json"),
        s6 = p.text("unicode_string"),
        b = "1",
        n3 = p.number(),
        s7 = p.text("line_comment"),
    )
}

/// (severity, message) of the records appended to every log: each field of
/// a record that can carry a value gets a secret.
fn planted_records(p: &mut Planter) -> Vec<(&'static str, String)> {
    vec![
        ("LOG", format!("statement: {}", rich_sql(p))),
        // A number with letters right after it: one token from PostgreSQL
        // 15 on ("trailing junk"), a value for all that.
        (
            "LOG",
            format!(
                "statement: SELECT legacy_email FROM users WHERE token = {}{} OR n = 1.5{}",
                p.number(),
                p.text("numeric_junk").to_lowercase(),
                p.text("decimal_junk")
            ),
        ),
        (
            "LOG",
            format!(
                "duration: 0.5 ms  statement: UPDATE users SET legacy_email = '{}' WHERE id = {}",
                p.text("duration_statement"),
                p.number()
            ),
        ),
        (
            "LOG",
            "execute <unnamed>: SELECT legacy_email FROM users WHERE id = $1 AND name = $2"
                .to_string(),
        ),
        (
            "DETAIL",
            format!(
                "parameters: $1 = '{}', $2 = '{}'",
                p.number(),
                p.text("bind_parameter")
            ),
        ),
        (
            "ERROR",
            format!(
                "invalid input syntax for type integer: \"{}\" {}",
                p.text("error_message"),
                p.text("error_message_bare")
            ),
        ),
        (
            "DETAIL",
            format!(
                "Key (legacy_email)=({}) already exists.",
                p.text("detail")
            ),
        ),
        ("HINT", p.text("hint")),
        (
            "CONTEXT",
            format!("SQL statement \"SELECT '{}'\"", p.text("context")),
        ),
        (
            "QUERY",
            format!(
                "SELECT legacy_email FROM users WHERE name = '{}'",
                p.text("query")
            ),
        ),
        (
            "STATEMENT",
            format!(
                "INSERT INTO users (id, legacy_email) VALUES ({}, '{}')",
                p.number(),
                p.text("failed_statement")
            ),
        ),
        (
            "ERROR",
            format!("syntax error at or near \"{}\"", p.text("syntax_error")),
        ),
        (
            "STATEMENT",
            format!(
                "SELECT legacy_email FORM users WHERE name = '{}'",
                p.text("unparseable_statement")
            ),
        ),
        // With standard_conforming_strings = off the backslash escapes the
        // quote, and the secret is inside the literal.
        (
            "LOG",
            format!(
                "statement: SELECT legacy_email FROM users WHERE name = 'x\\' AND name = {}'",
                p.text("backslash_string")
            ),
        ),
        (
            "LOG",
            format!(
                "statement: SELECT legacy_email FROM users WHERE name = '{} unterminated",
                p.text("unterminated_string")
            ),
        ),
        (
            "LOG",
            format!(
                "AUDIT: SESSION,90,1,READ,SELECT,TABLE,public.users,\"SELECT legacy_email FROM users WHERE name = '{}'\",{}",
                p.text("audit_statement"),
                p.text("audit_parameter")
            ),
        ),
        (
            "LOG",
            format!(
                "AUDIT: SESSION,91,1,READ,SELECT,TABLE,public.users,{},",
                p.text("malformed_audit")
            ),
        ),
    ]
}

/// The fields of a JSON log record that carry values besides the message.
fn value_field(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    let k = k.strip_prefix("record_").unwrap_or(&k);
    let k = k.strip_suffix("_s").unwrap_or(k);
    matches!(
        k,
        "detail" | "hint" | "context" | "internal_query" | "query" | "statement"
    )
}

/// Rewrites a JSON log record (any shape: jsonlog, CloudNativePG, Event
/// Hub, Log Analytics, Cloud Logging) into one carrying `(sev, msg)`; with
/// `fields`, every detail/hint/context/query field gets a secret too.
fn rewrite_json(v: &mut Value, sev: &str, msg: &str, fields: bool, p: &mut Planter) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if fields && value_field(k) {
                    let q = k.to_ascii_lowercase();
                    *x = Value::String(if q.contains("query") || q.contains("statement") {
                        format!(
                            "SELECT legacy_email FROM users WHERE name = '{}'",
                            p.text(&format!("json_field_{k}"))
                        )
                    } else {
                        p.text(&format!("json_field_{k}"))
                    });
                } else {
                    rewrite_json(x, sev, msg, fields, p);
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                rewrite_json(x, sev, msg, fields, p);
            }
        }
        Value::String(s) if s == "LOG" => *s = sev.to_string(),
        Value::String(s) => {
            if let Some(i) = s.find("LOG:  ") {
                *s = format!("{}{sev}:  {msg}", &s[..i]);
            } else if s.starts_with("statement: ") || s.starts_with("AUDIT: ") {
                *s = msg.to_string();
            }
        }
        _ => {}
    }
}

/// Does a JSON record carry a logged statement (or a pgAudit line)?
fn has_statement(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.values().any(has_statement),
        Value::Array(a) => a.iter().any(has_statement),
        Value::String(s) => {
            s.contains("LOG:  statement: ")
                || s.starts_with("statement: ")
                || s.starts_with("AUDIT: ")
        }
        _ => false,
    }
}

/// How a fixture file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A text log, one record per line (stderr, syslog, RDS, Heroku, …).
    Lines,
    /// PostgreSQL csvlog.
    Csvlog,
    /// One JSON document per line (jsonlog, CloudNativePG, Event Hub, Cloud Logging).
    JsonLines,
    /// One JSON array of records (Cloud Logging, Log Analytics exports).
    JsonArray,
    /// A pg_stat_statements export.
    Pgss,
    /// SQL: a schema dump or a migration.
    Sql,
    /// Not an input (documentation).
    Doc,
}

fn kind_of(path: &Path, text: &str) -> Kind {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let head = text.lines().next().unwrap_or("");
    match ext {
        "md" | "txt" | "tsv" => Kind::Doc,
        "sql" => Kind::Sql,
        "csv" if head.contains("queryid") => Kind::Pgss,
        "csv" => Kind::Csvlog,
        "json" | "ndjson" if text.contains("\"queryid\"") => Kind::Pgss,
        "json" if text.trim_start().starts_with('[') => Kind::JsonArray,
        "json" | "ndjson" => Kind::JsonLines,
        _ => Kind::Lines,
    }
}

/// A mutated copy of one fixture: `(kind, new content)`.
fn mutate(p: &mut Planter, path: &Path, text: &str) -> (Kind, String) {
    let kind = kind_of(path, text);
    let planted: String = match kind {
        Kind::Doc => return (kind, text.to_string()),
        Kind::Sql => {
            let mut out: String = text
                .split_inclusive('\n')
                .map(|l| plant_in_line(p, l, false))
                .collect();
            let is_migration = path.to_string_lossy().contains("migrations");
            if !out.ends_with('\n') {
                out.push('\n');
            }
            if is_migration {
                out.push_str(&format!(
                    "-- {}\nUPDATE orders SET status = '{}' WHERE id = {};\n",
                    p.text("migration_comment"),
                    p.text("migration_literal"),
                    p.number()
                ));
            } else {
                out.push_str(&format!(
                    "CREATE VIEW public.planted_view AS SELECT legacy_email FROM public.users WHERE legacy_email <> '{}' AND id > {};\n\
                     CREATE FUNCTION public.planted_fn() RETURNS text LANGUAGE plpgsql AS $body$ BEGIN RETURN (SELECT legacy_email FROM public.users WHERE legacy_email = '{}'); END $body$;\n\
                     CREATE FUNCTION public.planted_broken() RETURNS text LANGUAGE plpgsql AS $body$ BEGIN RETURN '{}' + ; END $body$;\n\
                     COMMENT ON TABLE public.users IS '{}';\n",
                    p.text("view_literal"),
                    p.number(),
                    p.text("function_literal"),
                    p.text("broken_function_literal"),
                    p.text("comment_literal"),
                ));
            }
            return (kind, out);
        }
        Kind::Pgss => {
            return (
                kind,
                text.split_inclusive('\n')
                    .map(|l| plant_in_line(p, l, true))
                    .collect(),
            )
        }
        Kind::Lines | Kind::Csvlog | Kind::JsonLines | Kind::JsonArray => text
            .split_inclusive('\n')
            .map(|l| plant_in_line(p, l, false))
            .collect(),
    };
    let mut out = planted;
    if !out.ends_with('\n') && !out.is_empty() {
        out.push('\n');
    }
    let records = planted_records(p);
    match kind {
        Kind::Lines => {
            // A logged statement's line, or (a log without them) any LOG line.
            let template = text
                .lines()
                .find(|l| l.contains("LOG:  statement: "))
                .or_else(|| text.lines().find(|l| l.contains("LOG:  ")))
                .expect("a log with a LOG line");
            let head = &template[..template.find("LOG:  ").unwrap()];
            for (sev, msg) in records {
                out.push_str(&format!("{head}{sev}:  {msg}\n"));
            }
        }
        Kind::Csvlog => {
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(text.as_bytes());
            let rows: Vec<csv::StringRecord> = rdr.records().filter_map(Result::ok).collect();
            let template = rows
                .iter()
                .find(|r| r.get(13).is_some_and(|m| m.starts_with("statement: ")))
                .or_else(|| {
                    rows.iter().find(|r| {
                        r.get(11) == Some("LOG") && r.get(1).is_some_and(|u| !u.is_empty())
                    })
                })
                .expect("a csvlog fixture with a LOG record of a session");
            let mut w = csv::WriterBuilder::new()
                .flexible(true)
                .from_writer(Vec::new());
            for (i, (sev, msg)) in records.into_iter().enumerate() {
                let mut r: Vec<String> = template.iter().map(str::to_string).collect();
                r[11] = sev.to_string();
                r[13] = msg;
                if i == 4 {
                    // the ERROR record: every value field of csvlog
                    r[14] = format!("Key (legacy_email)=({}) exists.", p.text("csv_detail"));
                    r[15] = p.text("csv_hint");
                    r[16] = format!(
                        "SELECT legacy_email FROM users WHERE name = '{}'",
                        p.text("csv_internal_query")
                    );
                    r[18] = p.text("csv_context");
                    r[19] = format!(
                        "SELECT legacy_email FROM users WHERE name = '{}'",
                        p.text("csv_query")
                    );
                }
                w.write_record(&r).unwrap();
            }
            out.push_str(&String::from_utf8(w.into_inner().unwrap()).unwrap());
        }
        Kind::JsonLines => {
            let template: Value = text
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(has_statement)
                .expect("a JSON fixture with a statement");
            for (i, (sev, msg)) in records.into_iter().enumerate() {
                let mut v = template.clone();
                rewrite_json(&mut v, sev, &msg, i == 4, p);
                out.push_str(&serde_json::to_string(&v).unwrap());
                out.push('\n');
            }
        }
        Kind::JsonArray => {
            let mut all: Value = serde_json::from_str(&out).expect("a JSON array fixture");
            let template = all
                .as_array()
                .unwrap()
                .iter()
                .find(|v| has_statement(v))
                .cloned()
                .expect("a JSON array fixture with a statement");
            for (i, (sev, msg)) in records.into_iter().enumerate() {
                let mut v = template.clone();
                rewrite_json(&mut v, sev, &msg, i == 4, p);
                all.as_array_mut().unwrap().push(v);
            }
            out = serde_json::to_string_pretty(&all).unwrap();
            out.push('\n');
        }
        _ => {}
    }
    (kind, out)
}

/// Every fixture, mutated into `into` (same relative paths), by kind.
fn planted_fixtures(p: &mut Planter, into: &Path) -> BTreeMap<PathBuf, Kind> {
    let base = root().join("fixtures");
    let files = fixture_files();
    let mut kinds = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&base).unwrap();
        let text = String::from_utf8(std::fs::read(&f).unwrap())
            .unwrap_or_else(|_| panic!("{}: fixtures are UTF-8", f.display()));
        let (kind, mutated) = mutate(p, &f, &text);
        if kind != Kind::Doc {
            // The test can fail only if the input really carries secrets.
            assert!(
                p.count_in(&mutated) > 0,
                "{}: no secret was planted",
                rel.display()
            );
            assert!(p.found_in(&text).is_none());
        }
        let dest = into.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(&dest, mutated).unwrap();
        kinds.insert(dest, kind);
    }
    kinds
}

/// Every output of a run, with what produced it.
#[derive(Default)]
struct Outputs(Vec<(String, String)>);

impl Outputs {
    fn run(&mut self, what: &str, args: &[&str], dir: &Path) -> Output {
        let out = Command::new(BIN)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .expect("cannot run the pgcontract binary");
        assert!(
            out.status.code().is_some(),
            "{what}: killed by a signal: {out:?}"
        );
        self.add(&format!("{what} (stdout)"), &out.stdout);
        self.add(&format!("{what} (stderr)"), &out.stderr);
        out
    }

    fn add(&mut self, what: &str, bytes: &[u8]) {
        self.0.push((
            what.to_string(),
            String::from_utf8_lossy(bytes).into_owned(),
        ));
    }

    fn file(&mut self, what: &str, path: &Path) {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(!bytes.is_empty(), "{what}: empty");
        self.add(what, &bytes);
    }

    fn assert_clean(&self, p: &Planter) {
        let leaks: Vec<String> = self
            .0
            .iter()
            .filter_map(|(what, text)| p.found_in(text).map(|s| format!("{what}: …{s}…")))
            .collect();
        assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
    }
}

/// The fixture logs whose `log_line_prefix` is not detected, with their
/// prefix (see scripts/gen-fixtures.sh, gen-value-shapes-fixture.sh).
const NEEDS_PREFIX: &[(&str, &str)] = &[
    (
        "app/logs/escapes.log",
        "%m [%-6p] %c %l %x %v %e %i %b %q%-12u %d %r %a: ",
    ),
    ("value_shapes/no-session.log", "%m %u@%d "),
];

const FORMATS: &[&str] = &["json", "markdown", "text", "sarif", "github"];

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Broken inputs whose bad records carry secrets: the errors naming them
/// must not echo the values.
fn broken_inputs(p: &mut Planter, dir: &Path) -> Vec<PathBuf> {
    let stderr_head = "2026-11-21 23:17:18.902 UTC [10444] user=r_direct,db=appdb,app=direct-reader,client=127.0.0.1 ";
    let csv_good = "2026-11-21 23:49:37.597 UTC,\"r_direct\",\"appdb\",14850,\"127.0.0.1:38034\",6b022e11.3a02,3,\"idle\",2026-11-21 23:49:37 UTC,2/2,0,LOG,00000,\"statement: SELECT id, legacy_email FROM users WHERE id = 1;\",,,,,,,,,\"direct-reader\",\"client backend\",,0";
    let json_good = r#"{"timestamp":"2026-11-21 23:49:37.597 UTC","user":"r_direct","dbname":"appdb","pid":14850,"session_id":"6b022e11.3a02","line_num":3,"error_severity":"LOG","message":"statement: SELECT id, legacy_email FROM users WHERE id = 1;","application_name":"direct-reader","backend_type":"client backend","query_id":0}"#;
    let files = vec![
        (
            "broken/unbalanced.csv",
            format!(
                "{csv_good}\n2026-11-21 23:49:37.598 UTC,\"r_direct\",\"appdb\",14850,,6b022e11.3a02,4,,2026-11-21 23:49:37 UTC,2/3,0,LOG,00000,\"statement: SELECT '{}\n{csv_good}\n",
                p.text("csv_unbalanced")
            ),
        ),
        (
            "broken/wrong-fields.csv",
            format!(
                "{csv_good}\n2026-11-21 23:49:37.598 UTC,\"r_direct\",\"{}\",LOG,\"statement: SELECT '{}'\"\n",
                p.text("csv_field"),
                p.text("csv_field")
            ),
        ),
        (
            "broken/broken.json",
            format!(
                "{json_good}\n{{\"timestamp\":\"2026-11-21 23:49:37.600 UTC\",\"error_severity\":\"LOG\",\"message\":\"statement: SELECT '{}' \n{{\"timestamp\": {}, \"error_severity\": [\"{}\"]}}\n[\"{}\"]\n{json_good}\n",
                p.text("json_broken"),
                p.number(),
                p.text("json_type"),
                p.text("json_array")
            ),
        ),
        (
            "broken/pgss-broken.json",
            format!(
                "[{{\"userid\":10,\"dbid\":5,\"queryid\":1,\"query\":\"SELECT '{}'\",\"calls\":\"{}\"}},\n{{\"userid\":10,\"query\":\"SELECT '{}' \"calls\":1}}]\n",
                p.text("pgss_json"),
                p.text("pgss_calls"),
                p.text("pgss_broken")
            ),
        ),
        (
            "broken/pgss-broken.csv",
            format!(
                "userid,dbid,toplevel,queryid,query,calls\n10,5,t,1,\"SELECT '{}'\",{}\n10,5,t,2,\"SELECT '{}\n",
                p.text("pgss_csv"),
                p.text("pgss_csv_calls"),
                p.text("pgss_csv_unbalanced")
            ),
        ),
        (
            "broken/unmatched.log",
            format!(
                "{stderr_head}LOG:  statement: SELECT legacy_email FROM users WHERE name = '{}'\nnot a log line {} '{}'\n\u{1}\u{2}binary {}\n",
                p.text("good_line"),
                p.text("unmatched_line"),
                p.text("unmatched_line"),
                p.number()
            ),
        ),
    ];
    let mut out = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        out.push(path);
    }
    // Invalid UTF-8 around a secret.
    let path = dir.join("broken/invalid-utf8.log");
    let mut bytes =
        format!("{stderr_head}LOG:  statement: SELECT legacy_email FROM users WHERE name = '")
            .into_bytes();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(format!("{}'\n", p.text("invalid_utf8")).as_bytes());
    std::fs::write(&path, bytes).unwrap();
    out.push(path);
    out
}

fn json_doc(out: &Output, what: &str) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn no_planted_secret_reaches_any_output() {
    let mut p = Planter::new();
    let tmp = tempfile::tempdir().unwrap();
    // PGCONTRACT_PRIVACY_DIR keeps the planted inputs and outputs for a look.
    let kept = std::env::var_os("PGCONTRACT_PRIVACY_DIR").map(PathBuf::from);
    let dir = kept.as_deref().unwrap_or(tmp.path());
    let inputs_dir = dir.join("in");
    let kinds = planted_fixtures(&mut p, &inputs_dir);
    let broken = broken_inputs(&mut p, &dir.join("in"));

    let logs: Vec<PathBuf> = kinds
        .iter()
        .filter(|(f, k)| {
            !matches!(k, Kind::Sql | Kind::Doc) && !NEEDS_PREFIX.iter().any(|(n, _)| f.ends_with(n))
        })
        .map(|(f, _)| f.clone())
        .collect();
    let migrations: Vec<PathBuf> = kinds
        .keys()
        .filter(|f| {
            f.starts_with(inputs_dir.join("migrations"))
                && f.extension().is_some_and(|e| e == "sql")
                && !f.ends_with("broken.sql")
        })
        .cloned()
        .collect();
    assert!(logs.len() >= 40 && migrations.len() >= 8, "{logs:?}");
    let schema = inputs_dir.join("app/schema.sql");
    let mut outputs = Outputs::default();

    let mut base: Vec<String> = vec![
        "scan".into(),
        "--quiet".into(),
        "-c".into(),
        "public.users.legacy_email".into(),
        "-c".into(),
        "public.orders.old_status".into(),
        "--schema".into(),
        s(&schema).into(),
        "--now".into(),
        "2026-11-22T00:00:00Z".into(),
    ];
    for m in &migrations {
        base.push("--migration".into());
        base.push(s(m).into());
    }
    let with = |extra: &[&str], inputs: &[PathBuf]| -> Vec<String> {
        let mut a = base.clone();
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(inputs.iter().map(|i| s(i).to_string()));
        a
    };
    let all: Vec<PathBuf> = logs.iter().chain(broken.iter()).cloned().collect();

    // Every report format, to stdout and to --output files.
    let mut doc = Value::Null;
    for f in FORMATS {
        let args = with(&["--format", f], &all);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = outputs.run(&format!("scan --format {f}"), &args, dir);
        assert_eq!(out.status.code(), Some(1), "scan --format {f}: {out:?}");
        if *f == "json" {
            doc = json_doc(&out, "scan --format json");
        }
        if !matches!(*f, "json" | "markdown") {
            continue;
        }
        let file = dir.join(format!("report.{f}"));
        let args = with(&["--format", f, "--output", s(&file)], &all);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        outputs.run(&format!("scan --format {f} --output"), &args, dir);
        outputs.file(&format!("--output report.{f}"), &file);
    }
    let args = with(&["--format", "text", "--color", "always"], &all);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    outputs.run("scan --color always", &args, dir);

    // Every planted input was read as the format it is, and the planted
    // records were read as what they are.
    let mut unread = Vec::new();
    let mut check = |doc: &Value, f: &Path| {
        let inputs = doc["coverage"]["inputs"].as_array().unwrap();
        let cov = inputs
            .iter()
            .find(|i| i["file"] == s(f))
            .unwrap_or_else(|| panic!("{} not in coverage", f.display()));
        if cov["statements"]["analysed"].as_u64().unwrap() == 0 {
            unread.push(format!("{}: nothing analysed", f.display()));
        }
        if kinds[f] != Kind::Pgss {
            let by_kind = &cov["records_by_kind"];
            for k in ["error", "bind_parameters", "failed_statement"] {
                // Without %p or %c an ERROR cannot be paired with its
                // STATEMENT line: the statement is read as a statement.
                let unpaired =
                    k == "failed_statement" && f.ends_with("value_shapes/no-session.log");
                if !unpaired && by_kind[k].as_u64().unwrap_or(0) == 0 {
                    unread.push(format!("{}: no `{k}` record read", f.display()));
                }
            }
        }
    };
    for f in &logs {
        check(&doc, f);
    }
    // The logs whose prefix cannot be detected, with their prefix.
    for (name, prefix) in NEEDS_PREFIX {
        let log = inputs_dir.join(name);
        for f in FORMATS {
            let args = with(
                &["--format", f, "--log-line-prefix", prefix],
                std::slice::from_ref(&log),
            );
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = outputs.run(&format!("scan {name} --format {f}"), &args, dir);
            if *f == "json" {
                check(&json_doc(&out, name), &log);
            }
        }
    }
    assert!(unread.is_empty(), "{unread:#?}");
    let inputs = doc["coverage"]["inputs"].as_array().unwrap();
    let totals = &doc["coverage"]["totals"];
    assert!(totals["statements"]["unparseable"].as_u64().unwrap() > 0);
    for f in &broken {
        let cov = inputs.iter().find(|i| i["file"] == s(f)).unwrap();
        assert!(
            !cov["errors"].as_array().unwrap().is_empty()
                || !cov["skipped"].as_object().unwrap().is_empty()
                || cov["invalid_utf8_lines"].as_u64().unwrap() > 0,
            "{}: the broken input was read without complaint: {cov:#}",
            f.display()
        );
    }

    // Another schema: the schema-objects dump with its view bodies,
    // defaults and function bodies.
    let full_dump = inputs_dir.join("schema-objects/full-dump.sql");
    let workload = inputs_dir.join("schema-objects/logs/workload.log");
    let args = [
        "scan",
        "--quiet",
        "-c",
        "public.users.legacy_email",
        "--schema",
        s(&full_dump),
        "--format",
        "json",
        s(&workload),
    ];
    let out = outputs.run("scan --schema full-dump.sql", &args, dir);
    let d = json_doc(&out, "scan --schema full-dump.sql");
    assert!(!d["schema_dependencies"].as_array().unwrap().is_empty());

    // stdin.
    let log = std::fs::read(inputs_dir.join("app/logs/custom.log")).unwrap();
    let mut child = Command::new(BIN)
        .args([
            "scan",
            "-c",
            "users.legacy_email",
            "--format",
            "markdown",
            "-",
        ])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&log).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    outputs.add("scan - (stdout)", &out.stdout);
    outputs.add("scan - (stderr)", &out.stderr);

    // The state file, and a second incremental run.
    let state = dir.join("state.json");
    for run in ["first", "second"] {
        let args = with(&["--format", "json", "--state", s(&state)], &all);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        outputs.run(&format!("scan --state ({run} run)"), &args, dir);
        outputs.file(&format!("state file after the {run} run"), &state);
    }

    // merge and report.
    let (half_a, half_b) = all.split_at(all.len() / 2);
    let a = dir.join("a.json");
    let b = dir.join("b.json");
    for (half, file) in [(half_a, &a), (half_b, &b)] {
        let args = with(&["--format", "json", "--output", s(file)], half);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        outputs.run("scan half", &args, dir);
        outputs.file("half inventory", file);
    }
    for f in FORMATS {
        let out = outputs.run(
            &format!("merge --format {f}"),
            &["merge", "--format", f, s(&a), s(&b)],
            dir,
        );
        assert!(out.status.code() != Some(2), "merge --format {f}: {out:?}");
        let out = outputs.run(
            &format!("report --format {f}"),
            &["report", "--format", f, s(&dir.join("report.json"))],
            dir,
        );
        assert!(out.status.code() != Some(2), "report --format {f}: {out:?}");
    }
    let merged = dir.join("merged.md");
    outputs.run(
        "merge --output",
        &[
            "merge",
            "--format",
            "markdown",
            "--output",
            s(&merged),
            s(&a),
            s(&b),
        ],
        dir,
    );
    outputs.file("merge --output", &merged);

    // explain, with values in every spelling, parseable or not.
    let sql = rich_sql(&mut p);
    let broken_sql = format!(
        "SELECT legacy_email FORM users WHERE name = '{}'",
        p.text("explain_unparseable")
    );
    for q in [&sql, &broken_sql] {
        outputs.run(
            "explain",
            &[
                "explain",
                "-c",
                "users.legacy_email",
                "--schema",
                s(&schema),
                q,
            ],
            dir,
        );
    }

    // Error paths: a migration that does not parse, a schema that does
    // not parse, a missing input.
    let broken_migration = inputs_dir.join("migrations/broken.sql");
    let out = outputs.run(
        "scan --migration broken.sql",
        &[
            "scan",
            "--migration",
            s(&broken_migration),
            s(&inputs_dir.join("app/logs/custom.log")),
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(2));
    let bad_schema = dir.join("bad-schema.sql");
    std::fs::write(
        &bad_schema,
        format!(
            "CREATE TABLE users (id int, legacy_email text DEFAULT '{}');\nCREATE TABEL '{}' x (id int);\nCREATE VIEW v AS SELECT '{}\n",
            p.text("schema_default"),
            p.text("schema_error"),
            p.text("schema_unterminated")
        ),
    )
    .unwrap();
    outputs.run(
        "scan --schema bad-schema.sql",
        &[
            "scan",
            "-c",
            "users.legacy_email",
            "--schema",
            s(&bad_schema),
            "--format",
            "json",
            s(&inputs_dir.join("app/logs/custom.log")),
        ],
        dir,
    );

    assert!(outputs.0.len() > 40);
    outputs.assert_clean(&p);
}

/// A stderr log with one logged statement carrying `secret` as a literal.
fn log_with(dir: &Path, name: &str, secret: &str, line: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "2026-11-21 23:17:18.{line:03} UTC [10444] user=r_direct,db=appdb,app=direct-reader,client=127.0.0.1 LOG:  statement: SELECT legacy_email FROM users WHERE name = '{secret}'\n"
        ),
    )
    .unwrap();
    path
}

fn run_ok(args: &[&str], dir: &Path) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
    out
}

fn literals_of(json: &[u8]) -> String {
    let v: Value = serde_json::from_slice(json).unwrap();
    v["literals"].as_str().unwrap().to_string()
}

#[test]
fn keep_literals_shows_values_and_marks_every_format() {
    let mut p = Planter::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let secret = p.text("kept");
    let log = log_with(dir, "kept.log", &secret, 1);
    let scan = |extra: &[&str], format: &str| -> String {
        let mut args = vec!["scan", "-c", "users.legacy_email", "--format", format];
        args.extend_from_slice(extra);
        args.push(s(&log));
        String::from_utf8(run_ok(&args, dir).stdout).unwrap()
    };
    let notice = "literal values kept (--keep-literals)";
    for kept in [true, false] {
        let extra: &[&str] = if kept { &["--keep-literals"] } else { &[] };
        let json = scan(extra, "json");
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["literals"], if kept { "kept" } else { "stripped" });
        let query = v["dependencies"][0]["query"].as_str().unwrap();
        if kept {
            assert_eq!(
                query,
                format!("SELECT legacy_email FROM users WHERE name = '{secret}'")
            );
        } else {
            assert_eq!(query, "select legacy_email from users where name = $1");
        }
        let md = scan(extra, "markdown");
        let text = scan(extra, "text");
        let sarif: Value = serde_json::from_str(&scan(extra, "sarif")).unwrap();
        let github = scan(extra, "github");
        for (what, out) in [("json", &json), ("markdown", &md), ("text", &text)] {
            assert_eq!(out.contains(&secret), kept, "{what}: {out}");
        }
        assert_eq!(md.contains(&format!("> ⚠️ **{notice}")), kept, "{md}");
        assert_eq!(text.starts_with(&format!("NOTE: {notice}")), kept, "{text}");
        assert_eq!(
            sarif["runs"][0]["properties"]["literals"],
            if kept {
                Value::from("kept")
            } else {
                Value::Null
            }
        );
        assert_eq!(
            github.starts_with("::warning title=pgcontract: literal values kept::"),
            kept,
            "{github}"
        );
    }
}

#[test]
fn merged_and_accumulated_inventories_are_marked_mixed_when_only_some_kept_literals() {
    let mut p = Planter::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (sa, sb) = (p.text("merge_a"), p.text("merge_b"));
    let a_log = log_with(dir, "a.log", &sa, 1);
    let b_log = log_with(dir, "b.log", &sb, 2);
    let scan_to = |log: &Path, out: &str, keep: bool| {
        let mut args = vec!["scan", "-c", "users.legacy_email", "--format", "json"];
        if keep {
            args.push("--keep-literals");
        }
        args.extend_from_slice(&["--output", out, s(log)]);
        run_ok(&args, dir);
        dir.join(out)
    };
    let a_kept = scan_to(&a_log, "a-kept.json", true);
    let a_stripped = scan_to(&a_log, "a-stripped.json", false);
    let b_kept = scan_to(&b_log, "b-kept.json", true);
    let b_stripped = scan_to(&b_log, "b-stripped.json", false);
    let merge = |a: &Path, b: &Path, format: &str| -> String {
        let out = run_ok(&["merge", "--format", format, s(a), s(b)], dir);
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        literals_of(merge(&a_kept, &b_kept, "json").as_bytes()),
        "kept"
    );
    assert_eq!(
        literals_of(merge(&a_stripped, &b_stripped, "json").as_bytes()),
        "stripped"
    );
    for (x, y) in [(&a_kept, &b_stripped), (&b_stripped, &a_kept)] {
        let json = merge(x, y, "json");
        assert_eq!(literals_of(json.as_bytes()), "mixed");
        assert!(json.contains(&sa) && !json.contains(&sb), "{json}");
        let md = merge(x, y, "markdown");
        assert!(md.contains("> ⚠️ **literal values kept in part"), "{md}");
    }
    // `report` shows the mark of the stored inventory.
    let out = run_ok(&["report", "--format", "text", s(&a_kept)], dir);
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("NOTE: literal values kept (--keep-literals)"));

    // --state: the accumulated inventory keeps the mark of every run.
    let state = dir.join("state.json");
    let st = |log: &Path, keep: bool| -> String {
        let mut args = vec!["scan", "-c", "users.legacy_email", "--format", "json"];
        if keep {
            args.push("--keep-literals");
        }
        args.extend_from_slice(&["--state", s(&state), s(log)]);
        let out = run_ok(&args, dir);
        literals_of(&out.stdout)
    };
    assert_eq!(st(&a_log, true), "kept");
    assert_eq!(st(&a_log, true), "kept");
    let stored = std::fs::read_to_string(&state).unwrap();
    assert!(stored.contains(&sa) && stored.contains("\"literals\": \"kept\""));
    assert_eq!(st(&b_log, false), "mixed");
    std::fs::remove_file(&state).unwrap();
    assert_eq!(st(&b_log, false), "stripped");
    assert!(!std::fs::read_to_string(&state).unwrap().contains(&sb));
}
