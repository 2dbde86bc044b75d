//! The Markdown report, for a pull-request comment: the verdict per column
//! first, then per column a table of actors and how they touch it, the
//! sample statements in a collapsible block, schema objects, and coverage.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::json::{
    each_column_dependency, to_doc_without_dependencies, ColumnRows, DependencyDoc, InventoryDoc,
};
use crate::inventory::{Access, Confidence, Verdict};

/// The first line, so that a bot can find and update its own comment.
pub const MARKER: &str = "<!-- pgcontract:inventory v1 -->";

fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '|' => out.push_str("&#124;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn opt(s: Option<&String>) -> String {
    s.map_or_else(|| "–".to_string(), |v| cell(v))
}

fn verdict_badge(v: Verdict) -> &'static str {
    match v {
        Verdict::Clear => "✅ **clear**",
        Verdict::Blocked => "⛔ **blocked**",
        Verdict::Inconclusive => "⚠️ **inconclusive**",
    }
}

/// Writes the Markdown report (the document rows are made one at a time,
/// never the whole document).
pub fn write(inv: &crate::inventory::Inventory, out: &mut dyn Write) -> io::Result<()> {
    let doc = to_doc_without_dependencies(inv);
    write_with(
        &doc,
        &mut |column, visit| each_column_dependency(inv, column, visit),
        out,
    )
}

/// Writes the Markdown report from a document.
pub fn write_doc(doc: &InventoryDoc, out: &mut dyn Write) -> io::Result<()> {
    write_with(
        doc,
        &mut |column, visit| {
            for d in doc.dependencies.iter().filter(|d| d.column == column) {
                visit(d);
            }
        },
        out,
    )
}

/// Accepted rows (not expired) are shown apart; they do not block.
fn is_accepted(d: &DependencyDoc) -> bool {
    d.accepted.as_ref().is_some_and(|a| !a.expired)
}

/// Writes `line(row)` for every row of `column` until a write fails.
fn write_rows(
    rows: &mut ColumnRows<'_>,
    column: &str,
    line: &mut dyn FnMut(&DependencyDoc) -> io::Result<()>,
) -> io::Result<()> {
    let mut result = Ok(());
    rows(column, &mut |d| {
        if result.is_ok() {
            result = line(d);
        }
    });
    result
}

