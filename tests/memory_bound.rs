//! The memory bound of a scan: the peak live heap grows with the distinct
//! statement shapes and actors of the input, never with its size. This test
//! binary counts every heap byte through its own global allocator.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use common::{config, fixture};
use pgcontract::inventory::{FileCoverage, Inventory};
use pgcontract::report::{self, OutputFormat};
use pgcontract::scan::scan;
use pgcontract::time::{format_rfc3339, parse_timestamp, Millis};

// The system allocator, counting the bytes live now and the most live at
// once since a measurement began.
#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{LIVE, PEAK};

/// One measurement at a time: the counters are global to the process, and
/// the test harness runs tests on parallel threads.
static MEASURING: Mutex<()> = Mutex::new(());

/// The peak live heap while `f` runs, above what was live when it started.
fn peak_heap_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = f();
    let peak = PEAK.load(Ordering::SeqCst);
    (out, peak.saturating_sub(base))
}

/// A block of log repeated to make inputs of any size with the same
/// statement shapes, actors and backends.
struct Block {
    text: String,
    /// Where each record's `YYYY-MM-DD HH:MM:SS.mmm` time starts in its
    /// first line; `None`: the copies keep their times.
    stamp_at: Option<usize>,
    /// How much later each copy is than the one before: the block's span
    /// and a second, so that times advance through the copies.
    shift: Millis,
    /// The block is one JSON array: the copies are its elements repeated
    /// in one array.
    array: bool,
    /// Lines at the start written once, before the copies (a CSV header).
    header: usize,
    /// Every time in the block is on this day (`YYYY-MM-DD`): copy `k` is
    /// moved `k` days later (`shift` is a day).
    day: Option<&'static str>,
}

impl Block {
    /// A block whose copies are moved later one after the other.
    fn shifted(text: String, stamp_at: usize) -> Self {
        let times: Vec<Millis> = text.lines().filter_map(|l| stamp(l, stamp_at)).collect();
        assert!(times.len() > 100, "too few records to repeat");
        let span = times.iter().max().unwrap() - times.iter().min().unwrap();
        Block {
            text,
            stamp_at: Some(stamp_at),
            shift: span + 1000,
            array: false,
            header: 0,
            day: None,
        }
    }

    /// A block whose times are all on `day`, its copies a day apart.
    fn dated(rel: &str, day: &'static str) -> Self {
        Block {
            text: read(rel),
            stamp_at: None,
            shift: 86_400_000,
            array: false,
            header: 0,
            day: Some(day),
        }
    }

    /// A block of the fixture `rel` repeated as it is (its times too),
    /// after its first `header` lines.
    fn repeated(rel: &str, header: usize) -> Self {
        let text = read(rel);
        Block {
            array: text.starts_with('['),
            text,
            stamp_at: None,
            shift: 0,
            header,
            day: None,
        }
    }

    /// The lines of each input that are not in the copies.
    fn frame(&self) -> u64 {
        if self.array {
            2
        } else {
            self.header as u64
        }
    }

    /// The committed genlog sample (400 KB, 2,693 records).
    fn genlog() -> Self {
        Self::shifted(read("genlog/seed7-400KB.log"), 0)
    }

    /// Writes `copies` copies to `path`, the times of copy `k` moved `k`
    /// shifts later: only the number of records and the times change.
    fn write_copies(&self, copies: usize, path: &Path) {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        if self.array {
            let elements = self.text.trim().strip_prefix('[').unwrap();
            let elements = elements.strip_suffix(']').unwrap().trim();
            let all = vec![elements; copies].join(",\n");
            writeln!(out, "[\n{all}\n]").unwrap();
            return;
        }
        for line in self.text.lines().take(self.header) {
            writeln!(out, "{line}").unwrap();
        }
        for k in 0..copies {
            let shift = k as Millis * self.shift;
            if let Some(day) = self.day {
                let start = parse_timestamp(&format!("{day} 00:00:00 UTC"))
                    .unwrap()
                    .millis;
                let moved = &format_rfc3339(start + shift)[..10];
                writeln!(out, "{}", self.text.trim_end().replace(day, moved)).unwrap();
                continue;
            }
            for line in self.text.lines().skip(self.header) {
                match self.stamp_at.and_then(|at| Some((at, stamp(line, at)?))) {
                    Some((at, t)) => {
                        let (before, after) = (&line[..at], &line[at + STAMP_LEN..]);
                        // `2026-11-20T00:00:00.001Z` in the form of the log.
                        let moved = format_rfc3339(t + shift).replace('T', " ");
                        writeln!(out, "{before}{}{after}", &moved[..STAMP_LEN]).unwrap();
                    }
                    None => writeln!(out, "{line}").unwrap(),
                }
            }
        }
        out.flush().unwrap();
    }
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).unwrap()
}

