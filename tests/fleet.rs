//! Stored inventories and fleet-wide merging: a scan's JSON read back is the
//! same inventory (so `report` renders what `scan` rendered), `merge` obeys
//! the merge laws over the fixture inventories (every order and grouping
//! gives byte-identical output, equal to one scan of all the inputs), the
//! same input merged twice is counted once, and bad documents are clear
//! errors. Also the generated completions and man pages.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use pgcontract::inventory::Inventory;
use pgcontract::report::{self, json::to_doc, OutputFormat};
use pgcontract::scan::scan;
use pgcontract::stored::{self, StoredError};

fn schema() -> PathBuf {
    fixture("app/schema.sql")
}

/// The four fixture inputs, each scanned alone.
fn inputs() -> Vec<PathBuf> {
    vec![
        fixture("app/logs/custom.log"),
        fixture("app/logs/rds.log"),
        fixture("app/logs/default.log"),
        fixture("app/pgss/pgss-names.csv"),
    ]
}

fn scan_of(files: &[PathBuf]) -> Inventory {
    scan(&config(files, Some(&schema()), 1))
}

fn json(inv: &Inventory) -> Vec<u8> {
    let mut out = Vec::new();
    report::write(inv, OutputFormat::Json, &mut out).unwrap();
    out
}

fn rendered(inv: &Inventory, f: OutputFormat) -> Vec<u8> {
    let mut out = Vec::new();
    report::write(inv, f, &mut out).unwrap();
    out
}

/// Reads an inventory back from its JSON text.
fn reread(inv: &Inventory) -> Inventory {
    stored::parse("mem.json", &json(inv)).unwrap()
}

fn merged(parts: &[&Inventory]) -> Inventory {
    stored::merge(
        parts
            .iter()
            .enumerate()
            .map(|(i, inv)| (format!("part{i}.json"), reread(inv)))
            .collect(),
    )
    .unwrap()
}

#[test]
fn a_stored_inventory_reads_back_to_the_same_inventory() {
    let mut cases: Vec<Inventory> = inputs()
        .iter()
        .map(|f| scan_of(std::slice::from_ref(f)))
        .collect();
    cases.push(scan_of(&inputs()));
    cases.push(scan(&config(&inputs(), None, 1)));
    for inv in &cases {
        let back = reread(inv);
        assert_eq!(&back, inv, "the inventory changed through JSON");
        assert_eq!(json(&back), json(inv));
        for f in [OutputFormat::Markdown, OutputFormat::Text] {
            assert_eq!(rendered(&back, f), rendered(inv, f));
        }
    }
}

#[test]
fn every_scanned_input_has_a_content_identity() {
    let inv = scan_of(&inputs());
    for (file, cov) in &inv.files {
        assert_eq!(cov.scanned.len(), 1, "{file}");
        let r = &cov.scanned[0];
        let bytes = std::fs::read(file).unwrap();
        assert_eq!(r.offset, 0);
        assert_eq!(r.length, bytes.len() as u64, "{file}");
        assert_eq!(
            r.sha256,
            pgcontract::input::fingerprint::sha256_hex(&bytes),
            "{file}"
        );
    }
}

/// Every way to split `items` into a left and right group (both non-empty).
fn groupings(items: &[usize]) -> Vec<(Vec<usize>, Vec<usize>)> {
    let n = items.len();
    let mut out = Vec::new();
    for mask in 1..(1u32 << n) - 1 {
        let (mut l, mut r) = (Vec::new(), Vec::new());
        for (i, &x) in items.iter().enumerate() {
            if mask & (1 << i) != 0 {
                l.push(x);
            } else {
                r.push(x);
            }
        }
        out.push((l, r));
    }
    out
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let x = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, x);
            out.push(p);
        }
    }
    out
}

