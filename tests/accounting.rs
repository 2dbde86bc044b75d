//! Lose nothing: every record of every fixture input is accounted for. For
//! each file under `fixtures/` the scanner accepts (every one not in the
//! justified exclusion list below, so a new fixture is covered as soon as it
//! is added), scanned alone, the coverage section balances:
//!
//! - `records` = Σ `records_by_kind` + Σ `skipped`;
//! - the records that carry a statement text (the kinds in
//!   [`STATEMENT_KINDS`]) = `statements.texts`;
//! - `statements.texts` + `statements.extra_statements` = `statements.seen` +
//!   `statements.outside_window` + `statements.without_statement`;
//! - `statements.seen` = `statements.analysed` + `statements.unparseable`;
//!
//! so `records` = analysed + unparseable + outside_window +
//! without_statement − extra_statements + the other records by kind +
//! the skipped records by reason. The totals balance the same way, and the
//! Markdown and text reports show the numbers.

mod common;

use std::collections::BTreeMap;

use common::*;
use pgcontract::input::prefix::Prefix;
use pgcontract::report::json::{to_doc, InputDoc};

/// Record kinds that carry one statement text each.
const STATEMENT_KINDS: &[&str] = &[
    "statement",
    "failed_statement",
    "statement_context",
    "prepare_detail",
    "audit_statement",
    "audit_substatement",
    "pg_stat_statements_row",
    "pg_stat_statements_nested_row",
];

/// Record kinds that carry no statement text of their own (a repeat of one
/// already counted, or no statement at all).
const OTHER_KINDS: &[&str] = &[
    "failed_statement_already_logged",
    "statement_already_audited",
    "protocol_step",
    "portal_fetch",
    "duration",
    "bind_parameters",
    "detail",
    "error",
    "connection",
    "disconnection",
    "checkpoint",
    "autovacuum",
    "other_log",
    "auxiliary",
    "other_severity",
    "audit_repeat",
    "audit_function_call",
    "audit_same_query_string",
    "audit_already_logged",
    "audit_text_not_logged",
    "audit_previously_logged_unrecovered",
];

/// Fixture files that are not scanner inputs, and why.
const NOT_INPUTS: &[(&str, &str)] = &[
    ("CASES.md", "documentation of a fixture set"),
    ("README.md", "documentation of a fixture set"),
    ("app/schema.sql", "schema dump (--schema)"),
    ("audit/schema.sql", "schema dump (--schema)"),
    ("search_path/schema.sql", "schema dump (--schema)"),
    ("value_shapes/schema.sql", "schema dump (--schema)"),
    ("schema-objects/schema.sql", "schema dump (--schema)"),
    ("schema-objects/full-dump.sql", "schema dump (--schema)"),
    (
        "schema-objects/setup.sql",
        "SQL script run against the server that wrote the logs",
    ),
    (
        "schema-objects/workload.sql",
        "SQL script run against the server that wrote the logs",
    ),
    (
        "schema-objects/family-workload.sql",
        "SQL script run against the server that wrote the logs",
    ),
    (
        "schema-objects/family-drops.txt",
        "what PostgreSQL does on DROP COLUMN of the partition and inheritance targets",
    ),
    (
        "schema-objects/drop-detail.txt",
        "PostgreSQL's DROP … CASCADE detail, compared with schema_dependencies",
    ),
    ("routine-bodies/schema.sql", "schema dump (--schema)"),
    (
        "routine-bodies/setup.sql",
        "SQL script run against the server that wrote the logs",
    ),
    (
        "routine-bodies/workload.sql",
        "SQL script run against the server that wrote the logs",
    ),
    (
        "routine-bodies/after-drop.tsv",
        "what the workload does on PostgreSQL once each target is dropped",
    ),
    (
        "routine-bodies/targets.txt",
        "the target columns of the routine-bodies fixture",
    ),
    ("migrations/", "migration files (--migration)"),
];

/// Inputs whose `log_line_prefix` is not detected, with their prefix.
const NEEDS_PREFIX: &[(&str, &str)] = &[
    (
        "app/logs/escapes.log",
        "%m [%-6p] %c %l %x %v %e %i %b %q%-12u %d %r %a: ",
    ),
    ("value_shapes/no-session.log", "%m %u@%d "),
];

