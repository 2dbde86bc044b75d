//! Dependency evidence tallied per scan part: statements with the same
//! analysis, actor and flags are counted together (calls, failures, first
//! and last time, the first source lines) and become inventory rows when
//! the part is done (or its tally outgrows its bound), instead of one keyed
//! map update per statement. Statements whose actor is completed from the
//! lines before their chunk are tallied apart and completed per entry.
//! The rows are exactly those the statements give one by one: a row's
//! counts add up, its times and sources are a minimum/maximum, and the rest
//! is the same for every statement of a tally entry.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHasher};

use crate::analyze::{Analysis, Analyzer};
use crate::extract::{Inherit, Statement};
use crate::inventory::{Actor, Confidence, DepKey, DepStats, Inventory, SourceRef, MAX_SOURCES};
use crate::time::Millis;

/// Why a dependency from a statement the log cut short is only possible.
pub const TRUNCATED_REASON: &str = "the log cut this statement short ([Your log message was truncated]): the lost part could change how its names resolve";

/// What the statements of one entry share.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Shared {
    actor: Actor,
    inside: Option<String>,
    toplevel: Option<bool>,
    truncated: bool,
    /// The actor fields still to be taken from the state before the chunk.
    inherit: Option<Inherit>,
}

/// What the statements of one entry add up to.
#[derive(Debug)]
struct Counts {
    analysis: Arc<Analysis>,
    /// Statements.
    statements: u64,
    calls: u64,
    failed_calls: u64,
    nested_calls: u64,
    first_seen: Option<Millis>,
    last_seen: Option<Millis>,
    /// The smallest `MAX_SOURCES` distinct lines, sorted.
    lines: Vec<u64>,
}

impl Counts {
    fn new(analysis: &Arc<Analysis>) -> Self {
        Self {
            analysis: Arc::clone(analysis),
            statements: 0,
            calls: 0,
            failed_calls: 0,
            nested_calls: 0,
            first_seen: None,
            last_seen: None,
            lines: Vec::new(),
        }
    }

    /// Adds what `other` (of the same analysis) counted.
    fn absorb(&mut self, other: &Counts) {
        self.statements += other.statements;
        self.calls += other.calls;
        self.failed_calls += other.failed_calls;
        self.nested_calls += other.nested_calls;
        self.first_seen = match (self.first_seen, other.first_seen) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_seen = match (self.last_seen, other.last_seen) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for l in &other.lines {
            keep_line(&mut self.lines, *l);
        }
    }
}

/// The tally of one scan part (one input, or one chunk of it).
#[derive(Debug, Default)]
pub struct Tally {
    /// By analysis (its address: the entry holds it, so it stays unique)
    /// and a hash of what the statements share; the few entries under one
    /// key are told apart by comparing.
    entries: FxHashMap<(usize, u64), Vec<(Shared, Counts)>>,
}

fn shared_hash(
    actor: &Actor,
    inside: &Option<String>,
    toplevel: Option<bool>,
    truncated: bool,
    inherit: &Option<Inherit>,
) -> u64 {
    let mut h = FxHasher::default();
    actor.hash(&mut h);
    inside.hash(&mut h);
    toplevel.hash(&mut h);
    truncated.hash(&mut h);
    inherit.hash(&mut h);
    h.finish()
}

fn is_shared(x: &Shared, s: &Statement) -> bool {
    x.actor == s.actor
        && x.inside == s.inside
        && x.toplevel == s.toplevel
        && x.truncated == s.truncated
        && x.inherit == s.inherit
}

impl Tally {
    /// Counts a statement with target references. A statement whose actor
    /// is not complete yet (`inherit`) is counted apart, until
    /// [`Tally::settle_into`] completes it.
    pub fn add(&mut self, s: &Statement, analysis: &Arc<Analysis>) {
        let hash = shared_hash(&s.actor, &s.inside, s.toplevel, s.truncated, &s.inherit);
        let key = (Arc::as_ptr(analysis) as usize, hash);
        let list = self.entries.entry(key).or_default();
        let at = match list.iter().position(|(x, _)| is_shared(x, s)) {
            Some(at) => at,
            None => {
                list.push((
                    Shared {
                        actor: s.actor.clone(),
                        inside: s.inside.clone(),
                        toplevel: s.toplevel,
                        truncated: s.truncated,
                        inherit: s.inherit.clone(),
                    },
                    Counts::new(analysis),
                ));
                list.len() - 1
            }
        };
        let Some((_, c)) = list.get_mut(at) else {
            return;
        };
        c.statements += 1;
        c.calls += s.calls;
        if s.failed {
            c.failed_calls += s.calls;
        }
        if s.toplevel == Some(false) {
            c.nested_calls += s.calls;
        }
        if let Some(t) = s.time {
            c.first_seen = Some(c.first_seen.map_or(t, |f| f.min(t)));
            c.last_seen = Some(c.last_seen.map_or(t, |l| l.max(t)));
        }
        keep_line(&mut c.lines, s.line);
    }