#[test]
fn merge_is_commutative_and_associative_and_equals_one_scan_of_everything() {
    let parts: Vec<Inventory> = inputs()
        .iter()
        .map(|f| scan_of(std::slice::from_ref(f)))
        .collect();
    let whole = json(&scan_of(&inputs()));
    let all: Vec<usize> = (0..parts.len()).collect();
    // Every order of a flat merge.
    for order in permutations(&all) {
        let refs: Vec<&Inventory> = order.iter().map(|&i| &parts[i]).collect();
        assert_eq!(
            String::from_utf8(json(&merged(&refs))).unwrap(),
            String::from_utf8(whole.clone()).unwrap(),
            "order {order:?}"
        );
    }
    // Every grouping into two merged halves, each half in every order, and
    // nested once more.
    for (left, right) in groupings(&all) {
        for lo in permutations(&left) {
            let l = merged(&lo.iter().map(|&i| &parts[i]).collect::<Vec<_>>());
            let r = merged(&right.iter().map(|&i| &parts[i]).collect::<Vec<_>>());
            assert_eq!(json(&merged(&[&l, &r])), whole, "{lo:?} | {right:?}");
            assert_eq!(json(&merged(&[&r, &l])), whole, "{right:?} | {lo:?}");
            if right.len() >= 2 {
                let (a, b) = right.split_at(1);
                let ra = merged(&a.iter().map(|&i| &parts[i]).collect::<Vec<_>>());
                let rb = merged(&b.iter().map(|&i| &parts[i]).collect::<Vec<_>>());
                let nested = merged(&[&l, &merged(&[&rb, &ra])]);
                assert_eq!(json(&nested), whole, "{lo:?} | ({b:?} | {a:?})");
            }
        }
    }
}

fn duplicate_warnings(inv: &Inventory) -> Vec<&str> {
    inv.warnings
        .iter()
        .filter(|w| w.contains("counted once"))
        .map(String::as_str)
        .collect()
}

#[test]
fn merging_an_inventory_with_itself_counts_it_once_and_says_so() {
    let a = scan_of(&[fixture("app/logs/custom.log")]);
    let twice = merged(&[&a, &a]);
    let mut expected = a.clone();
    let warnings = duplicate_warnings(&twice);
    assert_eq!(warnings.len(), 1, "{:?}", twice.warnings);
    assert!(
        warnings[0].starts_with(&format!(
            "input {} (bytes 0..{}, sha256 ",
            fixture("app/logs/custom.log").display(),
            std::fs::metadata(fixture("app/logs/custom.log"))
                .unwrap()
                .len()
        )),
        "{}",
        warnings[0]
    );
    expected.warnings.push(warnings[0].to_string());
    expected.warnings.sort();
    assert_eq!(twice, expected);
    // Same calls as the single inventory, row by row.
    assert_eq!(rows(&to_doc(&twice)), rows(&to_doc(&a)));
}

#[test]
fn an_inventory_already_part_of_a_merge_is_counted_once_in_any_grouping() {
    let parts: Vec<Inventory> = inputs()
        .iter()
        .map(|f| scan_of(std::slice::from_ref(f)))
        .collect();
    let (a, b, c) = (&parts[0], &parts[1], &parts[2]);
    let ab = merged(&[a, b]);
    let abc = merged(&[a, b, c]);
    let reference = json(&merged(&[a, b, c, a]));
    for shape in [
        merged(&[&ab, a, c]),
        merged(&[a, &ab, c]),
        merged(&[&merged(&[a, a]), b, c]),
        merged(&[&abc, a]),
        merged(&[&merged(&[c, &ab]), a]),
    ] {
        assert_eq!(
            String::from_utf8(json(&shape)).unwrap(),
            String::from_utf8(reference.clone()).unwrap()
        );
    }
    // Two inventories already inside: both named.
    assert_eq!(duplicate_warnings(&merged(&[&abc, &ab])).len(), 2);
    let m = stored::parse("m.json", &reference).unwrap();
    // The counts are those of one scan of a, b and c.
    assert_eq!(rows(&to_doc(&m)), rows(&to_doc(&scan_of(&inputs()[..3]))));
    assert_eq!(
        m.total_coverage().records,
        scan_of(&inputs()[..3]).total_coverage().records
    );
    assert_eq!(duplicate_warnings(&m).len(), 1);
}

