#![allow(dead_code)]
//! Temporary probe (not committed).
mod common;
use common::{config, fixture};
use pgcontract::report::{self, OutputFormat};
use pgcontract::scan::scan;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
fn grew(b: usize) {
    let n = LIVE.fetch_add(b, Ordering::Relaxed) + b;
    PEAK.fetch_max(n, Ordering::Relaxed);
}
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            grew(l.size())
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if !p.is_null() {
            grew(l.size())
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let q = System.realloc(p, l, n);
        if !q.is_null() {
            if n >= l.size() {
                grew(n - l.size())
            } else {
                LIVE.fetch_sub(l.size() - n, Ordering::Relaxed);
            }
        }
        q
    }
}
#[global_allocator]
static A: Counting = Counting;
fn measure(p: &Path) -> (usize, u64, String) {
    let schema = fixture("app/schema.sql");
    let mut cfg = config(&[p.to_path_buf()], Some(&schema), 2);
    cfg.chunk_bytes = 16 << 10;
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let inv = scan(&cfg);
    report::write(&inv, OutputFormat::Json, &mut std::io::sink()).unwrap();
    let peak = PEAK.load(Ordering::SeqCst) - base;
    let f = inv.files.values().next().unwrap();
    (
        peak,
        f.records,
        format!(
            "{} deps={} errs={}",
            f.format,
            inv.deps.len(),
            f.errors.len()
        ),
    )
}
fn copies(text: &str, n: usize, array: bool) -> String {
    if array {
        let t = text.trim();
        let inner = t
            .strip_prefix('[')
            .unwrap()
            .strip_suffix(']')
            .unwrap()
            .trim();
        let mut s = String::from("[\n");
        for k in 0..n {
            if k > 0 {
                s.push_str(",\n");
            }
            s.push_str(inner);
        }
        s.push_str("\n]\n");
        s
    } else {
        text.repeat(n)
    }
}
#[test]
fn probe() {
    let dir = tempfile::tempdir().unwrap();
    let target = 1_500_000usize;
    for rel in [
        "cloud/rds-cloudwatch.log",
        "cloud/cnpg.ndjson",
        "cloud/heroku.log",
        "cloud/heroku-new.log",
        "cloud/heroku-drain.log",
        "cloud/azure-eventhub.ndjson",
        "cloud/azure-log-analytics.json",
        "cloud/cloudsql.ndjson",
        "cloud/cloudsql.json",
        "app/logs/syslog-bsd.log",
        "app/logs/syslog-iso.log",
        "app/pgss/pgss-all.csv",
        "app/pgss/pgss-all.ndjson",
        "app/pgss/pgss-all.json",
        "app/logs/rds.log",
        "app/logs/verbose.log",
    ] {
        let text = std::fs::read_to_string(fixture(rel)).unwrap();
        let array = text.trim_start().starts_with('[');
        let k = (target / text.len()).max(1);
        let ext = rel.rsplit('.').next().unwrap();
        let small = dir.path().join(format!("s.{ext}"));
        let large = dir.path().join(format!("l.{ext}"));
        std::fs::File::create(&small)
            .unwrap()
            .write_all(copies(&text, k, array).as_bytes())
            .unwrap();
        std::fs::File::create(&large)
            .unwrap()
            .write_all(copies(&text, 10 * k, array).as_bytes())
            .unwrap();
        measure(&small);
        let (ps, rs, is) = measure(&small);
        let (pl, rl, il) = measure(&large);
        eprintln!("{rel}: {k} copies {ps} B ({rs} rec, {is}) vs {} copies {pl} B ({rl} rec, {il}) ratio {:.2}", 10 * k, pl as f64 / ps as f64);
    }
}
