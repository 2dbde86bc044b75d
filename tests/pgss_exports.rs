//! pg_stat_statements exports written by a real PostgreSQL 15 with
//! `pg_stat_statements.track = all` (scripts/gen-fixtures.sh, run 4) as CSV,
//! newline-delimited JSON (`row_to_json`) and a JSON array (`json_agg`):
//! the same dependency set from each, calls taken from the export, and the
//! statement run inside a function kept and marked.

mod common;

use common::*;

const SHAPES: &[(&str, &str)] = &[
    ("pgss-all.csv", "pg_stat_statements-csv"),
    ("pgss-all.ndjson", "pg_stat_statements-ndjson"),
    ("pgss-all.json", "pg_stat_statements-json-array"),
];

#[test]
fn every_export_shape_gives_the_same_dependency_set_with_the_nested_statement_marked() {
    let schema = fixture("app/schema.sql");
    for (file, format) in SHAPES {
        let doc = run(&[fixture(&format!("app/pgss/{file}"))], Some(&schema));
        assert_eq!(rows(&doc), expected_pgss_all_rows_with_schema(), "{file}");
        let nested: Vec<_> = doc
            .dependencies
            .iter()
            .filter(|d| d.nested_calls > 0)
            .map(|d| {
                (
                    d.actor.user.as_deref().unwrap(),
                    d.query.as_str(),
                    d.calls,
                    d.nested_calls,
                )
            })
            .collect();
        assert_eq!(
            nested,
            vec![(
                "r_nested",
                "(select u.legacy_email from public.users u where u.id = $1)",
                1,
                1
            )],
            "{file}"
        );
        let input = &doc.coverage.inputs[0];
        assert_eq!(input.format.as_deref(), Some(*format));
        assert!(input.errors.is_empty(), "{file}: {:?}", input.errors);
        assert!(input.skipped.is_empty(), "{file}: {:?}", input.skipped);
        assert_eq!(input.records, 33, "{file}");
        assert_eq!(
            input.records_by_kind["pg_stat_statements_row"], 32,
            "{file}"
        );
        assert_eq!(
            input.records_by_kind["pg_stat_statements_nested_row"], 1,
            "{file}"
        );
        assert_eq!(input.statements.analysed, 33, "{file}");
        // Calls add up to what the workload did: the 26 cases' executions
        // (44 including the statements that touch no target).
        assert_eq!(input.statements.calls, 44, "{file}");
        let target_calls: u64 = doc.targets.iter().map(|t| t.calls).sum();
        let want: u64 = expected_pgss_all_rows_with_schema()
            .iter()
            .map(|r| r.6)
            .sum();
        assert_eq!(target_calls, want, "{file}");
        assert!(
            !input
                .notes
                .iter()
                .any(|n| n.contains("track was probably `top`")),
            "{file}"
        );
    }
}

#[test]
fn a_top_level_only_export_says_nested_statements_are_invisible() {
    let doc = run(
        &[fixture("app/pgss/pgss-names.csv")],
        Some(&fixture("app/schema.sql")),
    );
    assert!(doc.coverage.inputs[0]
        .notes
        .iter()
        .any(|n| n.starts_with("no nested statement (toplevel = false) in the export")));
    assert!(doc.dependencies.iter().all(|d| d.nested_calls == 0));
}

