//! The audit workflow end to end: the evidence window (`--since`,
//! `--until`, `--window`, `--max-gap`), every verdict path with its reasons,
//! `--fail-on`, and the contract file (targets, inputs, accepted
//! dependencies and their expiry).
//!
//! Most cases use the real-server fixture log (fixtures/app/logs/custom.log,
//! 300 ms of a PostgreSQL 15 workload). Logs that span days with a day
//! missing cannot be produced by a throwaway server within a test, so those
//! cases write a small stderr log in the `%m [%p] user=…` shape of the
//! fixture (see /work/shared/reference/log-formats.md).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use pgcontract::inventory::Verdict;
use pgcontract::report::json::{InventoryDoc, TargetDoc};

const BIN: &str = env!("CARGO_BIN_EXE_pgcontract");

fn pgc_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("cannot run the pgcontract binary")
}

fn pgc(args: &[&str]) -> Output {
    pgc_in(&root(), args)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn target<'a>(d: &'a InventoryDoc, column: &str) -> &'a TargetDoc {
    d.targets
        .iter()
        .find(|t| t.column == column)
        .unwrap_or_else(|| panic!("no target {column}"))
}

fn custom() -> PathBuf {
    fixture("app/logs/custom.log")
}

fn schema() -> PathBuf {
    fixture("app/schema.sql")
}

const OLD_STATUS: &str = "public.orders.old_status";
/// Used by nobody in the fixture workload.
const UNUSED: &str = "archive.users.id";

/// `scan -q -c old_status -c archive.users.id --schema … --format json` + extra + `input`.
fn scan_both(extra: &[&str], input: &Path) -> Output {
    let schema = schema();
    let mut args = quiet_scan(
        &[OLD_STATUS, UNUSED],
        &["--schema", s(&schema), "--format", "json"],
    );
    args.extend_from_slice(extra);
    args.push(s(input));
    pgc(&args)
}

/// `scan_both` of custom.log.
fn scan_custom(extra: &[&str]) -> Output {
    scan_both(extra, &custom())
}

/// `scan -q -c users.legacy_email --format json --since … --until …` of `logs`.
fn scan_email_between(since: &str, until: &str, logs: &[&Path]) -> Output {
    let mut args = quiet_scan(
        &["users.legacy_email"],
        &["--format", "json", "--since", since, "--until", until],
    );
    args.extend(logs.iter().map(|p| s(p)));
    pgc(&args)
}

// ------------------------------------------------------------------ window

#[test]
fn since_drops_earlier_statements_from_the_evidence_and_counts_them() {
    let all = doc(&scan_custom(&[]));
    let out = scan_custom(&["--since", "2026-11-21T23:17:19Z"]);
    let d = doc(&out);
    let since = "2026-11-21T23:17:19.000Z";
    for dep in &d.dependencies {
        assert!(
            dep.first_seen.as_deref().unwrap() >= since,
            "{dep:?} is before the window"
        );
    }
    // r_join_using read old_status only at 23:17:18.998: gone.
    let users: Vec<_> = d
        .dependencies
        .iter()
        .filter(|x| x.column == OLD_STATUS)
        .map(|x| x.actor.user.clone().unwrap())
        .collect();
    assert_eq!(users, vec!["r_orders", "r_prepared"]);
    let (a, w) = (
        &all.coverage.totals.statements,
        &d.coverage.totals.statements,
    );
    assert!(w.outside_window > 0);
    assert_eq!(w.seen + w.outside_window, a.seen);
    assert_eq!(a.outside_window, 0);
    let win = d.window.clone().unwrap();
    assert_eq!(win.since.as_deref(), Some(since));
    assert_eq!(win.until, None);
}

#[test]
fn a_window_the_logs_do_not_cover_is_inconclusive_and_names_the_gaps() {
    let out = scan_custom(&["--since", "2026-11-20", "--until", "2026-11-22T02:00:00Z"]);
    assert_eq!(out.status.code(), Some(1));
    let d = doc(&out);
    let t = target(&d, UNUSED);
    assert_eq!(t.verdict, Verdict::Inconclusive);
    assert_eq!(
        t.reasons,
        vec![
            "no input covers 2026-11-20T00:00:00.000Z to 2026-11-21T23:17:18.811Z",
            "no input covers 2026-11-21T23:17:19.117Z to 2026-11-22T02:00:00.000Z",
        ]
    );
    // A used column stays blocked, with the coverage doubts stated after.
    let t = target(&d, OLD_STATUS);
    assert_eq!(t.verdict, Verdict::Blocked);
    assert_eq!(t.reasons.len(), 3);
    assert_eq!(t.reasons[0], "3 dependencies (7 calls) in the logs");
}

