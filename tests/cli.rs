//! End-to-end tests of the `pgcontract` binary: exit codes, stdin, gzip,
//! output files and formats, a forced log_line_prefix, `explain`, the
//! progress bar (hidden on a pipe, drawn on a pseudo-terminal), and
//! byte-identical output whatever the thread count or input order.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use pgcontract::inventory::{OnDrop, Verdict};
use pgcontract::report::json::InventoryDoc;

const BIN: &str = env!("CARGO_BIN_EXE_pgcontract");

fn cmd(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).current_dir(root());
    c
}

/// Runs the binary with `args` and an empty stdin.
fn pgc(args: &[&str]) -> Output {
    cmd(args)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run the pgcontract binary")
}

/// Runs the binary with `args`, feeding `input` on stdin.
fn pgc_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run the pgcontract binary");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        // The binary may stop reading early on an error; ignore EPIPE.
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {out:?}"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is not UTF-8")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code, showing both streams when it differs.
fn assert_code(out: &Output, want: i32) {
    assert_eq!(
        code(out),
        want,
        "exit code\n--- stdout:\n{}\n--- stderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
}

/// Asserts that stderr is one line starting with `prefix`.
fn assert_one_error_line(out: &Output, prefix: &str) {
    let err = stderr(out);
    assert!(err.starts_with(prefix), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

fn doc(out: &Output) -> InventoryDoc {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not an inventory document: {e}\n--- stdout:\n{}\n--- stderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("non-UTF-8 path")
}

fn schema() -> PathBuf {
    fixture("app/schema.sql")
}

fn custom_log() -> PathBuf {
    fixture("app/logs/custom.log")
}

fn all_inputs() -> Vec<PathBuf> {
    vec![
        fixture("app/logs/custom.log"),
        fixture("app/logs/rds.log"),
        fixture("app/logs/default.log"),
        fixture("app/pgss/pgss-names.csv"),
    ]
}

/// `scan -q --column <both fixture targets> --schema schema.sql` + `extra`.
fn scan_args<'a>(schema: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "scan", "-q", "--column", TARGETS[0], "--column", TARGETS[1], "--schema", schema,
    ];
    v.extend_from_slice(extra);
    v
}

/// `scan -q -c COLUMN… --schema schema.sql --format FORMAT custom.log`.
fn scan_custom_log(columns: &[&str], format: &str) -> Output {
    let (schema, log) = (schema(), custom_log());
    pgc(&quiet_scan(
        columns,
        &[
            "--schema",
            path_str(&schema),
            "--format",
            format,
            path_str(&log),
        ],
    ))
}

/// `scan -q -c users.legacy_email --log-line-prefix PREFIX --format json INPUT`.
fn prefix_scan_args<'a>(prefix: &'a str, input: &'a str) -> Vec<&'a str> {
    quiet_scan(
        &[EMAIL],
        &["--log-line-prefix", prefix, "--format", "json", input],
    )
}

/// The column most cases without a schema scan for.
const EMAIL: &str = "users.legacy_email";

/// Asserts a blocked run (exit 1) whose JSON report has the fixture
/// workload's exact dependency set; returns the report.
fn assert_fixture_inventory(out: &Output) -> InventoryDoc {
    assert_code(out, 1);
    let d = doc(out);
    assert_eq!(rows(&d), expected_log_rows_with_schema());
    d
}

/// A synthetic stderr log with an unusual prefix, `%t [%p-%l] %q%u@%d/%a `:
/// one statement reads `users.legacy_email`, one does not.
const ODD_PREFIX: &str = "%t [%p-%l] %q%u@%d/%a ";
const ODD_PREFIX_LOG: &str = "\
2024-05-01 10:00:00 UTC [4242-1] LOG:  checkpoint starting: time
2024-05-01 10:00:01 UTC [4243-1] alice@appdb/billing LOG:  statement: SELECT legacy_email FROM users WHERE id = 1
2024-05-01 10:00:02 UTC [4243-2] alice@appdb/billing LOG:  statement: SELECT name FROM users WHERE id = 2
2024-05-01 10:00:03 UTC [4242-2] LOG:  checkpoint complete: wrote 3 buffers
";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

// ---------------------------------------------------------------- exit 1 / 0

#[test]
fn fixture_logs_are_blocked_exit_1_with_the_exact_json_inventory() {
    let schema = schema();
    for f in ["custom.log", "rds.log", "default.log"] {
        let log = fixture(&format!("app/logs/{f}"));
        let out = pgc(&scan_args(
            path_str(&schema),
            &["--format", "json", path_str(&log)],
        ));
        assert_code(&out, 1);
        let d = doc(&out);
        assert_eq!(d.version, 1);
        assert_eq!(rows(&d), expected_log_rows_with_schema(), "{f}");
        let verdicts: Vec<_> = d
            .targets
            .iter()
            .map(|t| (t.column.as_str(), t.verdict))
            .collect();
        assert_eq!(
            verdicts,
            vec![
                ("public.users.legacy_email", Verdict::Blocked),
                ("public.orders.old_status", Verdict::Blocked),
            ],
            "{f}"
        );
        assert!(d.warnings.is_empty(), "{f}: {:?}", d.warnings);
        assert_eq!(d.coverage.inputs.len(), 1);
        assert!(d.coverage.inputs[0].errors.is_empty());
        // Nothing goes wrong, so nothing on stderr.
        assert_eq!(stderr(&out), "", "{f}");
    }
}

#[test]
fn a_column_nobody_uses_is_clear_exit_0() {
    // `archive.users` is only read by the decoy `SELECT legacy_email FROM
    // archive.users` and `public.newsletter` only by `SELECT legacy_email FROM
    // newsletter`: neither `id` is touched by any statement, `*`, COPY or
    // positional write of the workload.
    let schema = schema();
    for col in ["archive.users.id", "public.newsletter.id"] {
        let out = pgc(&[
            "scan",
            "-q",
            "--column",
            col,
            "--schema",
            path_str(&schema),
            "--format",
            "json",
            path_str(&custom_log()),
        ]);
        assert_code(&out, 0);
        let d = doc(&out);
        assert_eq!(d.targets.len(), 1);
        assert_eq!(d.targets[0].column, col);
        assert_eq!(d.targets[0].verdict, Verdict::Clear, "{col}");
        // Each `id` is its table's primary key: listed, dropped with the
        // column, and not a reason to block.
        assert_eq!(
            d.targets[0].reason,
            "no reference in 43 analysed statements; 1 schema object (index, constraint, grant, …) would be dropped with it"
        );
        assert!(d.dependencies.is_empty(), "{:?}", d.dependencies);
        let objects: Vec<(&str, &str, OnDrop)> = d
            .schema_dependencies
            .iter()
            .map(|s| (s.object.as_str(), s.object_type.as_str(), s.on_drop))
            .collect();
        let table = col.rsplit_once('.').unwrap().0;
        let pkey = format!("{}_pkey on {table}", table.rsplit_once('.').unwrap().1);
        assert_eq!(
            objects,
            vec![(pkey.as_str(), "primary_key", OnDrop::Dropped)]
        );
        // The clear verdict rests on real, analysed statements.
        let input = &d.coverage.inputs[0];
        assert_eq!(input.statements.seen, 43);
        assert_eq!(input.statements.analysed, 43);
        assert_eq!(input.statements.unparseable, 0);
        assert!(input.errors.is_empty());
        assert_eq!(stderr(&out), "");
    }
}

#[test]
fn a_clear_column_in_a_mixed_run_still_exits_1() {
    let out = scan_custom_log(&["public.users.legacy_email", "archive.users.id"], "json");
    assert_code(&out, 1);
    let d = doc(&out);
    let verdicts: Vec<_> = d.targets.iter().map(|t| t.verdict).collect();
    assert_eq!(verdicts, vec![Verdict::Blocked, Verdict::Clear]);
}

#[test]
fn a_log_without_analysable_statements_is_inconclusive_not_clear() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("quiet.log");
    std::fs::write(
        &log,
        "2024-05-01 10:00:00.000 UTC [7] LOG:  checkpoint starting: time\n\
         2024-05-01 10:00:01.000 UTC [7] LOG:  checkpoint complete: wrote 3 buffers\n",
    )
    .unwrap();
    let out = pgc(&quiet_scan(
        &["archive.users.id"],
        &["--format", "json", path_str(&log)],
    ));
    assert_code(&out, 1);
    let d = doc(&out);
    assert_eq!(d.targets[0].verdict, Verdict::Inconclusive);
    assert_eq!(
        d.targets[0].reason,
        "no statement in the inputs could be analysed"
    );
}

