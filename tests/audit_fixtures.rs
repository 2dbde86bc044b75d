//! Logs written by a real PostgreSQL 15 server with pgAudit and with several
//! logging set-ups (scripts/gen-audit-fixtures.sh, fixtures/audit/CASES.md):
//! exact dependency sets and record counts, one execution counted once when
//! pgAudit and log_statement both log it, interleaved stderr from concurrent
//! sessions, and every blind spot turning a would-be `clear` into
//! `inconclusive` with the reason stated.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use pgcontract::inventory::Verdict;
use pgcontract::report::json::{to_doc, InventoryDoc};
use pgcontract::scan::scan;
use pgcontract::visibility::Declared;

fn log(name: &str) -> PathBuf {
    fixture(&format!("audit/logs/{name}.log"))
}

fn schema() -> PathBuf {
    fixture("audit/schema.sql")
}

/// The report of the log `name` with the `--logging` settings `declared`.
fn doc_of(name: &str, schema: Option<&Path>, declared: &[&str]) -> InventoryDoc {
    let mut cfg = config(&[log(name)], schema, 0);
    cfg.logging = Declared::parse(declared).unwrap();
    to_doc(&scan(&cfg))
}

fn doc_with(name: &str, declared: &[&str]) -> InventoryDoc {
    doc_of(name, Some(&schema()), declared)
}

/// Without the schema: there, `get_email()`'s body and the column grants
/// are schema dependencies of `legacy_email` that block it by themselves,
/// which would hide the blind-spot paths these tests pin.
fn doc_without_schema(name: &str, declared: &[&str]) -> InventoryDoc {
    doc_of(name, None, declared)
}

fn doc(name: &str) -> InventoryDoc {
    doc_with(name, &[])
}

fn verdict(doc: &InventoryDoc, column: &str) -> (Verdict, String, Vec<String>) {
    let t = doc
        .targets
        .iter()
        .find(|t| t.column == column)
        .unwrap_or_else(|| panic!("no target {column}"));
    (t.verdict, t.reason.clone(), t.coverage_gaps.clone())
}

fn kinds(doc: &InventoryDoc) -> BTreeMap<String, u64> {
    doc.coverage.inputs[0].records_by_kind.clone()
}

fn assert_accounting(doc: &InventoryDoc) {
    for i in &doc.coverage.inputs {
        let by_kind: u64 = i.records_by_kind.values().sum();
        let skipped: u64 = i.skipped.values().sum();
        assert_eq!(i.records, by_kind + skipped, "{:?}", i.file);
        assert!(i.skipped.is_empty(), "{:?}", i.skipped);
        assert!(i.errors.is_empty(), "{:?}", i.errors);
        assert_eq!(
            i.statements.seen,
            i.statements.analysed + i.statements.unparseable
        );
    }
}

/// Asserts that `d` (of `what`) has exactly the dependency rows `want`, that
/// every record is accounted for, and the record counts `want_kinds`.
fn assert_rows_and_kinds(d: &InventoryDoc, what: &str, want: Vec<Row>, want_kinds: &[(&str, u64)]) {
    assert_eq!(rows(d), want, "{what}");
    assert_accounting(d);
    let k = kinds(d);
    for &(kind, n) in want_kinds {
        assert_eq!(k.get(kind), Some(&n), "{what}: records of kind {kind}");
    }
}

/// The full workload (cases 1-12) as pgAudit session + object logging shows it.
fn expected_full_workload_with_audit() -> Vec<Row> {
    let mut v = rows_from(
        "
        legacy_email | r_reader   | reader           | read  | direct                            | certain | 2
        legacy_email | r_report   | report           | read  | direct                            | certain | 1
        legacy_email | r_func     | func-caller      | read  | substatement of public.get_email  | certain | 1
        legacy_email | r_extended | pgbench-extended | read  | direct                            | certain | 3
        legacy_email | r_multi    | multi-statement  | write | direct                            | certain | 1
        legacy_email | r_ddl      | migration        | write | audit_column                      | certain | 1
        legacy_email | r_error    | failing          | read  | direct                            | certain | 1
        legacy_email | r_do       | do-block         | read  | substatement of DO block          | certain | 1
        legacy_email | r_do       | do-block         | read  | do_block                          | certain | 1  # the logged DO block, resolved
        legacy_email | r_func     | func-caller      | read  | function public.get_email(bigint) | certain | 1  # the call, resolved through the function body in the schema
        old_status   | r_report   | report           | read  | direct                            | certain | 1
        old_status   | r_writer   | writer           | write | direct                            | certain | 1
        old_status   | r_prepared | prepared         | read  | direct                            | certain | 3
        ",
    );
    v.sort();
    v
}

