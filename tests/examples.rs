//! The ready-made CI and cron examples (examples/github-actions,
//! examples/scheduled) only use flags, formats and contract-file keys that
//! exist.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::root;

const BIN: &str = env!("CARGO_BIN_EXE_pgcontract");

/// Every `--flag` on the `pgcontract scan` command lines of a file
/// (continuation lines included).
fn scan_flags(text: &str) -> BTreeSet<String> {
    let joined = text.replace("\\\n", " ");
    let mut flags = BTreeSet::new();
    for line in joined.lines() {
        let Some(at) = line.find("pgcontract scan") else {
            continue;
        };
        for word in line[at..].split_whitespace() {
            if let Some(f) = word.strip_prefix("--") {
                flags.insert(f.split('=').next().unwrap().to_string());
            }
        }
    }
    flags
}

fn scan_help() -> String {
    let out = Command::new(BIN).args(["scan", "--help"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn ci_and_cron_examples_use_only_existing_scan_flags() {
    let help = scan_help();
    let mut seen = BTreeSet::new();
    for f in [
        "examples/github-actions/pgcontract.yml",
        "examples/scheduled/pgcontract-scan.sh",
    ] {
        let text = std::fs::read_to_string(root().join(f)).unwrap();
        let flags = scan_flags(&text);
        assert!(!flags.is_empty(), "{f}: no pgcontract scan command");
        for flag in &flags {
            assert!(
                help.contains(&format!("--{flag}")),
                "{f}: --{flag} is not a scan flag"
            );
        }
        seen.extend(flags);
    }
    let wf =
        std::fs::read_to_string(root().join("examples/github-actions/pgcontract.yml")).unwrap();
    // The workflow builds `--migration FILE` arguments in a variable.
    assert!(wf.contains("--migration $f") && help.contains("--migration"));
    // The examples use the window, the exit policy, the contract file and
    // both PR-facing formats.
    for f in ["window", "format", "fail-on", "config", "schema", "output"] {
        assert!(seen.contains(f), "no example uses --{f}");
    }
    assert!(wf.contains("--format markdown") && wf.contains("--format github"));
    assert!(wf.contains(pgcontract::report::markdown::MARKER));
}

#[test]
fn scheduled_contract_file_example_is_a_valid_contract() {
    let p = root().join("examples/scheduled/pgcontract.toml");
    let c = pgcontract::contract::ContractFile::load(&p).unwrap();
    assert_eq!(c.columns.len(), 2);
    assert_eq!(c.window.as_deref(), Some("7d"));
    assert_eq!(c.accept.len(), 1);
    assert_eq!(c.accept[0].expires.as_deref(), Some("2026-12-15"));
    assert!(Path::new(&c.inputs[0]).is_absolute());
}