#[test]
fn a_covered_window_without_references_is_clear_and_says_which_window() {
    let out = scan_custom(&[
        "--since",
        "2026-11-21T23:00:00Z",
        "--until",
        "2026-11-21T23:30:00Z",
        "--max-gap",
        "20m",
    ]);
    let d = doc(&out);
    let t = target(&d, UNUSED);
    assert_eq!(t.verdict, Verdict::Clear);
    assert_eq!(
        t.reasons,
        vec![
            "no reference in 43 analysed statements (2026-11-21T23:00:00.000Z to 2026-11-21T23:30:00.000Z)",
            "1 schema object (index, constraint, grant, …) would be dropped with it"
        ]
    );
    // The same window with a 10-minute tolerance: 17 minutes before the
    // log starts are not covered.
    let d = doc(&scan_custom(&[
        "--since",
        "2026-11-21T23:00:00Z",
        "--until",
        "2026-11-21T23:30:00Z",
        "--max-gap",
        "10m",
    ]));
    assert_eq!(target(&d, UNUSED).verdict, Verdict::Inconclusive);
}

#[test]
fn window_flag_counts_back_from_now() {
    let d = doc(&scan_custom(&[
        "--window",
        "1h",
        "--now",
        "2026-11-21T23:40:00Z",
    ]));
    let w = d.window.clone().unwrap();
    assert_eq!(w.since.as_deref(), Some("2026-11-21T22:40:00.000Z"));
    assert_eq!(w.until.as_deref(), Some("2026-11-21T23:40:00.000Z"));
    // 37 minutes before the log and 23 after it: each under the one-hour
    // default, so the window counts as covered.
    assert_eq!(target(&d, UNUSED).verdict, Verdict::Clear);
}

