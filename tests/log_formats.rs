//! Self-hosted log formats on the fixture workload (written by a real
//! PostgreSQL 15 through scripts/gen-fixtures.sh): csvlog, jsonlog, syslog
//! (BSD and ISO headers through rsyslog), a stderr prefix using many escapes
//! and `log_error_verbosity = verbose`. Every one must give exactly the
//! dependency set of the stderr logs, and count every record.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use pgcontract::input::prefix::Prefix;
use pgcontract::input::InputFormat;
use pgcontract::inventory::Verdict;
use pgcontract::report::json::{to_doc, InventoryDoc};

/// The `log_line_prefix` of `escapes.log` (see scripts/gen-fixtures.sh).
const ESCAPES_PREFIX: &str = "%m [%-6p] %c %l %x %v %e %i %b %q%-12u %d %r %a: ";

fn log(name: &str) -> PathBuf {
    fixture(&format!("app/logs/{name}"))
}

fn scan_with(
    inputs: &[PathBuf],
    prefix: Option<&str>,
    format: Option<InputFormat>,
) -> InventoryDoc {
    let mut cfg = config(inputs, Some(&fixture("app/schema.sql")), 0);
    cfg.prefix = prefix.map(|p| Prefix::compile(p).unwrap());
    cfg.input_format = format;
    to_doc(&pgcontract::scan::scan(&cfg))
}

/// Every self-hosted format of the workload, with the prefix it needs given.
fn formats() -> Vec<(PathBuf, Option<&'static str>)> {
    vec![
        (log("custom.csv"), None),
        (log("custom.json"), None),
        (log("syslog-bsd.log"), None),
        (log("syslog-iso.log"), None),
        (log("syslog-rfc5424.log"), None),
        (log("verbose.log"), None),
        (log("escapes.log"), Some(ESCAPES_PREFIX)),
    ]
}

#[test]
fn every_self_hosted_format_gives_the_exact_dependency_set() {
    for (path, prefix) in formats() {
        let doc = scan_with(std::slice::from_ref(&path), prefix, None);
        let name = path.display();
        assert_eq!(rows(&doc), expected_log_rows_with_schema(), "{name}");
        assert_eq!(doc.targets[0].verdict, Verdict::Blocked, "{name}");
        assert_eq!(doc.targets[1].verdict, Verdict::Blocked, "{name}");
        assert!(doc.warnings.is_empty(), "{name}: {:?}", doc.warnings);
        let input = &doc.coverage.inputs[0];
        assert!(input.errors.is_empty(), "{name}: {:?}", input.errors);
        // 42 statement records, one of which holds two statements: 43
        // executions, whatever the format.
        assert_eq!(input.statements.seen, 43, "{name}");
        assert_eq!(input.statements.calls, 43, "{name}");
        assert_eq!(input.statements.unparseable, 0, "{name}");
        assert_eq!(input.records_by_kind["statement"], 42, "{name}");
        assert_eq!(input.records_by_kind["bind_parameters"], 9, "{name}");
        assert_eq!(
            input.records_by_kind["failed_statement_already_logged"], 1,
            "{name}"
        );
        for d in &doc.dependencies {
            let user = d.actor.user.as_deref().unwrap_or("");
            assert!(!DECOY_ROLES.contains(&user), "{name}: decoy {user}");
        }
    }
}

#[test]
fn formats_and_prefixes_are_recognised_by_content() {
    let inputs: Vec<PathBuf> = formats()
        .into_iter()
        .filter(|(_, p)| p.is_none())
        .map(|(f, _)| f)
        .collect();
    let doc = scan_with(&inputs, None, None);
    let got: Vec<(String, String, Option<String>)> = doc
        .coverage
        .inputs
        .iter()
        .map(|i| {
            let file = i.file.clone().unwrap();
            let file = file.rsplit('/').next().unwrap().to_string();
            (file, i.format.clone().unwrap(), i.log_line_prefix.clone())
        })
        .collect();
    let syslog_prefix = Some("user=%u,db=%d,app=%a,client=%h ".to_string());
    assert_eq!(
        got,
        vec![
            ("custom.csv".into(), "csvlog".into(), None),
            ("custom.json".into(), "jsonlog".into(), None),
            (
                "syslog-bsd.log".into(),
                "syslog".into(),
                syslog_prefix.clone()
            ),
            (
                "syslog-iso.log".into(),
                "syslog".into(),
                syslog_prefix.clone()
            ),
            ("syslog-rfc5424.log".into(), "syslog".into(), syslog_prefix),
            (
                "verbose.log".into(),
                "stderr".into(),
                Some("%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ".into())
            ),
        ]
    );
}

