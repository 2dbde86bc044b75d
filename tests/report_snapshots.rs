//! Snapshot tests of the human-readable reports on the fixture workload
//! (relative paths, so the snapshots do not depend on the checkout's place).

use std::path::PathBuf;

use pgcontract::config::{load_catalog, parse_search_path};
use pgcontract::input::InputSource;
use pgcontract::report::{self, OutputFormat};
use pgcontract::scan::{scan, ScanConfig};
use pgcontract::target::ColumnTarget;

fn render(format: OutputFormat, inputs: &[&str], schema: Option<&str>) -> String {
    let cfg = ScanConfig {
        targets: ["public.users.legacy_email", "public.orders.old_status"]
            .iter()
            .map(|t| ColumnTarget::parse(t).unwrap())
            .collect(),
        catalog: load_catalog(schema.map(std::path::Path::new)).unwrap(),
        inputs: inputs
            .iter()
            .map(|p| InputSource::File(PathBuf::from(p)))
            .collect(),
        prefix: None,
        input_format: None,
        search_path: parse_search_path("\"$user\", public"),
        threads: 2,
        progress: false,
        chunk_bytes: 0,
        logging: Default::default(),
        keep_literals: false,
    };
    let inv = scan(&cfg);
    let mut out = Vec::new();
    report::write(&inv, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn markdown_report_of_the_fixture_workload() {
    insta::assert_snapshot!(render(
        OutputFormat::Markdown,
        &["fixtures/app/logs/custom.log"],
        Some("fixtures/app/schema.sql")
    ));
}

#[test]
fn text_report_of_the_fixture_workload_without_schema() {
    insta::assert_snapshot!(render(
        OutputFormat::Text,
        &["fixtures/app/logs/rds.log"],
        None
    ));
}

#[test]
fn markdown_report_of_pg_stat_statements_export() {
    insta::assert_snapshot!(render(
        OutputFormat::Markdown,
        &["fixtures/app/pgss/pgss-names.csv"],
        Some("fixtures/app/schema.sql")
    ));
}

#[test]
fn markdown_report_of_a_writes_only_log_states_the_blind_spot() {
    insta::assert_snapshot!(render(
        OutputFormat::Markdown,
        &["fixtures/audit/logs/mod.log"],
        None
    ));
}

#[test]
fn text_report_of_pgaudit_session_logging() {
    insta::assert_snapshot!(render(
        OutputFormat::Text,
        &["fixtures/audit/logs/session.log"],
        Some("fixtures/audit/schema.sql")
    ));
}
