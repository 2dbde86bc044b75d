//! The resolver's walk is complete: every node kind pg_query can return is
//! known (a new kind after a pg_query upgrade fails the first test until
//! someone decides whether it needs a handler), and on the whole differential
//! corpus and the construct cases the resolver visits exactly the
//! `ColumnRef` nodes a generic walk of the same tree counts.

use std::collections::BTreeSet;
use std::path::PathBuf;

use pgcontract::analyze::resolve::{Resolver, HANDLED_NODES, LEAF_NODES};
use pgcontract::analyze::{load_schema, parse};
use pgcontract::catalog::Catalog;

/// The `Node` variants of pg_query's generated protobuf code (the names its
/// serde form uses), read from the crate source Cargo downloaded.
fn proto_node_kinds() -> BTreeSet<String> {
    let lock =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock"))
            .expect("Cargo.lock");
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"pg_query\""))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .expect("pg_query in Cargo.lock");
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .expect("CARGO_HOME or HOME");
    let registry = home.join("registry/src");
    let source = std::fs::read_dir(&registry)
        .expect("cargo registry sources")
        .filter_map(Result::ok)
        .map(|d| d.path().join(format!("pg_query-{version}/src/protobuf.rs")))
        .find(|p| p.exists())
        .expect("pg_query's protobuf.rs in the cargo registry");
    let text = std::fs::read_to_string(source).unwrap();
    let start = text.find("pub enum Node {").expect("enum Node");
    let body = &text[start..];
    let body = &body[..body.find("\n    }").unwrap()];
    body.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && l.contains("(super::") || l.contains("Box<super::"))
        .filter_map(|l| l.split('(').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn every_protobuf_node_kind_is_known() {
    let kinds = proto_node_kinds();
    assert!(kinds.len() > 200, "only {} node kinds read", kinds.len());
    for k in HANDLED_NODES.iter().chain(LEAF_NODES) {
        assert!(kinds.contains(*k), "{k} is not a pg_query node kind");
    }
    let committed_path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/walker/node_kinds.txt");
    let listed = kinds.iter().cloned().collect::<Vec<_>>().join("\n") + "\n";
    if std::env::var("WALKER_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&committed_path, &listed).unwrap();
    }
    let committed: BTreeSet<String> = std::fs::read_to_string(&committed_path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let new: Vec<&String> = kinds.difference(&committed).collect();
    let gone: Vec<&String> = committed.difference(&kinds).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "pg_query's node kinds changed (new: {new:?}, gone: {gone:?}). For each new kind decide \
         whether it opens a scope or names columns without a ColumnRef (then give it a handler in \
         src/analyze/resolve.rs and add it to HANDLED_NODES); otherwise the generic walk covers it. \
         Then rerun with WALKER_BLESS=1."
    );
}

fn generic_column_refs(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| usize::from(k == "ColumnRef") + generic_column_refs(v))
            .sum(),
        serde_json::Value::Array(a) => a.iter().map(generic_column_refs).sum(),
        _ => 0,
    }
}

fn statements() -> Vec<String> {
    let corpus = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/differential/corpus.sql"),
    )
    .unwrap();
    let mut out: Vec<String> = corpus
        .lines()
        .filter(|l| !l.starts_with("--") && !l.is_empty())
        .map(|l| l.trim_end_matches(';').to_string())
        .collect();
    // Shapes the corpus cannot run on PostgreSQL 15, and odd corners.
    out.extend(
        [
            "SELECT jt.a FROM t, JSON_TABLE(t.doc, '$[*]' COLUMNS (a int PATH '$.a', NESTED PATH '$.b[*]' COLUMNS (b text PATH '$'))) jt WHERE t.x > 0",
            "SELECT * FROM t ORDER BY x USING <",
            "SELECT a FROM t GROUP BY GROUPING SETS ((a, b), CUBE (c), ROLLUP (d, e))",
            "SELECT x, count(*) OVER w FROM t WINDOW w AS (PARTITION BY y ORDER BY z ROWS BETWEEN x PRECEDING AND CURRENT ROW)",
            "SELECT t.a[1:2], (t.b).c.d, t.e['k'] FROM t",
            "SELECT ARRAY(SELECT y FROM u WHERE u.k = t.k), x IS DISTINCT FROM y FROM t",
            "SELECT a FROM t WHERE (a, b) IN (SELECT c, d FROM u) AND a = ANY (SELECT e FROM v)",
            "SELECT a FROM t FOR UPDATE OF t SKIP LOCKED",
            "SELECT xmlelement(name x, xmlattributes(t.a AS b), t.c), xmlforest(t.d) FROM t",
            "SELECT json_object('k' VALUE t.a), json_arrayagg(t.b ORDER BY t.c) FROM t",
            "SELECT CASE a WHEN 1 THEN b ELSE c END, COALESCE(d, e), NULLIF(f, g), GREATEST(h, i) FROM t",
            "SELECT a FROM t WHERE b BETWEEN c AND d AND e LIKE f AND g IS NOT NULL AND h IS TRUE",
            "CREATE INDEX ON t (a, (lower(b))) INCLUDE (c) WHERE d > 0",
            "CREATE TABLE n AS SELECT a, b FROM t WITH NO DATA",
            "UPDATE t SET (a, b) = (SELECT c, d FROM u WHERE u.k = t.k) WHERE e > 0",
            "CREATE POLICY p ON t USING (owner = current_user) WITH CHECK (a > 0)",
            "ALTER TABLE t ADD CONSTRAINT c CHECK (a > b)",
            "CREATE STATISTICS s ON a, b FROM t",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    out
}

#[test]
fn resolver_visits_every_column_ref_a_generic_walk_counts() {
    // The differential corpus's schema (so that catalog-dependent paths run),
    // and no schema at all.
    let schema = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/differential/schema.sql"),
    )
    .unwrap();
    let with_schema = load_schema(&schema);
    assert!(
        with_schema.problems.is_empty(),
        "{:?}",
        with_schema.problems
    );
    let without = Catalog::default();
    let search_path: Vec<String> = ["app", "analytics", "public"].map(String::from).to_vec();
    let mut mismatches = Vec::new();
    let mut total = 0;
    let stmts = statements();
    assert!(stmts.len() > 2000);
    for sql in &stmts {
        let parsed = parse::parse(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        for s in parsed {
            let expected = generic_column_refs(&s.tree);
            total += expected;
            for catalog in [&with_schema, &without] {
                let mut r = Resolver::new(catalog, &search_path);
                r.statement_node(&s.tree);
                if r.column_refs_seen != expected {
                    mismatches.push(format!(
                        "{sql}: generic walk {expected}, resolver {}",
                        r.column_refs_seen
                    ));
                }
            }
        }
    }
    assert!(total > 5000, "only {total} column references");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