#[test]
fn inventories_sharing_only_some_inputs_are_refused() {
    let parts: Vec<Inventory> = inputs()
        .iter()
        .map(|f| scan_of(std::slice::from_ref(f)))
        .collect();
    let ab = reread(&merged(&[&parts[0], &parts[1]]));
    let bc = reread(&merged(&[&parts[1], &parts[2]]));
    // Also when both merged the same third inventory.
    let ca = reread(&merged(&[&parts[2], &parts[0]]));
    let ba = reread(&merged(&[&parts[1], &parts[0]]));
    let err = stored::merge(vec![("ca.json".into(), ca), ("ba.json".into(), ba)]).unwrap_err();
    assert!(matches!(err, StoredError::Overlap { .. }), "{err}");
    let err = stored::merge(vec![("ab.json".into(), ab), ("bc.json".into(), bc)]).unwrap_err();
    assert!(matches!(err, StoredError::Overlap { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!(
            "ab.json and bc.json both contain {} (bytes 0..",
            fixture("app/logs/rds.log").display()
        )),
        "{msg}"
    );
}

#[test]
fn inventories_of_different_columns_are_refused() {
    let a = scan_of(&[fixture("app/logs/custom.log")]);
    let mut cfg = config(&[fixture("app/logs/rds.log")], Some(&schema()), 1);
    cfg.targets.truncate(1);
    let b = scan(&cfg);
    let err = stored::merge(vec![("a.json".into(), a), ("b.json".into(), b)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a.json and b.json are inventories of different columns (public.users.legacy_email, public.orders.old_status and public.users.legacy_email); merge needs inventories scanned with the same --column set"
    );
}

#[test]
fn targets_in_another_order_merge_in_sorted_order() {
    let a = scan_of(&[fixture("app/logs/custom.log")]);
    let mut cfg = config(&[fixture("app/logs/rds.log")], Some(&schema()), 1);
    cfg.targets.reverse();
    let b = scan(&cfg);
    let m1 = stored::merge(vec![("a".into(), a.clone()), ("b".into(), b.clone())]).unwrap();
    let m2 = stored::merge(vec![("b".into(), b), ("a".into(), a)]).unwrap();
    assert_eq!(json(&m1), json(&m2));
    let names: Vec<String> = m1.targets.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        ["public.orders.old_status", "public.users.legacy_email"]
    );
    // Rows follow their column, whatever the index.
    let whole = scan_of(&[fixture("app/logs/custom.log"), fixture("app/logs/rds.log")]);
    assert_eq!(rows(&to_doc(&m1)), rows(&to_doc(&whole)));
}

#[test]
fn an_unknown_version_is_a_clear_error() {
    let mut v: serde_json::Value =
        serde_json::from_slice(&json(&scan_of(&[fixture("app/logs/custom.log")]))).unwrap();
    v["version"] = serde_json::json!(2);
    let err = stored::parse("old.json", v.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "old.json: inventory version 2 is not supported (this pgcontract reads version 1)"
    );
    let err = stored::parse("x.json", b"{\"targets\": []}").unwrap_err();
    assert_eq!(
        err.to_string(),
        "x.json: inventory version missing is not supported (this pgcontract reads version 1)"
    );
}

#[test]
fn a_damaged_document_names_the_file_and_line() {
    let err = stored::parse("bad.json", b"{\n  \"version\": 1,\n  oops\n}").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("bad.json: line 3, column 3: not a pgcontract inventory: "),
        "{msg}"
    );
    let mut v: serde_json::Value =
        serde_json::from_slice(&json(&scan_of(&[fixture("app/logs/custom.log")]))).unwrap();
    v["dependencies"][0]["first_seen"] = serde_json::json!("yesterday");
    let err = stored::parse("t.json", v.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.json: dependencies[0].first_seen: `yesterday` is not an RFC 3339 UTC time as pgcontract writes it"
    );
    v["dependencies"][0]["column"] = serde_json::json!("public.users.nope");
    let err = stored::parse("t.json", v.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.json: dependencies[0]: column `public.users.nope` is not a target"
    );
}

#[test]
fn the_documented_example_reads_back_as_an_inventory() {
    let docs = std::fs::read_to_string(root().join("docs/inventory-format.md")).unwrap();
    let start = docs.find("```json\n").unwrap() + 8;
    let end = start + docs[start..].find("\n```").unwrap();
    let example: pgcontract::report::json::InventoryDoc =
        serde_json::from_str(&docs[start..end]).unwrap();
    let inv = stored::from_doc(&example).unwrap();
    let again = to_doc(&inv);
    assert_eq!(again.dependencies, example.dependencies);
    assert_eq!(again.coverage, example.coverage);
    assert!(!example.coverage.inputs[0].scanned.is_empty());
}

// ------------------------------------------------------------ the binary

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn scan_to(out: &Path, format: &str, inputs: &[&str]) -> Output {
    let schema = schema();
    let mut args = quiet_scan(
        TARGETS,
        &[
            "--schema",
            s(&schema),
            "--format",
            format,
            "--output",
            s(out),
        ],
    );
    args.extend_from_slice(inputs);
    pgc(&args)
}

#[test]
fn report_of_a_scans_json_gives_the_scans_markdown_and_text() {
    let dir = tmp();
    let inputs = [
        "fixtures/app/logs/custom.log",
        "fixtures/app/pgss/pgss-oids.csv",
    ];
    let j = dir.path().join("inv.json");
    assert_eq!(scan_to(&j, "json", &inputs).status.code(), Some(1));
    for format in ["markdown", "text", "json"] {
        let direct = dir.path().join(format!("direct.{format}"));
        scan_to(&direct, format, &inputs);
        let out = pgc(&["report", s(&j), "--format", format]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            std::fs::read_to_string(&direct).unwrap(),
            "{format}"
        );
    }
}

