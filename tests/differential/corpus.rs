//! The differential corpus: two schemas (an application schema `app` and an
//! analytics schema `analytics` with wide tables), their sample data, and a
//! deterministic generator of statements over them, template by template, so
//! that every construct the resolver handles is exercised over many tables
//! and columns.

use std::collections::BTreeSet;
use std::fmt::Write as _;

/// A column's type family (decides literals and sample values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Text,
    Num,
    Ts,
    Bool,
    Json,
    Arr,
}

impl Kind {
    fn sql_type(self) -> &'static str {
        match self {
            Kind::Int => "bigint",
            Kind::Text => "text",
            Kind::Num => "numeric",
            Kind::Ts => "timestamptz",
            Kind::Bool => "boolean",
            Kind::Json => "jsonb",
            Kind::Arr => "text[]",
        }
    }
}

/// A table of the model.
#[derive(Debug, Clone)]
pub struct Table {
    pub schema: &'static str,
    pub name: &'static str,
    pub cols: Vec<(&'static str, Kind)>,
    /// Columns with a unique index (first one is the primary key).
    pub unique: Vec<&'static str>,
    /// Gives all sample values of this table a distinct salt (so that rows
    /// copied from it into another table never collide with existing keys).
    pub salted: bool,
}

impl Table {
    pub fn qname(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
    fn col_sql(name: &str) -> String {
        if name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit())
        {
            name.to_string()
        } else {
            format!("\"{name}\"")
        }
    }
    fn kind(&self, col: &str) -> Kind {
        self.cols.iter().find(|c| c.0 == col).map(|c| c.1).unwrap()
    }
}

/// The 63-byte column name used to check identifier truncation.
pub const LONG_COL: &str = "preference_value_that_has_a_deliberately_long_name_for_truncati";

/// The model: app tables first, then analytics tables.
pub fn tables() -> Vec<Table> {
    use Kind::*;
    let t = |schema, name, cols: &[(&'static str, Kind)], unique: &[&'static str], salted| Table {
        schema,
        name,
        cols: cols.to_vec(),
        unique: unique.to_vec(),
        salted,
    };
    let users_cols: &[(&str, Kind)] = &[
        ("id", Int),
        ("email", Text),
        ("legacy_email", Text),
        ("name", Text),
        ("status", Text),
        ("created_at", Ts),
        ("score", Int),
        ("tags", Arr),
    ];
    vec![
        t("app", "users", users_cols, &["id", "email"], false),
        t(
            "app",
            "accounts",
            &[
                ("id", Int),
                ("user_id", Int),
                ("plan", Text),
                ("balance", Num),
                ("status", Text),
                ("created_at", Ts),
            ],
            &["id"],
            false,
        ),
        t(
            "app",
            "orders",
            &[
                ("id", Int),
                ("user_id", Int),
                ("account_id", Int),
                ("total", Num),
                ("old_status", Text),
                ("status", Text),
                ("note", Text),
                ("created_at", Ts),
            ],
            &["id"],
            false,
        ),
        t(
            "app",
            "order_items",
            &[
                ("order_id", Int),
                ("product_id", Int),
                ("qty", Int),
                ("price", Num),
            ],
            &[],
            false,
        ),
        t(
            "app",
            "products",
            &[
                ("id", Int),
                ("sku", Text),
                ("name", Text),
                ("price", Num),
                ("data", Json),
                ("status", Text),
                ("Label", Text),
            ],
            &["id", "sku"],
            false,
        ),
        t(
            "app",
            "settings",
            &[
                ("id", Int),
                ("user_id", Int),
                ("key", Text),
                (LONG_COL, Text),
            ],
            &["id"],
            false,
        ),
        t("app", "users_archive", users_cols, &[], true),
        t(
            "analytics",
            "events",
            &[
                ("event_id", Int),
                ("session_id", Int),
                ("user_id", Int),
                ("kind", Text),
                ("page", Text),
                ("referrer", Text),
                ("device", Text),
                ("os", Text),
                ("browser", Text),
                ("country", Text),
                ("city", Text),
                ("ts", Ts),
                ("duration_ms", Int),
                ("value", Num),
                ("props", Json),
                ("utm_source", Text),
                ("utm_medium", Text),
                ("utm_campaign", Text),
                ("ab_bucket", Int),
                ("is_bot", Bool),
            ],
            &["event_id"],
            false,
        ),
        t(
            "analytics",
            "sessions",
            &[
                ("session_id", Int),
                ("user_id", Int),
                ("started_at", Ts),
                ("ended_at", Ts),
                ("device", Text),
                ("country", Text),
                ("pages", Int),
                ("revenue", Num),
                ("channel", Text),
                ("landing_page", Text),
                ("is_bot", Bool),
                ("ab_bucket", Int),
            ],
            &["session_id"],
            false,
        ),
        t(
            "analytics",
            "dim_users",
            &[
                ("user_id", Int),
                ("signup_at", Ts),
                ("country", Text),
                ("plan", Text),
                ("segment", Text),
                ("ltv", Num),
                ("churned", Bool),
                ("cohort", Text),
            ],
            &["user_id"],
            false,
        ),
        t(
            "analytics",
            "dim_pages",
            &[
                ("page", Text),
                ("section", Text),
                ("title", Text),
                ("owner", Text),
            ],
            &["page"],
            false,
        ),
        t(
            "analytics",
            "daily_rollup",
            &[
                ("day", Ts),
                ("country", Text),
                ("device", Text),
                ("sessions", Int),
                ("events", Int),
                ("revenue", Num),
                ("bounce_rate", Num),
            ],
            &[],
            false,
        ),
    ]
}

/// Views and other schema objects (after the tables).
pub const EXTRA_DDL: &str = r#"
CREATE VIEW app.active_users AS SELECT id, email, name FROM app.users WHERE status <> 'inactive';
CREATE VIEW app.order_totals AS SELECT o.user_id, sum(o.total) AS total FROM app.orders o GROUP BY o.user_id;
CREATE VIEW analytics.session_facts AS SELECT s.session_id, s.user_id, d.country, s.revenue FROM analytics.sessions s JOIN analytics.dim_users d USING (user_id);
CREATE MATERIALIZED VIEW analytics.mv_country AS SELECT country, count(*) AS n FROM analytics.sessions GROUP BY country;
CREATE FUNCTION app.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
"#;

/// The search path of the oracle session and of the analyzer.
pub const SEARCH_PATH: &[&str] = &["app", "analytics", "public"];

fn hash(s: &str) -> u64 {
    s.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ b as u64).wrapping_mul(1099511628211)
    })
}

/// The sample value of column `col` in row `key` (0 = the base row, `1 + i`
/// = the row that deviates in the i-th column name of the whole model).
/// Rows with the same key agree, across tables, on every column except the
/// deviating one, so that dropping any common column changes a NATURAL
/// JOIN's result.
fn sample(col: &str, kind: Kind, key: u64, deviate: bool, salt: u64) -> String {
    let h = hash(col) % 1000;
    let n = key * 1000 + h + if deviate { 500_000 + salt } else { 0 } + salt * 7_000_000;
    match kind {
        Kind::Int => format!("{n}"),
        Kind::Num => format!("{n}.5"),
        Kind::Text => format!("'{col}-{n}'"),
        Kind::Ts => format!("timestamptz '2024-01-01 00:00:00+00' + interval '{n} minutes'"),
        Kind::Bool => format!("{}", (key + h + u64::from(deviate)) % 2 == 0),
        Kind::Json => format!("'{{\"k\": {n}, \"{col}\": \"v{n}\"}}'::jsonb"),
        Kind::Arr => format!("ARRAY['{col}-{n}', 'x{n}']"),
    }
}

