//! Schema objects other than tables and views, from a schema dump: functions
//! and procedures (bodies analysed), triggers, row-level security policies,
//! constraints, indexes, generated columns and defaults, column grants,
//! extended statistics, publications with column lists, and rules; each
//! resolved to the columns it uses, with what `DROP COLUMN` does to it.

use serde_json::Value;

use super::parse::{self, consts};
use super::plpgsql::{analyze_routine, analyze_trigger_routine, own_search_path, RoutineScope};
use super::resolve::{ColSel, ColumnUse, Resolver};
use super::tree::{field, int, list, names, node, text};
use crate::catalog::{Catalog, ObjectUse, Routine, Trigger};
use crate::inventory::OnDrop;

/// Statements kept until every table is known (pg_dump writes functions
/// before tables, and constraints after them).
#[derive(Default)]
pub struct Pending {
    stmts: Vec<(String, Value, String)>,
}

impl Pending {
    /// Keeps a statement of a kind this module handles; false otherwise.
    pub fn offer(&mut self, kind: &str, n: &Value, text: &str) -> bool {
        let wanted = matches!(
            kind,
            "CreateFunctionStmt"
                | "CreateTrigStmt"
                | "CreatePolicyStmt"
                | "AlterTableStmt"
                | "IndexStmt"
                | "GrantStmt"
                | "CreateStatsStmt"
                | "CreatePublicationStmt"
                | "AlterPublicationStmt"
                | "RuleStmt"
                | "CreateStmt"
                | "CreateDomainStmt"
        );
        if wanted {
            self.stmts
                .push((kind.to_string(), n.clone(), text.to_string()));
        }
        wanted
    }

    /// Resolves the kept statements against the finished table list.
    pub fn finish(self, catalog: &mut Catalog, search_path: &[String]) {
        // Routines first: triggers need them.
        for (kind, n, text) in &self.stmts {
            if kind == "CreateFunctionStmt" {
                let r = routine(n, text, catalog, search_path);
                catalog
                    .routines
                    .entry((r.schema.clone(), r.name.clone()))
                    .or_default()
                    .push(r);
            }
        }
        let mut objects = Vec::new();
        for (kind, n, _) in &self.stmts {
            match kind.as_str() {
                "CreateTrigStmt" => {
                    let t = trigger(n, catalog, search_path);
                    catalog.triggers.push(t);
                }
                "CreateStmt" => create_table(n, catalog, search_path, &mut objects),
                "AlterTableStmt" => alter_table(n, catalog, search_path, &mut objects),
                "CreatePolicyStmt" => policy(n, catalog, search_path, &mut objects),
                "IndexStmt" => index(n, catalog, search_path, &mut objects),
                "GrantStmt" => grant(n, catalog, search_path, &mut objects),
                "CreateStatsStmt" => statistics(n, catalog, search_path, &mut objects),
                "CreatePublicationStmt" | "AlterPublicationStmt" => {
                    publication(n, catalog, search_path, &mut objects)
                }
                "RuleStmt" => rule(n, catalog, search_path, &mut objects),
                _ => {}
            }
        }
        let mut domains = std::collections::BTreeMap::new();
        for (kind, n, _) in &self.stmts {
            if kind == "CreateDomainStmt" {
                domain_checks(n, catalog, search_path, &mut domains);
            }
        }
        let mut defaults = Vec::new();
        for (kind, n, _) in &self.stmts {
            column_defaults(kind, n, catalog, search_path, &domains, &mut defaults);
        }
        catalog.defaults.extend(defaults);
        objects.sort();
        objects.dedup();
        catalog.objects.extend(objects);
        catalog.objects.sort();
        catalog.objects.dedup();
    }
}

/// The calls of a domain's `CHECK` constraints, by `schema.name`.
fn domain_checks(
    n: &Value,
    catalog: &Catalog,
    sp: &[String],
    out: &mut std::collections::BTreeMap<String, Vec<super::plpgsql::Call>>,
) {
    let name = names(list(n, "domainname"));
    let qualified = match name.as_slice() {
        [s, d] => format!("{s}.{d}"),
        [d] => format!("{}.{d}", sp.first().map(String::as_str).unwrap_or("public")),
        _ => return,
    };
    let mut calls = Vec::new();
    for c in list(n, "constraints") {
        if let Some(("Constraint", con)) = node(c) {
            if int(con, "contype") == consts::CONSTR_CHECK {
                calls.extend(super::plpgsql::effects(field(con, "raw_expr"), catalog, sp).0);
            }
        }
    }
    if !calls.is_empty() {
        out.insert(qualified, calls);
    }
}