/// Every fixture file, relative to `fixtures/`.
fn fixture_names() -> Vec<String> {
    let base = root().join("fixtures");
    fixture_files()
        .iter()
        .map(|f| {
            f.strip_prefix(&base)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn excluded(rel: &str) -> bool {
    NOT_INPUTS.iter().any(|(pat, _)| {
        if pat.ends_with('/') {
            rel.starts_with(pat)
        } else if pat.contains('/') {
            rel == *pat
        } else {
            rel.rsplit('/').next() == Some(pat)
        }
    })
}

/// The fixture inputs, relative to `fixtures/`.
fn inputs() -> Vec<String> {
    let mut rel: Vec<String> = fixture_names()
        .into_iter()
        .filter(|r| !excluded(r))
        .collect();
    rel.sort();
    rel
}

fn sum(m: &BTreeMap<String, u64>) -> u64 {
    m.values().sum()
}

/// The balance of one coverage entry; `Err` names what does not add up.
fn balance(c: &InputDoc) -> Result<(), String> {
    let mut wrong = Vec::new();
    let by_kind = sum(&c.records_by_kind);
    let skipped = sum(&c.skipped);
    if c.records != by_kind + skipped {
        wrong.push(format!(
            "records {} != {by_kind} by kind + {skipped} skipped",
            c.records
        ));
    }
    let unknown: Vec<&String> = c
        .records_by_kind
        .keys()
        .filter(|k| !STATEMENT_KINDS.contains(&k.as_str()) && !OTHER_KINDS.contains(&k.as_str()))
        .collect();
    if !unknown.is_empty() {
        wrong.push(format!(
            "record kinds {unknown:?} are in neither STATEMENT_KINDS nor OTHER_KINDS"
        ));
    }
    let statement_records: u64 = STATEMENT_KINDS
        .iter()
        .filter_map(|k| c.records_by_kind.get(*k))
        .sum();
    let s = &c.statements;
    if statement_records != s.texts {
        wrong.push(format!(
            "{statement_records} records carry a statement but statements.texts is {}",
            s.texts
        ));
    }
    if s.texts + s.extra_statements != s.seen + s.outside_window + s.without_statement {
        wrong.push(format!(
            "texts {} + extra_statements {} != seen {} + outside_window {} + without_statement {}",
            s.texts, s.extra_statements, s.seen, s.outside_window, s.without_statement
        ));
    }
    if s.seen != s.analysed + s.unparseable {
        wrong.push(format!(
            "seen {} != analysed {} + unparseable {}",
            s.seen, s.analysed, s.unparseable
        ));
    }
    if sum(&s.unparseable_reasons) != s.unparseable {
        wrong.push(format!(
            "unparseable {} != Σ unparseable_reasons {}",
            s.unparseable,
            sum(&s.unparseable_reasons)
        ));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("; "))
    }
}

#[test]
fn every_fixture_input_accounts_for_every_record() {
    let inputs = inputs();
    assert!(inputs.len() >= 40, "{inputs:?}");
    let mut failures = Vec::new();
    let mut all = Vec::new();
    for rel in &inputs {
        let path = fixture(rel);
        all.push(path.clone());
        let mut cfg = config(std::slice::from_ref(&path), None, 0);
        cfg.prefix = NEEDS_PREFIX
            .iter()
            .find(|(n, _)| n == rel)
            .map(|(_, p)| Prefix::compile(p).unwrap());
        let doc = to_doc(&pgcontract::scan::scan(&cfg));
        let [c] = &doc.coverage.inputs[..] else {
            panic!("{rel}: {} coverage entries", doc.coverage.inputs.len());
        };
        // Read as what it is, and read at all.
        let format = c.format.as_deref().unwrap_or("");
        if c.records == 0
            || !c.errors.is_empty()
            || ["empty", "unrecognised", "unreadable"].contains(&format)
        {
            failures.push(format!(
                "{rel}: not read as an input (format {format}, {} records, errors {:?}); add it to NOT_INPUTS with a reason if it is not one",
                c.records, c.errors
            ));
        }
        // Read in small chunks on two threads (records and statements
        // settled across chunk boundaries): the same books.
        cfg.chunk_bytes = 2048;
        cfg.threads = 2;
        let chunked = to_doc(&pgcontract::scan::scan(&cfg));
        let d = &chunked.coverage.inputs[0];
        if (d.records, &d.records_by_kind, &d.skipped, &d.statements)
            != (c.records, &c.records_by_kind, &c.skipped, &c.statements)
        {
            failures.push(format!(
                "{rel}: read in chunks, the books differ: {:?} {:?} vs {:?} {:?}",
                d.records_by_kind, d.statements, c.records_by_kind, c.statements
            ));
        }
        for (what, entry) in [("input", c), ("totals", &doc.coverage.totals)] {
            if let Err(e) = balance(entry) {
                failures.push(format!("{rel} ({what}): {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_exclusion_list_names_only_files_that_exist() {
    let rel = fixture_names();
    for (pat, why) in NOT_INPUTS {
        assert!(!why.is_empty());
        assert!(
            rel.iter().any(|r| excluded(r) && {
                if pat.ends_with('/') {
                    r.starts_with(pat)
                } else if pat.contains('/') {
                    r == pat
                } else {
                    r.ends_with(pat)
                }
            }),
            "{pat} matches no fixture"
        );
    }
}

#[test]
fn statement_records_and_statement_texts_balance_with_multi_statement_and_empty_texts() {
    // A multi-statement string (two statements from one record), a record
    // whose text holds no statement, an unparseable one and a failed one.
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("mixed.log");
    let head = "2026-11-21 23:17:18.902 UTC [10444] user=r,db=d,app=a,client=127.0.0.1 ";
    std::fs::write(
        &log,
        [
            "LOG:  statement: SELECT legacy_email FROM users; SELECT 2",
            "LOG:  statement: /* only a comment */ ;",
            "LOG:  statement: SELECT legacy_email FORM users",
            "ERROR:  division by zero",
            "STATEMENT:  SELECT 1/0",
            "LOG:  duration: 0.1 ms",
        ]
        .iter()
        .map(|l| format!("{head}{l}\n"))
        .collect::<String>(),
    )
    .unwrap();
    let doc = to_doc(&pgcontract::scan::scan(&config(
        std::slice::from_ref(&log),
        None,
        0,
    )));
    let c = &doc.coverage.inputs[0];
    balance(c).unwrap();
    assert_eq!(c.records, 6);
    assert_eq!(c.records_by_kind["statement"], 3);
    assert_eq!(c.records_by_kind["failed_statement"], 1);
    let s = &c.statements;
    assert_eq!(
        (s.texts, s.extra_statements, s.without_statement, s.seen),
        (4, 1, 1, 4)
    );
    assert_eq!((s.analysed, s.unparseable), (3, 1));
}
