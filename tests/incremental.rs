//! Incremental scans (`scan --state`): runs across appends, a partly written
//! last line, a rotation, a truncation and a grown compressed file add up to
//! exactly the inventory one full scan of the same content gives; a run with
//! nothing new changes nothing; the state file is versioned, tied to its
//! columns and written atomically.

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use pgcontract::inventory::Inventory;
use pgcontract::report::json::{to_doc, InventoryDoc};
use pgcontract::scan::scan;
use pgcontract::state::{self, StateError, RESUME_NOTE};

/// The real-server fixture log (prefix `%m [%p] `: user, database and
/// application come from each session's `connection authorized:` line)
/// cut into five parts at session boundaries.
fn parts() -> Vec<String> {
    let log = std::fs::read_to_string(fixture("app/logs/default.log")).unwrap();
    let lines: Vec<&str> = log.split_inclusive('\n').collect();
    // 1-based first lines of parts 2..5: `connection received` lines.
    let cuts = [0, 24, 56, 85, 121, lines.len()];
    for &c in &cuts[1..5] {
        assert!(lines[c].contains("connection received"), "{}", lines[c]);
    }
    cuts.windows(2)
        .map(|w| lines[w[0]..w[1]].concat())
        .collect()
}

fn append(path: &Path, text: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text).unwrap();
}

fn incremental(state_file: &Path, inputs: &[PathBuf]) -> Inventory {
    state::scan_incremental(
        &config(inputs, Some(&fixture("app/schema.sql")), 1),
        state_file,
    )
    .unwrap()
}

fn full(inputs: &[PathBuf]) -> Inventory {
    scan(&config(inputs, Some(&fixture("app/schema.sql")), 1))
}

/// The dependency rows without their `file:line` samples.
fn deps(doc: &InventoryDoc) -> Vec<String> {
    doc.dependencies
        .iter()
        .map(|d| {
            let mut d = d.clone();
            d.sources.clear();
            serde_json::to_string(&d).unwrap()
        })
        .collect()
}

/// Coverage totals without the notes (which say what the runs noticed).
fn totals(doc: &InventoryDoc) -> String {
    let mut t = doc.coverage.totals.clone();
    t.notes.clear();
    serde_json::to_string(&t).unwrap()
}

fn notes_of(inv: &Inventory, file: &Path) -> Vec<String> {
    let name = file.display().to_string();
    inv.files
        .get(&name)
        .unwrap_or_else(|| panic!("no coverage for {name}: {:?}", inv.files.keys()))
        .notes
        .iter()
        .filter(|n| !n.starts_with("only top-level statements"))
        .cloned()
        .collect()
}

