//! The catalog: relations (tables, views, materialized views) with their
//! ordered columns, the base columns each view uses, and the objects that use
//! columns (for `schema_dependencies`). Built from a `pg_dump --schema-only`
//! file by [`crate::analyze::load_schema`]; empty when no schema is given.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use crate::analyze::plpgsql::RoutineAnalysis;
use crate::analyze::resolve::ColumnUse;
use crate::inventory::{Access, Confidence, OnDrop};

/// What kind of relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RelKind {
    /// A table (also partitioned and foreign tables).
    Table,
    /// A view.
    View,
    /// A materialized view.
    MaterializedView,
}

impl RelKind {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            RelKind::Table => "table",
            RelKind::View => "view",
            RelKind::MaterializedView => "materialized_view",
        }
    }
}

/// A base column used by a view, possibly through other views.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ViewUse {
    /// Schema of the base table.
    pub schema: String,
    /// Base table.
    pub table: String,
    /// The column, or `None` for all columns (a whole-row reference).
    pub column: Option<String>,
    /// How the view's definition uses it (`direct`, `whole_row`, …).
    pub via: String,
    /// Read or write.
    pub access: Access,
    /// `possible` when the definition may use it (a field of a value whose
    /// row type is not known).
    pub confidence: Confidence,
    /// The chain of views from the outermost to the one that names the column
    /// (`public.a`, `public.b`).
    pub path: Vec<String>,
}

/// A relation in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
    /// Table, view, …
    pub kind: RelKind,
    /// Columns in order (dropped columns are not in a dump).
    pub columns: Vec<String>,
    /// For views: every base column the definition uses.
    pub uses: Vec<ViewUse>,
    /// For views: the base column each output column passes through
    /// (`schema`, `table`, `column`, views in between), aligned with
    /// `columns`; what a write through an updatable view writes.
    pub origins: Vec<Option<ColumnOrigin>>,
    /// For tables: the tables it inherits from (`INHERITS`) or is a
    /// partition of (`PARTITION OF`, `ATTACH PARTITION`), in order.
    pub parents: Vec<(String, String)>,
    /// True when it is a partition of its parent.
    pub partition: bool,
    /// Columns it has only through inheritance, not declared locally
    /// (PostgreSQL's `attislocal` false): every column of a partition, the
    /// columns a child of `INHERITS` does not list itself. `DROP COLUMN` on
    /// the parent drops them too (when no other parent keeps them).
    pub inherited: Vec<String>,
}

/// The base column a view column passes through.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ColumnOrigin {
    /// Base schema.
    pub schema: String,
    /// Base table.
    pub table: String,
    /// Base column.
    pub column: String,
    /// Views between this one and the base table (nested views).
    pub through: Vec<String>,
}

/// An object other than a view (index, constraint, policy, trigger, rule,
/// grant, statistics, publication, generated column, default) that uses
/// columns of a table, resolved when the catalog was loaded.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectUse {
    /// The object as PostgreSQL names it (`public.users_legacy_idx`,
    /// `users_legacy_check on public.users`, `legacy_pub`, …).
    pub object: String,
    /// `index`, `constraint`, `policy`, …
    pub object_type: String,
    /// Schema of the table whose column it uses.
    pub schema: String,
    /// The table.
    pub table: String,
    /// The column, or `None` for all columns (a whole-row reference).
    pub column: Option<String>,
    /// What `DROP COLUMN` does to the object.
    pub on_drop: OnDrop,
    /// How it uses the column (`key column`, `partial-index predicate`, …).
    pub detail: String,
}

