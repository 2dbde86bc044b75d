//! Routine bodies: PL/pgSQL functions, procedures and `DO` blocks (compiled
//! with pg_query's PL/pgSQL compiler; every embedded statement and
//! expression is resolved with the routine's parameters and variables in
//! scope), SQL-language functions (string bodies and `BEGIN ATOMIC`), and
//! what any statement calls and writes (functions, and the tables whose
//! triggers it fires).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use super::parse::{self, ExprMode};
use super::resolve::{ColSel, ColumnUse, Resolver};
use super::tree::{list, node, string_node, text};
use crate::catalog::Catalog;
use crate::inventory::{Access, Confidence};
use crate::normalize::identifiers;

/// The names a routine body sees besides columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutineScope {
    variables: BTreeSet<String>,
    records: BTreeMap<String, (String, String)>,
    variables_first: bool,
    /// A statement trigger's transition tables (`REFERENCING NEW TABLE AS
    /// n`): relations with the trigger table's columns.
    transitions: BTreeMap<String, (String, String)>,
    /// A record used whole in a body (`row_to_json(NEW)`, `NEW.*`) uses
    /// every column of its table (not in a `WHEN` clause or a rule, where
    /// PostgreSQL expands or records it itself).
    whole_records: bool,
}

impl RoutineScope {
    /// The scope of a trigger's `WHEN` clause or a rule: `NEW` and `OLD`
    /// stand for rows of `schema.table`.
    pub fn trigger(schema: &str, table: &str) -> Self {
        let mut s = Self::default();
        for r in ["new", "old"] {
            s.records
                .insert(r.to_string(), (schema.to_string(), table.to_string()));
        }
        s
    }

    /// True when `name` is a parameter, variable, block label or the
    /// function's own name.
    pub fn is_variable(&self, name: &str) -> bool {
        self.variables.contains(name) || self.records.contains_key(name)
    }

    /// The table a trigger record (`new`, `old`) stands for.
    pub fn record_table(&self, name: &str) -> Option<(&str, &str)> {
        self.records
            .get(name)
            .map(|(s, t)| (s.as_str(), t.as_str()))
    }

    /// `#variable_conflict use_variable`: variables win over columns.
    pub fn variables_first(&self) -> bool {
        self.variables_first
    }

    /// The table whose rows a transition table (`REFERENCING NEW TABLE AS
    /// name`) of the trigger holds.
    pub fn transition_table(&self, name: &str) -> Option<(&str, &str)> {
        self.transitions
            .get(name)
            .map(|(s, t)| (s.as_str(), t.as_str()))
    }

    /// The table a record used whole stands for (`row_to_json(NEW)`,
    /// `NEW.*`, a `%ROWTYPE` variable): in routine bodies only.
    pub fn whole_record_table(&self, name: &str) -> Option<(&str, &str)> {
        if self.whole_records {
            self.record_table(name)
        } else {
            None
        }
    }
}

/// The trigger variables PL/pgSQL declares in a trigger function.
const TRIGGER_VARIABLES: &[&str] = &[
    "new",
    "old",
    "tg_name",
    "tg_when",
    "tg_level",
    "tg_op",
    "tg_relid",
    "tg_relname",
    "tg_table_name",
    "tg_table_schema",
    "tg_nargs",
    "tg_argv",
    "tg_event",
    "tg_tag",
];

/// A function or procedure call found in a statement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Call {
    /// The name as written (`[schema,] name`), folded.
    pub name: Vec<String>,
    /// Number of arguments.
    pub nargs: usize,
}

/// A write to a table found in a statement (what fires its triggers).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TableWrite {
    /// Schema (from the catalog, or the first search_path entry).
    pub schema: String,
    /// The table.
    pub table: String,
    /// `insert`, `update`, `delete`, `truncate`.
    pub event: String,
    /// For `update`: the columns in its `SET` list; for `insert`: the
    /// columns of its column list (empty: none named, every column may
    /// take its default).
    pub set_columns: Vec<String>,
    /// `ONLY t`: the rows of its partitions and children are not touched.
    pub only: bool,
}

/// What a routine body (or a statement) uses, calls and writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoutineAnalysis {
    /// Column uses of the embedded statements and expressions.
    pub uses: Vec<ColumnUse>,
    /// Functions and procedures it calls.
    pub calls: Vec<Call>,
    /// Tables it writes (their triggers fire).
    pub writes: Vec<TableWrite>,
    /// True when it runs dynamic SQL (`EXECUTE`, `FOR … IN EXECUTE`,
    /// `OPEN … FOR EXECUTE`, `RETURN QUERY EXECUTE`).
    pub dynamic: bool,
    /// Identifiers in the string constants of a routine that runs dynamic
    /// SQL (what its dynamic statements may name).
    pub dynamic_words: BTreeSet<String>,
    /// Identifiers of parts that could not be analysed.
    pub unresolved_words: BTreeSet<String>,
    /// Why (part of) the body could not be analysed.
    pub problem: Option<String>,
    /// pg_query fingerprints of the embedded statements: what
    /// pg_stat_statements (`toplevel = false`) records for them.
    pub statement_fingerprints: BTreeSet<String>,
}

impl RoutineAnalysis {
    fn note_statement(&mut self, text: &str) {
        if let Some(f) = parse::fingerprint(text) {
            self.statement_fingerprints.insert(f);
        }
    }

    fn problem(&mut self, p: String) {
        if self.problem.is_none() {
            self.problem = Some(p);
        }
    }
}

/// The `DefElem` options of a `CREATE FUNCTION` or `DO`: language and body.
fn def_option<'v>(options: &'v [Value], name: &str) -> Option<&'v Value> {
    options.iter().find_map(|o| match node(o) {
        Some(("DefElem", d)) if text(d, "defname") == name => d.get("arg"),
        _ => None,
    })
}

/// The language of a `CREATE FUNCTION` (`sql` for `BEGIN ATOMIC` bodies).
pub fn function_language(n: &Value) -> String {
    def_option(list(n, "options"), "language")
        .and_then(string_node)
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| "sql".to_string())
}

