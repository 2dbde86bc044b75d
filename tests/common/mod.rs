//! Helpers shared by the integration tests: run a scan through the library
//! and project the inventory onto comparable tuples.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pgcontract::config::parse_search_path;
use pgcontract::input::InputSource;
use pgcontract::inventory::Inventory;
use pgcontract::report::json::{to_doc, InventoryDoc};
use pgcontract::report::OutputFormat;
use pgcontract::scan::{scan, ScanConfig};
use pgcontract::target::ColumnTarget;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

/// Every file under `fixtures/`, sorted.
pub fn fixture_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("fixtures"), &mut out);
    out.sort();
    out
}

pub const TARGETS: &[&str] = &["public.users.legacy_email", "public.orders.old_status"];

pub fn config(inputs: &[PathBuf], schema: Option<&Path>, threads: usize) -> ScanConfig {
    ScanConfig {
        targets: TARGETS
            .iter()
            .map(|t| ColumnTarget::parse(t).unwrap())
            .collect(),
        catalog: pgcontract::config::load_catalog(schema).unwrap(),
        inputs: inputs.iter().cloned().map(InputSource::File).collect(),
        prefix: None,
        input_format: None,
        search_path: parse_search_path("\"$user\", public"),
        threads,
        progress: false,
        chunk_bytes: 0,
        logging: Default::default(),
        keep_literals: false,
    }
}

/// Runs the `pgcontract` binary in the crate root with `args` and an empty stdin.
pub fn pgc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgcontract"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .expect("cannot run the pgcontract binary")
}

