//! The memory bound of a scan: the peak live heap grows with the distinct
//! statement shapes and actors of the input, never with its size. This test
//! binary counts every heap byte through its own global allocator.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use common::{config, fixture, root};
use pgcontract::inventory::{FileCoverage, Inventory};
use pgcontract::report::{self, OutputFormat};
use pgcontract::scan::scan;

/// The system allocator, counting the bytes live now and the most live at
/// once since the last [`reset_peak`].
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(bytes: usize) {
    LIVE.fetch_sub(bytes, Ordering::Relaxed);
}

// SAFETY: every call is passed on to `System` unchanged; only counters are
// updated around it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

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

/// The committed genlog sample (400 KB, 2.45 s of log): the block that is
/// repeated.
fn block() -> String {
    std::fs::read_to_string(root().join("fixtures/genlog/seed7-400KB.log")).unwrap()
}

/// Each copy of the block is this much later than the one before (the
/// block spans 2.451 s), so first and last seen move with the size.
const COPY_SHIFT_MS: i64 = 3_000;

/// Copies in the small input (1.6 MB); the large one has `SCALE` times
/// as many.
const SMALL_COPIES: usize = 4;
const SCALE: usize = 10;

/// Chunks this small are cut by the hundred, so the cap on the chunks in
/// flight is what keeps them from piling up.
const CHUNK_BYTES: usize = 16 << 10;

/// Writes `copies` copies of `block` to `path`, the timestamps of copy `k`
/// shifted by `k * COPY_SHIFT_MS`: the same statement shapes, actors and
/// backends in every copy, only the number of records and the times change.
fn write_copies(block: &str, copies: usize, path: &Path) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for k in 0..copies {
        let shift = k as i64 * COPY_SHIFT_MS;
        for line in block.lines() {
            match shifted_stamp(line, shift) {
                Some((stamp, rest)) => writeln!(out, "{stamp}{rest}").unwrap(),
                None => writeln!(out, "{line}").unwrap(),
            }
        }
    }
    out.flush().unwrap();
}

/// `2026-11-20 HH:MM:SS.mmm` at the start of `line` moved `shift_ms` later
/// (within the day), and the rest of the line.
fn shifted_stamp(line: &str, shift_ms: i64) -> Option<(String, &str)> {
    let (stamp, rest) = (line.get(..23)?, line.get(23..)?);
    let day = stamp.strip_prefix("2026-11-20 ")?;
    let num = |r: std::ops::Range<usize>| day.get(r)?.parse::<i64>().ok();
    let ms = ((num(0..2)? * 60 + num(3..5)?) * 60 + num(6..8)?) * 1000 + num(9..12)? + shift_ms;
    assert!(ms < 86_400_000, "the copies must stay within the day");
    let stamp = format!(
        "2026-11-20 {:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    );
    Some((stamp, rest))
}

fn gzip(path: &Path, to: &Path) {
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(to).unwrap(),
        flate2::Compression::fast(),
    );
    e.write_all(&std::fs::read(path).unwrap()).unwrap();
    e.finish().unwrap();
}

/// Scans `input` (and writes its JSON report, which is streamed, to
/// nowhere); returns the inventory and the peak live heap of the scan and
/// the report.
fn measured_scan(input: &Path, threads: usize) -> (Inventory, usize) {
    let schema = fixture("app/schema.sql");
    let mut cfg = config(&[input.to_path_buf()], Some(&schema), threads);
    cfg.chunk_bytes = CHUNK_BYTES;
    peak_heap_of(|| {
        let inv = scan(&cfg);
        report::write(&inv, OutputFormat::Json, &mut std::io::sink()).unwrap();
        inv
    })
}