/// The domain (`schema.name`, of `domains`) a column definition's type is.
fn column_domain(
    cd: &Value,
    sp: &[String],
    domains: &std::collections::BTreeMap<String, Vec<super::plpgsql::Call>>,
) -> Option<String> {
    let t = field(cd, "type_name");
    let n = names(list(t, "names"));
    let candidates: Vec<String> = match n.as_slice() {
        [s, d] => vec![format!("{s}.{d}")],
        [d] => sp.iter().map(|s| format!("{s}.{d}")).collect(),
        _ => Vec::new(),
    };
    candidates.into_iter().find(|c| domains.contains_key(c))
}

/// The defaults among a column definition's constraints.
fn defaults_of_column<'v>(cd: &'v Value, found: &mut Vec<(String, &'v Value)>) {
    let col = text(cd, "colname");
    for c in list(cd, "constraints") {
        if let Some(("Constraint", con)) = node(c) {
            if int(con, "contype") == consts::CONSTR_DEFAULT {
                found.push((col.to_string(), field(con, "raw_expr")));
            }
        }
    }
}

/// The column defaults of a `CREATE TABLE` or `ALTER TABLE … SET
/// DEFAULT`/`ADD COLUMN` that call functions.
fn column_defaults(
    kind: &str,
    n: &Value,
    catalog: &Catalog,
    sp: &[String],
    domains: &std::collections::BTreeMap<String, Vec<super::plpgsql::Call>>,
    out: &mut Vec<crate::catalog::ColumnDefault>,
) {
    if kind != "CreateStmt" && kind != "AlterTableStmt" {
        return;
    }
    let (schema, table) = table_of(field(n, "relation"), catalog, sp);
    let mut found: Vec<(String, &Value)> = Vec::new();
    let mut typed = |cd: &Value| {
        if let Some(d) = column_domain(cd, sp, domains) {
            out.push(crate::catalog::ColumnDefault {
                schema: schema.clone(),
                table: table.clone(),
                column: text(cd, "colname").to_string(),
                calls: domains.get(&d).cloned().unwrap_or_default(),
                domain: Some(d),
            });
        }
    };
    match kind {
        "CreateStmt" => {
            for elt in list(n, "table_elts") {
                if let Some(("ColumnDef", cd)) = node(elt) {
                    defaults_of_column(cd, &mut found);
                    typed(cd);
                }
            }
        }
        "AlterTableStmt" => {
            for cmd in list(n, "cmds") {
                let Some(("AlterTableCmd", c)) = node(cmd) else {
                    continue;
                };
                let sub = int(c, "subtype");
                let def = field(c, "def");
                if sub == consts::AT_COLUMN_DEFAULT && !def.is_null() {
                    found.push((text(c, "name").to_string(), def));
                } else if sub == consts::AT_ADD_COLUMN {
                    if let Some(("ColumnDef", cd)) = node(def) {
                        defaults_of_column(cd, &mut found);
                        typed(cd);
                    }
                }
            }
        }
        _ => {}
    }
    for (column, expr) in found {
        let (calls, _) = super::plpgsql::effects(expr, catalog, sp);
        if !calls.is_empty() {
            out.push(crate::catalog::ColumnDefault {
                schema: schema.clone(),
                table: table.clone(),
                column,
                calls,
                domain: None,
            });
        }
    }
}

/// The table a RangeVar names: its schema, or the catalog's along the
/// search path, or the first search-path schema.
fn table_of(rv: &Value, catalog: &Catalog, search_path: &[String]) -> (String, String) {
    let name = text(rv, "relname").to_string();
    let schema = text(rv, "schemaname");
    if !schema.is_empty() {
        return (schema.to_string(), name);
    }
    if let Some(r) = catalog.lookup(search_path, &name) {
        return (r.schema.clone(), name);
    }
    (
        search_path
            .first()
            .cloned()
            .unwrap_or_else(|| "public".into()),
        name,
    )
}