/// The schema DDL (tables, unique indexes, extra objects).
pub fn schema_sql() -> String {
    let mut s = String::from(
        "CREATE EXTENSION IF NOT EXISTS hstore;\nCREATE SCHEMA app;\nCREATE SCHEMA analytics;\n",
    );
    for t in tables() {
        let cols: Vec<String> = t
            .cols
            .iter()
            .map(|(c, k)| format!("{} {}", Table::col_sql(c), k.sql_type()))
            .collect();
        let _ = writeln!(s, "CREATE TABLE {} ({});", t.qname(), cols.join(", "));
        for (i, u) in t.unique.iter().enumerate() {
            if i == 0 {
                let _ = writeln!(s, "ALTER TABLE {} ADD PRIMARY KEY ({u});", t.qname());
            } else {
                let _ = writeln!(
                    s,
                    "CREATE UNIQUE INDEX {}_{u}_key ON {} ({u});",
                    t.name,
                    t.qname()
                );
            }
        }
    }
    s.push_str("CREATE UNIQUE INDEX order_items_key ON app.order_items (order_id, product_id);\n");
    s.push_str(EXTRA_DDL.trim_start());
    s
}

/// The sample data.
pub fn data_sql() -> String {
    let all = tables();
    let mut names: Vec<&str> = all
        .iter()
        .flat_map(|t| t.cols.iter().map(|c| c.0))
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut s = String::new();
    for (ti, t) in all.iter().enumerate() {
        let salt = if t.salted { 1 + ti as u64 } else { 0 };
        let mut keys: Vec<(u64, Option<&str>)> = vec![(0, None)];
        for (c, _) in &t.cols {
            let gi = names.iter().position(|n| n == c).unwrap() as u64;
            keys.push((1 + gi, Some(c)));
        }
        for (key, dev) in keys {
            let vals: Vec<String> = t
                .cols
                .iter()
                .map(|(c, k)| {
                    sample(
                        c,
                        *k,
                        key,
                        dev == Some(*c),
                        salt + ti as u64 * u64::from(dev == Some(*c)),
                    )
                })
                .collect();
            let _ = writeln!(s, "INSERT INTO {} VALUES ({});", t.qname(), vals.join(", "));
        }
    }
    s.push_str("REFRESH MATERIALIZED VIEW analytics.mv_country;\n");
    s
}

/// How the oracle runs a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exec {
    /// `PREPARE p AS <sql>; EXECUTE p` (SELECT, VALUES, INSERT, UPDATE,
    /// DELETE, MERGE).
    Prepare,
    /// Run as is (utility statements), then the observation query, if any.
    Direct(Option<String>),
    /// `COPY … TO STDOUT`.
    CopyOut,
    /// `COPY … FROM STDIN` with these data lines.
    CopyIn(String),
}

/// One statement of the corpus.
#[derive(Debug, Clone)]
pub struct Case {
    /// Template that produced it.
    pub template: &'static str,
    pub sql: String,
    pub exec: Exec,
    /// Indexes (into [`tables`]) of the tables whose columns are checked.
    pub tables: BTreeSet<usize>,
    /// Tables whose content the statement may change (compared after it).
    pub writes: BTreeSet<usize>,
}

/// Deterministic generator state.
struct Gen {
    tables: Vec<Table>,
    seed: u64,
    n: u64,
}

impl Gen {
    fn rnd(&mut self, m: usize) -> usize {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed % m as u64) as usize
    }
    fn next(&mut self) -> u64 {
        self.n += 1;
        self.n
    }
    fn table(&mut self) -> usize {
        self.rnd(self.tables.len())
    }
    fn col(&mut self, t: usize) -> &'static str {
        let n = self.tables[t].cols.len();
        let i = self.rnd(n);
        self.tables[t].cols[i].0
    }
    fn cols(&mut self, t: usize, k: usize) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = Vec::new();
        for _ in 0..k {
            let c = self.col(t);
            if !v.contains(&c) {
                v.push(c);
            }
        }
        v
    }
    fn c(&self, t: usize, col: &str) -> String {
        let _ = t;
        Table::col_sql(col)
    }
    fn q(&self, t: usize) -> String {
        self.tables[t].qname()
    }
    /// A predicate over `expr` of `kind` that is true for some rows.
    fn pred(&mut self, expr: &str, kind: Kind) -> String {
        match (kind, self.rnd(3)) {
            (_, 0) => format!("{expr} IS NOT NULL"),
            (Kind::Int | Kind::Num, _) => format!("{expr} > 100"),
            (Kind::Text, _) => format!("{expr} <> 'zz'"),
            (Kind::Ts, _) => format!("{expr} > timestamptz '2020-01-01 00:00:00+00'"),
            (Kind::Bool, _) => format!("{expr} IS NOT FALSE"),
            (Kind::Json, _) => format!("{expr} ? 'k'"),
            (Kind::Arr, _) => format!("cardinality({expr}) > 0"),
        }
    }
    fn lit(&mut self, kind: Kind) -> String {
        let n = 900_000 + self.next();
        match kind {
            Kind::Int => format!("{n}"),
            Kind::Num => format!("{n}.25"),
            Kind::Text => format!("'new-{n}'"),
            Kind::Ts => "timestamptz '2025-06-01 00:00:00+00'".to_string(),
            Kind::Bool => "true".to_string(),
            Kind::Json => "'{\"new\": 1}'".to_string(),
            Kind::Arr => "ARRAY['new']".to_string(),
        }
    }
    fn kind(&self, t: usize, c: &str) -> Kind {
        self.tables[t].kind(c)
    }
    /// Pairs of tables sharing a column name, with the shared names.
    fn common_pairs(&self) -> Vec<(usize, usize, Vec<&'static str>)> {
        let mut v = Vec::new();
        for a in 0..self.tables.len() {
            for b in 0..self.tables.len() {
                if a == b || self.tables[a].salted || self.tables[b].salted {
                    continue;
                }
                let common: Vec<&'static str> = self.tables[a]
                    .cols
                    .iter()
                    .map(|c| c.0)
                    .filter(|c| self.tables[b].cols.iter().any(|d| d.0 == *c))
                    .filter(|c| self.kind(a, c) == self.kind(b, c))
                    .collect();
                if !common.is_empty()
                    && common.len()
                        == self.tables[a]
                            .cols
                            .iter()
                            .filter(|c| self.tables[b].cols.iter().any(|d| d.0 == c.0))
                            .count()
                {
                    v.push((a, b, common));
                }
            }
        }
        v
    }
    fn idx(&self, schema: &str, name: &str) -> usize {
        self.tables
            .iter()
            .position(|t| t.schema == schema && t.name == name)
            .unwrap()
    }
    /// A column of `t` of one of the kinds, if any.
    fn col_of(&mut self, t: usize, kinds: &[Kind]) -> Option<&'static str> {
        let cands: Vec<&'static str> = self.tables[t]
            .cols
            .iter()
            .filter(|c| kinds.contains(&c.1))
            .map(|c| c.0)
            .collect();
        if cands.is_empty() {
            None
        } else {
            Some(cands[self.rnd(cands.len())])
        }
    }
    /// A column present in `t` and in no other table of `others`.
    fn own_col(&mut self, t: usize, others: &[usize]) -> Option<&'static str> {
        let cands: Vec<&'static str> = self.tables[t]
            .cols
            .iter()
            .map(|c| c.0)
            .filter(|c| {
                others
                    .iter()
                    .all(|&o| !self.tables[o].cols.iter().any(|d| d.0 == *c))
            })
            .collect();
        if cands.is_empty() {
            None
        } else {
            Some(cands[self.rnd(cands.len())])
        }
    }
}

type Template = fn(&mut Gen) -> Option<(String, Exec, Vec<usize>, Vec<usize>)>;

fn sel(sql: String, tables: Vec<usize>) -> Option<(String, Exec, Vec<usize>, Vec<usize>)> {
    Some((sql, Exec::Prepare, tables, Vec::new()))
}

/// Join pairs (left table, left key, right table, right key) of the model.
const JOINS: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("app", "users", "id", "app", "orders", "user_id"),
    ("app", "users", "id", "app", "accounts", "user_id"),
    ("app", "orders", "id", "app", "order_items", "order_id"),
    ("app", "products", "id", "app", "order_items", "product_id"),
    ("app", "accounts", "id", "app", "orders", "account_id"),
    ("app", "users", "id", "app", "settings", "user_id"),
    (
        "analytics",
        "events",
        "session_id",
        "analytics",
        "sessions",
        "session_id",
    ),
    (
        "analytics",
        "events",
        "user_id",
        "analytics",
        "dim_users",
        "user_id",
    ),
    (
        "analytics",
        "sessions",
        "user_id",
        "analytics",
        "dim_users",
        "user_id",
    ),
    (
        "analytics",
        "events",
        "page",
        "analytics",
        "dim_pages",
        "page",
    ),
    (
        "analytics",
        "daily_rollup",
        "country",
        "analytics",
        "dim_users",
        "country",
    ),
    ("app", "users", "id", "analytics", "dim_users", "user_id"),
    ("app", "users", "id", "analytics", "events", "user_id"),
];