/// A function or procedure from the schema, with what its body uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routine {
    /// Schema.
    pub schema: String,
    /// Name.
    pub name: String,
    /// `schema.name(argument types)`, as `pg_get_function_identity_arguments`.
    pub identity: String,
    /// `function` or `procedure`.
    pub kind: String,
    /// Fewest arguments a call can pass (parameters with defaults omitted).
    pub min_args: usize,
    /// Most arguments (`None`: variadic).
    pub max_args: Option<usize>,
    /// A `BEGIN ATOMIC`/`RETURN` body (PostgreSQL tracks its dependencies).
    pub atomic: bool,
    /// Returns `trigger`.
    pub returns_trigger: bool,
    /// The `CREATE FUNCTION` text (trigger functions are analysed again with
    /// `NEW`/`OLD` bound to each trigger's table).
    pub definition: String,
    /// What the body uses, calls and writes.
    pub analysis: RoutineAnalysis,
    /// Its own `SET search_path` (the path its body runs with), if any;
    /// `None`: the caller's.
    pub search_path: Option<Vec<String>>,
}

/// A trigger from the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// Trigger name.
    pub name: String,
    /// Schema of its table.
    pub schema: String,
    /// Its table.
    pub table: String,
    /// Events: `insert`, `update`, `delete`, `truncate`.
    pub events: Vec<String>,
    /// `UPDATE OF` columns (empty: any update).
    pub update_of: Vec<String>,
    /// Column uses of the `WHEN` clause (`NEW.c`/`OLD.c` are columns of the table).
    pub when_uses: Vec<ColumnUse>,
    /// True when it has a `WHEN` clause.
    pub has_when: bool,
    /// `FOR EACH ROW` (a partitioned table's row triggers fire on its
    /// partitions too).
    pub row: bool,
    /// The function it executes, `schema.name` (as resolved in the catalog).
    pub function: Option<(String, String)>,
    /// The function's body analysed with `NEW`/`OLD` bound to the table.
    pub body: Option<RoutineAnalysis>,
    /// The function's identity, for `via` and reports.
    pub function_identity: String,
    /// The function's own `SET search_path`, if any.
    pub search_path: Option<Vec<String>>,
    /// Its transition tables (`REFERENCING NEW TABLE AS n …`).
    pub transitions: Vec<String>,
}

impl Trigger {
    /// `trigger NAME on SCHEMA.TABLE`.
    pub fn label(&self) -> String {
        format!("trigger {} on {}.{}", self.name, self.schema, self.table)
    }
}

/// A table column whose type is a relation's row type, or an array of it
/// (`CREATE TABLE snap (a acct)`): its values hold the relation's columns
/// as fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowTypedColumn {
    /// Schema of the table holding the column.
    pub schema: String,
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// Schema of the relation whose row type it is.
    pub type_schema: String,
    /// The relation.
    pub type_name: String,
}

/// The search path the bodies of routines are analysed with when the
/// catalog is loaded (a routine without its own `SET search_path` runs
/// with its caller's: see [`Catalog::resolves_like_load_path`]).
pub const LOAD_PATH: &[&str] = &["public"];

/// Routine bodies analysed again on a caller's search path, by (routine
/// identity or trigger label, path). Not part of the model: a clone starts
/// empty and every two compare equal.
#[derive(Default)]
pub struct BodyCache(Mutex<HashMap<BodyKey, Arc<RoutineAnalysis>>>);

/// (routine identity or trigger label, search path).
type BodyKey = (String, Vec<String>);

impl BodyCache {
    /// The analysis for `key`, made by `make` the first time.
    pub fn get_or(
        &self,
        key: BodyKey,
        make: impl FnOnce() -> RoutineAnalysis,
    ) -> Arc<RoutineAnalysis> {
        if let Some(a) = self.0.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return a;
        }
        let a = Arc::new(make());
        if let Ok(mut m) = self.0.lock() {
            m.insert(key, a.clone());
        }
        a
    }
}

impl Clone for BodyCache {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl PartialEq for BodyCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for BodyCache {}

impl std::fmt::Debug for BodyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BodyCache")
    }
}