#[test]
fn appends_a_rotation_and_a_truncation_give_the_same_inventory_as_one_full_scan() {
    let p = parts();
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let st = dir.path().join("state.json");
    let log = logs.join("postgresql.log");
    let rotated = logs.join("postgresql.log.1");

    // Run 1: part 1 and half of the first line of part 2 (being written).
    let (p2_head, p2_tail) = p[1].split_at(30);
    append(&log, p[0].as_bytes());
    append(&log, p2_head.as_bytes());
    let inv = incremental(&st, std::slice::from_ref(&logs));
    assert_eq!(
        inv.files[&log.display().to_string()].bytes,
        p[0].len() as u64,
        "the unfinished line is left for the next run"
    );
    assert!(
        notes_of(&inv, &log).is_empty(),
        "{:?}",
        notes_of(&inv, &log)
    );

    // Run 2: the rest of part 2.
    append(&log, p2_tail.as_bytes());
    let inv = incremental(&st, std::slice::from_ref(&logs));
    assert_eq!(notes_of(&inv, &log), [RESUME_NOTE]);

    // Run 3: rotation. The old file is renamed and gets its last writes
    // (part 3); a new file under the old name gets part 4.
    std::fs::rename(&log, &rotated).unwrap();
    append(&rotated, p[2].as_bytes());
    append(&log, p[3].as_bytes());
    let inv = incremental(&st, std::slice::from_ref(&logs));
    assert_eq!(
        notes_of(&inv, &rotated),
        [
            RESUME_NOTE.to_string(),
            format!("the same file as `{}` in the last run (renamed, e.g. by log rotation): continued where that left off", log.display()),
        ]
    );
    assert_eq!(
        notes_of(&inv, &log),
        [
            format!("a new file under this name since the last run (rotated; the previous file was {} bytes): read from the start", p[0].len() + p[1].len()),
            RESUME_NOTE.to_string(),
        ],
        "coverage notes accumulate over the runs (sorted)"
    );

    // Run 4: copytruncate empties the current file; run 5: part 5 written.
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&log)
        .unwrap();
    let inv = incremental(&st, std::slice::from_ref(&logs));
    assert!(notes_of(&inv, &log).contains(&format!(
        "the file was truncated since the last run (0 bytes, {} had been read): read from the start",
        p[3].len()
    )));
    append(&log, p[4].as_bytes());
    let inv = incremental(&st, std::slice::from_ref(&logs));

    // The same content, each piece in its own file, scanned once.
    let whole = tempfile::tempdir().unwrap();
    let a = whole.path().join("a.log");
    let b = whole.path().join("b.log");
    let c = whole.path().join("c.log");
    std::fs::write(&a, [p[0].as_str(), &p[1], &p[2]].concat()).unwrap();
    std::fs::write(&b, &p[3]).unwrap();
    std::fs::write(&c, &p[4]).unwrap();
    let once = to_doc(&full(&[a.clone(), b, c]));
    let incr = to_doc(&inv);
    assert_eq!(deps(&incr), deps(&once));
    assert_eq!(totals(&incr), totals(&once));
    assert_eq!(incr.targets, once.targets);
    assert_eq!(incr.schema_dependencies, once.schema_dependencies);
    assert_eq!(incr.warnings, once.warnings);
    // And all of it is real evidence, not an empty comparison.
    assert_eq!(once.dependencies.len(), 28);
    assert_eq!(once.coverage.totals.records, 149);
    // Line numbers continue across resume points: the rotated file's rows
    // carry the same lines as the first file of the full scan.
    let lines = |doc: &InventoryDoc, file: &Path| -> Vec<String> {
        let mut v: Vec<String> = doc
            .dependencies
            .iter()
            .flat_map(|d| d.sources.iter())
            .filter_map(|s| s.strip_prefix(&format!("{}:", file.display())))
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    let rotated_lines = lines(&incr, &rotated);
    assert!(!rotated_lines.is_empty());
    assert!(rotated_lines.iter().all(|l| lines(&once, &a).contains(l)));
    // Each run's byte ranges are recorded under the name the file had.
    let ranges = |f: &Path| -> Vec<(u64, u64)> {
        let mut v: Vec<(u64, u64)> = inv.files[&f.display().to_string()]
            .scanned
            .iter()
            .map(|r| (r.offset, r.length))
            .collect();
        v.sort();
        v
    };
    let l: Vec<u64> = p.iter().map(|x| x.len() as u64).collect();
    assert_eq!(ranges(&rotated), [(l[0] + l[1], l[2])]);
    let mut want = vec![(0, 0), (0, l[0]), (l[0], l[1]), (0, l[3]), (0, l[4])];
    want.sort();
    assert_eq!(ranges(&log), want);
}

