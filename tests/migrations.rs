//! `--migration`: targets taken from migration files in the shapes common
//! frameworks write (fixtures/migrations), expanded against the fixture
//! schema, and the end-to-end runs that use them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use pgcontract::config::{load_catalog, parse_search_path};
use pgcontract::inventory::Verdict;
use pgcontract::migration::targets_from_migrations;

fn migration(name: &str) -> PathBuf {
    fixture(&format!("migrations/{name}"))
}

/// (target, line, change) of one file, expanded against the fixture schema.
fn targets_of(name: &str, with_schema: bool) -> (Vec<(String, u64, String)>, Vec<String>) {
    let schema = fixture("app/schema.sql");
    let catalog = load_catalog(with_schema.then_some(schema.as_path())).unwrap();
    let path = migration(name);
    let t = targets_from_migrations(
        &[path.as_path()],
        &catalog,
        &parse_search_path("\"$user\", public"),
    )
    .unwrap();
    (
        t.targets
            .iter()
            .map(|(c, s)| (c.to_string(), s.line, s.change.clone()))
            .collect(),
        t.unchecked
            .iter()
            .map(|u| format!("{} {}:{}", u.object, u.site.change, u.site.line))
            .collect(),
    )
}

fn row(t: &str, line: u64, change: &str) -> (String, u64, String) {
    (t.to_string(), line, change.to_string())
}

/// Asserts the (target, line, change) rows of one file, expanded against the
/// fixture schema, and the objects in it that are not checked.
fn assert_targets(name: &str, want: &[(&str, u64, &str)], unchecked: &[&str]) {
    let want: Vec<_> = want.iter().map(|&(t, l, c)| row(t, l, c)).collect();
    let unchecked: Vec<_> = unchecked.iter().map(|u| u.to_string()).collect();
    assert_eq!(targets_of(name, true), (want, unchecked), "{name}");
}

#[test]
fn flyway_migration_with_comments_gives_its_dropped_column() {
    assert_targets(
        "V7__contract_legacy_email.sql",
        &[("public.users.legacy_email", 3, "DROP COLUMN")],
        &[],
    );
}

#[test]
fn golang_migrate_up_file_in_a_transaction_gives_its_dropped_column() {
    assert_targets(
        "000042_contract_orders.up.sql",
        &[("public.orders.old_status", 4, "DROP COLUMN")],
        &[],
    );
}

#[test]
fn goose_migration_reads_only_the_up_part() {
    // The Down part drops `users`: not what runs on deploy.
    assert_targets(
        "20261120093000_contract.sql",
        &[
            ("public.users.legacy_email", 3, "RENAME COLUMN"),
            ("public.orders.old_status", 7, "ALTER COLUMN TYPE"),
        ],
        &[],
    );
}

#[test]
fn sql_migrate_drop_table_means_every_column_of_it() {
    assert_targets(
        "3_drop_newsletter.sql",
        &[
            ("public.newsletter.id", 2, "DROP TABLE"),
            ("public.newsletter.legacy_email", 2, "DROP TABLE"),
        ],
        &[],
    );
}

#[test]
fn dbmate_drop_view_means_every_column_and_drop_function_is_not_checked() {
    assert_targets(
        "20261120100000_drop_contacts_view.sql",
        &[
            ("public.user_contacts.id", 2, "DROP VIEW"),
            ("public.user_contacts.legacy_email", 2, "DROP VIEW"),
        ],
        &["public.legacy_email_of DROP FUNCTION:3"],
    );
}

#[test]
fn django_sqlmigrate_output_with_quoted_names_and_a_table_rename() {
    let (targets, unchecked) = targets_of("django_0007_remove_user_legacy_email.sql", true);
    assert_eq!(
        targets,
        vec![
            row("public.users.legacy_email", 5, "DROP COLUMN"),
            row("public.orders.id", 9, "RENAME TABLE"),
            row("public.orders.user_id", 9, "RENAME TABLE"),
            row("public.orders.total", 9, "RENAME TABLE"),
            row("public.orders.old_status", 9, "RENAME TABLE"),
            row("public.orders.status", 9, "RENAME TABLE"),
        ]
    );
    assert!(unchecked.is_empty());
}

