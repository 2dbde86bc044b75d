//! Hostile and broken inputs: each one gives a clear one-line error naming
//! the file (and line or byte offset), never a panic, and the run goes on
//! with the other inputs. Exit code 2 only when nothing could be scanned.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_pgcontract");
const TARGET: &str = "public.users.legacy_email";
/// A column no statement of the fixtures names.
const UNUSED: &str = "public.unused_table.unused_column";

/// A stderr log line with the fixtures' prefix, carrying `statement`.
fn statement_line(statement: &[u8]) -> Vec<u8> {
    let mut line =
        b"2026-11-21 23:17:18.811 UTC [999] user=u,db=d,app=a,client=127.0.0.1 LOG:  statement: "
            .to_vec();
    line.extend_from_slice(statement);
    line.push(b'\n');
    line
}

/// Runs `scan --format json` over `inputs`; returns the output, the parsed
/// report and stderr.
fn scan(inputs: &[&Path], extra: &[&str]) -> (Output, Value, String) {
    scan_column(TARGET, inputs, extra)
}

/// [`scan`] of another target column.
fn scan_column(column: &str, inputs: &[&Path], extra: &[&str]) -> (Output, Value, String) {
    let mut c = Command::new(BIN);
    c.args(["scan", "-c", column, "--format", "json", "--quiet"])
        .args(extra)
        .args(inputs)
        .current_dir(root())
        .stdin(Stdio::null());
    let out = c.output().expect("cannot run the pgcontract binary");
    assert!(
        out.status.code().is_some(),
        "killed by a signal (crash): {out:?}"
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not a JSON report ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, doc, err)
}

fn input<'a>(doc: &'a Value, path: &Path) -> &'a Value {
    let name = path.display().to_string();
    doc["coverage"]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["file"] == name.as_str())
        .unwrap_or_else(|| panic!("{name} is not in coverage: {doc:#}"))
}

fn errors(cov: &Value) -> Vec<String> {
    cov["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect()
}

fn analysed(cov: &Value) -> u64 {
    cov["statements"]["analysed"].as_u64().unwrap()
}

/// The good fixture every run carries along: its 43 analysed statements
/// prove the run went on past the bad input.
fn good() -> PathBuf {
    fixture("app/logs/custom.log")
}

/// Asserts the good input was scanned in full next to the bad one, and the
/// run ended with findings (exit 1), not an error.
fn assert_run_went_on(out: &Output, doc: &Value) {
    let cov = input(doc, &good());
    assert_eq!(analysed(cov), 43, "{cov:#}");
    assert!(errors(cov).is_empty(), "{cov:#}");
    assert_eq!(out.status.code(), Some(1), "{doc:#}");
}

/// Asserts stderr carries `error` on one line of its own, prefixed.
fn assert_stderr_line(stderr: &str, error: &str) {
    assert!(
        stderr.lines().any(|l| l == format!("pgcontract: {error}")),
        "stderr lacks {error:?}:\n{stderr}"
    );
}

#[test]
fn random_bytes_are_an_unrecognised_input_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("random.bin");
    // Deterministic noise (an LCG), with NULs and high bytes.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..65536)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect();
    std::fs::write(&bad, bytes).unwrap();
    let (out, doc, stderr) = scan(&[&bad, &good()], &[]);
    let errs = errors(input(&doc, &bad));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with(&format!("{}: unrecognised input format", bad.display())),
        "{errs:?}"
    );
    assert_stderr_line(&stderr, &errs[0]);
    assert_run_went_on(&out, &doc);
}

#[test]
fn empty_file_is_noted_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("empty.log");
    std::fs::write(&bad, b"").unwrap();
    let (out, doc, _) = scan(&[&bad, &good()], &[]);
    let cov = input(&doc, &bad);
    assert_eq!(cov["records"], 0);
    assert_eq!(cov["notes"], serde_json::json!(["the input is empty"]));
    assert_run_went_on(&out, &doc);
}