const STAMP_LEN: usize = "2026-11-20 00:00:00.001".len();

/// The time a record's first line starts with at byte `at`.
fn stamp(line: &str, at: usize) -> Option<Millis> {
    let s = line.get(at..at + STAMP_LEN)?;
    let b = s.as_bytes();
    if b[4] != b'-'
        || b[10] != b' '
        || b[19] != b'.'
        || line.get(at + STAMP_LEN..)?.get(..4)? != " UTC"
    {
        return None;
    }
    Some(parse_timestamp(s)?.millis)
}

/// Chunks this small are cut by the hundred, so the cap on the chunks in
/// flight is what keeps them from piling up.
const CHUNK_BYTES: usize = 16 << 10;

/// The most the allowance of [`allowed_peak`] may come to per record the
/// large input adds: a scan that kept 24 bytes or more for each record (an
/// empty `String` or `Vec` is 24) must fail.
const MAX_ALLOWANCE_PER_ADDED_RECORD: usize = 20;

/// How an input is compressed.
#[derive(Clone, Copy)]
enum Compression {
    Gzip,
    Bzip2,
    Zstd,
    Xz,
}

impl Compression {
    fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
        }
    }

    fn compress(self, path: &Path, to: &Path) {
        let data = std::fs::read(path).unwrap();
        let file = std::fs::File::create(to).unwrap();
        match self {
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
                e.write_all(&data).unwrap();
                e.finish().unwrap();
            }
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(file, bzip2::Compression::fast());
                e.write_all(&data).unwrap();
                e.finish().unwrap();
            }
            Compression::Zstd => {
                let mut e = zstd::stream::write::Encoder::new(file, 1).unwrap();
                e.write_all(&data).unwrap();
                e.finish().unwrap();
            }
            Compression::Xz => {
                let mut e = xz2::write::XzEncoder::new(file, 1);
                e.write_all(&data).unwrap();
                e.finish().unwrap();
            }
        }
    }
}

/// Scans `input` and writes its reports (which are streamed) to nowhere;
/// returns the inventory and the peak live heap of the scan and the reports.
fn measured_scan(input: &Path, threads: usize) -> (Inventory, usize) {
    let schema = fixture("app/schema.sql");
    let mut cfg = config(&[input.to_path_buf()], Some(&schema), threads);
    cfg.chunk_bytes = CHUNK_BYTES;
    peak_heap_of(|| {
        let inv = scan(&cfg);
        for format in [
            OutputFormat::Json,
            OutputFormat::Markdown,
            OutputFormat::Text,
        ] {
            report::write(&inv, format, &mut std::io::sink()).unwrap();
        }
        inv
    })
}

/// What the large input may use beyond the small one's peak. Both reach
/// the same steady state (the small input is already about a hundred
/// chunks): the same analyses, rows and tallies, and for a log read in
/// chunks (`chunked`) at most 2 × threads plus 2 chunks in flight, each in
/// a buffer of the chunk size plus 256 KiB (`src/chunk.rs`). What differs
/// is only how often the worst moment comes up in a longer run: allowed
/// are a tenth more, and two more chunk buffers when chunked. Measured,
/// the large peak of a chunked read is at most one chunk buffer above the
/// small one (one more chunk in flight at the worst moment), often below
/// it; a read in one piece peaks within a few kilobytes of it.
fn allowed_peak(small_peak: usize, chunked: bool) -> usize {
    let chunk_buffers = if chunked {
        2 * (CHUNK_BYTES + (256 << 10))
    } else {
        0
    };
    small_peak + small_peak / 10 + chunk_buffers
}

fn only_file(inv: &Inventory) -> &FileCoverage {
    assert_eq!(inv.files.len(), 1);
    inv.files.values().next().unwrap()
}

