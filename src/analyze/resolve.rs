//! The column resolver: walks a pg_query parse tree (as its serde JSON form,
//! so that every node kind is visited even when it has no dedicated handler)
//! with a scope stack per query level, and resolves every column reference
//! the way PostgreSQL's analyzer does: innermost level first, a column of any
//! relation before a relation name (whole-row), CTEs before tables, aliases
//! hiding table names, `USING`/`NATURAL` merged columns, `*` expansion through
//! the catalog, positional `INSERT`/`COPY`.

// A use is described by relation, columns, access, via, confidence, reason and
// location; passing them flat keeps the call sites readable.
#![allow(clippy::too_many_arguments)]

use std::rc::Rc;

use serde_json::Value;

use super::plpgsql::RoutineScope;
use super::tree::{field, flag, int, list, node, string_node, text, NULL};
use crate::catalog::{Catalog, RelKind};
use crate::inventory::{Access, Confidence};

/// An output column of a query: its name and the base column
/// (`schema`, `table`, `column`) it passes through, if any.
pub type OutputColumn = (String, Option<(String, String, String)>);

/// Which columns of a relation a use covers.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ColSel {
    /// One named column.
    Named(String),
    /// Every column (`*`, whole-row, `COPY` without a list).
    All,
    /// The first N columns (positional `INSERT` of N values).
    FirstN(usize),
}

/// One use of a relation's column(s) found in a statement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ColumnUse {
    /// Schema of the relation (assumed from `search_path` when not certain).
    pub schema: String,
    /// The relation.
    pub table: String,
    /// False when the relation was named without a schema and is not in the
    /// catalog: another schema on the search path might hold it.
    pub schema_certain: bool,
    /// Which columns.
    pub column: ColSel,
    /// Read or write.
    pub access: Access,
    /// `direct`, `star`, `whole_row`, `positional`, `natural_join`,
    /// `view schema.name`.
    pub via: String,
    /// How sure.
    pub confidence: Confidence,
    /// Why not certain.
    pub reason: Option<String>,
    /// Byte offset in the statement (for `explain`).
    pub location: i32,
    /// For uses through views: the chain of views, outermost first.
    pub view_path: Vec<String>,
    /// Query level of the reference (1 = the statement itself, 2 = a
    /// subquery, CTE or derived table in it, …; for `explain`).
    pub scope: usize,
    /// How the name was resolved (for `explain`).
    pub resolution: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RelInfo {
    schema: String,
    name: String,
    schema_certain: bool,
    kind: Option<RelKind>,
}

impl RelInfo {
    /// A relation of the catalog, found for certain.
    fn of(rel: &crate::catalog::Relation) -> Self {
        Self {
            schema: rel.schema.clone(),
            name: rel.name.clone(),
            schema_certain: true,
            kind: Some(rel.kind),
        }
    }
}

#[derive(Debug, Clone)]
struct Col {
    name: String,
    origin: Option<(RelInfo, String)>,
    /// Came from a `*` that used nothing by itself (see [`Level::by_name`]):
    /// a whole-row use of the derived table uses its origin.
    deferred: bool,
}

#[derive(Debug, Clone, Default)]
struct Output {
    cols: Option<Vec<Col>>,
    passthrough: Vec<RelInfo>,
    /// The columns in order, known or not (see [`Slot`]): what naming each
    /// uses, also when some are unknown, and what column aliases over the
    /// query rename.
    slots: Option<Vec<Slot>>,
}

/// Output columns with these names that use nothing when named.
fn plain_slots(cols: &[Col]) -> Vec<Slot> {
    cols.iter()
        .map(|c| {
            Slot::Col(SlotCol {
                col: c.clone(),
                refs: Vec::new(),
                floating: false,
                maybe: false,
                explicit: true,
            })
        })
        .collect()
}

#[derive(Debug, Clone)]
struct Item {
    refname: Option<String>,
    hidden: bool,
    rel: Option<RelInfo>,
    cols: Option<Vec<Col>>,
    passthrough: Vec<RelInfo>,
    /// For a join alias: the (hidden) items of the same level it covers.
    members: Vec<usize>,
    /// Number of column aliases (`t AS x(a, b)`) over a relation whose
    /// columns are known: the first `aliased` columns are renamed by position.
    aliased: usize,
    /// `cols` are only the first columns: more may follow (column aliases
    /// over a relation or a function whose columns are unknown).
    open: bool,
    /// For a join alias, a derived table or a CTE: its columns in
    /// PostgreSQL's order, column aliases applied (see [`Slot`]); names are
    /// resolved through it. Shared: items are cloned per reference.
    layout: Option<Rc<[Slot]>>,
    /// The alias of a join's `USING` columns (`a JOIN b USING (c) AS x`):
    /// its columns are only the merged ones, and its sides stay visible.
    merged_only: bool,
}

impl Item {
    fn has_known(&self, name: &str) -> bool {
        match (&self.cols, &self.layout) {
            // In order, column aliases applied (and a column merged by
            // `USING` once).
            (_, Some(layout)) => layout
                .iter()
                .any(|s| matches!(s, Slot::Col(c) if c.col.name == name)),
            (Some(c), None) => c.iter().any(|c| c.name == name),
            (None, None) => false,
        }
    }
    fn unknown(&self) -> bool {
        self.cols.is_none()
    }
}

/// What naming one output column of a FROM item implies: a use of a base
/// column (or of every column, or of the first N), with a confidence of its
/// own. `via`: `positional` when the column is only reached by its position
/// (a column alias renames it), `natural_join` for a common column of a
/// `NATURAL JOIN` (dropping it from one side leaves the other's); else the
/// reference's own.
#[derive(Debug, Clone)]
struct Dep {
    rel: RelInfo,
    sel: ColSel,
    via: Option<&'static str>,
    conf: Confidence,
    reason: Option<String>,
}

impl Dep {
    /// The same use, reached by position: `sure` when the column is
    /// certainly at or before the position, else `possible`.
    fn by_position(&self, sure: bool) -> Dep {
        let (conf, reason) = if sure {
            (self.conf, self.reason.clone())
        } else {
            (Confidence::Possible, Some(UNKNOWN_POSITIONS.to_string()))
        };
        Dep {
            rel: self.rel.clone(),
            sel: self.sel.clone(),
            via: Some("positional"),
            conf,
            reason,
        }
    }
}

const UNKNOWN_POSITIONS: &str =
    "column aliases rename by position, and a relation not in the schema makes the positions of the columns unknown";

/// Every column of a relation whose columns are unknown may be at a
/// position a column alias renames.
fn unknown_by_position(rel: &RelInfo) -> Dep {
    Dep {
        rel: rel.clone(),
        sel: ColSel::All,
        via: Some("positional"),
        conf: Confidence::Possible,
        reason: Some(UNKNOWN_POSITIONS.to_string()),
    }
}

/// One output column of a FROM item, in a [`Slot`] list.
#[derive(Debug, Clone)]
struct SlotCol {
    /// Its name (a column alias, when renamed) and the base column it is
    /// known to be, if any.
    col: Col,
    /// What naming it uses.
    refs: Vec<Dep>,
    /// Its position is unknown: anywhere from here on (the common columns
    /// of a `NATURAL JOIN` over a relation not in the schema move to the
    /// front), and it may take a position before the columns listed after
    /// it.
    floating: bool,
    /// It may have been renamed by a column alias (its position may be one
    /// the aliases cover): perhaps no column of this name is left.
    maybe: bool,
    /// An expression of a select list (not from a `*`): its place does not
    /// depend on its base columns, and dropping one of those is an error
    /// in the query itself (reported there).
    explicit: bool,
}

/// The output columns of a FROM item in PostgreSQL's order, as column
/// aliases rename them by position: a join's columns are the columns
/// merged by `USING`/`NATURAL` (in that order), then the left side's
/// others, then the right side's (`expandRTE`).
#[derive(Debug, Clone)]
enum Slot {
    /// One column.
    Col(SlotCol),
    /// Any number (0 or more) of columns of these relations, whose columns
    /// are unknown (no relation: a function whose columns are unknown).
    Unknown(Vec<RelInfo>),
}

impl Slot {
    fn is_fixed(&self) -> bool {
        matches!(self, Slot::Col(c) if !c.floating && !c.maybe)
    }
}

/// For each slot, its least and greatest (`None`: unbounded) 0-based
/// position.
fn positions(layout: &[Slot]) -> Vec<(usize, Option<usize>)> {
    let mut min = 0;
    let mut max = Some(0);
    layout
        .iter()
        .map(|s| {
            if s.is_fixed() {
                let p = (min, max);
                min += 1;
                max = max.map(|m| m + 1);
                p
            } else {
                max = None;
                (min, None)
            }
        })
        .collect()
}

/// The names of the columns, when all are known and in a known order.
fn known_names(layout: &[Slot]) -> Option<Vec<String>> {
    layout
        .iter()
        .map(|s| match s {
            Slot::Col(c) if s.is_fixed() => Some(c.col.name.clone()),
            _ => None,
        })
        .collect()
}

fn push_rel(rels: &mut Vec<RelInfo>, rel: &RelInfo) {
    if !rels.contains(rel) {
        rels.push(rel.clone());
    }
}

/// The output columns of a FROM item that is not a join alias.
fn item_layout(item: &Item) -> Vec<Slot> {
    if let Some(layout) = &item.layout {
        return layout.to_vec();
    }
    let mut out = Vec::new();
    let mut rels = Vec::new();
    if let Some(rel) = &item.rel {
        push_rel(&mut rels, rel);
    }
    for rel in &item.passthrough {
        push_rel(&mut rels, rel);
    }
    let Some(cols) = &item.cols else {
        return vec![Slot::Unknown(rels)];
    };
    for (p, c) in cols.iter().enumerate() {
        let mut refs = Vec::new();
        let direct = |refs: &mut Vec<Dep>| {
            if let Some((rel, name)) = &c.origin {
                refs.push(Dep {
                    rel: rel.clone(),
                    sel: ColSel::Named(name.clone()),
                    via: None,
                    conf: Confidence::Certain,
                    reason: None,
                });
            }
        };
        match &item.rel {
            // Column aliases over a table (`t AS x(a, b)`): as in
            // `item_column_via`.
            Some(rel) if item.aliased > 0 && !item.open => {
                let first = |n: usize| Dep {
                    rel: rel.clone(),
                    sel: ColSel::FirstN(n),
                    via: Some("positional"),
                    conf: Confidence::Certain,
                    reason: None,
                };
                if p < item.aliased {
                    refs.push(first(p + 1));
                } else {
                    direct(&mut refs);
                    if p == item.aliased {
                        refs.push(first(p));
                    }
                }
            }
            _ => direct(&mut refs),
        }
        out.push(Slot::Col(SlotCol {
            col: c.clone(),
            refs,
            floating: false,
            maybe: false,
            explicit: false,
        }));
    }
    if item.open {
        out.push(Slot::Unknown(rels));
    }
    out
}

/// Applies column aliases to a join's columns: the first `aliases.len()`
/// are renamed, whichever they are. Naming alias k uses, by position,
/// every column that is (or may be) at position k or before (dropping one
/// makes the alias another column); naming the first column past the
/// aliases uses the columns before it (dropping one renames it).
fn rename_layout(layout: Vec<Slot>, aliases: &[String]) -> Vec<Slot> {
    let cnt = aliases.len();
    if cnt == 0 {
        return layout;
    }
    let pos = positions(&layout);
    let mut out = Vec::new();
    for (k, alias) in aliases.iter().enumerate() {
        let mut refs = Vec::new();
        let mut origin = None;
        let mut explicit = false;
        for (slot, &(min, max)) in layout.iter().zip(&pos) {
            if min > k {
                break;
            }
            // Certainly at or before position k.
            let sure = max.is_some_and(|m| m <= k);
            let exact = min == k && max == Some(k);
            match slot {
                Slot::Col(c) if c.explicit => {
                    // Only its own base columns, if it is (or may be) the
                    // column at position k.
                    if exact {
                        origin.clone_from(&c.col.origin);
                        explicit = true;
                        refs.extend(c.refs.iter().cloned());
                    } else if max.is_none_or(|m| m >= k) {
                        refs.extend(c.refs.iter().map(|d| Dep {
                            conf: Confidence::Possible,
                            reason: Some(UNKNOWN_POSITIONS.to_string()),
                            ..d.clone()
                        }));
                    }
                }
                Slot::Col(c) => {
                    if exact {
                        origin.clone_from(&c.col.origin);
                    }
                    refs.extend(c.refs.iter().map(|d| d.by_position(sure)));
                }
                Slot::Unknown(rels) => refs.extend(rels.iter().map(unknown_by_position)),
            }
        }
        out.push(Slot::Col(SlotCol {
            col: Col {
                name: alias.clone(),
                origin,
                deferred: false,
            },
            refs,
            floating: false,
            maybe: false,
            explicit,
        }));
    }
    for (s, (slot, &(min, max))) in layout.iter().zip(&pos).enumerate() {
        let c = match slot {
            // Its columns past the aliases keep their names.
            Slot::Unknown(rels) => {
                out.push(Slot::Unknown(rels.clone()));
                continue;
            }
            Slot::Col(c) => c,
        };
        if max.is_some_and(|m| m < cnt) {
            // Renamed.
            continue;
        }
        let mut c = c.clone();
        if min < cnt {
            c.maybe = true;
            c.floating = true;
        }
        if min <= cnt && max.is_none_or(|m| m >= cnt) {
            // Perhaps the first column past the aliases.
            let sure = min == cnt && max == Some(cnt);
            for before in layout.get(..s).unwrap_or_default() {
                match before {
                    Slot::Col(b) if b.explicit => {}
                    Slot::Col(b) => c.refs.extend(b.refs.iter().map(|d| d.by_position(sure))),
                    Slot::Unknown(rels) => c.refs.extend(rels.iter().map(unknown_by_position)),
                }
            }
        }
        out.push(Slot::Col(c));
    }
    out
}