/// A log large enough to span several compressed blocks: the fixture
/// repeated, each copy under its own backend pid.
fn many_blocks_log() -> (Vec<u8>, u64, u64) {
    let text = std::fs::read_to_string(good()).unwrap();
    let mut out = String::new();
    for copy in 0..200 {
        out.push_str(&text.replace(" [", &format!(" [{copy}")));
    }
    (out.into_bytes(), 43 * 200, 149 * 200)
}

/// Compresses with `codec`, cuts the last 40 bytes, scans: the part before
/// the damage is scanned and coverage says after which line it stopped.
fn truncated_stream_is_scanned_up_to_the_damage(codec: &str) {
    let (log, all, all_lines) = many_blocks_log();
    let compressed = match codec {
        "gz" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&log).unwrap();
            e.finish().unwrap()
        }
        "bz2" => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(&log).unwrap();
            e.finish().unwrap()
        }
        "zst" => zstd::encode_all(&log[..], 1).unwrap(),
        _ => unreachable!(),
    };
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join(format!("truncated.log.{codec}"));
    std::fs::write(&bad, &compressed[..compressed.len() - 40]).unwrap();
    let (out, doc, stderr) = scan(&[&bad, &good()], &[]);
    let cov = input(&doc, &bad);
    let errs = errors(cov);
    assert_eq!(errs.len(), 1, "{cov:#}");
    let prefix = format!("{}: read error after line ", bad.display());
    let line: u64 = errs[0]
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{errs:?} does not say after which line"));
    assert_eq!(line, cov["lines"].as_u64().unwrap(), "{cov:#}");
    assert!(line > 0 && line < all_lines, "{cov:#}");
    assert!(errs[0].ends_with("the part before was scanned"), "{errs:?}");
    assert_stderr_line(&stderr, &errs[0]);
    let n = analysed(cov);
    assert!(n > 0 && n <= all, "analysed {n} of {all}: {cov:#}");
    assert!(
        cov["notes"].as_array().unwrap().iter().any(|note| note
            .as_str()
            .unwrap()
            .contains("compressed stream is damaged")),
        "{cov:#}"
    );
    assert_run_went_on(&out, &doc);
}

#[test]
fn truncated_gzip_is_scanned_up_to_the_damage() {
    truncated_stream_is_scanned_up_to_the_damage("gz");
}

#[test]
fn truncated_bzip2_is_scanned_up_to_the_damage() {
    truncated_stream_is_scanned_up_to_the_damage("bz2");
}

#[test]
fn truncated_zstd_is_scanned_up_to_the_damage() {
    truncated_stream_is_scanned_up_to_the_damage("zst");
}

#[test]
fn invalid_utf8_is_decoded_lossily_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("latin1.log");
    let mut bytes = statement_line(b"select legacy_email from users where name = '\xe9t\xe9'");
    bytes.extend(statement_line(b"select id from users"));
    bytes.extend(statement_line(b"select \xff\xfe, legacy_email from users"));
    std::fs::write(&bad, bytes).unwrap();
    let (out, doc, _) = scan(&[&bad, &good()], &[]);
    let cov = input(&doc, &bad);
    assert_eq!(cov["invalid_utf8_lines"], 2, "{cov:#}");
    assert_eq!(cov["records"], 3, "{cov:#}");
    // U+FFFD, like any high-bit byte, lexes as part of an identifier.
    assert_eq!(cov["statements"]["analysed"], 3, "{cov:#}");
    assert_eq!(cov["statements"]["unparseable"], 0, "{cov:#}");
    assert!(errors(cov).is_empty(), "{cov:#}");
    let deps = deps_from(&doc, &bad);
    // Both reads, the one with a lossily decoded identifier included.
    assert_eq!(deps.len(), 2, "{deps:#?}");
    assert_run_went_on(&out, &doc);
}

