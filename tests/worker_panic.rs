//! A panic (a bug in pgcontract) while scanning one input, or one chunk of
//! a large log, is reported in that input's coverage and on stderr,
//! never a hang or an abort: the run goes on with the other inputs and
//! chunks. Uses the debug-build test hook `PGCONTRACT_TEST_PANIC_ON`
//! (src/panics.rs).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fixture, root};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_pgcontract");
const TARGET: &str = "public.users.legacy_email";
/// Far above what these scans need even on a loaded machine: reaching it
/// means the run hung.
const HANG: Duration = Duration::from_secs(600);

struct Run {
    code: Option<i32>,
    doc: Value,
    stderr: String,
}

/// Runs `scan --format json` over `inputs` with the test hook set to
/// `panic_on` (none when empty), failing the test if it does not end in
/// time.
fn scan(dir: &Path, inputs: &[PathBuf], panic_on: &str) -> Run {
    let out = dir.join(format!("report-{}.json", panic_on.replace(['/', '@'], "_")));
    let err = dir.join(format!("stderr-{}.txt", panic_on.replace(['/', '@'], "_")));
    let mut c = Command::new(BIN);
    c.args([
        "scan", "-c", TARGET, "--format", "json", "--quiet", "--output",
    ])
    .arg(&out)
    .args(inputs)
    .current_dir(root())
    .env_remove("RUST_BACKTRACE")
    .env_remove("PGCONTRACT_SHOW_PANICS")
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&err).unwrap());
    if panic_on.is_empty() {
        c.env_remove("PGCONTRACT_TEST_PANIC_ON");
    } else {
        c.env("PGCONTRACT_TEST_PANIC_ON", panic_on);
    }
    let mut child = c.spawn().expect("cannot run the pgcontract binary");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the scan hung (PGCONTRACT_TEST_PANIC_ON={panic_on})");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = std::fs::read_to_string(&err).unwrap();
    assert!(
        status.code().is_some(),
        "killed by a signal (abort): {status:?}; stderr: {stderr}"
    );
    let doc = serde_json::from_slice(&std::fs::read(&out).unwrap_or_else(|e| {
        panic!("no report written ({e}); stderr: {stderr}");
    }))
    .unwrap();
    Run {
        code: status.code(),
        doc,
        stderr,
    }
}

fn input<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["coverage"]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["file"] == name)
        .unwrap_or_else(|| panic!("{name} is not in coverage: {doc:#}"))
}

const HOOK_MESSAGE: &str = "test panic requested with PGCONTRACT_TEST_PANIC_ON";
const BLIND_SPOT: &str = "an internal error (a bug in pgcontract) stopped the scan of part of this input: what that part holds is unknown";

/// The panic hook printed where the panic happened, and nothing but
/// pgcontract's own lines (no input value).
fn assert_panic_printed(stderr: &str) {
    assert!(
        stderr.contains("pgcontract: internal error (a bug in pgcontract) in ")
            && stderr.contains("src/panics.rs:")
            && stderr.contains(HOOK_MESSAGE),
        "{stderr}"
    );
    for line in stderr.lines() {
        assert!(line.starts_with("pgcontract: "), "unexpected line: {line}");
    }
}

#[test]
fn panic_in_one_input_is_reported_and_the_other_input_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let good = fixture("app/logs/custom.log");
    let bad = fixture("app/logs/rds.log");
    let good_name = good.display().to_string();
    let bad_name = bad.display().to_string();
    let alone = scan(dir.path(), std::slice::from_ref(&good), "");
    let run = scan(dir.path(), &[good.clone(), bad.clone()], "rds.log");

    // The other input: exactly what it gives on its own.
    assert_eq!(run.doc["dependencies"], alone.doc["dependencies"]);
    assert!(!alone.doc["dependencies"].as_array().unwrap().is_empty());
    assert_eq!(input(&run.doc, &good_name), input(&alone.doc, &good_name));
    // The panicking input: an error naming it, nothing from it, and a
    // blind spot keeping the verdict from clear.
    let b = input(&run.doc, &bad_name);
    assert_eq!(b["format"], "unscanned");
    assert_eq!(b["records"], 0);
    assert_eq!(
        b["errors"],
        serde_json::json!([format!(
            "{bad_name}: internal error while scanning this input (a bug in pgcontract: {HOOK_MESSAGE}); what it holds is left out of the results"
        )])
    );
    assert_eq!(b["blind_spots"], serde_json::json!([BLIND_SPOT]));
    assert_eq!(
        run.doc["targets"][0]["coverage_gaps"],
        serde_json::json!([format!("{bad_name}: {BLIND_SPOT}")])
    );
    assert_ne!(run.doc["targets"][0]["verdict"], "clear");
    assert_eq!(run.code, Some(1));
    assert_panic_printed(&run.stderr);
}

