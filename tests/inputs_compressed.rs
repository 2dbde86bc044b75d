//! Compressed inputs (gzip, bzip2, zstd, xz by magic bytes), damaged
//! streams (the part before the damage is scanned, coverage says where it
//! stopped) and glob inputs, all on the real-server fixture workload.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use common::*;
use pgcontract::inventory::FileCoverage;

const CODECS: &[&str] = &["gzip", "bzip2", "zstd", "xz"];

fn compress(codec: &str, data: &[u8]) -> Vec<u8> {
    match codec {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        // Small blocks, so that a damaged stream still has whole blocks before the damage.
        "bzip2" => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        // With a checksum, as the zstd command line writes by default:
        // without one, corruption can decode silently.
        "zstd" => {
            let mut e = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
            e.include_checksum(true).unwrap();
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        "xz" => {
            let mut e = xz2::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        _ => unreachable!(),
    }
}

fn coverage(inputs: &[PathBuf]) -> (pgcontract::inventory::Inventory, Vec<FileCoverage>) {
    let inv = pgcontract::scan::scan(&config(inputs, Some(&fixture("app/schema.sql")), 1));
    let covs = inv.files.values().cloned().collect();
    (inv, covs)
}

#[test]
fn every_codec_gives_the_exact_dependency_set_of_the_plain_log() {
    let dir = tempfile::tempdir().unwrap();
    let plain = std::fs::read(fixture("app/logs/rds.log")).unwrap();
    for codec in CODECS {
        // Named without a telling extension: the magic bytes decide.
        let p = dir.path().join(format!("rds-{codec}.log"));
        std::fs::write(&p, compress(codec, &plain)).unwrap();
        let doc = run(std::slice::from_ref(&p), Some(&fixture("app/schema.sql")));
        assert_eq!(rows(&doc), expected_log_rows_with_schema(), "{codec}");
        let input = &doc.coverage.inputs[0];
        assert_eq!(
            input.format.as_deref(),
            Some(format!("stderr+{codec}").as_str())
        );
        assert!(input.errors.is_empty(), "{codec}: {:?}", input.errors);
        assert_eq!(input.bytes, plain.len() as u64, "{codec}");
    }
}

/// The RDS fixture log repeated, with a line of pseudo-random noise after each
/// line so that the compressed stream spans many blocks.
fn long_log() -> (Vec<u8>, u64) {
    let one = std::fs::read_to_string(fixture("app/logs/rds.log")).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut out = String::new();
    for _ in 0..20 {
        for line in one.lines() {
            out.push_str(line);
            out.push('\n');
            out.push_str("2026-11-21 23:17:19 UTC::@:[1]:LOG:  noise ");
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                out.push_str(&format!("{state:016x}"));
            }
            out.push('\n');
        }
    }
    let lines = out.lines().count() as u64;
    (out.into_bytes(), lines)
}

#[test]
fn damaged_stream_scans_the_part_before_and_says_where_it_stopped() {
    let (data, total_lines) = long_log();
    let dir = tempfile::tempdir().unwrap();
    for codec in CODECS {
        let whole = compress(codec, &data);
        for damage in ["truncated", "corrupted"] {
            let mut bytes = whole.clone();
            let at = bytes.len() * 3 / 4;
            if damage == "truncated" {
                bytes.truncate(at);
            } else {
                for b in &mut bytes[at..at + 64] {
                    *b ^= 0xa5;
                }
            }
            let p = dir.path().join(format!("{codec}-{damage}"));
            std::fs::write(&p, &bytes).unwrap();
            let (inv, covs) = coverage(std::slice::from_ref(&p));
            let cov = &covs[0];
            let what = format!("{codec} {damage}");
            assert_eq!(cov.format, format!("stderr+{codec}"), "{what}");
            assert_eq!(cov.errors.len(), 1, "{what}: {:?}", cov.errors);
            let prefix = format!("{}: read error after line {}: ", p.display(), cov.lines);
            assert!(
                cov.errors[0].starts_with(&prefix),
                "{what}: {:?}",
                cov.errors
            );
            assert!(
                cov.errors[0].ends_with("; the part before was scanned"),
                "{what}: {:?}",
                cov.errors
            );
            // Something before the damage was read. Corruption may decode to
            // garbage up to the next checksum (the end of a gzip member), so
            // only a truncated stream surely stops early.
            assert!(cov.lines > 0, "{what}: {} lines", cov.lines);
            assert!(
                cov.notes
                    .iter()
                    .any(|n| n.starts_with("the compressed stream is damaged")),
                "{what}: {:?}",
                cov.notes
            );
            assert!(cov.statements.seen > 0, "{what}");
            let by_kind: u64 = cov.records_by_kind.values().sum();
            let skipped: u64 = cov.skipped.values().sum();
            assert_eq!(cov.records, by_kind + skipped, "{what}");
            if damage == "corrupted" {
                continue;
            }
            assert!(cov.lines < total_lines, "{what}: {} lines", cov.lines);
            // Only whole lines count: bytes read are exactly the lines read.
            let upto: usize = data
                .split_inclusive(|b| *b == b'\n')
                .take(cov.lines as usize)
                .map(<[u8]>::len)
                .sum();
            assert_eq!(cov.bytes, upto as u64, "{what}");
            assert!(!inv.deps.is_empty(), "{what}");
            drop(inv);
        }
    }
}

fn copy(from: &str, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(fixture(from), to).unwrap();
}

#[test]
fn glob_inputs_are_expanded_sorted_and_deduplicated() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy("app/logs/rds.log", &d.join("logs/b.log"));
    copy("app/logs/custom.log", &d.join("logs/a.log"));
    let gz = compress(
        "gzip",
        &std::fs::read(fixture("app/logs/default.log")).unwrap(),
    );
    std::fs::write(d.join("logs/c.log.gz"), gz).unwrap();
    copy("app/logs/default.log", &d.join("logs/nested/d.log"));
    copy("app/logs/default.log", &d.join("logs/skip.txt"));

    let inputs: Vec<pgcontract::input::InputSource> = [
        d.join("logs/*.log*"),
        d.join("logs/a.log"), // again: kept once
        d.join("logs/nest*"), // a directory matched by a glob is walked
        d.join("nothing/*.log.gz"),
    ]
    .into_iter()
    .map(pgcontract::input::InputSource::File)
    .collect();
    let expanded: Vec<String> = pgcontract::scan::expand_inputs(&inputs)
        .iter()
        .map(|i| i.display_name())
        .collect();
    let n = |rel: &str| d.join(rel).display().to_string();
    assert_eq!(
        expanded,
        vec![
            n("logs/a.log"),
            n("logs/b.log"),
            n("logs/c.log.gz"),
            n("logs/nested/d.log"),
            n("nothing/*.log.gz"),
        ]
    );

    let mut cfg = config(&[], Some(&fixture("app/schema.sql")), 2);
    cfg.inputs = inputs;
    let inv = pgcontract::scan::scan(&cfg);
    let doc = pgcontract::report::json::to_doc(&inv);
    // Four copies of the workload: every call count is four times the one-log count.
    let want: Vec<Row> = expected_log_rows_with_schema()
        .into_iter()
        .map(|mut r| {
            r.6 *= 4;
            r
        })
        .collect();
    assert_eq!(rows(&doc), want);
    let missing = &inv.files[&n("nothing/*.log.gz")];
    assert_eq!(missing.format, "unreadable");
    assert_eq!(
        missing.errors,
        vec![format!(
            "{}: no file matches this glob pattern",
            n("nothing/*.log.gz")
        )]
    );
    assert_eq!(inv.files[&n("logs/c.log.gz")].format, "stderr+gzip");
}