#[test]
fn nested_calls_are_shown_in_every_report() {
    let inv = pgcontract::scan::scan(&config(
        &[fixture("app/pgss/pgss-all.ndjson")],
        Some(&fixture("app/schema.sql")),
        1,
    ));
    let render = |f| {
        let mut out = Vec::new();
        pgcontract::report::write(&inv, f, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    let json = render(pgcontract::report::OutputFormat::Json);
    assert_eq!(json.matches("\"nested_calls\": 1").count(), 1);
    let text = render(pgcontract::report::OutputFormat::Text);
    assert_eq!(text.matches(" nested_calls=1 ").count(), 1);
    let md = render(pgcontract::report::OutputFormat::Markdown);
    assert_eq!(md.matches("| 1 (1 nested) |").count(), 1);
    for out in [json, text, md] {
        for s in SECRETS {
            assert!(!out.contains(s), "{s} leaked");
        }
    }
}

fn scan_text(name: &str, content: &str) -> pgcontract::inventory::FileCoverage {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, content).unwrap();
    let inv = pgcontract::scan::scan(&config(std::slice::from_ref(&p), None, 1));
    inv.files.values().next().unwrap().clone()
}

#[test]
fn malformed_ndjson_line_is_named_counted_and_the_rest_read() {
    let cov = scan_text(
        "x.ndjson",
        concat!(
            r#"{"userid":10,"dbid":5,"toplevel":true,"queryid":1,"query":"SELECT legacy_email FROM users","calls":3}"#,
            "\n",
            r#"{"userid":10,"dbid":5,"toplevel":true,"queryid":2,"query":"SELECT 'secret-x'"#,
            "\n\n",
            r#"{"userid":10,"dbid":5,"toplevel":false,"queryid":3,"query":"SELECT 1","calls":"2"}"#,
            "\n",
            r#"{"userid":10,"dbid":5,"queryid":4,"query":null,"calls":1}"#,
            "\n",
        ),
    );
    assert_eq!(cov.format, "pg_stat_statements-ndjson");
    assert_eq!(cov.lines, 5);
    assert_eq!(cov.records, 5);
    assert_eq!(cov.records_by_kind["pg_stat_statements_row"], 1);
    assert_eq!(cov.records_by_kind["pg_stat_statements_nested_row"], 1);
    assert_eq!(cov.skipped["malformed JSON record"], 1);
    assert_eq!(cov.skipped["blank line"], 1);
    assert_eq!(cov.skipped["pg_stat_statements row without query text"], 1);
    assert_eq!(cov.statements.calls, 5);
    assert_eq!(cov.errors.len(), 1);
    assert!(
        cov.errors[0].starts_with("line 2: malformed JSON ("),
        "{:?}",
        cov.errors
    );
    assert!(!cov.errors[0].contains("secret-x"));
}

#[test]
fn malformed_json_array_element_is_named_and_the_part_before_read() {
    let cov = scan_text(
        "x.json",
        concat!(
            r#"[{"rolname":"alice","datname":"app","queryid":1,"query":"SELECT legacy_email FROM users","calls":3}, "#,
            "\n",
            r#" {"rolname":"bob","datname":"app","queryid":2,"query":"SELECT 1","calls":2}, "#,
            "\n",
            r#" {"rolname":"carol","datname":"app","queryid":3,"query":"SELECT 'secret-y' "calls":1}]"#,
            "\n",
        ),
    );
    assert_eq!(cov.format, "pg_stat_statements-json-array");
    assert_eq!(cov.lines, 3);
    assert_eq!(cov.records, 3);
    assert_eq!(cov.records_by_kind["pg_stat_statements_row"], 2);
    assert_eq!(cov.skipped["malformed JSON record"], 1);
    assert_eq!(cov.statements.calls, 5);
    assert_eq!(cov.errors.len(), 1);
    assert!(
        cov.errors[0].starts_with("line 3: malformed JSON (")
            && cov.errors[0].ends_with("; the rest of the array was not read"),
        "{:?}",
        cov.errors
    );
    assert!(!cov.errors[0].contains("secret-y"));
    // PostgreSQL 13 (no toplevel column) is said so.
    assert!(cov.notes.iter().any(|n| n.contains("no `toplevel` column")));
}

#[test]
fn a_forced_log_line_prefix_does_not_turn_a_json_export_into_a_log() {
    let mut cfg = config(
        &[fixture("app/pgss/pgss-all.json")],
        Some(&fixture("app/schema.sql")),
        1,
    );
    cfg.prefix = Some(pgcontract::input::prefix::Prefix::compile("%m [%p] ").unwrap());
    let inv = pgcontract::scan::scan(&cfg);
    let doc = pgcontract::report::json::to_doc(&inv);
    assert_eq!(rows(&doc), expected_pgss_all_rows_with_schema());
}