    /// How many keys it holds (its entries, but for the rare hash
    /// collision that puts two under one key).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Moves every entry into `into`, completing the actors of entries
    /// counted with `inherit` by `fill` (the state before their chunk): the
    /// same counts as completing each statement and adding it to `into`.
    pub fn settle_into(&mut self, into: &mut Tally, fill: impl Fn(&mut Actor, &Inherit)) {
        for ((analysis, _), list) in std::mem::take(&mut self.entries) {
            for (mut x, c) in list {
                if let Some(i) = x.inherit.take() {
                    fill(&mut x.actor, &i);
                }
                let hash = shared_hash(&x.actor, &x.inside, x.toplevel, x.truncated, &x.inherit);
                let list = into.entries.entry((analysis, hash)).or_default();
                match list.iter_mut().find(|(y, _)| *y == x) {
                    Some((_, mine)) => mine.absorb(&c),
                    None => list.push((x, c)),
                }
            }
        }
    }

    /// Turns the tally into dependency rows of `inv` (sources named `file`).
    pub fn flush(&mut self, inv: &mut Inventory, analyzer: &Analyzer<'_>, file: &str) {
        let file: Arc<str> = file.into();
        for (_, list) in std::mem::take(&mut self.entries) {
            for (x, c) in list {
                rows(inv, analyzer, &file, x, &c);
            }
        }
    }
}

/// Adds `line` to the sorted, distinct, at most `MAX_SOURCES` smallest.
fn keep_line(lines: &mut Vec<u64>, line: u64) {
    if lines.len() == MAX_SOURCES && lines.last().is_some_and(|l| *l <= line) {
        return;
    }
    if let Err(at) = lines.binary_search(&line) {
        lines.insert(at, line);
        lines.truncate(MAX_SOURCES);
    }
}

/// The rows of one tally entry: what each of its statements gives, added up.
fn rows(inv: &mut Inventory, analyzer: &Analyzer<'_>, file: &Arc<str>, x: Shared, c: &Counts) {
    // The entry's actor becomes the rows' (moved, not copied and freed).
    let Shared {
        actor,
        inside,
        toplevel,
        truncated,
        inherit: _,
    } = x;
    let actor = Arc::new(actor);
    for st in &c.analysis.statements {
        let query: Arc<str> = st.query.as_str().into();
        let fingerprint: Arc<str> = st.fingerprint.as_str().into();
        for r in &st.refs {
            if r.via == "unparseable" {
                if let Some(e) = inv.evidence.get_mut(r.target) {
                    e.unparseable_mentions += c.statements;
                }
            }
            // A pg_stat_statements row run inside a function: the
            // function whose body holds the statement.
            let nested_in = match (&inside, toplevel) {
                (None, Some(false)) => analyzer.routines_containing(&st.fingerprint),
                _ => None,
            };
            let via: Arc<str> = match inside.as_ref().or(nested_in.as_ref()) {
                None => r.via.as_str().into(),
                Some(f) if r.via == "direct" => format!("substatement of {f}").into(),
                Some(f) => format!("substatement of {f} > {}", r.via).into(),
            };
            let key = DepKey {
                target: r.target,
                access: r.access,
                via,
                actor: Arc::clone(&actor),
                fingerprint: Arc::clone(&fingerprint),
            };
            let (confidence, reason) = if truncated {
                (
                    r.confidence.min(Confidence::Possible),
                    Some(match &r.reason {
                        Some(why) => format!("{why}; {TRUNCATED_REASON}").into(),
                        None => TRUNCATED_REASON.into(),
                    }),
                )
            } else {
                (r.confidence, r.reason.as_deref().map(Arc::from))
            };
            let stats = DepStats {
                confidence,
                reason,
                calls: c.calls,
                failed_calls: c.failed_calls,
                nested_calls: c.nested_calls,
                first_seen: c.first_seen,
                last_seen: c.last_seen,
                query: Arc::clone(&query),
                sources: c
                    .lines
                    .iter()
                    .map(|l| SourceRef {
                        file: Arc::clone(file),
                        line: *l,
                    })
                    .collect(),
            };
            inv.add_dep(key, stats);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_line_keeps_the_smallest_distinct_lines() {
        let mut v = Vec::new();
        for l in [9, 4, 4, 7, 1, 8, 1, 2] {
            keep_line(&mut v, l);
        }
        assert_eq!(v, vec![1, 2, 4]);
    }
}