#[test]
fn csvlog_with_an_unbalanced_quote_names_the_line_and_reads_on() {
    let text = std::fs::read_to_string(fixture("app/logs/custom.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[19] = lines[19].replacen('"', "", 1);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("unbalanced.csv");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let (out, doc, stderr) = scan(&[&bad, &good()], &[]);
    let cov = input(&doc, &bad);
    let errs = errors(cov);
    assert_eq!(
        errs,
        [format!(
            "{}:20: unbalanced quote: the next record starts before it ends",
            bad.display()
        )]
    );
    assert_stderr_line(&stderr, &errs[0]);
    assert_eq!(cov["format"], "csvlog");
    assert!(analysed(cov) > 0, "{cov:#}");
    assert_run_went_on(&out, &doc);
}

#[test]
fn jsonlog_with_a_broken_line_names_the_line_and_reads_on() {
    let text = std::fs::read_to_string(fixture("app/logs/custom.json")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[19].truncate(40);
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.json");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let (out, doc, stderr) = scan(&[&bad, &good()], &[]);
    let cov = input(&doc, &bad);
    let errs = errors(cov);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with(&format!("{}:20: not valid JSON", bad.display())),
        "{errs:?}"
    );
    assert_stderr_line(&stderr, &errs[0]);
    assert_eq!(cov["format"], "jsonlog");
    assert!(analysed(cov) > 0, "{cov:#}");
    assert_run_went_on(&out, &doc);
}

#[test]
fn a_64_mb_single_statement_is_analysed_without_its_literal() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("huge.log");
    let mut stmt = b"select legacy_email, '".to_vec();
    stmt.extend(std::iter::repeat_n(b'q', 64 << 20));
    stmt.extend(b"' from users");
    std::fs::write(&bad, statement_line(&stmt)).unwrap();
    let (out, doc, stderr) = scan(&[&bad, &good()], &[]);
    let cov = input(&doc, &bad);
    assert_eq!(cov["records"], 1, "{cov:#}");
    assert_eq!(analysed(cov), 1, "{cov:#}");
    let deps: Vec<&Value> = doc["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["sources"][0] == format!("{}:1", bad.display()).as_str())
        .collect();
    assert_eq!(deps.len(), 1, "{deps:#?}");
    assert_eq!(deps[0]["query"], "select legacy_email, $1 from users");
    assert_eq!(deps[0]["confidence"], "certain");
    assert!(
        out.stdout.len() < 1 << 20,
        "the literal leaked into the report"
    );
    assert!(!stderr.contains("qqqq"));
    assert_run_went_on(&out, &doc);
}

#[test]
fn sql_nested_10000_deep_is_reported_too_deep() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("deep.log");
    let n = 10_000;
    let mut log = Vec::new();
    // Parentheses, NOT chains, arithmetic chains and nested subqueries.
    log.extend(statement_line(
        format!(
            "select {}legacy_email{} from users",
            "(".repeat(n),
            ")".repeat(n)
        )
        .as_bytes(),
    ));
    log.extend(statement_line(
        format!(
            "select legacy_email from users where {}true",
            "not ".repeat(n)
        )
        .as_bytes(),
    ));
    log.extend(statement_line(
        format!("select legacy_email{} from users", " + 1".repeat(n)).as_bytes(),
    ));
    log.extend(statement_line(
        format!(
            "select legacy_email from {}users{}",
            "(select * from ".repeat(n),
            ") s".repeat(n)
        )
        .as_bytes(),
    ));
    std::fs::write(&bad, log).unwrap();
    let (out, doc, _) = scan(&[&bad, &good()], &[]);
    let cov = input(&doc, &bad);
    assert_eq!(cov["records"], 4, "{cov:#}");
    assert_eq!(cov["statements"]["unparseable"], 4, "{cov:#}");
    let reasons = cov["statements"]["unparseable_reasons"]
        .as_object()
        .unwrap();
    assert_eq!(
        reasons.values().map(|v| v.as_u64().unwrap()).sum::<u64>(),
        4
    );
    assert!(
        reasons.keys().all(|r| r.starts_with("too deep")),
        "{reasons:?}"
    );
    // Each names the column: evidence kept as possible, never dropped.
    let deps = deps_from(&doc, &bad);
    assert_eq!(deps.len(), 4, "{deps:#?}");
    assert!(
        deps.iter().all(|d| d["confidence"] == "possible"),
        "{deps:#?}"
    );
    assert_run_went_on(&out, &doc);
}

/// Root can read any file whatever its mode, so unreadable entries are
/// made with symlinks: one dangling, two pointing at each other (a loop).
#[test]
fn directory_with_unopenable_entries_reports_each_and_reads_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("logs");
    std::fs::create_dir(&d).unwrap();
    std::fs::copy(good(), d.join("good.log")).unwrap();
    std::os::unix::fs::symlink(d.join("gone"), d.join("dangling.log")).unwrap();
    std::os::unix::fs::symlink(d.join("loop-b.log"), d.join("loop-a.log")).unwrap();
    std::os::unix::fs::symlink(d.join("loop-a.log"), d.join("loop-b.log")).unwrap();
    let (out, doc, stderr) = scan(&[&d], &[]);
    for (name, why) in [
        ("dangling.log", "No such file or directory"),
        ("loop-a.log", "Too many levels of symbolic links"),
        ("loop-b.log", "Too many levels of symbolic links"),
    ] {
        let p = d.join(name);
        let errs = errors(input(&doc, &p));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with(&format!("{}: cannot open: {why}", p.display())),
            "{errs:?}"
        );
        assert_stderr_line(&stderr, &errs[0]);
    }
    assert_eq!(analysed(input(&doc, &d.join("good.log"))), 43);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn missing_path_is_an_error_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("no-such.log");
    let (out, doc, stderr) = scan(&[&bad, &good()], &[]);
    let errs = errors(input(&doc, &bad));
    assert_eq!(
        errs,
        [format!(
            "{}: cannot open: No such file or directory (os error 2)",
            bad.display()
        )]
    );
    assert_stderr_line(&stderr, &errs[0]);
    assert_run_went_on(&out, &doc);
}