#[test]
fn pgaudit_session_and_object_logging_gives_the_exact_dependency_set() {
    let d = doc("session");
    // 16 statement ids with text, 2 run inside a function or DO block, the
    // second statement id of the multi-statement string, the function call
    // line, and 14 lines repeating a statement (OBJECT twins, more relations).
    assert_rows_and_kinds(
        &d,
        "session",
        expected_full_workload_with_audit(),
        &[
            ("audit_statement", 16),
            ("audit_substatement", 2),
            ("audit_same_query_string", 1),
            ("audit_function_call", 1),
            ("audit_repeat", 14),
        ],
    );
    assert!(!kinds(&d).contains_key("statement"));
    assert_eq!(verdict(&d, "public.users.legacy_email").0, Verdict::Blocked);
    assert!(d.coverage.inputs[0].blind_spots.is_empty());
}

#[test]
fn pgaudit_with_log_statement_all_counts_each_execution_once() {
    // once.log: the same workload with log_statement = all on top of pgAudit
    // (and pgaudit.log_statement_once = on): same rows, same calls.
    assert_rows_and_kinds(
        &doc("once"),
        "once",
        expected_full_workload_with_audit(),
        &[
            // simple queries: `statement:` first, the audit line pairs with it
            ("audit_already_logged", 14),
            // extended protocol: audit line first, the `execute` line pairs with it
            ("audit_statement", 3),
            ("statement_already_audited", 3),
            ("statement", 14),
            ("failed_statement_already_logged", 1),
        ],
    );
}

#[test]
fn previously_logged_lines_repeat_the_recovered_statement() {
    let text = std::fs::read_to_string(log("once")).unwrap();
    assert!(text.contains("<previously logged>,<previously logged>"));
    let d = doc("once");
    // the substatement inside get_email() is logged with its text on the
    // OBJECT line and `<previously logged>` on the SESSION line: one row
    let f: Vec<Row> = rows(&d)
        .into_iter()
        .filter(|r| r.1 == "r_func" && r.4.starts_with("substatement"))
        .collect();
    assert_eq!(
        f,
        vec![row(
            "legacy_email",
            "r_func",
            "func-caller",
            "read",
            "substatement of public.get_email",
            "certain",
            1
        )]
    );
}

#[test]
fn pgaudit_not_logged_text_gives_possible_table_level_dependencies() {
    let d = doc_without_schema("not-logged", &[]);
    assert_accounting(&d);
    let mut expected = rows_from(
        "
        legacy_email | r_reader | reader      | read  | audit_object | possible | 1
        legacy_email | r_names  | names       | read  | audit_object | possible | 1
        old_status   | r_writer | writer      | write | audit_object | possible | 1
        old_status   | r_slow   | slow-report | read  | audit_object | possible | 1
        ",
    );
    expected.sort();
    assert_eq!(rows(&d), expected);
    assert_eq!(kinds(&d)["audit_text_not_logged"], 7);
    for col in ["public.users.legacy_email", "public.orders.old_status"] {
        let (v, reason, _) = verdict(&d, col);
        assert_eq!(v, Verdict::Inconclusive, "{col}");
        assert_eq!(
            reason,
            "2 possible dependencies need a human look; no statement in the inputs could be analysed"
        );
    }
    let dep = &d.dependencies[0];
    assert!(
        dep.reason
            .as_deref()
            .unwrap()
            .contains("pgaudit.log_statement = off"),
        "{:?}",
        dep.reason
    );
}

/// A log whose only dependency is one `old_status` statement of `actor`
/// (user, application, access) and whose blind spot leaves `legacy_email`
/// inconclusive with `reason`; returns the verdict's coverage gaps.
fn one_write_or_read_and_a_blind_spot(
    d: &InventoryDoc,
    (user, app, access): (&str, &str, &str),
    reason: &str,
) -> Vec<String> {
    assert_accounting(d);
    assert_eq!(
        rows(d),
        vec![row("old_status", user, app, access, "direct", "certain", 1)]
    );
    let (v, why, gaps) = verdict(d, "public.users.legacy_email");
    assert_eq!(v, Verdict::Inconclusive);
    assert!(why.contains(reason), "{why}");
    gaps
}