// ---------------------------------------------------------------- exit 2

#[test]
fn a_bad_column_value_is_a_usage_error() {
    let out = pgc(&["scan", "-q", "--column", "nodots", path_str(&custom_log())]);
    assert_code(&out, 2);
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "pgcontract: column `nodots` must be written SCHEMA.TABLE.COLUMN or TABLE.COLUMN\n"
    );
    for bad in ["a.b.c.d", "users.", ".users.x", "users legacy"] {
        let out = pgc(&["scan", "-q", "--column", bad, path_str(&custom_log())]);
        assert_code(&out, 2);
        assert!(
            stderr(&out).contains(&format!("`{bad}`")),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn missing_flags_are_usage_errors() {
    // No --column.
    let out = pgc(&["scan", path_str(&custom_log())]);
    assert_code(&out, 2);
    assert!(stderr(&out).contains("--column"), "{}", stderr(&out));
    // No input.
    let out = pgc(&["scan", "--column", "users.legacy_email"]);
    assert_code(&out, 2);
    assert!(stderr(&out).contains("INPUT"), "{}", stderr(&out));
    // Unknown format.
    let out = pgc(&[
        "scan",
        "--column",
        "users.legacy_email",
        "--format",
        "yaml",
        path_str(&custom_log()),
    ]);
    assert_code(&out, 2);
    // stdin twice.
    let out = pgc_stdin(&["scan", "-q", "-c", "users.legacy_email", "-", "-"], b"");
    assert_code(&out, 2);
    assert!(stderr(&out).contains("only once"), "{}", stderr(&out));
}

#[test]
fn a_missing_input_exits_2_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such.log");
    let out = pgc(&quiet_scan(
        &[EMAIL],
        &["--format", "json", path_str(&missing)],
    ));
    assert_code(&out, 2);
    assert_one_error_line(
        &out,
        &format!("pgcontract: {}: cannot open:", missing.display()),
    );
    // The report is still written, with the error in coverage.
    let d = doc(&out);
    assert_eq!(d.targets[0].verdict, Verdict::Inconclusive);
    assert_eq!(d.coverage.inputs.len(), 1);
    let input = &d.coverage.inputs[0];
    assert_eq!(input.file.as_deref(), Some(path_str(&missing)));
    assert_eq!(input.errors.len(), 1);
    assert!(
        input.errors[0].starts_with(&format!("{}: cannot open:", missing.display())),
        "{:?}",
        input.errors
    );
}

fn assert_unrecognised(path: &Path) {
    let out = pgc(&quiet_scan(&[EMAIL], &["--format", "json", path_str(path)]));
    assert_code(&out, 2);
    let want = format!(
        "{}: unrecognised input format (none of the supported log shapes or pg_stat_statements exports; see docs/inputs.md); pass --input-format to force one, or --log-line-prefix if it is a stderr log with an unusual prefix",
        path.display()
    );
    assert_eq!(stderr(&out), format!("pgcontract: {want}\n"));
    let d = doc(&out);
    assert_eq!(d.coverage.inputs[0].errors, vec![want]);
    assert_eq!(d.coverage.inputs[0].format.as_deref(), Some("unrecognised"));
    assert!(d.dependencies.is_empty());
}

#[test]
fn a_text_file_that_is_not_a_log_exits_2_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.log");
    std::fs::write(
        &f,
        "Shopping list\n- milk\n- SELECT legacy_email FROM users; (not a log line)\n",
    )
    .unwrap();
    assert_unrecognised(&f);
}

