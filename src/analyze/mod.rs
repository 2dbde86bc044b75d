//! SQL analysis: parses a statement text with PostgreSQL's parser (through
//! [`parse`], the only module that touches pg_query), resolves every column
//! reference ([`resolve`]) and reports the references to target columns as
//! our own types. Also builds the catalog from a schema dump ([`schema`]).

pub mod migration;
pub mod objects;
pub mod parse;
pub mod plpgsql;
pub mod reach;
pub mod resolve;
pub mod schema;
pub mod session;
mod tree;

pub use schema::load_schema;

use crate::catalog::Catalog;
use crate::inventory::{Access, Confidence};
use crate::normalize::{identifiers, normalize_shown, stable_hash};
use crate::target::ColumnTarget;
use resolve::{ColSel, ColumnUse, Resolver};

/// A reference to a target column found in one statement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TargetRef {
    /// Index of the target.
    pub target: usize,
    /// Read or write.
    pub access: Access,
    /// `direct`, `star`, `whole_row`, `positional`, `natural_join`,
    /// `view schema.name`, `unparseable`, `do_block`.
    pub via: String,
    /// How sure.
    pub confidence: Confidence,
    /// Why not certain.
    pub reason: Option<String>,
}

/// The analysis of one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementAnalysis {
    /// pg_query fingerprint (hex), or `text:` + a hash of the normalised text.
    pub fingerprint: String,
    /// The statement with every literal replaced by `$n`.
    pub query: String,
    /// References to targets.
    pub refs: Vec<TargetRef>,
    /// False when pg_query could not parse it (the refs are then only
    /// `possible` mentions).
    pub parsed: bool,
    /// Why it could not be parsed or fully resolved.
    pub problem: Option<String>,
}

/// The analysis of a logged statement text (one entry per statement in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    /// One per statement (a multi-statement string gives several).
    pub statements: Vec<StatementAnalysis>,
    /// Whether statements of this normalised text can resolve differently
    /// by their values (positions in `ORDER BY`, routine bodies): set by
    /// the scan's cache, see [`crate::normalize::values_may_decide`].
    pub values_matter: bool,
}

/// Analyses statements against a catalog for a set of targets.
pub struct Analyzer<'a> {
    catalog: &'a Catalog,
    targets: &'a [ColumnTarget],
    /// Per target: the tables whose same-named column is the target's
    /// (the target's own table first, then the descendants whose column a
    /// `DROP COLUMN` on it drops too, with `via` words).
    families: Vec<Vec<Member>>,
    /// [`Analyzer::descendants`].
    descendants: Vec<Vec<(String, String, String)>>,
    search_path: Vec<String>,
    /// `query` texts keep their literal values (`--keep-literals`).
    keep_literals: bool,
}

impl<'a> Analyzer<'a> {
    /// An analyzer with the given default `search_path` (schema names, in order).
    pub fn new(
        catalog: &'a Catalog,
        targets: &'a [ColumnTarget],
        search_path: Vec<String>,
    ) -> Self {
        let families: Vec<Vec<Member>> = targets.iter().map(|t| family(catalog, t)).collect();
        let descendants = families
            .iter()
            .map(|f| {
                f.iter()
                    .filter_map(|m| Some((m.schema.clone(), m.table.clone(), m.via.clone()?)))
                    .collect()
            })
            .collect();
        Self {
            catalog,
            targets,
            families,
            descendants,
            search_path,
            keep_literals: false,
        }
    }

    /// The same analyzer, whose `query` texts keep the literal values of the
    /// statement (`keep`) or replace them by `$n` (the default).
    pub fn keeping_literals(mut self, keep: bool) -> Self {
        self.keep_literals = keep;
        self
    }

    /// Whether `query` texts keep literal values.
    pub fn keeps_literals(&self) -> bool {
        self.keep_literals
    }

    /// The `query` text shown for a statement text.
    fn shown(&self, sql: &str) -> String {
        if self.keep_literals {
            sql.trim().to_string()
        } else {
            normalize_shown(sql)
        }
    }

    fn mentions(&self, sql: &str) -> Vec<usize> {
        let ids: Vec<String> = identifiers(sql).collect();
        self.targets
            .iter()
            .enumerate()
            .filter(|(_, t)| ids.contains(&t.column))
            .map(|(i, _)| i)
            .collect()
    }

    fn possible_mentions(&self, sql: &str, via: &str, reason: &str) -> Vec<TargetRef> {
        self.mentions(sql)
            .into_iter()
            .map(|target| TargetRef {
                target,
                access: Access::Read,
                via: via.to_string(),
                confidence: Confidence::Possible,
                reason: Some(reason.to_string()),
            })
            .collect()
    }