#[test]
fn prisma_migration_ignores_the_added_column_and_the_index() {
    assert_targets(
        "prisma_migration.sql",
        &[("public.users.legacy_email", 2, "DROP COLUMN")],
        &[],
    );
}

#[test]
fn rails_structure_style_sql_with_an_empty_search_path() {
    assert_targets(
        "rails_structure_migration.sql",
        &[("public.orders.old_status", 7, "DROP COLUMN")],
        &[],
    );
}

#[test]
fn drop_table_without_a_schema_is_reported_as_not_checked() {
    assert_eq!(
        targets_of("3_drop_newsletter.sql", false),
        (vec![], vec!["public.newsletter DROP TABLE:2".to_string()])
    );
}

// ------------------------------------------------------------ end to end

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `scan -q --migration FILE --schema schema.sql --format json custom.log`.
fn scan_migration(m: &Path) -> Output {
    let (schema, log) = (fixture("app/schema.sql"), fixture("app/logs/custom.log"));
    pgc(&migration_scan(s(m), s(&schema), "json", s(&log)))
}

#[test]
fn migration_targets_are_scanned_and_point_at_the_migration_line() {
    let m = migration("V7__contract_legacy_email.sql");
    let out = scan_migration(&m);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let d = doc(&out);
    assert_eq!(d.targets.len(), 1);
    assert_eq!(d.targets[0].column, "public.users.legacy_email");
    assert_eq!(d.targets[0].verdict, Verdict::Blocked);
    assert_eq!(d.targets[0].migration.len(), 1);
    assert_eq!(d.targets[0].migration[0].file, s(&m));
    assert_eq!(d.targets[0].migration[0].line, 3);
    assert_eq!(d.targets[0].migration[0].change, "DROP COLUMN");
    assert!(d.unchecked.is_empty());
}

#[test]
fn column_and_migration_targets_are_merged_without_duplicates() {
    let (schema, log) = (fixture("app/schema.sql"), fixture("app/logs/custom.log"));
    let (a, b) = (
        migration("V7__contract_legacy_email.sql"),
        migration("prisma_migration.sql"),
    );
    let out = pgc(&[
        "scan",
        "-q",
        "--column",
        "users.legacy_email",
        "--column",
        "orders.old_status",
        "--migration",
        s(&a),
        "--migration",
        s(&b),
        "--schema",
        s(&schema),
        "--format",
        "json",
        s(&log),
    ]);
    let d = doc(&out);
    let cols: Vec<_> = d.targets.iter().map(|t| t.column.as_str()).collect();
    assert_eq!(
        cols,
        vec!["public.users.legacy_email", "public.orders.old_status"]
    );
    let lines: Vec<_> = d.targets[0]
        .migration
        .iter()
        .map(|m| (m.file.rsplit('/').next().unwrap().to_string(), m.line))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("V7__contract_legacy_email.sql".to_string(), 3),
            ("prisma_migration.sql".to_string(), 2)
        ]
    );
    assert!(d.targets[1].migration.is_empty());
}

#[test]
fn an_unparseable_migration_exits_2_naming_file_and_line() {
    let (log, m) = (fixture("app/logs/custom.log"), migration("broken.sql"));
    let out = pgc(&["scan", "-q", "--migration", s(&m), s(&log)]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{}:4: cannot parse the migration statement",
            s(&m)
        )),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn an_unchecked_drop_function_keeps_the_run_from_exiting_0() {
    // The view's columns are used by nobody in the fixture logs except
    // through `users`, but the dropped function cannot be checked.
    let m = migration("20261120100000_drop_contacts_view.sql");
    let out = scan_migration(&m);
    assert_eq!(out.status.code(), Some(1));
    let d = doc(&out);
    assert_eq!(d.unchecked.len(), 1);
    assert_eq!(d.unchecked[0].object, "public.legacy_email_of");
    assert_eq!(d.unchecked[0].site.line, 3);
}

#[test]
fn a_migration_that_drops_nothing_checks_nothing_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("V8__add_column.sql");
    std::fs::write(&m, "ALTER TABLE users ADD COLUMN nickname text;\n").unwrap();
    let log = fixture("app/logs/custom.log");
    let out = pgc(&["scan", "-q", "--migration", s(&m), s(&log)]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("no column to check\n"), "{text}");
    assert!(text.contains("no DROP, RENAME or ALTER COLUMN TYPE in 1 statement"));
}
