//! Reads the catalog from a live server (`--database-url`): read-only
//! queries against `pg_catalog` that rebuild every object's definition with
//! the server's own deparsers (`pg_get_viewdef`, `pg_get_functiondef`,
//! `pg_get_triggerdef`, `pg_get_indexdef`, `pg_get_constraintdef`,
//! `pg_get_ruledef`, `pg_get_statisticsobjdef`, policy and publication
//! expressions), fed through the same loader as a `pg_dump` file; plus the
//! per-role `search_path` settings.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::Duration;

use postgres::{Client, Config, NoTls};

use crate::analyze::load_schema;
use crate::catalog::Catalog;

/// Why the live catalog could not be read. Never carries the password.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The URL does not parse.
    #[error("--database-url: not a valid connection URL or string ({0})")]
    Url(String),
    /// TLS could not be set up.
    #[error("--database-url {target}: cannot set up TLS ({reason})")]
    Tls {
        /// `user@host:port/db`.
        target: String,
        /// Why.
        reason: String,
    },
    /// Connecting or querying failed.
    #[error("--database-url {target}: {reason}")]
    Server {
        /// `user@host:port/db`.
        target: String,
        /// The server's or the driver's message.
        reason: String,
    },
}

/// `user@host:port/dbname` of a config: what errors may show.
fn describe(cfg: &Config) -> String {
    let user = cfg.get_user().unwrap_or("?");
    let host = cfg
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(s) => s.clone(),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "?".into());
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    let db = cfg.get_dbname().unwrap_or(user);
    format!("{user}@{host}:{port}/{db}")
}

/// Removes the password from a driver message, should it contain it.
fn scrub(msg: &str, cfg: &Config) -> String {
    match cfg.get_password() {
        Some(p) if !p.is_empty() => {
            let p = String::from_utf8_lossy(p);
            msg.replace(p.as_ref(), "********")
        }
        _ => msg.to_string(),
    }
}

/// A driver error with its cause (the server's message, or the I/O error).
fn reason(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// Removes a password written in `url` (`scheme://user:PASSWORD@…` or
/// `password=PASSWORD`) from `msg`.
fn scrub_url_password(msg: &str, url: &str) -> String {
    let mut secrets = Vec::new();
    if let Some((_, rest)) = url.split_once("://") {
        if let Some((userinfo, _)) = rest.split_once('@') {
            if let Some((_, pw)) = userinfo.split_once(':') {
                secrets.push(pw.to_string());
            }
        }
    }
    for part in url.split_whitespace() {
        if let Some(pw) = part.strip_prefix("password=") {
            secrets.push(pw.trim_matches('\'').to_string());
        }
    }
    let mut out = msg.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), "********");
    }
    out
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn qname(schema: &str, name: &str) -> String {
    format!("{}.{}", quote(schema), quote(name))
}

/// Connects with TLS as the URL's `sslmode`/`sslrootcert` ask (libpq's
/// meanings, see [`crate::db_tls`]), read-only with a statement timeout.
pub fn connect(url: &str) -> Result<(Client, String), LiveError> {
    let (driver_url, tls) =
        crate::db_tls::split(url).map_err(|e| LiveError::Url(scrub_url_password(&e, url)))?;
    let cfg = Config::from_str(&driver_url)
        .map_err(|e| LiveError::Url(scrub_url_password(&e.to_string(), url)))?;
    let target = describe(&cfg);
    let mut cfg = cfg;
    cfg.connect_timeout(Duration::from_secs(30));
    cfg.options("-c default_transaction_read_only=on -c statement_timeout=60000");
    let server = |e: postgres::Error| LiveError::Server {
        target: target.clone(),
        reason: scrub(&reason(&e), &cfg),
    };
    let tls_err = |reason: String| LiveError::Tls {
        target: target.clone(),
        reason,
    };
    let plan = tls.plan().map_err(tls_err)?;
    let client = match crate::db_tls::connector(&plan).map_err(tls_err)? {
        None => cfg.connect(NoTls).map_err(server)?,
        Some(connector) => cfg
            .connect(postgres_native_tls::MakeTlsConnector::new(connector))
            .map_err(server)?,
    };
    Ok((client, target))
}