/// The large input's inventory is the small one's with every count `n`
/// times as large and every last time `later`: the same rows, actors and
/// shapes, nothing lost or doubled. `frame` lines of each input are not
/// in the copies (the brackets around a JSON array).
fn assert_scaled(small: &Inventory, large: &Inventory, n: u64, later: Millis, frame: u64) {
    assert!(
        small.deps.len() > 20,
        "too few dependency rows ({}) for the test to mean anything",
        small.deps.len()
    );
    assert_eq!(
        small.deps.keys().collect::<Vec<_>>(),
        large.deps.keys().collect::<Vec<_>>(),
        "the same rows"
    );
    for (key, s) in &small.deps {
        let l = &large.deps[key];
        assert_eq!(l.calls, n * s.calls, "{key:?}");
        assert_eq!(l.failed_calls, n * s.failed_calls, "{key:?}");
        assert_eq!(l.nested_calls, n * s.nested_calls, "{key:?}");
        assert_eq!(l.first_seen, s.first_seen, "{key:?}");
        assert_eq!(l.last_seen, s.last_seen.map(|t| t + later), "{key:?}");
        assert_eq!((&l.query, &l.confidence), (&s.query, &s.confidence));
        let lines = |v: &[pgcontract::inventory::SourceRef]| -> Vec<u64> {
            v.iter().map(|r| r.line).collect()
        };
        assert_eq!(lines(&l.sources), lines(&s.sources), "{key:?}");
    }
    let (s, l) = (only_file(small), only_file(large));
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert!(l.errors.is_empty(), "{:?}", l.errors);
    assert_eq!(l.lines - frame, n * (s.lines - frame));
    assert_eq!(l.records, n * s.records);
    let times = |m: &BTreeMap<String, u64>| -> BTreeMap<String, u64> {
        m.iter().map(|(k, v)| (k.clone(), n * v)).collect()
    };
    assert_eq!(l.records_by_kind, times(&s.records_by_kind));
    assert_eq!(l.skipped, times(&s.skipped));
    let st = &s.statements;
    assert_eq!(
        [
            l.statements.seen,
            l.statements.analysed,
            l.statements.unparseable,
            l.statements.calls,
            l.statements.texts,
        ],
        [st.seen, st.analysed, st.unparseable, st.calls, st.texts].map(|c| n * c)
    );
    assert_eq!(
        l.statements.unparseable_reasons,
        times(&st.unparseable_reasons)
    );
    assert_eq!(l.first_time, s.first_time);
    assert_eq!(l.last_time, s.last_time.map(|t| t + later));
}

/// A small and a large input made of copies of one block.
struct Inputs {
    _dir: tempfile::TempDir,
    small: PathBuf,
    large: PathBuf,
    small_copies: usize,
    large_copies: usize,
    shift: Millis,
    /// Lines of each input outside the copies.
    frame: u64,
}

impl Inputs {
    fn new(block: &Block, name: &str, small_copies: usize, large_copies: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join(format!("small-{name}"));
        let large = dir.path().join(format!("large-{name}"));
        block.write_copies(small_copies, &small);
        block.write_copies(large_copies, &large);
        Inputs {
            _dir: dir,
            small,
            large,
            small_copies,
            large_copies,
            shift: block.shift,
            frame: block.frame(),
        }
    }

    /// The same inputs gzip-compressed.
    fn compressed(&self, how: Compression) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small.z");
        let large = dir.path().join("large.z");
        how.compress(&self.small, &small);
        how.compress(&self.large, &large);
        Inputs {
            _dir: dir,
            small,
            large,
            ..*self
        }
    }

    /// Asserts the bound for the large input against the small one, read
    /// as `format` on `threads` threads.
    fn assert_bounded(&self, format: &str, threads: usize) {
        let (small, large) = (&self.small, &self.large);
        // A first scan makes what a process allocates once and keeps
        // (lazily compiled patterns, the thread pool's registry, the test
        // harness's buffers): it is no part of either peak.
        measured_scan(small, threads);
        // With several threads the small input's peak depends on whether
        // its few chunks were in flight at once (2.49–2.82 MB for the
        // syslog one, scan after scan): the highest of three scans is the
        // baseline, so that the bound tests growth with the input, not
        // scheduling.
        let (small_inv, small_peak) = measured_scan(small, threads);
        let again = if threads > 1 { 2 } else { 0 };
        let small_peak = (0..again)
            .map(|_| measured_scan(small, threads).1)
            .fold(small_peak, usize::max);
        let (large_inv, large_peak) = measured_scan(large, threads);
        let chunked = [
            "stderr",
            "csvlog",
            "jsonlog",
            "cloudnativepg",
            "heroku-logplex",
            "cloudsql",
            "azure-eventhub",
            "azure-log-analytics",
        ]
        .iter()
        .any(|f| format.starts_with(f));
        let allowed = allowed_peak(small_peak, chunked);
        let added = only_file(&large_inv).records - only_file(&small_inv).records;
        let size = |p: &Path| std::fs::metadata(p).unwrap().len();
        eprintln!(
            "{format}, {threads} threads: peak live heap {small_peak} B for {} copies ({} B, {} records), {large_peak} B for {} copies ({} B), allowed {allowed} B ({} B per added record)",
            self.small_copies,
            size(small),
            only_file(&small_inv).records,
            self.large_copies,
            size(large),
            (allowed - small_peak) as u64 / added,
        );
        assert_eq!(only_file(&small_inv).format, format);
        assert_eq!(only_file(&large_inv).format, format);
        assert_eq!(self.large_copies % self.small_copies, 0);
        let n = (self.large_copies / self.small_copies) as u64;
        let later = (self.large_copies - self.small_copies) as Millis * self.shift;
        assert_scaled(&small_inv, &large_inv, n, later, self.frame);
        // The test is sharp enough to catch a per-record leak.
        assert!(
            (allowed - small_peak) as u64 <= MAX_ALLOWANCE_PER_ADDED_RECORD as u64 * added,
            "{format}: the large input adds too few records ({added}) for an allowance of {} B",
            allowed - small_peak
        );
        assert!(
            large_peak <= allowed,
            "{format}, {threads} threads: the peak live heap grew with the input: {small_peak} B for {} copies, {large_peak} B for {} copies (allowed {allowed} B)",
            self.small_copies,
            self.large_copies
        );
    }
}

