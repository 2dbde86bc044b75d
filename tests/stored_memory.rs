//! The memory bound of reading a stored inventory back (`report`, `merge`)
//! and of resuming a `--state` file: each dependency row becomes a row of
//! the inventory as it is read, so the peak live heap while reading stays
//! near the size of the inventory made, never the size of the document.
//! This test binary counts every heap byte through its own global
//! allocator (as `tests/memory_bound.rs` does for scans).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use pgcontract::inventory::{
    Access, Actor, Confidence, DepKey, DepStats, FileCoverage, Inventory, SourceRef,
};
use pgcontract::report::{self, OutputFormat};
use pgcontract::target::ColumnTarget;

// The system allocator, counting the bytes live now and the most live at
// once since a measurement began.
#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{LIVE, PEAK};

/// One measurement at a time: the counters are global to the process, and
/// the test harness runs tests on parallel threads.
static MEASURING: Mutex<()> = Mutex::new(());

/// What `f` gives, the peak live heap while it ran and the heap still live
/// when it returned (what it gives), both above what was live before.
fn measured<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let out = f();
    let peak = PEAK.load(Ordering::SeqCst);
    let kept = LIVE.load(Ordering::SeqCst);
    (out, peak.saturating_sub(base), kept.saturating_sub(base))
}

/// Rows of the inventory: 300 actors and 80 statement shapes, each actor
/// using some of the shapes (as a scan of a busy server finds them).
const ROWS: u64 = 12_000;

/// An inventory of `ROWS` rows over two targets, its texts and actors
/// shared among rows as a scan shares them.
fn inventory() -> Inventory {
    let targets = ["public.users.legacy_email", "public.orders.old_status"]
        .map(|t| ColumnTarget::parse(t).unwrap())
        .to_vec();
    let mut inv = Inventory::new(targets);
    let actors: Vec<Arc<Actor>> = (0..300)
        .map(|a| {
            Arc::new(Actor {
                user: Some(format!("role_{}", a % 40)),
                database: Some("app".into()),
                application: Some(format!("service-{}", a % 25)),
                client: Some(format!("10.1.{}.{}", a / 250, a % 250)),
            })
        })
        .collect();
    for n in 0..ROWS {
        let shape = n / 300 * 2 + n % 2;
        let key = DepKey {
            target: (n % 2) as usize,
            access: if shape % 5 == 0 {
                Access::Write
            } else {
                Access::Read
            },
            via: "direct".into(),
            actor: Arc::clone(&actors[(n % 300) as usize]),
            fingerprint: format!("{:016x}", shape * 0x9e37_79b9).into(),
        };
        let stats = DepStats {
            confidence: Confidence::Certain,
            reason: None,
            calls: n * 7 + 1,
            failed_calls: n % 3,
            nested_calls: 0,
            first_seen: Some(1_763_596_800_000 + n as i64),
            last_seen: Some(1_763_683_199_000 - n as i64),
            query: format!(
                "SELECT u.id, u.legacy_email, o.old_status FROM users u JOIN orders o ON o.user_id = u.id WHERE u.id = $1 AND o.kind = {shape}"
            )
            .into(),
            sources: (0..3)
                .map(|s| SourceRef {
                    file: format!("/var/log/postgresql/postgresql-2026-11-{:02}.log", 20 + s)
                        .into(),
                    line: n * 11 + s,
                })
                .collect(),
        };
        inv.add_dep(key, stats);
    }
    inv.files.insert(
        "/var/log/postgresql/postgresql-2026-11-20.log".into(),
        FileCoverage {
            format: "stderr".into(),
            bytes: 1 << 30,
            lines: 1 << 22,
            records: 1 << 22,
            ..FileCoverage::default()
        },
    );
    inv
}

fn json(inv: &Inventory) -> Vec<u8> {
    let mut out = Vec::new();
    report::write(inv, OutputFormat::Json, &mut out).unwrap();
    out
}

/// The bound: the peak while reading may exceed the inventory made by a
/// quarter of its size (the interner's tables grow by doubling; the
/// B-tree's nodes fill as rows arrive) and 1 MiB (the read buffer, one row
/// and the parts of the document other than the rows). Holding the text
/// of the document (twice the inventory's size here) or the parsed rows
/// (more still) fails it by far.
fn allowed(kept: usize) -> usize {
    kept + kept / 4 + (1 << 20)
}

/// Reads `path` with `read` twice (the first makes whatever a process
/// allocates once) and asserts the bound on the second; the inventory read
/// must be written back as `written`.
fn assert_bounded(what: &str, path: &Path, written: &[u8], read: impl Fn(&Path) -> Inventory) {
    drop(read(path));
    let (inv, peak, kept) = measured(|| read(path));
    let size = std::fs::metadata(path).unwrap().len() as usize;
    eprintln!(
        "{what}: {size} B of JSON, {} rows: peak live heap {peak} B while reading, {kept} B kept (allowed {} B)",
        inv.deps.len(),
        allowed(kept)
    );
    assert_eq!(inv.deps.len() as u64, ROWS);
    assert_eq!(json(&inv), written, "{what}: read back as written");
    assert!(
        size > 3 * kept / 2,
        "{what}: the document ({size} B) must be much larger than the inventory ({kept} B) for the test to mean anything"
    );
    assert!(
        peak <= allowed(kept),
        "{what}: reading held more than the inventory made: peak {peak} B, the inventory {kept} B, the document {size} B (allowed {} B)",
        allowed(kept)
    );
}

#[test]
fn reading_a_stored_inventory_holds_about_the_inventory_not_the_document() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.json");
    let written = json(&inventory());
    std::fs::write(&path, &written).unwrap();
    assert_bounded("stored inventory", &path, &written, |p| {
        pgcontract::stored::load(p).unwrap()
    });
}

#[test]
fn resuming_a_state_file_holds_about_the_inventory_not_the_document() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let written = json(&inventory());
    let mut state = std::fs::File::create(&path).unwrap();
    write!(
        state,
        "{{\n  \"version\": 1,\n  \"files\": [],\n  \"inventory\": "
    )
    .unwrap();
    state.write_all(&written).unwrap();
    state.write_all(b"}\n").unwrap();
    drop(state);
    assert_bounded("state file", &path, &written, |p| {
        let (files, inv) = pgcontract::state::load(p).unwrap().unwrap();
        assert!(files.is_empty());
        inv
    });
}