const USER_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";

/// Reads the catalog of the database `url` names.
pub fn load(url: &str) -> Result<Catalog, LiveError> {
    let (mut client, target) = connect(url)?;
    let err = |e: postgres::Error| LiveError::Server {
        target: target.clone(),
        reason: reason(&e),
    };
    // Names in deparsed definitions come out schema-qualified, as pg_dump's.
    client
        .batch_execute(
            "SET search_path = pg_catalog; SET default_transaction_read_only = on; BEGIN READ ONLY",
        )
        .map_err(err)?;
    let mut problems = Vec::new();
    let ddl = definitions(&mut client, &mut problems).map_err(err)?;
    let settings = role_settings(&mut client).map_err(err)?;
    let links = inheritance(&mut client).map_err(err)?;
    let _ = client.batch_execute("ROLLBACK");
    let mut catalog = load_schema(&ddl);
    links.apply(&mut catalog);
    catalog.problems.extend(problems);
    for ((role, db), path) in &settings {
        let who = match (role.as_str(), db.as_str()) {
            ("", "") => "every role".to_string(),
            ("", d) => format!("database {d}"),
            (r, "") => format!("role {r}"),
            (r, d) => format!("role {r} in database {d}"),
        };
        catalog.problems.push(format!(
            "{who} has its own search_path ({}); its statements are resolved with it",
            path.join(", ")
        ));
    }
    catalog.role_search_paths = settings;
    Ok(catalog)
}

/// Reads `pg_stat_statements` directly, with role and database names.
/// Returns the input's name (`pg_stat_statements@user@host:port/db`, no
/// password) and one row per entry, ordered by database, role and query id.
pub fn read_stats(url: &str) -> Result<(String, Vec<crate::input::StatsRow>), LiveError> {
    let (mut client, target) = connect(url)?;
    let err = |e: postgres::Error| LiveError::Server {
        target: target.clone(),
        reason: reason(&e),
    };
    client
        .batch_execute("SET search_path = pg_catalog; BEGIN READ ONLY")
        .map_err(err)?;
    let with_toplevel = "SELECT r.rolname::text, d.datname::text, s.query, s.calls, s.toplevel \
         FROM public.pg_stat_statements s \
         LEFT JOIN pg_roles r ON r.oid = s.userid LEFT JOIN pg_database d ON d.oid = s.dbid \
         ORDER BY d.datname, r.rolname, s.queryid, s.toplevel";
    let rows = match client.query(with_toplevel, &[]) {
        Ok(rows) => rows,
        Err(_) => {
            // Before PostgreSQL 14 there is no `toplevel`; or the extension
            // lives in another schema: try the unqualified name.
            client
                .batch_execute("ROLLBACK; SET search_path = \"$user\", public; BEGIN READ ONLY")
                .map_err(err)?;
            client
                .query(
                    "SELECT r.rolname::text, d.datname::text, s.query, s.calls, NULL::bool \
                     FROM pg_stat_statements s \
                     LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.userid \
                     LEFT JOIN pg_catalog.pg_database d ON d.oid = s.dbid \
                     ORDER BY d.datname, r.rolname, s.queryid",
                    &[],
                )
                .map_err(err)?
        }
    };
    let _ = client.batch_execute("ROLLBACK");
    let out = rows
        .iter()
        .enumerate()
        .map(|(i, r)| crate::input::StatsRow {
            line: i as u64 + 1,
            query: r.get(2),
            calls: u64::try_from(r.get::<_, i64>(3)).unwrap_or(0),
            user: r.get(0),
            database: r.get(1),
            toplevel: r.get(4),
        })
        .collect();
    Ok((format!("pg_stat_statements@{target}"), out))
}