#[test]
fn random_bytes_exit_2_and_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("random.bin");
    // Deterministic pseudo-random bytes (xorshift); the first two bytes are
    // no compression magic.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes = Vec::with_capacity(8192);
    for _ in 0..8192 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.push((x >> 24) as u8);
    }
    assert_eq!(pgcontract::input::compression_of(&bytes), None);
    std::fs::write(&f, &bytes).unwrap();
    assert_unrecognised(&f);
}

#[test]
fn an_unreadable_schema_exits_2_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-schema.sql");
    // A missing file, and a directory given as the schema.
    for bad in [missing.as_path(), dir.path()] {
        let out = pgc(&quiet_scan(
            &[EMAIL],
            &["--schema", path_str(bad), path_str(&custom_log())],
        ));
        assert_code(&out, 2);
        assert_eq!(stdout(&out), "", "no report without a schema");
        assert_one_error_line(
            &out,
            &format!("pgcontract: {}: cannot read the schema: ", bad.display()),
        );
    }
}

#[test]
fn an_unreadable_schema_error_names_its_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-schema.sql");
    let out = pgc(&quiet_scan(
        &[EMAIL],
        &["--schema", path_str(&missing), path_str(&custom_log())],
    ));
    assert_code(&out, 2);
    assert_eq!(
        stderr(&out),
        format!(
            "pgcontract: {}: cannot read the schema: No such file or directory (os error 2)\n",
            missing.display()
        )
    );
}

