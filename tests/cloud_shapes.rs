//! Cloud log shapes (fixtures/cloud, converted from the real-server workload
//! log fixtures/app/logs/custom.log by scripts/gen-cloud-fixtures.py): each
//! is recognised by content and gives exactly the dependency set (actors,
//! access, via) and calls of the workload, with every record accounted for.

mod common;

use common::*;
use pgcontract::inventory::{Confidence, Verdict};

/// (file, format detected, log_line_prefix, physical lines, records).
const SHAPES: &[(&str, &str, Option<&str>, u64, u64)] = &[
    ("rds-cloudwatch.log", "rds-cloudwatch", Some("%t:%r:%u@%d:[%p]:"), 179, 149),
    ("cloudsql.ndjson", "cloudsql", Some("[%p]: [%l-1] db=%d,user=%u "), 179, 149),
    ("cloudsql.json", "cloudsql", Some("%m [%p]: [%l-1] db=%d,user=%u "), 2866, 149),
    // 143 lines: 139 records (DETAIL and STATEMENT folded into their record,
    // as csvlog does) + 4 instance-manager lines; records count each
    // DETAIL/STATEMENT apart again.
    ("cnpg.ndjson", "cloudnativepg", None, 143, 153),
    ("heroku.log", "heroku-logplex", Some(" sql_error_code = %e "), 179, 149),
    ("heroku-new.log", "heroku-logplex", Some(" sql_error_code = %e "), 179, 149),
    (
        "heroku-drain.log",
        "heroku-logplex",
        Some(" sql_error_code = %e time_ms = \"%m\" pid=\"%p\" proc_start_time=\"%s\" session_id=\"%c\" vtid=\"%v\" tid=\"%x\" log_line=\"%l\" %qdatabase=\"%d\" connection_source=\"%r\" user=\"%u\" application_name=\"%a\" "),
        179,
        149,
    ),
    ("azure-eventhub.ndjson", "azure-eventhub", Some("%m [%p] %q[user=%u,db=%d,app=%a] "), 6, 149),
    ("azure-log-analytics.json", "azure-log-analytics", None, 4589, 149),
];

#[test]
fn every_cloud_shape_gives_the_exact_dependency_set_of_the_workload() {
    let schema = fixture("app/schema.sql");
    for (file, format, prefix, lines, records) in SHAPES {
        let doc = run(&[fixture(&format!("cloud/{file}"))], Some(&schema));
        assert_eq!(rows(&doc), expected_log_rows_with_schema(), "{file}");
        assert_eq!(doc.targets[0].verdict, Verdict::Blocked, "{file}");
        assert_eq!(doc.targets[1].verdict, Verdict::Blocked, "{file}");
        assert!(doc.warnings.is_empty(), "{file}: {:?}", doc.warnings);
        let input = &doc.coverage.inputs[0];
        assert_eq!(input.format.as_deref(), Some(*format), "{file}");
        assert_eq!(input.log_line_prefix.as_deref(), *prefix, "{file}");
        assert!(input.errors.is_empty(), "{file}: {:?}", input.errors);
        assert_eq!(input.lines, *lines, "{file}");
        assert_eq!(input.records, *records, "{file}");
        let by_kind: u64 = input.records_by_kind.values().sum();
        let skipped: u64 = input.skipped.values().sum();
        assert_eq!(input.records, by_kind + skipped, "{file}");
        // The same statements as the stderr log of the same run (42 statement
        // records, one holding two statements), none unparseable.
        assert_eq!(input.records_by_kind["statement"], 42, "{file}");
        assert_eq!(input.statements.seen, 43, "{file}");
        assert_eq!(input.statements.unparseable, 0, "{file}");
        assert_eq!(input.records_by_kind["bind_parameters"], 9, "{file}");
        assert_eq!(
            input.records_by_kind["failed_statement_already_logged"], 1,
            "{file}"
        );
        assert!(
            input.first_time.is_some() && input.last_time.is_some(),
            "{file}"
        );
        for d in &doc.dependencies {
            let user = d.actor.user.as_deref().unwrap_or("");
            assert!(!DECOY_ROLES.contains(&user), "{file}: decoy {user}");
            assert_eq!(d.actor.database.as_deref(), Some("appdb"), "{file}: {d:?}");
            assert!(d.first_seen.is_some(), "{file}");
        }
    }
}

#[test]
fn cloud_shapes_match_the_stderr_log_they_came_from_row_for_row() {
    // Same actors (with clients), access, via, fingerprints and calls as the
    // real-server log itself.
    let schema = fixture("app/schema.sql");
    let key = |doc: &pgcontract::report::json::InventoryDoc| -> Vec<String> {
        doc.dependencies
            .iter()
            .map(|d| {
                format!(
                    "{} {:?} {} {:?} {:?} {} {}",
                    d.column,
                    d.access,
                    d.via,
                    d.actor.user,
                    d.actor.application,
                    d.fingerprint,
                    d.calls
                )
            })
            .collect()
    };
    let want = key(&run(&[fixture("app/logs/custom.log")], Some(&schema)));
    for (file, ..) in SHAPES {
        let doc = run(&[fixture(&format!("cloud/{file}"))], Some(&schema));
        assert_eq!(key(&doc), want, "{file}");
    }
}