#[test]
fn csvlog_and_jsonlog_count_records_like_a_stderr_log() {
    // DETAIL and STATEMENT columns count as the DETAIL:/STATEMENT: lines a
    // stderr log has for the same event.
    let stderr = scan_with(&[log("custom.log")], None, None);
    let want = &stderr.coverage.inputs[0].records_by_kind;
    for f in ["custom.csv", "custom.json", "escapes.log"] {
        let prefix = (f == "escapes.log").then_some(ESCAPES_PREFIX);
        let doc = scan_with(&[log(f)], prefix, None);
        let input = &doc.coverage.inputs[0];
        assert_eq!(&input.records_by_kind, want, "{f}");
        assert_eq!(input.records, 149, "{f}");
        assert!(input.skipped.is_empty(), "{f}: {:?}", input.skipped);
    }
    // Verbose error verbosity adds LOCATION lines and nothing else.
    let doc = scan_with(&[log("verbose.log")], None, None);
    let input = &doc.coverage.inputs[0];
    let mut without_location = input.records_by_kind.clone();
    assert!(without_location.remove("auxiliary").unwrap() > 100);
    let mut want_plain = want.clone();
    want_plain.remove("auxiliary");
    assert_eq!(without_location, want_plain);
}

#[test]
fn accounting_every_record_is_counted_in_every_format() {
    for (path, prefix) in formats() {
        let doc = scan_with(std::slice::from_ref(&path), prefix, None);
        let i = &doc.coverage.inputs[0];
        let by_kind: u64 = i.records_by_kind.values().sum();
        let skipped: u64 = i.skipped.values().sum();
        assert_eq!(i.records, by_kind + skipped, "{}", path.display());
        assert_eq!(
            i.statements.seen,
            i.statements.analysed + i.statements.unparseable
        );
    }
}

#[test]
fn actors_and_times_come_from_each_format() {
    for f in [
        "custom.csv",
        "custom.json",
        "syslog-iso.log",
        "syslog-rfc5424.log",
        "escapes.log",
    ] {
        let prefix = (f == "escapes.log").then_some(ESCAPES_PREFIX);
        let doc = scan_with(&[log(f)], prefix, None);
        for d in &doc.dependencies {
            assert_eq!(d.actor.database.as_deref(), Some("appdb"), "{f}");
            let want = if d.actor.user.as_deref() == Some("r_orders") {
                "[local]"
            } else {
                "127.0.0.1"
            };
            assert_eq!(d.actor.client.as_deref(), Some(want), "{f}: {d:?}");
            assert!(d.first_seen.is_some() && d.last_seen.is_some(), "{f}");
        }
        assert!(doc.coverage.inputs[0].first_time.is_some(), "{f}");
    }
    // BSD syslog timestamps have no year: no times, and the coverage says so.
    let doc = scan_with(&[log("syslog-bsd.log")], None, None);
    assert!(doc.dependencies.iter().all(|d| d.first_seen.is_none()));
    assert!(doc.coverage.inputs[0]
        .notes
        .iter()
        .any(|n| n.contains("no year")));
}

#[test]
fn input_format_forces_the_reader() {
    // Forcing the right reader changes nothing.
    let doc = scan_with(&[log("custom.json")], None, Some(InputFormat::Jsonlog));
    assert_eq!(rows(&doc), expected_log_rows_with_schema());
    // Forcing the wrong one reads nothing, and says so line by line.
    let doc = scan_with(&[log("custom.log")], None, Some(InputFormat::Jsonlog));
    let i = &doc.coverage.inputs[0];
    assert!(doc.dependencies.is_empty());
    assert_eq!(i.format.as_deref(), Some("jsonlog"));
    assert_eq!(i.skipped["unparseable jsonlog record"], 149);
    assert_eq!(i.errors.len(), 11, "{:?}", i.errors);
    assert!(
        i.errors
            .iter()
            .any(|e| e.contains("custom.log:1: not valid JSON")),
        "{:?}",
        i.errors
    );
    assert!(i
        .errors
        .iter()
        .any(|e| e.ends_with("139 more unparseable records (not listed)")));
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn broken_csv_and_json_records_are_reported_with_file_and_line_and_the_scan_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    // A csvlog record cut short inside a quoted field, before the real ones.
    let csv = std::fs::read_to_string(log("custom.csv")).unwrap();
    let first = csv.lines().find(|l| l.contains("\"statement: ")).unwrap();
    let cut = &first[..first.find("\"statement: ").unwrap() + 12];
    let csv_path = write(dir.path(), "broken.csv", &format!("{cut}\n{csv}"));
    // A jsonlog line cut in the middle, in the middle of the file.
    let json = std::fs::read_to_string(log("custom.json")).unwrap();
    let lines: Vec<&str> = json.lines().collect();
    let mut broken = lines[..10].join("\n");
    broken.push('\n');
    broken.push_str(&lines[10][..lines[10].len() / 2]);
    broken.push('\n');
    broken.push_str(&lines[10..].join("\n"));
    broken.push('\n');
    let json_path = write(dir.path(), "broken.json", &broken);

    for (path, line) in [(&csv_path, 1), (&json_path, 11)] {
        let doc = scan_with(std::slice::from_ref(path), None, None);
        assert_eq!(
            rows(&doc),
            expected_log_rows_with_schema(),
            "{}",
            path.display()
        );
        let i = &doc.coverage.inputs[0];
        assert_eq!(i.errors.len(), 1, "{:?}", i.errors);
        let want = format!("{}:{line}: ", path.display());
        assert!(i.errors[0].starts_with(&want), "{:?}", i.errors);
        assert_eq!(i.skipped.values().sum::<u64>(), 1, "{:?}", i.skipped);
        assert_eq!(i.records, 150);
    }
}