#[test]
fn one_good_and_one_missing_input_exits_1_with_the_good_ones_dependencies() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("gone.log");
    let schema = schema();
    let out = pgc(&scan_args(
        path_str(&schema),
        &[
            "--format",
            "json",
            path_str(&custom_log()),
            path_str(&missing),
        ],
    ));
    let d = assert_fixture_inventory(&out);
    assert_one_error_line(
        &out,
        &format!("pgcontract: {}: cannot open:", missing.display()),
    );
    let inputs: Vec<_> = d
        .coverage
        .inputs
        .iter()
        .map(|i| (i.file.clone().unwrap(), i.errors.len()))
        .collect();
    let mut want = vec![
        (path_str(&custom_log()).to_string(), 0),
        (path_str(&missing).to_string(), 1),
    ];
    want.sort();
    assert_eq!(inputs, want);
    let gone = d
        .coverage
        .inputs
        .iter()
        .find(|i| i.file.as_deref() == Some(path_str(&missing)))
        .unwrap();
    assert!(
        gone.errors[0].starts_with(&format!("{}: cannot open:", missing.display())),
        "{:?}",
        gone.errors
    );
    assert_eq!(d.coverage.totals.errors.len(), 1, "{:?}", d.coverage.totals);
}

// ---------------------------------------------------------------- inputs

#[test]
fn dash_reads_stdin() {
    let log = std::fs::read(custom_log()).unwrap();
    let schema = schema();
    let out = pgc_stdin(
        &scan_args(path_str(&schema), &["--format", "json", "-"]),
        &log,
    );
    let d = assert_fixture_inventory(&out);
    assert_eq!(d.coverage.inputs.len(), 1);
    assert_eq!(d.coverage.inputs[0].file.as_deref(), Some("-"));
    assert_eq!(d.coverage.inputs[0].format.as_deref(), Some("stderr"));
    assert_eq!(d.coverage.inputs[0].lines, 149);
    assert!(d
        .dependencies
        .iter()
        .all(|dep| dep.sources.iter().all(|s| s.starts_with("-:"))));
    assert_eq!(stderr(&out), "");
}

#[test]
fn gzip_is_recognised_by_magic_bytes_whatever_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let gz = gzip(&std::fs::read(custom_log()).unwrap());
    let f = dir.path().join("postgresql.log");
    std::fs::write(&f, &gz).unwrap();
    let schema = schema();
    let out = pgc(&scan_args(
        path_str(&schema),
        &["--format", "json", path_str(&f)],
    ));
    let d = assert_fixture_inventory(&out);
    let input = &d.coverage.inputs[0];
    assert_eq!(input.format.as_deref(), Some("stderr+gzip"));
    assert_eq!(
        input.log_line_prefix.as_deref(),
        Some("%m [%p] user=%u,db=%d,app=%a,client=%h ")
    );
    assert_eq!(input.lines, 149);
    assert_eq!(
        input.bytes,
        std::fs::metadata(custom_log()).unwrap().len(),
        "bytes are counted decompressed"
    );
    // gzip on stdin too.
    let out = pgc_stdin(
        &scan_args(path_str(&schema), &["--format", "json", "-"]),
        &gz,
    );
    let d = assert_fixture_inventory(&out);
    assert_eq!(d.coverage.inputs[0].format.as_deref(), Some("stderr+gzip"));
}

#[test]
fn a_directory_input_is_scanned_recursively() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::copy(custom_log(), dir.path().join("sub/custom.log")).unwrap();
    let schema = schema();
    let out = pgc(&scan_args(
        path_str(&schema),
        &["--format", "json", path_str(dir.path())],
    ));
    let d = assert_fixture_inventory(&out);
    assert_eq!(
        d.coverage.inputs[0].file.as_deref(),
        Some(path_str(&dir.path().join("sub/custom.log")))
    );
}

#[test]
fn log_line_prefix_override_parses_an_unusual_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("odd.log");
    std::fs::write(&log, ODD_PREFIX_LOG).unwrap();
    let out = pgc(&prefix_scan_args(ODD_PREFIX, path_str(&log)));
    assert_code(&out, 1);
    let d = doc(&out);
    let input = &d.coverage.inputs[0];
    assert_eq!(input.log_line_prefix.as_deref(), Some(ODD_PREFIX));
    assert_eq!(input.format.as_deref(), Some("stderr"));
    assert_eq!(input.lines, 4);
    assert_eq!(input.statements.seen, 2);
    assert_eq!(input.statements.analysed, 2);
    assert_eq!(d.targets[0].verdict, Verdict::Blocked);
    assert_eq!(d.dependencies.len(), 1, "{:?}", d.dependencies);
    let dep = &d.dependencies[0];
    assert_eq!(dep.column, "public.users.legacy_email");
    assert_eq!(dep.actor.user.as_deref(), Some("alice"));
    assert_eq!(dep.actor.database.as_deref(), Some("appdb"));
    assert_eq!(dep.actor.application.as_deref(), Some("billing"));
    assert_eq!(dep.actor.client, None);
    assert_eq!(dep.calls, 1);
    assert_eq!(dep.first_seen.as_deref(), Some("2024-05-01T10:00:01.000Z"));

    // The same log on stdin, with the override.
    let out = pgc_stdin(
        &prefix_scan_args(ODD_PREFIX, "-"),
        ODD_PREFIX_LOG.as_bytes(),
    );
    assert_code(&out, 1);
    let d2 = doc(&out);
    assert_eq!(
        d2.dependencies[0].actor.application.as_deref(),
        Some("billing")
    );

    // Without the override a shorter known prefix is detected, which cannot
    // split the application off the database: the override is what makes
    // the actor right.
    let out = pgc(&quiet_scan(&[EMAIL], &["--format", "json", path_str(&log)]));
    let d3 = doc(&out);
    assert_ne!(
        d3.coverage.inputs[0].log_line_prefix.as_deref(),
        Some(ODD_PREFIX)
    );
    assert_ne!(
        d3.dependencies[0].actor.application.as_deref(),
        Some("billing")
    );
}