#[test]
fn no_literal_or_parameter_value_from_a_cloud_shape_reaches_any_output() {
    let inputs: Vec<_> = SHAPES
        .iter()
        .map(|(f, ..)| fixture(&format!("cloud/{f}")))
        .collect();
    let inv = pgcontract::scan::scan(&config(&inputs, Some(&fixture("app/schema.sql")), 2));
    for (fmt, out) in reports_in_every_format(&inv) {
        assert_no_secret(&out, fmt);
        assert!(!out.contains("@example.com"), "{fmt:?}");
    }
    // Nine copies of the workload: calls add up.
    let doc = pgcontract::report::json::to_doc(&inv);
    let want: Vec<Row> = expected_log_rows_with_schema()
        .into_iter()
        .map(|mut r| {
            r.6 *= SHAPES.len() as u64;
            r
        })
        .collect();
    assert_eq!(rows(&doc), want);
}

#[test]
fn rds_truncated_marker_is_counted_and_makes_dependencies_possible_and_verdicts_inconclusive() {
    let doc = run(&[fixture("cloud/rds-truncated.log")], None);
    let input = &doc.coverage.inputs[0];
    assert_eq!(input.format.as_deref(), Some("rds-cloudwatch"));
    assert_eq!(input.truncated_records, 2);
    assert_eq!(input.records, 6);
    assert_eq!(input.records_by_kind["statement"], 3);
    // The clean cut parses; the cut inside the IN list does not.
    assert_eq!(input.statements.analysed, 2);
    assert_eq!(input.statements.unparseable, 1);
    assert!(input
        .notes
        .iter()
        .any(|n| n.starts_with("2 records were cut short by the log")));
    let deps: Vec<_> = doc
        .dependencies
        .iter()
        .map(|d| {
            (
                d.column.as_str(),
                d.actor.user.as_deref(),
                d.confidence,
                d.reason.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        deps,
        vec![(
            "public.users.legacy_email",
            Some("r_report"),
            Confidence::Possible,
            Some("the log cut this statement short ([Your log message was truncated]): the lost part could change how its names resolve")
        )]
    );
    // Neither column can be clear: the lost text could name either.
    assert_eq!(doc.targets[0].verdict, Verdict::Inconclusive);
    assert_eq!(doc.targets[1].verdict, Verdict::Inconclusive);
    assert_eq!(
        doc.targets[1].reason,
        "2 statements cut short by the log ([Your log message was truncated]) could hide a reference"
    );
    // The marker itself never becomes part of the analysed text.
    assert!(doc
        .dependencies
        .iter()
        .all(|d| !d.query.contains("truncated")));
}

#[test]
fn cloud_shapes_are_recognised_when_compressed() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cloudsql.json.gz");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&std::fs::read(fixture("cloud/cloudsql.json")).unwrap())
        .unwrap();
    std::fs::write(&p, e.finish().unwrap()).unwrap();
    let doc = run(std::slice::from_ref(&p), Some(&fixture("app/schema.sql")));
    assert_eq!(
        doc.coverage.inputs[0].format.as_deref(),
        Some("cloudsql+gzip")
    );
    assert_eq!(rows(&doc), expected_log_rows_with_schema());
}

#[test]
fn a_stored_inventory_keeps_the_truncation_evidence() {
    let inv = pgcontract::scan::scan(&config(&[fixture("cloud/rds-truncated.log")], None, 1));
    let doc = pgcontract::report::json::to_doc(&inv);
    let back = pgcontract::stored::from_doc(&doc).unwrap();
    assert_eq!(pgcontract::report::json::to_doc(&back), doc);
    assert_eq!(back.verdict(1).verdict, Verdict::Inconclusive);
    assert_eq!(doc.targets[1].truncated_statements, 2);
}

#[test]
fn cloud_fixtures_are_exactly_what_the_committed_script_writes() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("python3")
        .arg(root().join("scripts/gen-cloud-fixtures.py"))
        .arg(fixture("app/logs/custom.log"))
        .arg(dir.path())
        .output()
        .expect("python3 is needed (scripts/deps.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut committed: Vec<String> = std::fs::read_dir(fixture("cloud"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "README.md")
        .collect();
    committed.sort();
    assert_eq!(names, committed);
    for n in &names {
        let fresh = std::fs::read(dir.path().join(n)).unwrap();
        let fixed = std::fs::read(fixture(&format!("cloud/{n}"))).unwrap();
        assert!(
            fresh == fixed,
            "fixtures/cloud/{n} differs from what the script writes"
        );
    }
}