fn join_pair(g: &mut Gen) -> (usize, &'static str, usize, &'static str) {
    let (s1, t1, k1, s2, t2, k2) = JOINS[g.rnd(JOINS.len())];
    (g.idx(s1, t1), k1, g.idx(s2, t2), k2)
}

fn templates() -> Vec<(&'static str, Template)> {
    vec![
        ("select_columns", |g| {
            let t = g.table();
            let cols = g.cols(t, 3);
            let w = g.col(t);
            let k = g.kind(t, w);
            let p = g.pred(&g.c(t, w), k);
            let list: Vec<String> = cols.iter().map(|c| g.c(t, c)).collect();
            sel(
                format!("SELECT {} FROM {} WHERE {p}", list.join(", "), g.q(t)),
                vec![t],
            )
        }),
        ("alias_qualified", |g| {
            let t = g.table();
            let cols = g.cols(t, 2);
            let o = g.col(t);
            let list: Vec<String> = cols.iter().map(|c| format!("x.{}", g.c(t, c))).collect();
            sel(
                format!(
                    "SELECT {} FROM {} AS x ORDER BY x.{} DESC",
                    list.join(", "),
                    g.q(t),
                    g.c(t, o)
                ),
                vec![t],
            )
        }),
        ("table_and_schema_qualified", |g| {
            let t = g.table();
            let a = g.col(t);
            let b = g.col(t);
            let name = g.tables[t].name;
            let schema = g.tables[t].schema;
            sel(
                format!(
                    "SELECT {schema}.{name}.{}, {name}.{} FROM {schema}.{name}",
                    g.c(t, a),
                    g.c(t, b)
                ),
                vec![t],
            )
        }),
        ("upper_case_and_quoted", |g| {
            let t = g.table();
            let a = g.col(t);
            let b = g.col(t);
            let up = if a.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                a.to_uppercase()
            } else {
                g.c(t, a)
            };
            sel(
                format!(
                    "SELECT {up}, \"{b}\" FROM {} \"T\" WHERE \"T\".\"{b}\" IS NOT NULL",
                    g.q(t)
                ),
                vec![t],
            )
        }),
        ("count_star_and_constants", |g| {
            let t = g.table();
            let w = g.col(t);
            let k = g.kind(t, w);
            let p = g.pred(&g.c(t, w), k);
            let n = g.next();
            sel(
                format!("SELECT count(*), {n} AS n, 'x' FROM {} WHERE {p}", g.q(t)),
                vec![t],
            )
        }),
        ("star", |g| {
            let t = g.table();
            sel(
                format!("SELECT * FROM {} LIMIT {}", g.q(t), 1 + g.next() % 50),
                vec![t],
            )
        }),
        ("qualified_star_in_join", |g| {
            let (a, ka, b, kb) = join_pair(g);
            let c = g.col(b);
            sel(
                format!(
                    "SELECT l.*, r.{} FROM {} l JOIN {} r ON l.{ka} = r.{kb}",
                    g.c(b, c),
                    g.q(a),
                    g.q(b)
                ),
                vec![a, b],
            )
        }),
        ("join_on", |g| {
            let (a, ka, b, kb) = join_pair(g);
            let ca = g.col(a);
            let cb = g.col(b);
            let kind = ["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"][g.rnd(4)];
            sel(
                format!(
                    "SELECT a.{}, b.{} FROM {} a {kind} {} b ON a.{ka} = b.{kb}",
                    g.c(a, ca),
                    g.c(b, cb),
                    g.q(a),
                    g.q(b)
                ),
                vec![a, b],
            )
        }),
        ("join_unqualified_unique_names", |g| {
            let (a, ka, b, kb) = join_pair(g);
            let ca = g.own_col(a, &[b])?;
            let cb = g.own_col(b, &[a])?;
            sel(
                format!(
                    "SELECT {}, {} FROM {} a JOIN {} b ON a.{ka} = b.{kb} WHERE {} IS NOT NULL",
                    g.c(a, ca),
                    g.c(b, cb),
                    g.q(a),
                    g.q(b),
                    g.c(a, ca)
                ),
                vec![a, b],
            )
        }),
        ("join_using", |g| {
            let pairs = g.common_pairs();
            let (a, b, common) = pairs[g.rnd(pairs.len())].clone();
            let u = common[g.rnd(common.len())];
            let ca = g.col(a);
            let star = if g.rnd(3) == 0 {
                "*".to_string()
            } else {
                format!("{u}, a.{}", g.c(a, ca))
            };
            sel(
                format!(
                    "SELECT {star} FROM {} a JOIN {} b USING ({u})",
                    g.q(a),
                    g.q(b)
                ),
                vec![a, b],
            )
        }),
        ("natural_join", |g| {
            let pairs = g.common_pairs();
            let (a, b, _) = pairs[g.rnd(pairs.len())].clone();
            let proj = match g.rnd(3) {
                0 => "*".to_string(),
                1 => "count(*)".to_string(),
                _ => {
                    let c = g.own_col(a, &[b]).unwrap_or("ctid");
                    if c == "ctid" {
                        "1".to_string()
                    } else {
                        format!("a.{}", g.c(a, c))
                    }
                }
            };
            sel(
                format!("SELECT {proj} FROM {} a NATURAL JOIN {} b", g.q(a), g.q(b)),
                vec![a, b],
            )
        }),
        ("cross_join_and_comma", |g| {
            let (a, ka, b, kb) = join_pair(g);
            let ca = g.col(a);
            let cb = g.col(b);
            sel(
                format!(
                    "SELECT a.{}, b.{} FROM {} a, {} b WHERE a.{ka} = b.{kb}",
                    g.c(a, ca),
                    g.c(b, cb),
                    g.q(a),
                    g.q(b)
                ),
                vec![a, b],
            )
        }),
        ("in_subquery", |g| {
            let (a, ka, b, kb) = join_pair(g);
            let ca = g.col(a);
            let w = g.col(b);
            let k = g.kind(b, w);
            let p = g.pred(&g.c(b, w), k);
            sel(
                format!(
                    "SELECT {} FROM {} WHERE {ka} IN (SELECT {kb} FROM {} WHERE {p})",
                    g.c(a, ca),
                    g.q(a),
                    g.q(b)
                ),
                vec![a, b],
            )
        }),
        ("exists_correlated", |g| {
            let (a, ka, b, kb) = join_pair(g);
            let ca = g.col(a);
            let inner = if g.rnd(2) == 0 {
                "SELECT 1".to_string()
            } else {
                "SELECT *".to_string()
            };
            sel(
                format!(
                    "SELECT o.{} FROM {} o WHERE EXISTS ({inner} FROM {} i WHERE i.{kb} = o.{ka})",
                    g.c(a, ca),
                    g.q(a),
                    g.q(b)
                ),
                vec![a, b],
            )
        }),
        ("correlated_unqualified_outward", |g| {
            // An unqualified name only the outer table has resolves outward;
            // a name both have is the inner table's.
            let (a, ka, b, kb) = join_pair(g);
            let outer = g.col(a);
            let ca = g.col(a);
            sel(
                format!(
                    "SELECT {} FROM {} o WHERE EXISTS (SELECT 1 FROM {} i WHERE i.{kb} = o.{ka} AND {} IS NOT NULL)",
                    g.c(a, ca),
                    g.q(a),
                    g.q(b),
                    g.c(a, outer)
                ),
                vec![a, b],
            )
        }),
        ("scalar_subquery", |g| {
            let (a, ka, b, kb) = join_pair(g);
            let ca = g.col(a);
            sel(
                format!(
                    "SELECT a.{}, (SELECT count(*) FROM {} b WHERE b.{kb} = a.{ka}) AS n FROM {} a",
                    g.c(a, ca),
                    g.q(b),
                    g.q(a)
                ),
                vec![a, b],
            )
        }),
        ("derived_table", |g| {
            let t = g.table();
            let cols = g.cols(t, 3);
            let list: Vec<String> = cols.iter().map(|c| g.c(t, c)).collect();
            let pick = g.c(t, cols[0]);
            sel(
                format!(
                    "SELECT d.{pick} FROM (SELECT {} FROM {}) d WHERE d.{} IS NOT NULL",
                    list.join(", "),
                    g.q(t),
                    g.c(t, cols[cols.len() - 1])
                ),
                vec![t],
            )
        }),
        ("derived_table_column_aliases", |g| {
            let t = g.table();
            let cols = g.cols(t, 3);
            let list: Vec<String> = cols.iter().map(|c| g.c(t, c)).collect();
            let aliases: Vec<String> = (0..cols.len()).map(|i| format!("c{i}")).collect();
            let pick = g.rnd(cols.len());
            sel(
                format!(
                    "SELECT c{pick} FROM (SELECT {} FROM {}) AS d({})",
                    list.join(", "),
                    g.q(t),
                    aliases.join(", ")
                ),
                vec![t],
            )
        }),
        ("derived_star_unused_columns", |g| {
            let t = g.table();
            let c = g.col(t);
            sel(
                format!("SELECT d.{} FROM (SELECT * FROM {}) d", g.c(t, c), g.q(t)),
                vec![t],
            )
        }),
        ("table_column_aliases", |g| {
            let t = g.table();
            let n = 1 + g.rnd(g.tables[t].cols.len().min(4));
            let aliases: Vec<String> = (0..n).map(|i| format!("a{i}")).collect();
            let pick = g.rnd(n);
            let extra = g.cols(t, 1)[0];
            let idx = g.tables[t].cols.iter().position(|c| c.0 == extra).unwrap();
            let extra_ref = if idx < n {
                format!("x.a{idx}")
            } else {
                format!("x.{}", g.c(t, extra))
            };
            sel(
                format!(
                    "SELECT x.a{pick}, {extra_ref} FROM {} AS x({})",
                    g.q(t),
                    aliases.join(", ")
                ),
                vec![t],
            )
        }),
        ("cte", |g| {
            let t = g.table();
            let cols = g.cols(t, 3);
            let list: Vec<String> = cols.iter().map(|c| g.c(t, c)).collect();
            let i = g.rnd(cols.len());
            let pick = g.c(t, cols[i]);
            sel(
                format!(
                    "WITH c AS (SELECT {} FROM {}) SELECT {} FROM c",
                    list.join(", "),
                    g.q(t),
                    pick
                ),
                vec![t],
            )
        }),
        ("cte_star_and_materialized", |g| {
            let t = g.table();
            let c = g.col(t);
            let m = ["", "MATERIALIZED ", "NOT MATERIALIZED "][g.rnd(3)];
            sel(
                format!(
                    "WITH c AS {m}(SELECT * FROM {}) SELECT {} FROM c",
                    g.q(t),
                    g.c(t, c)
                ),
                vec![t],
            )
        }),
        ("cte_shadowing_table_name", |g| {
            // A CTE named like a table hides it.
            let t = g.table();
            let name = g.tables[t].name;
            let c = g.col(t);
            let other = g.table();
            let oc = g.col(other);
            sel(
                format!(
                    "WITH {name} AS (SELECT {} AS {} FROM {}) SELECT {} FROM {name}",
                    g.c(other, oc),
                    g.c(t, c),
                    g.q(other),
                    g.c(t, c)
                ),
                vec![t, other],
            )
        }),
        ("recursive_cte", |g| {
            let (a, ka, b, kb) = join_pair(g);
            let c = g.col(a);
            sel(
                format!(
                    "WITH RECURSIVE r(k, v, depth) AS (SELECT {ka}, {}::text, 1 FROM {} UNION ALL SELECT r.k, r.v, r.depth + 1 FROM r JOIN {} b ON b.{kb} = r.k WHERE r.depth < 2) SELECT k, v FROM r",
                    g.c(a, c),
                    g.q(a),
                    g.q(b)
                ),
                vec![a, b],
            )
        }),
        ("lateral", |g| {
            let (a, ka, b, kb) = join_pair(g);
            let ca = g.col(a);
            let cb = g.col(b);
            sel(
                format!(
                    "SELECT a.{}, l.v FROM {} a CROSS JOIN LATERAL (SELECT b.{} AS v FROM {} b WHERE b.{kb} = a.{ka} LIMIT 1) l",
                    g.c(a, ca),
                    g.q(a),
                    g.c(b, cb),
                    g.q(b)
                ),
                vec![a, b],
            )
        }),
        ("set_operations", |g| {
            let a = g.table();
            let b = g.table();
            let ca = g.col(a);
            let cb = g.col(b);
            let op = ["UNION", "UNION ALL", "INTERSECT", "EXCEPT"][g.rnd(4)];
            sel(
                format!(
                    "SELECT {}::text AS v FROM {} {op} SELECT {}::text FROM {} ORDER BY v",
                    g.c(a, ca),
                    g.q(a),
                    g.c(b, cb),
                    g.q(b)
                ),
                vec![a, b],
            )
        }),
        ("set_operation_star", |g| {
            let t = g.table();
            sel(
                format!("SELECT * FROM {0} UNION ALL SELECT * FROM {0}", g.q(t)),
                vec![t],
            )
        }),
        ("group_by_having", |g| {
            let t = g.table();
            let gc = g.col(t);
            let h = g.col(t);
            sel(
                format!(
                    "SELECT {0}, count(*) FROM {1} GROUP BY {0} HAVING count({2}) >= 0",
                    g.c(t, gc),
                    g.q(t),
                    g.c(t, h)
                ),
                vec![t],
            )
        }),
        ("grouping_sets", |g| {
            let t = g.table();
            let a = g.col(t);
            let b = g.col(t);
            let form = match g.rnd(3) {
                0 => format!("GROUPING SETS (({}), ({}), ())", g.c(t, a), g.c(t, b)),
                1 => format!("ROLLUP ({}, {})", g.c(t, a), g.c(t, b)),
                _ => format!("CUBE ({}, {})", g.c(t, a), g.c(t, b)),
            };
            sel(
                format!(
                    "SELECT {}, {}, count(*) FROM {} GROUP BY {form}",
                    g.c(t, a),
                    g.c(t, b),
                    g.q(t)
                ),
                vec![t],
            )
        }),
        ("ordinal_group_and_order", |g| {
            let t = g.table();
            let a = g.col(t);
            sel(
                format!(
                    "SELECT {}, count(*) FROM {} GROUP BY 1 ORDER BY 2, 1",
                    g.c(t, a),
                    g.q(t)
                ),
                vec![t],
            )
        }),
        ("ordinal_over_star", |g| {
            let t = g.table();
            let n = 1 + g.rnd(g.tables[t].cols.len());
            sel(format!("SELECT * FROM {} ORDER BY {n}", g.q(t)), vec![t])
        }),
        ("order_by_output_alias", |g| {
            let t = g.table();
            let a = g.col(t);
            let b = g.col(t);
            // The alias takes the name of another column: ORDER BY means the output.
            sel(
                format!(
                    "SELECT {}::text AS {} FROM {} ORDER BY {}",
                    g.c(t, a),
                    g.c(t, b),
                    g.q(t),
                    g.c(t, b)
                ),
                vec![t],
            )
        }),
        ("distinct_on", |g| {
            let t = g.table();
            let a = g.col(t);
            let b = g.col(t);
            let c = g.col(t);
            sel(
                format!(
                    "SELECT DISTINCT ON ({}) {} FROM {} ORDER BY {}, {}",
                    g.c(t, a),
                    g.c(t, b),
                    g.q(t),
                    g.c(t, a),
                    g.c(t, c)
                ),
                vec![t],
            )
        }),
        ("window_functions", |g| {
            let t = g.table();
            let a = g.col(t);
            let p = g.col(t);
            let o = g.col(t);
            sel(
                format!(
                    "SELECT row_number() OVER (PARTITION BY {} ORDER BY {}), count({}) OVER w FROM {} WINDOW w AS (ORDER BY {})",
                    g.c(t, p),
                    g.c(t, o),
                    g.c(t, a),
                    g.q(t),
                    g.c(t, o)
                ),
                vec![t],
            )
        }),
        ("aggregate_filter_and_order", |g| {
            let t = g.table();
            let a = g.col(t);
            let f = g.col(t);
            let o = g.col(t);
            let k = g.kind(t, f);
            let p = g.pred(&g.c(t, f), k);
            sel(
                format!(
                    "SELECT count(*) FILTER (WHERE {p}), string_agg({}::text, ',' ORDER BY {}) FROM {}",
                    g.c(t, a),
                    g.c(t, o),
                    g.q(t)
                ),
                vec![t],
            )
        }),
        ("subscripts_and_json", |g| {
            let t = g.table();
            let c = g.col_of(t, &[Kind::Arr, Kind::Json])?;
            let e = if g.kind(t, c) == Kind::Arr {
                format!("{}[1]", g.c(t, c))
            } else {
                format!("{}->>'k'", g.c(t, c))
            };
            sel(format!("SELECT {e} FROM {} x", g.q(t)), vec![t])
        }),
        ("composite_field_access", |g| {
            let t = g.table();
            let c = g.col(t);
            let form = ["(x).{}", "(x.*).{}"][g.rnd(2)];
            let e = form.replace("{}", &g.c(t, c));
            sel(format!("SELECT {e} FROM {} x", g.q(t)), vec![t])
        }),
        ("functional_notation", |g| {
            let t = g.table();
            let c = g.col_of(t, &[Kind::Text, Kind::Int, Kind::Num])?;
            if !c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_') || c.len() > 30 {
                return None;
            }
            sel(format!("SELECT {c}(x) FROM {} x", g.q(t)), vec![t])
        }),
        ("whole_row", |g| {
            let t = g.table();
            let e = [
                "row_to_json(x)",
                "to_jsonb(x)",
                "x::text",
                "hstore(x)",
                "x",
                "ROW(x.*)::text",
                "to_json(x.*)",
            ][g.rnd(7)];
            sel(format!("SELECT {e} FROM {} x", g.q(t)), vec![t])
        }),
        ("whole_row_in_where", |g| {
            let t = g.table();
            let c = g.col(t);
            sel(
                {
                    // The row's text has one comma-separated piece per
                    // column (arrays and JSON values hold one comma more):
                    // every row matches, and none once a column is gone.
                    let pieces: usize = g.tables[t]
                        .cols
                        .iter()
                        .map(|c| {
                            if matches!(c.1, Kind::Arr | Kind::Json) {
                                2
                            } else {
                                1
                            }
                        })
                        .sum();
                    format!(
                        "SELECT x.{} FROM {} x WHERE cardinality(string_to_array(x::text, ',')) = {pieces}",
                        g.c(t, c),
                        g.q(t)
                    )
                },
                vec![t],
            )
        }),
        ("case_coalesce_casts", |g| {
            let t = g.table();
            let a = g.col(t);
            let b = g.col(t);
            let c = g.col(t);
            sel(
                format!(
                    "SELECT CASE WHEN {} IS NULL THEN 'n' ELSE coalesce({}::text, 'z') END, CAST({} AS text) FROM {}",
                    g.c(t, a),
                    g.c(t, b),
                    g.c(t, c),
                    g.q(t)
                ),
                vec![t],
            )
        }),
        ("values_join", |g| {
            let (a, ka, _, _) = join_pair(g);
            let c = g.col(a);
            let n = g.next();
            sel(
                format!(
                    "SELECT v.label, t.{} FROM (VALUES ({n}, 'x'), (1, 'y')) AS v(k, label) JOIN {} t ON t.{ka}::text = v.k::text",
                    g.c(a, c),
                    g.q(a)
                ),
                vec![a],
            )
        }),
        ("values_statement", |g| {
            let n = g.next();
            Some((
                format!("VALUES ({n}, 'a'), (2, 'b')"),
                Exec::Prepare,
                Vec::new(),
                Vec::new(),
            ))
        }),
        ("table_functions", |g| {
            let t = g.table();
            let c = g.col_of(t, &[Kind::Int, Kind::Arr, Kind::Json])?;
            let (from, out) = match g.kind(t, c) {
                Kind::Int => (
                    format!("generate_series(1, least(x.{}, 2)) AS s", g.c(t, c)),
                    "s",
                ),
                Kind::Arr => (
                    format!("unnest(x.{}) WITH ORDINALITY AS s(v, n)", g.c(t, c)),
                    "s.v",
                ),
                _ => (format!("jsonb_each_text(x.{}) AS s", g.c(t, c)), "s.key"),
            };
            let o = g.col(t);
            sel(
                format!("SELECT x.{}, {out} FROM {} x, {from}", g.c(t, o), g.q(t)),
                vec![t],
            )
        }),
        ("column_definition_list", |g| {
            let t = g.table();
            let c = g.col_of(t, &[Kind::Json])?;
            sel(
                format!(
                    "SELECT r.k FROM {} x, jsonb_to_record(x.{}) AS r(k int, extra text)",
                    g.q(t),
                    g.c(t, c)
                ),
                vec![t],
            )
        }),
        ("xmltable", |g| {
            let t = g.table();
            let c = g.col(t);
            let o = g.col(t);
            sel(
                format!(
                    "SELECT x.{}, xt.v FROM {} x, XMLTABLE('/r' PASSING xmlelement(name r, xmlelement(name v, x.{}::text)) COLUMNS v text PATH 'v') AS xt",
                    g.c(t, o),
                    g.q(t),
                    g.c(t, c)
                ),
                vec![t],
            )
        }),
        ("view_select", |g| {
            let (v, base, cols): (&str, Vec<(&str, &str)>, &[&str]) = match g.rnd(4) {
                0 => (
                    "app.active_users",
                    vec![("app", "users")],
                    &["id", "email", "name"],
                ),
                1 => (
                    "app.order_totals",
                    vec![("app", "orders")],
                    &["user_id", "total"],
                ),
                2 => (
                    "analytics.session_facts",
                    vec![("analytics", "sessions"), ("analytics", "dim_users")],
                    &["session_id", "user_id", "country", "revenue"],
                ),
                _ => (
                    "analytics.mv_country",
                    vec![("analytics", "sessions")],
                    &["country", "n"],
                ),
            };
            let c = cols[g.rnd(cols.len())];
            let n = g.next();
            let tables = base.iter().map(|(s, t)| g.idx(s, t)).collect();
            sel(format!("SELECT {c} FROM {v} LIMIT {}", n % 90 + 1), tables)
        }),
        ("long_identifiers_truncate", |g| {
            let t = g.idx("app", "settings");
            let n = g.next();
            let form = n % 3;
            let sql = match form {
                0 => format!("SELECT {LONG_COL}on_beyond_63_bytes FROM app.settings WHERE id > {n}"),
                1 => format!(
                    "SELECT s.{LONG_COL} FROM app.settings AS s{}_{n} JOIN app.users u ON u.id = s{}_{n}.user_id",
                    "x".repeat(70),
                    "x".repeat(70)
                ),
                _ => format!("SELECT key FROM app.settings WHERE \"{LONG_COL}\" <> '{n}'"),
            };
            let mut tables = vec![t];
            if form == 1 {
                tables.push(g.idx("app", "users"));
                // the alias truncates to the same 63 bytes on both sides
                let sql = format!(
                    "SELECT s{0}.{LONG_COL}, s{0}.key FROM app.settings AS s{0}{n} WHERE s{0}{n}.id > 0",
                    "x".repeat(70)
                );
                return sel(sql, vec![t]);
            }
            sel(sql, tables)
        }),
        ("insert_columns_values", |g| {
            let t = g.table();
            if g.tables[t].salted {
                return None;
            }
            let mut cols = g.cols(t, 3);
            for u in g.tables[t].unique.clone() {
                if !cols.contains(&u) {
                    cols.push(u);
                }
            }
            if g.tables[t].name == "order_items" {
                for c in ["order_id", "product_id"] {
                    if !cols.contains(&c) {
                        cols.push(c);
                    }
                }
            }
            let vals: Vec<String> = cols
                .iter()
                .map(|c| {
                    let k = g.kind(t, c);
                    g.lit(k)
                })
                .collect();
            let list: Vec<String> = cols.iter().map(|c| g.c(t, c)).collect();
            Some((
                format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    g.q(t),
                    list.join(", "),
                    vals.join(", ")
                ),
                Exec::Prepare,
                vec![t],
                vec![t],
            ))
        }),
        ("insert_positional_values", |g| {
            let t = g.table();
            if g.tables[t].salted {
                return None;
            }
            let len = g.tables[t].cols.len();
            let n = (1 + g.rnd(len)).max(2.min(len));
            let kinds: Vec<Kind> = g.tables[t].cols[..n].iter().map(|c| c.1).collect();
            let vals: Vec<String> = kinds.into_iter().map(|k| g.lit(k)).collect();
            Some((
                format!("INSERT INTO {} VALUES ({})", g.q(t), vals.join(", ")),
                Exec::Prepare,
                vec![t],
                vec![t],
            ))
        }),
        ("insert_select_star", |g| {
            let users = g.idx("app", "users");
            let arch = g.idx("app", "users_archive");
            let n = g.next();
            let (dst, src) = if n % 2 == 0 {
                (users, arch)
            } else {
                (arch, users)
            };
            let sql = if n % 4 < 2 {
                format!(
                    "INSERT INTO {} SELECT * FROM {} WHERE id > {}",
                    g.q(dst),
                    g.q(src),
                    n % 7
                )
            } else {
                format!(
                    "INSERT INTO {} SELECT s.* FROM {} s WHERE s.score IS NOT NULL AND s.id > {}",
                    g.q(dst),
                    g.q(src),
                    n % 7
                )
            };
            Some((sql, Exec::Prepare, vec![dst, src], vec![dst]))
        }),
        ("insert_select_columns", |g| {
            let users = g.idx("app", "users");
            let arch = g.idx("app", "users_archive");
            let cols = g.cols(users, 3);
            let mut cols: Vec<&str> = cols
                .into_iter()
                .filter(|c| *c != "id" && *c != "email")
                .collect();
            cols.push("id");
            cols.push("email");
            let list: Vec<String> = cols.iter().map(|c| g.c(users, c)).collect();
            let w = g.col(arch);
            Some((
                format!(
                    "INSERT INTO app.users ({0}) SELECT {0} FROM app.users_archive WHERE {1} IS NOT NULL RETURNING id",
                    list.join(", "),
                    g.c(arch, w)
                ),
                Exec::Prepare,
                vec![users, arch],
                vec![users],
            ))
        }),
        ("insert_returning", |g| {
            let i = g.rnd(4);
            let t = g.idx("app", ["users", "orders", "accounts", "products"][i]);
            let id = g.lit(Kind::Int);
            let extra = if g.tables[t].name == "products" || g.tables[t].name == "users" {
                let u = g.tables[t].unique[1];
                let l = g.lit(Kind::Text);
                (format!(", {u}"), format!(", {l}"))
            } else {
                (String::new(), String::new())
            };
            let ret = if g.rnd(3) == 0 {
                "*".to_string()
            } else {
                let c = g.col(t);
                g.c(t, c)
            };
            Some((
                format!(
                    "INSERT INTO {} (id{}) VALUES ({id}{}) RETURNING {ret}",
                    g.q(t),
                    extra.0,
                    extra.1
                ),
                Exec::Prepare,
                vec![t],
                vec![t],
            ))
        }),
        ("insert_on_conflict", |g| {
            let users = g.idx("app", "users");
            let n = g.next();
            let set = g.col(users);
            if set == "id" || set == "email" {
                return None;
            }
            let w = g.col(users);
            let arbiter = ["(id)", "(email)", "ON CONSTRAINT users_pkey"][(n % 3) as usize];
            let action = if n % 5 == 0 {
                "DO NOTHING".to_string()
            } else {
                let k = g.kind(users, w);
                format!(
                    "DO UPDATE SET {set} = excluded.{set} WHERE users.{} IS NOT NULL AND {}",
                    g.c(users, w),
                    g.pred(&format!("excluded.{}", g.c(users, w)), k)
                )
            };
            let id = if n % 2 == 0 {
                format!("{}", 10_000 + n)
            } else {
                "1".into()
            };
            Some((
                format!(
                    "INSERT INTO app.users AS users (id, email, {set}) VALUES ({id}, 'email-{n}', NULL) ON CONFLICT {arbiter} {action}"
                ),
                Exec::Prepare,
                vec![users],
                vec![users],
            ))
        }),
        ("update_set", |g| {
            let t = g.table();
            let s = g.col(t);
            if g.tables[t].unique.contains(&s) || s == "order_id" || s == "product_id" {
                return None;
            }
            let w = g.col(t);
            let k = g.kind(t, w);
            let p = g.pred(&g.c(t, w), k);
            let v = g.col(t);
            let val = if g.kind(t, v) == g.kind(t, s) {
                g.c(t, v)
            } else {
                let ks = g.kind(t, s);
                g.lit(ks)
            };
            Some((
                format!("UPDATE {} SET {} = {val} WHERE {p}", g.q(t), g.c(t, s)),
                Exec::Prepare,
                vec![t],
                vec![t],
            ))
        }),
        ("update_multi_assign_from_returning", |g| {
            let (a, ka, b, kb) = join_pair(g);
            let s1 = g.own_col(a, &[])?;
            let s2 = g.col(a);
            if s1 == s2
                || [s1, s2]
                    .iter()
                    .any(|c| g.tables[a].unique.contains(c) || *c == ka)
            {
                return None;
            }
            let r = g.col(b);
            let (k1, k2) = (g.kind(a, s1), g.kind(a, s2));
            let (v1, v2) = (g.lit(k1), g.lit(k2));
            Some((
                format!(
                    "UPDATE {} t SET ({}, {}) = ({v1}, {v2}) FROM {} f WHERE f.{kb} = t.{ka} RETURNING t.{ka}, f.{}",
                    g.q(a),
                    g.c(a, s1),
                    g.c(a, s2),
                    g.q(b),
                    g.c(b, r)
                ),
                Exec::Prepare,
                vec![a, b],
                vec![a],
            ))
        }),
        ("delete_using_returning", |g| {
            let (a, ka, b, kb) = join_pair(g);
            let w = g.col(b);
            let k = g.kind(b, w);
            let p = g.pred(&format!("u.{}", g.c(b, w)), k);
            let ret = if g.rnd(3) == 0 {
                "*".to_string()
            } else {
                let c = g.col(a);
                format!("d.{}", g.c(a, c))
            };
            Some((
                format!(
                    "DELETE FROM {} d USING {} u WHERE u.{kb} = d.{ka} AND {p} RETURNING {ret}",
                    g.q(a),
                    g.q(b)
                ),
                Exec::Prepare,
                vec![a, b],
                vec![a],
            ))
        }),
        ("merge", |g| {
            let users = g.idx("app", "users");
            let arch = g.idx("app", "users_archive");
            let n = g.next();
            let s = g.col(users);
            if s == "id" || s == "email" {
                return None;
            }
            let c = g.col(arch);
            let ins = match n % 3 {
                0 => format!("INSERT (id, email, {0}) VALUES (a.id, a.email, a.{0})", g.c(users, s)),
                1 => "INSERT VALUES (a.id, a.email, a.legacy_email, a.name, a.status, a.created_at, a.score, a.tags)".to_string(),
                _ => "DO NOTHING".to_string(),
            };
            let matched = if n % 2 == 0 {
                format!(
                    "WHEN MATCHED AND a.{} IS NOT NULL THEN UPDATE SET {1} = a.{1}",
                    g.c(arch, c),
                    g.c(users, s)
                )
            } else {
                format!("WHEN MATCHED AND u.{} IS NULL THEN DELETE", g.c(users, s))
            };
            Some((
                format!(
                    "MERGE INTO app.users u USING app.users_archive a ON u.id = a.id {matched} WHEN NOT MATCHED THEN {ins}"
                ),
                Exec::Prepare,
                vec![users, arch],
                vec![users],
            ))
        }),
        ("merge_from_subquery", |g| {
            let (a, ka, b, kb) = join_pair(g);
            let s = g.own_col(a, &[])?;
            if g.tables[a].unique.contains(&s) || s == ka || g.tables[a].unique.is_empty() {
                return None;
            }
            let r = g.col(b);
            let k = g.kind(a, s);
            let v = g.lit(k);
            Some((
                format!(
                    "MERGE INTO {} t USING (SELECT {kb} AS k, {} AS r FROM {}) src ON t.{ka} = src.k WHEN MATCHED AND src.r IS NOT NULL THEN UPDATE SET {} = {v}",
                    g.q(a),
                    g.c(b, r),
                    g.q(b),
                    g.c(a, s)
                ),
                Exec::Prepare,
                vec![a, b],
                vec![a],
            ))
        }),
        ("data_modifying_cte", |g| {
            let t = g.table();
            if g.tables[t].unique.is_empty() {
                return None;
            }
            let key = g.tables[t].unique[0];
            let c = g.col(t);
            let n = g.next();
            let sql = if n % 2 == 0 {
                format!(
                    "WITH gone AS (DELETE FROM {} WHERE {key}::text = '{}' RETURNING {}) SELECT count(*) FROM gone",
                    g.q(t),
                    n,
                    g.c(t, c)
                )
            } else {
                format!(
                    "WITH moved AS (UPDATE {} SET {key} = {key} WHERE {} IS NOT NULL RETURNING *) SELECT {} FROM moved",
                    g.q(t),
                    g.c(t, c),
                    g.c(t, key)
                )
            };
            Some((sql, Exec::Prepare, vec![t], vec![t]))
        }),
        ("select_into", |g| {
            let t = g.table();
            let cols = g.cols(t, 2);
            let list: Vec<String> = cols.iter().map(|c| g.c(t, c)).collect();
            let n = g.next();
            Some((
                format!(
                    "SELECT {} INTO TEMP TABLE tmp_{n} FROM {}",
                    list.join(", "),
                    g.q(t)
                ),
                Exec::Direct(Some(format!("SELECT * FROM tmp_{n}"))),
                vec![t],
                Vec::new(),
            ))
        }),
        ("create_table_as", |g| {
            let t = g.table();
            let n = g.next();
            let body = if n % 3 == 0 {
                "*".to_string()
            } else {
                let cs = g.cols(t, 2);
                cs.iter().map(|c| g.c(t, c)).collect::<Vec<_>>().join(", ")
            };
            Some((
                format!(
                    "CREATE TEMP TABLE ctas_{n} AS SELECT {body} FROM {}",
                    g.q(t)
                ),
                Exec::Direct(Some(format!("SELECT * FROM ctas_{n}"))),
                vec![t],
                Vec::new(),
            ))
        }),
        ("create_view", |g| {
            let (a, ka, b, kb) = join_pair(g);
            let ca = g.col(a);
            let n = g.next();
            let mat = n % 2 == 0;
            let kw = if mat {
                "MATERIALIZED VIEW"
            } else {
                "TEMP VIEW"
            };
            Some((
                format!(
                    "CREATE {kw} v_{n} AS SELECT a.{}, max(md5(b::text)) AS n FROM {} a LEFT JOIN {} b ON b.{kb}::text <> a.{ka}::text GROUP BY 1",
                    g.c(a, ca),
                    g.q(a),
                    g.q(b)
                ),
                Exec::Direct(Some(format!("SELECT * FROM v_{n}"))),
                vec![a, b],
                Vec::new(),
            ))
        }),
        ("copy_query_to", |g| {
            let t = g.table();
            let cols = g.cols(t, 2);
            let list: Vec<String> = cols.iter().map(|c| g.c(t, c)).collect();
            let n = g.next();
            Some((
                format!(
                    "COPY (SELECT {} FROM {} WHERE {}::text <> '{n}') TO STDOUT",
                    list.join(", "),
                    g.q(t),
                    g.tables[t].cols[0].0
                ),
                Exec::CopyOut,
                vec![t],
                Vec::new(),
            ))
        }),
        ("copy_table_to", |g| {
            let t = g.table();
            let n = g.next();
            let sql = if n % 2 == 0 {
                format!("COPY {} TO STDOUT", g.q(t))
            } else {
                let cols = g.cols(t, 2);
                let list: Vec<String> = cols.iter().map(|c| g.c(t, c)).collect();
                format!(
                    "COPY {} ({}) TO STDOUT WITH (FORMAT csv)",
                    g.q(t),
                    list.join(", ")
                )
            };
            Some((sql, Exec::CopyOut, vec![t], Vec::new()))
        }),
        ("copy_from", |g| {
            let i = g.rnd(3);
            let t = g.idx("app", ["orders", "accounts", "settings"][i]);
            let n = g.next();
            let cols: Vec<&str> = g.tables[t].cols.iter().map(|c| c.0).collect();
            let ints = |k: usize| {
                (0..k)
                    .map(|i| format!("{}", 800_000 + n * 10 + i as u64))
                    .collect::<Vec<_>>()
            };
            if n % 2 == 0 {
                // without a column list: every column, in order (all values
                // are digits, which every column type of these tables reads
                // except timestamps, which are left NULL)
                let vals: Vec<String> = g.tables[t]
                    .cols
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        if c.1 == Kind::Ts {
                            "\\N".into()
                        } else {
                            format!("{}", 800_000 + n * 10 + i as u64)
                        }
                    })
                    .collect();
                Some((
                    format!("COPY {} FROM STDIN", g.q(t)),
                    Exec::CopyIn(vals.join("\t") + "\n"),
                    vec![t],
                    vec![t],
                ))
            } else {
                let mut pick = g.cols(t, 2);
                pick.retain(|c| g.kind(t, c) != Kind::Ts && *c != "id");
                pick.insert(0, "id");
                let _ = cols;
                let list: Vec<String> = pick.iter().map(|c| g.c(t, c)).collect();
                Some((
                    format!("COPY {} ({}) FROM STDIN", g.q(t), list.join(", ")),
                    Exec::CopyIn(ints(pick.len()).join("\t") + "\n"),
                    vec![t],
                    vec![t],
                ))
            }
        }),
        ("explain", |g| {
            let t = g.table();
            let c = g.col(t);
            let w = g.col(t);
            let k = g.kind(t, w);
            let p = g.pred(&g.c(t, w), k);
            let n = g.next();
            let opts = if n % 2 == 0 {
                "VERBOSE, COSTS OFF"
            } else {
                "ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF"
            };
            let body = if n % 5 == 0 {
                "*".to_string()
            } else {
                g.c(t, c)
            };
            Some((
                format!(
                    "EXPLAIN ({opts}) SELECT {body} FROM {} WHERE {p} AND {} > 0",
                    g.q(t),
                    g.tables[t]
                        .cols
                        .iter()
                        .find(|c| matches!(c.1, Kind::Int | Kind::Num))
                        .map_or("1".to_string(), |c| c.0.to_string())
                ),
                Exec::Direct(None),
                vec![t],
                Vec::new(),
            ))
        }),
        ("explain_dml", |g| {
            let t = g.table();
            let s = g.own_col(t, &[])?;
            if g.tables[t].unique.contains(&s) {
                return None;
            }
            let w = g.col(t);
            let k = g.kind(t, s);
            let v = g.lit(k);
            Some((
                format!("EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF, SUMMARY OFF) UPDATE {} SET {} = {v} WHERE {} IS NULL", g.q(t), g.c(t, s), g.c(t, w)),
                Exec::Direct(None),
                vec![t],
                vec![t],
            ))
        }),
        ("prepare_execute", |g| {
            let t = g.table();
            let c = g.col(t);
            let n = g.next();
            let body = if n % 4 == 0 {
                "*".to_string()
            } else {
                g.c(t, c)
            };
            Some((
                format!(
                    "PREPARE q_{n} AS SELECT {body} FROM {} WHERE {} IS NOT NULL",
                    g.q(t),
                    g.c(t, c)
                ),
                Exec::Direct(Some(format!("EXECUTE q_{n}"))),
                vec![t],
                Vec::new(),
            ))
        }),
        ("declare_cursor", |g| {
            let t = g.table();
            let c = g.col(t);
            let n = g.next();
            let body = if n % 4 == 0 {
                "*".to_string()
            } else {
                g.c(t, c)
            };
            Some((
                format!(
                    "DECLARE cur_{n} CURSOR FOR SELECT {body} FROM {} ORDER BY {}",
                    g.q(t),
                    g.c(t, c)
                ),
                Exec::Direct(Some(format!("FETCH ALL FROM cur_{n}"))),
                vec![t],
                Vec::new(),
            ))
        }),
        ("create_trigger", |g| {
            let t = g.table();
            let c = g.col(t);
            let w = g.col(t);
            let n = g.next();
            let when = if n % 2 == 0 {
                format!(" WHEN (NEW.{0} IS DISTINCT FROM OLD.{0})", g.c(t, w))
            } else {
                String::new()
            };
            Some((
                format!(
                    "CREATE TRIGGER trg_{n} BEFORE UPDATE OF {} ON {} FOR EACH ROW{when} EXECUTE FUNCTION app.touch()",
                    g.c(t, c),
                    g.q(t)
                ),
                Exec::Direct(None),
                vec![t],
                Vec::new(),
            ))
        }),
        ("create_index", |g| {
            let t = g.table();
            let c = g.col(t);
            let w = g.col(t);
            let n = g.next();
            let (expr, using) = match g.kind(t, c) {
                Kind::Json | Kind::Arr => (g.c(t, c), " USING gin"),
                Kind::Text if n % 3 == 0 => (format!("(lower({}))", g.c(t, c)), ""),
                _ => (g.c(t, c), ""),
            };
            Some((
                format!(
                    "CREATE INDEX idx_{n} ON {}{using} ({expr}) WHERE {} IS NOT NULL",
                    g.q(t),
                    g.c(t, w)
                ),
                Exec::Direct(None),
                vec![t],
                Vec::new(),
            ))
        }),
        ("join_column_aliases", |g| {
            // `(a JOIN b …) AS j(a0, …)`: the aliases rename the join's
            // columns by position (USING/NATURAL merged columns first).
            // `ON true`: the key pairs of `join_pair` match no rows, and a
            // column alias renamed onto another column only shows in rows.
            let (a, b, on, merged): (usize, usize, String, Vec<&'static str>) = match g.rnd(3) {
                0 => {
                    let (a, _, b, _) = join_pair(g);
                    (a, b, " ON true".to_string(), Vec::new())
                }
                1 => {
                    let pairs = g.common_pairs();
                    let (a, b, common) = pairs[g.rnd(pairs.len())].clone();
                    let u = common[g.rnd(common.len())];
                    (a, b, format!(" USING ({u})"), vec![u])
                }
                _ => {
                    // Sample rows deviate alike in a boolean column in both
                    // tables: dropping a common boolean column would not
                    // show.
                    let pairs: Vec<_> = g
                        .common_pairs()
                        .into_iter()
                        .filter(|(a, _, common)| common.iter().all(|c| g.kind(*a, c) != Kind::Bool))
                        .collect();
                    let (a, b, common) = pairs[g.rnd(pairs.len())].clone();
                    (a, b, String::new(), common)
                }
            };
            let natural = on.is_empty() && !merged.is_empty();
            // The join's output columns, in PostgreSQL's order.
            let mut out: Vec<&'static str> = merged.clone();
            for t in [a, b] {
                out.extend(
                    g.tables[t]
                        .cols
                        .iter()
                        .map(|c| c.0)
                        .filter(|c| !merged.contains(c)),
                );
            }
            let n = 1 + g.rnd(out.len().min(8));
            let aliases: Vec<String> = (0..n).map(|i| format!("a{i}")).collect();
            let pick = g.rnd(n);
            let mut proj = vec![format!("j.a{pick}")];
            // A column past the aliases, under its own (unique) name.
            let p = n + g.rnd(out.len() - n + 1);
            if let Some(name) = out.get(p) {
                if out.iter().filter(|c| *c == name).count() == 1 {
                    proj.push(format!("j.{}", g.c(a, name)));
                }
            }
            let join = if natural { "NATURAL JOIN" } else { "JOIN" };
            sel(
                format!(
                    "SELECT {} FROM ({} a {join} {} b{on}) AS j({})",
                    proj.join(", "),
                    g.q(a),
                    g.q(b),
                    aliases.join(", ")
                ),
                vec![a, b],
            )
        }),
        ("query_column_aliases", |g| {
            // Column aliases over a `*` of a derived table or a CTE: by
            // position, over a table or a join (merged columns first).
            let (from, tables, out): (String, Vec<usize>, Vec<&'static str>) = if g.rnd(2) == 0 {
                let t = g.table();
                let out = g.tables[t].cols.iter().map(|c| c.0).collect();
                (g.q(t), vec![t], out)
            } else {
                let pairs = g.common_pairs();
                let (a, b, common) = pairs[g.rnd(pairs.len())].clone();
                let u = common[g.rnd(common.len())];
                let mut out = vec![u];
                for t in [a, b] {
                    out.extend(g.tables[t].cols.iter().map(|c| c.0).filter(|c| *c != u));
                }
                (
                    format!("{} a JOIN {} b USING ({u})", g.q(a), g.q(b)),
                    vec![a, b],
                    out,
                )
            };
            let n = 1 + g.rnd(out.len().min(8));
            let aliases: Vec<String> = (0..n).map(|i| format!("a{i}")).collect();
            let pick = g.rnd(n);
            let mut proj = vec![format!("s.a{pick}")];
            let p = n + g.rnd(out.len() - n + 1);
            if let Some(name) = out.get(p) {
                if out.iter().filter(|c| *c == name).count() == 1 {
                    proj.push(format!("s.{}", Table::col_sql(name)));
                }
            }
            let sql = if g.rnd(2) == 0 {
                format!(
                    "SELECT {} FROM (SELECT * FROM {from}) AS s({})",
                    proj.join(", "),
                    aliases.join(", ")
                )
            } else {
                format!(
                    "WITH s({}) AS (SELECT * FROM {from}) SELECT {} FROM s",
                    aliases.join(", "),
                    proj.join(", ")
                )
            };
            sel(sql, tables)
        }),
        ("join_using_alias", |g| {
            // `USING (u) AS ux` (PostgreSQL 14+): `ux` names the merged
            // column only, the sides stay visible; an inner `ux` hides an
            // outer FROM item of that name.
            let pairs = g.common_pairs();
            let (a, b, common) = pairs[g.rnd(pairs.len())].clone();
            let u = common[g.rnd(common.len())];
            let u = g.c(a, u);
            let ca = g.col(a);
            let ca = g.c(a, ca);
            let kind = ["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"][g.rnd(4)];
            let join = format!("{} a {kind} {} b USING ({u}) AS ux", g.q(a), g.q(b));
            let sql = match g.rnd(5) {
                0 => format!("SELECT ux.{u}, a.{ca} FROM {join}"),
                1 => format!("SELECT ux.* FROM {join}"),
                2 => format!("SELECT ux, b.* FROM {join}"),
                3 => format!("SELECT {u} FROM ({join}) AS j WHERE j.{u} IS NOT NULL"),
                _ => format!(
                    "SELECT ux.{ca} FROM {} ux WHERE EXISTS (SELECT 1 FROM {join} WHERE ux.{u} IS NOT NULL)",
                    g.q(a)
                ),
            };
            sel(sql, vec![a, b])
        }),
    ]
}

/// The corpus: every template instantiated until it gives `per_template`
/// distinct statements (or runs out of variations).
pub fn corpus(per_template: usize) -> Vec<Case> {
    let mut g = Gen {
        tables: tables(),
        seed: 0x9E37_79B9_7F4A_7C15,
        n: 0,
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (name, tpl) in templates() {
        let mut made = 0;
        for _ in 0..per_template * 20 {
            if made == per_template {
                break;
            }
            let Some((sql, exec, tables, writes)) = tpl(&mut g) else {
                continue;
            };
            // Distinct up to generated numbers (so a template cannot reach its
            // quota by varying only a literal).
            let shape: String = sql.chars().filter(|c| !c.is_ascii_digit()).collect();
            if !seen.insert(shape) {
                continue;
            }
            made += 1;
            out.push(Case {
                template: name,
                sql,
                exec,
                tables: tables.into_iter().collect(),
                writes: writes.into_iter().collect(),
            });
        }
    }
    out
}

/// The template names (every construct of the corpus).
pub fn template_names() -> Vec<&'static str> {
    templates().into_iter().map(|t| t.0).collect()
}
