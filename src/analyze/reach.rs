//! What a statement reaches beyond its own text: the bodies of the functions
//! and procedures it calls (transitively) and the triggers its writes fire,
//! as column uses whose `via` names the path
//! (`function public.get_contact(bigint) > trigger trg on public.users`).

use std::collections::BTreeSet;

use super::parse;
use super::plpgsql::{analyze_routine, analyze_trigger_routine, Call, RoutineAnalysis, TableWrite};
use super::resolve::ColumnUse;
use super::tree::node;
use crate::catalog::{Catalog, Routine, Trigger};
use crate::inventory::Confidence;

/// A routine's analysis: the one made when the catalog was loaded, or one
/// on another search_path from the catalog's cache (shared, not copied).
pub enum Body<'c> {
    /// Made at load time.
    Loaded(&'c RoutineAnalysis),
    /// From [`crate::catalog::BodyCache`].
    Cached(std::sync::Arc<RoutineAnalysis>),
}

impl std::ops::Deref for Body<'_> {
    type Target = RoutineAnalysis;

    fn deref(&self) -> &RoutineAnalysis {
        match self {
            Body::Loaded(a) => a,
            Body::Cached(a) => a,
        }
    }
}

/// A word that a body which could not be fully analysed names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct WordUse {
    /// The identifier.
    pub word: String,
    /// The path to the body.
    pub via: String,
    /// Why it is only a possible use.
    pub reason: String,
}

/// Uses and words reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reached {
    /// Column uses, `via` set to the path.
    pub uses: Vec<ColumnUse>,
    /// Words of dynamic SQL and unanalysed bodies.
    pub words: Vec<WordUse>,
}

/// Deepest call/trigger chain followed.
const MAX_CHAIN: usize = 32;

/// Follows calls and trigger-firing writes through the catalog.
pub struct Reach<'c> {
    catalog: &'c Catalog,
    search_path: &'c [String],
}

impl<'c> Reach<'c> {
    /// Over `catalog`, resolving unqualified function names on `search_path`.
    pub fn new(catalog: &'c Catalog, search_path: &'c [String]) -> Self {
        Self {
            catalog,
            search_path,
        }
    }

    /// The routines a call may execute, with how sure that is.
    pub fn resolve_call(&self, call: &Call) -> (Vec<&'c Routine>, Confidence, Option<String>) {
        self.resolve_call_on(call, self.search_path)
    }

    /// [`Self::resolve_call`] on `search_path` (a calling routine's own).
    fn resolve_call_on(
        &self,
        call: &Call,
        search_path: &[String],
    ) -> (Vec<&'c Routine>, Confidence, Option<String>) {
        let found = match call.name.as_slice() {
            [s, f] => self.catalog.routines.get(&(s.clone(), f.clone())),
            [f] => search_path
                .iter()
                .find_map(|s| self.catalog.routines.get(&(s.clone(), f.clone()))),
            _ => None,
        };
        let Some(all) = found else {
            return (Vec::new(), Confidence::Certain, None);
        };
        let all: Vec<&Routine> = all.iter().filter(|r| !r.returns_trigger).collect();
        let n = call.nargs;
        let fitting: Vec<&Routine> = all
            .iter()
            .copied()
            .filter(|r| r.min_args <= n && r.max_args.is_none_or(|m| n <= m))
            .collect();
        let name = call.name.join(".");
        match fitting.len() {
            0 if all.is_empty() => (Vec::new(), Confidence::Certain, None),
            0 => (
                all,
                Confidence::Possible,
                Some(format!("no overload of {name} takes {n} argument(s)")),
            ),
            1 => (fitting, Confidence::Certain, None),
            k => (
                fitting,
                Confidence::Possible,
                Some(format!(
                    "{k} overloads of {name} take {n} argument(s); the argument types decide"
                )),
            ),
        }
    }

