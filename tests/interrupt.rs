//! SIGINT and SIGTERM: an interrupted `scan --state … --output …` leaves
//! the previous state and report exactly as they were (or, had their write
//! begun, completely rewritten), writes nothing half-done, leaves no
//! temporary file behind, and exits with 128 + the signal number.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{fixture, root};

const BIN: &str = env!("CARGO_BIN_EXE_pgcontract");
const TARGET: &str = "public.users.legacy_email";
const HANG: Duration = Duration::from_secs(600);

fn command(dir: &Path, input: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.args([
        "scan", "-c", TARGET, "--format", "json", "--quiet", "--state",
    ])
    .arg(dir.join("state.json"))
    .arg("--output")
    .arg(dir.join("report.json"))
    .arg(input)
    .current_dir(root())
    .env_remove("PGCONTRACT_TEST_PANIC_ON")
    .stdin(Stdio::null())
    .stdout(Stdio::null());
    c
}

fn wait(child: &mut Child) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the scan did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Bytes the process has read so far (`rchar` of /proc/PID/io), `None`
/// once it has ended.
fn bytes_read(pid: u32) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .and_then(|n| n.trim().parse().ok())
}

/// The directory's entries, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A stderr log large enough that a debug build scans it for seconds: the
/// generated sample repeated `times`.
fn large_log(dir: &Path, times: usize) -> PathBuf {
    let sample = std::fs::read(root().join("fixtures/genlog/seed7-400KB.log")).unwrap();
    let path = dir.join("large.log");
    std::fs::write(&path, sample.repeat(times)).unwrap();
    path
}

/// Creates a state and report with a small input, then interrupts a scan
/// of a large one with `signal` once it has started reading. The invariant
/// (nothing half-written, no temporary file) holds however the run ended;
/// the run must be found interrupted, and then the old files must be
/// untouched, on the first input or (should a run have finished before the
/// signal came) on a four times larger one.
fn interrupted_scan_keeps_the_previous_state(signal: &str, number: i32) {
    for times in [24, 96] {
        if interrupt_once(signal, number, times) {
            return;
        }
    }
    panic!("every run finished before SIG{signal} reached it");
}

/// One attempt (see [`interrupted_scan_keeps_the_previous_state`]); false
/// when the run finished before the signal came.
fn interrupt_once(signal: &str, number: i32, times: usize) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let first = command(&out, &fixture("app/logs/custom.log"))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(first.code(), Some(1), "first run: {first:?}");
    let state = std::fs::read(out.join("state.json")).unwrap();
    let report = std::fs::read(out.join("report.json")).unwrap();
    let before = entries(&out);
    assert_eq!(before, ["report.json", "state.json"]);

    let large = large_log(dir.path(), times);
    let stderr_path = dir.path().join("stderr.txt");
    let mut child = command(&out, &large)
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    // Started: it has read part of the large input (the signal handler is
    // in place before any input is opened).
    let started = Instant::now();
    while bytes_read(child.id()).is_some_and(|n| n < 1 << 20) {
        assert!(started.elapsed() < HANG, "the scan never started reading");
        std::thread::sleep(Duration::from_millis(5));
    }
    let killed = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait(&mut child);
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();

    // However it ended, nothing is half-written and no temporary file is
    // left: the state and report parse.
    assert_eq!(entries(&out), before, "{stderr}");
    let state_now = std::fs::read(out.join("state.json")).unwrap();
    let state_doc: serde_json::Value = serde_json::from_slice(&state_now).unwrap();
    let report_now = std::fs::read(out.join("report.json")).unwrap();
    serde_json::from_slice::<serde_json::Value>(&report_now).unwrap();
    if status.code() == Some(1) {
        // Finished before the signal: the new state is complete.
        let text = state_doc.to_string();
        assert!(text.contains("large.log") && text.contains("custom.log"));
        return false;
    }
    assert_eq!(
        status.code(),
        Some(128 + number),
        "{status:?}; stderr: {stderr}"
    );
    assert_eq!(state_now, state, "the previous state changed");
    assert_eq!(report_now, report, "the previous report changed");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "pgcontract: interrupted (SIG{signal}): nothing is left half-written (a --state or --output file is as it was, or completely rewritten if its write had begun)"
        )
    );

    // The next run picks up from the previous state as if the interrupted
    // one never happened.
    let resumed = command(&out, &large)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(resumed.code(), Some(1));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("state.json")).unwrap()).unwrap();
    let text = doc.to_string();
    assert!(text.contains("large.log") && text.contains("custom.log"));
    assert_eq!(entries(&out), before);
    true
}

#[test]
fn sigint_leaves_the_previous_state_and_report_intact() {
    interrupted_scan_keeps_the_previous_state("INT", 2);
}

#[test]
fn sigterm_leaves_the_previous_state_and_report_intact() {
    interrupted_scan_keeps_the_previous_state("TERM", 15);
}