#[test]
fn a_run_with_nothing_new_changes_nothing() {
    let p = parts();
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("state.json");
    let log = dir.path().join("postgresql.log");
    std::fs::write(&log, [p[0].as_str(), &p[1]].concat()).unwrap();
    let first = incremental(&st, std::slice::from_ref(&log));
    let state_before = std::fs::read(&st).unwrap();
    let second = incremental(&st, std::slice::from_ref(&log));
    assert_eq!(first, second);
    assert_eq!(std::fs::read(&st).unwrap(), state_before);
    // Written atomically: no temporary file left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, ["postgresql.log", "state.json"]);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn a_compressed_log_is_read_once_and_a_grown_one_continues_after_what_was_read() {
    let p = parts();
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("state.json");
    let gz = dir.path().join("postgresql.log.gz");
    std::fs::write(&gz, gzip([p[0].as_str(), &p[1]].concat().as_bytes())).unwrap();
    let first = incremental(&st, std::slice::from_ref(&gz));
    assert_eq!(first, incremental(&st, std::slice::from_ref(&gz)));
    // A second gzip member appended (multi-member gzip, as `gzip >>` does).
    append(&gz, &gzip(p[2].as_bytes()));
    let inv = incremental(&st, std::slice::from_ref(&gz));
    let plain = dir.path().join("plain.log");
    std::fs::write(&plain, [p[0].as_str(), &p[1], &p[2]].concat()).unwrap();
    let once = to_doc(&full(&[plain]));
    let incr = to_doc(&inv);
    assert_eq!(deps(&incr), deps(&once));
    let mut t = incr.coverage.totals.clone();
    t.notes.clear();
    let mut o = once.coverage.totals.clone();
    o.notes.clear();
    assert_eq!(t, o);
    assert_eq!(
        incr.coverage.inputs[0].format.as_deref(),
        Some("stderr+gzip")
    );
}

#[test]
fn a_replaced_file_with_the_same_inode_is_read_from_the_start() {
    let p = parts();
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("state.json");
    let log = dir.path().join("postgresql.log");
    std::fs::write(&log, &p[1]).unwrap();
    incremental(&st, std::slice::from_ref(&log));
    // Rewritten in place with other, longer content (same inode).
    std::fs::write(&log, [p[2].as_str(), &p[3]].concat()).unwrap();
    let inv = incremental(&st, std::slice::from_ref(&log));
    assert_eq!(
        notes_of(&inv, &log),
        ["the file was replaced or rewritten since the last run (its first bytes changed): read from the start"]
    );
    let other = dir.path().join("other.log");
    std::fs::write(&other, [p[2].as_str(), &p[3]].concat()).unwrap();
    let single = dir.path().join("single.log");
    std::fs::write(&single, &p[1]).unwrap();
    let once = to_doc(&full(&[single, other]));
    assert_eq!(deps(&to_doc(&inv)), deps(&once));
}

#[test]
fn an_unknown_state_version_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("state.json");
    std::fs::write(&st, "{\"version\": 7, \"files\": []}").unwrap();
    let err = state::scan_incremental(&config(&[fixture("app/logs/custom.log")], None, 1), &st)
        .unwrap_err();
    assert!(matches!(err, StateError::Version { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "{}: state version 7 is not supported (this pgcontract reads version 1); start a new state file",
            st.display()
        )
    );
    std::fs::write(&st, "{\"version\": 1,\n \"files\": 3}").unwrap();
    let err = state::scan_incremental(&config(&[fixture("app/logs/custom.log")], None, 1), &st)
        .unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "{}: line 2, column 11: not a pgcontract state file: ",
            st.display()
        )),
        "{err}"
    );
}

#[test]
fn a_state_of_other_columns_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("state.json");
    let log = dir.path().join("postgresql.log");
    std::fs::write(&log, &parts()[0]).unwrap();
    incremental(&st, std::slice::from_ref(&log));
    let mut cfg = config(std::slice::from_ref(&log), None, 1);
    cfg.targets.truncate(1);
    let err = state::scan_incremental(&cfg, &st).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: the state was built for public.orders.old_status, public.users.legacy_email, this run is for public.users.legacy_email; use another state file for other columns",
            st.display()
        )
    );
}

