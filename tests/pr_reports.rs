//! The reports a pull request sees: the Markdown comment (rendered with a
//! CommonMark + tables parser and checked for its structure, plus an insta
//! snapshot), SARIF 2.1.0 and GitHub Actions annotations located at the
//! migration line that drops the column. Runs from the repository root with
//! relative paths so the outputs do not depend on the checkout's place.

mod common;

use std::process::{Command, Output, Stdio};

use common::*;
use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

const BIN: &str = env!("CARGO_BIN_EXE_pgcontract");

const CONTRACT: &str = r#"
[[accept]]
column = "public.orders.old_status"
application = "pgbench-prepared"
access = "write"
reason = "dual write until the read switch"
expires = "2026-12-01"
"#;

/// A PR audit: targets from the Flyway migration and the golang-migrate
/// one, the accepted dual write, a bounded window, in `format`.
fn pr_run(format: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("pgcontract.toml");
    std::fs::write(&cfg, CONTRACT).unwrap();
    Command::new(BIN)
        .args([
            "scan",
            "-q",
            "--migration",
            "fixtures/migrations/V7__contract_legacy_email.sql",
            "--migration",
            "fixtures/migrations/000042_contract_orders.up.sql",
            "--schema",
            "fixtures/app/schema.sql",
            "--config",
            cfg.to_str().unwrap(),
            "--since",
            "2026-11-21T23:00:00Z",
            "--until",
            "2026-11-21T23:30:00Z",
            "--now",
            "2026-11-22T00:00:00Z",
            "--format",
            format,
            "fixtures/app/logs/custom.log",
        ])
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// What the rendered Markdown is made of.
#[derive(Debug, Default)]
struct Structure {
    first_html: String,
    headings: Vec<(HeadingLevel, String)>,
    /// Body rows per table, in order.
    table_rows: Vec<usize>,
    /// First cell of each body row of the first table.
    first_table_columns: Vec<String>,
    details_open: usize,
    details_close: usize,
}

fn structure(md: &str) -> Structure {
    let mut s = Structure::default();
    let mut heading: Option<(HeadingLevel, String)> = None;
    let (mut in_head, mut in_cell, mut cell_index) = (false, false, 0);
    let mut cell = String::new();
    for ev in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match ev {
            Event::Html(h) | Event::InlineHtml(h) => {
                if s.first_html.is_empty() {
                    s.first_html = h.trim().to_string();
                }
                s.details_open += h.matches("<details>").count();
                s.details_close += h.matches("</details>").count();
            }
            Event::Start(Tag::Heading { level, .. }) => heading = Some((level, String::new())),
            Event::End(TagEnd::Heading(_)) => s.headings.extend(heading.take()),
            Event::Start(Tag::Table(_)) => s.table_rows.push(0),
            Event::Start(Tag::TableHead) => in_head = true,
            Event::End(TagEnd::TableHead) => in_head = false,
            Event::Start(Tag::TableRow) => {
                cell_index = 0;
                if !in_head {
                    *s.table_rows.last_mut().unwrap() += 1;
                }
            }
            Event::Start(Tag::TableCell) => {
                in_cell = true;
                cell.clear();
            }
            Event::End(TagEnd::TableCell) => {
                in_cell = false;
                if !in_head && cell_index == 0 && s.table_rows.len() == 1 {
                    s.first_table_columns.push(cell.clone());
                }
                cell_index += 1;
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, h)) = heading.as_mut() {
                    h.push_str(&t);
                }
                if in_cell {
                    cell.push_str(&t);
                }
            }
            _ => {}
        }
    }
    s
}

#[test]
fn markdown_comment_renders_with_verdicts_first_then_sections_and_collapsible_blocks() {
    let out = pr_run("markdown");
    assert_eq!(out.status.code(), Some(1));
    let md = stdout(&out);
    let s = structure(&md);
    assert_eq!(s.first_html, pgcontract::report::markdown::MARKER);
    let headings: Vec<(HeadingLevel, &str)> =
        s.headings.iter().map(|(l, t)| (*l, t.as_str())).collect();
    assert_eq!(
        headings,
        vec![
            (HeadingLevel::H2, "pgcontract: contract audit"),
            (HeadingLevel::H3, "public.users.legacy_email"),
            (HeadingLevel::H3, "public.orders.old_status"),
            (HeadingLevel::H3, "Coverage"),
        ]
    );
    // The first table: one row per column, in target order.
    assert_eq!(
        s.first_table_columns,
        vec!["public.users.legacy_email", "public.orders.old_status"]
    );
    // Per column: actors, (accepted,) statements, (schema objects); then
    // the coverage inputs.
    // legacy_email: 23 actor rows, 25 statements, 1 schema object (the
    // view); old_status: 2 open actor rows, 1 accepted, 3 statements;
    // coverage: 1 input.
    assert_eq!(s.table_rows, vec![2, 23, 25, 1, 2, 1, 3, 1], "{md}");
    // Statements of each column and the coverage are collapsible.
    assert_eq!(s.details_open, 3);
    assert_eq!(s.details_close, 3);
}

#[test]
fn markdown_comment_snapshot() {
    insta::assert_snapshot!(stdout(&pr_run("markdown")));
}

#[test]
fn sarif_results_point_at_the_migration_lines() {
    let out = pr_run("sarif");
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "pgcontract");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(rules, vec!["blocked", "inconclusive", "not-checked"]);
    let results: Vec<(String, String, String, u64)> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let loc = &r["locations"][0]["physicalLocation"];
            (
                r["ruleId"].as_str().unwrap().to_string(),
                r["level"].as_str().unwrap().to_string(),
                loc["artifactLocation"]["uri"].as_str().unwrap().to_string(),
                loc["region"]["startLine"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        results,
        vec![
            (
                "blocked".into(),
                "error".into(),
                "fixtures/migrations/V7__contract_legacy_email.sql".into(),
                3
            ),
            (
                "blocked".into(),
                "error".into(),
                "fixtures/migrations/000042_contract_orders.up.sql".into(),
                4
            ),
        ]
    );
    let msg = run["results"][1]["message"]["text"].as_str().unwrap();
    assert_eq!(
        msg,
        "public.orders.old_status (DROP COLUMN) is blocked: 2 dependencies (3 calls) in the logs; 1 accepted dependency (not blocking)"
    );
}

#[test]
fn github_annotations_point_at_the_migration_lines() {
    let out = pr_run("github");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("::error file=fixtures/migrations/V7__contract_legacy_email.sql,line=3,title=pgcontract%3A public.users.legacy_email is blocked::public.users.legacy_email is blocked: "),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("::error file=fixtures/migrations/000042_contract_orders.up.sql,line=4,title=pgcontract%3A public.orders.old_status is blocked::"),
        "{}",
        lines[1]
    );
}

#[test]
fn github_annotation_for_an_unchecked_change_is_a_warning_at_its_line() {
    let out = Command::new(BIN)
        .args([
            "scan",
            "-q",
            "--migration",
            "fixtures/migrations/3_drop_newsletter.sql",
            "--format",
            "github",
            "fixtures/app/logs/custom.log",
        ])
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "::warning file=fixtures/migrations/3_drop_newsletter.sql,line=2,title=pgcontract%3A public.newsletter not checked::DROP TABLE public.newsletter is not checked: no --schema given, so its columns are unknown: give the schema dump or name the columns with --column\n"
    );
}