/// What the large input may use beyond the small one's peak. Both reach
/// the same steady state (the small input is already about a hundred
/// chunks): the same analyses, rows and tallies, and at most 2 × threads
/// plus 2 chunks in flight, each in a buffer of the chunk size plus 256 KiB
/// (`src/chunk.rs`). What differs is only how often the worst moment comes
/// up in a longer run: allowed are two more chunk buffers and a tenth more.
/// Measured, the two peaks differ by less than a twentieth. The allowance
/// (0.8 to 1 MB) is at most 10 bytes for each of the 96,948 records the
/// large input adds: a scan that kept a `String`, a `Vec` or a `Box` per
/// record (24 bytes and more) fails.
fn allowed_peak(small_peak: usize) -> usize {
    let chunk_buffer = CHUNK_BYTES + (256 << 10);
    small_peak + small_peak / 10 + 2 * chunk_buffer
}

fn only_file(inv: &Inventory) -> &FileCoverage {
    assert_eq!(inv.files.len(), 1);
    inv.files.values().next().unwrap()
}

/// The large input's inventory is the small one's with every count times
/// `SCALE` and every last time later by the copies added: the same rows,
/// the same actors and shapes, nothing lost or doubled.
fn assert_scaled(small: &Inventory, large: &Inventory) {
    let later = (SCALE - 1) as i64 * SMALL_COPIES as i64 * COPY_SHIFT_MS;
    let n = SCALE as u64;
    assert!(
        small.deps.len() > 50,
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
    assert_eq!(l.lines, n * s.lines);
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

struct Inputs {
    _dir: tempfile::TempDir,
    small: PathBuf,
    large: PathBuf,
}

fn inputs() -> Inputs {
    let dir = tempfile::tempdir().unwrap();
    let block = block();
    let small = dir.path().join("small.log");
    let large = dir.path().join("large.log");
    write_copies(&block, SMALL_COPIES, &small);
    write_copies(&block, SMALL_COPIES * SCALE, &large);
    Inputs {
        _dir: dir,
        small,
        large,
    }
}

/// Asserts the bound for `large` against `small` (read as `format`) on
/// `threads` threads.
fn assert_bounded(small: &Path, large: &Path, format: &str, threads: usize) {
    // A first scan makes what a process allocates once and keeps (lazily
    // compiled patterns, the thread pool's registry, the test harness's
    // buffers): it is no part of either peak.
    measured_scan(small, threads);
    let (small_inv, small_peak) = measured_scan(small, threads);
    let (large_inv, large_peak) = measured_scan(large, threads);
    eprintln!(
        "{threads} threads: peak live heap {small_peak} B for {} ({} B), {large_peak} B for {} ({} B), allowed {} B",
        small.display(),
        std::fs::metadata(small).unwrap().len(),
        large.display(),
        std::fs::metadata(large).unwrap().len(),
        allowed_peak(small_peak),
    );
    assert_eq!(only_file(&small_inv).format, format);
    assert_eq!(only_file(&large_inv).format, format);
    assert_scaled(&small_inv, &large_inv);
    let allowed = allowed_peak(small_peak);
    assert!(
        large_peak <= allowed,
        "{threads} threads: the peak live heap grew with the input: {small_peak} B for {} copies, {large_peak} B for {} copies (allowed {allowed} B)",
        SMALL_COPIES,
        SMALL_COPIES * SCALE
    );
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
    // The 3 MiB were live at once (with whatever the harness allocated
    // meanwhile), the 1 MiB before them and the 2 MiB after them not too.
    assert!((3 << 20..4 << 20).contains(&peak), "{peak}");
}

#[test]
fn peak_heap_does_not_grow_with_input_size() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let inputs = inputs();
    for threads in [1, 2] {
        assert_bounded(&inputs.small, &inputs.large, "stderr", threads);
    }
}

#[test]
fn gzip_peak_heap_does_not_grow_with_input_size() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let inputs = inputs();
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.log.gz");
    let large = dir.path().join("large.log.gz");
    gzip(&inputs.small, &small);
    gzip(&inputs.large, &large);
    assert_bounded(&small, &large, "stderr+gzip", 2);
}