#[test]
fn schema_dump_that_does_not_parse_is_a_warning_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.sql");
    std::fs::write(
        &schema,
        "CREATE TABLE users (id int, legacy_email text);\n\nCREATE TABEL 'secret-in-schema' orders (id int);\n",
    )
    .unwrap();
    let (out, doc, stderr) = scan(&[&good()], &["--schema", schema.to_str().unwrap()]);
    let warnings: Vec<&str> = doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        warnings.contains(
            &format!(
                "{}: line 3: schema statement 2 does not parse: syntax error",
                schema.display()
            )
            .as_str()
        ),
        "{warnings:?}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("secret-in-schema"));
    assert!(!stderr.contains("secret-in-schema"));
    // The table that did parse is in the catalog: the target is known.
    assert!(
        !warnings.iter().any(|w| w.contains("is not in the schema")),
        "{warnings:?}"
    );
    assert_run_went_on(&out, &doc);
}

#[test]
fn schema_dump_with_an_unterminated_string_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.sql");
    std::fs::write(
        &schema,
        "CREATE TABLE users (id int);\nSELECT 'never closed\n",
    )
    .unwrap();
    let (out, doc, _) = scan(&[&good()], &["--schema", schema.to_str().unwrap()]);
    let warnings = doc["warnings"].to_string();
    assert!(
        warnings.contains(&format!(
            "{}: the schema dump does not parse: an unterminated string",
            schema.display()
        )),
        "{warnings}"
    );
    assert!(!warnings.contains("never closed"), "{warnings}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn nothing_scannable_exits_2_with_every_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.log");
    let noise = dir.path().join("noise.bin");
    std::fs::write(&noise, [0u8, 159, 146, 150, 255, 0, 1, 2, 3]).unwrap();
    let (out, doc, stderr) = scan(&[&missing, &noise], &[]);
    assert_eq!(out.status.code(), Some(2), "{doc:#}");
    assert_eq!(errors(input(&doc, &missing)).len(), 1);
    assert_eq!(errors(input(&doc, &noise)).len(), 1);
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
}

