//! Schema-side dependencies: every object in the catalog that uses a target
//! column (views, routines, triggers, policies, constraints, indexes, …),
//! with what `DROP COLUMN` does to it.

use crate::analyze::reach::{Reach, Reached};
use crate::analyze::resolve::{ColSel, ColumnUse};
use crate::analyze::{family, Member};
use crate::catalog::{Catalog, RelKind};
use crate::inventory::{Access, Confidence, OnDrop, SchemaDependency};
use crate::target::ColumnTarget;

/// The member of a target's family that is `schema.table`.
fn member_of<'f>(fam: &'f [Member], schema: &str, table: &str) -> Option<&'f Member> {
    fam.iter().find(|m| m.schema == schema && m.table == table)
}

/// ` (on partition s.t)` for an object on a descendant, else nothing.
fn on_member(m: &Member) -> String {
    m.via
        .as_ref()
        .map(|v| format!(" (on {v}, whose column goes with it)"))
        .unwrap_or_default()
}

/// True when `u` uses target `t`, on its own table or on a descendant
/// whose column goes with it (`fam`).
fn hits(u: &ColumnUse, t: &ColumnTarget, fam: &[Member], catalog: &Catalog) -> bool {
    let Some(m) = member_of(fam, &u.schema, &u.table) else {
        return false;
    };
    let rel = catalog.get(&m.schema, &m.table);
    match &u.column {
        ColSel::Named(c) => *c == t.column,
        ColSel::All => rel.is_none_or(|r| r.columns.contains(&t.column)),
        ColSel::FirstN(k) => rel
            .and_then(|r| r.columns.iter().position(|c| *c == t.column))
            .is_none_or(|p| p < *k),
    }
}

fn access_words(reads: bool, writes: bool) -> &'static str {
    match (reads, writes) {
        (true, true) => "reads and writes",
        (false, true) => "writes",
        _ => "reads",
    }
}

/// How a routine's reached uses touch target `t`: (detail, confidence), or
/// `None` when they do not.
fn describe(
    reached: &Reached,
    t: &ColumnTarget,
    fam: &[Member],
    catalog: &Catalog,
    who: &str,
) -> Option<(String, Confidence)> {
    let hitting: Vec<&ColumnUse> = reached
        .uses
        .iter()
        .filter(|u| hits(u, t, fam, catalog))
        .collect();
    if !hitting.is_empty() {
        let reads = hitting.iter().any(|u| u.access == Access::Read);
        let writes = hitting.iter().any(|u| u.access == Access::Write);
        let conf = hitting
            .iter()
            .map(|u| u.confidence)
            .max()
            .unwrap_or(Confidence::Certain);
        let mut paths: Vec<String> = hitting
            .iter()
            .map(|u| {
                let m = member_of(fam, &u.schema, &u.table).and_then(|m| m.via.as_deref());
                crate::analyze::through(&u.via, m)
            })
            .filter(|v| !v.is_empty() && *v != "direct")
            .collect();
        paths.sort();
        paths.dedup();
        let through = if paths.is_empty() {
            String::new()
        } else {
            format!(" (via {})", paths.join("; "))
        };
        // A row used whole (`row_to_json(NEW)`) does not fail: what the
        // body does changes (the field is gone).
        let whole = hitting
            .iter()
            .all(|u| u.via.ends_with("whole_row") || u.via.ends_with("star"));
        let silently = if whole {
            " (it uses the whole row: once the column is dropped it runs on without the field, unless something else fails)"
        } else {
            ""
        };
        return Some((
            format!(
                "{who} {} the column{through}{silently}",
                access_words(reads, writes)
            ),
            conf,
        ));
    }
    let words: Vec<_> = reached
        .words
        .iter()
        .filter(|w| w.word == t.column)
        .collect();
    words.first().map(|w| {
        (
            format!("{who} may use the column: {}", w.reason),
            Confidence::Possible,
        )
    })
}