#[test]
fn merge_command_writes_the_merged_inventory_and_warns_about_duplicates() {
    let dir = tmp();
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    let ab = dir.path().join("ab.json");
    scan_to(&a, "json", &["fixtures/app/logs/custom.log"]);
    scan_to(&b, "json", &["fixtures/app/logs/rds.log"]);
    scan_to(
        &ab,
        "json",
        &["fixtures/app/logs/custom.log", "fixtures/app/logs/rds.log"],
    );
    let out = pgc(&["merge", s(&b), s(&a)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, std::fs::read(&ab).unwrap());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // a again: counted once, said on stderr and in the warnings.
    let m = dir.path().join("m.json");
    let out = pgc(&["merge", s(&a), s(&b), s(&a), "--output", s(&m)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("pgcontract: input fixtures/app/logs/custom.log (bytes 0.."),
        "{err}"
    );
    let doc: pgcontract::report::json::InventoryDoc =
        serde_json::from_slice(&std::fs::read(&m).unwrap()).unwrap();
    let abdoc: pgcontract::report::json::InventoryDoc =
        serde_json::from_slice(&std::fs::read(&ab).unwrap()).unwrap();
    assert_eq!(doc.dependencies, abdoc.dependencies);
    assert_eq!(doc.coverage, abdoc.coverage);
    assert_eq!(doc.warnings.len(), abdoc.warnings.len() + 1);
}

#[test]
fn merge_and_report_of_a_bad_file_exit_2_naming_it() {
    let dir = tmp();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "not json").unwrap();
    for args in [vec!["merge", s(&bad)], vec!["report", s(&bad)]] {
        let out = pgc(&args);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.starts_with(&format!(
                "pgcontract: {}: line 1, column 2: not a pgcontract inventory",
                s(&bad)
            )),
            "{err}"
        );
    }
    let out = pgc(&["report", "no/such/inventory.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .starts_with("pgcontract: no/such/inventory.json: cannot read: "));
}

#[test]
fn completions_are_generated_for_each_shell() {
    for (shell, marker) in [
        ("bash", "_pgcontract()"),
        ("zsh", "#compdef pgcontract"),
        ("fish", "complete -c pgcontract"),
    ] {
        let out = pgc(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(marker), "{shell}: {text}");
        for sub in ["scan", "explain", "report", "merge", "completions", "man"] {
            assert!(text.contains(sub), "{shell} lacks {sub}");
        }
        assert!(text.contains("log-line-prefix"), "{shell}");
    }
    let out = pgc(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_pages_are_generated_from_the_cli_definition() {
    let out = pgc(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH pgcontract 1"), "{page}");
    assert!(page.contains("pgcontract\\-merge(1)"), "{page}");
    let out = pgc(&["man", "scan"]);
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH pgcontract-scan 1"), "{page}");
    assert!(page.contains("\\-\\-log\\-line\\-prefix"), "{page}");
    let out = pgc(&["man", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "pgcontract: no subcommand `nope`\n"
    );
}

#[test]
fn every_subcommand_help_has_examples() {
    for sub in ["scan", "explain", "report", "merge", "completions", "man"] {
        let out = pgc(&[sub, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{sub}");
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(
            help.contains(&format!("Examples:\n  pgcontract {sub} ")),
            "{sub}: {help}"
        );
    }
}

#[test]
fn report_of_a_migration_scans_json_gives_the_same_markdown() {
    let dir = tmp();
    let schema = schema();
    let mut checked = 0;
    let mut migrations: Vec<PathBuf> = std::fs::read_dir(fixture("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .filter(|p| !p.ends_with("broken.sql"))
        .collect();
    migrations.sort();
    for m in &migrations {
        let scan_as = |format: &str| {
            pgc(&migration_scan(
                s(m),
                s(&schema),
                format,
                "fixtures/app/logs/custom.log",
            ))
        };
        let j = dir.path().join("m.json");
        let json_out = scan_as("json");
        std::fs::write(&j, &json_out.stdout).unwrap();
        let md = scan_as("markdown");
        let out = pgc(&["report", s(&j), "--format", "markdown"]);
        assert_eq!(out.status.code(), md.status.code(), "{}", m.display());
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(md.stdout).unwrap(),
            "{}",
            m.display()
        );
        checked += 1;
    }
    assert!(checked >= 9, "{checked}");
}
