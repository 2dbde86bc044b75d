//! Differential proof of the resolver against PostgreSQL 15 itself.
//!
//! A throwaway cluster gets the two corpus schemas (`app`, `analytics`) and
//! their sample data. For every statement of the generated corpus
//! (tests/differential/corpus.rs, committed as corpus.sql) and every column of
//! every table it touches (or pgcontract says it touches), the server answers
//! whether the statement depends on the column: inside one transaction, with
//! a savepoint per check, `ALTER TABLE … DROP COLUMN … CASCADE` and then
//! `PREPARE p AS <statement>; EXECUTE p` (utility statements run as they are,
//! followed by a query that observes what they made). An error means a direct
//! dependency; a changed result (column names, rows) or a changed table
//! content (the written tables, compared without the dropped column) means a
//! silent one. pgcontract's answer for the same column must agree:
//!
//! * no reference ⇔ the server sees nothing change;
//! * a `direct` (or `view …`) reference ⇒ the server raises an error;
//! * only silent-shape references (`star`, `whole_row`, `positional`,
//!   `natural_join`, `ordinal`) ⇒ the server sees an error or a change;
//! * with the full schema, every reference is `certain`.
//!
//! Needs the postgresql-15 server package; `PGCONTRACT_SKIP_LIVE=1` skips it.
//! `DIFFERENTIAL_BLESS=1` rewrites the committed corpus and schema files.

#[path = "differential/corpus.rs"]
mod corpus;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use corpus::{Case, Exec, Table};
use pgcontract::analyze::{load_schema, Analyzer};
use pgcontract::inventory::Confidence;
use pgcontract::target::ColumnTarget;
use postgres::{Client, NoTls, SimpleQueryMessage};

const BIN: &str = "/usr/lib/postgresql/15/bin";
/// Statements per template.
const PER_TEMPLATE: usize = 40;
/// Silent-shape classifications.
const SILENT: &[&str] = &[
    "star",
    "whole_row",
    "positional",
    "natural_join",
    "ordinal",
    "outer_capture",
];

fn skip_requested() -> bool {
    std::env::var("PGCONTRACT_SKIP_LIVE").is_ok_and(|v| v == "1")
}

/// A throwaway cluster; stopped when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
}

fn as_server(dir: &Path, program: &str) -> Command {
    let root = unsafe_is_root();
    let mut c = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        Command::new(program)
    };
    c.current_dir(dir);
    for v in [
        "PGHOST",
        "PGPORT",
        "PGDATA",
        "PGUSER",
        "PGDATABASE",
        "PGOPTIONS",
    ] {
        c.env_remove(v);
    }
    c
}