/// The dependency rows whose first sample comes from `input`.
fn deps_from<'d>(doc: &'d Value, input: &std::path::Path) -> Vec<&'d Value> {
    let name = input.to_string_lossy();
    doc["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["sources"][0].as_str().unwrap().starts_with(&*name))
        .collect()
}

#[test]
fn an_unreadable_input_beside_a_clean_one_is_not_clear() {
    // A column no statement of the good log names: clear on that log alone;
    // beside an input that could not be read, or read only in part, it is
    // inconclusive (what was not read could use it), with the gap named.
    let dir = tempfile::tempdir().unwrap();
    let random = dir.path().join("random.bin");
    std::fs::write(
        &random,
        (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let truncated = dir.path().join("truncated.log.gz");
    let (log, _, _) = many_blocks_log();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&log).unwrap();
    let gz = e.finish().unwrap();
    std::fs::write(&truncated, &gz[..gz.len() / 2]).unwrap();
    let missing = dir.path().join("missing.log");
    let verdict = |inputs: &[&Path]| {
        let (out, doc, _) = scan_column(UNUSED, inputs, &[]);
        let t = &doc["targets"][0];
        (
            out.status.code(),
            t["verdict"].as_str().unwrap().to_string(),
            t["coverage_gaps"].to_string(),
        )
    };
    let (code, v, gaps) = verdict(&[&good()]);
    assert_eq!((code, v.as_str(), gaps.as_str()), (Some(0), "clear", "[]"));
    for bad in [&random, &truncated, &missing] {
        let (code, v, gaps) = verdict(&[bad, &good()]);
        assert_eq!(v, "inconclusive", "{}", bad.display());
        assert_eq!(code, Some(1), "{}", bad.display());
        assert!(
            gaps.contains("part of this input could not be read (see its errors)"),
            "{}: {gaps}",
            bad.display()
        );
    }
}

#[test]
fn the_same_log_given_twice_is_warned_about() {
    // A log beside its compressed copy: the same content, counted twice.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.log.gz");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&std::fs::read(good()).unwrap()).unwrap();
    std::fs::write(&copy, e.finish().unwrap()).unwrap();
    let (_, doc, _) = scan(&[&good(), &copy], &[]);
    let warnings: Vec<&str> = doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|w| w.contains("have the same content"))
        .collect();
    assert_eq!(warnings.len(), 1, "{doc:#}");
    assert!(
        warnings[0].contains(&copy.display().to_string()),
        "{warnings:?}"
    );
    assert!(
        warnings[0].contains(&good().display().to_string()),
        "{warnings:?}"
    );
    // One copy alone: no such warning.
    let (_, doc, _) = scan(&[&good()], &[]);
    assert!(!doc["warnings"].to_string().contains("same content"));
}

#[test]
fn a_statement_on_a_line_the_prefix_does_not_match_is_a_blind_spot() {
    // The server's prefix changed mid-file (or a line was cut): the line
    // carries a statement that could not be read, so no column is clear.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("changed.log");
    let mut text = std::fs::read(good()).unwrap();
    text.extend_from_slice(
        b"2026-11-21 23:59:59 UTC [4242] LOG:  statement: SELECT unused_column FROM unused_table\n\
          a line from another program\n",
    );
    std::fs::write(&log, text).unwrap();
    let (out, doc, _) = scan_column(UNUSED, &[&log], &[]);
    let cov = input(&doc, &log);
    assert_eq!(
        cov["skipped"],
        serde_json::json!({
            "line does not match log_line_prefix": 1,
            "line does not match log_line_prefix, and carries a statement": 1
        }),
        "{cov:#}"
    );
    assert_eq!(doc["targets"][0]["verdict"], "inconclusive", "{doc:#}");
    assert!(doc["targets"][0]["coverage_gaps"]
        .to_string()
        .contains("1 line that log_line_prefix does not match carries a statement"));
    assert_eq!(out.status.code(), Some(1));
}
