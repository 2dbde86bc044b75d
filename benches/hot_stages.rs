//! Criterion benchmarks of the scan's hot stages on the committed genlog
//! sample (`fixtures/genlog/seed7-400KB.log`): cutting a log into chunks at
//! record boundaries, splitting lines with the `log_line_prefix`, reading
//! records, normalising statements, analysing a shape (a cache miss), and a
//! whole scan in which most statements are cached shapes. Run with
//! `cargo bench`; they never run under `cargo test`.

use std::path::PathBuf;

use clap::Parser;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use pgcontract::analyze::Analyzer;
use pgcontract::chunk;
use pgcontract::cli::{Cli, Command};
use pgcontract::input::prefix::Prefix;
use pgcontract::input::stderr;
use pgcontract::inventory::FileCoverage;
use pgcontract::normalize::{normalize, normalize_bytes};
use pgcontract::target::ColumnTarget;

const PREFIX: &str = "%m [%p] %q%u@%d/%a ";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sample() -> Vec<u8> {
    std::fs::read(root().join("fixtures/genlog/seed7-400KB.log")).expect("genlog sample")
}

/// The statements of the sample, as the reader gives them.
fn statements(log: &[u8], prefix: &Prefix) -> Vec<String> {
    let mut out = Vec::new();
    let mut cov = FileCoverage::default();
    let _ = stderr::read_entries(log, prefix, &mut cov, |e, _| {
        if let Some(s) = e.message.strip_prefix("statement: ") {
            out.push(s.to_string());
        }
    });
    out
}

fn splitting(c: &mut Criterion) {
    let log = sample();
    let prefix = Prefix::compile(PREFIX).expect("prefix");
    let mut g = c.benchmark_group("records");
    g.throughput(Throughput::Bytes(log.len() as u64));
    g.bench_function("cut_into_64KiB_chunks", |b| {
        let start = |buf: &[u8], from: usize| stderr::next_record_start(&prefix, buf, from);
        b.iter(|| {
            let mut n = 0;
            let _ = chunk::cut(&log[..], 64 << 10, &start, |c| {
                n += c.data.len();
                true
            });
            n
        })
    });
    g.bench_function("read_entries", |b| {
        b.iter(|| {
            let mut cov = FileCoverage::default();
            let mut n = 0usize;
            let _ = stderr::read_entries(&log[..], &prefix, &mut cov, |e, _| {
                n += e.message.len();
            });
            n
        })
    });
    g.finish();
    let text = String::from_utf8_lossy(&log).into_owned();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('\t')).collect();
    let mut g = c.benchmark_group("prefix");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("split_lines", |b| {
        b.iter(|| lines.iter().filter(|l| prefix.split(l).is_some()).count())
    });
    g.finish();
}

fn normalising(c: &mut Criterion) {
    let log = sample();
    let prefix = Prefix::compile(PREFIX).expect("prefix");
    let stmts = statements(&log, &prefix);
    let bytes: usize = stmts.iter().map(String::len).sum();
    let mut g = c.benchmark_group("normalize");
    g.throughput(Throughput::Bytes(bytes as u64));
    // The token-by-token normaliser (report text), and the one-pass one
    // the scan keys its cache with (values numbered in order, into a
    // reused buffer).
    g.bench_function("statements", |b| {
        b.iter(|| stmts.iter().map(|s| normalize(s).len()).sum::<usize>())
    });
    g.bench_function("statements_one_pass", |b| {
        let mut key = Vec::new();
        b.iter(|| {
            stmts
                .iter()
                .map(|s| {
                    key.clear();
                    normalize_bytes(s, &mut key);
                    key.len()
                })
                .sum::<usize>()
        })
    });
    g.finish();
}

fn analysing(c: &mut Criterion) {
    let log = sample();
    let prefix = Prefix::compile(PREFIX).expect("prefix");
    let stmts = statements(&log, &prefix);
    let catalog = pgcontract::config::load_catalog(Some(&root().join("fixtures/app/schema.sql")))
        .expect("schema");
    let targets = vec![ColumnTarget::parse("public.users.legacy_email").expect("target")];
    let analyzer = Analyzer::new(&catalog, &targets, vec!["public".to_string()]);
    let mut g = c.benchmark_group("analyze");
    g.bench_function("shape_cache_miss", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % stmts.len();
            analyzer.analyze(&stmts[i]).statements.len()
        })
    });
    g.finish();

    // A whole scan of the sample: a few hundred shapes, the rest of the
    // statements are cache hits.
    let args = [
        "pgcontract",
        "scan",
        "-q",
        "--threads",
        "1",
        "--column",
        "public.users.legacy_email",
        "--schema",
        "fixtures/app/schema.sql",
        "--log-line-prefix",
        PREFIX,
        "fixtures/genlog/seed7-400KB.log",
    ];
    std::env::set_current_dir(root()).expect("cd");
    let Command::Scan(scan_args) = Cli::parse_from(args).command else {
        unreachable!("a scan command")
    };
    let setup = pgcontract::config::scan_setup(&scan_args).expect("scan setup");
    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Bytes(log.len() as u64));
    g.sample_size(20);
    g.bench_function("genlog_sample_one_thread", |b| {
        b.iter_batched(
            || (),
            |()| pgcontract::scan::scan(&setup.scan).deps.len(),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, splitting, normalising, analysing);
criterion_main!(benches);