#[test]
fn damaged_pg_stat_statements_export_keeps_the_rows_before_the_damage() {
    // Enough rows to span several bzip2 blocks.
    let one = std::fs::read_to_string(fixture("app/pgss/pgss-all.ndjson")).unwrap();
    let data = one.repeat(12);
    let total = data.lines().count() as u64;
    let dir = tempfile::tempdir().unwrap();
    let bytes = compress("bzip2", data.as_bytes());
    let p = dir.path().join("pgss.ndjson.bz2");
    std::fs::write(&p, &bytes[..bytes.len() * 3 / 4]).unwrap();
    let (_, covs) = coverage(std::slice::from_ref(&p));
    let cov = &covs[0];
    assert_eq!(cov.format, "pg_stat_statements-ndjson+bzip2");
    assert!(
        cov.lines > 0 && cov.lines < total,
        "{} of {total}",
        cov.lines
    );
    // Every whole line read before the damage is a row.
    assert_eq!(cov.records, cov.lines);
    assert_eq!(cov.errors.len(), 1, "{:?}", cov.errors);
    assert!(cov.errors[0].starts_with(&format!(
        "{}: read error after line {}: ",
        p.display(),
        cov.lines
    )));
    assert!(cov
        .notes
        .iter()
        .any(|n| n.starts_with("the compressed stream is damaged (bzip2)")));

    let csv = std::fs::read_to_string(fixture("app/pgss/pgss-all.csv")).unwrap();
    let (header, body) = csv.split_once('\n').unwrap();
    let data = format!("{header}\n{}", body.repeat(40));
    let bytes = compress("bzip2", data.as_bytes());
    let p = dir.path().join("pgss.csv.bz2");
    std::fs::write(&p, &bytes[..bytes.len() * 3 / 4]).unwrap();
    let (_, covs) = coverage(std::slice::from_ref(&p));
    let cov = &covs[0];
    assert_eq!(cov.format, "pg_stat_statements-csv+bzip2");
    assert!(cov.records > 0, "{cov:?}");
    assert_eq!(cov.errors.len(), 1, "{:?}", cov.errors);
    assert!(
        cov.errors[0].starts_with(&format!("{}: read error after line ", p.display()))
            && cov.errors[0].ends_with("; the part before was scanned"),
        "{:?}",
        cov.errors
    );
    assert!(cov
        .notes
        .iter()
        .any(|n| n.starts_with("the compressed stream is damaged (bzip2)")));
}