/// PostgreSQL's display name of a type (`int8` → `bigint`), with `[]`.
fn type_name(t: &Value) -> String {
    let n = names(list(t, "names"));
    let base = n.last().map(String::as_str).unwrap_or("");
    let shown = match base {
        "int8" => "bigint",
        "int4" => "integer",
        "int2" => "smallint",
        "float8" => "double precision",
        "float4" => "real",
        "bool" => "boolean",
        "varchar" => "character varying",
        "bpchar" => "character",
        "timestamptz" => "timestamp with time zone",
        "timestamp" => "timestamp without time zone",
        "timetz" => "time with time zone",
        "time" => "time without time zone",
        other => other,
    };
    let mut s = match n.first() {
        Some(schema) if n.len() > 1 && schema != "pg_catalog" => format!("{schema}.{shown}"),
        _ => shown.to_string(),
    };
    for _ in list(t, "array_bounds") {
        s.push_str("[]");
    }
    s
}

fn routine(n: &Value, text_: &str, catalog: &Catalog, search_path: &[String]) -> Routine {
    let fname = names(list(n, "funcname"));
    let (schema, name) = match fname.as_slice() {
        [s, f] => (s.clone(), f.clone()),
        [f] => (
            search_path
                .first()
                .cloned()
                .unwrap_or_else(|| "public".into()),
            f.clone(),
        ),
        other => (String::new(), other.join(".")),
    };
    let is_procedure = n
        .get("is_procedure")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut args = Vec::new();
    let mut min_args = 0;
    let mut max_args = Some(0usize);
    for p in list(n, "parameters") {
        let Some(("FunctionParameter", fp)) = node(p) else {
            continue;
        };
        let mode = int(fp, "mode");
        if mode == consts::PARAM_TABLE || (mode == consts::PARAM_OUT && !is_procedure) {
            continue;
        }
        let ty = type_name(field(fp, "arg_type"));
        args.push(if mode == consts::PARAM_VARIADIC {
            format!("VARIADIC {ty}")
        } else {
            ty
        });
        if mode == consts::PARAM_VARIADIC {
            max_args = None;
        } else if let Some(m) = max_args.as_mut() {
            *m += 1;
        }
        if field(fp, "defexpr").is_null() && mode != consts::PARAM_VARIADIC {
            min_args += 1;
        }
    }
    let returns_trigger = type_name(field(n, "return_type")) == "trigger";
    let atomic = n.get("sql_body").is_some_and(|b| !b.is_null());
    let analysis = if returns_trigger {
        // Analysed per trigger, with NEW/OLD bound.
        Default::default()
    } else {
        analyze_routine("CreateFunctionStmt", n, text_, catalog, search_path, None)
    };
    Routine {
        identity: format!("{schema}.{name}({})", args.join(", ")),
        schema,
        name,
        kind: if is_procedure {
            "procedure"
        } else {
            "function"
        }
        .into(),
        min_args,
        max_args,
        atomic,
        returns_trigger,
        definition: text_.to_string(),
        analysis,
        search_path: own_search_path(n, search_path),
    }
}

/// `TRIGGER_TYPE_*` bits of `CreateTrigStmt.events`.
const TRIGGER_INSERT: i64 = 1 << 2;
const TRIGGER_DELETE: i64 = 1 << 3;
const TRIGGER_UPDATE: i64 = 1 << 4;
const TRIGGER_TRUNCATE: i64 = 1 << 5;

