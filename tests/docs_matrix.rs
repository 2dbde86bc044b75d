//! Keeps `docs/inputs.md` (the supported-input matrix) true: every format the
//! tool knows is listed, every test the matrix names exists, and every
//! fixture it names exists and is recognised when scanned.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use pgcontract::input::InputFormat;

fn doc() -> String {
    fs::read_to_string(common::root().join("docs/inputs.md")).unwrap()
}

/// The rows of the first Markdown table (the matrix), as cells.
fn matrix_rows(doc: &str) -> Vec<Vec<String>> {
    doc.lines()
        .skip_while(|l| !l.starts_with("| input |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// Backticked spans of a cell.
fn code_spans(cell: &str) -> Vec<String> {
    cell.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect()
}

fn all_fixture_files() -> Vec<PathBuf> {
    common::fixture_files()
}

#[test]
fn the_format_name_list_is_exactly_the_formats_the_tool_knows() {
    let doc = doc();
    let listed: BTreeSet<String> = doc
        .lines()
        .skip_while(|l| !l.starts_with("| format name |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| code_spans(l).into_iter().next())
        .collect();
    let known: BTreeSet<String> = InputFormat::ALL
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    assert_eq!(
        listed, known,
        "docs/inputs.md format names vs InputFormat::ALL"
    );
    for name in &known {
        assert_eq!(
            InputFormat::from_name(name).map(|f| f.name()),
            Some(name.as_str())
        );
    }
}

#[test]
fn every_test_the_matrix_names_exists() {
    let rows = matrix_rows(&doc());
    assert!(rows.len() >= 25, "matrix has {} rows", rows.len());
    let mut checked = 0;
    for row in &rows {
        let last = row.last().unwrap();
        // Split the cell by the files it names; names in backticks after a
        // file are tests or fixtures of that file.
        let mut current: Option<String> = None;
        for span in code_spans(last) {
            if span.ends_with(".rs") {
                let p = common::root().join(&span);
                assert!(
                    p.is_file(),
                    "docs/inputs.md names {span}, which does not exist"
                );
                current = Some(fs::read_to_string(p).unwrap());
                checked += 1;
            } else if span
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && span.contains('_')
                && span.len() > 20
            {
                let src = current
                    .as_ref()
                    .unwrap_or_else(|| panic!("test `{span}` named before its file"));
                assert!(
                    src.contains(&format!("fn {span}(")),
                    "docs/inputs.md names test `{span}`, which its file does not define"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 40, "only {checked} references checked");
}

#[test]
fn every_fixture_the_matrix_names_exists_and_is_recognised() {
    let files = all_fixture_files();
    let mut named = BTreeSet::new();
    for row in matrix_rows(&doc()) {
        // Rows recognised only with a given prefix are checked by their
        // tests; here only rows recognised by detection are scanned.
        if row
            .get(1)
            .is_some_and(|c| c.starts_with("`--log-line-prefix`"))
        {
            continue;
        }
        for span in code_spans(row.last().unwrap()) {
            let is_fixture = [".log", ".csv", ".json", ".ndjson"]
                .iter()
                .any(|e| span.ends_with(e))
                && !span.contains('/')
                && !span.contains(' ');
            if is_fixture {
                named.insert(span);
            }
        }
    }
    assert!(
        named.len() >= 20,
        "only {} fixtures named: {named:?}",
        named.len()
    );
    for name in &named {
        let found: Vec<&PathBuf> = files
            .iter()
            .filter(|p| p.file_name().and_then(|f| f.to_str()) == Some(name.as_str()))
            .collect();
        assert!(
            !found.is_empty(),
            "docs/inputs.md names fixture {name}, which is not under fixtures/"
        );
        for path in found {
            let doc = common::run(std::slice::from_ref(path), None);
            let input = &doc.coverage.inputs[0];
            let format = input.format.clone().unwrap_or_default();
            assert!(
                !format.is_empty()
                    && !matches!(format.as_str(), "unrecognised" | "empty" | "unreadable"),
                "{}: scanned as {format:?}",
                path.display(),
            );
            assert!(input.records > 0, "{}: no records read", path.display());
        }
    }
}