/// A column default, or a `CHECK` of the column's domain, that calls
/// functions of the catalog: an `INSERT` that does not name the column runs
/// the default's; an `INSERT`, or an `UPDATE` that sets the column, runs
/// the domain's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDefault {
    /// Schema of the table.
    pub schema: String,
    /// The table.
    pub table: String,
    /// The column.
    pub column: String,
    /// The calls of its default expression (or domain check).
    pub calls: Vec<crate::analyze::plpgsql::Call>,
    /// `Some(domain)`: the calls are the `CHECK` of the column's domain
    /// `schema.name`, not its default.
    pub domain: Option<String>,
}

/// The schema model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    relations: BTreeMap<(String, String), Relation>,
    /// Objects other than views and routines that use columns.
    pub objects: Vec<ObjectUse>,
    /// Functions and procedures by (schema, name); overloads in dump order.
    pub routines: BTreeMap<(String, String), Vec<Routine>>,
    /// Triggers.
    pub triggers: Vec<Trigger>,
    /// Roles' own `search_path` settings by (role, database; `""` = any):
    /// from a live catalog, or from `ALTER ROLE r [IN DATABASE d] SET
    /// search_path …` lines (`pg_dumpall --globals-only`) in a dump.
    pub role_search_paths: BTreeMap<(String, String), Vec<String>>,
    /// Statements of the dump that could not be used, with the reason.
    pub problems: Vec<String>,
    /// Whether a schema was loaded at all.
    pub loaded: bool,
    /// Table columns of a relation's row type.
    pub row_typed_columns: Vec<RowTypedColumn>,
    /// Bodies analysed again on callers' search paths.
    pub bodies: BodyCache,
    /// Column defaults that call functions.
    pub defaults: Vec<ColumnDefault>,
}

impl Catalog {
    /// Adds or replaces a relation.
    pub fn insert(&mut self, rel: Relation) {
        self.relations
            .insert((rel.schema.clone(), rel.name.clone()), rel);
    }

    /// Looks up `schema.name`.
    pub fn get(&self, schema: &str, name: &str) -> Option<&Relation> {
        self.relations.get(&(schema.to_string(), name.to_string()))
    }

    /// Mutable lookup.
    pub fn get_mut(&mut self, schema: &str, name: &str) -> Option<&mut Relation> {
        self.relations
            .get_mut(&(schema.to_string(), name.to_string()))
    }

    /// Resolves an unqualified name along `search_path` (`pg_catalog` is
    /// searched first, as PostgreSQL does; it is never in a dump, so it
    /// never matches here).
    pub fn lookup(&self, search_path: &[String], name: &str) -> Option<&Relation> {
        search_path.iter().find_map(|s| self.get(s, name))
    }

    /// The relation whose row type column `schema.table.column` holds.
    pub fn row_type_of(&self, schema: &str, table: &str, column: &str) -> Option<&Relation> {
        self.row_typed_columns
            .iter()
            .find(|c| c.schema == schema && c.table == table && c.column == column)
            .and_then(|c| self.get(&c.type_schema, &c.type_name))
    }

    /// All relations, ordered by schema and name.
    pub fn relations(&self) -> impl Iterator<Item = &Relation> {
        self.relations.values()
    }