/// The definitions, in an order the loader can follow (tables, then views
/// in dependency order, then everything else).
fn definitions(client: &mut Client, problems: &mut Vec<String>) -> Result<String, postgres::Error> {
    let mut out = String::new();
    // Tables and their columns (generated expressions and defaults).
    let rels = client.query(
        &format!(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text, \
             CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm') AND {USER_SCHEMAS} \
             AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass \
                             AND e.objid = c.oid AND e.deptype = 'e') \
             ORDER BY n.nspname, c.relname"
        ),
        &[],
    )?;
    let cols = client.query(
        &format!(
            "SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod), \
             a.attgenerated::text, pg_get_expr(d.adbin, d.adrelid) \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f') \
             AND {USER_SCHEMAS} ORDER BY a.attrelid, a.attnum"
        ),
        &[],
    )?;
    let mut by_rel: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for r in &cols {
        let oid: u32 = r.get(0);
        let name: String = r.get(1);
        let ty: String = r.get(2);
        let generated: String = r.get(3);
        let expr: Option<String> = r.get(4);
        let mut def = format!("{} {ty}", quote(&name));
        if let Some(e) = expr {
            if generated == "s" {
                def.push_str(&format!(" GENERATED ALWAYS AS ({e}) STORED"));
            } else {
                def.push_str(&format!(" DEFAULT {e}"));
            }
        }
        by_rel.entry(oid).or_default().push(def);
    }
    let mut views: Vec<(u32, String, String, String)> = Vec::new();
    for r in &rels {
        let oid: u32 = r.get(0);
        let schema: String = r.get(1);
        let name: String = r.get(2);
        let kind: String = r.get(3);
        match kind.as_str() {
            "v" | "m" => views.push((oid, schema, name, kind)),
            _ => {
                let cols = by_rel.remove(&oid).unwrap_or_default();
                let key: Option<String> = r.get(4);
                out.push_str(&format!(
                    "CREATE TABLE {} (\n    {}\n){};\n",
                    qname(&schema, &name),
                    cols.join(",\n    "),
                    key.map(|k| format!("\nPARTITION BY {k}"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    // Views in dependency order.
    let deps = client.query(
        "SELECT DISTINCT r.ev_class, d.refobjid FROM pg_depend d \
         JOIN pg_rewrite r ON r.oid = d.objid \
         WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass \
         AND d.refobjid <> r.ev_class",
        &[],
    )?;
    let mut needs: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for d in &deps {
        needs.entry(d.get(0)).or_default().insert(d.get(1));
    }
    let view_oids: BTreeSet<u32> = views.iter().map(|v| v.0).collect();
    let mut done: BTreeSet<u32> = BTreeSet::new();
    let mut pending = views;
    while !pending.is_empty() {
        let before = pending.len();
        let mut rest = Vec::new();
        for v in pending {
            let ready = needs.get(&v.0).is_none_or(|n| {
                n.iter()
                    .all(|d| !view_oids.contains(d) || done.contains(d) || *d == v.0)
            });
            if ready {
                let def: String = client
                    .query_one("SELECT pg_get_viewdef($1::oid)", &[&v.0])?
                    .get(0);
                let def = def.trim().trim_end_matches(';');
                if v.3 == "m" {
                    out.push_str(&format!(
                        "CREATE MATERIALIZED VIEW {} AS\n{def}\nWITH NO DATA;\n",
                        qname(&v.1, &v.2)
                    ));
                } else {
                    out.push_str(&format!("CREATE VIEW {} AS\n{def};\n", qname(&v.1, &v.2)));
                }
                done.insert(v.0);
            } else {
                rest.push(v);
            }
        }
        if rest.len() == before {
            // A cycle (not possible for views): keep oid order.
            for v in &rest {
                problems.push(format!(
                    "view {}.{}: dependency order unknown; loaded last",
                    v.1, v.2
                ));
            }
            for v in rest {
                let def: String = client
                    .query_one("SELECT pg_get_viewdef($1::oid)", &[&v.0])?
                    .get(0);
                out.push_str(&format!(
                    "CREATE VIEW {} AS\n{};\n",
                    qname(&v.1, &v.2),
                    def.trim().trim_end_matches(';')
                ));
            }
            break;
        }
        pending = rest;
    }
    // One definition per row; a query the server does not support (older
    // versions) is noted, not fatal.
    let single = |client: &mut Client,
                  problems: &mut Vec<String>,
                  what: &str,
                  sql: &str,
                  out: &mut String| {
        match client.query(sql, &[]) {
            Ok(rows) => {
                for r in rows {
                    let d: Option<String> = r.get(0);
                    if let Some(d) = d {
                        out.push_str(d.trim().trim_end_matches(';'));
                        out.push_str(";\n");
                    }
                }
            }
            Err(e) => {
                problems.push(format!("live catalog: {what} not read ({})", reason(&e)));
                let _ = client.batch_execute("ROLLBACK; BEGIN READ ONLY");
            }
        }
    };
    single(
        client,
        problems,
        "functions",
        &format!(
            "SELECT pg_get_functiondef(p.oid) FROM pg_proc p \
             JOIN pg_namespace n ON n.oid = p.pronamespace \
             JOIN pg_language l ON l.oid = p.prolang \
             WHERE p.prokind IN ('f', 'p') AND l.lanname NOT IN ('c', 'internal') AND {USER_SCHEMAS} \
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass \
                             AND d.objid = p.oid AND d.deptype = 'e') \
             ORDER BY n.nspname, p.proname, p.oid"
        ),
        &mut out,
    );
    // Domains with their CHECK constraints (what writing a column of one
    // runs).
    single(
        client,
        problems,
        "domains",
        &format!(
            "SELECT format('CREATE DOMAIN %I.%I AS %s %s', n.nspname, t.typname, \
                    format_type(t.typbasetype, t.typtypmod), \
                    coalesce(string_agg(pg_get_constraintdef(k.oid), ' ' ORDER BY k.conname), '')) \
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
             LEFT JOIN pg_constraint k ON k.contypid = t.oid AND k.contype = 'c' \
             WHERE t.typtype = 'd' AND {USER_SCHEMAS} \
             GROUP BY n.nspname, t.typname, t.typbasetype, t.typtypmod \
             ORDER BY n.nspname, t.typname"
        ),
        &mut out,
    );
    single(
        client,
        problems,
        "constraints",
        &format!(
            "SELECT format('ALTER TABLE ONLY %I.%I ADD CONSTRAINT %I %s', n.nspname, c.relname, \
                    k.conname, pg_get_constraintdef(k.oid)) \
             FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE k.contype IN ('c', 'f', 'p', 'u', 'x') AND {USER_SCHEMAS} \
             ORDER BY n.nspname, c.relname, k.conname"
        ),
        &mut out,
    );
    single(
        client,
        problems,
        "indexes",
        &format!(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {USER_SCHEMAS} AND NOT EXISTS (SELECT 1 FROM pg_constraint k \
                 WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x')) \
             ORDER BY n.nspname, c.relname"
        ),
        &mut out,
    );
    single(
        client,
        problems,
        "triggers",
        &format!(
            "SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t \
             JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE NOT t.tgisinternal AND {USER_SCHEMAS} \
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_trigger'::regclass \
                             AND d.objid = t.oid AND d.deptype = 'P') \
             ORDER BY n.nspname, c.relname, t.tgname"
        ),
        &mut out,
    );
    single(
        client,
        problems,
        "policies",
        &format!(
            "SELECT format('CREATE POLICY %I ON %I.%I', p.polname, n.nspname, c.relname) \
                    || coalesce(' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')', '') \
                    || coalesce(' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')', '') \
             FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE {USER_SCHEMAS} ORDER BY n.nspname, c.relname, p.polname"
        ),
        &mut out,
    );
    single(
        client,
        problems,
        "rules",
        &format!(
            "SELECT pg_get_ruledef(r.oid) FROM pg_rewrite r \
             JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE r.rulename <> '_RETURN' AND {USER_SCHEMAS} ORDER BY n.nspname, c.relname, r.rulename"
        ),
        &mut out,
    );
    single(
        client,
        problems,
        "column grants",
        &format!(
            "SELECT format('GRANT %s (%I) ON TABLE %I.%I TO %s', x.privilege_type, a.attname, \
                    n.nspname, c.relname, \
                    CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x.grantee)) END) \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             CROSS JOIN LATERAL aclexplode(a.attacl) x \
             WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND {USER_SCHEMAS} \
             ORDER BY 1"
        ),
        &mut out,
    );
    single(
        client,
        problems,
        "extended statistics",
        "SELECT pg_get_statisticsobjdef(s.oid) FROM pg_statistic_ext s \
         JOIN pg_namespace n ON n.oid = s.stxnamespace \
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
        &mut out,
    );
    single(
        client,
        problems,
        "publications",
        "SELECT format('ALTER PUBLICATION %I ADD TABLE ONLY %I.%I', p.pubname, n.nspname, c.relname) \
                || coalesce(' (' || (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) \
                                     FROM pg_attribute a WHERE a.attrelid = pr.prrelid \
                                     AND a.attnum = ANY (pr.prattrs::int2[])) || ')', '') \
                || coalesce(' WHERE (' || pg_get_expr(pr.prqual, pr.prrelid) || ')', '') \
         FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid \
         JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         ORDER BY 1",
        &mut out,
    );
    Ok(out)
}

/// `(schema, name)`.
type QualifiedName = (String, String);

/// Inheritance and partitioning: each table's parents (`pg_inherits`, in
/// `inhseqno` order) and the columns it does not declare itself
/// (`attislocal` false).
#[derive(Default)]
struct Links {
    /// Per table: its parents, and whether it is a partition.
    parents: BTreeMap<QualifiedName, (Vec<QualifiedName>, bool)>,
    inherited: BTreeMap<(String, String), Vec<String>>,
}

impl Links {
    fn apply(self, catalog: &mut Catalog) {
        for ((s, n), (parents, partition)) in self.parents {
            if let Some(r) = catalog.get_mut(&s, &n) {
                r.parents = parents;
                r.partition = partition;
            }
        }
        for ((s, n), cols) in self.inherited {
            if let Some(r) = catalog.get_mut(&s, &n) {
                r.inherited = cols;
            }
        }
    }
}

fn inheritance(client: &mut Client) -> Result<Links, postgres::Error> {
    let mut links = Links::default();
    let rows = client.query(
        "SELECT cn.nspname::text, c.relname::text, pn.nspname::text, p.relname::text, \
         c.relispartition FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace \
         JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'f') ORDER BY cn.nspname, c.relname, i.inhseqno",
        &[],
    )?;
    for r in rows {
        let e = links
            .parents
            .entry((r.get(0), r.get(1)))
            .or_insert_with(|| (Vec::new(), false));
        e.0.push((r.get(2), r.get(3)));
        e.1 |= r.get::<_, bool>(4);
    }
    let rows = client.query(
        &format!(
            "SELECT n.nspname::text, c.relname::text, a.attname::text FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE a.attnum > 0 AND NOT a.attisdropped AND NOT a.attislocal \
             AND c.relkind IN ('r', 'p', 'f') AND {USER_SCHEMAS} ORDER BY a.attrelid, a.attnum"
        ),
        &[],
    )?;
    for r in rows {
        links
            .inherited
            .entry((r.get(0), r.get(1)))
            .or_default()
            .push(r.get(2));
    }
    Ok(links)
}

/// `search_path` set per role (and database) with `ALTER ROLE … SET`.
fn role_settings(
    client: &mut Client,
) -> Result<BTreeMap<(String, String), Vec<String>>, postgres::Error> {
    let rows = client.query(
        "SELECT coalesce(r.rolname::text, ''), coalesce(d.datname::text, ''), s.setconfig \
         FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole \
         LEFT JOIN pg_database d ON d.oid = s.setdatabase",
        &[],
    )?;
    let mut out = BTreeMap::new();
    for r in rows {
        let role: String = r.get(0);
        let db: String = r.get(1);
        let config: Vec<String> = r.get(2);
        for c in config {
            if let Some(v) = c.strip_prefix("search_path=") {
                out.insert(
                    (role.clone(), db.clone()),
                    crate::config::parse_search_path(v),
                );
            }
        }
    }
    Ok(out)
}
