//! Builds the catalog from a `pg_dump --schema-only` file: tables with their
//! ordered columns (inherited and partition columns included), views and
//! materialized views with their output columns and every base column their
//! definition uses (through other views too).

use serde_json::Value;

use super::objects;
use super::parse;
use super::resolve::{ColSel, Resolver};
use super::tree::{field, list, node, string_node, text};
use crate::catalog::{
    Catalog, ColumnOrigin, ObjectUse, RelKind, Relation, RowTypedColumn, ViewUse,
};
use crate::inventory::OnDrop;

/// Removes what psql, not the server, reads: meta-commands (`\connect`,
/// `\restrict`) and the data of `COPY … FROM stdin` blocks.
fn strip_psql(dump: &str) -> String {
    let mut out = String::with_capacity(dump.len());
    let mut in_copy = false;
    for line in dump.lines() {
        if in_copy {
            if line == "\\." {
                in_copy = false;
            }
            out.push('\n');
            continue;
        }
        if line.starts_with('\\') {
            out.push('\n');
            continue;
        }
        let upper = line.trim_start().to_ascii_uppercase();
        if upper.starts_with("COPY ") && upper.trim_end().ends_with("FROM STDIN;") {
            in_copy = true;
            out.push('\n');
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn qualified(rv: &Value, default_schema: &str) -> (String, String) {
    let schema = text(rv, "schemaname");
    let schema = if schema.is_empty() {
        default_schema
    } else {
        schema
    };
    (schema.to_string(), text(rv, "relname").to_string())
}

/// The 1-based line of byte offset `at` in `text`.
fn line_at(text: &str, at: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(at)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Bytes of whitespace before a statement's first token.
fn leading_blank(part: &str) -> usize {
    part.len() - part.trim_start().len()
}

/// Loads a schema dump. Statements that cannot be parsed are listed in
/// `Catalog::problems` (without their text) and skipped.
pub fn load_schema(dump: &str) -> Catalog {
    let mut catalog = Catalog::default();
    catalog.loaded = true;
    let cleaned = strip_psql(dump);
    let statements = match parse::parse(&cleaned) {
        Ok(s) => s,
        Err(_) => {
            let mut all = Vec::new();
            match parse::split_located(&cleaned) {
                Some(parts) => {
                    for (i, (at, part)) in parts.into_iter().enumerate() {
                        match parse::parse(part) {
                            Ok(s) => all.extend(s),
                            Err(e) => catalog.problems.push(format!(
                                "line {}: schema statement {} does not parse: {e}",
                                line_at(&cleaned, at + leading_blank(part)),
                                i + 1
                            )),
                        }
                    }
                }
                None => catalog.problems.push(
                    "the schema dump does not parse: an unterminated string, quoted name or comment"
                        .to_string(),
                ),
            }
            all
        }
    };
    let search_path: Vec<String> = crate::catalog::LOAD_PATH
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut pending = objects::Pending::default();
    for stmt in statements {
        let Some((kind, n)) = node(&stmt.tree) else {
            continue;
        };
        pending.offer(kind, n, &stmt.text);
        match kind {
            "CreateStmt" => create_table(&mut catalog, n),
            "AlterTableStmt" => alter_table_links(&mut catalog, n),
            "AlterRoleSetStmt" => {
                // `ALTER ROLE r [IN DATABASE d] SET search_path …` (pg_dumpall).
                let role = n
                    .get("role")
                    .and_then(|r| r.get("rolename"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let db = text(n, "database");
                let set = n.get("setstmt").unwrap_or(&Value::Null);
                if let Some(path) = super::session::role_setting(set) {
                    if !role.is_empty() {
                        catalog
                            .role_search_paths
                            .insert((role.to_string(), db.to_string()), path);
                    }
                }
            }
            "ViewStmt" => {
                let (schema, name) = qualified(n.get("view").unwrap_or(&Value::Null), "public");
                let aliases: Vec<String> = list(n, "aliases")
                    .iter()
                    .filter_map(string_node)
                    .map(str::to_string)
                    .collect();
                let query = n.get("query").cloned().unwrap_or(Value::Null);
                define_view(
                    &mut catalog,
                    &search_path,
                    schema,
                    name,
                    RelKind::View,
                    &query,
                    &aliases,
                );
            }
            "CreateTableAsStmt" => {
                let into = n.get("into").unwrap_or(&Value::Null);
                let (schema, name) = qualified(into.get("rel").unwrap_or(&Value::Null), "public");
                let aliases: Vec<String> = list(into, "col_names")
                    .iter()
                    .filter_map(string_node)
                    .map(str::to_string)
                    .collect();
                let kind = if n.get("objtype").and_then(Value::as_i64) == Some(mat_view_objtype()) {
                    RelKind::MaterializedView
                } else {
                    RelKind::Table
                };
                let query = n.get("query").cloned().unwrap_or(Value::Null);
                define_view(
                    &mut catalog,
                    &search_path,
                    schema,
                    name,
                    kind,
                    &query,
                    &aliases,
                );
            }
            _ => {}
        }
    }
    pending.finish(&mut catalog, &search_path);
    catalog
}

fn mat_view_objtype() -> i64 {
    parse::OBJECT_MATVIEW
}

fn create_table(catalog: &mut Catalog, n: &Value) {
    let (schema, name) = qualified(n.get("relation").unwrap_or(&Value::Null), "public");
    let mut columns: Vec<String> = Vec::new();
    let mut parents: Vec<(String, String)> = Vec::new();
    // Inherited columns come first, in parent order.
    for parent in list(n, "inh_relations") {
        if let Some(("RangeVar", rv)) = node(parent) {
            let (ps, pn) = qualified(rv, "public");
            if let Some(p) = catalog.get(&ps, &pn) {
                for c in &p.columns {
                    if !columns.contains(c) {
                        columns.push(c.clone());
                    }
                }
            }
            parents.push((ps, pn));
        }
    }
    // `PARTITION OF`: every column is the parent's (a column list there
    // only adds options); `INHERITS`: a column the child lists is local.
    let partition = !field(n, "partbound").is_null();
    let mut inherited = if partition {
        Vec::new()
    } else {
        columns.clone()
    };
    for elt in list(n, "table_elts") {
        if let Some(("ColumnDef", cd)) = node(elt) {
            let c = text(cd, "colname").to_string();
            row_typed_column(catalog, &schema, &name, &c, field(cd, "type_name"));
            inherited.retain(|i| *i != c);
            if !columns.contains(&c) {
                columns.push(c);
            }
        }
    }
    if partition {
        inherited.clone_from(&columns);
    }
    catalog.insert(Relation {
        schema: schema.clone(),
        name: name.clone(),
        kind: RelKind::Table,
        columns,
        uses: Vec::new(),
        origins: Vec::new(),
        parents,
        partition,
        inherited,
    });
    partition_key(catalog, &schema, &name, n);
}

/// `PARTITION BY …`: its key columns, and the columns its key expressions
/// use, cannot be dropped (`cannot drop column … because it is part of the
/// partition key`).
fn partition_key(catalog: &mut Catalog, schema: &str, table: &str, n: &Value) {
    let spec = field(n, "partspec");
    if spec.is_null() {
        return;
    }
    let search_path = vec![schema.to_string(), "public".to_string()];
    let mut found: Vec<(Option<String>, &'static str)> = Vec::new();
    for p in list(spec, "part_params") {
        let Some(("PartitionElem", pe)) = node(p) else {
            continue;
        };
        let col = text(pe, "name");
        if !col.is_empty() {
            found.push((Some(col.to_string()), "partition key column"));
        }
        let expr = field(pe, "expr");
        if !expr.is_null() {
            for u in objects::resolve_table_expr(expr, (schema, table), catalog, &search_path) {
                if u.schema == schema && u.table == table {
                    let column = match u.column {
                        ColSel::Named(c) => Some(c),
                        _ => None,
                    };
                    found.push((column, "used in a partition key expression"));
                }
            }
        }
    }
    for (column, detail) in found {
        catalog.objects.push(ObjectUse {
            object: format!("{schema}.{table}"),
            object_type: "partition_key".into(),
            schema: schema.to_string(),
            table: table.to_string(),
            column,
            on_drop: OnDrop::Blocked,
            detail: detail.to_string(),
        });
    }
}

/// `ALTER TABLE [ONLY] parent ATTACH PARTITION child …` (how pg_dump links
/// a partition it wrote as a table of its own) and `ALTER TABLE child
/// INHERIT parent` (the child's columns stay its own).
fn alter_table_links(catalog: &mut Catalog, n: &Value) {
    let (schema, name) = qualified(field(n, "relation"), "public");
    for cmd in list(n, "cmds") {
        let Some(("AlterTableCmd", c)) = node(cmd) else {
            continue;
        };
        let sub = super::tree::int(c, "subtype");
        let def = field(c, "def");
        if sub == parse::consts::AT_ATTACH_PARTITION {
            let Some(("PartitionCmd", pc)) = node(def) else {
                continue;
            };
            let (cs, cn) = qualified(field(pc, "name"), "public");
            let parent_cols = catalog
                .get(&schema, &name)
                .map(|p| p.columns.clone())
                .unwrap_or_default();
            if let Some(child) = catalog.get_mut(&cs, &cn) {
                child.parents = vec![(schema.clone(), name.clone())];
                child.partition = true;
                child.inherited = child
                    .columns
                    .iter()
                    .filter(|c| parent_cols.contains(c))
                    .cloned()
                    .collect();
            }
        } else if sub == parse::consts::AT_ADD_INHERIT {
            let Some(("RangeVar", rv)) = node(def) else {
                continue;
            };
            let parent = qualified(rv, "public");
            if let Some(child) = catalog.get_mut(&schema, &name) {
                if !child.parents.contains(&parent) {
                    child.parents.push(parent);
                }
            }
        }
    }
}

/// A column whose type is a relation's row type (pg_dump qualifies it; an
/// unqualified name is looked for in `public`, then in the table's own
/// schema): recorded for statements that use the column, and as an object
/// that uses every column of that relation (dropping one removes that field
/// from every value stored in the column).
fn row_typed_column(catalog: &mut Catalog, schema: &str, table: &str, column: &str, tn: &Value) {
    let names: Vec<&str> = list(tn, "names").iter().filter_map(string_node).collect();
    let rel = match names.as_slice() {
        ["pg_catalog", _] => None,
        [name] if crate::analyze::resolve::BUILTIN_TYPES.contains(name) => None,
        [name] => catalog
            .get("public", name)
            .or_else(|| catalog.get(schema, name)),
        [s, name] => catalog.get(s, name),
        _ => None,
    };
    let Some(rel) = rel else { return };
    let (type_schema, type_name) = (rel.schema.clone(), rel.name.clone());
    add_row_typed_column(catalog, schema, table, column, type_schema, type_name, true);
}

/// Records column `schema.table.column` as holding rows of `type_schema.
/// type_name`; `stored`: its values are kept (a table's column, not a
/// view's), an object that loses a field of every value when a column of
/// the type is dropped.
fn add_row_typed_column(
    catalog: &mut Catalog,
    schema: &str,
    table: &str,
    column: &str,
    type_schema: String,
    type_name: String,
    stored: bool,
) {
    if stored {
        catalog.objects.push(ObjectUse {
            object: format!("{schema}.{table}.{column}"),
            object_type: "column".into(),
            schema: type_schema.clone(),
            table: type_name.clone(),
            column: None,
            on_drop: OnDrop::DataLost,
            detail: format!("its values are rows of {type_schema}.{type_name}"),
        });
    }
    catalog.row_typed_columns.push(RowTypedColumn {
        schema: schema.to_string(),
        table: table.to_string(),
        column: column.to_string(),
        type_schema,
        type_name,
    });
}

fn define_view(
    catalog: &mut Catalog,
    search_path: &[String],
    schema: String,
    name: String,
    kind: RelKind,
    query: &Value,
    aliases: &[String],
) {
    let (uses, outputs) = {
        let mut r = Resolver::new(catalog, search_path);
        r.whole_row_types = false;
        let out = r.output_columns(query);
        (r.uses, out)
    };
    let mut columns: Vec<String> = outputs.iter().map(|(n, _)| n.clone()).collect();
    for (c, a) in columns.iter_mut().zip(aliases) {
        c.clone_from(a);
    }
    // Output columns that hold rows of a relation: a cast to its row type
    // (`u.*::users AS r`, as pg_get_viewdef writes a whole-row reference),
    // a whole-row reference, or a column of a row type passed through
    // (`v1.r`, `snap.a`). `(v.r).f` is then column `f` of that relation.
    let mut typed = row_typed_outputs(catalog, search_path, query);
    for (i, (_, o)) in outputs.iter().enumerate() {
        if let Some((s, t, c)) = o {
            if let Some(rel) = catalog.row_type_of(s, t, c) {
                typed.push((i, rel.schema.clone(), rel.name.clone()));
            }
        }
    }
    for (i, type_schema, type_name) in typed {
        let Some(column) = columns.get(i) else {
            continue;
        };
        // `CREATE TABLE … AS`: a stored column of the row type.
        let stored = kind == RelKind::Table;
        let column = column.clone();
        add_row_typed_column(
            catalog,
            &schema,
            &name,
            &column,
            type_schema,
            type_name,
            stored,
        );
    }
    // Follow origins through nested views down to base tables.
    let origins: Vec<Option<ColumnOrigin>> = outputs
        .into_iter()
        .map(|(_, o)| {
            let (schema, table, column) = o?;
            match catalog.get(&schema, &table) {
                Some(r) if r.kind != RelKind::Table => {
                    let i = r.columns.iter().position(|c| *c == column)?;
                    let mut inner = r.origins.get(i).cloned().flatten()?;
                    inner.through.insert(0, format!("{schema}.{table}"));
                    Some(inner)
                }
                _ => Some(ColumnOrigin {
                    schema,
                    table,
                    column,
                    through: Vec::new(),
                }),
            }
        })
        .collect();
    let mut view_uses: Vec<ViewUse> = uses
        .into_iter()
        .filter(|u| {
            // Uses of a nested view's own columns are covered by the base
            // uses its definition carries (emitted with a view path).
            !u.view_path.is_empty()
                || catalog
                    .get(&u.schema, &u.table)
                    .is_none_or(|r| r.kind == RelKind::Table)
        })
        .map(|u| ViewUse {
            schema: u.schema,
            table: u.table,
            column: match u.column {
                ColSel::Named(c) => Some(c),
                _ => None,
            },
            via: if u.view_path.is_empty() {
                u.via
            } else {
                "direct".into()
            },
            access: u.access,
            confidence: u.confidence,
            path: u.view_path,
        })
        .collect();
    view_uses.sort();
    view_uses.dedup();
    catalog.insert(Relation {
        schema,
        name,
        kind,
        columns,
        uses: view_uses,
        origins,
        parents: Vec::new(),
        partition: false,
        inherited: Vec::new(),
    });
}

/// The relation whose row type a type name names (`None` for a built-in
/// type, an array or a type not in the catalog).
fn relation_of_type<'c>(
    catalog: &'c Catalog,
    search_path: &[String],
    tn: &Value,
) -> Option<&'c Relation> {
    if !list(tn, "array_bounds").is_empty() {
        return None;
    }
    let names: Vec<&str> = list(tn, "names").iter().filter_map(string_node).collect();
    match names.as_slice() {
        ["pg_catalog", _] => None,
        [name] if crate::analyze::resolve::BUILTIN_TYPES.contains(name) => None,
        [name] => catalog.lookup(search_path, name),
        [s, name] => catalog.get(s, name),
        _ => None,
    }
}

/// The positions of a view query's output columns that hold rows of a
/// catalog relation, found from the expression: a cast to the relation's
/// row type (`u.*::users`, `ROW(…)::t`), or a whole-row reference `u` to
/// a FROM item (a name that is no column of the FROM list). Stops at a `*`
/// (positions after it are not known here) and gives nothing for a set
/// operation.
fn row_typed_outputs(
    catalog: &Catalog,
    search_path: &[String],
    query: &Value,
) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let Some(("SelectStmt", s)) = node(query) else {
        return out;
    };
    if s.get("op").and_then(Value::as_i64).unwrap_or(0) > 1 {
        return out;
    }
    // The FROM list's plain relations, by the name they are referred to.
    let mut from: Vec<(String, &Relation)> = Vec::new();
    for f in list(s, "from_clause") {
        if let Some(("RangeVar", rv)) = node(f) {
            let rel = if text(rv, "schemaname").is_empty() {
                catalog.lookup(search_path, text(rv, "relname"))
            } else {
                catalog.get(text(rv, "schemaname"), text(rv, "relname"))
            };
            let alias = field(rv, "alias");
            let refname = if alias.is_null() {
                text(rv, "relname")
            } else {
                text(alias, "aliasname")
            };
            match rel {
                Some(rel) => from.push((refname.to_string(), rel)),
                // A relation not in the catalog may have any column.
                None => return out,
            }
        } else {
            // Joins, subqueries, functions: their columns are not listed here.
            return out;
        }
    }
    for (i, t) in list(s, "target_list").iter().enumerate() {
        let Some(("ResTarget", rt)) = node(t) else {
            return out;
        };
        let val = field(rt, "val");
        let rel = match node(val) {
            Some(("TypeCast", tc)) => {
                relation_of_type(catalog, search_path, field(tc, "type_name"))
            }
            Some(("ColumnRef", cr)) => match list(cr, "fields") {
                [.., last] if matches!(node(last), Some(("AStar", _))) => return out,
                [only] => string_node(only).and_then(|n| {
                    let is_column = from.iter().any(|(_, r)| r.columns.iter().any(|c| c == n));
                    let item = from.iter().find(|(refname, _)| refname == n);
                    item.filter(|_| !is_column).map(|(_, r)| *r)
                }),
                _ => None,
            },
            _ => None,
        };
        if let Some(rel) = rel {
            out.push((i, rel.schema.clone(), rel.name.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = r#"
\restrict abc
SELECT pg_catalog.set_config('search_path', '', false);
CREATE TABLE public.users (id bigint NOT NULL, email text, legacy_email text);
CREATE TABLE public.admins (level int) INHERITS (public.users);
CREATE VIEW public.contacts AS SELECT users.id, users.legacy_email AS mail FROM public.users;
CREATE VIEW public.contact_ids AS SELECT contacts.id FROM public.contacts;
CREATE MATERIALIZED VIEW public.emails AS SELECT users.email FROM public.users WITH NO DATA;
COPY public.users (id, email, legacy_email) FROM stdin;
1	a@b	secret
\.
\unrestrict abc
"#;

    /// pg_dump's shapes: partitions as tables of their own attached after,
    /// children of `INHERITS` listing only their own columns.
    #[test]
    fn descendants_whose_column_goes_with_the_parents() {
        let c = load_schema(
            "CREATE TABLE public.q (id integer, c text, k integer) PARTITION BY RANGE (id);
             CREATE TABLE public.q1 (id integer, c text, k integer) PARTITION BY LIST (k);
             CREATE TABLE public.q1a (id integer, c text, k integer);
             CREATE TABLE public.q2 PARTITION OF public.q FOR VALUES FROM (10) TO (20);
             CREATE TABLE public.base (id integer, c text);
             CREATE TABLE public.kid (x integer) INHERITS (public.base);
             CREATE TABLE public.own (c text) INHERITS (public.base);
             CREATE TABLE public.other (c text);
             CREATE TABLE public.two () INHERITS (public.kid, public.other);
             CREATE TABLE public.gk () INHERITS (public.kid);
             CREATE TABLE public.late (id integer, c text);
             ALTER TABLE public.late INHERIT public.base;
             ALTER TABLE ONLY public.q ATTACH PARTITION public.q1 FOR VALUES FROM (0) TO (10);
             ALTER TABLE ONLY public.q1 ATTACH PARTITION public.q1a FOR VALUES IN (1);",
        );
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let names = |s: &str, t: &str, col: &str| -> Vec<String> {
            c.dropped_with(s, t, col)
                .iter()
                .map(|r| r.name.clone())
                .collect()
        };
        assert_eq!(names("public", "q", "c"), ["q1", "q1a", "q2"]);
        assert_eq!(names("public", "q1", "c"), ["q1a"]);
        assert_eq!(names("public", "base", "c"), ["gk", "kid"]);
        assert!(names("public", "other", "c").is_empty());
        assert_eq!(
            c.get("public", "q1a").unwrap().parents,
            [("public".to_string(), "q1".to_string())]
        );
        assert_eq!(
            c.partition_ancestors("public", "q1a"),
            [
                ("public".to_string(), "q1".to_string()),
                ("public".to_string(), "q".to_string())
            ]
        );
        let keys: Vec<(String, Option<String>)> = c
            .objects
            .iter()
            .filter(|o| o.object_type == "partition_key")
            .map(|o| (o.object.clone(), o.column.clone()))
            .collect();
        assert_eq!(
            keys,
            [
                ("public.q".to_string(), Some("id".to_string())),
                ("public.q1".to_string(), Some("k".to_string()))
            ]
        );
    }

    #[test]
    fn loads_tables_views_and_matviews() {
        let c = load_schema(DUMP);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        assert_eq!(
            c.get("public", "users").unwrap().columns,
            vec!["id", "email", "legacy_email"]
        );
        assert_eq!(
            c.get("public", "admins").unwrap().columns,
            vec!["id", "email", "legacy_email", "level"]
        );
        let v = c.get("public", "contacts").unwrap();
        assert_eq!(v.columns, vec!["id", "mail"]);
        let cols: Vec<_> = v
            .uses
            .iter()
            .map(|u| u.column.clone().unwrap_or_default())
            .collect();
        assert_eq!(cols, vec!["id", "legacy_email"]);
        // A view over a view carries the base uses with the path.
        let nested = c.get("public", "contact_ids").unwrap();
        assert!(nested
            .uses
            .iter()
            .any(|u| u.column.as_deref() == Some("legacy_email")
                && u.path == vec!["public.contacts".to_string()]));
        assert_eq!(
            c.get("public", "emails").unwrap().kind,
            RelKind::MaterializedView
        );
    }
}