/// Writes the Markdown report of `doc`, whose dependency rows for a column
/// are visited by `rows` (`doc.dependencies` is not read).
fn write_with(
    doc: &InventoryDoc,
    rows: &mut ColumnRows<'_>,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out, "{MARKER}")?;
    writeln!(out, "## pgcontract: contract audit")?;
    writeln!(out)?;
    if let Some(notice) = super::literals_notice(doc.literals) {
        writeln!(out, "> ⚠️ **{notice}**")?;
        writeln!(out)?;
    }
    if let Some(w) = doc
        .window
        .as_ref()
        .filter(|w| w.since.is_some() || w.until.is_some())
    {
        writeln!(
            out,
            "Evidence window: {} to {} (silences over {} s count as not covered).",
            w.since.as_deref().unwrap_or("the first record"),
            w.until.as_deref().unwrap_or("the last record"),
            w.max_gap_seconds
        )?;
        writeln!(out)?;
    }
    writeln!(out, "| Column | Verdict | Why |")?;
    writeln!(out, "|---|---|---|")?;
    for t in &doc.targets {
        writeln!(
            out,
            "| `{}` | {} | {} |",
            t.column,
            verdict_badge(t.verdict),
            cell(&t.reason)
        )?;
    }
    if doc.targets.is_empty() {
        writeln!(out, "| – | – | no column to check |")?;
    }
    if !doc.unchecked.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "**Not checked** (the audit cannot be clear while these remain):"
        )?;
        writeln!(out)?;
        for u in &doc.unchecked {
            writeln!(
                out,
                "- ⚠️ `{}`: {} at `{}:{}`: {}",
                u.object,
                u.site.change,
                u.site.file,
                u.site.line,
                cell(&u.reason)
            )?;
        }
    }
    for t in &doc.targets {
        writeln!(out)?;
        writeln!(out, "### `{}`", t.column)?;
        writeln!(out)?;
        if !t.migration.is_empty() {
            let sites: Vec<String> = t
                .migration
                .iter()
                .map(|m| format!("{} at `{}:{}`", m.change, m.file, m.line))
                .collect();
            writeln!(out, "Changed by {}.", sites.join(", "))?;
            writeln!(out)?;
        }
        // One pass for the counts and the actor table of the open rows;
        // the accepted rows and the statements are written in later passes.
        let (mut all, mut accepted) = (0usize, 0usize);
        let mut actors = ActorRows::new();
        rows(&t.column, &mut |d| {
            all += 1;
            if is_accepted(d) {
                accepted += 1;
            } else {
                add_actor_row(&mut actors, d);
            }
        });
        if !t.coverage_gaps.is_empty() {
            writeln!(out, "The inputs cannot show every use of this column:")?;
            writeln!(out)?;
            for g in &t.coverage_gaps {
                writeln!(out, "- {}", cell(g))?;
            }
            writeln!(out)?;
        }
        if all == 0 {
            writeln!(out, "No statement in the inputs uses this column.")?;
        } else if all == accepted {
            writeln!(out, "Every statement that uses this column is accepted.")?;
        }
        if all > accepted {
            actor_table(&actors, out)?;
        }
        drop(actors);
        if accepted > 0 {
            writeln!(out)?;
            writeln!(out, "**Accepted** (expected, not blocking):")?;
            writeln!(out)?;
            writeln!(
                out,
                "| Application | User | Access | Via | Calls | Last seen | Reason | Expires |"
            )?;
            writeln!(out, "|---|---|---|---|---:|---|---|---|")?;
            write_rows(rows, &t.column, &mut |d| {
                let Some(a) = d.accepted.as_ref().filter(|_| is_accepted(d)) else {
                    return Ok(());
                };
                writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} | {} |",
                    opt(d.actor.application.as_ref()),
                    opt(d.actor.user.as_ref()),
                    serde_plain(&d.access),
                    cell(&d.via),
                    d.calls,
                    opt(d.last_seen.as_ref()),
                    cell(&a.reason),
                    opt(a.expires.as_ref()),
                )
            })?;
        }
        if all > 0 {
            statements_block(all, rows, &t.column, out)?;
        }
        let objs: Vec<_> = doc
            .schema_dependencies
            .iter()
            .filter(|s| s.column == t.column)
            .collect();
        if !objs.is_empty() {
            writeln!(out)?;
            writeln!(out, "| Schema object | Type | Detail |")?;
            writeln!(out, "|---|---|---|")?;
            for o in objs {
                writeln!(
                    out,
                    "| `{}` | {} | {} |",
                    o.object,
                    o.object_type,
                    cell(&o.detail)
                )?;
            }
        }
    }
    writeln!(out)?;
    writeln!(out, "### Coverage")?;
    writeln!(out)?;
    let tot = &doc.coverage.totals;
    writeln!(
        out,
        "{} input{}, {} records, {} statements analysed, {} unparseable, {}.",
        doc.coverage.inputs.len(),
        if doc.coverage.inputs.len() == 1 {
            ""
        } else {
            "s"
        },
        tot.records,
        tot.statements.analysed,
        tot.statements.unparseable,
        match (&tot.first_time, &tot.last_time) {
            (Some(a), Some(b)) => format!("{a} to {b}"),
            _ => "no timestamps".to_string(),
        },
    )?;
    writeln!(out)?;
    writeln!(out, "Accounting: {}.", cell(&super::accounting_line(tot)))?;
    writeln!(out)?;
    writeln!(
        out,
        "<details><summary>Inputs and notes ({})</summary>",
        doc.coverage.inputs.len()
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| Input | Format | Records | Statements analysed | Unparseable | From | To |"
    )?;
    writeln!(out, "|---|---|---:|---:|---:|---|---|")?;
    for i in &doc.coverage.inputs {
        writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            i.file.as_deref().unwrap_or(""),
            cell(i.format.as_deref().unwrap_or("")),
            i.records,
            i.statements.analysed,
            i.statements.unparseable,
            opt(i.first_time.as_ref()),
            opt(i.last_time.as_ref()),
        )?;
    }
    let mut notes: Vec<String> = doc
        .coverage
        .inputs
        .iter()
        .flat_map(|i| {
            let file = i.file.as_deref().unwrap_or("");
            i.blind_spots
                .iter()
                .map(move |b| format!("blind spot of {file}: {b}"))
                .chain(i.notes.iter().chain(i.errors.iter()).cloned())
        })
        .chain(doc.warnings.iter().cloned())
        .collect();
    notes.sort();
    notes.dedup();
    if !notes.is_empty() {
        writeln!(out)?;
        for n in notes {
            writeln!(out, "- {}", cell(&n))?;
        }
    }
    writeln!(out)?;
    writeln!(out, "</details>")?;
    Ok(())
}