    /// What a routine's body uses when called on `search_path`: analysed
    /// when the catalog was loaded, unless the routine runs with its
    /// caller's path (no `SET search_path` of its own) and that path
    /// resolves names otherwise: then analysed again on it (cached).
    fn body_on(&self, r: &'c Routine, search_path: &[String]) -> Body<'c> {
        if r.search_path.is_some() || self.catalog.resolves_like_load_path(search_path) {
            return Body::Loaded(&r.analysis);
        }
        let key = (r.identity.clone(), search_path.to_vec());
        let a = self.catalog.bodies.get_or(key, || {
            definition_node(&r.definition, |kind, n, text| {
                analyze_routine(kind, n, text, self.catalog, search_path, None)
            })
            .unwrap_or_else(|| r.analysis.clone())
        });
        Body::Cached(a)
    }

    /// What a trigger's function body uses when its statement runs on
    /// `search_path` (see [`Self::body_on`]).
    fn trigger_body_on(&self, t: &'c Trigger, search_path: &[String]) -> Option<Body<'c>> {
        let body = t.body.as_ref()?;
        if t.search_path.is_some() || self.catalog.resolves_like_load_path(search_path) {
            return Some(Body::Loaded(body));
        }
        let (fs, fname) = t.function.as_ref()?;
        let func = self
            .catalog
            .routines
            .get(&(fs.clone(), fname.clone()))?
            .iter()
            .find(|r| r.returns_trigger)?;
        let key = (t.label(), search_path.to_vec());
        let a = self.catalog.bodies.get_or(key, || {
            definition_node(&func.definition, |kind, n, text| {
                analyze_trigger_routine(
                    kind,
                    n,
                    text,
                    self.catalog,
                    search_path,
                    Some((&t.schema, &t.table)),
                    &t.transitions,
                )
            })
            .unwrap_or_else(|| body.clone())
        });
        Some(Body::Cached(a))
    }

    /// A routine's body on this reach's search path (for listings).
    pub fn routine_body(&self, r: &'c Routine) -> Body<'c> {
        self.body_on(r, self.search_path)
    }

    /// A trigger's function body on this reach's search path.
    pub fn trigger_body(&self, t: &'c Trigger) -> Option<Body<'c>> {
        self.trigger_body_on(t, self.search_path)
    }

    /// Everything reached from these calls and writes.
    pub fn from(&self, calls: &[Call], writes: &[TableWrite]) -> Reached {
        let mut out = Reached::default();
        let mut visiting = BTreeSet::new();
        self.walk(
            calls,
            writes,
            self.search_path,
            &[],
            Confidence::Certain,
            None,
            &mut visiting,
            &mut out,
        );
        out
    }

    /// A routine's own uses and everything it reaches, with `path` first.
    /// `own_path`: the routine's own `SET search_path`, if any.
    pub fn routine(
        &self,
        analysis: &RoutineAnalysis,
        own_path: Option<&[String]>,
        path: &[String],
    ) -> Reached {
        let mut out = Reached::default();
        let mut visiting = BTreeSet::new();
        emit(analysis, path, Confidence::Certain, None, &mut out);
        self.walk(
            &analysis.calls,
            &analysis.writes,
            own_path.unwrap_or(self.search_path),
            path,
            Confidence::Certain,
            None,
            &mut visiting,
            &mut out,
        );
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        calls: &[Call],
        writes: &[TableWrite],
        search_path: &[String],
        path: &[String],
        conf: Confidence,
        reason: Option<&str>,
        visiting: &mut BTreeSet<String>,
        out: &mut Reached,
    ) {
        if path.len() >= MAX_CHAIN {
            return;
        }
        for call in calls {
            let (routines, c, r) = self.resolve_call_on(call, search_path);
            let (conf2, reason2) = lower(conf, reason, c, r.as_deref());
            for routine in routines {
                if !visiting.insert(routine.identity.clone()) {
                    continue;
                }
                let mut p = path.to_vec();
                p.push(format!("{} {}", routine.kind, routine.identity));
                let body = self.body_on(routine, search_path);
                emit(&body, &p, conf2, reason2.as_deref(), out);
                self.walk(
                    &body.calls,
                    &body.writes,
                    routine.search_path.as_deref().unwrap_or(search_path),
                    &p,
                    conf2,
                    reason2.as_deref(),
                    visiting,
                    out,
                );
                visiting.remove(&routine.identity);
            }
        }
        for w in writes {
            // Column defaults the insert takes, and the checks of the
            // domains of the columns it writes, run their functions.
            for d in self.catalog.defaults.iter().filter(|d| {
                d.schema == w.schema
                    && d.table == w.table
                    && match (&d.domain, w.event.as_str()) {
                        (None, "insert") => !w.set_columns.contains(&d.column),
                        (Some(_), "insert") => true,
                        (Some(_), "update") => w.set_columns.contains(&d.column),
                        _ => false,
                    }
            }) {
                let mut p = path.to_vec();
                p.push(match &d.domain {
                    None => format!("default of {}.{}.{}", d.schema, d.table, d.column),
                    Some(dom) => format!("domain {dom} of {}.{}.{}", d.schema, d.table, d.column),
                });
                self.walk(&d.calls, &[], search_path, &p, conf, reason, visiting, out);
            }
            // The table's own triggers (and those cloned onto it), then the
            // row triggers of the partitions and children its rows may be
            // in, which fire only for the rows that are there.
            let mut fired: Vec<(&Trigger, Confidence, Option<String>)> = self
                .catalog
                .triggers_on(&w.schema, &w.table)
                .map(|t| (t, conf, reason.map(str::to_string)))
                .collect();
            if !w.only && w.event != "truncate" {
                for d in self
                    .catalog
                    .reached_descendants(&w.schema, &w.table, &w.event)
                {
                    let why = format!(
                        "the trigger is on {} {}.{}: it fires only for the rows there",
                        if d.partition {
                            "partition"
                        } else {
                            "child table"
                        },
                        d.schema,
                        d.name
                    );
                    let (c, r) = lower(conf, reason, Confidence::Probable, Some(&why));
                    for t in self
                        .catalog
                        .triggers
                        .iter()
                        .filter(|t| t.row && t.schema == d.schema && t.table == d.name)
                    {
                        fired.push((t, c, r.clone()));
                    }
                }
            }
            for (t, conf, reason) in fired {
                let reason = reason.as_deref();
                if !t.events.contains(&w.event) {
                    continue;
                }
                if w.event == "update"
                    && !t.update_of.is_empty()
                    && !t.update_of.iter().any(|c| w.set_columns.contains(c))
                {
                    continue;
                }
                let label = t.label();
                if !visiting.insert(label.clone()) {
                    continue;
                }
                let mut p = path.to_vec();
                p.push(label.clone());
                let when = RoutineAnalysis {
                    uses: t.when_uses.clone(),
                    ..Default::default()
                };
                emit(&when, &p, conf, reason, out);
                if let Some(body) = self.trigger_body_on(t, search_path) {
                    let (c, r) = if t.has_when {
                        lower(
                            conf,
                            reason,
                            Confidence::Probable,
                            Some("the trigger fires only when its WHEN clause holds"),
                        )
                    } else {
                        (conf, reason.map(str::to_string))
                    };
                    emit(&body, &p, c, r.as_deref(), out);
                    self.walk(
                        &body.calls,
                        &body.writes,
                        t.search_path.as_deref().unwrap_or(search_path),
                        &p,
                        c,
                        r.as_deref(),
                        visiting,
                        out,
                    );
                }
                visiting.remove(&label);
            }
        }
    }
}

/// Runs `f` on the statement of a `CREATE FUNCTION` text.
fn definition_node<T>(
    definition: &str,
    f: impl FnOnce(&str, &serde_json::Value, &str) -> T,
) -> Option<T> {
    let st = parse::parse(definition).ok()?.pop()?;
    let (kind, n) = node(&st.tree)?;
    Some(f(kind, n, &st.text))
}

fn lower(
    a: Confidence,
    ra: Option<&str>,
    b: Confidence,
    rb: Option<&str>,
) -> (Confidence, Option<String>) {
    if b < a {
        (b, rb.map(str::to_string))
    } else {
        (
            a,
            ra.or(rb)
                .map(str::to_string)
                .filter(|_| a != Confidence::Certain),
        )
    }
}

fn emit(
    a: &RoutineAnalysis,
    path: &[String],
    conf: Confidence,
    reason: Option<&str>,
    out: &mut Reached,
) {
    let via = path.join(" > ");
    for u in &a.uses {
        let mut u = u.clone();
        u.via = if u.via == "direct" || via.is_empty() {
            if via.is_empty() {
                u.via
            } else {
                via.clone()
            }
        } else {
            format!("{via} > {}", u.via)
        };
        if conf < u.confidence {
            u.confidence = conf;
            u.reason = reason.map(str::to_string);
        }
        out.uses.push(u);
    }
    let last = path
        .last()
        .cloned()
        .unwrap_or_else(|| "the body".to_string());
    if a.dynamic {
        for w in &a.dynamic_words {
            out.words.push(WordUse {
                word: w.clone(),
                via: via.clone(),
                reason: format!("{last} runs dynamic SQL (EXECUTE) whose strings name the column"),
            });
        }
    }
    if let Some(problem) = &a.problem {
        for w in &a.unresolved_words {
            out.words.push(WordUse {
                word: w.clone(),
                via: via.clone(),
                reason: format!("{last}: {problem}; the text names the column"),
            });
        }
    }
}
