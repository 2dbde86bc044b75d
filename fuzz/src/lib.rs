//! Shared set-up of the fuzz targets: the fixture catalog and targets, a
//! statement extractor to feed reader output through, and a big-stack
//! thread for anything that reaches pg_query (the product parses on 64 MiB
//! stacks too).

use std::sync::OnceLock;

use pgcontract::analyze::load_schema;
use pgcontract::catalog::Catalog;
use pgcontract::extract::Extractor;
use pgcontract::input::LogEntry;
use pgcontract::inventory::FileCoverage;
use pgcontract::normalize::normalize;
use pgcontract::target::ColumnTarget;

/// The schema of the application fixtures (fixtures/app/schema.sql).
pub const APP_SCHEMA: &str = include_str!("../../fixtures/app/schema.sql");

/// The catalog built from [`APP_SCHEMA`].
pub fn app_catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| load_schema(APP_SCHEMA))
}

/// Every column of every relation of the fixture catalog, as targets (the
/// more targets, the more of the matching code a statement reaches).
pub fn app_targets() -> &'static [ColumnTarget] {
    static TARGETS: OnceLock<Vec<ColumnTarget>> = OnceLock::new();
    TARGETS.get_or_init(|| {
        let mut t: Vec<ColumnTarget> = app_catalog()
            .relations()
            .flat_map(|r| {
                r.columns.iter().map(|c| ColumnTarget {
                    schema: r.schema.clone(),
                    table: r.name.clone(),
                    column: c.clone(),
                })
            })
            .collect();
        t.sort();
        t.dedup();
        t
    })
}

/// The default search path of the CLI.
pub fn search_path() -> Vec<String> {
    vec!["$user".to_string(), "public".to_string()]
}

/// The first lines of `text`, as format detection samples them.
pub fn sample(text: &str) -> Vec<&str> {
    text.lines().take(500).collect()
}

/// Runs `f` on a thread with a 64 MiB stack (as the scan's worker pool
/// does), passing a panic on.
pub fn on_big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        let h = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn_scoped(s, f)
            .expect("spawn a fuzz worker thread");
        match h.join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

/// Feeds reader output through the statement extractor, as a scan does
/// (without analysing the statements: the `resolve` target does that).
#[derive(Default)]
pub struct Drain {
    extractor: Extractor,
    /// Entries seen.
    pub entries: u64,
    /// Statements the extractor emitted.
    pub statements: u64,
}

impl Drain {
    /// Takes one entry.
    pub fn entry(&mut self, e: LogEntry, cov: &mut FileCoverage) {
        assert!(e.line >= 1, "entry with line number 0: {e:?}");
        self.entries += 1;
        let statements = &mut self.statements;
        self.extractor.entry(&e, cov, &mut |s, _cov| {
            *statements += 1;
            let _ = normalize(&s.text);
        });
        self.extractor.flush_counts(cov);
    }
}