/// The body string of a `CREATE FUNCTION … AS '…'`.
fn function_body(n: &Value) -> Option<String> {
    let arg = def_option(list(n, "options"), "as")?;
    match node(arg)? {
        ("List", l) => list(l, "items").first().and_then(string_node),
        ("String", s) => s.get("sval").and_then(Value::as_str),
        _ => None,
    }
    .map(str::to_string)
}

/// The `search_path` a routine's own `SET search_path` clause gives its body
/// (PostgreSQL sets it for the call; pg_dump and `pg_get_functiondef` write
/// the value, a `FROM CURRENT` one as it was at creation): `None` when the
/// routine has none (its body runs with the caller's path). `current` is the
/// path `SET search_path FROM CURRENT` takes; `TO DEFAULT` sets nothing.
pub fn own_search_path(n: &Value, current: &[String]) -> Option<Vec<String>> {
    let mut path = None;
    for o in list(n, "options") {
        let Some(("DefElem", d)) = node(o) else {
            continue;
        };
        if text(d, "defname") != "set" {
            continue;
        }
        let Some(("VariableSetStmt", set)) = d.get("arg").and_then(node) else {
            continue;
        };
        if text(set, "name") != "search_path" {
            continue;
        }
        let kind = set.get("kind").and_then(Value::as_i64).unwrap_or(0);
        path = if kind == parse::VAR_SET_CURRENT {
            Some(current.to_vec())
        } else {
            super::session::role_setting(set)
        };
    }
    path
}

/// Analyses the body of a `CREATE FUNCTION`/`CREATE PROCEDURE` (`n` is the
/// `CreateFunctionStmt`, `stmt_text` its whole text) or a `DO` block
/// (`DoStmt`). `trigger_table` binds `NEW`/`OLD` for a trigger function.
/// `search_path` is the caller's; a routine's own `SET search_path` clause
/// replaces it ([`own_search_path`]).
pub fn analyze_routine(
    kind: &str,
    n: &Value,
    stmt_text: &str,
    catalog: &Catalog,
    search_path: &[String],
    trigger_table: Option<(&str, &str)>,
) -> RoutineAnalysis {
    analyze_trigger_routine(kind, n, stmt_text, catalog, search_path, trigger_table, &[])
}

/// [`analyze_routine`] for a trigger whose transition tables (`REFERENCING
/// NEW TABLE AS n OLD TABLE AS o`) are `transitions`: in the body they are
/// relations with the columns of the trigger's table.
pub fn analyze_trigger_routine(
    kind: &str,
    n: &Value,
    stmt_text: &str,
    catalog: &Catalog,
    search_path: &[String],
    trigger_table: Option<(&str, &str)>,
    transitions: &[String],
) -> RoutineAnalysis {
    let own = if kind == "CreateFunctionStmt" {
        own_search_path(n, search_path)
    } else {
        None
    };
    let search_path = own.as_deref().unwrap_or(search_path);
    let mut out = RoutineAnalysis::default();
    let mut scope = RoutineScope {
        whole_records: true,
        ..Default::default()
    };
    if let Some((s, t)) = trigger_table {
        for r in ["new", "old"] {
            scope
                .records
                .insert(r.to_string(), (s.to_string(), t.to_string()));
        }
        for name in transitions {
            scope
                .transitions
                .insert(name.clone(), (s.to_string(), t.to_string()));
        }
    }
    let language = if kind == "DoStmt" {
        def_option(list(n, "args"), "language")
            .and_then(string_node)
            .map(str::to_ascii_lowercase)
            .unwrap_or_else(|| "plpgsql".to_string())
    } else {
        function_language(n)
    };
    if kind == "CreateFunctionStmt" {
        if let Some(name) = list(n, "funcname").last().and_then(string_node) {
            scope.variables.insert(name.to_string());
        }
        for p in list(n, "parameters") {
            if let Some(("FunctionParameter", fp)) = node(p) {
                let name = text(fp, "name");
                if !name.is_empty() {
                    scope.variables.insert(name.to_string());
                }
            }
        }
    }
    let sql_body = n.get("sql_body").filter(|b| !b.is_null());
    match (language.as_str(), sql_body) {
        (_, Some(body)) => {
            // BEGIN ATOMIC / RETURN: already parsed statements.
            let stmts: Vec<Value> = match node(body) {
                Some(("List", l)) => list(l, "items")
                    .iter()
                    .flat_map(|i| match node(i) {
                        Some(("List", inner)) => list(inner, "items").to_vec(),
                        _ => vec![i.clone()],
                    })
                    .collect(),
                _ => vec![body.clone()],
            };
            for st in &stmts {
                resolve_tree(st, catalog, search_path, &scope, &mut out);
            }
        }
        ("sql", None) => {
            let body = function_body(n).unwrap_or_default();
            match parse::parse(&body) {
                Ok(stmts) => {
                    for st in stmts {
                        out.note_statement(&st.text);
                        resolve_tree(&st.tree, catalog, search_path, &scope, &mut out);
                    }
                }
                Err(e) => {
                    out.problem(format!("the SQL function body could not be parsed ({e})"));
                    out.unresolved_words.extend(identifiers(&body));
                }
            }
        }
        ("plpgsql", None) => {
            let body = if kind == "DoStmt" {
                def_option(list(n, "args"), "as")
                    .and_then(string_node)
                    .map(str::to_string)
            } else {
                function_body(n)
            };
            plpgsql(
                stmt_text,
                body.as_deref(),
                catalog,
                search_path,
                scope,
                &mut out,
            )
        }
        (other, None) => {
            out.problem(format!("{other} bodies are not analysed"));
            let body = if kind == "DoStmt" {
                def_option(list(n, "args"), "as")
                    .and_then(string_node)
                    .map(str::to_string)
            } else {
                function_body(n)
            };
            out.unresolved_words
                .extend(body.as_deref().map(words).unwrap_or_default());
        }
    }
    out
}

/// Words of a text that is not (known to be) SQL: every identifier-like run.
fn words(s: &str) -> BTreeSet<String> {
    s.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .filter(|w| {
            w.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
        })
        .map(crate::normalize::fold_identifier)
        .collect()
}

