//! The fixture workload (fixtures/app, written by a real PostgreSQL 15 by
//! scripts/gen-fixtures.sh): every log shape and export must give exactly the
//! dependency set the workload did, nothing for the decoys, and no literal.

mod common;

use common::*;
use pgcontract::inventory::Verdict;

fn logs() -> Vec<std::path::PathBuf> {
    ["custom.log", "rds.log", "default.log"]
        .iter()
        .map(|f| fixture(&format!("app/logs/{f}")))
        .collect()
}

#[test]
fn every_stderr_prefix_gives_the_exact_dependency_set() {
    let schema = fixture("app/schema.sql");
    for log in logs() {
        let doc = run(std::slice::from_ref(&log), Some(&schema));
        assert_eq!(
            rows(&doc),
            expected_log_rows_with_schema(),
            "{}",
            log.display()
        );
        assert_eq!(doc.targets[0].verdict, Verdict::Blocked);
        assert_eq!(doc.targets[1].verdict, Verdict::Blocked);
        assert!(doc.warnings.is_empty(), "{:?}", doc.warnings);
    }
}

#[test]
fn prefixes_are_detected() {
    let schema = fixture("app/schema.sql");
    let doc = run(&logs(), Some(&schema));
    let prefixes: Vec<_> = doc
        .coverage
        .inputs
        .iter()
        .map(|i| i.log_line_prefix.clone().unwrap())
        .collect();
    assert_eq!(
        prefixes,
        vec![
            "%m [%p] user=%u,db=%d,app=%a,client=%h ",
            "%m [%p] ",
            "%t:%r:%u@%d:[%p]:"
        ]
    );
}

#[test]
fn actors_carry_client_and_database() {
    let doc = run(
        &[fixture("app/logs/rds.log")],
        Some(&fixture("app/schema.sql")),
    );
    for d in &doc.dependencies {
        assert_eq!(d.actor.database.as_deref(), Some("appdb"));
        let want = if d.actor.user.as_deref() == Some("r_orders") {
            "[local]"
        } else {
            "127.0.0.1"
        };
        assert_eq!(d.actor.client.as_deref(), Some(want), "{d:?}");
        assert!(d.first_seen.is_some() && d.last_seen.is_some());
    }
    // The default prefix has no actor fields: they come from `connection authorized:`.
    let doc = run(
        &[fixture("app/logs/default.log")],
        Some(&fixture("app/schema.sql")),
    );
    assert!(doc
        .dependencies
        .iter()
        .all(|d| d.actor.user.is_some() && d.actor.application.is_some()));
}

#[test]
fn decoys_never_appear() {
    let doc = run(&logs(), Some(&fixture("app/schema.sql")));
    for d in &doc.dependencies {
        let user = d.actor.user.as_deref().unwrap_or("");
        assert!(!DECOY_ROLES.contains(&user), "decoy {user} in {d:?}");
    }
    let doc = run(&logs(), None);
    for d in &doc.dependencies {
        let user = d.actor.user.as_deref().unwrap_or("");
        assert!(!DECOY_ROLES.contains(&user), "decoy {user} in {d:?}");
    }
}

#[test]
fn pg_stat_statements_exports_with_names_and_oids() {
    let schema = fixture("app/schema.sql");
    // The export has no failed statement (pg_stat_statements does not count errors).
    let want = expected_pgss_rows_with_schema();
    let doc = run(&[fixture("app/pgss/pgss-names.csv")], Some(&schema));
    assert_eq!(rows(&doc), want);
    let doc = run(&[fixture("app/pgss/pgss-oids.csv")], Some(&schema));
    assert_eq!(doc.dependencies.len(), 27);
    assert!(doc.dependencies.iter().all(|d| d
        .actor
        .user
        .as_deref()
        .is_some_and(|u| u.starts_with("oid:"))));
    let calls = calls_to(&doc, "public.users.legacy_email");
    assert_eq!(calls, 31);
}

#[test]
fn without_a_schema_ambiguity_is_possible_not_dropped() {
    let doc = run(&[fixture("app/logs/custom.log")], None);
    let r = rows(&doc);
    assert!(r.contains(&row(
        "legacy_email",
        "r_join_using",
        "join-using",
        "read",
        "direct",
        "possible",
        1
    )));
    assert!(r.contains(&row(
        "legacy_email",
        "r_positional",
        "positional-insert",
        "write",
        "positional",
        "probable",
        1
    )));
    assert!(r.contains(&row(
        "legacy_email",
        "r_whole_row",
        "whole-row",
        "read",
        "whole_row",
        "probable",
        2
    )));
    assert!(r.contains(&row(
        "legacy_email",
        "r_direct",
        "direct-reader",
        "read",
        "direct",
        "certain",
        3
    )));
    assert!(doc.warnings.iter().any(|w| w.contains("no schema given")));
}