#[test]
fn pgaudit_write_class_only_makes_unseen_columns_inconclusive() {
    let d = doc_without_schema("write-only", &[]);
    let gaps = one_write_or_read_and_a_blind_spot(
        &d,
        ("r_writer", "writer", "write"),
        "reads are not logged: pgAudit session classes WRITE",
    );
    assert_eq!(gaps.len(), 1);
    assert_eq!(verdict(&d, "public.orders.old_status").0, Verdict::Blocked);
    // declaring that reads are audited (wrongly, here) removes the gap
    let d = doc_without_schema("write-only", &["pgaudit.log=read,write"]);
    assert_eq!(verdict(&d, "public.users.legacy_email").0, Verdict::Clear);
}

/// The full workload as the logs without pgAudit show it: no substatement,
/// no `TABLE COLUMN`.
fn expected_full_workload_without_audit() -> Vec<Row> {
    expected_full_workload_with_audit()
        .into_iter()
        .filter(|r| !r.4.starts_with("substatement of ") && r.4 != "audit_column")
        .collect()
}

#[test]
fn log_min_duration_statement_zero_counts_each_execution_once() {
    let d = doc("duration-all");
    // `duration: … statement|execute` lines; parse and bind durations of the
    // extended protocol are protocol steps, counted at execute
    assert_rows_and_kinds(
        &d,
        "duration-all",
        expected_full_workload_without_audit(),
        &[("statement", 16), ("protocol_step", 6)],
    );
    // Durations under 1 ms show log_min_duration_statement = 0, or sampled
    // duration logging, which writes the same lines for only some
    // statements: partly logged, until the set-up is stated.
    assert_eq!(d.coverage.inputs[0].blind_spots.len(), 1);
    assert!(d.coverage.inputs[0].blind_spots[0].starts_with(
        "reads and writes are only partly logged: statements appear only on `duration:` lines, some faster than 1 ms"
    ));
    let d = doc_with("duration-all", &["log_min_duration_statement=0"]);
    assert!(d.coverage.inputs[0].blind_spots.is_empty());
    assert_eq!(verdict(&d, "public.users.legacy_email").0, Verdict::Blocked);
}

#[test]
fn threshold_only_duration_logging_makes_unseen_columns_inconclusive() {
    let d = doc_without_schema("slow-only", &[]);
    one_write_or_read_and_a_blind_spot(
        &d,
        ("r_slow", "slow-report", "read"),
        "statements appear only on `duration:` lines",
    );
    // stated explicitly
    let d = doc_without_schema("slow-only", &["log_min_duration_statement=200"]);
    let (v, reason, _) = verdict(&d, "public.users.legacy_email");
    assert_eq!(v, Verdict::Inconclusive);
    assert!(
        reason.contains("only statements slower than 200 ms are logged"),
        "{reason}"
    );
}

#[test]
fn log_statement_mod_makes_unseen_columns_inconclusive() {
    let d = doc_without_schema("mod", &[]);
    let gaps = one_write_or_read_and_a_blind_spot(
        &d,
        ("r_writer", "writer", "write"),
        "reads are not logged: log_statement = mod (inferred)",
    );
    assert_eq!(
        gaps,
        d.coverage.inputs[0]
            .blind_spots
            .iter()
            .map(|b| format!("{}: {b}", log("mod").display()))
            .collect::<Vec<_>>()
    );
    // the blind spot is in every output format
    let inv = scan(&config(&[log("mod")], None, 1));
    for (format, out) in reports_in_every_format(&inv) {
        assert!(
            out.contains("reads are not logged: log_statement = mod (inferred)"),
            "{format:?}"
        );
    }
    // the user says log_statement = all: the inference is overridden
    let d = doc_without_schema("mod", &["log_statement=all"]);
    assert_eq!(verdict(&d, "public.users.legacy_email").0, Verdict::Clear);
}

#[test]
fn interleaved_stderr_of_concurrent_sessions_keeps_statements_with_their_backend() {
    // logging_collector = off: four concurrent sessions' messages interleave
    // in the server's stderr; 120 multi-line SELECTs and 120 multi-line
    // UPDATEs by three psql sessions, 60 extended-protocol executions by two
    // pgbench clients.
    let text = std::fs::read_to_string(log("interleaved")).unwrap();
    let mut switches = 0;
    let mut last = "";
    for l in text.lines().filter(|l| !l.starts_with('\t')) {
        let pid = l.split(['[', ']']).nth(1).unwrap_or("");
        if pid != last {
            switches += 1;
            last = pid;
        }
    }
    assert!(
        switches > 100,
        "the fixture barely interleaves ({switches})"
    );
    let d = doc("interleaved");
    let mut expected = rows_from(
        "
        legacy_email | r_conc1 | conc-r_conc1 | read  | direct | certain | 40
        legacy_email | r_conc2 | conc-r_conc2 | read  | direct | certain | 40
        legacy_email | r_conc3 | conc-r_conc3 | read  | direct | certain | 40
        legacy_email | r_conc4 | conc-bench   | read  | direct | certain | 60
        old_status   | r_conc1 | conc-r_conc1 | write | direct | certain | 40
        old_status   | r_conc2 | conc-r_conc2 | write | direct | certain | 40
        old_status   | r_conc3 | conc-r_conc3 | write | direct | certain | 40
        ",
    );
    expected.sort();
    assert_rows_and_kinds(
        &d,
        "interleaved",
        expected,
        &[("statement", 300), ("duration", 300)],
    );
    // every multi-line statement was rebuilt whole: one shape each
    let shapes: std::collections::BTreeSet<&str> =
        d.dependencies.iter().map(|x| x.query.as_str()).collect();
    assert_eq!(
        shapes.into_iter().collect::<Vec<_>>(),
        vec![
            "select legacy_email from users where id = $1",
            "select u.id, u.legacy_email from users u where u.id = $1",
            "update orders set old_status = $1 where id = $2",
        ]
    );
}