    /// Triggers that fire on `schema.table`: its own, and the row-level
    /// triggers of the partitioned tables it is a partition of (PostgreSQL
    /// clones them onto every partition, at any depth).
    pub fn triggers_on<'c>(
        &'c self,
        schema: &'c str,
        table: &'c str,
    ) -> impl Iterator<Item = &'c Trigger> + 'c {
        let ancestors = self.partition_ancestors(schema, table);
        self.triggers.iter().filter(move |t| {
            (t.schema == schema && t.table == table)
                || (t.row
                    && ancestors
                        .iter()
                        .any(|(s, n)| *s == t.schema && *n == t.table))
        })
    }

    /// The tables below `schema.table` whose row triggers a write to it may
    /// fire (PostgreSQL routes an `INSERT` into a partitioned table to a
    /// partition, at any depth; `UPDATE` and `DELETE` without `ONLY` reach
    /// the rows of partitions and inheriting children), ordered by schema
    /// and name.
    pub fn reached_descendants(&self, schema: &str, table: &str, event: &str) -> Vec<&Relation> {
        let mut found: std::collections::BTreeSet<(String, String)> = Default::default();
        let mut frontier = vec![(schema.to_string(), table.to_string())];
        while let Some(p) = frontier.pop() {
            for r in self.relations.values() {
                if !r.parents.contains(&p) || (event == "insert" && !r.partition) {
                    continue;
                }
                let key = (r.schema.clone(), r.name.clone());
                if (key.0 != schema || key.1 != table) && found.insert(key.clone()) {
                    frontier.push(key);
                }
            }
        }
        found.iter().filter_map(|(s, n)| self.get(s, n)).collect()
    }

    /// The partitioned tables `schema.table` is a partition of, nearest
    /// first (sub-partitions have several).
    pub fn partition_ancestors(&self, schema: &str, table: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut cur = self.get(schema, table);
        while let Some(r) = cur {
            if !r.partition {
                break;
            }
            let Some(p) = r.parents.first() else { break };
            if out.contains(p) || (p.0 == schema && p.1 == table) {
                break;
            }
            out.push(p.clone());
            cur = self.get(&p.0, &p.1);
        }
        out
    }

    /// The descendant tables (partitions, sub-partitions, children of
    /// `INHERITS`, grandchildren) whose column `column` goes when `ALTER
    /// TABLE schema.table DROP COLUMN column` runs: a descendant's column
    /// goes when it is not declared locally and every parent it inherits
    /// the column from loses it too (PostgreSQL's `attislocal` and
    /// `attinhcount`). Not `schema.table` itself; ordered by schema and
    /// name.
    pub fn dropped_with(&self, schema: &str, table: &str, column: &str) -> Vec<&Relation> {
        let root = (schema.to_string(), table.to_string());
        let mut gone: std::collections::BTreeSet<(String, String)> = [root.clone()].into();
        let has = |s: &str, n: &str| {
            self.get(s, n)
                .is_some_and(|r| r.columns.iter().any(|c| c == column))
        };
        // Only tables that inherit the column can go; each pass adds the
        // next level down.
        let candidates: Vec<&Relation> = self
            .relations
            .values()
            .filter(|r| !r.parents.is_empty() && r.inherited.iter().any(|c| c == column))
            .collect();
        loop {
            let mut grew = false;
            for r in &candidates {
                let key = (r.schema.clone(), r.name.clone());
                if gone.contains(&key) {
                    continue;
                }
                let mut from = r.parents.iter().filter(|(s, n)| has(s, n)).peekable();
                if from.peek().is_some() && from.all(|p| gone.contains(p)) {
                    gone.insert(key);
                    grew = true;
                }
            }
            if !grew {
                break;
            }
        }
        gone.remove(&root);
        gone.iter().filter_map(|(s, n)| self.get(s, n)).collect()
    }

    /// True when the catalog has a relation or routine in `schema`.
    pub fn has_schema(&self, schema: &str) -> bool {
        let from = (schema.to_string(), String::new());
        self.relations
            .range(from.clone()..)
            .next()
            .is_some_and(|((s, _), _)| s == schema)
            || self
                .routines
                .range(from..)
                .next()
                .is_some_and(|((s, _), _)| s == schema)
    }

    /// True when an unqualified name resolves on `search_path` as on
    /// [`LOAD_PATH`] (the same schemas of the catalog, in the same order):
    /// bodies analysed at load time hold for a caller on this path.
    pub fn resolves_like_load_path(&self, search_path: &[String]) -> bool {
        let mine = search_path.iter().filter(|s| self.has_schema(s));
        let load = LOAD_PATH.iter().filter(|s| self.has_schema(s));
        mine.map(String::as_str).eq(load.copied())
    }

    /// Number of relations.
    pub fn len(&self) -> usize {
        self.relations.len()
    }

    /// True when no relation is known.
    pub fn is_empty(&self) -> bool {
        self.relations.is_empty()
    }
}