#[test]
fn no_literal_or_parameter_value_reaches_any_output_in_any_format() {
    let inputs: Vec<PathBuf> = formats()
        .into_iter()
        .filter(|(_, p)| p.is_none())
        .map(|(f, _)| f)
        .collect();
    let inv = pgcontract::scan::scan(&config(&inputs, Some(&fixture("app/schema.sql")), 0));
    for (fmt, out) in reports_in_every_format(&inv) {
        assert_no_secret(&out, fmt);
        assert!(!out.contains("@example.com"), "{fmt:?}");
        assert!(!out.contains("parameters:"), "{fmt:?}");
    }
}

#[test]
fn compressed_jsonlog_is_recognised_after_decompression() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("postgresql.json.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&p).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(&std::fs::read(log("custom.json")).unwrap())
        .unwrap();
    gz.finish().unwrap();
    let doc = scan_with(&[p], None, None);
    assert_eq!(
        doc.coverage.inputs[0].format.as_deref(),
        Some("jsonlog+gzip")
    );
    assert_eq!(rows(&doc), expected_log_rows_with_schema());
}

#[test]
fn cli_input_format_flag() {
    let bin = env!("CARGO_BIN_EXE_pgcontract");
    let out = std::process::Command::new(bin)
        .args([
            "scan",
            "-q",
            "-c",
            "users.legacy_email",
            "--input-format",
            "csvlog",
            "--format",
            "json",
        ])
        .arg(log("custom.csv"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["coverage"]["inputs"][0]["format"], "csvlog");
    let out = std::process::Command::new(bin)
        .args(["scan", "-c", "users.legacy_email", "--input-format", "nope"])
        .arg(log("custom.csv"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for name in [
        "stderr",
        "csvlog",
        "jsonlog",
        "syslog",
        "pg_stat_statements-csv",
    ] {
        assert!(err.contains(name), "{err}");
    }
}

const MULTILINE: &[&str] = &[
    "multiline.log",
    "multiline.csv",
    "multiline.json",
    "multiline-syslog-bsd.log",
    "multiline-syslog-iso.log",
    "multiline-syslog-rfc5424.log",
];

#[test]
fn multiline_tabbed_and_long_statements_give_the_same_dependencies_in_every_format() {
    for f in MULTILINE {
        let doc = scan_with(&[log(f)], None, None);
        assert_eq!(rows(&doc), expected_multiline_rows(), "{f}");
        let i = &doc.coverage.inputs[0];
        assert!(
            i.errors.is_empty() && i.skipped.is_empty(),
            "{f}: {:?} {:?}",
            i.errors,
            i.skipped
        );
        assert_eq!(i.statements.seen, 5, "{f}");
        assert_eq!(
            i.records_by_kind["failed_statement_already_logged"], 1,
            "{f}"
        );
    }
}

/// The statement texts each reader gives for one multi-line log file, in
/// file order of their statements (severity, message).
fn statement_texts(f: &str) -> Vec<(String, String)> {
    use pgcontract::input::{csvlog, jsonlog, stderr, syslog, LogEntry};
    let text = std::fs::read(log(f)).unwrap();
    let mut cov = pgcontract::inventory::FileCoverage::default();
    let mut out: Vec<LogEntry> = Vec::new();
    let sink = |e: LogEntry, _: &mut pgcontract::inventory::FileCoverage| out.push(e);
    let prefix = Prefix::compile("%m [%p] user=%u,db=%d,app=%a,client=%h ").unwrap();
    if f.ends_with(".csv") {
        csvlog::read_entries(&text[..], f, 0, &mut cov, sink).unwrap();
    } else if f.ends_with(".json") {
        jsonlog::read_entries(&text[..], f, 0, &mut cov, sink).unwrap();
    } else if f.contains("syslog") {
        syslog::read_entries(&text[..], &prefix, 0, &mut cov, sink).unwrap();
    } else {
        stderr::read_entries(&text[..], &prefix, &mut cov, sink).unwrap();
    }
    let mut v: Vec<(String, String)> = out
        .into_iter()
        .filter(|e| e.severity == "STATEMENT" || e.message.starts_with("statement: "))
        .map(|e| (e.severity, e.message))
        .collect();
    v.sort();
    v
}

#[test]
fn multiline_statements_are_reassembled_byte_for_byte_in_every_format() {
    // The texts as psql sent them (see scripts/gen-fixtures.sh, run 8).
    let stderr = statement_texts("multiline.log");
    assert_eq!(stderr.len(), 6);
    assert!(stderr.contains(&(
        "LOG".into(),
        "statement: SELECT id,\n       legacy_email\n  FROM users\n WHERE id = 1;".into()
    )));
    assert!(stderr.contains(&(
        "LOG".into(),
        "statement: SELECT legacy_email\n\tFROM users\n\tWHERE id = 4;".into()
    )));
    assert!(stderr.contains(&(
        "LOG".into(),
        "statement: SELECT\tlegacy_email\tFROM users WHERE id = 3;".into()
    )));
    let long = stderr
        .iter()
        .find(|(_, m)| m.contains("c150"))
        .map(|(_, m)| m.clone())
        .unwrap();
    // Longer than one 900-byte syslog chunk with its prefix: three chunks.
    assert!(long.len() > 1700, "{}", long.len());
    let cols: Vec<String> = (1..=150).map(|i| format!("id AS c{i}, ")).collect();
    assert_eq!(
        long,
        format!(
            "statement: SELECT {}legacy_email FROM users WHERE id = 2;",
            cols.concat()
        )
    );
    for f in &MULTILINE[1..] {
        assert_eq!(statement_texts(f), stderr, "{f}");
    }
    // The syslog files really hold a line cut at 900 bytes (a third chunk
    // that is neither a continuation line nor a new prefixed line), and the
    // csvlog a raw newline inside a quoted field.
    let raw = std::fs::read_to_string(log("multiline-syslog-bsd.log")).unwrap();
    assert!(raw
        .lines()
        .any(|l| l.contains("-3] ") && !l.contains("#011") && !l.contains(":  ")));
    let raw = std::fs::read_to_string(log("multiline.csv")).unwrap();
    assert!(raw.lines().any(|l| l == "       legacy_email"));
}

#[test]
fn error_record_with_its_statement_column_is_evidence_of_use() {
    // With log_statement = none only the ERROR record carries the text (the
    // csvlog `query` column, the jsonlog `statement` key): keep just that
    // record of the r_error session.
    let dir = tempfile::tempdir().unwrap();
    for f in ["custom.csv", "custom.json"] {
        let text = std::fs::read_to_string(log(f)).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("r_error") && l.contains("division by zero"))
            .unwrap();
        let p = write(dir.path(), f, &format!("{line}\n"));
        let doc = scan_with(&[p], None, None);
        assert_eq!(
            rows(&doc),
            [row(
                "legacy_email",
                "r_error",
                "failing",
                "read",
                "direct",
                "certain",
                1
            )],
            "{f}"
        );
        assert_eq!(doc.dependencies[0].failed_calls, 1, "{f}");
        let i = &doc.coverage.inputs[0];
        assert_eq!(i.records_by_kind["error"], 1, "{f}");
        assert_eq!(i.records_by_kind["failed_statement"], 1, "{f}");
        assert_eq!(i.records, 2, "{f}");
    }
}

#[test]
fn one_servers_csvlog_and_jsonlog_scanned_together_are_warned_to_count_twice() {
    // custom.csv and custom.json are one server's log_destination =
    // 'csvlog,jsonlog'; custom.log and multiline.log are other runs, and
    // the pg_stat_statements export has no times.
    let doc = scan_with(
        &[
            log("custom.csv"),
            log("custom.json"),
            log("custom.log"),
            log("multiline.log"),
        ],
        None,
        None,
    );
    assert_eq!(
        doc.warnings,
        vec![format!(
            "1 csvlog and jsonlog input pair covers the same times (as {} and {}): if they are one server's log written to two log_destinations, each statement is counted once in each, and calls add up",
            log("custom.csv").display(),
            log("custom.json").display()
        )]
    );
    let doc = scan_with(
        &[log("custom.log"), fixture("app/pgss/pgss-all.csv")],
        None,
        None,
    );
    assert_eq!(
        doc.warnings,
        vec![format!(
            "pg_stat_statements export {} and statement logs are scanned together: if they describe the same period, their calls add up (give one or the other)",
            fixture("app/pgss/pgss-all.csv").display()
        )]
    );
    // Each alone: nothing.
    assert!(scan_with(&[log("custom.csv")], None, None)
        .warnings
        .is_empty());
}