/// The columns of `left JOIN right USING (using)` (or of a `NATURAL JOIN`
/// whose common columns are known): the merged columns first, then each
/// side's others.
fn using_layout(left: Vec<Slot>, right: Vec<Slot>, using: &[String], natural: bool) -> Vec<Slot> {
    let mut out = Vec::new();
    for name in using {
        let mut refs = Vec::new();
        let mut origin = None;
        for s in left.iter().chain(&right) {
            if let Slot::Col(c) = s {
                if c.col.name == *name {
                    refs.extend(c.refs.iter().map(|d| Dep {
                        via: d.via.or(natural.then_some("natural_join")),
                        ..d.clone()
                    }));
                    if origin.is_none() {
                        origin.clone_from(&c.col.origin);
                    }
                }
            }
        }
        out.push(Slot::Col(SlotCol {
            col: Col {
                name: name.clone(),
                origin,
                deferred: false,
            },
            refs,
            floating: false,
            maybe: false,
            explicit: false,
        }));
    }
    for s in left.into_iter().chain(right) {
        match &s {
            Slot::Col(c) if using.contains(&c.col.name) => {}
            _ => out.push(s),
        }
    }
    out
}

/// The columns of a `NATURAL JOIN` whose common columns are unknown (a
/// side has columns not in the schema): each known column may be anywhere
/// (a common one moves to the front). A name both sides are known to have
/// is a common column: one column.
fn natural_layout(left: Vec<Slot>, right: Vec<Slot>) -> Vec<Slot> {
    let mut rels = Vec::new();
    let mut cols: Vec<SlotCol> = Vec::new();
    for s in left {
        match s {
            Slot::Unknown(r) => r.iter().for_each(|r| push_rel(&mut rels, r)),
            Slot::Col(c) => cols.push(c),
        }
    }
    let n_left = cols.len();
    for s in right {
        match s {
            Slot::Unknown(r) => r.iter().for_each(|r| push_rel(&mut rels, r)),
            Slot::Col(mut c) => {
                let twin = cols
                    .iter_mut()
                    .take(n_left)
                    .find(|l| l.col.name == c.col.name);
                match twin {
                    Some(l) => l.refs.append(&mut c.refs),
                    None => cols.push(c),
                }
            }
        }
    }
    let mut out = vec![Slot::Unknown(rels)];
    out.extend(cols.into_iter().map(|mut c| {
        c.floating = true;
        Slot::Col(c)
    }));
    out
}

#[derive(Debug, Clone)]
struct Cte {
    name: String,
    out: Output,
}

#[derive(Debug, Clone)]
struct Merged {
    name: String,
    sides: Vec<usize>,
    /// A common column of a `NATURAL JOIN`: dropping it from one side
    /// leaves the other's, silently.
    natural: bool,
}

#[derive(Debug, Default)]
struct Level {
    items: Vec<Item>,
    ctes: Vec<Cte>,
    merged: Vec<Merged>,
    outputs: Vec<String>,
    /// Output columns from a `*` expansion, by position (for ordinals).
    star_outputs: Vec<Option<Col>>,
    /// Where a `*` of unknown width was expanded in `star_outputs`: the
    /// positions from there on are unknown.
    star_unknown_from: Option<usize>,
    /// The query's output is only used by column name (a derived table, a
    /// CTE, an `EXISTS` subquery): a `*` in its target list uses nothing by
    /// itself; whoever names the output columns uses their base columns.
    by_name: bool,
    /// The columns of the FROM list in order (what `*` expands to), when
    /// the level is a `SELECT`'s.
    from_layout: Option<Vec<Slot>>,
}

/// Node kinds with a dedicated handler (they open a scope, name columns
/// without a `ColumnRef`, or resolve one specially). Every other kind is
/// walked field by field, so a `ColumnRef` anywhere below it is resolved.
pub const HANDLED_NODES: &[&str] = &[
    "RawStmt",
    "SelectStmt",
    "InsertStmt",
    "UpdateStmt",
    "DeleteStmt",
    "MergeStmt",
    "MergeWhenClause",
    "CopyStmt",
    "CreateTableAsStmt",
    "ViewStmt",
    "ExplainStmt",
    "PrepareStmt",
    "DeclareCursorStmt",
    "IndexStmt",
    "IndexElem",
    "CreateTrigStmt",
    "VacuumStmt",
    "GrantStmt",
    "CreateStatsStmt",
    "CommonTableExpr",
    "WithClause",
    "OnConflictClause",
    "InferClause",
    "ResTarget",
    "MultiAssignRef",
    "SortBy",
    "RangeVar",
    "RangeSubselect",
    "RangeFunction",
    "RangeTableFunc",
    "RangeTableFuncCol",
    "RangeTableSample",
    "JoinExpr",
    "JsonTable",
    "JsonTableColumn",
    "ColumnRef",
    "AIndirection",
    "AStar",
    "FuncCall",
    "SubLink",
    "Alias",
    "ColumnDef",
];

/// Node kinds not descended into: they cannot hold a column reference
/// (`TypeName` typmods may be identifiers, which PostgreSQL does not resolve
/// as columns).
pub const LEAF_NODES: &[&str] = &["RangeVar", "String", "AConst", "ParamRef", "TypeName"];

/// Built-in type names written without `pg_catalog.` (SQL-standard names
/// such as `integer` parse to `pg_catalog.int4`): a cast to one is never to
/// a table's row type.
pub(crate) const BUILTIN_TYPES: &[&str] = &[
    "text",
    "json",
    "jsonb",
    "uuid",
    "date",
    "bytea",
    "inet",
    "cidr",
    "macaddr",
    "money",
    "xml",
    "tsvector",
    "tsquery",
    "regclass",
    "regtype",
    "regproc",
    "oid",
    "name",
    "record",
    "void",
    "point",
    "box",
    "line",
    "lseg",
    "path",
    "polygon",
    "circle",
    "int2",
    "int4",
    "int8",
    "float4",
    "float8",
    "bool",
    "varchar",
    "bpchar",
    "char",
    "timestamptz",
    "timestamp",
    "interval",
    "time",
    "timetz",
    "numeric",
    "citext",
    "hstore",
    "geometry",
    "geography",
];

/// Deepest nesting walked before the statement is reported as too deep.
pub const MAX_DEPTH: usize = 1500;

use super::parse::EXISTS_SUBLINK;

/// The resolver state for one statement.
pub struct Resolver<'a> {
    catalog: &'a Catalog,
    search_path: &'a [String],
    levels: Vec<Level>,
    /// Every use found.
    pub uses: Vec<ColumnUse>,
    depth: usize,
    /// Set when the tree was deeper than [`MAX_DEPTH`].
    pub too_deep: bool,
    /// Inside a function or `DO` body: its parameters and variables (a name
    /// that is a variable and not a column is not a column reference) and
    /// the trigger records `NEW`/`OLD`.
    pub routine: Option<&'a RoutineScope>,
    /// The next query level's output is used by name only (see
    /// [`Level::by_name`]).
    pending_by_name: bool,
    /// ColumnRef nodes visited (for the completeness check).
    pub column_refs_seen: usize,
    /// How the reference being resolved was resolved (for `explain`).
    note: String,
    /// Whether a whole value of a row-typed column uses every column of
    /// its row type (statements: yes; a view's definition: PostgreSQL
    /// records no dependency on them, so dropping one does not touch it).
    pub whole_row_types: bool,
    /// The field selected from the column being resolved (`(c).f`: `Some`
    /// of `Some("f")`; `(c).*`: `Some(None)`), for columns of a row type.
    field: Option<Option<String>>,
}

/// What a use of this `via` means when no more specific note was set.
fn default_resolution(via: &str) -> &'static str {
    match via {
        "star" => "`*` expands to every column",
        "whole_row" => "a whole-row reference uses every column",
        "positional" => "values written or read by position",
        "natural_join" => "a common column of the NATURAL JOIN",
        "ordinal" => "the column at that position of a `*` expansion",
        "outer_capture" => "an outer query has a column of the same name",
        v if v.starts_with("view ") || v.starts_with("materialized_view ") => {
            "the view's definition uses it"
        }
        _ => "named",
    }
}

// ---------------------------------------------------------------- JSON helpers

fn is_star(v: &Value) -> bool {
    matches!(node(v), Some(("AStar", _)))
}

fn alias_parts(alias: &Value) -> (Option<String>, Vec<String>) {
    if alias.is_null() {
        return (None, Vec::new());
    }
    let name = text(alias, "aliasname");
    let cols = list(alias, "colnames")
        .iter()
        .filter_map(string_node)
        .map(str::to_string)
        .collect();
    ((!name.is_empty()).then(|| name.to_string()), cols)
}

/// Columns with these names and no known origin.
fn named_cols(names: &[String]) -> Vec<Col> {
    names
        .iter()
        .map(|n| Col {
            name: n.clone(),
            origin: None,
            deferred: false,
        })
        .collect()
}

fn rename(cols: &mut [Col], names: &[String]) {
    for (c, n) in cols.iter_mut().zip(names) {
        c.name.clone_from(n);
    }
}

fn view_via(kind: RelKind, path: &[String]) -> String {
    let word = match kind {
        RelKind::MaterializedView => "materialized_view",
        _ => "view",
    };
    let mut s = String::new();
    for (i, p) in path.iter().enumerate() {
        if i > 0 {
            s.push_str(" > ");
        }
        if i == 0 {
            s.push_str(word);
            s.push(' ');
        } else {
            s.push_str("view ");
        }
        s.push_str(p);
    }
    s
}

/// Names of table functions whose result is one column named after the
/// function (or its alias).
const SCALAR_SRFS: &[&str] = &[
    "generate_series",
    "generate_subscripts",
    "unnest",
    "regexp_split_to_table",
    "string_to_table",
    "json_array_elements_text",
    "jsonb_array_elements_text",
    "json_object_keys",
    "jsonb_object_keys",
    "now",
    "current_date",
];

impl<'a> Resolver<'a> {
    /// A resolver over `catalog` with the given search path.
    pub fn new(catalog: &'a Catalog, search_path: &'a [String]) -> Self {
        Self {
            catalog,
            search_path,
            levels: Vec::new(),
            uses: Vec::new(),
            depth: 0,
            too_deep: false,
            routine: None,
            pending_by_name: false,
            column_refs_seen: 0,
            note: String::new(),
            whole_row_types: true,
            field: None,
        }
    }

    fn enter(&mut self) -> bool {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.too_deep = true;
        }
        !self.too_deep
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn push(&mut self, u: ColumnUse) {
        self.uses.push(u);
    }

    fn use_rel(
        &mut self,
        rel: &RelInfo,
        column: ColSel,
        access: Access,
        via: &str,
        conf: Confidence,
        reason: Option<String>,
        loc: i32,
    ) {
        let (confidence, reason) = if conf == Confidence::Certain {
            (conf, None)
        } else {
            (conf, reason)
        };
        if !self.catalog.row_typed_columns.is_empty() {
            self.row_typed_uses(rel, &column, access, confidence, reason.as_ref(), loc);
        }
        if let (ColSel::Named(c), Some(Some(f))) = (&column, &self.field) {
            let (c, f) = (c.clone(), f.clone());
            self.unknown_row_field(rel, &c, &f, access, loc);
        }
        self.push(ColumnUse {
            schema: rel.schema.clone(),
            table: rel.name.clone(),
            schema_certain: rel.schema_certain,
            column,
            access,
            via: via.to_string(),
            confidence,
            reason,
            location: loc,
            view_path: Vec::new(),
            scope: self.levels.len(),
            resolution: if self.note.is_empty() {
                default_resolution(via).to_string()
            } else {
                self.note.clone()
            },
        });
    }