/// One row per actor (grouped by application, then role), access, via and
/// confidence, with calls and the last time seen. Rows whose acceptance has
/// expired say so.
fn actor_table(rows: &ActorRows, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "| Application | User | Database | Client | Access | Via | Confidence | Calls | Last seen |")?;
    writeln!(out, "|---|---|---|---|---|---|---|---:|---|")?;
    for ((app, user, db, client, access, via, conf), (calls, last, nested, expired)) in rows {
        let calls = if *nested > 0 {
            format!("{calls} ({nested} nested)")
        } else {
            calls.to_string()
        };
        let conf = if *expired {
            format!("{} (acceptance expired)", serde_plain(conf))
        } else {
            serde_plain(conf)
        };
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            opt(app.as_ref()),
            opt(user.as_ref()),
            opt(db.as_ref()),
            opt(client.as_ref()),
            serde_plain(access),
            cell(via),
            conf,
            calls,
            opt(last.as_ref()),
        )?;
    }
    Ok(())
}

/// The actor table's rows: (application, user, database, client, access,
/// via, confidence) → (calls, last seen, nested calls, acceptance expired).
type ActorRows = BTreeMap<
    (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Access,
        String,
        Confidence,
    ),
    (u64, Option<String>, u64, bool),
>;

/// Counts a dependency row in the actor table.
fn add_actor_row(rows: &mut ActorRows, d: &DependencyDoc) {
    let key = (
        d.actor.application.clone(),
        d.actor.user.clone(),
        d.actor.database.clone(),
        d.actor.client.clone(),
        d.access,
        d.via.clone(),
        d.confidence,
    );
    let e = rows.entry(key).or_insert((0, None, 0, false));
    e.0 += d.calls;
    e.2 += d.nested_calls;
    e.3 |= d.accepted.as_ref().is_some_and(|a| a.expired);
    if d.last_seen > e.1 {
        e.1.clone_from(&d.last_seen);
    }
}

/// The sample statements (the `count` rows of `column`), in a collapsible
/// block.
fn statements_block(
    count: usize,
    rows: &mut ColumnRows<'_>,
    column: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "<details><summary>Statements ({count})</summary>",)?;
    writeln!(out)?;
    writeln!(
        out,
        "| Fingerprint | Access | Via | Calls | Statement | Sources |"
    )?;
    writeln!(out, "|---|---|---|---:|---|---|")?;
    write_rows(rows, column, &mut |d| {
        let reason = d
            .reason
            .as_ref()
            .map(|r| format!(" <br>_{}_", cell(r)))
            .unwrap_or_default();
        writeln!(
            out,
            "| `{}` | {} | {} | {} | <code>{}</code>{} | {} |",
            d.fingerprint,
            serde_plain(&d.access),
            cell(&d.via),
            d.calls,
            cell(&d.query),
            reason,
            cell(&d.sources.join(", ")),
        )
    })?;
    writeln!(out)?;
    writeln!(out, "</details>")
}

/// The lowercase serde name of a unit enum value.
pub(crate) fn serde_plain<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