#[test]
fn a_log_line_prefix_that_matches_no_line_is_not_clear() {
    // A forced prefix that does not match the log gives no statements, so
    // the verdict cannot be clear.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("odd.log");
    std::fs::write(&log, ODD_PREFIX_LOG).unwrap();
    let out = pgc(&prefix_scan_args("%m {%p} ", path_str(&log)));
    // Nothing matched: no statement analysed, so not clear.
    assert_code(&out, 1);
    let d = doc(&out);
    assert_eq!(d.targets[0].verdict, Verdict::Inconclusive);
    assert_eq!(d.coverage.inputs[0].statements.analysed, 0);
}

// ---------------------------------------------------------------- outputs

#[test]
fn output_file_gets_the_report_and_stdout_stays_empty() {
    let dir = tempfile::tempdir().unwrap();
    let schema = schema();
    let log = custom_log();
    let report = dir.path().join("inventory.json");
    let out = pgc(&scan_args(
        path_str(&schema),
        &[
            "--format",
            "json",
            "--output",
            path_str(&report),
            path_str(&log),
        ],
    ));
    assert_code(&out, 1);
    assert!(out.stdout.is_empty(), "{}", stdout(&out));
    assert_eq!(stderr(&out), "");
    let written = std::fs::read(&report).unwrap();
    let direct = pgc(&scan_args(
        path_str(&schema),
        &["--format", "json", path_str(&log)],
    ));
    assert_eq!(written, direct.stdout, "file and stdout reports differ");
    let d: InventoryDoc = serde_json::from_slice(&written).unwrap();
    assert_eq!(rows(&d), expected_log_rows_with_schema());
    // Only the report is left in the directory (no temporary file).
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["inventory.json".to_string()]);

    // -o, overwriting an existing file, with the markdown format.
    std::fs::write(&report, "old content").unwrap();
    let out = pgc(&scan_args(
        path_str(&schema),
        &[
            "--format",
            "markdown",
            "-o",
            path_str(&report),
            path_str(&log),
        ],
    ));
    assert_code(&out, 1);
    assert!(out.stdout.is_empty());
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.starts_with("<!-- pgcontract:inventory v1 -->\n"), "{md}");
}

#[test]
fn an_unwritable_output_path_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("no-such-dir").join("inventory.json");
    let schema = schema();
    let out = pgc(&scan_args(
        path_str(&schema),
        &["-o", path_str(&report), path_str(&custom_log())],
    ));
    assert_code(&out, 2);
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{}: cannot write the report", report.display())),
        "{err}"
    );
}

#[test]
fn markdown_starts_with_the_marker_and_has_the_verdict_table() {
    let out = scan_custom_log(&[TARGETS[0], TARGETS[1], "archive.users.id"], "markdown");
    assert_code(&out, 1);
    let md = stdout(&out);
    let head: Vec<&str> = md.lines().take(8).collect();
    assert_eq!(
        head,
        vec![
            "<!-- pgcontract:inventory v1 -->",
            "## pgcontract: contract audit",
            "",
            "| Column | Verdict | Why |",
            "|---|---|---|",
            "| `public.users.legacy_email` | ⛔ **blocked** | 25 dependencies (32 calls) in the logs; 1 object in the schema uses it |",
            "| `public.orders.old_status` | ⛔ **blocked** | 3 dependencies (7 calls) in the logs |",
            "| `archive.users.id` | ✅ **clear** | no reference in 43 analysed statements; 1 schema object (index, constraint, grant, …) would be dropped with it |",
        ]
    );
    assert!(md.contains("\n### `public.users.legacy_email`\n"));
    assert!(md.contains(
        "| direct-reader | r_direct | appdb | 127.0.0.1 | read | direct | certain | 3 |"
    ));
    assert!(
        md.contains("\n### `archive.users.id`\n\nNo statement in the inputs uses this column.\n")
    );
    for s in SECRETS {
        assert!(!md.contains(s), "{s} leaked");
    }
}

