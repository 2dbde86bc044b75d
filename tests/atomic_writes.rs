//! Output and state files are written atomically (`write_atomically`: a
//! temporary file in the same directory, flushed, then renamed): a write that
//! fails half-way — here a file-size limit (`ulimit -f`, with SIGXFSZ
//! ignored, as a full disk would) or a target that is a directory — leaves
//! the previous file byte-identical and no temporary file behind.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_pgcontract");

/// The file-size limit of the limited runs, in KiB: every output written
/// here is larger (checked), so the write fails half-way.
const LIMIT_KIB: u64 = 1;

/// `scan -c users.legacy_email --format FORMAT --output OUTPUT LOG`.
fn scan_to_args<'a>(format: &'a str, output: &'a str, log: &'a str) -> Vec<&'a str> {
    vec![
        "scan",
        "-c",
        "users.legacy_email",
        "--format",
        format,
        "--output",
        output,
        log,
    ]
}

/// Runs the binary; with `limited`, under `ulimit -f LIMIT_KIB` with
/// SIGXFSZ ignored, so that a write past the limit fails with EFBIG.
fn pgc(args: &[&str], dir: &Path, limited: bool) -> Output {
    let mut c = if limited {
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(format!(
                "trap '' XFSZ; ulimit -f {LIMIT_KIB}; exec \"$0\" \"$@\""
            ))
            .arg(BIN);
        c
    } else {
        Command::new(BIN)
    };
    c.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run the pgcontract binary")
}

fn temporaries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".pgcontract-"))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn log() -> String {
    fixture("app/logs/custom.log")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn a_report_write_that_fails_half_way_leaves_the_old_report_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let inventory = dir.join("inventory.json");
    let out = pgc(&scan_to_args("json", "inventory.json", &log()), dir, false);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let inventory_arg = inventory.to_string_lossy().into_owned();
    let log = log();
    let commands: Vec<(&str, Vec<&str>)> = vec![
        ("scan", scan_to_args("markdown", "out.md", &log)),
        (
            "report",
            vec![
                "report",
                "--format",
                "markdown",
                "--output",
                "out.md",
                &inventory_arg,
            ],
        ),
        (
            "merge",
            vec![
                "merge",
                "--format",
                "markdown",
                "--output",
                "out.md",
                &inventory_arg,
            ],
        ),
    ];
    let target = dir.join("out.md");
    for (what, args) in commands {
        // Unlimited, the report is larger than the limit.
        let out = pgc(&args, dir, false);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        let full = std::fs::read(&target).unwrap();
        assert!(
            full.len() as u64 > LIMIT_KIB * 1024,
            "{what}: {}",
            full.len()
        );

        std::fs::write(&target, "the previous report\n").unwrap();
        let out = pgc(&args, dir, true);
        assert_eq!(out.status.code(), Some(2), "{what}: {out:?}");
        let err = stderr(&out);
        assert!(
            err.contains("out.md: cannot write the report"),
            "{what}: {err}"
        );
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "the previous report\n",
            "{what}"
        );
        assert_eq!(temporaries(dir), Vec::<PathBuf>::new(), "{what}");
    }
}

#[test]
fn a_state_write_that_fails_half_way_leaves_the_old_state_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let text = std::fs::read_to_string(fixture("app/logs/custom.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let half = lines.len() / 2;
    let log = dir.join("postgresql.log");
    std::fs::write(&log, lines[..half].join("\n") + "\n").unwrap();
    let args = [
        "scan",
        "-c",
        "users.legacy_email",
        "--format",
        "json",
        "--state",
        "state.json",
        "postgresql.log",
    ];
    let out = pgc(&args, dir, false);
    assert!(out.status.code() != Some(2), "{}", stderr(&out));
    let state = dir.join("state.json");
    let before = std::fs::read(&state).unwrap();
    assert!(before.len() as u64 > LIMIT_KIB * 1024);

    // More log; the run that would record it cannot write its state.
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let out = pgc(&args, dir, true);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(stderr(&out).contains("state.json"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&state).unwrap(), before);
    assert_eq!(temporaries(dir), Vec::<PathBuf>::new());

    // The next run still reads the new part, from the old state.
    let out = pgc(&args, dir, false);
    assert!(out.status.code() != Some(2), "{}", stderr(&out));
    let full = pgc(
        &[
            "scan",
            "-c",
            "users.legacy_email",
            "--format",
            "json",
            "postgresql.log",
        ],
        dir,
        false,
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let w: serde_json::Value = serde_json::from_slice(&full.stdout).unwrap();
    assert_eq!(
        v["coverage"]["totals"]["records"],
        w["coverage"]["totals"]["records"]
    );
    assert_eq!(v["dependencies"], w["dependencies"]);
}

#[test]
fn an_output_path_that_is_a_directory_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sub = dir.join("reports");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("keep.txt"), "kept").unwrap();
    let out = pgc(
        &[
            "scan",
            "-c",
            "users.legacy_email",
            "--output",
            "reports",
            &log(),
        ],
        dir,
        false,
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        stderr(&out).contains("reports: cannot write the report"),
        "{}",
        stderr(&out)
    );
    assert!(sub.is_dir());
    assert_eq!(
        std::fs::read_to_string(sub.join("keep.txt")).unwrap(),
        "kept"
    );
    assert_eq!(temporaries(dir), Vec::<PathBuf>::new());
}

#[test]
fn an_output_through_a_symlink_replaces_its_target_and_keeps_permissions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let real = dir.join("real.md");
    std::fs::write(&real, "old").unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::os::unix::fs::symlink("real.md", dir.join("link.md")).unwrap();
    let out = pgc(&scan_to_args("markdown", "link.md", &log()), dir, false);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let link = std::fs::symlink_metadata(dir.join("link.md")).unwrap();
    assert!(link.file_type().is_symlink());
    let report = std::fs::read_to_string(&real).unwrap();
    assert!(
        report.starts_with("<!-- pgcontract:inventory v1 -->"),
        "{report}"
    );
    let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    assert_eq!(temporaries(dir), Vec::<PathBuf>::new());
}

#[test]
fn an_output_that_is_a_named_pipe_is_written_to_not_replaced() {
    // `--output /dev/null` (run as root) once replaced the device with a
    // regular file: a file renamed over it. A target that is no file (a
    // device, a named pipe) is written to as it is; a named pipe stands in
    // for a device here, which a failing test must not break for the
    // machine.
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pipe = dir.join("report.pipe");
    let made = Command::new("mkfifo").arg(&pipe).status().unwrap();
    assert!(made.success());
    // Opened to read without waiting for a writer (O_NONBLOCK): if the
    // pipe were replaced, nothing would arrive, and nothing would hang.
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(0o4000)
        .open(&pipe)
        .unwrap();
    // An empty log: its report fits the pipe's buffer.
    std::fs::write(dir.join("empty.log"), "").unwrap();
    let out = pgc(
        &scan_to_args("json", &pipe.to_string_lossy(), "empty.log"),
        dir,
        false,
    );
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));
    let mut report = Vec::new();
    // The report (a few KiB) waits in the pipe's buffer.
    let _ = reader.read_to_end(&mut report);
    let doc: serde_json::Value = serde_json::from_slice(&report).unwrap_or_else(|e| {
        panic!(
            "{e}: {:?}; the pipe is now {:?}",
            String::from_utf8_lossy(&report),
            std::fs::symlink_metadata(&pipe).map(|m| m.file_type())
        )
    });
    assert!(doc["coverage"].is_object(), "{doc}");
    assert!(std::fs::symlink_metadata(&pipe)
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(temporaries(dir), Vec::<PathBuf>::new());
}
