//! A Cloud SQL export is put in time order in sorted batches on disk. When
//! the disk refuses a write partway (full, or over a size limit), the
//! batches already whole on disk are kept and the rest stay in memory: the
//! report is the one an unrefused scan gives, with a coverage note saying
//! so. This test binary lowers its own file-size limit (`RLIMIT_FSIZE`), so
//! it holds this one test only.

mod common;

use std::io::Write;
use std::path::Path;

use common::{config, fixture};
use pgcontract::inventory::{FileCoverage, Inventory};
use pgcontract::report::{self, OutputFormat};
use pgcontract::scan::scan;
use pgcontract::time::{format_rfc3339, Millis};

/// An export of `entries` entries, one a line, mostly a second apart, every
/// seventh stamped a minute early (so the order on disk matters), by
/// several users, some reading a target column.
fn export(path: &Path, entries: usize) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..entries {
        let user = ["app", "etl", "report"][i % 3];
        let sql = match i % 4 {
            0 => format!("SELECT legacy_email FROM users WHERE id = {i}"),
            1 => format!("UPDATE orders SET old_status = 'x{i}' WHERE id = {i}"),
            _ => format!("SELECT id FROM users WHERE id = {i}"),
        };
        let at = 1_795_132_800_000 + i as Millis * 1000 - if i % 7 == 0 { 60_000 } else { 0 };
        let entry = serde_json::json!({
            "logName": "projects/p/logs/cloudsql.googleapis.com%2Fpostgres.log",
            "textPayload": format!("[{}]: [{i}-1] db=shop,user={user} LOG:  statement: {sql}", 100 + i % 5),
            "timestamp": format_rfc3339(at),
        });
        writeln!(out, "{entry}").unwrap();
    }
    out.flush().unwrap();
}

fn scanned(input: &Path) -> Inventory {
    let schema = fixture("app/schema.sql");
    let mut cfg = config(&[input.to_path_buf()], Some(&schema), 2);
    // Batches of 16 KiB go to disk.
    cfg.chunk_bytes = 4096;
    scan(&cfg)
}

fn only_file(inv: &mut Inventory) -> &mut FileCoverage {
    assert_eq!(inv.files.len(), 1);
    inv.files.values_mut().next().unwrap()
}

/// Sets the largest file this process may write, in bytes; past it a write
/// fails (`EFBIG`) instead of the process being signalled.
fn limit_file_size(bytes: u64) {
    // SAFETY: plain libc calls with valid arguments.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut lim), 0);
        lim.rlim_cur = bytes;
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
}

#[test]
fn a_spill_refused_partway_keeps_the_batches_on_disk_and_gives_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("export.ndjson");
    // About 2.6 MB of payloads: some 160 batches of 16 KiB.
    export(&input, 20_000);
    let mut want = scanned(&input);
    let note = "could not be written to a temporary file to be put in time order";
    assert!(
        !only_file(&mut want).notes.iter().any(|n| n.contains(note)),
        "{:?}",
        only_file(&mut want).notes
    );

    // Four batches fit, and the fifth is refused partway through.
    limit_file_size(4 * 16_384 + 10_000);
    let mut got = scanned(&input);
    limit_file_size(libc::RLIM_INFINITY);

    let file = only_file(&mut got);
    assert_eq!(file.format, "cloudsql");
    assert_eq!(file.errors, Vec::<String>::new());
    let before = file.notes.len();
    file.notes.retain(|n| !n.contains(note));
    assert_eq!(before, file.notes.len() + 1, "the note is given once");
    let json = |inv: &Inventory| {
        let mut out = Vec::new();
        report::write(inv, OutputFormat::Json, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    assert_eq!(json(&got), json(&want));
    // The scan is not empty: the comparison is of real rows.
    assert_eq!(only_file(&mut want).records, 20_000);
    assert_eq!(want.deps.len(), 6, "{:#?}", want.deps);
}