    /// A use of columns of `rel` whose type is a relation's row type
    /// (`snap.a` of type `acct`) uses that relation's columns too: `(a).f`
    /// its column `f`, the whole value all of them (a row written must fit
    /// the type; a row read changes shape when a column is dropped).
    fn row_typed_uses(
        &mut self,
        rel: &RelInfo,
        column: &ColSel,
        access: Access,
        confidence: Confidence,
        reason: Option<&String>,
        loc: i32,
    ) {
        let catalog = self.catalog;
        let Some(table) = catalog.get(&rel.schema, &rel.name) else {
            return;
        };
        let covered: Vec<&String> = match column {
            ColSel::Named(c) => vec![c],
            ColSel::All => table.columns.iter().collect(),
            ColSel::FirstN(n) => table.columns.iter().take(*n).collect(),
        };
        for c in covered {
            let Some(row) = catalog.row_type_of(&rel.schema, &rel.name, c) else {
                continue;
            };
            let info = RelInfo::of(row);
            let (sel, via) = match (column, &self.field) {
                (ColSel::Named(_), Some(Some(f))) => (ColSel::Named(f.clone()), "direct"),
                _ if !self.whole_row_types => continue,
                _ => (ColSel::All, "whole_row"),
            };
            let note = std::mem::replace(
                &mut self.note,
                format!(
                    "`{c}` of {}.{} holds rows of {}.{}",
                    rel.schema, rel.name, row.schema, row.name
                ),
            );
            self.push(ColumnUse {
                schema: info.schema.clone(),
                table: info.name.clone(),
                schema_certain: true,
                column: sel,
                access,
                via: via.to_string(),
                confidence,
                reason: reason.cloned(),
                location: loc,
                view_path: Vec::new(),
                scope: self.levels.len(),
                resolution: self.note.clone(),
            });
            self.note = note;
        }
    }

    /// `(v.c).f` where `v.c` is a view column computed by an expression
    /// whose row type is not known here (a function's result, a
    /// subquery): `f` may be column `f` of any table that has one, each a
    /// `possible` use (PostgreSQL records the field's column as a
    /// dependency of the view that selects it).
    fn unknown_row_field(&mut self, rel: &RelInfo, c: &str, f: &str, access: Access, loc: i32) {
        let catalog = self.catalog;
        let Some(view) = catalog.get(&rel.schema, &rel.name) else {
            return;
        };
        if !matches!(view.kind, RelKind::View | RelKind::MaterializedView)
            || catalog.row_type_of(&rel.schema, &rel.name, c).is_some()
        {
            return;
        }
        let Some(i) = view.columns.iter().position(|x| x == c) else {
            return;
        };
        // A base column: of a scalar or composite type, or of a row type
        // found above.
        if view.origins.get(i).is_some_and(Option::is_some) {
            return;
        }
        for t in catalog.relations() {
            if t.kind != RelKind::Table || !t.columns.iter().any(|x| x == f) {
                continue;
            }
            self.push(ColumnUse {
                schema: t.schema.clone(),
                table: t.name.clone(),
                schema_certain: true,
                column: ColSel::Named(f.to_string()),
                access,
                via: "direct".to_string(),
                confidence: Confidence::Possible,
                reason: Some(format!(
                    "field `{f}` of view column {}.{}.{c}, whose row type is not known: it may be {}.{}'s",
                    rel.schema, rel.name, t.schema, t.name
                )),
                location: loc,
                view_path: Vec::new(),
                scope: self.levels.len(),
                resolution: format!("`({c}).{f}`: a field of a value of unknown row type"),
            });
        }
    }

    // ------------------------------------------------------------- relations

    fn find_cte(&self, name: &str) -> Option<Output> {
        self.levels
            .iter()
            .rev()
            .find_map(|l| l.ctes.iter().rev().find(|c| c.name == name))
            .map(|c| c.out.clone())
    }

    /// Resolves a RangeVar to a CTE (`Err`) or a relation (`Ok`).
    fn relation(&self, rv: &Value) -> Result<RelInfo, Output> {
        if text(rv, "schemaname").is_empty() {
            if let Some(out) = self.find_cte(text(rv, "relname")) {
                return Err(out);
            }
        }
        Ok(self.table(rv))
    }

    /// A RangeVar naming a transition table of the trigger whose body is
    /// resolved (no CTE of that name hides it): the trigger's table, and
    /// the alias it goes by.
    fn transition_table(&self, rv: &Value) -> Option<(RelInfo, Value)> {
        let name = text(rv, "relname");
        if !text(rv, "schemaname").is_empty() || self.find_cte(name).is_some() {
            return None;
        }
        let (schema, table) = self.routine?.transition_table(name)?;
        let rel = self
            .catalog
            .get(schema, table)
            .map(RelInfo::of)
            .unwrap_or_else(|| RelInfo {
                schema: schema.to_string(),
                name: table.to_string(),
                schema_certain: true,
                kind: Some(RelKind::Table),
            });
        let alias = match field(rv, "alias") {
            a if a.is_null() => serde_json::json!({ "aliasname": name }),
            a => a.clone(),
        };
        Some((rel, alias))
    }

    /// Resolves a RangeVar to a relation, whatever CTEs are in scope: the
    /// target of an INSERT, UPDATE, DELETE or MERGE is always a table (a
    /// CTE of the same name does not hide it).
    fn table(&self, rv: &Value) -> RelInfo {
        let schema = text(rv, "schemaname");
        let name = text(rv, "relname");
        if schema.is_empty() {
            if let Some(rel) = self.catalog.lookup(self.search_path, name) {
                return RelInfo::of(rel);
            }
            let assumed = self
                .search_path
                .iter()
                .find(|s| !s.starts_with('$') && s.as_str() != "pg_catalog")
                .cloned()
                .unwrap_or_else(|| "public".to_string());
            return RelInfo {
                schema: assumed,
                name: name.to_string(),
                schema_certain: false,
                kind: None,
            };
        }
        let kind = self.catalog.get(schema, name).map(|r| r.kind);
        RelInfo {
            schema: schema.to_string(),
            name: name.to_string(),
            schema_certain: true,
            kind,
        }
    }

    /// Builds the scope item for a relation, emitting the uses of a view.
    fn rel_item(&mut self, rel: RelInfo, alias: &Value, loc: i32) -> Item {
        let (aliasname, colnames) = alias_parts(alias);
        let catalog = self.catalog;
        let known = catalog
            .get(&rel.schema, &rel.name)
            .filter(|_| rel.schema_certain);
        if let Some(r) = known {
            if matches!(r.kind, RelKind::View | RelKind::MaterializedView) {
                let me = format!("{}.{}", r.schema, r.name);
                for u in &r.uses {
                    let mut path = vec![me.clone()];
                    path.extend(u.path.iter().cloned());
                    let via = view_via(r.kind, &path);
                    let base = RelInfo {
                        schema: u.schema.clone(),
                        name: u.table.clone(),
                        schema_certain: true,
                        kind: Some(RelKind::Table),
                    };
                    let col = u.column.clone().map_or(ColSel::All, ColSel::Named);
                    let reason = (u.confidence != Confidence::Certain).then(|| {
                        format!("{me}'s definition may use it: a field of a value whose row type is not known")
                    });
                    self.use_rel(&base, col, u.access, &via, u.confidence, reason, loc);
                    if let Some(last) = self.uses.last_mut() {
                        last.view_path = path;
                    }
                }
            }
        }
        let mut cols = known.map(|r| {
            r.columns
                .iter()
                .map(|c| Col {
                    name: c.clone(),
                    origin: Some((rel.clone(), c.clone())),
                    deferred: false,
                })
                .collect::<Vec<_>>()
        });
        let mut aliased = 0;
        if let Some(cols) = cols.as_mut() {
            rename(cols, &colnames);
            if !colnames.is_empty() {
                aliased = colnames.len();
                if colnames.len() >= cols.len() {
                    // Every column is renamed: dropping any leaves more
                    // aliases than columns, which PostgreSQL refuses.
                    self.use_rel(
                        &rel,
                        ColSel::All,
                        Access::Read,
                        "positional",
                        Confidence::Certain,
                        None,
                        loc,
                    );
                }
            }
        } else if !colnames.is_empty() {
            // Column aliases over a table whose columns are unknown: the first
            // N columns are renamed, but which ones is unknown.
            self.use_rel(
                &rel,
                ColSel::FirstN(colnames.len()),
                Access::Read,
                "positional",
                Confidence::Possible,
                Some("column aliases over a table not in the schema".into()),
                loc,
            );
        }
        let open = cols.is_none() && !colnames.is_empty();
        let passthrough = if cols.is_none() && colnames.is_empty() {
            vec![rel.clone()]
        } else {
            Vec::new()
        };
        Item {
            refname: Some(aliasname.unwrap_or_else(|| rel.name.clone())),
            hidden: false,
            cols: cols.or_else(|| (!colnames.is_empty()).then(|| named_cols(&colnames))),
            rel: Some(rel),
            passthrough,
            members: Vec::new(),
            aliased,
            open,
            layout: None,
            merged_only: false,
        }
    }

    fn cte_item(&mut self, out: Output, name: &str, alias: &Value) -> Item {
        let (aliasname, colnames) = alias_parts(alias);
        let mut cols = out.cols;
        if let Some(c) = cols.as_mut() {
            rename(c, &colnames);
        }
        Item {
            refname: Some(aliasname.unwrap_or_else(|| name.to_string())),
            hidden: false,
            rel: None,
            cols,
            passthrough: out.passthrough,
            members: Vec::new(),
            aliased: 0,
            open: false,
            // Names resolve through the columns in order: column aliases
            // rename by position, and known columns stay known next to
            // unknown ones.
            layout: out.slots.map(|s| self.apply_aliases(s, &colnames).into()),
            merged_only: false,
        }
    }

    /// Pushes the level of a query, taking the pending "used by name" mark.
    fn push_query_level(&mut self) {
        let by_name = std::mem::take(&mut self.pending_by_name);
        self.levels.push(Level {
            by_name,
            ..Level::default()
        });
    }

    /// Analyses a subquery whose output is used by column name only.
    fn by_name_statement(&mut self, v: &Value) -> Output {
        self.pending_by_name = true;
        let out = self.sub_statement(v);
        self.pending_by_name = false;
        out
    }

    // The vector is made non-empty just above the index (returning
    // `last_mut()` conditionally does not pass the borrow checker).
    #[allow(clippy::indexing_slicing)]
    fn top(&mut self) -> &mut Level {
        if self.levels.is_empty() {
            self.levels.push(Level::default());
        }
        let n = self.levels.len() - 1;
        &mut self.levels[n]
    }

    /// Item `ii` of query level `li`.
    fn item(&self, li: usize, ii: usize) -> Option<&Item> {
        self.levels.get(li)?.items.get(ii)
    }

    fn add_item(&mut self, item: Item) -> usize {
        let level = self.top();
        level.items.push(item);
        level.items.len() - 1
    }

    // ------------------------------------------------------------ statements