#[test]
fn text_format_lists_verdicts_then_actors() {
    let schema = schema();
    let out = pgc(&scan_args(
        path_str(&schema),
        &["--format", "text", path_str(&custom_log())],
    ));
    assert_code(&out, 1);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "BLOCKED       public.users.legacy_email  (25 dependencies (32 calls) in the logs; 1 object in the schema uses it)"
    );
    assert_eq!(
        lines[1],
        "BLOCKED       public.orders.old_status  (3 dependencies (7 calls) in the logs)"
    );
    assert_eq!(lines[2], "");
    assert_eq!(lines[3], "public.users.legacy_email");
    assert!(text.contains("user=r_direct db=appdb app=direct-reader client=127.0.0.1 calls=3"));
    assert!(text.contains("user=r_orders db=appdb app=orders-svc client=[local] calls=2"));
    assert!(text
        .contains("\ncoverage: 1 input(s), 149 records, 43 statements analysed, 0 unparseable, "));
    // Text is the default format.
    let default = pgc(&scan_args(path_str(&schema), &[path_str(&custom_log())]));
    assert_eq!(default.stdout, out.stdout);
}

// ---------------------------------------------------------------- explain

/// `explain --column COLUMN --schema SCHEMA SQL`: its stdout, after checking
/// the exit code (1 when a target column is referenced, 0 when not).
fn explain(schema: &Path, column: &str, sql: &str, code: i32) -> String {
    let out = pgc(&[
        "explain",
        "--column",
        column,
        "--schema",
        path_str(schema),
        sql,
    ]);
    assert_code(&out, code);
    stdout(&out)
}

#[test]
fn explain_marks_target_references() {
    let schema = schema();
    let text = explain(
        &schema,
        "public.users.legacy_email",
        "SELECT * FROM users",
        1,
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "statement 1:");
    let marked: Vec<&&str> = lines.iter().filter(|l| l.starts_with("  * ")).collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(marked[0].starts_with("  * public.users."), "{}", marked[0]);
    assert!(marked[0].contains("access=read"), "{}", marked[0]);
    assert!(marked[0].contains("via=star"), "{}", marked[0]);
    assert!(marked[0].contains("confidence=certain"), "{}", marked[0]);

    // Two statements, one target reference, one non-target reference.
    let text = explain(
        &schema,
        "users.legacy_email",
        "SELECT name FROM users; UPDATE users SET legacy_email = NULL WHERE id = 9",
        1,
    );
    assert!(
        text.contains(
            "statement 1:\n    public.users.name  access=read via=direct confidence=certain"
        ),
        "{text}"
    );
    assert!(text.contains("statement 2:\n"), "{text}");
    assert!(
        text.contains("  * public.users.legacy_email  access=write via=direct confidence=certain"),
        "{text}"
    );
}

#[test]
fn explain_shows_scope_and_resolution_of_each_reference() {
    let schema = schema();
    let text = explain(&schema, "public.users.legacy_email", "SELECT u.id, (SELECT count(*) FROM orders o WHERE o.user_id = u.id AND legacy_email IS NULL), row_to_json(u) FROM users u", 1);
    let expected = "\
statement 1:
    public.users.id  access=read via=direct confidence=certain at=7
      scope=query level 1  resolution: `u.id`: qualified by `u`
    public.orders.user_id  access=read via=direct confidence=certain at=50
      scope=query level 2  resolution: `o.user_id`: qualified by `o`
    public.users.id  access=read via=direct confidence=certain at=62
      scope=query level 2  resolution: `u.id`: qualified by `u`
  * public.users.legacy_email  access=read via=direct confidence=certain at=71
      scope=query level 2  resolution: unqualified `legacy_email`: column of `u`, 1 query level(s) out
  * public.users.*  access=read via=whole_row confidence=certain at=106
      scope=query level 1  resolution: `u` is no column: the whole row of FROM item `u`
";
    assert_eq!(text, expected);
}

#[test]
fn explain_without_a_target_hit_exits_0() {
    let schema = schema();
    let text = explain(
        &schema,
        "public.users.legacy_email",
        "SELECT legacy_email FROM newsletter",
        0,
    );
    assert_eq!(text.lines().next(), Some("statement 1:"));
    assert!(!text.contains("  * "), "{text}");
    assert!(text.contains("public.newsletter.legacy_email"), "{text}");
}

#[test]
fn explain_of_unparseable_sql_exits_2() {
    let out = pgc(&["explain", "SELEC legacy_email FROM users"]);
    assert_code(&out, 2);
    assert!(
        stdout(&out).starts_with("cannot parse: "),
        "{}",
        stdout(&out)
    );
}

// ---------------------------------------------------------------- determinism