#[test]
fn counting_allocator_measures_the_peak_of_live_bytes() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let ((), peak) = peak_heap_of(|| {
        let mut grown: Vec<u8> = Vec::with_capacity(1 << 20);
        grown.resize(3 << 20, 1); // realloc to 3 MiB
        drop(std::hint::black_box(grown));
        let again = vec![2u8; 2 << 20];
        drop(std::hint::black_box(again));
    });
    // The 3 MiB were live at once, the 1 MiB before them and the 2 MiB
    // after them not too; the harness's other threads may have allocated
    // or freed a few bytes meanwhile (a finished test's output).
    assert!(((3 << 20) - (64 << 10)..4 << 20).contains(&peak), "{peak}");
}

#[test]
fn peak_heap_does_not_grow_with_input_size() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    // 1.6 MB against 16 MB.
    let inputs = Inputs::new(&Block::genlog(), "stderr.log", 4, 40);
    for threads in [1, 2] {
        inputs.assert_bounded("stderr", threads);
    }
}

#[test]
fn gzip_peak_heap_does_not_grow_with_input_size() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let inputs = Inputs::new(&Block::genlog(), "stderr.log", 4, 40);
    inputs
        .compressed(Compression::Gzip)
        .assert_bounded("stderr+gzip", 2);
}

#[test]
fn bzip2_zstd_and_xz_peak_heap_does_not_grow_with_input_size() {
    // Each decompressor streams: its window is fixed, whatever the input.
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let inputs = Inputs::new(&Block::genlog(), "stderr.log", 4, 40);
    for how in [Compression::Bzip2, Compression::Zstd, Compression::Xz] {
        inputs
            .compressed(how)
            .assert_bounded(&format!("stderr+{}", how.name()), 2);
    }
}

#[test]
fn sequential_chunk_peak_heap_does_not_grow_with_input_size() {
    // A session's own search_path in the head of a log: its chunks are read
    // one after the other by one extractor (state not carried across chunks).
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let mut block = Block::genlog();
    block.text.insert_str(
        0,
        "2026-11-20 00:00:00.000 UTC [29999] admin@shop/psql LOG:  statement: SET search_path TO public\n",
    );
    let inputs = Inputs::new(&block, "stderr.log", 4, 40);
    inputs.assert_bounded("stderr", 2);
}

#[test]
fn csvlog_peak_heap_does_not_grow_with_input_size() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    // 680 KB against 12 MB (a real PostgreSQL 15 csvlog of 139 lines).
    let block = Block::shifted(read("app/logs/custom.csv"), 0);
    Inputs::new(&block, "custom.csv", 20, 360).assert_bounded("csvlog", 2);
}

#[test]
fn jsonlog_peak_heap_does_not_grow_with_input_size() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    // 1.6 MB against 27 MB (a real PostgreSQL 15 jsonlog of 139 lines).
    let block = Block::shifted(read("app/logs/custom.json"), r#"{"timestamp":""#.len());
    Inputs::new(&block, "custom.json", 28, 476).assert_bounded("jsonlog", 2);
}