/// The inventory a run printed as JSON; shows both streams when it is none.
pub fn doc(out: &Output) -> InventoryDoc {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not an inventory: {e}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// True when every directory from `/` down to `dir` can be traversed by
/// other users (the fixture scripts run the server as `postgres` when run as
/// root).
pub fn traversable_by_others(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    dir.ancestors()
        .all(|d| std::fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// Runs `bash scripts/SCRIPT OUT_DIR` and asserts it succeeded, showing both
/// streams when not. The script puts its throwaway cluster (data directory
/// and unix socket) under $TMPDIR and, as root, runs the server as
/// `postgres`: keep it inside `dir` (so it goes away with it), and let
/// `postgres` in. Fall back to /tmp when an ancestor of `dir` is closed to
/// other users.
pub fn run_fixture_script(script: &str, dir: &Path, out_dir: &Path) {
    let cluster_tmp = dir.join("tmp");
    std::fs::create_dir(&cluster_tmp).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        for d in [dir, cluster_tmp.as_path()] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    let tmpdir = if traversable_by_others(&cluster_tmp) {
        cluster_tmp
    } else {
        PathBuf::from("/tmp")
    };
    let out = Command::new("bash")
        .arg(root().join("scripts").join(script))
        .arg(out_dir)
        .current_dir(root())
        .env("TMPDIR", &tmpdir)
        .output()
        .expect("cannot run bash");
    assert!(
        out.status.success(),
        "scripts/{script} failed ({})\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// True (and says so on stderr) when PGCONTRACT_SKIP_LIVE=1 asks to skip the
/// tests that need a real server; `what` names the part skipped.
pub fn live_skipped(what: &str) -> bool {
    let skip = std::env::var("PGCONTRACT_SKIP_LIVE").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("{what} skipped (PGCONTRACT_SKIP_LIVE=1)");
    }
    skip
}

/// Runs `script`, which leaves a server running and prints `PORT=… DIR=…`,
/// and returns that server; panics with the script's stderr when it fails.
pub fn start_kept_server(mut script: Command, name: &str) -> KeptServer {
    let out = script.output().expect("cannot run bash");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    // Parsed before the status is checked, so that a failing script's server
    // is stopped too.
    let server = KeptServer::from_script_output(&stdout);
    assert!(
        out.status.success(),
        "scripts/{name} failed\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.expect("the script printed no PORT=… DIR=… line")
}

/// A server a script left running (it printed `PORT=… DIR=…` last); stopped
/// and its directory removed when dropped.
pub struct KeptServer {
    pub port: u16,
    pub dir: PathBuf,
}

impl KeptServer {
    pub fn from_script_output(stdout: &str) -> Option<KeptServer> {
        let line = stdout.lines().rev().find(|l| l.starts_with("PORT="))?;
        let mut port = None;
        let mut dir = None;
        for part in line.split_whitespace() {
            if let Some(p) = part.strip_prefix("PORT=") {
                port = p.parse().ok();
            } else if let Some(d) = part.strip_prefix("DIR=") {
                dir = Some(PathBuf::from(d));
            }
        }
        Some(KeptServer {
            port: port?,
            dir: dir?,
        })
    }
}

impl Drop for KeptServer {
    fn drop(&mut self) {
        let pg_ctl = "/usr/lib/postgresql/15/bin/pg_ctl";
        let mut cmd = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", pg_ctl]);
            c
        } else {
            Command::new(pg_ctl)
        };
        let _ = cmd
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .current_dir(&self.dir)
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The arguments of `scan -q`, `-c COLUMN` for each of `columns`, then `rest`.
pub fn quiet_scan<'a>(columns: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["scan", "-q"];
    for column in columns {
        v.extend(["-c", column]);
    }
    v.extend_from_slice(rest);
    v
}

/// The arguments of `scan -q --migration FILE --schema SCHEMA --format FORMAT INPUT`.
pub fn migration_scan<'a>(
    migration: &'a str,
    schema: &'a str,
    format: &'a str,
    input: &'a str,
) -> Vec<&'a str> {
    let mut v = vec!["scan", "-q", "--migration", migration, "--schema", schema];
    v.extend(["--format", format, input]);
    v
}

pub fn run(inputs: &[PathBuf], schema: Option<&Path>) -> InventoryDoc {
    to_doc(&scan(&config(inputs, schema, 0)))
}

/// `inv` written as a report in each format a person reads: JSON, Markdown
/// and text.
pub fn reports_in_every_format(inv: &Inventory) -> Vec<(OutputFormat, String)> {
    [
        OutputFormat::Json,
        OutputFormat::Markdown,
        OutputFormat::Text,
    ]
    .into_iter()
    .map(|format| {
        let mut out = Vec::new();
        pgcontract::report::write(inv, format, &mut out).unwrap();
        (format, String::from_utf8(out).unwrap())
    })
    .collect()
}

/// Asserts that none of the planted literals (`SECRETS`) is in `text`, the
/// report in `format`.
pub fn assert_no_secret(text: &str, format: OutputFormat) {
    for s in SECRETS {
        assert!(!text.contains(s), "{s} leaked in {format:?}");
    }
}

/// The name a value has in the JSON report (`"read"`, `"certain"`, …).
pub fn json_name<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

/// The calls of every dependency on `column`, summed.
pub fn calls_to(doc: &InventoryDoc, column: &str) -> u64 {
    doc.dependencies
        .iter()
        .filter(|d| d.column == column)
        .map(|d| d.calls)
        .sum()
}

/// (column, user, application, access, via, confidence, calls), summed over
/// fingerprints and clients.
pub type Row = (String, String, String, String, String, String, u64);

pub fn rows(doc: &InventoryDoc) -> Vec<Row> {
    let mut map: std::collections::BTreeMap<(String, String, String, String, String, String), u64> =
        Default::default();
    for d in &doc.dependencies {
        let key = (
            d.column.rsplit('.').next().unwrap().to_string(),
            d.actor.user.clone().unwrap_or_default(),
            d.actor.application.clone().unwrap_or_default(),
            json_name(d.access),
            d.via.clone(),
            json_name(d.confidence),
        );
        *map.entry(key).or_default() += d.calls;
    }
    map.into_iter()
        .map(|((a, b, c, d, e, f), n)| (a, b, c, d, e, f, n))
        .collect()
}

pub fn row(
    col: &str,
    user: &str,
    app: &str,
    access: &str,
    via: &str,
    conf: &str,
    calls: u64,
) -> Row {
    (
        col.into(),
        user.into(),
        app.into(),
        access.into(),
        via.into(),
        conf.into(),
        calls,
    )
}

/// Rows written as a table, one a line: `column | user | application |
/// access | via | confidence | calls`, then an optional `# comment`. Blank
/// lines are skipped.
pub fn rows_from(table: &str) -> Vec<Row> {
    table
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('|').map(str::trim).collect();
            assert_eq!(f.len(), 7, "not a row: {l}");
            let calls = f[6].parse().unwrap_or_else(|e| panic!("{l}: {e}"));
            row(f[0], f[1], f[2], f[3], f[4], f[5], calls)
        })
        .collect()
}

/// The dependency set every log of the fixture workload must give, with the
/// schema dump loaded (see fixtures/app/CASES.md).
pub fn expected_log_rows_with_schema() -> Vec<Row> {
    let mut v = rows_from(
        "
        legacy_email | r_alias_star  | alias-star        | read  | star                      | certain | 1
        legacy_email | r_copy_all    | copy-all          | read  | positional                | certain | 1
        legacy_email | r_copy_cols   | copy-cols         | read  | direct                    | certain | 1
        legacy_email | r_ctas        | ctas              | read  | direct                    | certain | 1
        legacy_email | r_cte         | cte               | read  | direct                    | certain | 1
        legacy_email | r_direct      | direct-reader     | read  | direct                    | certain | 3
        legacy_email | r_error       | failing           | read  | direct                    | certain | 1
        legacy_email | r_extended    | pgbench-extended  | read  | direct                    | certain | 5
        legacy_email | r_insert_cols | insert-cols       | write | direct                    | certain | 1
        legacy_email | r_join_using  | join-using        | read  | direct                    | certain | 1
        legacy_email | r_join_using  | join-using        | read  | star                      | certain | 1
        legacy_email | r_multi       | multi-statement   | write | direct                    | certain | 1
        legacy_email | r_positional  | positional-insert | write | positional                | certain | 1
        legacy_email | r_quoted      | quoted            | read  | direct                    | certain | 2
        legacy_email | r_returning   | returning         | read  | direct                    | certain | 1
        legacy_email | r_star        | bi-report         | read  | star                      | certain | 1
        legacy_email | r_subquery    | subquery          | read  | direct                    | certain | 2
        legacy_email | r_update_rw   | update-rw         | read  | direct                    | certain | 1
        legacy_email | r_update_rw   | update-rw         | write | direct                    | certain | 1
        legacy_email | r_upsert      | upsert            | read  | direct                    | certain | 1
        legacy_email | r_upsert      | upsert            | write | direct                    | certain | 1
        legacy_email | r_view_reader | crm               | read  | view public.user_contacts | certain | 1
        legacy_email | r_whole_row   | whole-row         | read  | whole_row                 | certain | 2
        old_status   | r_join_using  | join-using        | read  | star                      | certain | 1
        old_status   | r_orders      | orders-svc        | read  | direct                    | certain | 2
        old_status   | r_prepared    | pgbench-prepared  | write | direct                    | certain | 4
        ",
    );
    v.sort();
    v
}

/// The same set from a pg_stat_statements export: no failed statement (errors
/// are not recorded) and no application names.
pub fn expected_pgss_rows_with_schema() -> Vec<Row> {
    expected_log_rows_with_schema()
        .into_iter()
        .filter(|r| r.1 != "r_error")
        .map(|mut r| {
            r.2 = String::new();
            r
        })
        .collect()
}

/// The set from the `track = all` exports (pgss/pgss-all.*): the pg_stat_statements
/// set plus the statement run inside `legacy_email_of()` (case r_nested).
pub fn expected_pgss_all_rows_with_schema() -> Vec<Row> {
    let mut v = expected_pgss_rows_with_schema();
    v.push(row(
        "legacy_email",
        "r_nested",
        "",
        "read",
        "direct",
        "certain",
        1,
    ));
    v.sort();
    v
}

/// Roles of the negative cases: they must never appear.
pub const DECOY_ROLES: &[&str] = &[
    "r_decoy_table",
    "r_decoy_schema",
    "r_comment_string",
    "r_view_other",
];

/// Literal values planted in the workload: they must never appear in output.
pub const SECRETS: &[&str] = &[
    "secret-positional@example.com",
    "secret-insert@example.com",
    "p@example.com",
    "a@example.com",
    "u@example.com",
    "shipped",
];

/// The dependency set of the multi-line workload (scripts/gen-fixtures.sh,
/// run 8), with the schema.
pub fn expected_multiline_rows() -> Vec<Row> {
    let mut v = rows_from(
        "
        legacy_email | r_direct | ml-multiline | read | direct | certain | 1
        legacy_email | r_direct | ml-tabs      | read | direct | certain | 2
        legacy_email | r_error  | ml-error     | read | direct | certain | 1
        legacy_email | r_star   | ml-long      | read | direct | certain | 1
        ",
    );
    v.sort();
    v
}