#[test]
fn stdout_is_byte_identical_across_thread_counts_and_input_order() {
    let schema = schema();
    let inputs = all_inputs();
    let forward: Vec<&str> = inputs.iter().map(|p| path_str(p)).collect();
    let mut reversed = forward.clone();
    reversed.reverse();
    for fmt in ["json", "markdown", "text"] {
        let run = |threads: &str, files: &[&str]| {
            let mut extra = vec!["--format", fmt, "--threads", threads];
            extra.extend_from_slice(files);
            let out = pgc(&scan_args(path_str(&schema), &extra));
            assert_code(&out, 1);
            out.stdout
        };
        let a = run("1", &forward);
        assert!(!a.is_empty());
        let b = run("4", &forward);
        assert!(a == b, "{fmt}: --threads 1 and --threads 4 differ");
        let c = run("1", &reversed);
        assert!(a == c, "{fmt}: reversed input order differs");
        let d = run("4", &reversed);
        assert!(a == d, "{fmt}: reversed input order with 4 threads differs");
    }
}

// ---------------------------------------------------------------- help

#[test]
fn scan_help_mentions_the_exit_codes() {
    let out = pgc(&["scan", "--help"]);
    assert_code(&out, 0);
    let help = stdout(&out);
    assert!(
        help.contains("Exit status: 0 when every column is clear, 1 when any column is blocked or inconclusive, 2 on a usage error or when no input could be read at all"),
        "{help}"
    );
}

#[test]
fn top_level_help_mentions_the_exit_codes() {
    let out = pgc(&["--help"]);
    assert_code(&out, 0);
    let help = stdout(&out);
    assert!(help.contains("Exit status"), "{help}");
}

#[test]
fn top_level_help_lists_the_subcommands() {
    let out = pgc(&["--help"]);
    assert_code(&out, 0);
    let help = stdout(&out);
    assert!(help.contains("Usage: pgcontract <COMMAND>"), "{help}");
    assert!(help.contains("  scan "), "{help}");
    assert!(help.contains("  explain "), "{help}");
    // No subcommand: usage error.
    let out = pgc(&[]);
    assert_code(&out, 2);
}