#[test]
fn no_literal_or_parameter_from_audit_logs_reaches_any_output() {
    for name in [
        "session",
        "once",
        "not-logged",
        "write-only",
        "duration-all",
        "slow-only",
        "mod",
        "interleaved",
    ] {
        let inv = scan(&config(&[log(name)], Some(&schema()), 1));
        for (format, out) in reports_in_every_format(&inv) {
            assert!(!out.contains("secret"), "{name} {format:?}");
            assert!(!out.contains("<none>"), "{name} {format:?}");
        }
    }
}

#[test]
fn pgaudit_lines_in_csvlog_and_jsonlog_give_the_same_dependency_set() {
    // session.csv and session.json: the csvlog and jsonlog of the run that
    // wrote session.log (log_destination = 'stderr,csvlog,jsonlog').
    for name in ["session.csv", "session.json"] {
        let d = to_doc(&scan(&config(
            &[fixture(&format!("audit/logs/{name}"))],
            Some(&schema()),
            0,
        )));
        assert_rows_and_kinds(
            &d,
            name,
            expected_full_workload_with_audit(),
            &[
                ("audit_statement", 16),
                ("audit_substatement", 2),
                ("audit_repeat", 14),
            ],
        );
        assert!(d.coverage.inputs[0].blind_spots.is_empty(), "{name}");
    }
}

#[test]
fn regenerated_audit_fixtures_from_a_live_server_give_the_same_inventory() {
    if live_skipped("audit_fixtures: live regeneration") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("audit");
    run_fixture_script("gen-audit-fixtures.sh", dir.path(), &out_dir);
    for name in [
        "session.log",
        "session.csv",
        "session.json",
        "once.log",
        "not-logged.log",
        "write-only.log",
        "duration-all.log",
        "slow-only.log",
        "mod.log",
        "interleaved.log",
    ] {
        let fresh = out_dir.join("logs").join(name);
        let committed = fixture(&format!("audit/logs/{name}"));
        let a = to_doc(&scan(&config(
            &[fresh],
            Some(&out_dir.join("schema.sql")),
            0,
        )));
        let b = to_doc(&scan(&config(&[committed], Some(&schema()), 0)));
        assert_eq!(rows(&a), rows(&b), "{name}");
        let (ta, tb) = (&a.targets, &b.targets);
        for (x, y) in ta.iter().zip(tb.iter()) {
            assert_eq!(x.verdict, y.verdict, "{name} {}", x.column);
        }
        if name != "interleaved.log" {
            // (the interleaved log's start-up lines depend on timing)
            assert_eq!(kinds(&a), kinds(&b), "{name}");
        }
        assert_eq!(
            a.coverage.inputs[0].blind_spots.len(),
            b.coverage.inputs[0].blind_spots.len(),
            "{name}"
        );
    }
}

#[test]
fn function_call_seen_at_caller_and_as_substatement_is_named_in_the_verdict() {
    // `SELECT get_email(1)` is a row at the caller (`function …`) and its
    // body's SELECT a pgAudit substatement row: one execution, two rows.
    // The verdict must say how many calls ran inside functions, so the sum
    // is not read as separate executions.
    let d = doc("session");
    let (v, reason, _) = verdict(&d, "public.users.legacy_email");
    assert_eq!(v, Verdict::Blocked);
    assert!(
        reason
            .starts_with("10 dependencies (13 calls, 2 of them run inside functions) in the logs"),
        "{reason}"
    );
    let (_, reason, _) = verdict(&d, "public.orders.old_status");
    assert_eq!(reason, "3 dependencies (5 calls) in the logs");
}