#[test]
fn panic_in_the_only_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = fixture("app/logs/rds.log");
    let run = scan(dir.path(), &[bad], "rds.log");
    assert_eq!(run.code, Some(2));
    assert_panic_printed(&run.stderr);
}

/// A stderr log of several default-size (4 MiB) chunks: the generated
/// sample repeated.
fn large_log(dir: &Path) -> (PathBuf, String) {
    let sample = std::fs::read_to_string(root().join("fixtures/genlog/seed7-400KB.log")).unwrap();
    let text = sample.repeat(24);
    assert!(text.len() > 9 << 20, "fewer than three chunks");
    let path = dir.join("robust-chunks.log");
    std::fs::write(&path, &text).unwrap();
    (path, text)
}

/// Records in `lines` (1-based, inclusive): lines that do not continue a
/// record (genlog continues records with a tab).
fn records_in(text: &str, from: usize, to: usize) -> u64 {
    text.lines()
        .enumerate()
        .filter(|(i, l)| (from..=to).contains(&(i + 1)) && !l.starts_with('\t'))
        .count() as u64
}

#[test]
fn panic_in_one_chunk_leaves_out_exactly_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (log, text) = large_log(dir.path());
    let name = log.display().to_string();
    let run = scan(
        dir.path(),
        std::slice::from_ref(&log),
        "robust-chunks.log@chunk1",
    );
    let cov = input(&run.doc, &name);
    let (from, to) = lost_lines(cov, &name, "lines ");
    let (from, to) = (from as usize, to as usize);
    // Chunk 1 starts after the first 4 MiB and ends before the end.
    let total_lines = text.lines().count();
    assert!(from > 1 && to < total_lines && from < to, "{from}..{to}");
    // Exactly the chunk's lines and records are missing; the rest is read.
    assert_eq!(
        cov["lines"].as_u64().unwrap(),
        (total_lines - (to - from + 1)) as u64
    );
    assert_eq!(
        cov["records"].as_u64().unwrap(),
        records_in(&text, 1, total_lines) - records_in(&text, from, to)
    );
    assert_eq!(cov["format"], "stderr");
    assert!(!run.doc["dependencies"].as_array().unwrap().is_empty());
    assert_left_out_is_said(&run, cov);
}

#[test]
fn panic_escaping_a_chunk_worker_neither_hangs_nor_loses_the_other_input() {
    // A panic where chunks are settled is not caught per chunk: it unwinds
    // through the pool while the reader thread is still cutting chunks. The
    // reader must stop (no deadlock) and the input becomes one error.
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = large_log(dir.path());
    let name = log.display().to_string();
    let good = fixture("app/logs/custom.log");
    let good_name = good.display().to_string();
    let alone = scan(dir.path(), std::slice::from_ref(&good), "");
    let run = scan(
        dir.path(),
        &[good.clone(), log.clone()],
        "robust-chunks.log@settle0",
    );
    let cov = input(&run.doc, &name);
    assert_eq!(cov["format"], "unscanned");
    assert_eq!(
        cov["errors"],
        serde_json::json!([format!(
            "{name}: internal error while scanning this input (a bug in pgcontract: {HOOK_MESSAGE}); what it holds is left out of the results"
        )])
    );
    assert_eq!(run.doc["dependencies"], alone.doc["dependencies"]);
    assert_eq!(input(&run.doc, &good_name), input(&alone.doc, &good_name));
    assert_panic_printed(&run.stderr);
}

#[path = "../examples/support/syslog_wrap.rs"]
mod syslog_wrap;

/// The lines `from` to `to` named by the only error of `cov`, which must
/// say that a panic left out `part` (`… lines from to to`).
fn lost_lines(cov: &Value, name: &str, part: &str) -> (u64, u64) {
    let errors = cov["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{part}: {errors:?}");
    let e = errors[0].as_str().unwrap();
    let rest = e
        .strip_prefix(&format!("{name}: internal error while scanning {part}"))
        .unwrap_or_else(|| panic!("{part}: {e}"));
    let (from, rest) = rest.split_once(" to ").unwrap();
    let (to, tail) = rest.split_once(' ').unwrap();
    assert_eq!(
        tail,
        format!("(a bug in pgcontract: {HOOK_MESSAGE}); that part is left out of the results")
    );
    (from.parse().unwrap(), to.parse().unwrap())
}

/// A part of the input was left out of `run` (input coverage `cov`): some
/// records, not all of `whole`'s, were read; a blind spot keeps the verdict
/// from `clear`; the panic was printed.
fn assert_part_left_out(run: &Run, cov: &Value, whole: &Value) {
    let records = cov["records"].as_u64().unwrap();
    assert!(records > 0 && records < whole["records"].as_u64().unwrap());
    assert_left_out_is_said(run, cov);
}