fn trigger(n: &Value, catalog: &Catalog, search_path: &[String]) -> Trigger {
    let (schema, table) = table_of(field(n, "relation"), catalog, search_path);
    let ev = int(n, "events");
    let mut events = Vec::new();
    for (bit, name) in [
        (TRIGGER_INSERT, "insert"),
        (TRIGGER_UPDATE, "update"),
        (TRIGGER_DELETE, "delete"),
        (TRIGGER_TRUNCATE, "truncate"),
    ] {
        if ev & bit != 0 {
            events.push(name.to_string());
        }
    }
    let when = field(n, "when_clause");
    let scope = RoutineScope::trigger(&schema, &table);
    let when_uses = resolve_expr(when, None, catalog, search_path, Some(&scope));
    let fname = names(list(n, "funcname"));
    let candidates: Vec<&Routine> = match fname.as_slice() {
        [s, f] => catalog
            .routines
            .get(&(s.clone(), f.clone()))
            .map(|v| v.iter().collect())
            .unwrap_or_default(),
        [f] => search_path
            .iter()
            .find_map(|s| catalog.routines.get(&(s.clone(), f.clone())))
            .map(|v| v.iter().collect())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let func = candidates.into_iter().find(|r| r.returns_trigger);
    let own_path = func.and_then(|r| r.search_path.clone());
    // `REFERENCING NEW TABLE AS n OLD TABLE AS o`: relations in the body.
    let transitions: Vec<String> = list(n, "transition_rels")
        .iter()
        .filter_map(|t| match node(t) {
            Some(("TriggerTransition", tt)) => Some(text(tt, "name").to_string()),
            _ => None,
        })
        .filter(|name| !name.is_empty())
        .collect();
    let (function, body, function_identity) = match func {
        Some(r) => {
            let body = parse::parse(&r.definition).ok().and_then(|mut s| {
                let st = s.pop()?;
                let (kind, fnode) = node(&st.tree)?;
                Some(analyze_trigger_routine(
                    kind,
                    fnode,
                    &st.text,
                    catalog,
                    search_path,
                    Some((&schema, &table)),
                    &transitions,
                ))
            });
            (
                Some((r.schema.clone(), r.name.clone())),
                body,
                r.identity.clone(),
            )
        }
        None => (None, None, format!("{}()", fname.join("."))),
    };
    Trigger {
        name: text(n, "trigname").to_string(),
        schema,
        table,
        events,
        update_of: names(list(n, "columns")),
        when_uses,
        has_when: !when.is_null(),
        row: n.get("row").and_then(Value::as_bool).unwrap_or(false),
        function,
        body,
        function_identity,
        search_path: own_path,
        transitions,
    }
}

/// Resolves an expression over one table (`table`: CHECK, index, policy,
/// generated column …) or over the trigger records of `scope` (WHEN, rule
/// qualifications), subqueries included. An absent expression uses nothing.
fn resolve_expr(
    expr: &Value,
    table: Option<(&str, &str)>,
    catalog: &Catalog,
    search_path: &[String],
    scope: Option<&RoutineScope>,
) -> Vec<ColumnUse> {
    if expr.is_null() {
        return Vec::new();
    }
    let sql = match table {
        Some((s, t)) => format!("SELECT 1 FROM {}.{}", quote(s), quote(t)),
        None => "SELECT 1".to_string(),
    };
    let Ok(mut stmts) = parse::parse(&sql) else {
        return Vec::new();
    };
    let Some(st) = stmts.pop() else {
        return Vec::new();
    };
    let mut tree = st.tree;
    if let Some(t) = tree.pointer_mut("/node/SelectStmt/target_list/0/node/ResTarget/val") {
        *t = expr.clone();
    }
    let mut r = Resolver::new(catalog, search_path);
    r.routine = scope;
    r.statement_node(&tree);
    r.uses
}

/// The column uses of an expression over `table` (a partition key's).
pub(super) fn resolve_table_expr(
    expr: &Value,
    table: (&str, &str),
    catalog: &Catalog,
    search_path: &[String],
) -> Vec<ColumnUse> {
    resolve_expr(expr, Some(table), catalog, search_path, None)
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// One schema object whose column uses are being recorded: its name and
/// type, and where the uses go.
struct Obj<'o> {
    out: &'o mut Vec<ObjectUse>,
    object: String,
    object_type: &'static str,
}

impl<'o> Obj<'o> {
    fn new(out: &'o mut Vec<ObjectUse>, object: String, object_type: &'static str) -> Self {
        Obj {
            out,
            object,
            object_type,
        }
    }

    fn push(
        &mut self,
        (schema, table): (&str, &str),
        column: Option<String>,
        on_drop: OnDrop,
        detail: &str,
    ) {
        self.out.push(ObjectUse {
            object: self.object.clone(),
            object_type: self.object_type.to_string(),
            schema: schema.to_string(),
            table: table.to_string(),
            column,
            on_drop,
            detail: detail.to_string(),
        });
    }

    /// Named columns of `table`.
    fn columns(&mut self, table: (&str, &str), columns: &[String], on_drop: OnDrop, detail: &str) {
        for c in columns {
            self.push(table, Some(c.clone()), on_drop, detail);
        }
    }

    /// A column named in the node's `name` field (index and statistics
    /// elements name either a column or an expression).
    fn named(&mut self, table: (&str, &str), elem: &Value, on_drop: OnDrop, detail: &str) {
        let name = text(elem, "name");
        if !name.is_empty() {
            self.push(table, Some(name.to_string()), on_drop, detail);
        }
    }

    /// Resolved column uses (a whole-row or `*` use has no column).
    fn uses(&mut self, uses: &[ColumnUse], on_drop: OnDrop, detail: &str) {
        for u in uses {
            let column = match &u.column {
                ColSel::Named(c) => Some(c.clone()),
                _ => None,
            };
            self.push((&u.schema, &u.table), column, on_drop, detail);
        }
    }
}

fn create_table(n: &Value, catalog: &Catalog, sp: &[String], out: &mut Vec<ObjectUse>) {
    let (schema, table) = table_of(field(n, "relation"), catalog, sp);
    for elt in list(n, "table_elts") {
        match node(elt) {
            Some(("ColumnDef", cd)) => {
                let col = text(cd, "colname");
                for c in list(cd, "constraints") {
                    if let Some(("Constraint", con)) = node(c) {
                        constraint(con, (&schema, &table), Some(col), catalog, sp, out);
                    }
                }
            }
            Some(("Constraint", con)) => {
                constraint(con, (&schema, &table), None, catalog, sp, out);
            }
            _ => {}
        }
    }
}

fn alter_table(n: &Value, catalog: &Catalog, sp: &[String], out: &mut Vec<ObjectUse>) {
    let (schema, table) = table_of(field(n, "relation"), catalog, sp);
    for cmd in list(n, "cmds") {
        let Some(("AlterTableCmd", c)) = node(cmd) else {
            continue;
        };
        let sub = int(c, "subtype");
        let def = field(c, "def");
        if sub == consts::AT_ADD_CONSTRAINT {
            if let Some(("Constraint", con)) = node(def) {
                constraint(con, (&schema, &table), None, catalog, sp, out);
            }
        } else if sub == consts::AT_COLUMN_DEFAULT && !def.is_null() {
            let col = text(c, "name");
            default_of(def, (&schema, &table), col, catalog, sp, out);
        } else if sub == consts::AT_ADD_COLUMN {
            if let Some(("ColumnDef", cd)) = node(def) {
                let col = text(cd, "colname");
                for k in list(cd, "constraints") {
                    if let Some(("Constraint", con)) = node(k) {
                        constraint(con, (&schema, &table), Some(col), catalog, sp, out);
                    }
                }
            }
        }
    }
}

fn default_of(
    expr: &Value,
    (schema, table): (&str, &str),
    col: &str,
    catalog: &Catalog,
    sp: &[String],
    out: &mut Vec<ObjectUse>,
) {
    let mut o = Obj::new(out, format!("{schema}.{table}.{col}"), "default");
    o.columns(
        (schema, table),
        &[col.to_string()],
        OnDrop::Dropped,
        "the column's default (an owned sequence is dropped too)",
    );
    let uses = resolve_expr(expr, Some((schema, table)), catalog, sp, None);
    o.uses(&uses, OnDrop::Dropped, "used in the default");
}

fn constraint(
    con: &Value,
    (schema, table): (&str, &str),
    column: Option<&str>,
    catalog: &Catalog,
    sp: &[String],
    out: &mut Vec<ObjectUse>,
) {
    let ty = int(con, "contype");
    let conname = text(con, "conname");
    let here = (schema, table);
    let own = |explicit: Vec<String>| -> Vec<String> {
        if explicit.is_empty() {
            column.map(|c| vec![c.to_string()]).unwrap_or_default()
        } else {
            explicit
        }
    };
    let object = if conname.is_empty() {
        format!("{} on {schema}.{table}", column.unwrap_or("constraint"))
    } else {
        format!("{conname} on {schema}.{table}")
    };
    match ty {
        x if x == consts::CONSTR_DEFAULT => {
            if let Some(col) = column {
                default_of(field(con, "raw_expr"), here, col, catalog, sp, out);
            }
        }
        x if x == consts::CONSTR_GENERATED => {
            if let Some(col) = column {
                let uses = resolve_expr(field(con, "raw_expr"), Some(here), catalog, sp, None);
                Obj::new(out, format!("{schema}.{table}.{col}"), "generated_column").uses(
                    &uses,
                    OnDrop::Blocked,
                    "used in the generation expression",
                );
            }
        }
        x if x == consts::CONSTR_CHECK => {
            let uses = resolve_expr(field(con, "raw_expr"), Some(here), catalog, sp, None);
            Obj::new(out, object, "check_constraint").uses(
                &uses,
                OnDrop::Dropped,
                "used in the CHECK expression",
            );
        }
        x if x == consts::CONSTR_PRIMARY || x == consts::CONSTR_UNIQUE => {
            let kind = if x == consts::CONSTR_PRIMARY {
                "primary_key"
            } else {
                "unique_constraint"
            };
            let keys = own(names(list(con, "keys")));
            let mut o = Obj::new(out, object, kind);
            o.columns(
                here,
                &keys,
                OnDrop::Dropped,
                if keys.len() > 1 {
                    "key column (the uniqueness of the other key columns goes with it)"
                } else {
                    "key column"
                },
            );
            o.columns(
                here,
                &names(list(con, "including")),
                OnDrop::Dropped,
                "INCLUDE column of its index",
            );
        }
        x if x == consts::CONSTR_EXCLUSION => {
            let uses = resolve_expr(field(con, "where_clause"), Some(here), catalog, sp, None);
            let mut o = Obj::new(out, object, "exclusion_constraint");
            o.uses(&uses, OnDrop::Dropped, "used in the predicate");
            for e in list(con, "exclusions") {
                if let Some(("List", l)) = node(e) {
                    if let Some(("IndexElem", ie)) = list(l, "items").first().and_then(node) {
                        o.named(here, ie, OnDrop::Dropped, "key column");
                    }
                }
            }
        }
        x if x == consts::CONSTR_FOREIGN => {
            let mut o = Obj::new(out, object, "foreign_key");
            o.columns(
                here,
                &own(names(list(con, "fk_attrs"))),
                OnDrop::Dropped,
                "referencing column",
            );
            let (ps, pt) = table_of(field(con, "pktable"), catalog, sp);
            let mut pk = names(list(con, "pk_attrs"));
            if pk.is_empty() {
                pk = primary_key_of(catalog, &ps, &pt);
            }
            o.columns(
                (&ps, &pt),
                &pk,
                OnDrop::Blocked,
                "referenced column (its unique key cannot go while the foreign key needs it)",
            );
        }
        _ => {}
    }
}

/// A referenced table's primary key is not in the catalog's relations; a
/// foreign key without a column list references it. Unknown: empty.
fn primary_key_of(catalog: &Catalog, schema: &str, table: &str) -> Vec<String> {
    let mut v: Vec<String> = catalog
        .objects
        .iter()
        .filter(|o| o.object_type == "primary_key" && o.schema == schema && o.table == table)
        .filter_map(|o| o.column.clone())
        .collect();
    v.dedup();
    v
}

fn policy(n: &Value, catalog: &Catalog, sp: &[String], out: &mut Vec<ObjectUse>) {
    let (schema, table) = table_of(field(n, "table"), catalog, sp);
    let object = format!("{} on {schema}.{table}", text(n, "policy_name"));
    let mut o = Obj::new(out, object, "policy");
    for (f, what) in [("qual", "USING"), ("with_check", "WITH CHECK")] {
        let uses = resolve_expr(field(n, f), Some((&schema, &table)), catalog, sp, None);
        o.uses(
            &uses,
            OnDrop::Blocked,
            &format!("used in the policy's {what} expression"),
        );
    }
}

fn index(n: &Value, catalog: &Catalog, sp: &[String], out: &mut Vec<ObjectUse>) {
    let rv = field(n, "relation");
    let (schema, table) = table_of(rv, catalog, sp);
    let here = (schema.as_str(), table.as_str());
    let idx_schema = if text(rv, "schemaname").is_empty() {
        schema.clone()
    } else {
        text(rv, "schemaname").to_string()
    };
    let mut o = Obj::new(out, format!("{idx_schema}.{}", text(n, "idxname")), "index");
    for (lst, what) in [
        ("index_params", "key"),
        ("index_including_params", "INCLUDE column"),
    ] {
        for e in list(n, lst) {
            let Some(("IndexElem", ie)) = node(e) else {
                continue;
            };
            o.named(here, ie, OnDrop::Dropped, &format!("index {what}"));
            let uses = resolve_expr(field(ie, "expr"), Some(here), catalog, sp, None);
            o.uses(&uses, OnDrop::Dropped, "used in an index expression");
        }
    }
    let uses = resolve_expr(field(n, "where_clause"), Some(here), catalog, sp, None);
    o.uses(
        &uses,
        OnDrop::Dropped,
        "used in the partial-index predicate",
    );
}

fn grant(n: &Value, catalog: &Catalog, sp: &[String], out: &mut Vec<ObjectUse>) {
    if !n.get("is_grant").and_then(Value::as_bool).unwrap_or(false) {
        return;
    }
    let grantees: Vec<String> = list(n, "grantees")
        .iter()
        .filter_map(|g| match node(g) {
            Some(("RoleSpec", r)) => Some(match text(r, "rolename") {
                "" => "PUBLIC".to_string(),
                name => name.to_string(),
            }),
            _ => None,
        })
        .collect();
    for obj in list(n, "objects") {
        let Some(("RangeVar", rv)) = node(obj) else {
            continue;
        };
        let (schema, table) = table_of(rv, catalog, sp);
        for p in list(n, "privileges") {
            let Some(("AccessPriv", ap)) = node(p) else {
                continue;
            };
            let cols = names(list(ap, "cols"));
            if cols.is_empty() {
                continue;
            }
            let privilege = text(ap, "priv_name").to_ascii_uppercase();
            for c in &cols {
                let object = format!(
                    "{privilege} ({c}) on {schema}.{table} to {}",
                    grantees.join(", ")
                );
                Obj::new(out, object, "column_grant").columns(
                    (&schema, &table),
                    std::slice::from_ref(c),
                    OnDrop::Dropped,
                    "column privilege",
                );
            }
        }
    }
}

fn statistics(n: &Value, catalog: &Catalog, sp: &[String], out: &mut Vec<ObjectUse>) {
    let Some(rv) = list(n, "relations").first().and_then(|r| match node(r) {
        Some(("RangeVar", rv)) => Some(rv),
        _ => None,
    }) else {
        return;
    };
    let (schema, table) = table_of(rv, catalog, sp);
    let defn = names(list(n, "defnames"));
    let object = match defn.as_slice() {
        [s, name] => format!("{s}.{name}"),
        [name] => format!("{schema}.{name}"),
        other => other.join("."),
    };
    let mut o = Obj::new(out, object, "statistics");
    for e in list(n, "exprs") {
        let Some(("StatsElem", se)) = node(e) else {
            continue;
        };
        let here = (schema.as_str(), table.as_str());
        o.named(here, se, OnDrop::Dropped, "column of extended statistics");
        let uses = resolve_expr(field(se, "expr"), Some(here), catalog, sp, None);
        o.uses(
            &uses,
            OnDrop::Dropped,
            "used in an extended-statistics expression",
        );
    }
}

fn publication(n: &Value, catalog: &Catalog, sp: &[String], out: &mut Vec<ObjectUse>) {
    let pubname = text(n, "pubname");
    for o in list(n, "pubobjects") {
        let Some(("PublicationObjSpec", spec)) = node(o) else {
            continue;
        };
        let pt = field(spec, "pubtable");
        if pt.is_null() {
            continue;
        }
        let (schema, table) = table_of(field(pt, "relation"), catalog, sp);
        let here = (schema.as_str(), table.as_str());
        let mut o = Obj::new(out, format!("{pubname} ({schema}.{table})"), "publication");
        o.columns(
            here,
            &names(list(pt, "columns")),
            OnDrop::Blocked,
            "in the publication's column list",
        );
        let uses = resolve_expr(field(pt, "where_clause"), Some(here), catalog, sp, None);
        o.uses(
            &uses,
            OnDrop::Blocked,
            "used in the publication's row filter",
        );
    }
}

fn rule(n: &Value, catalog: &Catalog, sp: &[String], out: &mut Vec<ObjectUse>) {
    let (schema, table) = table_of(field(n, "relation"), catalog, sp);
    let object = format!("{} on {schema}.{table}", text(n, "rulename"));
    let scope = RoutineScope::trigger(&schema, &table);
    let mut o = Obj::new(out, object, "rule");
    let uses = resolve_expr(field(n, "where_clause"), None, catalog, sp, Some(&scope));
    o.uses(&uses, OnDrop::Blocked, "used in the rule's condition");
    for a in list(n, "actions") {
        let mut r = Resolver::new(catalog, sp);
        r.routine = Some(&scope);
        r.statement_node(a);
        o.uses(&r.uses, OnDrop::Blocked, "used in the rule's action");
    }
}
