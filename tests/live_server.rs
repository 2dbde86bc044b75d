//! Regenerates the fixture workload against a real, throwaway PostgreSQL 15
//! cluster (scripts/gen-fixtures.sh) and checks that the fresh logs and
//! export give exactly the inventory the committed fixtures give.
//!
//! Needs the postgresql-15 server package (`/usr/lib/postgresql/15/bin`) and,
//! for the syslog logs, rsyslog and root (see scripts/gen-fixtures.sh).
//! Without them the test fails, unless `PGCONTRACT_SKIP_LIVE=1` is set.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::*;
use pgcontract::inventory::Verdict;

const INITDB: &str = "/usr/lib/postgresql/15/bin/initdb";

#[test]
fn regenerated_logs_from_a_live_server_give_the_same_inventory() {
    if live_skipped("live_server:") {
        return;
    }
    assert!(
        Path::new(INITDB).exists(),
        "{INITDB} not found: this test needs the PostgreSQL 15 server (apt-get install postgresql-15); \
         set PGCONTRACT_SKIP_LIVE=1 to skip it"
    );

    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("app");
    let started = Instant::now();
    run_fixture_script("gen-fixtures.sh", dir.path(), &out_dir);
    eprintln!(
        "live_server: fixtures regenerated in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    let schema = out_dir.join("schema.sql");
    assert!(schema.is_file(), "no schema.sql written");

    for f in ["custom.log", "rds.log", "default.log"] {
        let log = out_dir.join("logs").join(f);
        let doc = run(std::slice::from_ref(&log), Some(&schema));
        assert_eq!(rows(&doc), expected_log_rows_with_schema(), "{f}");
        assert_eq!(doc.targets[0].verdict, Verdict::Blocked, "{f}");
        assert_eq!(doc.targets[1].verdict, Verdict::Blocked, "{f}");
        assert!(doc.warnings.is_empty(), "{f}: {:?}", doc.warnings);
        let input = &doc.coverage.inputs[0];
        assert!(input.errors.is_empty(), "{f}: {:?}", input.errors);
        assert_eq!(input.lines, 149, "{f}");
        assert_eq!(input.statements.seen, 43, "{f}");
        assert_eq!(input.statements.unparseable, 0, "{f}");
        for d in &doc.dependencies {
            let user = d.actor.user.as_deref().unwrap_or("");
            assert!(!DECOY_ROLES.contains(&user), "{f}: decoy {user} in {d:?}");
        }
    }

    // The self-hosted formats of the same workload: csvlog and jsonlog of
    // the first run, a prefix with many escapes, verbose error verbosity,
    // and syslog through rsyslog (BSD and ISO headers).
    for (f, prefix) in [
        ("custom.csv", None),
        ("custom.json", None),
        (
            "escapes.log",
            Some("%m [%-6p] %c %l %x %v %e %i %b %q%-12u %d %r %a: "),
        ),
        ("verbose.log", None),
        ("syslog-bsd.log", None),
        ("syslog-iso.log", None),
        ("syslog-rfc5424.log", None),
    ] {
        let log = out_dir.join("logs").join(f);
        assert!(log.is_file(), "{f} not written");
        let mut cfg = config(std::slice::from_ref(&log), Some(&schema), 0);
        cfg.prefix = prefix.map(|p| pgcontract::input::prefix::Prefix::compile(p).unwrap());
        let doc = pgcontract::report::json::to_doc(&pgcontract::scan::scan(&cfg));
        assert_eq!(rows(&doc), expected_log_rows_with_schema(), "{f}");
        let input = &doc.coverage.inputs[0];
        assert!(input.errors.is_empty(), "{f}: {:?}", input.errors);
        assert_eq!(input.statements.seen, 43, "{f}");
        assert_eq!(input.statements.unparseable, 0, "{f}");
        assert_eq!(input.records_by_kind["statement"], 42, "{f}");
    }

    // The multi-line workload, written to every destination at once: the
    // same statements, byte for byte, and the same dependencies.
    for f in [
        "multiline.log",
        "multiline.csv",
        "multiline.json",
        "multiline-syslog-bsd.log",
        "multiline-syslog-iso.log",
        "multiline-syslog-rfc5424.log",
    ] {
        let log = out_dir.join("logs").join(f);
        let doc = run(std::slice::from_ref(&log), Some(&schema));
        let input = &doc.coverage.inputs[0];
        assert!(input.errors.is_empty(), "{f}: {:?}", input.errors);
        assert_eq!(input.statements.seen, 5, "{f}");
        assert_eq!(rows(&doc), expected_multiline_rows(), "{f}");
    }

    // pg_stat_statements: the same set minus the failed statement (not
    // recorded), and no application names.
    let want = expected_pgss_rows_with_schema();
    let doc = run(&[out_dir.join("pgss/pgss-names.csv")], Some(&schema));
    assert_eq!(rows(&doc), want, "pgss-names.csv");
    assert!(doc.coverage.inputs[0].errors.is_empty());

    let doc = run(&[out_dir.join("pgss/pgss-oids.csv")], Some(&schema));
    assert_eq!(doc.dependencies.len(), 27, "pgss-oids.csv");
    let calls = calls_to(&doc, "public.users.legacy_email");
    assert_eq!(calls, 31, "pgss-oids.csv");

    // The fresh stderr log converted into every cloud shape
    // (scripts/gen-cloud-fixtures.py) gives the same set again.
    let cloud = out_dir.join("cloud");
    let conv = Command::new("python3")
        .arg(root().join("scripts/gen-cloud-fixtures.py"))
        .arg(out_dir.join("logs/custom.log"))
        .arg(&cloud)
        .output()
        .expect("cannot run python3");
    assert!(
        conv.status.success(),
        "gen-cloud-fixtures.py failed: {}",
        String::from_utf8_lossy(&conv.stderr)
    );
    let mut shapes: Vec<PathBuf> = std::fs::read_dir(&cloud)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with("rds-truncated.log"))
        .collect();
    shapes.sort();
    assert_eq!(shapes.len(), 9);
    for shape in &shapes {
        let doc = run(std::slice::from_ref(shape), Some(&schema));
        assert_eq!(
            rows(&doc),
            expected_log_rows_with_schema(),
            "{}",
            shape.display()
        );
        assert!(
            doc.coverage.inputs[0].errors.is_empty(),
            "{}",
            shape.display()
        );
    }

    // track = all, as CSV, NDJSON and a JSON array: the same set plus the
    // nested statement, marked.
    for f in ["pgss-all.csv", "pgss-all.ndjson", "pgss-all.json"] {
        let doc = run(&[out_dir.join("pgss").join(f)], Some(&schema));
        assert_eq!(rows(&doc), expected_pgss_all_rows_with_schema(), "{f}");
        let nested: Vec<_> = doc
            .dependencies
            .iter()
            .filter(|d| d.nested_calls > 0)
            .map(|d| (d.actor.user.as_deref(), d.nested_calls))
            .collect();
        assert_eq!(nested, vec![(Some("r_nested"), 1)], "{f}");
        assert!(doc.coverage.inputs[0].errors.is_empty(), "{f}");
    }
}