    /// Analyses one logged statement text.
    pub fn analyze(&self, sql: &str) -> Analysis {
        self.analyze_with_path(sql, &self.search_path)
    }

    /// Per target: the descendant tables whose same-named column is the
    /// target's (`schema`, `table`, `partition s.t` / `child s.t`).
    pub fn descendants(&self) -> &[Vec<(String, String, String)>] {
        &self.descendants
    }

    /// The catalog analysed against.
    pub fn catalog(&self) -> &'a Catalog {
        self.catalog
    }

    /// The default `search_path` (schema names, in order).
    pub fn search_path(&self) -> &[String] {
        &self.search_path
    }

    /// Analyses one logged statement text with another `search_path` (the
    /// session's or the role's).
    pub fn analyze_with_path(&self, sql: &str, search_path: &[String]) -> Analysis {
        self.analyze_in_session(sql, search_path, None, None)
    }

    /// [`Analyzer::analyze_with_path`] for a statement of `user` in
    /// `database`: a `SET search_path` inside the text (`"$user"`, `RESET`)
    /// is resolved for them. The analysis is marked `values_matter` when a
    /// value of the text decides how it resolves: a `DO` block or `CREATE
    /// FUNCTION`/`PROCEDURE` (its body is a string), or a `search_path`
    /// change followed by another statement.
    pub fn analyze_in_session(
        &self,
        sql: &str,
        search_path: &[String],
        user: Option<&str>,
        database: Option<&str>,
    ) -> Analysis {
        self.analyze_in_transaction(sql, search_path, user, None, database, None)
    }

    /// [`Analyzer::analyze_in_session`] of a text run in an open
    /// transaction whose path state is `state` (its `SET LOCAL`, the
    /// session's value when it began, its savepoints): a `COMMIT`,
    /// `ROLLBACK` or `ROLLBACK TO SAVEPOINT` inside the text moves the path
    /// for the statements after it as it does in PostgreSQL. `search_path`
    /// is then the path `state` gives.
    /// `role`: the current user a `SET ROLE` made before the text (given
    /// with `state`, the state's counts).
    pub fn analyze_in_transaction(
        &self,
        sql: &str,
        search_path: &[String],
        user: Option<&str>,
        role: Option<&str>,
        database: Option<&str>,
        state: Option<&session::PathState>,
    ) -> Analysis {
        let parsed = match parse::parse(sql) {
            Ok(p) => p,
            Err(reason) => {
                let query = self.shown(sql);
                let refs = self.possible_mentions(
                    sql,
                    "unparseable",
                    &format!("the statement could not be parsed ({reason}) and names the column"),
                );
                return Analysis {
                    values_matter: false,
                    statements: vec![StatementAnalysis {
                        fingerprint: format!("text:{:016x}", stable_hash(&normalize_shown(sql))),
                        query,
                        refs,
                        parsed: false,
                        problem: Some(reason),
                    }],
                };
            }
        };
        // A `SET search_path` in a text of several statements applies to
        // the statements after it.
        let mut path: std::borrow::Cow<'_, [String]> = search_path.into();
        // The text starts with the path it was given (as the session's);
        // SET LOCAL lasts to the end of the transaction (or of the text, an
        // implicit one), ROLLBACK undoes a SET made in a transaction begun
        // in the text.
        let mut state = match state {
            Some(state) => state.clone(),
            None => session::PathState {
                session: Some(search_path.to_vec()),
                role: session::Role {
                    authorization: None,
                    role: role.map(str::to_string),
                },
                ..session::PathState::default()
            },
        };
        state.begin_text();
        let mut values_matter = false;
        let count = parsed.len();
        let statements = parsed
            .into_iter()
            .enumerate()
            .map(|(i, stmt)| {
                let search_path: &[String] = &path.clone();
                let query = self.shown(&stmt.text);
                let fingerprint = parse::fingerprint(&stmt.text).unwrap_or_else(|| {
                    format!("text:{:016x}", stable_hash(&normalize_shown(&stmt.text)))
                });
                let kind = tree::node(&stmt.tree).map(|(k, _)| k).unwrap_or("");
                values_matter |= matches!(kind, "DoStmt" | "CreateFunctionStmt");
                let (mut refs, problem) = match kind {
                    "DoStmt" | "CreateFunctionStmt" => {
                        self.routine_refs(&stmt.tree, &stmt.text, search_path)
                    }
                    _ => self.statement_refs(&stmt.tree, &stmt.text, search_path),
                };
                dedup_refs(&mut refs);
                let events = session::tree_events(&stmt.tree);
                if !events.is_empty() {
                    for e in &events {
                        state.apply(e);
                        values_matter |= matches!(
                            e,
                            session::PathEvent::Set { .. } | session::PathEvent::SetRole { .. }
                        ) && i + 1 < count;
                    }
                    path = self.path_of(&state, user, database).into();
                }
                StatementAnalysis {
                    fingerprint,
                    query,
                    refs,
                    parsed: true,
                    problem,
                }
            })
            .collect();
        Analysis {
            statements,
            values_matter,
        }
    }

    /// The path the next statement of a text resolves with, after the
    /// text's own `search_path` events (for `user` in `database`).
    fn path_of(
        &self,
        state: &session::PathState,
        user: Option<&str>,
        database: Option<&str>,
    ) -> Vec<String> {
        session::effective_search_path_as(
            state.current().map(Vec::as_slice),
            self.catalog,
            user,
            state.current_role(),
            database,
            &self.search_path,
        )
    }

    /// References of an ordinary statement: its own column uses, and what
    /// the functions it calls and the triggers its writes fire use.
    fn statement_refs(
        &self,
        tree: &serde_json::Value,
        text: &str,
        search_path: &[String],
    ) -> (Vec<TargetRef>, Option<String>) {
        let mut resolver = Resolver::new(self.catalog, search_path);
        resolver.statement_node(tree);
        let mut refs = self.match_uses(&resolver.uses);
        let mut problem = None;
        if resolver.too_deep {
            problem = Some("statement nested too deeply to resolve completely".to_string());
            refs.extend(self.possible_mentions(
                text,
                "too_deep",
                "the statement is nested too deeply to resolve; it names the column",
            ));
        }
        let (calls, writes) = plpgsql::effects(tree, self.catalog, search_path);
        let reached = reach::Reach::new(self.catalog, search_path).from(&calls, &writes);
        refs.extend(self.reached_refs(&reached));
        (refs, problem)
    }

    /// References of a `DO` block (run here: via `do_block`) or a
    /// `CREATE FUNCTION` (its body: via `function_body`).
    fn routine_refs(
        &self,
        tree: &serde_json::Value,
        text: &str,
        search_path: &[String],
    ) -> (Vec<TargetRef>, Option<String>) {
        let Some((kind, n)) = tree::node(tree) else {
            return (Vec::new(), None);
        };
        let analysis = plpgsql::analyze_routine(kind, n, text, self.catalog, search_path, None);
        let label = if kind == "DoStmt" {
            "do_block"
        } else {
            "function_body"
        };
        let own = if kind == "CreateFunctionStmt" {
            plpgsql::own_search_path(n, search_path)
        } else {
            None
        };
        let reached = reach::Reach::new(self.catalog, search_path).routine(
            &analysis,
            own.as_deref(),
            &[label.to_string()],
        );
        (self.reached_refs(&reached), analysis.problem.clone())
    }

    fn reached_refs(&self, reached: &reach::Reached) -> Vec<TargetRef> {
        let mut refs = self.match_uses(&reached.uses);
        for w in &reached.words {
            for (target, t) in self.targets.iter().enumerate() {
                if t.column == w.word {
                    refs.push(TargetRef {
                        target,
                        access: Access::Read,
                        via: w.via.clone(),
                        confidence: Confidence::Possible,
                        reason: Some(w.reason.clone()),
                    });
                }
            }
        }
        refs
    }

    /// The catalog routines whose bodies hold a statement with this
    /// fingerprint (`function schema.f(types)`, several joined with ` or `):
    /// where a pg_stat_statements row with `toplevel = false` ran.
    pub fn routines_containing(&self, fingerprint: &str) -> Option<String> {
        let mut found: Vec<String> = Vec::new();
        for r in self.catalog.routines.values().flatten() {
            if r.analysis.statement_fingerprints.contains(fingerprint) {
                found.push(format!("{} {}", r.kind, r.identity));
            }
        }
        for t in &self.catalog.triggers {
            if t.body
                .as_ref()
                .is_some_and(|b| b.statement_fingerprints.contains(fingerprint))
            {
                found.push(format!("function {}", t.function_identity));
            }
        }
        found.sort();
        found.dedup();
        (!found.is_empty()).then(|| found.join(" or "))
    }

    /// All uses of columns found in one statement, unfiltered (for `explain`).
    pub fn uses(&self, sql: &str) -> Result<Vec<Vec<ColumnUse>>, String> {
        let parsed = parse::parse(sql)?;
        // A path set inside the text applies to the statements after it,
        // as in a scan.
        let mut state = session::PathState {
            session: Some(self.search_path.clone()),
            ..session::PathState::default()
        };
        let mut path = self.search_path.clone();
        Ok(parsed
            .into_iter()
            .map(|stmt| {
                let mut r = Resolver::new(self.catalog, &path);
                r.statement_node(&stmt.tree);
                let uses = r.uses;
                let events = session::tree_events(&stmt.tree);
                if !events.is_empty() {
                    events.iter().for_each(|e| state.apply(e));
                    path = self.path_of(&state, None, None);
                }
                uses
            })
            .collect())
    }

    /// Maps column uses to target references. A use of a partition's or
    /// an inheriting child's column that `DROP COLUMN` on the target's
    /// table drops too is a use of the target, its `via` ending in
    /// `partition schema.table` or `child schema.table`.
    pub fn match_uses(&self, uses: &[ColumnUse]) -> Vec<TargetRef> {
        let mut out = Vec::new();
        for u in uses {
            for (ti, (t, fam)) in self.targets.iter().zip(&self.families).enumerate() {
                for m in fam {
                    if let Some(r) = self.match_member(u, ti, t, m) {
                        out.push(r);
                    }
                }
            }
        }
        dedup_refs(&mut out);
        out
    }

    fn match_member(
        &self,
        u: &ColumnUse,
        ti: usize,
        t: &ColumnTarget,
        m: &Member,
    ) -> Option<TargetRef> {
        if u.table != m.table {
            return None;
        }
        let mut conf = u.confidence;
        let mut reason = u.reason.clone();
        if u.schema != m.schema {
            if u.schema_certain {
                return None;
            }
            conf = Confidence::Possible;
            reason = Some(format!(
                "unqualified table `{}` is not in the schema; it is {}.{} only if `{}` comes first on the search_path",
                m.table, m.schema, m.table, m.schema
            ));
        }
        let rel = self.catalog.get(&m.schema, &m.table);
        match &u.column {
            ColSel::Named(c) => {
                if *c != t.column {
                    return None;
                }
            }
            ColSel::All => {
                if rel.is_some_and(|r| !r.columns.contains(&t.column)) {
                    return None;
                }
            }
            ColSel::FirstN(k) => {
                match rel.and_then(|r| r.columns.iter().position(|c| *c == t.column)) {
                    Some(p) if p >= *k => return None,
                    Some(_) => {}
                    None if rel.is_some() => return None,
                    None => {
                        if conf > Confidence::Probable {
                            conf = Confidence::Probable;
                            reason = Some(format!(
                                "positional write of {k} values; without a schema the column's position is unknown"
                            ));
                        }
                    }
                }
            }
        }
        if conf == Confidence::Certain {
            reason = None;
        }
        Some(TargetRef {
            target: ti,
            access: u.access,
            via: through(&u.via, m.via.as_deref()),
            confidence: conf,
            reason,
        })
    }
}