/// A `%m [%p] user=…` log with one record per given time (ISO, UTC).
fn synthetic_log(dir: &Path, name: &str, lines: &[(&str, &str)]) -> PathBuf {
    let mut text = String::new();
    for (i, (time, sql)) in lines.iter().enumerate() {
        text.push_str(&format!(
            "{time} UTC [{}] user=app,db=appdb,app=web,client=10.0.0.1 LOG:  statement: {sql}\n",
            100 + i
        ));
    }
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_day_missing_between_log_files_is_inconclusive() {
    let dir = tempfile::tempdir().unwrap();
    let mut day1 = Vec::new();
    let mut day3 = Vec::new();
    let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    for h in &hours {
        day1.push((format!("2026-11-01 {h}:30:00.000"), "SELECT id FROM users"));
        day3.push((format!("2026-11-03 {h}:30:00.000"), "SELECT id FROM users"));
    }
    let a = synthetic_log(
        dir.path(),
        "postgresql-01.log",
        &day1
            .iter()
            .map(|(t, q)| (t.as_str(), *q))
            .collect::<Vec<_>>(),
    );
    let b = synthetic_log(
        dir.path(),
        "postgresql-03.log",
        &day3
            .iter()
            .map(|(t, q)| (t.as_str(), *q))
            .collect::<Vec<_>>(),
    );
    let out = scan_email_between("2026-11-01", "2026-11-04", &[&a, &b]);
    assert_eq!(out.status.code(), Some(1));
    let d = doc(&out);
    assert_eq!(
        d.targets[0].reasons,
        vec!["no input covers 2026-11-01T23:30:00.000Z to 2026-11-03T00:30:00.000Z"]
    );
    // With only the day-1 file, an hour-long silence inside it shows too.
    let c = synthetic_log(
        dir.path(),
        "quiet.log",
        &[
            ("2026-11-01 00:00:00.000", "SELECT 1"),
            ("2026-11-01 00:50:00.000", "SELECT 1"),
            ("2026-11-01 03:00:00.000", "SELECT 1"),
            ("2026-11-01 04:00:00.000", "SELECT 1"),
        ],
    );
    let d = doc(&scan_email_between(
        "2026-11-01T00:00:00Z",
        "2026-11-01T04:00:00Z",
        &[&c],
    ));
    assert_eq!(
        d.targets[0].reasons,
        vec!["no input covers 2026-11-01T00:50:00.000Z to 2026-11-01T03:00:00.000Z"]
    );
    assert_eq!(
        d.coverage.inputs[0].silences,
        vec![
            [
                "2026-11-01T00:00:00.000Z".to_string(),
                "2026-11-01T00:50:00.000Z".to_string()
            ],
            [
                "2026-11-01T00:50:00.000Z".to_string(),
                "2026-11-01T03:00:00.000Z".to_string()
            ],
            [
                "2026-11-01T03:00:00.000Z".to_string(),
                "2026-11-01T04:00:00.000Z".to_string()
            ],
        ]
    );
}

#[test]
fn pg_stat_statements_with_a_window_cannot_show_absence_but_its_rows_still_block() {
    let out = scan_both(
        &["--window", "7d", "--now", "2026-11-22T00:00:00Z"],
        &fixture("app/pgss/pgss-names.csv"),
    );
    let d = doc(&out);
    let doubt = "no input has timestamps, so nothing shows the window (2026-11-15T00:00:00.000Z to 2026-11-22T00:00:00.000Z) was observed (pg_stat_statements counts since its last reset and cannot show absence within a window)";
    let t = target(&d, UNUSED);
    assert_eq!(t.verdict, Verdict::Inconclusive);
    assert_eq!(t.reasons, vec![doubt]);
    let t = target(&d, OLD_STATUS);
    assert_eq!(t.verdict, Verdict::Blocked);
    assert_eq!(
        t.reasons,
        vec![
            "3 dependencies (7 calls) in the logs (3 without a time: pg_stat_statements counts since its last reset, so they cannot be placed outside the window)",
            doubt
        ]
    );
}

#[test]
fn bad_window_values_are_usage_errors() {
    for extra in [
        &["--window", "7"][..],
        &["--since", "yesterday"][..],
        &["--since", "2026-11-02", "--until", "2026-11-01"][..],
        &[
            "--since",
            "2026-11-01",
            "--until",
            "2026-11-02",
            "--window",
            "1d",
        ][..],
    ] {
        let out = scan_custom(extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(out.stdout.is_empty());
    }
}

// ----------------------------------------------------------------- fail-on

#[test]
fn fail_on_decides_the_exit_code() {
    // old_status blocked, archive.users.id clear.
    assert_eq!(scan_custom(&[]).status.code(), Some(1));
    assert_eq!(
        scan_custom(&["--fail-on", "blocked"]).status.code(),
        Some(1)
    );
    assert_eq!(scan_custom(&["--fail-on", "never"]).status.code(), Some(0));
    // Only the unused column, in a window the log does not cover: inconclusive.
    let (schema, log) = (schema(), custom());
    let inconclusive = |fail_on: &str| {
        pgc(&quiet_scan(
            &[UNUSED],
            &[
                "--schema",
                s(&schema),
                "--since",
                "2026-11-20",
                "--fail-on",
                fail_on,
                s(&log),
            ],
        ))
        .status
        .code()
    };
    assert_eq!(inconclusive("inconclusive"), Some(1));
    assert_eq!(inconclusive("blocked"), Some(0));
    assert_eq!(inconclusive("never"), Some(0));
}

// ---------------------------------------------------------- contract file

fn contract_dir(toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pgcontract.toml"), toml).unwrap();
    dir
}

#[test]
fn contract_file_in_the_working_directory_gives_targets_inputs_and_schema() {
    let dir = contract_dir(&format!(
        "columns = [\"{OLD_STATUS}\"]\nschema = \"{}\"\ninputs = [\"{}\"]\n",
        s(&schema()),
        s(&custom())
    ));
    let out = pgc_in(dir.path(), &["scan", "-q", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let d = doc(&out);
    assert_eq!(d.targets.len(), 1);
    assert_eq!(d.targets[0].column, OLD_STATUS);
    assert_eq!(d.targets[0].dependencies, 3);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
}

#[test]
fn accepted_dependencies_do_not_block_and_are_shown_apart() {
    let dir = contract_dir(
        r#"
[[accept]]
column = "public.orders.old_status"
user = "r_*"
application = "orders-svc"
access = "read"
reason = "orders-svc reads it until release 42"
expires = "2026-12-01"

[[accept]]
column = "public.orders.*"
application = "join-using"
reason = "report being rewritten"

[[accept]]
column = "public.orders.old_status"
user = "r_prepared"
access = "write"
reason = "dual write until the read switch"
expires = "2026-12-01"
"#,
    );
    let cfg = dir.path().join("pgcontract.toml");
    let run = |now: &str| {
        let (schema, log) = (schema(), custom());
        doc(&pgc(&quiet_scan(
            &[OLD_STATUS],
            &[
                "--schema",
                s(&schema),
                "--config",
                s(&cfg),
                "--format",
                "json",
                "--now",
                now,
                s(&log),
            ],
        )))
    };
    let d = run("2026-11-22T00:00:00Z");
    let t = &d.targets[0];
    assert_eq!(t.verdict, Verdict::Clear);
    assert_eq!(
        t.reasons,
        vec![
            "no reference in 43 analysed statements",
            "3 accepted dependencies (not blocking)"
        ]
    );
    let accepted: Vec<_> = d
        .dependencies
        .iter()
        .map(|x| {
            let a = x.accepted.as_ref().unwrap();
            (x.actor.user.clone().unwrap(), a.reason.clone(), a.expired)
        })
        .collect();
    assert_eq!(
        accepted,
        vec![
            (
                "r_orders".into(),
                "orders-svc reads it until release 42".into(),
                false
            ),
            (
                "r_join_using".into(),
                "report being rewritten".into(),
                false
            ),
            (
                "r_prepared".into(),
                "dual write until the read switch".into(),
                false
            ),
        ]
    );
    // On the expiry day the two dated acceptances block again, and say so.
    let d = run("2026-12-01T00:00:00Z");
    let t = &d.targets[0];
    assert_eq!(t.verdict, Verdict::Blocked);
    assert_eq!(
        t.reasons,
        vec![
            "2 dependencies (6 calls) in the logs",
            "1 dependency was accepted until 2026-12-01 (\"dual write until the read switch\") but the acceptance has expired",
            "1 dependency was accepted until 2026-12-01 (\"orders-svc reads it until release 42\") but the acceptance has expired",
            "1 accepted dependency (not blocking)"
        ]
    );
    let expired = d
        .dependencies
        .iter()
        .filter(|x| x.accepted.as_ref().is_some_and(|a| a.expired))
        .count();
    assert_eq!(expired, 2);
}

#[test]
fn a_bad_contract_file_is_a_usage_error_naming_it() {
    let dir = contract_dir("colums = [\"a.b\"]\n");
    let out = pgc_in(
        dir.path(),
        &["scan", "-q", "-c", "users.legacy_email", s(&custom())],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pgcontract.toml"), "{err}");
    assert!(err.contains("colums"), "{err}");
    // An explicit --config that does not exist.
    let out = pgc(&quiet_scan(
        &["users.legacy_email"],
        &["--config", "/nonexistent/pgcontract.toml", s(&custom())],
    ));
    assert_eq!(out.status.code(), Some(2));
}

// ------------------------------------------------------------- colour

#[test]
fn text_report_is_coloured_only_when_asked_or_on_a_terminal() {
    let (schema, log) = (schema(), custom());
    let args = |color: &str| {
        vec![
            "scan".to_string(),
            "-q".into(),
            "-c".into(),
            OLD_STATUS.into(),
            "--schema".into(),
            s(&schema).into(),
            "--color".into(),
            color.into(),
            s(&log).into(),
        ]
    };
    let run = |a: Vec<String>, no_color: bool| {
        let mut c = Command::new(BIN);
        c.args(&a).current_dir(root()).stdin(Stdio::null());
        if no_color {
            c.env("NO_COLOR", "1");
        } else {
            c.env_remove("NO_COLOR");
        }
        String::from_utf8(c.output().unwrap().stdout).unwrap()
    };
    let always = run(args("always"), false);
    assert!(
        always.starts_with("\x1b[1;31mBLOCKED      \x1b[0m public.orders.old_status"),
        "{always:?}"
    );
    // A pipe is not a terminal: auto means plain.
    let auto = run(args("auto"), false);
    assert!(!auto.contains('\x1b'));
    assert!(auto.starts_with("BLOCKED       public.orders.old_status"));
    // NO_COLOR wins over a terminal, and plain equals --color never.
    assert_eq!(run(args("never"), false), auto);
    assert_eq!(run(args("auto"), true), auto);
}

#[test]
fn library_text_report_colours_when_the_caller_says_so() {
    let inv = pgcontract::scan::scan(&config(&[custom()], Some(&schema()), 1));
    let mut plain = Vec::new();
    let mut coloured = Vec::new();
    let f = pgcontract::report::OutputFormat::Text;
    pgcontract::report::write_styled(&inv, f, false, &mut plain).unwrap();
    pgcontract::report::write_styled(&inv, f, true, &mut coloured).unwrap();
    let (plain, coloured) = (
        String::from_utf8(plain).unwrap(),
        String::from_utf8(coloured).unwrap(),
    );
    assert!(!plain.contains('\x1b'));
    assert!(coloured.contains("\x1b[1;31mBLOCKED"));
    // Without the escapes, the coloured report is the plain one.
    let stripped = regex::Regex::new("\x1b\\[[0-9;]*m")
        .unwrap()
        .replace_all(&coloured, "");
    assert_eq!(stripped, plain);
}
