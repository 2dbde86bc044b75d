//! `--migration`: targets taken from migration files in the shapes common
//! frameworks write (fixtures/migrations), expanded against the fixture
//! schema, and the end-to-end runs that use them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use pgcontract::config::{load_catalog, parse_search_path};
use pgcontract::inventory::Verdict;
use pgcontract::migration::targets_from_migrations;
use pgcontract::report::json::InventoryDoc;

const BIN: &str = env!("CARGO_BIN_EXE_pgcontract");

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

#[test]
fn flyway_migration_with_comments_gives_its_dropped_column() {
    assert_eq!(
        targets_of("V7__contract_legacy_email.sql", true),
        (
            vec![row("public.users.legacy_email", 3, "DROP COLUMN")],
            vec![]
        )
    );
}

#[test]
fn golang_migrate_up_file_in_a_transaction_gives_its_dropped_column() {
    assert_eq!(
        targets_of("000042_contract_orders.up.sql", true),
        (
            vec![row("public.orders.old_status", 4, "DROP COLUMN")],
            vec![]
        )
    );
}

#[test]
fn goose_migration_reads_only_the_up_part() {
    // The Down part drops `users`: not what runs on deploy.
    assert_eq!(
        targets_of("20261120093000_contract.sql", true),
        (
            vec![
                row("public.users.legacy_email", 3, "RENAME COLUMN"),
                row("public.orders.old_status", 7, "ALTER COLUMN TYPE"),
            ],
            vec![]
        )
    );
}

#[test]
fn sql_migrate_drop_table_means_every_column_of_it() {
    assert_eq!(
        targets_of("3_drop_newsletter.sql", true),
        (
            vec![
                row("public.newsletter.id", 2, "DROP TABLE"),
                row("public.newsletter.legacy_email", 2, "DROP TABLE"),
            ],
            vec![]
        )
    );
}

#[test]
fn dbmate_drop_view_means_every_column_and_drop_function_is_not_checked() {
    assert_eq!(
        targets_of("20261120100000_drop_contacts_view.sql", true),
        (
            vec![
                row("public.user_contacts.id", 2, "DROP VIEW"),
                row("public.user_contacts.legacy_email", 2, "DROP VIEW"),
            ],
            vec!["public.legacy_email_of DROP FUNCTION:3".to_string()]
        )
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
    assert_eq!(
        targets_of("prisma_migration.sql", true),
        (
            vec![row("public.users.legacy_email", 2, "DROP COLUMN")],
            vec![]
        )
    );
}

#[test]
fn rails_structure_style_sql_with_an_empty_search_path() {
    assert_eq!(
        targets_of("rails_structure_migration.sql", true),
        (
            vec![row("public.orders.old_status", 7, "DROP COLUMN")],
            vec![]
        )
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

fn pgc(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .expect("cannot run the pgcontract binary")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn doc(out: &Output) -> InventoryDoc {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not an inventory: {e}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn migration_targets_are_scanned_and_point_at_the_migration_line() {
    let (schema, log, m) = (
        fixture("app/schema.sql"),
        fixture("app/logs/custom.log"),
        migration("V7__contract_legacy_email.sql"),
    );
    let out = pgc(&[
        "scan",
        "-q",
        "--migration",
        s(&m),
        "--schema",
        s(&schema),
        "--format",
        "json",
        s(&log),
    ]);
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
    let (schema, log, m) = (
        fixture("app/schema.sql"),
        fixture("app/logs/custom.log"),
        migration("20261120100000_drop_contacts_view.sql"),
    );
    let out = pgc(&[
        "scan",
        "-q",
        "--migration",
        s(&m),
        "--schema",
        s(&schema),
        "--format",
        "json",
        s(&log),
    ]);
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