/// The run says that part of an input (coverage `cov`) was left out: a
/// blind spot keeps the verdict from `clear`, and the panic was printed.
fn assert_left_out_is_said(run: &Run, cov: &Value) {
    assert!(
        cov["blind_spots"]
            .as_array()
            .unwrap()
            .contains(&Value::from(BLIND_SPOT)),
        "{cov:#}"
    );
    assert_ne!(run.doc["targets"][0]["verdict"], "clear");
    assert_panic_printed(&run.stderr);
}

#[test]
fn panic_in_one_syslog_chunk_leaves_out_the_messages_its_lines_completed() {
    // Syslog messages are put together in file order before the parts are
    // scanned: a panic while scanning part 1 loses the messages chunk 1's
    // lines completed, and the other parts (and the assembler, which runs
    // before) go on; the run neither hangs nor loses the rest.
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read(root().join("fixtures/genlog/seed7-400KB.log")).unwrap();
    let mut w = syslog_wrap::SyslogWriter::new(Vec::new(), 4);
    w.write_all(&sample.repeat(20)).unwrap();
    let text = String::from_utf8(w.finish().unwrap()).unwrap();
    assert!(text.len() > 9 << 20, "fewer than three chunks");
    let log = dir.path().join("robust-syslog.log");
    std::fs::write(&log, &text).unwrap();
    let name = log.display().to_string();
    let whole = scan(dir.path(), std::slice::from_ref(&log), "");
    let whole = input(&whole.doc, &name);
    assert_eq!(whole["format"], "syslog");
    assert_eq!(whole["errors"], Value::Array(Vec::new()));
    let run = scan(
        dir.path(),
        std::slice::from_ref(&log),
        "robust-syslog.log@chunk1",
    );
    let cov = input(&run.doc, &name);
    let part = "the syslog messages completed by lines ";
    let (from, to) = lost_lines(cov, &name, part);
    let total_lines = text.lines().count() as u64;
    assert!(from > 1 && to < total_lines && from < to, "{from}..{to}");
    // The chunk's lines are not counted, and fewer records are read.
    assert_eq!(cov["lines"].as_u64(), Some(total_lines - (to - from + 1)));
    assert_part_left_out(&run, cov, whole);
}

#[test]
fn panic_reading_or_scanning_a_cloud_sql_part_leaves_out_only_that_part() {
    // Cloud SQL chunks are read into payloads in parallel (a panic there
    // loses the chunk's lines), then the payloads, in time order, are sent
    // out in batches (a panic there loses those not yet sent) and scanned
    // in parallel (a panic there loses the batch's entries; their lines
    // were read and are counted). Either way the run goes on, and says
    // what it left out.
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(fixture("cloud/cloudsql.ndjson")).unwrap();
    let text = sample.repeat(160);
    assert!(text.len() > 9 << 20, "fewer than three chunks");
    let log = dir.path().join("robust-cloudsql.ndjson");
    std::fs::write(&log, &text).unwrap();
    let name = log.display().to_string();
    let total_lines = text.lines().count() as u64;
    let whole = scan(dir.path(), std::slice::from_ref(&log), "");
    let whole = input(&whole.doc, &name);
    assert_eq!(whole["format"], "cloudsql");
    assert_eq!(whole["errors"], Value::Array(Vec::new()));
    assert_eq!(whole["lines"].as_u64(), Some(total_lines));
    for (point, part, lines_lost) in [
        ("payloads1", "lines ", true),
        (
            "chunk1",
            "the Cloud SQL entries (in time order) of lines ",
            false,
        ),
    ] {
        let run = scan(
            dir.path(),
            std::slice::from_ref(&log),
            &format!("robust-cloudsql.ndjson@{point}"),
        );
        let cov = input(&run.doc, &name);
        let (from, to) = lost_lines(cov, &name, part);
        assert!(
            from > 1 && to < total_lines && from < to,
            "{point}: {from}..{to}"
        );
        let lines = match lines_lost {
            true => total_lines - (to - from + 1),
            false => total_lines,
        };
        assert_eq!(cov["lines"].as_u64(), Some(lines), "{point}");
        assert_part_left_out(&run, cov, whole);
    }
    // A panic while the payloads in time order are sent out (after the
    // first batch) loses the entries not yet sent; every line was read.
    let run = scan(
        dir.path(),
        std::slice::from_ref(&log),
        "robust-cloudsql.ndjson@sorted1",
    );
    let cov = input(&run.doc, &name);
    assert_eq!(
        cov["errors"],
        serde_json::json!([format!(
            "{name}: internal error while scanning the Cloud SQL entries put in time order (a bug in pgcontract: {HOOK_MESSAGE}); that part is left out of the results"
        )])
    );
    assert_eq!(cov["lines"].as_u64(), Some(total_lines));
    assert_part_left_out(&run, cov, whole);
}