fn plpgsql(
    stmt_text: &str,
    body: Option<&str>,
    catalog: &Catalog,
    search_path: &[String],
    mut scope: RoutineScope,
    out: &mut RoutineAnalysis,
) {
    // `r t` / `r s.t` (a relation's row type by its type name) and
    // `r t%ROWTYPE`: pg_query's compiler, which has no catalog, writes the
    // first as a record without its type and the second as a scalar (so
    // `r.f := …` does not compile): the types come from the declarations,
    // and `%ROWTYPE` of a relation of the catalog is compiled as the bare
    // name (blanked out, so lines and offsets stay).
    let decls: Vec<(NamedTypeDecl, (String, String))> = body
        .map(named_type_declarations)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|d| {
            let rel = row_type_relation(&d.ty, catalog, search_path)?;
            Some((d, rel))
        })
        .collect();
    let compiled = match body {
        Some(b) if decls.iter().any(|(d, _)| d.rowtype.is_some()) => {
            let mut blanked = b.to_string();
            for r in decls.iter().filter_map(|(d, _)| d.rowtype.clone()) {
                blanked.replace_range(r.clone(), &" ".repeat(r.len()));
            }
            // The body as written in the statement (dollar-quoted, or a
            // string without quotes to double).
            match stmt_text.match_indices(b).count() {
                1 => stmt_text.replacen(b, &blanked, 1),
                _ => stmt_text.to_string(),
            }
        }
        _ => stmt_text.to_string(),
    };
    let funcs = match parse::parse_plpgsql(&compiled) {
        Ok(f) => f,
        Err(e) => {
            out.problem(format!("the PL/pgSQL body could not be compiled ({e})"));
            out.unresolved_words.extend(words(stmt_text));
            return;
        }
    };
    let lower = stmt_text.to_ascii_lowercase();
    if lower.contains("#variable_conflict use_variable") {
        scope.variables_first = true;
    }
    let mut exprs: Vec<(String, i64)> = Vec::new();
    for f in funcs.as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let func = f.get("PLpgSQL_function").unwrap_or(&Value::Null);
        for d in list(func, "datums") {
            for kind in ["PLpgSQL_var", "PLpgSQL_rec", "PLpgSQL_row"] {
                if let Some(v) = d.get(kind) {
                    let name = text(v, "refname");
                    if !name.is_empty() && !name.starts_with('(') {
                        scope.variables.insert(name.to_ascii_lowercase());
                    }
                }
            }
            if let Some(v) = d.get("PLpgSQL_var") {
                // `r t%ROWTYPE` (or a table's row type by name): its
                // fields are the table's columns.
                let name = text(v, "refname").to_ascii_lowercase();
                let ty = declared_type(v);
                let ty = ty.strip_suffix("%rowtype").unwrap_or(ty);
                if let Some(rel) = relation_named(ty, catalog, search_path) {
                    scope.records.insert(name, rel);
                }
            }
            if let Some(v) = d.get("PLpgSQL_rec") {
                // `r t`, `r s.t` (or `r t%ROWTYPE`, compiled as `r t`):
                // the declaration on its line gives the relation.
                let name = text(v, "refname");
                let line = v.get("lineno").and_then(Value::as_u64).unwrap_or(0);
                if let Some((_, rel)) = decls
                    .iter()
                    .find(|(d, _)| d.name == name && d.line as u64 == line)
                {
                    scope.records.insert(name.to_ascii_lowercase(), rel.clone());
                }
            }
            if d.as_object().is_some_and(|o| o.is_empty()) {
                // The trigger variables (written as empty objects).
                scope
                    .variables
                    .extend(TRIGGER_VARIABLES.iter().map(|s| s.to_string()));
            }
        }
        collect_plpgsql(func, &mut scope, &mut exprs, out);
    }
    // `v t.c%TYPE`: PostgreSQL looks column `c` of `t` up when it compiles
    // the body (at its first call in a session): a use of the column.
    for f in funcs.as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let func = f.get("PLpgSQL_function").unwrap_or(&Value::Null);
        for d in list(func, "datums") {
            if let Some(v) = d.get("PLpgSQL_var") {
                if let Some(sql) = type_column_query(declared_type(v), &scope) {
                    if let Ok(stmts) = parse::parse(&sql) {
                        for st in stmts {
                            resolve_tree(&st.tree, catalog, search_path, &scope, out);
                        }
                    }
                }
            }
        }
    }
    for (query, mode) in exprs {
        let Some(mode) = ExprMode::from_plpgsql(mode) else {
            continue;
        };
        match parse::parse_mode(&query, mode) {
            Ok(stmts) => {
                if mode == ExprMode::Statement {
                    out.note_statement(&query);
                }
                for st in stmts {
                    if out.dynamic {
                        collect_string_words(&st.tree, &mut out.dynamic_words);
                    }
                    match node(&st.tree) {
                        Some(("PlassignStmt", a)) => {
                            assignment(a, catalog, search_path, &scope, out)
                        }
                        _ => resolve_tree(&st.tree, catalog, search_path, &scope, out),
                    }
                }
            }
            Err(e) => {
                out.problem(format!("an embedded statement could not be parsed ({e})"));
                out.unresolved_words.extend(identifiers(&query));
            }
        }
    }
}

/// The type name a PL/pgSQL variable is declared with (`t.c%TYPE`,
/// `t%rowtype`, `integer`, as pg_query's compiler writes it).
fn declared_type(v: &Value) -> &str {
    v.get("datatype")
        .and_then(|t| t.get("PLpgSQL_type"))
        .map(|t| text(t, "typname"))
        .unwrap_or("")
}

/// The relation of the catalog that `[schema.]name` (folded, as the
/// PL/pgSQL compiler gives it) names on `search_path`.
fn relation_named(
    name: &str,
    catalog: &Catalog,
    search_path: &[String],
) -> Option<(String, String)> {
    let rel = match name.split('.').collect::<Vec<_>>().as_slice() {
        [s, t] => catalog.get(s, t),
        [t] => catalog.lookup(search_path, t),
        _ => None,
    }?;
    Some((rel.schema.clone(), rel.name.clone()))
}