    /// Analyses a query node and returns its output columns with the base
    /// column (`schema`, `table`, `column`) each passes through, if any.
    pub fn output_columns(&mut self, v: &Value) -> Vec<OutputColumn> {
        let out = self.sub_statement(v);
        out.cols
            .map(|c| {
                c.into_iter()
                    .map(|c| (c.name, c.origin.map(|(r, col)| (r.schema, r.name, col))))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A write of column `name` of `rel`; through an updatable view, also a
    /// write of the base column the view column passes through.
    fn write_column(&mut self, rel: &RelInfo, name: &str, loc: i32) {
        self.use_rel(
            rel,
            ColSel::Named(name.to_string()),
            Access::Write,
            "direct",
            Confidence::Certain,
            None,
            loc,
        );
        let catalog = self.catalog;
        let Some(view) = catalog
            .get(&rel.schema, &rel.name)
            .filter(|r| r.kind != RelKind::Table)
        else {
            return;
        };
        let Some(origin) = view
            .columns
            .iter()
            .position(|c| c == name)
            .and_then(|i| view.origins.get(i).cloned().flatten())
        else {
            return;
        };
        let mut path = vec![format!("{}.{}", view.schema, view.name)];
        path.extend(origin.through.iter().cloned());
        let base = RelInfo {
            schema: origin.schema.clone(),
            name: origin.table.clone(),
            schema_certain: true,
            kind: Some(RelKind::Table),
        };
        let via = view_via(view.kind, &path);
        self.use_rel(
            &base,
            ColSel::Named(origin.column.clone()),
            Access::Write,
            &via,
            Confidence::Certain,
            None,
            loc,
        );
        if let Some(last) = self.uses.last_mut() {
            last.view_path = path;
        }
    }

    /// Analyses a top-level statement node (`{"node": {...}}`).
    pub fn statement_node(&mut self, v: &Value) {
        let _ = self.sub_statement(v);
    }

    fn sub_statement(&mut self, v: &Value) -> Output {
        match node(v) {
            Some((kind, n)) => self.statement(kind, n),
            None => Output::default(),
        }
    }

    fn statement(&mut self, kind: &str, n: &Value) -> Output {
        if !self.enter() {
            self.leave();
            return Output::default();
        }
        let out = match kind {
            "SelectStmt" => self.select(n),
            "InsertStmt" => self.insert(n),
            "UpdateStmt" => self.update(n),
            "DeleteStmt" => self.delete(n),
            "MergeStmt" => self.merge(n),
            "CopyStmt" => {
                self.copy(n);
                Output::default()
            }
            "CreateTableAsStmt" | "ViewStmt" | "ExplainStmt" | "PrepareStmt"
            | "DeclareCursorStmt" => self.sub_statement(field(n, "query")),
            "RawStmt" => self.sub_statement(field(n, "stmt")),
            "IndexStmt" => {
                self.index(n);
                Output::default()
            }
            "CreateTrigStmt" => {
                self.trigger(n);
                Output::default()
            }
            // `ANALYZE t (c)`, `VACUUM (ANALYZE) t (c)`: fail once `c` is
            // dropped.
            "VacuumStmt" => {
                for r in list(n, "rels") {
                    if let Some(("VacuumRelation", vr)) = node(r) {
                        let cols: Vec<&str> =
                            list(vr, "va_cols").iter().filter_map(string_node).collect();
                        self.relation_columns(field(vr, "relation"), &cols, &[]);
                    }
                }
                Output::default()
            }
            // `GRANT|REVOKE SELECT (c) ON t …`.
            "GrantStmt" => {
                let cols: Vec<&str> = list(n, "privileges")
                    .iter()
                    .filter_map(|p| match node(p) {
                        Some(("AccessPriv", ap)) => Some(list(ap, "cols")),
                        _ => None,
                    })
                    .flatten()
                    .filter_map(string_node)
                    .collect();
                if !cols.is_empty() {
                    for o in list(n, "objects") {
                        if let Some(("RangeVar", rv)) = node(o) {
                            self.relation_columns(rv, &cols, &[]);
                        }
                    }
                }
                Output::default()
            }
            // `CREATE STATISTICS … ON c, (expr) FROM t`.
            "CreateStatsStmt" => {
                let elems: Vec<&Value> = list(n, "exprs")
                    .iter()
                    .filter_map(|e| match node(e) {
                        Some(("StatsElem", se)) => Some(se),
                        _ => None,
                    })
                    .collect();
                let cols: Vec<&str> = elems
                    .iter()
                    .map(|se| text(se, "name"))
                    .filter(|c| !c.is_empty())
                    .collect();
                let exprs: Vec<&Value> = elems.iter().map(|se| field(se, "expr")).collect();
                if let [r] = list(n, "relations") {
                    if let Some(("RangeVar", rv)) = node(r) {
                        self.relation_columns(rv, &cols, &exprs);
                    }
                }
                Output::default()
            }
            _ => {
                self.levels.push(Level::default());
                let rel = field(n, "relation");
                if rel.get("relname").is_some() {
                    if let Ok(info) = self.relation(rel) {
                        let item =
                            self.rel_item(info, field(rel, "alias"), int(rel, "location") as i32);
                        self.add_item(item);
                    }
                }
                self.walk_fields(n);
                self.levels.pop();
                Output::default()
            }
        };
        self.leave();
        out
    }

    fn with_clause(&mut self, w: &Value) {
        if w.is_null() {
            return;
        }
        let recursive = flag(w, "recursive");
        for cte in list(w, "ctes") {
            let Some(("CommonTableExpr", c)) = node(cte) else {
                continue;
            };
            let name = text(c, "ctename").to_string();
            let colnames: Vec<String> = list(c, "aliascolnames")
                .iter()
                .filter_map(string_node)
                .map(str::to_string)
                .collect();
            if recursive {
                let placeholder = Output {
                    cols: (!colnames.is_empty()).then(|| named_cols(&colnames)),
                    passthrough: Vec::new(),
                    slots: None,
                };
                self.top().ctes.push(Cte {
                    name: name.clone(),
                    out: placeholder,
                });
            }
            let mut out = self.by_name_statement(field(c, "ctequery"));
            if let Some(cols) = out.cols.as_mut() {
                rename(cols, &colnames);
            } else if !colnames.is_empty() && out.slots.is_none() {
                out.cols = Some(named_cols(&colnames));
            }
            out.slots = out.slots.map(|s| self.apply_aliases(s, &colnames));
            let level = self.top();
            level.ctes.retain(|x| x.name != name);
            level.ctes.push(Cte { name, out });
        }
    }

    fn select(&mut self, s: &Value) -> Output {
        self.push_query_level();
        self.with_clause(field(s, "with_clause"));
        let op = int(s, "op");
        if op > 1 {
            // Set operations combine outputs by position.
            self.top().by_name = false;
        }
        let out = if op > 1 {
            let l = self.select(field(s, "larg"));
            let r = self.select(field(s, "rarg"));
            let names: Vec<String> = l.cols.iter().flatten().map(|c| c.name.clone()).collect();
            self.top().outputs = names;
            self.sort_like(list(s, "sort_clause"));
            self.expr(field(s, "limit_offset"));
            self.expr(field(s, "limit_count"));
            let mut passthrough = l.passthrough;
            passthrough.extend(r.passthrough);
            // The branches' columns were used where they are (a `*` there
            // is a use): naming an output column uses nothing more.
            let cols: Option<Vec<Col>> = l.cols.map(|cols| {
                cols.into_iter()
                    .map(|c| Col {
                        name: c.name,
                        origin: None,
                        deferred: false,
                    })
                    .collect()
            });
            let slots = match &cols {
                Some(c) => plain_slots(c),
                None => vec![Slot::Unknown(passthrough.clone())],
            };
            Output {
                cols,
                passthrough,
                slots: Some(slots),
            }
        } else if !list(s, "values_lists").is_empty() {
            let rows = list(s, "values_lists");
            for row in rows {
                self.expr(row);
            }
            let width = rows
                .first()
                .and_then(|r| match node(r) {
                    Some(("List", l)) => Some(list(l, "items").len()),
                    _ => None,
                })
                .unwrap_or(0);
            let cols: Vec<Col> = (1..=width)
                .map(|i| Col {
                    name: format!("column{i}"),
                    origin: None,
                    deferred: false,
                })
                .collect();
            Output {
                slots: Some(plain_slots(&cols)),
                cols: Some(cols),
                passthrough: Vec::new(),
            }
        } else {
            // The FROM list's columns in order, for a `*` of the select
            // list.
            let want = list(s, "target_list").iter().any(|t| match node(t) {
                Some(("ResTarget", rt)) => match node(field(rt, "val")) {
                    Some(("ColumnRef", cr)) => {
                        list(cr, "fields").len() == 1
                            && list(cr, "fields").first().is_some_and(is_star)
                    }
                    _ => false,
                },
                _ => false,
            });
            // `SELECT DISTINCT`: every output column decides which rows
            // are kept, whether anyone names it or not (DISTINCT ON, only
            // its expressions).
            if list(s, "distinct_clause").iter().any(|d| node(d).is_none()) {
                self.top().by_name = false;
            }
            let mut from_layout = Vec::new();
            for item in list(s, "from_clause") {
                from_layout.extend(self.range_item(item, want));
            }
            if want {
                self.top().from_layout = Some(from_layout);
            }
            let out = self.target_list(list(s, "target_list"), "star");
            self.top().outputs = out.cols.iter().flatten().map(|c| c.name.clone()).collect();
            self.expr(field(s, "where_clause"));
            for g in list(s, "group_clause") {
                match node(g) {
                    Some(("AConst", c)) => self.ordinal(c),
                    _ => self.expr(g),
                }
            }
            self.expr(field(s, "having_clause"));
            for w in list(s, "window_clause") {
                self.expr(w);
            }
            self.sort_like(list(s, "distinct_clause"));
            self.sort_like(list(s, "sort_clause"));
            self.expr(field(s, "limit_offset"));
            self.expr(field(s, "limit_count"));
            for l in list(s, "locking_clause") {
                self.expr(l);
            }
            out
        };
        self.levels.pop();
        out
    }

    /// ORDER BY / DISTINCT ON: a bare name that is an output column refers to
    /// the output; an integer is an ordinal.
    fn sort_like(&mut self, items: &[Value]) {
        for it in items {
            let inner = match node(it) {
                Some(("SortBy", sb)) => field(sb, "node"),
                _ => it,
            };
            if let Some(("ColumnRef", cr)) = node(inner) {
                let fields = list(cr, "fields");
                if fields.len() == 1 {
                    if let Some(name) = fields.first().and_then(string_node) {
                        if self
                            .levels
                            .last()
                            .is_some_and(|l| l.outputs.iter().any(|o| o == name))
                        {
                            // The output column, not a column reference.
                            self.column_refs_seen += 1;
                            continue;
                        }
                    }
                }
            }
            if let Some(("AConst", c)) = node(inner) {
                self.ordinal(c);
                continue;
            }
            self.expr(inner);
        }
    }

    /// `ORDER BY k` / `GROUP BY k` where output column k comes from a `*`:
    /// which base column it is depends on the columns before it.
    fn ordinal(&mut self, c: &Value) {
        let Some(k) = field(field(c, "val"), "Ival")
            .get("ival")
            .and_then(Value::as_i64)
        else {
            return;
        };
        let Some(Some(col)) = usize::try_from(k - 1)
            .ok()
            .and_then(|i| {
                self.levels
                    .last()
                    .filter(|l| l.star_unknown_from.is_none_or(|u| i < u))
                    .and_then(|l| l.star_outputs.get(i))
            })
            .cloned()
        else {
            return;
        };
        if let Some((rel, name)) = &col.origin {
            let loc = int(c, "location") as i32;
            self.use_rel(
                rel,
                ColSel::Named(name.clone()),
                Access::Read,
                "ordinal",
                Confidence::Certain,
                None,
                loc,
            );
        }
    }

    fn target_list(&mut self, targets: &[Value], star_via: &str) -> Output {
        // The columns in order are only needed of a query used by name
        // (a derived table, a CTE).
        let by_name = self.levels.last().is_some_and(|l| l.by_name);
        let mut out = Output {
            cols: Some(Vec::new()),
            passthrough: Vec::new(),
            slots: by_name.then(Vec::new),
        };
        for t in targets {
            let Some(("ResTarget", rt)) = node(t) else {
                self.expr(t);
                continue;
            };
            let val = field(rt, "val");
            let alias = text(rt, "name");
            if let Some(("ColumnRef", cr)) = node(val) {
                let fields = list(cr, "fields");
                if fields.last().is_some_and(is_star) {
                    self.column_refs_seen += 1;
                    let loc = int(cr, "location") as i32;
                    let emit = !self.levels.last().is_some_and(|l| l.by_name);
                    let qualifier = fields.split_last().map(|(_, q)| q).unwrap_or_default();
                    let expanded = self.star(qualifier, star_via, loc, emit);
                    // In PostgreSQL's order when every column is known (a
                    // join's merged columns first).
                    let ordered: Option<Vec<Col>> = expanded.slots.as_ref().and_then(|slots| {
                        slots
                            .iter()
                            .map(|s| match s {
                                Slot::Col(c) if s.is_fixed() => Some(c.col.clone()),
                                _ => None,
                            })
                            .collect()
                    });
                    let level = self.top();
                    if let Some(cols) = ordered.as_ref().or(expanded.cols.as_ref()) {
                        level.star_outputs.extend(cols.iter().cloned().map(Some));
                    } else {
                        if level.star_unknown_from.is_none() {
                            level.star_unknown_from = Some(level.star_outputs.len());
                        }
                        level.star_outputs.push(None);
                    }
                    match (out.cols.as_mut(), expanded.cols) {
                        (Some(mine), Some(theirs)) => mine.extend(theirs),
                        _ => out.cols = None,
                    }
                    out.passthrough.extend(expanded.passthrough);
                    if let (Some(mine), Some(theirs)) = (out.slots.as_mut(), expanded.slots) {
                        mine.extend(theirs);
                    }
                    continue;
                }
            }
            self.top().star_outputs.push(None);
            let before = self.uses.len();
            self.expr(val);
            let name = if alias.is_empty() {
                Self::derived_name(val)
            } else {
                alias.to_string()
            };
            let origin = match (node(val), self.uses.get(before..).unwrap_or_default()) {
                (Some(("ColumnRef", _)), [one]) => match &one.column {
                    ColSel::Named(c) => Some((
                        RelInfo {
                            schema: one.schema.clone(),
                            name: one.table.clone(),
                            schema_certain: one.schema_certain,
                            kind: None,
                        },
                        c.clone(),
                    )),
                    _ => None,
                },
                _ => None,
            };
            let col = Col {
                name,
                origin,
                deferred: false,
            };
            if let Some(slots) = out.slots.as_mut() {
                // Naming it uses its base column again (its use here was
                // already reported).
                let refs = col
                    .origin
                    .iter()
                    .map(|(rel, c)| Dep {
                        rel: rel.clone(),
                        sel: ColSel::Named(c.clone()),
                        via: None,
                        conf: Confidence::Certain,
                        reason: None,
                    })
                    .collect();
                slots.push(Slot::Col(SlotCol {
                    col: col.clone(),
                    refs,
                    floating: false,
                    maybe: false,
                    explicit: true,
                }));
            }
            if let Some(cols) = out.cols.as_mut() {
                cols.push(col);
            }
        }
        out
    }

    fn derived_name(val: &Value) -> String {
        match node(val) {
            Some(("ColumnRef", cr)) => list(cr, "fields")
                .last()
                .and_then(string_node)
                .unwrap_or("?column?")
                .to_string(),
            Some(("FuncCall", f)) => list(f, "funcname")
                .last()
                .and_then(string_node)
                .unwrap_or("?column?")
                .to_string(),
            Some(("TypeCast", tc)) => Self::derived_name(field(tc, "arg")),
            _ => "?column?".to_string(),
        }
    }

    /// Expands `*` (empty qualifier) or `q.*`, emitting uses.
    fn star(&mut self, qualifier: &[Value], via: &str, loc: i32, emit: bool) -> Output {
        let mut out = Output {
            cols: Some(Vec::new()),
            passthrough: Vec::new(),
            slots: Some(Vec::new()),
        };
        // `*` is the FROM list's columns in order (a join's merged columns
        // first).
        let from_layout = if qualifier.is_empty() {
            self.levels.last().and_then(|l| l.from_layout.clone())
        } else {
            None
        };
        if emit && from_layout.is_none() {
            // Used where it is: its columns in order are not needed.
            out.slots = None;
        }
        let targets: Vec<(usize, usize)> = if qualifier.is_empty() {
            let li = self.levels.len().saturating_sub(1);
            let n = self.levels.get(li).map_or(0, |l| l.items.len());
            (0..n)
                .filter(|&i| self.item(li, i).is_some_and(|it| !it.hidden))
                .map(|i| (li, i))
                .collect()
        } else {
            let names: Vec<&str> = qualifier.iter().filter_map(string_node).collect();
            let found = self.find_qualified_item(&names);
            if let (None, [name]) = (found, names.as_slice()) {
                // `NEW.*` of a trigger record (or a `%ROWTYPE` variable).
                if let Some((schema, table)) = self.routine.and_then(|r| r.whole_record_table(name))
                {
                    let sel = (via == "star").then_some(FieldSel::Star);
                    self.record_use(schema, table, sel, loc);
                    out.cols = None;
                    out.slots = None;
                }
            }
            found.into_iter().collect()
        };
        for (li, ii) in targets {
            let Some(item) = self.item(li, ii).cloned() else {
                continue;
            };
            if from_layout.is_none() {
                if let Some(slots) = out.slots.as_mut() {
                    slots.extend(item_layout(&item));
                }
            }
            let mut cols = item.cols;
            if emit {
                self.whole_item(li, ii, via, loc, Confidence::Certain, None);
            } else if item.rel.is_some() || !item.members.is_empty() {
                for c in cols.iter_mut().flatten() {
                    c.deferred = true;
                }
            }
            match (out.cols.as_mut(), cols) {
                (Some(mine), Some(theirs)) => mine.extend(theirs),
                _ => out.cols = None,
            }
            out.passthrough.extend(item.passthrough);
        }
        if from_layout.is_some() {
            out.slots = from_layout;
        }
        out
    }

    /// A use of every column of an item (star or whole-row). Derived tables
    /// add nothing: their own query already named the base columns.
    fn whole_item(
        &mut self,
        li: usize,
        ii: usize,
        via: &str,
        loc: i32,
        conf: Confidence,
        reason: Option<String>,
    ) {
        let Some(item) = self.levels.get(li).and_then(|l| l.items.get(ii)).cloned() else {
            return;
        };
        if let Some(rel) = &item.rel {
            self.use_rel(rel, ColSel::All, Access::Read, via, conf, reason, loc);
        } else if !item.members.is_empty() {
            for m in item.members {
                self.whole_item(li, m, via, loc, conf, reason.clone());
            }
        } else if let Some(layout) = item
            .layout
            .as_ref()
            .filter(|_| item.cols.is_none() || item.merged_only)
        {
            // A derived table or CTE with columns not in the schema: what
            // naming each of its columns uses (the known ones may have been
            // used inside already), and every column of the relations not
            // in the schema.
            for slot in layout.iter() {
                let deps: Vec<Dep> = match slot {
                    Slot::Col(c) => c.refs.clone(),
                    Slot::Unknown(rels) => rels
                        .iter()
                        .map(|r| Dep {
                            rel: r.clone(),
                            sel: ColSel::All,
                            via: None,
                            conf: Confidence::Certain,
                            reason: None,
                        })
                        .collect(),
                };
                for d in deps {
                    let (c, r) = if d.conf < conf {
                        (d.conf, d.reason)
                    } else {
                        (conf, reason.clone())
                    };
                    self.use_rel(&d.rel, d.sel, Access::Read, via, c, r, loc);
                }
            }
        } else if let Some(cols) = &item.cols {
            // A derived table or CTE: the base columns its outputs pass
            // through (a `*` inside it used nothing by itself).
            for c in cols.iter().filter(|c| c.deferred) {
                if let Some((rel, name)) = &c.origin {
                    self.use_rel(
                        rel,
                        ColSel::Named(name.clone()),
                        Access::Read,
                        via,
                        conf,
                        reason.clone(),
                        loc,
                    );
                }
            }
        } else {
            for rel in &item.passthrough {
                self.use_rel(
                    rel,
                    ColSel::All,
                    Access::Read,
                    via,
                    conf,
                    reason.clone(),
                    loc,
                );
            }
        }
    }

    fn insert(&mut self, n: &Value) -> Output {
        self.push_query_level();
        self.with_clause(field(n, "with_clause"));
        let rv = field(n, "relation");
        let loc = int(rv, "location") as i32;
        let rel = self.table(rv);
        let cols = list(n, "cols");
        for c in cols {
            if let Some(("ResTarget", rt)) = node(c) {
                let name = text(rt, "name").to_string();
                self.write_column(&rel, &name, int(rt, "location") as i32);
                for ind in list(rt, "indirection") {
                    self.expr(ind);
                }
            }
        }
        let src = field(n, "select_stmt");
        if !src.is_null() {
            let out = self.sub_statement(src);
            if cols.is_empty() {
                let sel = out.cols.map_or(ColSel::All, |c| ColSel::FirstN(c.len()));
                self.use_rel(
                    &rel,
                    sel,
                    Access::Write,
                    "positional",
                    Confidence::Certain,
                    None,
                    loc,
                );
            }
        }
        let item = self.rel_item(rel.clone(), field(rv, "alias"), loc);
        let mut excluded = item.clone();
        excluded.refname = Some("excluded".into());
        let target = self.add_item(item);
        let oc = field(n, "on_conflict_clause");
        if !oc.is_null() {
            // The arbiter (index columns and predicate) sees only the target.
            let infer = field(oc, "infer");
            for e in list(infer, "index_elems") {
                self.index_elem(e, target);
            }
            self.expr(field(infer, "where_clause"));
            self.add_item(excluded);
            self.set_list(list(oc, "target_list"), &rel);
            self.expr(field(oc, "where_clause"));
        }
        let out = self.returning(field(n, "returning_clause"));
        self.levels.pop();
        out
    }

    fn index_elem(&mut self, e: &Value, target: usize) {
        let Some(("IndexElem", ie)) = node(e) else {
            self.expr(e);
            return;
        };
        let name = text(ie, "name");
        if !name.is_empty() {
            let li = self.levels.len() - 1;
            self.item_column(li, target, name, Access::Read, Confidence::Certain, None, 0);
        }
        self.expr(field(ie, "expr"));
    }

    fn index(&mut self, n: &Value) {
        self.levels.push(Level::default());
        let rv = field(n, "relation");
        if let Ok(rel) = self.relation(rv) {
            let item = self.rel_item(rel, &NULL, int(rv, "location") as i32);
            let target = self.add_item(item);
            for e in list(n, "index_params")
                .iter()
                .chain(list(n, "index_including_params"))
            {
                self.index_elem(e, target);
            }
            self.expr(field(n, "where_clause"));
        }
        self.levels.pop();
    }

    /// Columns `cols` of the table `rv` names, and expressions over it,
    /// in a utility statement that names them (reads, as `CREATE INDEX`).
    fn relation_columns(&mut self, rv: &Value, cols: &[&str], exprs: &[&Value]) {
        self.levels.push(Level::default());
        if let Ok(rel) = self.relation(rv) {
            let loc = int(rv, "location") as i32;
            let item = self.rel_item(rel, &NULL, loc);
            let target = self.add_item(item);
            let li = self.levels.len() - 1;
            for c in cols {
                self.item_column(li, target, c, Access::Read, Confidence::Certain, None, loc);
            }
            for e in exprs {
                self.expr(e);
            }
        }
        self.levels.pop();
    }

    /// `CREATE TRIGGER … UPDATE OF c, … ON t … WHEN (NEW.c …)`: the column list
    /// and the condition's `NEW`/`OLD` columns are columns of `t`.
    fn trigger(&mut self, n: &Value) {
        self.levels.push(Level::default());
        let rv = field(n, "relation");
        if let Ok(rel) = self.relation(rv) {
            let loc = int(rv, "location") as i32;
            let item = self.rel_item(rel, &NULL, loc);
            let target = self.add_item(item.clone());
            for name in ["new", "old"] {
                let mut row = item.clone();
                row.refname = Some(name.to_string());
                self.add_item(row);
            }
            let li = self.levels.len() - 1;
            for c in list(n, "columns").iter().filter_map(string_node) {
                self.item_column(li, target, c, Access::Read, Confidence::Certain, None, loc);
            }
            self.expr(field(n, "when_clause"));
        }
        self.levels.pop();
    }

    /// `SET col = expr` lists (UPDATE, ON CONFLICT, MERGE).
    fn set_list(&mut self, targets: &[Value], rel: &RelInfo) {
        for t in targets {
            let Some(("ResTarget", rt)) = node(t) else {
                continue;
            };
            let name = text(rt, "name").to_string();
            self.write_column(rel, &name, int(rt, "location") as i32);
            for ind in list(rt, "indirection") {
                self.expr(ind);
            }
            let val = field(rt, "val");
            match node(val) {
                Some(("MultiAssignRef", m)) => self.expr(field(m, "source")),
                _ => self.expr(val),
            }
        }
    }

    fn returning(&mut self, r: &Value) -> Output {
        if r.is_null() {
            return Output::default();
        }
        self.target_list(list(r, "exprs"), "star")
    }

    fn dml_target(&mut self, n: &Value) -> Option<RelInfo> {
        let rv = field(n, "relation");
        let rel = self.table(rv);
        let item = self.rel_item(rel.clone(), field(rv, "alias"), int(rv, "location") as i32);
        self.add_item(item);
        Some(rel)
    }

    fn update(&mut self, n: &Value) -> Output {
        self.push_query_level();
        self.with_clause(field(n, "with_clause"));
        let Some(rel) = self.dml_target(n) else {
            self.levels.pop();
            return Output::default();
        };
        for f in list(n, "from_clause") {
            self.range_item(f, false);
        }
        self.set_list(list(n, "target_list"), &rel);
        self.expr(field(n, "where_clause"));
        let out = self.returning(field(n, "returning_clause"));
        self.levels.pop();
        out
    }

    fn delete(&mut self, n: &Value) -> Output {
        self.push_query_level();
        self.with_clause(field(n, "with_clause"));
        if self.dml_target(n).is_none() {
            self.levels.pop();
            return Output::default();
        }
        for f in list(n, "using_clause") {
            self.range_item(f, false);
        }
        self.expr(field(n, "where_clause"));
        let out = self.returning(field(n, "returning_clause"));
        self.levels.pop();
        out
    }

    fn merge(&mut self, n: &Value) -> Output {
        self.push_query_level();
        self.with_clause(field(n, "with_clause"));
        let Some(rel) = self.dml_target(n) else {
            self.levels.pop();
            return Output::default();
        };
        self.range_item(field(n, "source_relation"), false);
        self.expr(field(n, "join_condition"));
        for w in list(n, "merge_when_clauses") {
            let Some(("MergeWhenClause", mw)) = node(w) else {
                continue;
            };
            self.expr(field(mw, "condition"));
            let targets = list(mw, "target_list");
            let values = list(mw, "values");
            match int(mw, "command_type") {
                4 => {
                    // INSERT: names are written; without names it is positional.
                    for t in targets {
                        if let Some(("ResTarget", rt)) = node(t) {
                            let name = text(rt, "name").to_string();
                            self.use_rel(
                                &rel,
                                ColSel::Named(name),
                                Access::Write,
                                "direct",
                                Confidence::Certain,
                                None,
                                int(rt, "location") as i32,
                            );
                        }
                    }
                    if targets.is_empty() && !values.is_empty() {
                        self.use_rel(
                            &rel,
                            ColSel::FirstN(values.len()),
                            Access::Write,
                            "positional",
                            Confidence::Certain,
                            None,
                            0,
                        );
                    }
                    for v in values {
                        self.expr(v);
                    }
                }
                3 => self.set_list(targets, &rel),
                _ => {}
            }
        }
        let out = self.returning(field(n, "returning_clause"));
        self.levels.pop();
        out
    }

    fn copy(&mut self, n: &Value) {
        let rv = field(n, "relation");
        if rv.get("relname").is_some() {
            if let Ok(rel) = self.relation(rv) {
                let access = if flag(n, "is_from") {
                    Access::Write
                } else {
                    Access::Read
                };
                let loc = int(rv, "location") as i32;
                let attlist = list(n, "attlist");
                if attlist.is_empty() {
                    self.use_rel(
                        &rel,
                        ColSel::All,
                        access,
                        "positional",
                        Confidence::Certain,
                        None,
                        loc,
                    );
                } else {
                    for a in attlist.iter().filter_map(string_node) {
                        self.use_rel(
                            &rel,
                            ColSel::Named(a.to_string()),
                            access,
                            "direct",
                            Confidence::Certain,
                            None,
                            loc,
                        );
                    }
                }
                self.levels.push(Level::default());
                let item = self.rel_item(rel, &NULL, loc);
                self.add_item(item);
                self.expr(field(n, "where_clause"));
                self.levels.pop();
            }
        }
        let q = field(n, "query");
        if !q.is_null() {
            self.sub_statement(q);
        }
    }

    // ------------------------------------------------------------ FROM items

    /// Adds a FROM item to the current level; returns its output columns
    /// in order when `want` (else nothing).
    fn range_item(&mut self, v: &Value, want: bool) -> Vec<Slot> {
        if !self.enter() {
            self.leave();
            return vec![Slot::Unknown(Vec::new())];
        }
        let before = self.top().items.len();
        let mut layout = None;
        match node(v) {
            Some(("RangeVar", rv)) => {
                let loc = int(rv, "location") as i32;
                let item = if let Some((rel, alias)) = self.transition_table(rv) {
                    // A trigger's transition table: the trigger table's rows.
                    self.rel_item(rel, &alias, loc)
                } else {
                    match self.relation(rv) {
                        Ok(rel) => self.rel_item(rel, field(rv, "alias"), loc),
                        Err(out) => self.cte_item(out, text(rv, "relname"), field(rv, "alias")),
                    }
                };
                self.add_item(item);
            }
            Some(("RangeSubselect", rs)) => {
                let lateral = flag(rs, "lateral");
                // A non-LATERAL subquery cannot see its FROM siblings.
                let hidden = if lateral {
                    None
                } else {
                    Some(std::mem::take(&mut self.top().items))
                };
                let hidden_merged = if lateral {
                    None
                } else {
                    Some(std::mem::take(&mut self.top().merged))
                };
                let out = self.by_name_statement(field(rs, "subquery"));
                if let Some(items) = hidden {
                    self.top().items = items;
                }
                if let Some(m) = hidden_merged {
                    self.top().merged = m;
                }
                let (aliasname, _) = alias_parts(field(rs, "alias"));
                let item =
                    self.cte_item(out, aliasname.as_deref().unwrap_or(""), field(rs, "alias"));
                let item = Item {
                    refname: aliasname,
                    ..item
                };
                self.add_item(item);
            }
            Some(("JoinExpr", j)) => layout = Some(self.join(j, want)),
            Some(("RangeFunction", rf)) => self.range_function(rf),
            Some(("RangeTableFunc", tf)) => {
                self.expr(field(tf, "docexpr"));
                self.expr(field(tf, "rowexpr"));
                let mut names = Vec::new();
                for c in list(tf, "columns") {
                    if let Some(("RangeTableFuncCol", col)) = node(c) {
                        names.push(text(col, "colname").to_string());
                        self.expr(field(col, "colexpr"));
                        self.expr(field(col, "coldefexpr"));
                    }
                }
                self.derived_item(field(tf, "alias"), names);
            }
            Some(("JsonTable", jt)) => {
                self.expr(field(jt, "context_item"));
                self.expr(field(jt, "passing"));
                let mut names = Vec::new();
                collect_json_table_columns(list(jt, "columns"), &mut names);
                self.derived_item(field(jt, "alias"), names);
            }
            Some(("RangeTableSample", ts)) => {
                self.range_item(field(ts, "relation"), false);
                self.expr(field(ts, "args"));
                self.expr(field(ts, "repeatable"));
            }
            _ => self.expr(v),
        }
        let layout = match layout {
            Some(l) => l,
            None if !want => Vec::new(),
            None => match self.levels.last().and_then(|l| l.items.get(before..)) {
                Some([item]) => item_layout(item),
                _ => vec![Slot::Unknown(Vec::new())],
            },
        };
        self.leave();
        layout
    }

    fn derived_item(&mut self, alias: &Value, names: Vec<String>) {
        let (aliasname, colnames) = alias_parts(alias);
        let mut cols: Vec<Col> = names
            .into_iter()
            .map(|name| Col {
                name,
                origin: None,
                deferred: false,
            })
            .collect();
        rename(&mut cols, &colnames);
        self.add_item(Item {
            refname: aliasname,
            hidden: false,
            rel: None,
            cols: Some(cols),
            passthrough: Vec::new(),
            members: Vec::new(),
            aliased: 0,
            open: false,
            layout: None,
            merged_only: false,
        });
    }

    fn range_function(&mut self, rf: &Value) {
        let mut names: Option<Vec<String>> = Some(Vec::new());
        let mut has_coldefs = !list(rf, "coldeflist").is_empty();
        let functions = list(rf, "functions");
        for f in functions {
            // Each entry is a List [FuncCall, coldeflist].
            let parts = match node(f) {
                Some(("List", l)) => list(l, "items"),
                _ => std::slice::from_ref(f),
            };
            let Some(call) = parts.first() else { continue };
            self.expr(call);
            let coldefs = parts.get(1).map(|c| match node(c) {
                Some(("List", l)) => list(l, "items"),
                _ => &[],
            });
            let fname = match node(call) {
                Some(("FuncCall", fc)) => list(fc, "funcname")
                    .last()
                    .and_then(string_node)
                    .unwrap_or("")
                    .to_string(),
                _ => String::new(),
            };
            if let Some(defs) = coldefs.filter(|d| !d.is_empty()) {
                has_coldefs = true;
                names
                    .get_or_insert_with(Vec::new)
                    .extend(defs.iter().filter_map(|d| match node(d) {
                        Some(("ColumnDef", cd)) => Some(text(cd, "colname").to_string()),
                        _ => None,
                    }));
            } else if SCALAR_SRFS.contains(&fname.as_str()) || functions.len() > 1 {
                if let Some(n) = names.as_mut() {
                    n.push(fname);
                }
            } else {
                names = None;
            }
        }
        for d in list(rf, "coldeflist") {
            if let Some(("ColumnDef", cd)) = node(d) {
                names
                    .get_or_insert_with(Vec::new)
                    .push(text(cd, "colname").to_string());
            }
        }
        let (aliasname, colnames) = alias_parts(field(rf, "alias"));
        if let Some(n) = names.as_mut() {
            // A single scalar function's column is named after the alias
            // (not a column definition list's column).
            if n.len() == 1 && colnames.is_empty() && functions.len() == 1 && !has_coldefs {
                if let (Some(first), Some(a)) = (n.first_mut(), &aliasname) {
                    first.clone_from(a);
                }
            }
            if flag(rf, "ordinality") {
                n.push("ordinality".into());
            }
        }
        let open = names.is_none() && !colnames.is_empty();
        let cols = match names {
            Some(n) => {
                let mut cols: Vec<Col> = n
                    .into_iter()
                    .map(|name| Col {
                        name,
                        origin: None,
                        deferred: false,
                    })
                    .collect();
                rename(&mut cols, &colnames);
                Some(cols)
            }
            None if !colnames.is_empty() => Some(
                colnames
                    .iter()
                    .map(|name| Col {
                        name: name.clone(),
                        origin: None,
                        deferred: false,
                    })
                    .collect(),
            ),
            None => None,
        };
        self.add_item(Item {
            refname: aliasname,
            hidden: false,
            rel: None,
            cols,
            passthrough: Vec::new(),
            members: Vec::new(),
            aliased: 0,
            open,
            layout: None,
            merged_only: false,
        });
    }

    /// A join: its sides, the columns `USING`/`NATURAL` merge, its
    /// condition and its alias. Returns its output columns in order when
    /// `want` (else nothing).
    fn join(&mut self, j: &Value, want: bool) -> Vec<Slot> {
        // The sides' columns in order: for the join's, for NATURAL's
        // common ones, for an alias (which resolves names through them).
        let need = want
            || flag(j, "is_natural")
            || !field(j, "alias").is_null()
            || !field(j, "join_using_alias").is_null();
        let start = self.top().items.len();
        let left = self.range_item(field(j, "larg"), need);
        let mid = self.top().items.len();
        let right = self.range_item(field(j, "rarg"), need);
        let end = self.top().items.len();
        let li = self.levels.len() - 1;
        // The sides' items, not those a join alias inside a side hides (its
        // item stands for them).
        let visible = |r: &Resolver<'_>, i: usize| r.item(li, i).is_some_and(|it| !it.hidden);
        let mut using: Vec<String> = list(j, "using_clause")
            .iter()
            .filter_map(string_node)
            .map(str::to_string)
            .collect();
        let mut via = "direct";
        let mut scrambled = false;
        if flag(j, "is_natural") {
            via = "natural_join";
            match (known_names(&left), known_names(&right)) {
                (Some(l), Some(r)) => using = l.into_iter().filter(|n| r.contains(n)).collect(),
                _ => {
                    // Common columns unknown without a schema: any column of
                    // either side may be one.
                    scrambled = true;
                    for i in start..end {
                        if visible(self, i) {
                            self.whole_item(
                                li,
                                i,
                                "natural_join",
                                0,
                                Confidence::Possible,
                                Some("NATURAL JOIN over a table not in the schema: its common columns are unknown".into()),
                            );
                        }
                    }
                }
            }
        }
        for name in &using {
            let mut sides = Vec::new();
            for range in [start..mid, mid..end] {
                let known: Vec<usize> = range
                    .clone()
                    .filter(|&i| {
                        visible(self, i) && self.item(li, i).is_some_and(|it| it.has_known(name))
                    })
                    .collect();
                let chosen: Vec<usize> = if known.is_empty() {
                    range
                        .filter(|&i| {
                            visible(self, i) && self.item(li, i).is_some_and(Item::unknown)
                        })
                        .collect()
                } else {
                    known
                };
                let conf = if chosen.len() == 1 {
                    Confidence::Certain
                } else {
                    Confidence::Possible
                };
                for &i in &chosen {
                    self.item_column_via(
                        li,
                        i,
                        name,
                        Access::Read,
                        via,
                        conf,
                        Some("USING column on a side with several tables not in the schema".into()),
                        0,
                    );
                }
                sides.extend(chosen);
            }
            if let Some(level) = self.levels.get_mut(li) {
                level.merged.push(Merged {
                    name: name.clone(),
                    sides,
                    natural: via == "natural_join",
                });
            }
        }
        self.expr(field(j, "quals"));
        if !need {
            return Vec::new();
        }
        let layout = if scrambled {
            natural_layout(left, right)
        } else {
            using_layout(left, right, &using, via == "natural_join")
        };
        // `USING (c) AS x` (PostgreSQL 14+): `x` names the merged columns
        // only (`x.c` is the merged column, read from both sides); the
        // sides stay visible. A join alias over the join hides it too.
        if let (Some(name), _) = alias_parts(field(j, "join_using_alias")) {
            let slots: Vec<Slot> = layout.iter().take(using.len()).cloned().collect();
            let cols = slots
                .iter()
                .filter_map(|s| match s {
                    Slot::Col(c) => Some(c.col.clone()),
                    Slot::Unknown(_) => None,
                })
                .collect();
            self.add_item(Item {
                refname: Some(name),
                hidden: false,
                rel: None,
                cols: Some(cols),
                passthrough: Vec::new(),
                members: Vec::new(),
                aliased: 0,
                open: false,
                layout: Some(slots.into()),
                merged_only: true,
            });
        }
        let end = self.top().items.len();
        let (aliasname, colnames) = alias_parts(field(j, "alias"));
        if aliasname.is_none() {
            return layout;
        }
        let mut passthrough = Vec::new();
        let mut members = Vec::new();
        let items: &mut [Item] = self.levels.get_mut(li).map_or(&mut [], |l| &mut l.items);
        for (i, it) in items
            .get_mut(start..end)
            .unwrap_or_default()
            .iter_mut()
            .enumerate()
        {
            if it.hidden {
                continue;
            }
            it.hidden = true;
            if it.merged_only {
                // Its columns are the join's merged ones: not a member.
                continue;
            }
            members.push(start + i);
            for r in &it.passthrough {
                push_rel(&mut passthrough, r);
            }
            if let (Some(r), None) = (&it.rel, &it.cols) {
                push_rel(&mut passthrough, r);
            }
        }
        let layout = self.apply_aliases(layout, &colnames);
        // Its columns, when every one is known.
        let cols = layout
            .iter()
            .map(|s| match s {
                Slot::Col(c) if s.is_fixed() => Some(c.col.clone()),
                _ => None,
            })
            .collect::<Option<Vec<Col>>>();
        self.add_item(Item {
            refname: aliasname,
            hidden: false,
            rel: None,
            cols,
            passthrough,
            members,
            aliased: colnames.len(),
            open: false,
            layout: Some(layout.clone().into()),
            merged_only: false,
        });
        layout
    }

    /// Column aliases (`AS j(a, b)` of a join, a derived table or a CTE
    /// reference, `WITH c(a, b)`) over these columns: renamed by position.
    fn apply_aliases(&mut self, layout: Vec<Slot>, aliases: &[String]) -> Vec<Slot> {
        if !aliases.is_empty() {
            self.aliases_cover_all(&layout, aliases.len());
        }
        rename_layout(layout, aliases)
    }

    /// As many column aliases as there are columns (or more): dropping any
    /// column leaves more aliases than columns, which PostgreSQL refuses.
    /// With a relation not in the schema the width is unknown: possible.
    fn aliases_cover_all(&mut self, layout: &[Slot], aliases: usize) {
        let fixed = layout.iter().filter(|s| s.is_fixed()).count();
        if aliases < fixed {
            return;
        }
        let sure = fixed == layout.len();
        self.note = "a column alias for every column".into();
        for slot in layout {
            let deps: Vec<Dep> = match slot {
                Slot::Col(c) if c.explicit => Vec::new(),
                Slot::Col(c) => c.refs.iter().map(|d| d.by_position(sure)).collect(),
                Slot::Unknown(rels) => rels.iter().map(unknown_by_position).collect(),
            };
            for d in deps {
                self.use_rel(
                    &d.rel,
                    d.sel,
                    Access::Read,
                    "positional",
                    d.conf,
                    d.reason,
                    0,
                );
            }
        }
        self.note.clear();
    }

    // ----------------------------------------------------------- expressions

    fn walk_fields(&mut self, v: &Value) {
        match v {
            Value::Object(map) => {
                for val in map.values() {
                    self.expr(val);
                }
            }
            Value::Array(a) => {
                for x in a {
                    self.expr(x);
                }
            }
            _ => {}
        }
    }

    /// Walks any value: nodes are dispatched, plain structs and lists are
    /// walked field by field, so no node kind is skipped.
    fn expr(&mut self, v: &Value) {
        if !self.enter() {
            self.leave();
            return;
        }
        match v {
            Value::Object(map) => {
                if let Some((kind, n)) = node(v) {
                    self.expr_node(kind, n);
                } else {
                    for val in map.values() {
                        self.expr(val);
                    }
                }
            }
            Value::Array(a) => {
                for x in a {
                    self.expr(x);
                }
            }
            _ => {}
        }
        self.leave();
    }

    fn expr_node(&mut self, kind: &str, n: &Value) {
        match kind {
            "ColumnRef" => {
                self.column_refs_seen += 1;
                let fields = list(n, "fields");
                let loc = int(n, "location") as i32;
                self.column_ref(fields, loc, None);
            }
            "AIndirection" => {
                let arg = field(n, "arg");
                let ind = list(n, "indirection");
                if let (Some(("ColumnRef", cr)), Some(first)) = (node(arg), ind.first()) {
                    self.column_refs_seen += 1;
                    let fields = list(cr, "fields");
                    let loc = int(cr, "location") as i32;
                    if let Some(f) = string_node(first) {
                        self.column_ref(fields, loc, Some(FieldSel::Named(f)));
                    } else if is_star(first) {
                        self.column_ref(fields, loc, Some(FieldSel::Star));
                    } else {
                        self.column_ref(fields, loc, None);
                    }
                    for i in ind {
                        self.expr(i);
                    }
                } else {
                    self.walk_fields(n);
                }
            }
            "TypeCast" => {
                self.row_type(field(n, "type_name"), int(n, "location") as i32);
                self.walk_fields(n);
            }
            "FuncCall" if self.functional_notation(n) => {}
            "SubLink" => {
                self.expr(field(n, "testexpr"));
                if int(n, "sub_link_type") == EXISTS_SUBLINK {
                    // EXISTS ignores its subquery's output columns.
                    self.by_name_statement(field(n, "subselect"));
                } else {
                    self.sub_statement(field(n, "subselect"));
                }
            }
            "SelectStmt" => {
                self.select(n);
            }
            "InsertStmt" | "UpdateStmt" | "DeleteStmt" | "MergeStmt" => {
                self.statement(kind, n);
            }
            k if LEAF_NODES.contains(&k) => {}
            _ => self.walk_fields(n),
        }
    }

    /// A cast to a table's row type (`'(1,a)'::t`, `NULL::t` given to
    /// `jsonb_populate_record`, `ROW(…)::t`) depends on every column of
    /// `t`: dropping one changes the type (a record literal no longer
    /// fits; a row made from it loses a field).
    fn row_type(&mut self, type_name: &Value, loc: i32) {
        let names: Vec<&str> = list(type_name, "names")
            .iter()
            .filter_map(string_node)
            .collect();
        let rel = match names.as_slice() {
            ["pg_catalog", _] => None,
            // A built-in type of that name comes first (pg_catalog is
            // searched first).
            [name] if BUILTIN_TYPES.contains(name) => None,
            [name] => self.catalog.lookup(self.search_path, name),
            [schema, name] => self.catalog.get(schema, name),
            _ => None,
        };
        let Some(rel) = rel else {
            return;
        };
        let info = RelInfo::of(rel);
        self.note = format!("a cast to the row type of `{}` uses every column", rel.name);
        self.use_rel(
            &info,
            ColSel::All,
            Access::Read,
            "whole_row",
            Confidence::Certain,
            None,
            loc,
        );
        self.note.clear();
    }

    /// `c(t)` where `t` is a FROM item with a column `c` is PostgreSQL's
    /// functional notation for `t.c`.
    fn functional_notation(&mut self, f: &Value) -> bool {
        let fname = list(f, "funcname");
        let args = list(f, "args");
        let (Some(name), [arg]) = (fname.first().and_then(string_node), args) else {
            return false;
        };
        if fname.len() != 1 || flag(f, "agg_star") || !field(f, "over").is_null() {
            return false;
        }
        let Some(("ColumnRef", cr)) = node(arg) else {
            return false;
        };
        let fields = list(cr, "fields");
        let [only] = fields else { return false };
        let Some(rel_name) = string_node(only) else {
            return false;
        };
        // The argument must be a whole-row reference, not a column.
        let is_column = self.levels.iter().any(|l| {
            l.items
                .iter()
                .any(|it| it.has_known(rel_name) || it.unknown())
        });
        if is_column {
            return false;
        }
        let Some((li, ii)) = self.find_refname(rel_name) else {
            return false;
        };
        if !self.item(li, ii).is_some_and(|it| it.has_known(name)) {
            return false;
        }
        self.column_refs_seen += 1;
        self.item_column(
            li,
            ii,
            name,
            Access::Read,
            Confidence::Certain,
            None,
            int(cr, "location") as i32,
        );
        true
    }

    /// Finds the item a qualifier names: `t` (refname) or `s.t` (a relation
    /// without alias in schema s).
    fn find_qualified_item(&self, names: &[&str]) -> Option<(usize, usize)> {
        self.find_qualified_items(names).into_iter().next()
    }

    /// Every item a qualifier names at the innermost level that has one
    /// (more than one means PostgreSQL would call the reference ambiguous).
    fn find_qualified_items(&self, names: &[&str]) -> Vec<(usize, usize)> {
        for (li, level) in self.levels.iter().enumerate().rev() {
            let hits: Vec<(usize, usize)> = level
                .items
                .iter()
                .enumerate()
                .filter(|(_, it)| !it.hidden)
                .filter(|(_, it)| match names {
                    [t] => it.refname.as_deref() == Some(*t),
                    [s, t] | [_, s, t] => {
                        it.refname.as_deref() == Some(*t)
                            && it
                                .rel
                                .as_ref()
                                .is_some_and(|r| r.schema == *s && r.name == *t)
                    }
                    _ => false,
                })
                .map(|(ii, _)| (li, ii))
                .collect();
            if !hits.is_empty() {
                return hits;
            }
        }
        Vec::new()
    }

    /// A qualified reference `q.c`: column `c` of every item `q` names.
    fn qualified_column(&mut self, qualifier: &[&str], column: &str, loc: i32) -> bool {
        let hits = self.find_qualified_items(qualifier);
        let (conf, reason) = if hits.len() > 1 {
            (
                Confidence::Possible,
                Some(format!(
                    "table reference `{}` is ambiguous",
                    qualifier.join(".")
                )),
            )
        } else {
            (Confidence::Certain, None)
        };
        for (li, ii) in &hits {
            self.item_column(*li, *ii, column, Access::Read, conf, reason.clone(), loc);
        }
        !hits.is_empty()
    }

    fn item_column(
        &mut self,
        li: usize,
        ii: usize,
        name: &str,
        access: Access,
        conf: Confidence,
        reason: Option<String>,
        loc: i32,
    ) {
        self.item_column_via(li, ii, name, access, "direct", conf, reason, loc);
    }

    fn item_column_via(
        &mut self,
        li: usize,
        ii: usize,
        name: &str,
        access: Access,
        via: &str,
        conf: Confidence,
        reason: Option<String>,
        loc: i32,
    ) {
        let Some(item) = self.levels.get(li).and_then(|l| l.items.get(ii)).cloned() else {
            return;
        };
        if let Some(layout) = &item.layout {
            self.layout_column(layout, name, access, via, conf, reason, loc);
            return;
        }
        if let Some(cols) = &item.cols {
            let matching: Vec<&Col> = cols.iter().filter(|c| c.name == name).collect();
            if !matching.is_empty() {
                // Several columns of one name (a join alias over both sides)
                // are ambiguous, unless JOIN … USING merged them.
                let merged = self
                    .levels
                    .get(li)
                    .is_some_and(|l| l.merged.iter().any(|m| m.name == name));
                let (conf, reason) = if matching.len() > 1 && !merged {
                    (
                        Confidence::Possible,
                        Some(format!("column reference `{name}` is ambiguous")),
                    )
                } else {
                    (conf, reason)
                };
                if item.aliased > 0 && item.rel.is_some() {
                    if let Some(k) = cols.iter().position(|c| c.name == name) {
                        let rel = item.rel.clone().unwrap_or_else(|| unreachable!());
                        if k < item.aliased {
                            // `x.a_k` of `t AS x(a_0, …)` is whichever column
                            // is k-th: dropping any of the first k+1 columns
                            // silently makes it another one.
                            self.use_rel(
                                &rel,
                                ColSel::FirstN(k + 1),
                                access,
                                "positional",
                                conf,
                                reason,
                                loc,
                            );
                            return;
                        }
                        if k == item.aliased {
                            // The first column past the aliases takes the last
                            // alias if an earlier column is dropped.
                            self.use_rel(
                                &rel,
                                ColSel::FirstN(k),
                                access,
                                "positional",
                                conf,
                                reason.clone(),
                                loc,
                            );
                        }
                    }
                }
                for col in matching {
                    if let Some((rel, c)) = &col.origin {
                        self.use_rel(
                            rel,
                            ColSel::Named(c.clone()),
                            access,
                            via,
                            conf,
                            reason.clone(),
                            loc,
                        );
                    }
                }
                return;
            }
            if let Some(rel) = &item.rel {
                self.use_rel(
                    rel,
                    ColSel::Named(name.to_string()),
                    access,
                    via,
                    conf,
                    reason,
                    loc,
                );
            }
            return;
        }
        let n = item.passthrough.len();
        for rel in &item.passthrough {
            let (c, r) = if n == 1 {
                (conf, reason.clone())
            } else {
                (
                    Confidence::Possible,
                    Some(format!(
                        "`{name}` could come from any of {n} relations not in the schema"
                    )),
                )
            };
            self.use_rel(rel, ColSel::Named(name.to_string()), access, via, c, r, loc);
        }
    }

    /// Column `name` of a join alias, a derived table or a CTE, through its
    /// columns in order (see [`Slot`]). A reference that succeeds in
    /// PostgreSQL names exactly one column: a column that is certainly
    /// there under that name is the one; one that may have been renamed by
    /// a column alias is the one when nothing after it could hold the name;
    /// else any relation not in the schema may hold it.
    fn layout_column(
        &mut self,
        layout: &[Slot],
        name: &str,
        access: Access,
        via: &str,
        conf: Confidence,
        reason: Option<String>,
        loc: i32,
    ) {
        let hits: Vec<usize> = (0..layout.len())
            .filter(|&s| matches!(layout.get(s), Some(Slot::Col(c)) if c.col.name == name))
            .collect();
        let present: Vec<usize> = hits
            .iter()
            .copied()
            .filter(|&s| matches!(layout.get(s), Some(Slot::Col(c)) if !c.maybe))
            .collect();
        let unknown_after = |s: usize| {
            layout
                .get(s + 1..)
                .unwrap_or_default()
                .iter()
                .any(|x| matches!(x, Slot::Unknown(_)))
        };
        let mut chosen: Vec<usize> = hits.clone();
        let mut unknown_too = false;
        let (conf, reason) = match (present.as_slice(), hits.as_slice()) {
            ([_, _, ..], _) => (
                Confidence::Possible,
                Some(format!("column reference `{name}` is ambiguous")),
            ),
            ([one], _) => {
                chosen = vec![*one];
                (conf, reason)
            }
            ([], [one]) if !unknown_after(*one) => (conf, reason),
            ([], []) => {
                unknown_too = true;
                (conf, reason)
            }
            ([], _) => {
                unknown_too = true;
                (
                    Confidence::Possible,
                    Some(format!(
                        "`{name}` may have been renamed by the join's column aliases; a relation not in the schema may hold it"
                    )),
                )
            }
        };
        for s in chosen {
            let Some(Slot::Col(c)) = layout.get(s) else {
                continue;
            };
            for d in &c.refs {
                let (cf, rs) = if d.conf < conf {
                    (d.conf, d.reason.clone())
                } else {
                    (conf, reason.clone())
                };
                let via = d.via.unwrap_or(via);
                self.use_rel(&d.rel, d.sel.clone(), access, via, cf, rs, loc);
            }
        }
        if unknown_too {
            let mut rels = Vec::new();
            for s in layout {
                if let Slot::Unknown(r) = s {
                    r.iter().for_each(|r| push_rel(&mut rels, r));
                }
            }
            let n = rels.len() + hits.len();
            let (cf, rs) = if n == 1 {
                (conf, reason)
            } else if hits.is_empty() {
                (
                    Confidence::Possible,
                    Some(format!(
                        "`{name}` could come from any of {n} relations not in the schema"
                    )),
                )
            } else {
                (Confidence::Possible, reason)
            };
            for rel in rels {
                self.use_rel(
                    &rel,
                    ColSel::Named(name.to_string()),
                    access,
                    via,
                    cf,
                    rs.clone(),
                    loc,
                );
            }
        }
    }

    /// Resolves a ColumnRef. `field_sel` is set for `(ref).field` and `(ref).*`.
    fn column_ref(&mut self, fields: &[Value], loc: i32, field_sel: Option<FieldSel<'_>>) {
        let names: Vec<&str> = fields
            .iter()
            .map(|f| string_node(f).unwrap_or("*"))
            .collect();
        self.note = if names.len() > 1 {
            format!(
                "`{}`: qualified by `{}`",
                names.join("."),
                names
                    .split_last()
                    .map(|(_, q)| q.join("."))
                    .unwrap_or_default()
            )
        } else {
            String::new()
        };
        self.field = field_sel.map(|f| match f {
            FieldSel::Named(f) => Some(f.to_string()),
            FieldSel::Star => None,
        });
        self.column_ref_inner(fields, loc, field_sel);
        self.note.clear();
        self.field = None;
    }

    fn column_ref_inner(&mut self, fields: &[Value], loc: i32, field_sel: Option<FieldSel<'_>>) {
        if fields.last().is_some_and(is_star) {
            // `t.*` outside a target list: a whole-row use.
            let q = fields.split_last().map(|(_, q)| q).unwrap_or_default();
            if let Some(FieldSel::Named(f)) = field_sel {
                // `(t.*).f` is column f of t.
                let names: Vec<&str> = q.iter().filter_map(string_node).collect();
                if !names.is_empty() && self.qualified_column(&names, f, loc) {
                    return;
                }
            }
            if q.is_empty() {
                self.star(q, "star", loc, true);
            } else {
                self.star(q, "whole_row", loc, true);
            }
            return;
        }
        let names: Vec<&str> = fields.iter().filter_map(string_node).collect();
        if names.len() != fields.len() {
            return;
        }
        match names.as_slice() {
            [name] => self.unqualified(name, loc, field_sel),
            // `a.b` where a is not a relation: field b of composite column a.
            // (Or a trigger record's field, or a routine variable's.)
            [q, c] if !self.qualified_column(&[q], c, loc) && !self.routine_field(q, c, loc) => {
                self.unqualified(q, loc, Some(FieldSel::Named(c)));
            }
            [_, _] => {}
            [s, t, c]
                if !self.qualified_column(&[s, t], c, loc)
                    && !self.qualified_column(&[s], t, loc) =>
            {
                self.unqualified(s, loc, Some(FieldSel::Named(t)));
            }
            [_, _, _] => {}
            [_, s, t, c, ..] => {
                if let Some((li, ii)) = self.find_qualified_item(&[s, t]) {
                    self.item_column(li, ii, c, Access::Read, Confidence::Certain, None, loc);
                }
            }
            _ => {}
        }
    }

    fn find_refname(&self, name: &str) -> Option<(usize, usize)> {
        self.find_qualified_item(&[name])
    }

    /// Resolves `name` to the items `hits` of level `li` with `conf`, and to
    /// the inner candidates `maybes` (relations with unknown columns) as
    /// possible.
    fn resolve_hits(
        &mut self,
        li: usize,
        hits: &[usize],
        maybes: &[(usize, usize)],
        name: &str,
        via: &str,
        conf: Confidence,
        reason: Option<String>,
        loc: i32,
    ) {
        // A column of an outer query level with the same name would take
        // over the reference if this one were dropped: no error, another
        // meaning. The reference is marked so.
        let captured = self.levels.iter().take(li).any(|level| {
            level.items.iter().any(|it| it.has_known(name))
                || level.merged.iter().any(|m| m.name == name)
        });
        let via = if captured { "outer_capture" } else { via };
        let depth = self.levels.len();
        let owners: Vec<String> = hits
            .iter()
            .filter_map(|&k| self.item(li, k))
            .map(|it| format!("`{}`", it.refname.as_deref().unwrap_or("(unnamed)")))
            .collect();
        self.note = format!(
            "unqualified `{name}`: column of {}{}",
            owners.join(", "),
            if li + 1 == depth {
                String::new()
            } else {
                format!(", {} query level(s) out", depth - li - 1)
            }
        );
        if captured {
            self.note.push_str(
                "; an outer query's same-named column would take it over if it were dropped",
            );
        }
        for &k in hits {
            self.item_column_via(li, k, name, Access::Read, via, conf, reason.clone(), loc);
        }
        for &(l, i) in maybes {
            self.item_column(
                l,
                i,
                name,
                Access::Read,
                Confidence::Possible,
                reason.clone(),
                loc,
            );
        }
    }

    /// `q.c` where `q` is not a FROM item: a field of a trigger record
    /// (`NEW.c` is column `c` of the trigger's table), or of a routine
    /// variable, or a parameter qualified by the function name or a block
    /// label. True when handled.
    fn routine_field(&mut self, q: &str, c: &str, loc: i32) -> bool {
        let Some(r) = self.routine else {
            return false;
        };
        if let Some((schema, table)) = r.record_table(q) {
            let rel = RelInfo {
                schema: schema.to_string(),
                name: table.to_string(),
                schema_certain: true,
                kind: Some(RelKind::Table),
            };
            let col = ColSel::Named(c.to_string());
            self.use_rel(
                &rel,
                col,
                Access::Read,
                "direct",
                Confidence::Certain,
                None,
                loc,
            );
            return true;
        }
        r.is_variable(q)
    }

    /// A use of a trigger record (or a `%ROWTYPE` variable) of `table`:
    /// field `f` is its column, `*` or the whole record every column.
    fn record_use(&mut self, schema: &str, table: &str, sel: Option<FieldSel<'_>>, loc: i32) {
        let rel = RelInfo {
            schema: schema.to_string(),
            name: table.to_string(),
            schema_certain: true,
            kind: Some(RelKind::Table),
        };
        let (col, via) = match sel {
            Some(FieldSel::Named(f)) => (ColSel::Named(f.to_string()), "direct"),
            Some(FieldSel::Star) => (ColSel::All, "star"),
            None => (ColSel::All, "whole_row"),
        };
        self.note = format!("a routine's record of `{schema}.{table}` rows");
        self.use_rel(&rel, col, Access::Read, via, Confidence::Certain, None, loc);
    }

    fn unqualified(&mut self, name: &str, loc: i32, field_sel: Option<FieldSel<'_>>) {
        if self
            .routine
            .is_some_and(|r| r.variables_first() && r.is_variable(name))
        {
            return;
        }
        let mut maybes: Vec<(usize, usize)> = Vec::new();
        for li in (0..self.levels.len()).rev() {
            let Some(level) = self.levels.get(li) else {
                continue;
            };
            // A merged column of a join without an alias (an aliased join
            // resolves its merged columns itself, below).
            let merged = level.merged.iter().find(|m| {
                m.name == name
                    && m.sides
                        .iter()
                        .any(|&s| level.items.get(s).is_some_and(|it| !it.hidden))
            });
            if let Some(m) = merged {
                let sides = m.sides.clone();
                let merged_via = if m.natural { "natural_join" } else { "direct" };
                let conf = if maybes.is_empty() {
                    Confidence::Certain
                } else {
                    Confidence::Possible
                };
                let reason = Some(format!(
                    "`{name}` may instead be a column of an inner relation not in the schema"
                ));
                self.resolve_hits(li, &sides, &maybes, name, merged_via, conf, reason, loc);
                return;
            }
            // An aliased join (`(a JOIN b) AS j`) is one item: it hides its
            // sides, and its columns (in order, column aliases applied) are
            // its sides', so a name is looked up once, in it.
            // The alias of `USING` columns (`USING (c) AS x`) only names
            // them qualified: unqualified, they are the join's.
            let mut skip: Vec<bool> = level.items.iter().map(|it| it.merged_only).collect();
            for it in &level.items {
                for &m in &it.members {
                    if let Some(s) = skip.get_mut(m) {
                        *s = true;
                    }
                }
            }
            let seen = |i: usize| !skip.get(i).copied().unwrap_or(false);
            let known: Vec<usize> = (0..level.items.len())
                .filter(|&i| seen(i) && level.items.get(i).is_some_and(|it| it.has_known(name)))
                .collect();
            let unknown: Vec<usize> = (0..level.items.len())
                .filter(|&i| seen(i) && level.items.get(i).is_some_and(Item::unknown))
                .collect();
            if !known.is_empty() {
                let conf = if known.len() == 1 && maybes.is_empty() {
                    Confidence::Certain
                } else {
                    Confidence::Possible
                };
                let reason = if known.len() > 1 {
                    Some(format!(
                        "`{name}` is ambiguous between {} relations",
                        known.len()
                    ))
                } else {
                    Some(format!(
                        "`{name}` may instead be a column of an inner relation not in the schema"
                    ))
                };
                self.resolve_hits(li, &known, &maybes, name, "direct", conf, reason, loc);
                return;
            }
            maybes.extend(unknown.into_iter().map(|i| (li, i)));
        }
        // No known column: a routine variable, or a relation name (a
        // whole-row reference).
        if let Some((schema, table)) = self.routine.and_then(|r| r.whole_record_table(name)) {
            // A trigger record (or `%ROWTYPE` variable) used whole:
            // `row_to_json(NEW)`, `(NEW).c`, `(NEW).*`.
            self.record_use(schema, table, field_sel, loc);
            return;
        }
        if self.routine.is_some_and(|r| r.is_variable(name)) {
            return;
        }
        if let Some((li, ii)) = self.find_refname(name) {
            self.note = match field_sel {
                Some(FieldSel::Named(f)) => {
                    format!("`{name}` is no column: field `{f}` of the row of FROM item `{name}`")
                }
                _ => format!("`{name}` is no column: the whole row of FROM item `{name}`"),
            };
            let unsure = maybes.iter().any(|m| *m != (li, ii))
                || self.item(li, ii).is_none_or(Item::unknown);
            let (conf, reason) = if unsure {
                (
                    Confidence::Probable,
                    Some(format!("without a schema, `{name}` could also be a column rather than the row of `{name}`")),
                )
            } else {
                (Confidence::Certain, None)
            };
            match field_sel {
                Some(FieldSel::Named(f)) => {
                    self.item_column(li, ii, f, Access::Read, conf, reason, loc)
                }
                Some(FieldSel::Star) => self.whole_item(li, ii, "star", loc, conf, reason),
                None => self.whole_item(li, ii, "whole_row", loc, conf, reason),
            }
            return;
        }
        match maybes.len() {
            0 => {}
            1 => {
                if let Some(&(li, ii)) = maybes.first() {
                    self.item_column(li, ii, name, Access::Read, Confidence::Certain, None, loc);
                }
            }
            n => {
                let names: Vec<String> = maybes
                    .iter()
                    .filter_map(|&(l, i)| self.item(l, i).and_then(|it| it.refname.clone()))
                    .collect();
                let reason = Some(format!(
                    "`{name}` could belong to any of {n} relations not in the schema ({})",
                    names.join(", ")
                ));
                for (li, ii) in maybes {
                    self.item_column(
                        li,
                        ii,
                        name,
                        Access::Read,
                        Confidence::Possible,
                        reason.clone(),
                        loc,
                    );
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum FieldSel<'v> {
    Named(&'v str),
    Star,
}

fn collect_json_table_columns(cols: &[Value], out: &mut Vec<String>) {
    for c in cols {
        if let Some(("JsonTableColumn", jc)) = node(c) {
            let name = text(jc, "name");
            if !name.is_empty() {
                out.push(name.to_string());
            }
            collect_json_table_columns(list(jc, "columns"), out);
        }
    }
}