#[test]
fn scan_state_through_the_binary_matches_a_full_scan() {
    let p = parts();
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("state.json");
    let log = dir.path().join("postgresql.log");
    let schema = fixture("app/schema.sql");
    let run = |extra: &[&str]| {
        let mut args = quiet_scan(
            TARGETS,
            &["--schema", schema.to_str().unwrap(), "--format", "json"],
        );
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_pgcontract"))
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    append(&log, p[0].as_bytes());
    let out = run(&["--state", st.to_str().unwrap(), log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    append(&log, p[1].as_bytes());
    let out = run(&["--state", st.to_str().unwrap(), log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let incr: InventoryDoc = serde_json::from_slice(&out.stdout).unwrap();
    let out = run(&[log.to_str().unwrap()]);
    let once: InventoryDoc = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(deps(&incr), deps(&once));
    assert_eq!(totals(&incr), totals(&once));
    assert_eq!(incr.targets, once.targets);
    // The stored inventory in the state is the one printed.
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(&st).unwrap()).unwrap();
    assert_eq!(state["version"], 1);
    let stored: InventoryDoc = serde_json::from_value(state["inventory"].clone()).unwrap();
    assert_eq!(stored, incr);
    // stdin cannot be resumed.
    let out = run(&["--state", st.to_str().unwrap(), "-"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "pgcontract: --state needs files: stdin (`-`) cannot be read incrementally\n"
    );
}

#[test]
fn a_pg_stat_statements_export_is_not_read_twice_unless_it_changed() {
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("state.json");
    let csv = dir.path().join("pgss.csv");
    let text = std::fs::read_to_string(fixture("app/pgss/pgss-names.csv")).unwrap();
    std::fs::write(&csv, &text).unwrap();
    let first = incremental(&st, std::slice::from_ref(&csv));
    assert_eq!(first, incremental(&st, std::slice::from_ref(&csv)));
    // The export grows (a row appended): read again in full, and said so.
    let last_row = text.lines().last().unwrap();
    append(&csv, format!("{last_row}\n").as_bytes());
    let inv = incremental(&st, std::slice::from_ref(&csv));
    assert_eq!(
        notes_of(&inv, &csv)
            .into_iter()
            .filter(|n| n.starts_with("the file"))
            .collect::<Vec<_>>(),
        ["the file grew since the last run and pg_stat_statements-csv cannot be continued: read again from the start, so its earlier content is counted again"]
    );
    let name = csv.display().to_string();
    assert_eq!(inv.files[&name].records, 2 * first.files[&name].records + 1);
}

#[test]
fn yesterdays_and_todays_inventory_of_one_state_merge_to_todays() {
    let p = parts();
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("state.json");
    let log = dir.path().join("postgresql.log");
    append(&log, p[0].as_bytes());
    let day1 = incremental(&st, std::slice::from_ref(&log));
    append(&log, p[1].as_bytes());
    let day2 = incremental(&st, std::slice::from_ref(&log));
    let merged = pgcontract::stored::merge(vec![
        ("day2.json".into(), day2.clone()),
        ("day1.json".into(), day1),
    ])
    .unwrap();
    let (a, b) = (to_doc(&merged), to_doc(&day2));
    assert_eq!(a.dependencies, b.dependencies);
    assert_eq!(a.coverage, b.coverage);
    assert_eq!(
        a.warnings
            .iter()
            .filter(|w| w.ends_with("was in more than one merged inventory; counted once"))
            .count(),
        1
    );
}

/// `text` cut into three at session starts (`connection received` lines).
fn thirds(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("connection received"))
        .map(|(i, _)| i)
        .collect();
    assert!(starts.len() >= 6, "{}", starts.len());
    let cuts = [
        0,
        starts[starts.len() / 3],
        starts[2 * starts.len() / 3],
        lines.len(),
    ];
    cuts.windows(2)
        .map(|w| lines[w[0]..w[1]].concat())
        .collect()
}

#[test]
fn csvlog_jsonlog_and_syslog_resume_like_stderr() {
    for (fixture_name, format) in [
        ("app/logs/custom.csv", "csvlog"),
        ("app/logs/custom.json", "jsonlog"),
        ("app/logs/syslog-bsd.log", "syslog"),
        ("app/logs/syslog-iso.log", "syslog"),
        ("app/logs/syslog-rfc5424.log", "syslog"),
        ("app/logs/verbose.log", "stderr"),
    ] {
        let text = std::fs::read_to_string(fixture(fixture_name)).unwrap();
        let pieces = thirds(&text);
        let dir = tempfile::tempdir().unwrap();
        let st = dir.path().join("state.json");
        let log = dir.path().join("postgresql.log");
        let mut inv = Inventory::default();
        for piece in &pieces {
            append(&log, piece.as_bytes());
            inv = incremental(&st, std::slice::from_ref(&log));
        }
        let whole = dir.path().join("whole.log");
        std::fs::write(&whole, &text).unwrap();
        let once = to_doc(&full(&[whole]));
        let incr = to_doc(&inv);
        assert!(!once.dependencies.is_empty(), "{fixture_name}");
        assert_eq!(deps(&incr), deps(&once), "{fixture_name}");
        assert_eq!(totals(&incr), totals(&once), "{fixture_name}");
        assert_eq!(
            incr.coverage.inputs[0].format.as_deref(),
            Some(format),
            "{fixture_name}"
        );
        assert_eq!(incr.coverage.inputs[0].scanned.len(), 3, "{fixture_name}");
    }
}

/// The shapes that cannot be continued from a line boundary: one JSON
/// document (an array) or records without a resumable framing.
const WHOLE_FILE_SHAPES: [&str; 6] = [
    "cloud/cloudsql.json",
    "cloud/azure-log-analytics.json",
    "cloud/cloudsql.ndjson",
    "cloud/azure-eventhub.ndjson",
    "cloud/cnpg.ndjson",
    "app/pgss/pgss-all.json",
];

#[test]
fn json_array_and_cloud_shapes_under_state_are_read_once_and_a_rewrite_is_said() {
    for shape in WHOLE_FILE_SHAPES {
        let dir = tempfile::tempdir().unwrap();
        let st = dir.path().join("state.json");
        let file = dir.path().join(Path::new(shape).file_name().unwrap());
        let text = std::fs::read_to_string(fixture(shape)).unwrap();
        std::fs::write(&file, &text).unwrap();
        let first = incremental(&st, std::slice::from_ref(&file));
        let name = file.display().to_string();
        assert!(first.files[&name].records > 0, "{shape}");
        assert!(
            first.files[&name].errors.is_empty(),
            "{shape}: {:?}",
            first.files[&name].errors
        );
        // Nothing new: the same inventory, nothing read twice.
        let again = incremental(&st, std::slice::from_ref(&file));
        assert_eq!(first, again, "{shape}");
        assert_eq!(full(std::slice::from_ref(&file)), first, "{shape}");
        // Rewritten with a different first byte (a re-export): read from the
        // start, its records counted again, and the note says so.
        std::fs::write(&file, format!(" {text}")).unwrap();
        let inv = incremental(&st, std::slice::from_ref(&file));
        let notes: Vec<String> = notes_of(&inv, &file)
            .into_iter()
            .filter(|n| n.starts_with("the file"))
            .collect();
        let tail = if shape.contains("pgss") {
            "a pg_stat_statements export's counters are cumulative, so calls counted before may be counted again"
        } else {
            "records it repeats from the earlier file are counted again"
        };
        assert_eq!(
            notes,
            [format!(
                "the file was replaced or rewritten since the last run (its first bytes changed): read from the start; {tail}"
            )],
            "{shape}"
        );
        assert_eq!(
            inv.files[&name].records,
            2 * first.files[&name].records,
            "{shape}"
        );
    }
}