/// Every schema object that uses a target.
pub fn schema_dependencies(
    catalog: &Catalog,
    targets: &[ColumnTarget],
    search_path: &[String],
) -> Vec<SchemaDependency> {
    let mut out = Vec::new();
    for t in targets {
        let column = t.to_string();
        let fam = family(catalog, t);
        // Views and materialized views.
        for rel in catalog.relations() {
            if !matches!(rel.kind, RelKind::View | RelKind::MaterializedView) {
                continue;
            }
            for u in &rel.uses {
                let Some(m) = member_of(&fam, &u.schema, &u.table) else {
                    continue;
                };
                if u.column.as_ref().is_some_and(|c| *c != t.column) {
                    continue;
                }
                let through = if u.path.is_empty() {
                    String::new()
                } else {
                    format!(" through view {}", u.path.join(" > view "))
                };
                let through = format!("{through}{}", on_member(m));
                let kind = rel.kind.name().replace('_', " ");
                // PostgreSQL records no dependency on a column for a
                // whole-row use (checked on PostgreSQL 15): the drop
                // succeeds, and the rows lose the field.
                let (on_drop, detail) = if u.column.is_none() {
                    (
                        OnDrop::DataLost,
                        format!("uses the whole row{through}; DROP COLUMN succeeds and the {kind}'s rows silently lose the field"),
                    )
                } else {
                    (
                        OnDrop::Blocked,
                        format!("uses the column{through}; DROP COLUMN fails unless CASCADE also drops the {kind}"),
                    )
                };
                out.push(SchemaDependency {
                    column: column.clone(),
                    object: format!("{}.{}", rel.schema, rel.name),
                    object_type: rel.kind.name().to_string(),
                    on_drop,
                    confidence: u.confidence,
                    detail,
                });
            }
        }
        // A column the table inherits (also when it declares it too:
        // `attinhcount` > 0) cannot be dropped from it at all.
        if let Some(rel) = catalog.get(&t.schema, &t.table) {
            let declared = if rel.inherited.contains(&t.column) {
                "not declared here"
            } else {
                "though also declared here"
            };
            for (ps, pn) in &rel.parents {
                if catalog
                    .get(ps, pn)
                    .is_some_and(|p| p.columns.contains(&t.column))
                {
                    let what = if rel.partition {
                        "partitioned table"
                    } else {
                        "parent table"
                    };
                    out.push(SchemaDependency {
                        column: column.clone(),
                        object: format!("{ps}.{pn}"),
                        object_type: "inherited_from".into(),
                        on_drop: OnDrop::Blocked,
                        confidence: Confidence::Certain,
                        detail: format!(
                            "the column is inherited from the {what} {ps}.{pn}, {declared}; DROP COLUMN fails (\"cannot drop inherited column\"): drop it from {ps}.{pn}"
                        ),
                    });
                }
            }
        }
        // Indexes, constraints, policies, grants, statistics, publications,
        // rules, generated columns and defaults.
        for o in &catalog.objects {
            let Some(m) = member_of(&fam, &o.schema, &o.table) else {
                continue;
            };
            if o.column.as_ref().is_some_and(|c| *c != t.column) {
                continue;
            }
            out.push(SchemaDependency {
                column: column.clone(),
                object: o.object.clone(),
                object_type: o.object_type.clone(),
                on_drop: o.on_drop,
                confidence: Confidence::Certain,
                detail: format!(
                    "{}{}; {}",
                    o.detail,
                    on_member(m),
                    if o.object_type == "partition_key" {
                        "DROP COLUMN fails, even with CASCADE"
                    } else {
                        on_drop_words(o.on_drop)
                    }
                ),
            });
        }
        // Functions and procedures (trigger functions come with their triggers).
        let reach = Reach::new(catalog, search_path);
        for routines in catalog.routines.values() {
            for r in routines.iter().filter(|r| !r.returns_trigger) {
                let body = reach.routine_body(r);
                let own = reach.routine(&body, r.search_path.as_deref(), &[]);
                let Some((detail, confidence)) = describe(&own, t, &fam, catalog, "its body")
                else {
                    continue;
                };
                let direct = own.uses.iter().any(|u| {
                    hits(u, t, &fam, catalog)
                        && !u.via.contains(" > ")
                        && !u.via.starts_with("function ")
                        && !u.via.starts_with("procedure ")
                        && !u.via.starts_with("trigger ")
                });
                let on_drop = if r.atomic && direct {
                    OnDrop::Blocked
                } else {
                    OnDrop::BreaksAtRunTime
                };
                out.push(SchemaDependency {
                    column: column.clone(),
                    object: r.identity.clone(),
                    object_type: r.kind.clone(),
                    on_drop,
                    confidence,
                    detail: format!("{detail}; {}", on_drop_words(on_drop)),
                });
            }
        }
        // Triggers: UPDATE OF list, WHEN clause, and the function's body.
        for trg in &catalog.triggers {
            let on = member_of(&fam, &trg.schema, &trg.table);
            if let Some(m) = on.filter(|_| trg.update_of.contains(&t.column)) {
                out.push(SchemaDependency {
                    column: column.clone(),
                    object: format!("{} on {}.{}", trg.name, trg.schema, trg.table),
                    object_type: "trigger".into(),
                    on_drop: OnDrop::Blocked,
                    confidence: Confidence::Certain,
                    detail: format!(
                        "in the trigger's UPDATE OF list{}; {}",
                        on_member(m),
                        on_drop_words(OnDrop::Blocked)
                    ),
                });
            }
            if trg.when_uses.iter().any(|u| hits(u, t, &fam, catalog)) {
                out.push(SchemaDependency {
                    column: column.clone(),
                    object: format!("{} on {}.{}", trg.name, trg.schema, trg.table),
                    object_type: "trigger".into(),
                    on_drop: OnDrop::Blocked,
                    confidence: Confidence::Certain,
                    detail: format!(
                        "used in the trigger's WHEN clause; {}",
                        on_drop_words(OnDrop::Blocked)
                    ),
                });
            }
            let Some(body) = reach.trigger_body(trg) else {
                continue;
            };
            let reached = reach.routine(&body, trg.search_path.as_deref(), &[]);
            if let Some((detail, confidence)) = describe(
                &reached,
                t,
                &fam,
                catalog,
                &format!("its function {}", trg.function_identity),
            ) {
                out.push(SchemaDependency {
                    column: column.clone(),
                    object: format!("{} on {}.{}", trg.name, trg.schema, trg.table),
                    object_type: "trigger".into(),
                    on_drop: OnDrop::BreaksAtRunTime,
                    confidence,
                    detail: format!(
                        "{detail}; fires on {}; {}",
                        trigger_events(&trg.events, &trg.update_of),
                        on_drop_words(OnDrop::BreaksAtRunTime)
                    ),
                });
                out.push(SchemaDependency {
                    column: column.clone(),
                    object: trg.function_identity.clone(),
                    object_type: "function".into(),
                    on_drop: OnDrop::BreaksAtRunTime,
                    confidence,
                    detail: format!(
                        "trigger function of {}: {}; {}",
                        trg.label(),
                        detail.replacen(
                            &format!("its function {}", trg.function_identity),
                            "its body",
                            1
                        ),
                        on_drop_words(OnDrop::BreaksAtRunTime)
                    ),
                });
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn trigger_events(events: &[String], update_of: &[String]) -> String {
    events
        .iter()
        .map(|e| {
            if e == "update" && !update_of.is_empty() {
                format!("UPDATE OF {}", update_of.join(", "))
            } else {
                e.to_ascii_uppercase()
            }
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// What a drop does, in words.
pub fn on_drop_words(d: OnDrop) -> &'static str {
    match d {
        OnDrop::Blocked => "DROP COLUMN fails unless CASCADE also drops it",
        OnDrop::Dropped => "DROP COLUMN drops it silently",
        OnDrop::BreaksAtRunTime => {
            "PostgreSQL does not track it: DROP COLUMN succeeds and it fails when it next runs"
        }
        OnDrop::DataLost => {
            "DROP COLUMN succeeds and silently removes that field from every value stored in it"
        }
    }
}