fn unsafe_is_root() -> bool {
    // The effective uid, without a libc dependency.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

impl Cluster {
    fn start() -> Cluster {
        use std::os::unix::fs::PermissionsExt;
        // /tmp is traversable by the `postgres` user; the test's own
        // temporary directory may not be.
        let dir = tempfile::Builder::new()
            .prefix("pgc-diff")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let data = dir.path().join("data");
        let out = as_server(dir.path(), &format!("{BIN}/initdb"))
            .args([
                "-D",
                data.to_str().unwrap(),
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "-U",
                "postgres",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = 5432;
        let opts = format!(
            "-p {port} -k {} -c listen_addresses='' -c fsync=off -c full_page_writes=off -c synchronous_commit=off",
            dir.path().display()
        );
        let out = as_server(dir.path(), &format!("{BIN}/pg_ctl"))
            .args(["-D", data.to_str().unwrap(), "-l"])
            .arg(dir.path().join("server.log"))
            .args(["-w", "-t", "60", "-o", &opts, "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
        );
        Cluster { dir, port }
    }

    fn client(&self) -> Client {
        postgres::Config::new()
            .host_path(self.dir.path())
            .port(self.port)
            .user("postgres")
            .dbname("postgres")
            .connect(NoTls)
            .unwrap()
    }

    fn schema_dump(&self) -> String {
        let out = Command::new(format!("{BIN}/pg_dump"))
            .args(["-s", "-n", "app", "-n", "analytics", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg("-h")
            .arg(self.dir.path())
            .arg("postgres")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = as_server(self.dir.path(), &format!("{BIN}/pg_ctl"))
            .args([
                "-D",
                data.to_str().unwrap(),
                "-w",
                "-t",
                "30",
                "-m",
                "immediate",
                "stop",
            ])
            .output();
    }
}

/// One result set: column names and the rows (sorted).
type ResultSet = (Vec<String>, Vec<Vec<Option<String>>>);

/// What running a statement produced.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// SQLSTATE and message.
    Error(String, String),
    /// Result sets (column names, sorted rows) and the written tables'
    /// rows (as sorted JSON objects).
    Done {
        results: Vec<ResultSet>,
        tables: Vec<(usize, Vec<serde_json::Value>)>,
    },
}

fn db_error(e: &postgres::Error) -> Outcome {
    match e.as_db_error() {
        Some(d) => Outcome::Error(d.code().code().to_string(), d.message().to_string()),
        None => Outcome::Error("client".into(), e.to_string()),
    }
}

fn result_sets(msgs: &[SimpleQueryMessage]) -> Vec<ResultSet> {
    let mut sets = Vec::new();
    let mut cols: Vec<String> = Vec::new();
    let mut rows: Vec<Vec<Option<String>>> = Vec::new();
    for m in msgs {
        match m {
            SimpleQueryMessage::RowDescription(d) => {
                cols = d.iter().map(|c| c.name().to_string()).collect();
            }
            SimpleQueryMessage::Row(r) => {
                if cols.is_empty() {
                    cols = r.columns().iter().map(|c| c.name().to_string()).collect();
                }
                rows.push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect());
            }
            SimpleQueryMessage::CommandComplete(_) => {
                rows.sort();
                sets.push((std::mem::take(&mut cols), std::mem::take(&mut rows)));
            }
            _ => {}
        }
    }
    sets
}

/// Runs one case (inside the open transaction, in a savepoint that the
/// caller rolls back).
fn run_case(client: &mut Client, scratch: &Path, tables: &[Table], case: &Case) -> Outcome {
    let results = match &case.exec {
        Exec::Prepare => {
            match client.simple_query(&format!("PREPARE pgc_p AS {}; EXECUTE pgc_p", case.sql)) {
                Ok(m) => result_sets(&m),
                Err(e) => return db_error(&e),
            }
        }
        Exec::Direct(observe) => {
            let mut sql = case.sql.clone();
            if let Some(o) = observe {
                sql.push_str("; ");
                sql.push_str(o);
            }
            match client.simple_query(&sql) {
                Ok(m) => result_sets(&m),
                Err(e) => return db_error(&e),
            }
        }
        Exec::CopyOut => {
            use std::io::Read;
            let mut buf = String::new();
            let r = client
                .copy_out(case.sql.as_str())
                .and_then(|mut rd| rd.read_to_string(&mut buf).map_err(|_| unreachable_err()));
            if let Err(e) = r {
                return db_error(&e);
            }
            let mut lines: Vec<Vec<Option<String>>> =
                buf.lines().map(|l| vec![Some(l.to_string())]).collect();
            lines.sort();
            vec![(Vec::new(), lines)]
        }
        Exec::CopyIn(data) => {
            // The server reads the rows from a file (as a superuser may);
            // the statement is otherwise the corpus's `FROM STDIN` one.
            let file = scratch.join("copy-in.data");
            std::fs::write(&file, data).unwrap();
            let sql = case
                .sql
                .replace("FROM STDIN", &format!("FROM '{}'", file.display()));
            match client.simple_query(&sql) {
                Ok(m) => result_sets(&m),
                Err(e) => return db_error(&e),
            }
        }
    };
    let mut dumps = Vec::new();
    for &w in &case.writes {
        let q = format!(
            "SELECT coalesce(jsonb_agg(to_jsonb(x)), '[]')::text FROM {} x",
            tables[w].qname()
        );
        let rows = match client.simple_query(&q) {
            Ok(m) => m,
            Err(e) => return db_error(&e),
        };
        let text = rows
            .iter()
            .find_map(|m| match m {
                SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            })
            .unwrap_or_default();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut rows: Vec<serde_json::Value> = v.as_array().cloned().unwrap_or_default();
        rows.sort_by_key(|r| r.to_string());
        dumps.push((w, rows));
    }
    Outcome::Done {
        results,
        tables: dumps,
    }
}

fn unreachable_err() -> postgres::Error {
    // Only used to satisfy the types of an I/O error while copying; the
    // server reports the real error on `finish`/read.
    panic!("I/O error talking to the throwaway server")
}

/// The baseline with column `col` of table `t` removed from table contents.
fn without_column(o: &Outcome, t: usize, col: &str) -> Outcome {
    match o {
        Outcome::Done { results, tables } => Outcome::Done {
            results: results.clone(),
            tables: tables
                .iter()
                .map(|(w, rows)| {
                    let mut rows = rows.clone();
                    if *w == t {
                        for r in &mut rows {
                            if let Some(m) = r.as_object_mut() {
                                m.remove(col);
                            }
                        }
                        rows.sort_by_key(|r| r.to_string());
                    }
                    (*w, rows)
                })
                .collect(),
        },
        e => e.clone(),
    }
}

fn exec(client: &mut Client, sql: &str) {
    client
        .batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

fn write_or_compare(path: &Path, content: &str) -> Option<String> {
    if std::env::var("DIFFERENTIAL_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(path, content).unwrap();
        return None;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    (committed != content).then(|| {
        format!(
            "{} is not what the generator makes; rerun with DIFFERENTIAL_BLESS=1 and commit it",
            path.display()
        )
    })
}

fn corpus_text(cases: &[Case]) -> String {
    let mut s = String::from("-- Generated by tests/differential/corpus.rs; DIFFERENTIAL_BLESS=1 cargo test --test differential rewrites it.\n");
    for c in cases {
        s.push_str(&format!("-- {}\n{};\n", c.template, c.sql));
    }
    s
}

#[test]
fn committed_corpus_matches_the_generator() {
    let cases = corpus::corpus(PER_TEMPLATE);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/differential");
    let mut problems = Vec::new();
    problems.extend(write_or_compare(
        &root.join("corpus.sql"),
        &corpus_text(&cases),
    ));
    problems.extend(write_or_compare(
        &root.join("schema.sql"),
        &(corpus::schema_sql() + &corpus::data_sql()),
    ));
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn corpus_is_large_and_covers_every_template() {
    let cases = corpus::corpus(PER_TEMPLATE);
    let distinct: BTreeSet<&str> = cases.iter().map(|c| c.sql.as_str()).collect();
    assert!(
        distinct.len() >= 2000,
        "only {} distinct statements",
        distinct.len()
    );
    let used: BTreeSet<&str> = cases.iter().map(|c| c.template).collect();
    for t in corpus::template_names() {
        assert!(used.contains(t), "template {t} produced no statement");
    }
    let schemas: BTreeSet<&str> = cases
        .iter()
        .flat_map(|c| c.tables.iter().map(|&t| corpus::tables()[t].schema))
        .collect();
    assert_eq!(schemas.len(), 2);
}

/// pgcontract's references to each column, per statement.
type Refs = BTreeMap<(usize, String), BTreeSet<(String, Confidence, String)>>;

#[test]
fn resolver_agrees_with_postgres_on_every_statement_and_column() {
    if skip_requested() {
        eprintln!("differential: skipped (PGCONTRACT_SKIP_LIVE=1)");
        return;
    }
    assert!(
        Path::new(BIN).join("initdb").exists(),
        "{BIN}/initdb not found: this test needs the PostgreSQL 15 server; set PGCONTRACT_SKIP_LIVE=1 to skip it"
    );
    let tables = corpus::tables();
    let cases = corpus::corpus(PER_TEMPLATE);
    let cluster = Cluster::start();
    let mut client = cluster.client();
    exec(&mut client, &corpus::schema_sql());
    exec(&mut client, &corpus::data_sql());
    exec(&mut client, "ANALYZE");
    let catalog = load_schema(&cluster.schema_dump());
    assert!(catalog.problems.is_empty(), "{:?}", catalog.problems);

    // Every column of every table is a target.
    let mut targets = Vec::new();
    let mut target_of = Vec::new();
    for (ti, t) in tables.iter().enumerate() {
        for (c, _) in &t.cols {
            targets.push(ColumnTarget {
                schema: t.schema.to_string(),
                table: t.name.to_string(),
                column: c.to_string(),
            });
            target_of.push((ti, c.to_string()));
        }
    }
    let search_path: Vec<String> = corpus::SEARCH_PATH.iter().map(|s| s.to_string()).collect();
    let analyzer = Analyzer::new(&catalog, &targets, search_path);

    exec(
        &mut client,
        &format!(
            "SET search_path = {}; SET client_min_messages = error",
            corpus::SEARCH_PATH.join(", ")
        ),
    );
    let mut disagreements: Vec<String> = Vec::new();
    let mut checks = 0usize;
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    for case in &cases {
        if std::env::var("DIFFERENTIAL_TRACE").is_ok() {
            eprintln!("{}: {}", case.template, case.sql);
        }
        let analysis = analyzer.analyze(&case.sql);
        let mut refs: Refs = BTreeMap::new();
        for s in &analysis.statements {
            for r in &s.refs {
                refs.entry(target_of[r.target].clone())
                    .or_default()
                    .insert((
                        r.via.clone(),
                        r.confidence,
                        r.reason.clone().unwrap_or_default(),
                    ));
            }
        }
        // One transaction per statement (a savepoint per check).
        exec(&mut client, "BEGIN; SAVEPOINT s");
        let baseline = run_case(&mut client, cluster.dir.path(), &tables, case);
        exec(&mut client, "ROLLBACK TO SAVEPOINT s; DEALLOCATE ALL");
        if let Outcome::Error(code, msg) = &baseline {
            disagreements.push(format!(
                "[{}] baseline fails ({code} {msg}): {}",
                case.template, case.sql
            ));
            exec(&mut client, "ROLLBACK");
            continue;
        }
        let mut touched: BTreeSet<usize> = case.tables.clone();
        touched.extend(refs.keys().map(|k| k.0));
        for &t in &touched {
            for (col, _) in &tables[t].cols {
                checks += 1;
                exec(&mut client, "SAVEPOINT s");
                let drop = format!(
                    "ALTER TABLE {} DROP COLUMN \"{col}\" CASCADE",
                    tables[t].qname()
                );
                exec(&mut client, &drop);
                let after = run_case(&mut client, cluster.dir.path(), &tables, case);
                exec(&mut client, "ROLLBACK TO SAVEPOINT s; DEALLOCATE ALL");
                let observed = match &after {
                    Outcome::Error(..) => "error",
                    o if *o != without_column(&baseline, t, col) => "changed",
                    _ => "same",
                };
                let mine = refs.get(&(t, col.to_string()));
                let vias: BTreeSet<&str> = mine
                    .into_iter()
                    .flatten()
                    .map(|(v, _, _)| v.as_str())
                    .collect();
                let uncertain = mine
                    .into_iter()
                    .flatten()
                    .any(|(_, c, _)| *c != Confidence::Certain);
                let has_direct = vias.iter().any(|v| !SILENT.contains(v));
                let undefined = matches!(&after, Outcome::Error(code, _) if code == "42703");
                let verdict = match (vias.is_empty(), has_direct, observed) {
                    _ if uncertain => Some("not certain with the full schema"),
                    // A captured name rebinds to the outer column: the server
                    // never calls it undefined, and whether the rebinding
                    // changes the result depends on the data.
                    (false, false, _) if vias == BTreeSet::from(["outer_capture"]) => undefined
                        .then_some("outer capture, but the server calls the column undefined"),
                    (true, _, "same") => None,
                    (true, _, _) => Some("missed: the server depends on it"),
                    (false, true, "error") => None,
                    (false, true, _) => Some("reported as direct but the server raises no error"),
                    (false, false, "same") => Some("silent dependency the server does not show"),
                    (false, false, _) => None,
                };
                *tally.entry(observed).or_default() += 1;
                if let Some(v) = verdict {
                    let detail = match &after {
                        Outcome::Error(code, msg) => format!("{code} {msg}"),
                        _ => observed.to_string(),
                    };
                    disagreements.push(format!(
                        "[{}] {}.{col}: {v}; pgcontract {:?}; server: {detail}\n    {}",
                        case.template,
                        tables[t].qname(),
                        mine,
                        case.sql
                    ));
                }
            }
        }
        exec(&mut client, "ROLLBACK");
    }
    eprintln!(
        "differential: {} statements, {checks} statement×column checks, server outcomes {tally:?}, {} disagreements",
        cases.len(),
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements with PostgreSQL:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}