/// A declaration `name [CONSTANT] [schema.]type[%ROWTYPE] …;` in a
/// `DECLARE` section of a PL/pgSQL body.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NamedTypeDecl {
    /// The variable's name (folded, as the compiler's `refname`).
    name: String,
    /// The line of the name (1-based, as the compiler's `lineno`).
    line: usize,
    /// The type's name, folded (`t`, `s.t`).
    ty: String,
    /// Where `%ROWTYPE` is written after it, if it is.
    rowtype: Option<std::ops::Range<usize>>,
}

/// A token of a PL/pgSQL body: an identifier (folded; `true` when it was
/// quoted) or a punctuation mark, with its byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String, bool),
    Punct(String),
}

/// The identifiers and punctuation of `s` (strings, numbers and comments
/// left out), each with its byte range.
fn body_tokens(s: &str) -> Vec<(Tok, std::ops::Range<usize>)> {
    let b = s.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let rest = |i: usize| s.get(i..).unwrap_or("");
    let part = |r: std::ops::Range<usize>| s.get(r).unwrap_or("");
    let ident_start = |c: u8| c.is_ascii_alphabetic() || c == b'_' || c >= 0x80;
    let ident_char = |c: u8| ident_start(c) || c.is_ascii_digit() || c == b'$';
    // The end of a quoted run opened at `i` by `q` (`q` doubled inside).
    let quoted_end = |mut i: usize, q: u8| {
        i += 1;
        while i < b.len() {
            if at(i) == q {
                if at(i + 1) == q {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            i += 1;
        }
        b.len()
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = at(i);
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if rest(i).starts_with("--") {
            i = rest(i).find('\n').map_or(b.len(), |n| i + n);
        } else if rest(i).starts_with("/*") {
            let mut depth = 0;
            while i < b.len() {
                if rest(i).starts_with("/*") {
                    depth += 1;
                    i += 2;
                } else if rest(i).starts_with("*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == b'\'' {
            i = quoted_end(i, b'\'');
        } else if c == b'"' {
            i = quoted_end(i, b'"');
            let raw = part(start + 1..i.saturating_sub(1).max(start + 1));
            out.push((Tok::Ident(raw.replace("\"\"", "\""), true), start..i));
        } else if c == b'$' {
            // `$tag$ … $tag$`, or a parameter `$1`.
            let tag_end = rest(i + 1)
                .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                .map(|n| i + 1 + n);
            match tag_end {
                Some(e) if at(e) == b'$' && !at(i + 1).is_ascii_digit() => {
                    let tag = part(i..e + 1);
                    i = rest(e + 1)
                        .find(tag)
                        .map_or(b.len(), |n| e + 1 + n + tag.len());
                }
                _ => {
                    i += 1;
                    while at(i).is_ascii_digit() {
                        i += 1;
                    }
                }
            }
        } else if ident_start(c) {
            while i < b.len() && ident_char(at(i)) {
                i += 1;
            }
            if at(i) == b'\'' && i - start == 1 {
                // E'…', B'…', X'…', N'…': a string.
                continue;
            }
            out.push((
                Tok::Ident(crate::normalize::fold_identifier(part(start..i)), false),
                start..i,
            ));
        } else if c.is_ascii_digit() {
            while at(i).is_ascii_alphanumeric() || at(i) == b'.' {
                i += 1;
            }
        } else {
            let two = part(i..i + 2);
            i += if [":=", "::", "<<", ">>", ".."].contains(&two) {
                2
            } else {
                rest(i).chars().next().map_or(1, char::len_utf8)
            };
            out.push((Tok::Punct(part(start..i).to_string()), start..i));
        }
    }
    out
}

/// The declarations of `body` whose type is a plain (or schema-qualified)
/// name, with or without `%ROWTYPE`: the only ones that may name a
/// relation's row type.
fn named_type_declarations(body: &str) -> Vec<NamedTypeDecl> {
    let toks = body_tokens(body);
    let kw = |t: &Tok, w: &str| matches!(t, Tok::Ident(s, false) if s == w);
    let punct = |t: &Tok, p: &str| matches!(t, Tok::Punct(s) if s == p);
    let mut out = Vec::new();
    let mut in_declare = false;
    let mut decl: Vec<(Tok, std::ops::Range<usize>)> = Vec::new();
    let mut depth = 0i32;
    for (t, r) in toks {
        if kw(&t, "declare") {
            in_declare = true;
            decl.clear();
            depth = 0;
            continue;
        }
        if !in_declare {
            continue;
        }
        if depth == 0 && kw(&t, "begin") {
            in_declare = false;
            continue;
        }
        if punct(&t, "(") {
            depth += 1;
        } else if punct(&t, ")") {
            depth -= 1;
        }
        if depth == 0 && punct(&t, ";") {
            let d = std::mem::take(&mut decl);
            let Some((Tok::Ident(name, _), name_at)) = d.first() else {
                continue;
            };
            let mut i = 1;
            if d.get(i).is_some_and(|(t, _)| kw(t, "constant")) {
                i += 1;
            }
            let mut ty = match d.get(i) {
                Some((Tok::Ident(t, _), _)) => t.clone(),
                _ => continue,
            };
            i += 1;
            if d.get(i).is_some_and(|(t, _)| punct(t, ".")) {
                match d.get(i + 1) {
                    Some((Tok::Ident(t, _), _)) => ty = format!("{ty}.{t}"),
                    _ => continue,
                }
                i += 2;
            }
            let mut rowtype = None;
            if let (Some((p, pr)), Some((w, wr))) = (d.get(i), d.get(i + 1)) {
                if punct(p, "%") && kw(w, "rowtype") {
                    rowtype = Some(pr.start..wr.end);
                    i += 2;
                }
            }
            let ends = match d.get(i) {
                None => true,
                Some((t, _)) => {
                    punct(t, ":=")
                        || punct(t, "=")
                        || ["default", "not", "collate"].iter().any(|w| kw(t, w))
                }
            };
            if ends {
                out.push(NamedTypeDecl {
                    name: name.clone(),
                    line: body
                        .get(..name_at.start)
                        .unwrap_or("")
                        .matches('\n')
                        .count()
                        + 1,
                    ty,
                    rowtype,
                });
            }
            continue;
        }
        decl.push((t, r));
    }
    out
}

/// Types of `pg_catalog` that an unqualified type name finds before any
/// relation of the dump (`pg_catalog` is searched first unless the path
/// names it later).
const CATALOG_TYPES: &[&str] = &[
    "bigint",
    "bit",
    "bool",
    "boolean",
    "box",
    "bpchar",
    "bytea",
    "char",
    "cidr",
    "circle",
    "date",
    "decimal",
    "float",
    "float4",
    "float8",
    "inet",
    "int",
    "int2",
    "int4",
    "int8",
    "integer",
    "interval",
    "json",
    "jsonb",
    "line",
    "lseg",
    "macaddr",
    "money",
    "name",
    "numeric",
    "oid",
    "path",
    "point",
    "polygon",
    "real",
    "record",
    "regclass",
    "smallint",
    "text",
    "time",
    "timestamp",
    "timestamptz",
    "timetz",
    "tsquery",
    "tsvector",
    "uuid",
    "varbit",
    "varchar",
    "xml",
];

/// The relation whose row type the type name `ty` (as
/// [`named_type_declarations`] gives it) is, on `search_path`.
fn row_type_relation(
    ty: &str,
    catalog: &Catalog,
    search_path: &[String],
) -> Option<(String, String)> {
    if !ty.contains('.') && CATALOG_TYPES.contains(&ty) {
        let before = search_path.iter().position(|s| s == "pg_catalog")?;
        return relation_named(ty, catalog, search_path.get(..before)?);
    }
    relation_named(ty, catalog, search_path)
}

/// For a `[schema.]table.column%TYPE` declaration, a query naming the
/// column the way PostgreSQL looks it up (a block-qualified variable,
/// `label.v%TYPE`, or a record's field is no column).
fn type_column_query(ty: &str, scope: &RoutineScope) -> Option<String> {
    let names = ty.strip_suffix("%TYPE")?;
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    match names.split('.').collect::<Vec<_>>().as_slice() {
        [t, c] if !scope.is_variable(t) => Some(format!("SELECT {}.{} FROM {}", q(t), q(c), q(t))),
        [s, t, c] if !scope.is_variable(s) => {
            Some(format!("SELECT {}.{} FROM {}.{}", q(t), q(c), q(s), q(t)))
        }
        _ => None,
    }
}

/// Walks a PL/pgSQL function's JSON: block labels become names in scope,
/// every `PLpgSQL_expr` is collected with its parse mode, and dynamic SQL is
/// noted.
fn collect_plpgsql(
    v: &Value,
    scope: &mut RoutineScope,
    exprs: &mut Vec<(String, i64)>,
    out: &mut RoutineAnalysis,
) {
    match v {
        Value::Object(m) => {
            for (k, val) in m {
                match k.as_str() {
                    "PLpgSQL_expr" => {
                        let q = text(val, "query");
                        let mode = val.get("parseMode").and_then(Value::as_i64).unwrap_or(0);
                        exprs.push((q.to_string(), mode));
                        continue;
                    }
                    "PLpgSQL_stmt_dynexecute" | "PLpgSQL_stmt_dynfors" | "dynquery" => {
                        out.dynamic = true;
                    }
                    "label" => {
                        if let Some(l) = val.as_str() {
                            scope.variables.insert(l.to_ascii_lowercase());
                        }
                    }
                    _ => {}
                }
                collect_plpgsql(val, scope, exprs, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_plpgsql(x, scope, exprs, out)),
        _ => {}
    }
}

/// `target := expr`: a write when the target is a trigger record's field
/// (`NEW.c := …` writes column `c` of the trigger's table).
fn assignment(
    a: &Value,
    catalog: &Catalog,
    search_path: &[String],
    scope: &RoutineScope,
    out: &mut RoutineAnalysis,
) {
    let name = text(a, "name");
    let field = list(a, "indirection").first().and_then(string_node);
    if let (Some((schema, table)), Some(col)) = (scope.record_table(name), field) {
        out.uses.push(ColumnUse {
            schema: schema.to_string(),
            table: table.to_string(),
            schema_certain: true,
            column: ColSel::Named(col.to_string()),
            access: Access::Write,
            via: "direct".into(),
            confidence: Confidence::Certain,
            reason: None,
            location: 0,
            view_path: Vec::new(),
            scope: 0,
            resolution: format!("assignment to `{name}.{col}` in the routine body"),
        });
    }
    if let Some(val) = a.get("val").filter(|v| !v.is_null()) {
        let wrapped = json!({"node": {"SelectStmt": val}});
        resolve_tree(&wrapped, catalog, search_path, scope, out);
    }
}

fn collect_string_words(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(s) = m.get("sval").and_then(Value::as_str) {
                out.extend(identifiers(s));
                out.extend(words(s));
            }
            m.values().for_each(|x| collect_string_words(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_string_words(x, out)),
        _ => {}
    }
}

/// True when `v` is a bare trigger record (or `%ROWTYPE` variable) name.
fn is_record_ref(v: &Value, scope: &RoutineScope) -> bool {
    match node(v) {
        Some(("ColumnRef", c)) => match list(c, "fields") {
            [f] => string_node(f).is_some_and(|n| scope.record_table(n).is_some()),
            _ => false,
        },
        _ => false,
    }
}

/// Replaces comparisons of two whole records (`NEW IS DISTINCT FROM OLD`,
/// `NEW = OLD`) by `NULL`: both rows lose the dropped column alike, so
/// they use none of it (unlike `row_to_json(NEW)`).
fn drop_record_comparisons(v: &mut Value, scope: &RoutineScope) {
    match v {
        Value::Object(m) => {
            let both = m.get("AExpr").is_some_and(|e| {
                is_record_ref(e.get("lexpr").unwrap_or(&Value::Null), scope)
                    && is_record_ref(e.get("rexpr").unwrap_or(&Value::Null), scope)
            });
            if both {
                m.clear();
                m.insert("AConst".into(), json!({ "isnull": true }));
                return;
            }
            m.values_mut()
                .for_each(|x| drop_record_comparisons(x, scope));
        }
        Value::Array(a) => a.iter_mut().for_each(|x| drop_record_comparisons(x, scope)),
        _ => {}
    }
}

fn resolve_tree(
    tree: &Value,
    catalog: &Catalog,
    search_path: &[String],
    scope: &RoutineScope,
    out: &mut RoutineAnalysis,
) {
    let mut r = Resolver::new(catalog, search_path);
    r.routine = Some(scope);
    let mut stripped;
    let tree = if scope.whole_records && !scope.records.is_empty() {
        stripped = tree.clone();
        drop_record_comparisons(&mut stripped, scope);
        &stripped
    } else {
        tree
    };
    r.statement_node(tree);
    if r.too_deep {
        out.problem("an embedded statement is nested too deeply to resolve".into());
    }
    out.uses.extend(r.uses);
    let (calls, writes) = effects(tree, catalog, search_path);
    out.calls.extend(calls);
    out.writes.extend(writes);
    out.calls.sort();
    out.calls.dedup();
    out.writes.sort();
    out.writes.dedup();
}

/// The functions a statement calls and the tables it writes (directly, in
/// CTEs and subqueries).
pub fn effects(
    tree: &Value,
    catalog: &Catalog,
    search_path: &[String],
) -> (Vec<Call>, Vec<TableWrite>) {
    let mut calls = Vec::new();
    let mut writes = Vec::new();
    walk_effects(tree, catalog, search_path, &mut calls, &mut writes, 0);
    calls.sort();
    calls.dedup();
    writes.sort();
    writes.dedup();
    (calls, writes)
}

fn table_of(rv: &Value, catalog: &Catalog, search_path: &[String]) -> Option<(String, String)> {
    let name = text(rv, "relname");
    if name.is_empty() {
        return None;
    }
    let schema = text(rv, "schemaname");
    if !schema.is_empty() {
        return Some((schema.to_string(), name.to_string()));
    }
    match catalog.lookup(search_path, name) {
        Some(r) => Some((r.schema.clone(), r.name.clone())),
        None => search_path
            .iter()
            .find(|s| !s.starts_with('$'))
            .map(|s| (s.clone(), name.to_string())),
    }
}

fn walk_effects(
    v: &Value,
    catalog: &Catalog,
    search_path: &[String],
    calls: &mut Vec<Call>,
    writes: &mut Vec<TableWrite>,
    depth: usize,
) {
    if depth > 1000 {
        return;
    }
    let Value::Object(m) = v else {
        if let Value::Array(a) = v {
            for x in a {
                walk_effects(x, catalog, search_path, calls, writes, depth + 1);
            }
        }
        return;
    };
    if let Some((kind, n)) = node(v) {
        match kind {
            "FuncCall" => calls.push(call_of(n)),
            "CallStmt" => {
                // `funccall` is a FuncCall struct, not a node.
                if let Some(f) = n.get("funccall").filter(|f| !f.is_null()) {
                    calls.push(call_of(f));
                }
            }
            "InsertStmt" | "UpdateStmt" | "DeleteStmt" | "MergeStmt" => {
                if let Some((schema, table)) = table_of(
                    n.get("relation").unwrap_or(&Value::Null),
                    catalog,
                    search_path,
                ) {
                    let events: Vec<&str> = match kind {
                        "InsertStmt" => vec!["insert"],
                        "UpdateStmt" => vec!["update"],
                        "DeleteStmt" => vec!["delete"],
                        _ => merge_events(n),
                    };
                    let set_columns: Vec<String> = match kind {
                        "UpdateStmt" => set_names(list(n, "target_list")),
                        "MergeStmt" => list(n, "merge_when_clauses")
                            .iter()
                            .filter_map(|w| match node(w) {
                                Some(("MergeWhenClause", c)) => {
                                    Some(set_names(list(c, "target_list")))
                                }
                                _ => None,
                            })
                            .flatten()
                            .collect(),
                        _ => Vec::new(),
                    };
                    let only = !n
                        .get("relation")
                        .and_then(|r| r.get("inh"))
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    for event in events {
                        writes.push(TableWrite {
                            schema: schema.clone(),
                            table: table.clone(),
                            event: event.to_string(),
                            set_columns: match (event, kind) {
                                ("update", _) => set_columns.clone(),
                                ("insert", "InsertStmt") => set_names(list(n, "cols")),
                                _ => Vec::new(),
                            },
                            only,
                        });
                    }
                    // ON CONFLICT DO UPDATE fires UPDATE triggers too.
                    let oc = n.get("on_conflict_clause").unwrap_or(&Value::Null);
                    if !list(oc, "target_list").is_empty() {
                        writes.push(TableWrite {
                            schema: schema.clone(),
                            table: table.clone(),
                            event: "update".into(),
                            set_columns: set_names(list(oc, "target_list")),
                            only,
                        });
                    }
                }
            }
            "CopyStmt" if n.get("is_from").and_then(Value::as_bool).unwrap_or(false) => {
                if let Some((schema, table)) = table_of(
                    n.get("relation").unwrap_or(&Value::Null),
                    catalog,
                    search_path,
                ) {
                    writes.push(TableWrite {
                        schema,
                        table,
                        event: "insert".into(),
                        set_columns: Vec::new(),
                        only: false,
                    });
                }
            }
            "TruncateStmt" => {
                for rv in list(n, "relations") {
                    if let Some(("RangeVar", r)) = node(rv) {
                        if let Some((schema, table)) = table_of(r, catalog, search_path) {
                            writes.push(TableWrite {
                                schema,
                                table,
                                event: "truncate".into(),
                                set_columns: Vec::new(),
                                only: true,
                            });
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for val in m.values() {
        walk_effects(val, catalog, search_path, calls, writes, depth + 1);
    }
}

fn call_of(f: &Value) -> Call {
    Call {
        name: list(f, "funcname")
            .iter()
            .filter_map(string_node)
            .map(str::to_string)
            .collect(),
        nargs: list(f, "args").len(),
    }
}

fn set_names(targets: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = targets
        .iter()
        .filter_map(|t| match node(t) {
            Some(("ResTarget", rt)) => Some(text(rt, "name").to_string()),
            _ => None,
        })
        .filter(|n| !n.is_empty())
        .collect();
    v.sort();
    v.dedup();
    v
}

fn merge_events(n: &Value) -> Vec<&'static str> {
    let mut ev: Vec<&'static str> = list(n, "merge_when_clauses")
        .iter()
        .filter_map(|w| match node(w) {
            Some(("MergeWhenClause", c)) => {
                match c.get("command_type").and_then(Value::as_i64).unwrap_or(0) {
                    x if x == parse::CMD_INSERT => Some("insert"),
                    x if x == parse::CMD_UPDATE => Some("update"),
                    x if x == parse::CMD_DELETE => Some("delete"),
                    _ => None,
                }
            }
            _ => None,
        })
        .collect();
    ev.sort();
    ev.dedup();
    ev
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::load_schema;

    fn catalog() -> Catalog {
        load_schema(
            "CREATE TABLE public.users (id bigint, email text, legacy_email text);\
             CREATE TABLE public.audit (id bigint, note text);",
        )
    }

    fn uses_of(
        sql: &str,
        trigger: Option<(&str, &str)>,
    ) -> (BTreeSet<(String, String, Access)>, RoutineAnalysis) {
        let c = catalog();
        let sp = vec!["public".to_string()];
        let stmt = parse::parse(sql).unwrap().remove(0);
        let (kind, n) = node(&stmt.tree).unwrap();
        let a = analyze_routine(kind, n, &stmt.text, &c, &sp, trigger);
        let set = a
            .uses
            .iter()
            .map(|u| {
                let col = match &u.column {
                    ColSel::Named(c) => c.clone(),
                    other => format!("{other:?}"),
                };
                (format!("{}.{}", u.schema, u.table), col, u.access)
            })
            .collect();
        (set, a)
    }

    fn set(items: &[(&str, &str, Access)]) -> BTreeSet<(String, String, Access)> {
        items
            .iter()
            .map(|(t, c, a)| (t.to_string(), c.to_string(), *a))
            .collect()
    }

    #[test]
    fn plpgsql_variables_are_not_columns() {
        let (u, a) = uses_of(
            "CREATE FUNCTION public.get_contact(p_id bigint) RETURNS text LANGUAGE plpgsql AS $$
             DECLARE legacy text;
             BEGIN
               SELECT legacy_email INTO legacy FROM users WHERE id = p_id AND id = get_contact.p_id;
               IF legacy IS NULL THEN RETURN NULL; END IF;
               RETURN legacy;
             END $$",
            None,
        );
        assert_eq!(a.problem, None);
        assert_eq!(
            u,
            set(&[
                ("public.users", "id", Access::Read),
                ("public.users", "legacy_email", Access::Read)
            ])
        );
    }

    #[test]
    fn trigger_function_new_fields_are_columns_of_the_trigger_table() {
        let (u, _) = uses_of(
            "CREATE FUNCTION public.sync() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               NEW.legacy_email := NEW.email;
               INSERT INTO audit (id, note) VALUES (OLD.id, TG_OP);
               RETURN NEW;
             END $$",
            Some(("public", "users")),
        );
        assert_eq!(
            u,
            set(&[
                ("public.users", "legacy_email", Access::Write),
                ("public.users", "email", Access::Read),
                ("public.users", "id", Access::Read),
                ("public.audit", "id", Access::Write),
                ("public.audit", "note", Access::Write),
            ])
        );
    }

    #[test]
    fn a_whole_new_row_uses_every_column_but_returning_or_comparing_it_does_not() {
        let (u, _) = uses_of(
            "CREATE FUNCTION public.w() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF NEW IS DISTINCT FROM OLD THEN RETURN NEW; END IF;
               RETURN OLD;
             END $$",
            Some(("public", "users")),
        );
        assert!(u.is_empty(), "{u:?}");
        for body in [
            "INSERT INTO audit (note) VALUES (row_to_json(NEW)::text)",
            "INSERT INTO audit (note) VALUES (to_jsonb(OLD)::text)",
            "INSERT INTO audit SELECT NEW.*",
            "PERFORM pg_notify('c', NEW::text)",
        ] {
            let (u, _) = uses_of(
                &format!(
                    "CREATE FUNCTION public.w() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN {body}; RETURN NEW; END $$"
                ),
                Some(("public", "users")),
            );
            let users: BTreeSet<_> = u.into_iter().filter(|x| x.0 == "public.users").collect();
            assert_eq!(
                users,
                set(&[("public.users", "All", Access::Read)]),
                "{body}"
            );
        }
    }

    #[test]
    fn transition_tables_are_the_trigger_tables_rows_unless_a_cte_hides_them() {
        let c = catalog();
        let sp = vec!["public".to_string()];
        let body = "CREATE FUNCTION public.st() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               INSERT INTO audit (note) SELECT n.legacy_email FROM newrows n;
               INSERT INTO audit (note) SELECT email FROM oldrows;
               WITH newrows AS (SELECT 'x' AS id) SELECT id FROM newrows;
               RETURN NULL;
             END $$";
        let stmt = parse::parse(body).unwrap().remove(0);
        let (kind, n) = node(&stmt.tree).unwrap();
        let names = vec!["newrows".to_string(), "oldrows".to_string()];
        let a = analyze_trigger_routine(
            kind,
            n,
            &stmt.text,
            &c,
            &sp,
            Some(("public", "users")),
            &names,
        );
        let users: BTreeSet<String> = a
            .uses
            .iter()
            .filter(|u| u.table == "users")
            .map(|u| format!("{:?}", u.column))
            .collect();
        assert_eq!(
            users,
            ["Named(\"email\")", "Named(\"legacy_email\")"]
                .into_iter()
                .map(String::from)
                .collect()
        );
    }

    #[test]
    fn type_and_rowtype_declarations_name_columns_of_tables_not_variables() {
        let (u, _) = uses_of(
            "CREATE FUNCTION public.d() RETURNS text LANGUAGE plpgsql AS $$
             <<outer>> DECLARE
               v users.legacy_email%TYPE;
               w public.users.email%TYPE;
               x v%TYPE;
               y outer.v%TYPE;
               r users%ROWTYPE;
             BEGIN
               RETURN r.id;
             END $$",
            None,
        );
        assert_eq!(
            u,
            set(&[
                ("public.users", "legacy_email", Access::Read),
                ("public.users", "email", Access::Read),
                ("public.users", "id", Access::Read),
            ])
        );
    }

    #[test]
    fn a_relations_type_name_declares_a_record_of_its_columns() {
        // PostgreSQL 15: `DECLARE r t` is `r t%ROWTYPE`; after `ALTER TABLE
        // t DROP COLUMN c`, `r.c` fails (`record "r" has no field "c"`).
        for decl in [
            "r users",
            "r public.users",
            "r \"users\"",
            "r users := NULL",
            "r users%ROWTYPE",
            "r public.users%ROWTYPE",
        ] {
            let (u, a) = uses_of(
                &format!(
                    "CREATE FUNCTION public.g() RETURNS text LANGUAGE plpgsql AS $$
                     DECLARE
                       n int;
                       {decl};
                     BEGIN
                       r.id := 1;
                       r := ROW(1, 'a', 'b');
                       RETURN r.email;
                     END $$"
                ),
                None,
            );
            assert!(a.problem.is_none(), "{decl}: {:?}", a.problem);
            assert_eq!(
                u,
                set(&[
                    ("public.users", "id", Access::Write),
                    ("public.users", "email", Access::Read),
                ]),
                "{decl}"
            );
        }
        // Not a relation: no record of its columns.
        for decl in ["r int", "r text", "r record", "r nosuch", "r audit.users"] {
            let (u, _) = uses_of(
                &format!(
                    "CREATE FUNCTION public.g() RETURNS text LANGUAGE plpgsql AS $$
                     DECLARE {decl}; BEGIN RETURN r.email; END $$"
                ),
                None,
            );
            assert!(u.is_empty(), "{decl}: {u:?}");
        }
    }

    #[test]
    fn named_type_declarations_are_found_with_their_lines() {
        let d = named_type_declarations(
            "\n<<l>> DECLARE\n  a int := 1; -- b users;\n  \"R\" Public.Users%ROWTYPE;\n  c CURSOR FOR SELECT 1;\n  s text := 'x; y users;';\nBEGIN\n  DECLARE q users; BEGIN END;\nEND",
        );
        let got: Vec<(String, usize, String, bool)> = d
            .into_iter()
            .map(|d| (d.name, d.line, d.ty, d.rowtype.is_some()))
            .collect();
        let want = [
            ("a", 3, "int", false),
            ("R", 4, "public.users", true),
            ("s", 6, "text", false),
            ("q", 8, "users", false),
        ];
        assert_eq!(
            got,
            want.iter()
                .map(|(a, b, c, d)| (a.to_string(), *b, c.to_string(), *d))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_routines_own_search_path_is_its_bodys() {
        let c = load_schema(
            "CREATE TABLE app.users (id bigint, secret text);\
             CREATE TABLE public.users (id bigint, email text);",
        );
        let sp = vec!["public".to_string()];
        for (sql, want) in [
            (
                "CREATE FUNCTION f() RETURNS bigint LANGUAGE sql SET search_path = app, pg_catalog AS 'SELECT count(id) FROM users'",
                "app.users",
            ),
            (
                "CREATE FUNCTION f() RETURNS bigint LANGUAGE sql SET search_path FROM CURRENT AS 'SELECT count(id) FROM users'",
                "public.users",
            ),
            (
                "CREATE FUNCTION f() RETURNS bigint LANGUAGE sql SET search_path TO DEFAULT AS 'SELECT count(id) FROM users'",
                "public.users",
            ),
        ] {
            let stmt = parse::parse(sql).unwrap().remove(0);
            let (kind, n) = node(&stmt.tree).unwrap();
            let a = analyze_routine(kind, n, &stmt.text, &c, &sp, None);
            let tables: BTreeSet<String> = a
                .uses
                .iter()
                .map(|u| format!("{}.{}", u.schema, u.table))
                .collect();
            assert_eq!(tables, [want.to_string()].into_iter().collect(), "{sql}");
        }
    }

    #[test]
    fn dynamic_execute_is_noted_with_the_words_of_its_strings() {
        let (u, a) = uses_of(
            "DO $$ DECLARE q text; BEGIN
               q := format('UPDATE %I SET legacy_email = NULL', 'users');
               EXECUTE q;
             END $$",
            None,
        );
        assert!(u.is_empty(), "{u:?}");
        assert!(a.dynamic);
        assert!(a.dynamic_words.contains("legacy_email"));
    }

    #[test]
    fn sql_function_string_body_and_begin_atomic() {
        let (u, _) = uses_of(
            "CREATE FUNCTION f(p_id bigint) RETURNS text LANGUAGE sql AS $$ SELECT email FROM users WHERE id = p_id; UPDATE users SET legacy_email = NULL WHERE id = $1 $$",
            None,
        );
        assert_eq!(
            u,
            set(&[
                ("public.users", "email", Access::Read),
                ("public.users", "id", Access::Read),
                ("public.users", "legacy_email", Access::Write)
            ])
        );
        let (u, _) = uses_of(
            "CREATE FUNCTION g(email text) RETURNS bigint LANGUAGE sql BEGIN ATOMIC SELECT id FROM users WHERE legacy_email = g.email; END",
            None,
        );
        assert_eq!(
            u,
            set(&[
                ("public.users", "id", Access::Read),
                ("public.users", "legacy_email", Access::Read)
            ])
        );
    }

    #[test]
    fn effects_list_calls_and_trigger_firing_writes() {
        let c = catalog();
        let sp = vec!["public".to_string()];
        let stmt = parse::parse(
            "WITH x AS (UPDATE users SET email = lower(email) RETURNING id) INSERT INTO audit SELECT id, public.note(id, 2) FROM x",
        )
        .unwrap()
        .remove(0);
        let (calls, writes) = effects(&stmt.tree, &c, &sp);
        let names: Vec<(String, usize)> =
            calls.iter().map(|c| (c.name.join("."), c.nargs)).collect();
        assert_eq!(
            names,
            vec![("lower".to_string(), 1), ("public.note".to_string(), 2)]
        );
        let w: Vec<(String, Vec<String>)> = writes
            .iter()
            .map(|w| {
                (
                    format!("{} {}.{}", w.event, w.schema, w.table),
                    w.set_columns.clone(),
                )
            })
            .collect();
        assert_eq!(
            w,
            vec![
                ("insert public.audit".to_string(), vec![]),
                ("update public.users".to_string(), vec!["email".to_string()])
            ]
        );
    }
}