#[test]
fn other_readers_peak_heap_does_not_grow_with_input_size() {
    // The other readers: the cloud shapes (CloudWatch, CloudNativePG,
    // Heroku, Event Hub and Log Analytics read in chunks, all but the first
    // allowed two chunk buffers as stderr is), syslog and pg_stat_statements exports, their fixtures
    // repeated as they are (Cloud SQL's a day apart, as it puts its entries
    // in time order, holding four chunks' worth of them in memory and the
    // rest in sorted runs on disk). JSON arrays are repeated as elements of
    // one array. Each small input is
    // over 600 KB: past the first read buffer (256 KiB, also kept as the
    // head format detection looks at), the peak no longer depends on it.
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    Inputs::new(
        &Block::dated("cloud/cloudsql.ndjson", "2026-11-21"),
        "cloudsql.ndjson",
        8,
        400,
    )
    .assert_bounded("cloudsql", 2);
    for (rel, header, format, small, large) in [
        ("cloud/rds-cloudwatch.log", 0, "rds-cloudwatch", 27, 270),
        ("cloud/cnpg.ndjson", 0, "cloudnativepg", 8, 320),
        ("cloud/heroku-drain.log", 0, "heroku-logplex", 10, 320),
        ("cloud/azure-eventhub.ndjson", 0, "azure-eventhub", 10, 320),
        (
            "cloud/azure-log-analytics.json",
            0,
            "azure-log-analytics",
            4,
            300,
        ),
        ("app/logs/syslog-iso.log", 0, "syslog", 23, 230),
        (
            "app/pgss/pgss-all.csv",
            1,
            "pg_stat_statements-csv",
            80,
            800,
        ),
        (
            "app/pgss/pgss-all.ndjson",
            0,
            "pg_stat_statements-ndjson",
            20,
            200,
        ),
        (
            "app/pgss/pgss-all.json",
            0,
            "pg_stat_statements-json-array",
            20,
            240,
        ),
    ] {
        let name = rel.rsplit('/').next().unwrap();
        Inputs::new(&Block::repeated(rel, header), name, small, large).assert_bounded(format, 2);
    }
}

/// A Cloud SQL export of `entries` entries (one a line, a second apart,
/// from `2026-11-20T00:00:00Z`); `payload(i, stamp)` gives the text of the
/// `i`th and whether it carries a timestamp.
fn cloud_sql(path: &Path, entries: usize, payload: impl Fn(usize) -> (String, bool)) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..entries {
        let (text, timed) = payload(i);
        let mut entry = serde_json::json!({
            "logName": "projects/p/logs/cloudsql.googleapis.com%2Fpostgres.log",
            "textPayload": text,
        });
        if timed {
            entry["timestamp"] = format_rfc3339(1_795_132_800_000 + i as Millis * 1000).into();
        }
        writeln!(out, "{entry}").unwrap();
    }
    out.flush().unwrap();
}

#[test]
fn cloud_sql_peak_heap_does_not_grow_with_lines_no_batch_can_start_at() {
    // Cloud SQL payloads go out in batches that start where an entry
    // starts. Lines that stop matching the prefix (the server's prefix
    // changed mid-export) start none: they are read into entries where
    // the batches are made instead of growing one batch. An export whose
    // last entry has no time is put in order newest first, and its
    // untimed payloads all tie: the batches on disk are sorted again one
    // at a time, not held together while merged.
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let statement = |i: usize| {
        format!("[{}]: [{i}-1] db=shop,user=app LOG:  statement: SELECT email FROM users WHERE id = {i}", 100 + i % 7)
    };
    type Shape = fn(usize, &dyn Fn(usize) -> String) -> (String, bool);
    let shapes: [(&str, Shape); 2] = [
        ("prefix changed", |i, statement| match i {
            0..600 => (statement(i), true),
            _ => (
                format!("2026-11-20 00:00:00.000 UTC {}", statement(i)),
                true,
            ),
        }),
        ("untimed ties", |i, statement| (statement(i), i == 0)),
    ];
    for (shape, payload) in shapes {
        let small = dir.path().join("small.ndjson");
        let large = dir.path().join("large.ndjson");
        cloud_sql(&small, 4_000, |i| payload(i, &statement));
        cloud_sql(&large, 40_000, |i| payload(i, &statement));
        measured_scan(&small, 2);
        let (small_inv, small_peak) = measured_scan(&small, 2);
        let (large_inv, large_peak) = measured_scan(&large, 2);
        assert_eq!(only_file(&large_inv).format, "cloudsql");
        assert_eq!(only_file(&large_inv).lines, 40_000, "{shape}");
        assert_eq!(only_file(&small_inv).lines, 4_000, "{shape}");
        let allowed = allowed_peak(small_peak, true);
        eprintln!("{shape}: peak live heap {small_peak} B for 4,000 entries, {large_peak} B for 40,000 (allowed {allowed} B)");
        assert!(
            large_peak <= allowed,
            "{shape}: the peak live heap grew with the input: {small_peak} B, then {large_peak} B (allowed {allowed} B)"
        );
    }
}