/// A table whose column named like a target is the target's (see
/// [`family`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
    /// `partition schema.table` / `child schema.table`; `None` for the
    /// target's own table.
    pub via: Option<String>,
}

/// The target's table, then every descendant whose same-named column goes
/// with it on `DROP COLUMN` ([`Catalog::dropped_with`]).
pub(crate) fn family(catalog: &Catalog, t: &ColumnTarget) -> Vec<Member> {
    let mut out = vec![Member {
        schema: t.schema.clone(),
        table: t.table.clone(),
        via: None,
    }];
    for r in catalog.dropped_with(&t.schema, &t.table, &t.column) {
        let kind = if r.partition { "partition" } else { "child" };
        out.push(Member {
            schema: r.schema.clone(),
            table: r.name.clone(),
            via: Some(format!("{kind} {}.{}", r.schema, r.name)),
        });
    }
    out
}

/// `via` of a use made through a descendant table: the descendant last
/// (`partition public.q1`, `star > child public.kid`).
pub(crate) fn through(via: &str, member: Option<&str>) -> String {
    match member {
        None => via.to_string(),
        Some(m) if via == "direct" || via.is_empty() => m.to_string(),
        Some(m) => format!("{via} > {m}"),
    }
}

/// Keeps one reference per (target, access, via), with the highest
/// confidence (and the smallest reason among equals).
fn dedup_refs(refs: &mut Vec<TargetRef>) {
    refs.sort_by(|a, b| {
        (a.target, a.access, &a.via)
            .cmp(&(b.target, b.access, &b.via))
            .then(b.confidence.cmp(&a.confidence))
            .then(a.reason.cmp(&b.reason))
    });
    refs.dedup_by(|later, first| {
        first.target == later.target && first.access == later.access && first.via == later.via
    });
}