#[test]
fn schema_dependencies_list_the_view_that_uses_the_column() {
    let doc = run(
        &[fixture("app/logs/custom.log")],
        Some(&fixture("app/schema.sql")),
    );
    let objs: Vec<(&str, &str, &str)> = doc
        .schema_dependencies
        .iter()
        .map(|s| (s.column.as_str(), s.object.as_str(), s.object_type.as_str()))
        .collect();
    assert_eq!(
        objs,
        vec![("public.users.legacy_email", "public.user_contacts", "view")]
    );
}

#[test]
fn accounting_every_record_is_counted() {
    let mut inputs = logs();
    inputs.push(fixture("app/pgss/pgss-names.csv"));
    let doc = run(&inputs, Some(&fixture("app/schema.sql")));
    for i in &doc.coverage.inputs {
        let by_kind: u64 = i.records_by_kind.values().sum();
        let skipped: u64 = i.skipped.values().sum();
        assert_eq!(i.records, by_kind + skipped, "{:?}", i.file);
        assert!(i.errors.is_empty(), "{:?}", i.errors);
        assert_eq!(
            i.statements.seen,
            i.statements.analysed + i.statements.unparseable
        );
    }
    let custom = doc
        .coverage
        .inputs
        .iter()
        .find(|i| i.file.as_deref().unwrap().ends_with("custom.log"))
        .unwrap();
    assert_eq!(custom.lines, 149);
    assert_eq!(custom.records, 149);
    assert_eq!(custom.records_by_kind["statement"], 42);
    assert_eq!(custom.records_by_kind["bind_parameters"], 9);
    assert_eq!(custom.records_by_kind["failed_statement_already_logged"], 1);
    // 42 statement records, one of which holds two statements.
    assert_eq!(custom.statements.seen, 43);
    assert_eq!(custom.statements.unparseable, 0);
}

#[test]
fn output_is_identical_whatever_the_input_order_or_thread_count() {
    let schema = fixture("app/schema.sql");
    let mut inputs = logs();
    inputs.push(fixture("app/pgss/pgss-names.csv"));
    let a = pgcontract::scan::scan(&config(&inputs, Some(&schema), 1));
    inputs.reverse();
    let b = pgcontract::scan::scan(&config(&inputs, Some(&schema), 4));
    for fmt in [
        pgcontract::report::OutputFormat::Json,
        pgcontract::report::OutputFormat::Markdown,
        pgcontract::report::OutputFormat::Text,
    ] {
        let mut x = Vec::new();
        let mut y = Vec::new();
        pgcontract::report::write(&a, fmt, &mut x).unwrap();
        pgcontract::report::write(&b, fmt, &mut y).unwrap();
        assert_eq!(x, y, "{fmt:?}");
    }
}

#[test]
fn no_literal_or_parameter_value_reaches_any_output() {
    let mut inputs = logs();
    inputs.push(fixture("app/pgss/pgss-names.csv"));
    let inv = pgcontract::scan::scan(&config(&inputs, Some(&fixture("app/schema.sql")), 0));
    for (fmt, out) in reports_in_every_format(&inv) {
        assert_no_secret(&out, fmt);
        assert!(
            !out.contains("@example.com"),
            "an e-mail literal leaked in {fmt:?}"
        );
        assert!(!out.contains("parameters:"), "{fmt:?}");
    }
}

#[test]
fn json_output_matches_the_documented_contract() {
    let inv = pgcontract::scan::scan(&config(&logs(), Some(&fixture("app/schema.sql")), 0));
    let mut out = Vec::new();
    pgcontract::report::write(&inv, pgcontract::report::OutputFormat::Json, &mut out).unwrap();
    // deny_unknown_fields: the output has exactly the documented fields.
    let doc: pgcontract::report::json::InventoryDoc = serde_json::from_slice(&out).unwrap();
    assert_eq!(doc.version, 1);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["literals"], "stripped");
    let dep = &v["dependencies"][0];
    for k in [
        "column",
        "access",
        "via",
        "confidence",
        "actor",
        "calls",
        "first_seen",
        "last_seen",
        "fingerprint",
        "query",
        "sources",
    ] {
        assert!(dep.get(k).is_some(), "missing {k}");
    }
    for k in ["user", "database", "application", "client"] {
        assert!(dep["actor"].get(k).is_some(), "missing actor.{k}");
    }
    let first = dep["first_seen"].as_str().unwrap();
    assert!(first.ends_with('Z') && first.contains('T'), "{first}");
    // The documented example parses as the same contract.
    let docs = std::fs::read_to_string(root().join("docs/inventory-format.md")).unwrap();
    let start = docs.find("```json\n").unwrap() + 8;
    let end = start + docs[start..].find("\n```").unwrap();
    let _: pgcontract::report::json::InventoryDoc =
        serde_json::from_str(&docs[start..end]).unwrap();
}