#[test]
fn version_prints_the_crate_version() {
    let out = pgc(&["--version"]);
    assert_code(&out, 0);
    assert_eq!(
        stdout(&out),
        format!("pgcontract {}\n", env!("CARGO_PKG_VERSION"))
    );
    let out = pgc(&["-V"]);
    assert_code(&out, 0);
    assert_eq!(
        stdout(&out),
        format!("pgcontract {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn logging_flag_overrides_the_inferred_blind_spot() {
    let base = [
        "scan",
        "-q",
        "--format",
        "json",
        "-c",
        "public.users.legacy_email",
        "fixtures/audit/logs/mod.log",
    ];
    // inferred log_statement = mod: reads invisible, so not clear
    let out = pgc(&base);
    assert_code(&out, 1);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["targets"][0]["verdict"], "inconclusive");
    assert_eq!(
        doc["coverage"]["inputs"][0]["blind_spots"][0],
        "reads are not logged: log_statement = mod (inferred) (state the set-up with --logging if this inference is wrong)"
    );
    // stated: log_statement = all
    let mut args = base.to_vec();
    args.extend(["--logging", "log_statement=all"]);
    let out = pgc(&args);
    assert_code(&out, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["targets"][0]["verdict"], "clear");
    assert_eq!(doc["targets"][0]["coverage_gaps"], serde_json::json!([]));
}

#[test]
fn a_bad_logging_setting_exits_2_and_names_it() {
    let out = pgc(&quiet_scan(
        &["public.users.legacy_email"],
        &[
            "--logging",
            "log_statement=some",
            "fixtures/audit/logs/mod.log",
        ],
    ));
    assert_code(&out, 2);
    assert!(
        stderr(&out)
            .contains("--logging log_statement=some: log_statement is none, ddl, mod or all"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn progress_bar_is_hidden_when_stderr_is_not_a_terminal_and_never_on_stdout() {
    // stderr is a pipe here: without --quiet the bar must stay hidden; its
    // traces (carriage returns, escape sequences, "N/M files", byte rates)
    // must not appear on either stream, and stdout must be what --quiet gives.
    let schema = schema();
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("custom.log.gz");
    std::fs::write(&gz, gzip(&std::fs::read(custom_log()).unwrap())).unwrap();
    let inputs: Vec<String> = all_inputs()
        .iter()
        .chain([&gz])
        .map(|p| p.display().to_string())
        .collect();
    let mut loud: Vec<&str> = scan_args(path_str(&schema), &["--format", "json"])
        .into_iter()
        .filter(|a| *a != "-q")
        .collect();
    loud.extend(inputs.iter().map(String::as_str));
    let out = pgc(&loud);
    assert_code(&out, 1);
    let mut quiet = scan_args(path_str(&schema), &["--format", "json"]);
    quiet.extend(inputs.iter().map(String::as_str));
    let q = pgc(&quiet);
    assert_eq!(stdout(&out), stdout(&q));
    for (stream, text) in [("stdout", stdout(&out)), ("stderr", stderr(&out))] {
        assert!(!text.contains('\r'), "{stream}: {text}");
        assert!(!text.contains('\u{1b}'), "{stream}: {text}");
        assert!(!text.contains("/5 files"), "{stream}: {text}");
        assert!(!text.contains("/s eta"), "{stream}: {text}");
    }
}

/// Runs `args` with stderr (and stdin) on a pseudo-terminal, stdout into
/// `out`, through util-linux `script` (Debian's essential bsdutils);
/// returns what the terminal showed.
fn on_terminal(args: &[String], out: &Path) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let line = std::iter::once(BIN.to_string())
        .chain(args.iter().cloned())
        .map(|a| quote(&a))
        .collect::<Vec<_>>()
        .join(" ");
    let shown = Command::new("script")
        .args(["-q", "-e", "-c"])
        .arg(format!("{line} > {}", quote(&out.display().to_string())))
        .arg("/dev/null")
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .expect("cannot run script(1) from util-linux");
    String::from_utf8_lossy(&shown.stdout).into_owned()
}

#[test]
fn progress_bar_is_drawn_on_a_terminal_with_bytes_rate_eta_and_files_done() {
    // Four copies of the 400 KB genlog sample: long enough (a debug build)
    // for the bar to be redrawn while files complete.
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read(fixture("genlog/seed7-400KB.log")).unwrap();
    let mut inputs = Vec::new();
    for i in 0..4 {
        let p = dir.path().join(format!("part{i}.log"));
        std::fs::write(&p, &sample).unwrap();
        inputs.push(p.display().to_string());
    }
    let schema = schema();
    let args = |quiet: bool| -> Vec<String> {
        let mut a: Vec<String> = scan_args(path_str(&schema), &["--format", "json"])
            .into_iter()
            .filter(|a| quiet || *a != "-q")
            .map(str::to_string)
            .collect();
        a.extend(["--threads".to_string(), "1".to_string()]);
        a.extend(inputs.iter().cloned());
        a
    };
    let (loud_out, quiet_out) = (dir.path().join("loud.json"), dir.path().join("quiet.json"));
    let shown = on_terminal(&args(false), &loud_out);
    // The bar: spinner, bytes read of the total, the rate, the ETA and the
    // files done, redrawn in place and cleared at the end.
    let total = format!("/{} ", indicatif::HumanBytes(4 * sample.len() as u64));
    let frames: Vec<&str> = shown
        .split(['\r', '\n'])
        .filter(|f| f.contains(" files"))
        .collect();
    assert!(!frames.is_empty(), "no bar drawn: {shown:?}");
    for f in &frames {
        assert!(f.contains("/s eta "), "{f:?}");
        assert!(f.contains("/4 files"), "{f:?}");
        assert!(f.contains(&total), "{f:?} lacks the total {total:?}");
    }
    assert!(
        frames
            .iter()
            .any(|f| ["1/4 files", "2/4 files", "3/4 files"]
                .iter()
                .any(|d| f.contains(d))),
        "no frame shows a file done: {frames:?}"
    );
    assert!(shown.contains('\u{1b}'), "the bar is not redrawn in place");
    // --quiet draws nothing, and the report is the same either way.
    let quiet_shown = on_terminal(&args(true), &quiet_out);
    assert!(!quiet_shown.contains(" files"), "{quiet_shown:?}");
    assert!(!quiet_shown.contains('\u{1b}'), "{quiet_shown:?}");
    let (loud, quiet) = (
        std::fs::read(&loud_out).unwrap(),
        std::fs::read(&quiet_out).unwrap(),
    );
    assert!(!loud.is_empty());
    assert_eq!(loud, quiet);
}

#[test]
fn explain_follows_a_search_path_set_inside_the_text_as_a_scan_does() {
    let schema = fixture("value_shapes/schema.sql");
    let sql =
        "SELECT legacy_email FROM users; SET search_path = archive; SELECT legacy_email FROM users";
    let text = explain(&schema, "archive.users.legacy_email", sql, 1);
    let marked: Vec<&str> = text.lines().filter(|l| l.starts_with("  * ")).collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(
        marked[0].starts_with("  * archive.users.legacy_email"),
        "{text}"
    );
    // The first statement read public.users.
    let text = explain(&schema, "public.users.legacy_email", sql, 1);
    let marked: Vec<&str> = text.lines().filter(|l| l.starts_with("  * ")).collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(
        text.find("statement 2:").unwrap() > text.find(marked[0]).unwrap(),
        "{text}"
    );
}
