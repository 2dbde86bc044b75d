//! The plain-text report for a terminal: verdicts, then per column one line
//! per actor and way of use, then schema objects and a coverage summary.

use std::io::{self, Write};

use super::json::{
    each_column_dependency, to_doc_without_dependencies, ColumnRows, DependencyDoc, InventoryDoc,
};
use super::markdown::serde_plain;
use crate::inventory::Verdict;

fn or_dash(s: Option<&String>) -> &str {
    s.map_or("-", String::as_str)
}

/// Writes the text report.
pub fn write(inv: &crate::inventory::Inventory, out: &mut dyn Write) -> io::Result<()> {
    write_styled(inv, false, out)
}

/// Writes the text report with ANSI colour when `color` (the document rows
/// of one column at a time exist in memory, never the whole document).
pub fn write_styled(
    inv: &crate::inventory::Inventory,
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let doc = to_doc_without_dependencies(inv);
    write_with(
        &doc,
        color,
        &mut |column, visit| each_column_dependency(inv, column, visit),
        out,
    )
}

/// Writes the text report from a document (no colour).
pub fn write_doc(doc: &InventoryDoc, out: &mut dyn Write) -> io::Result<()> {
    write_doc_styled(doc, false, out)
}

/// ANSI SGR codes, or nothing without colour.
struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn verdict(&self, v: Verdict) -> String {
        let word = format!("{:<13}", serde_plain(&v).to_uppercase());
        let code = match v {
            Verdict::Blocked => "1;31",
            Verdict::Inconclusive => "1;33",
            Verdict::Clear => "1;32",
        };
        self.wrap(code, &word)
    }
}

/// Writes the text report from a document; `color` adds ANSI colour to the
/// verdicts and headings.
pub fn write_doc_styled(doc: &InventoryDoc, color: bool, out: &mut dyn Write) -> io::Result<()> {
    write_with(
        doc,
        color,
        &mut |column, visit| {
            for d in doc.dependencies.iter().filter(|d| d.column == column) {
                visit(d);
            }
        },
        out,
    )
}

/// Writes the text report of `doc`, whose dependency rows for a column are
/// visited by `rows` (`doc.dependencies` is not read).
fn write_with(
    doc: &InventoryDoc,
    color: bool,
    rows: &mut ColumnRows<'_>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let paint = Paint { on: color };
    if let Some(notice) = super::literals_notice(doc.literals) {
        writeln!(out, "{} {notice}", paint.wrap("1;33", "NOTE:"))?;
    }
    for t in &doc.targets {
        writeln!(
            out,
            "{} {}  ({})",
            paint.verdict(t.verdict),
            t.column,
            t.reason
        )?;
    }
    for u in &doc.unchecked {
        writeln!(
            out,
            "{} {}  ({} at {}:{}: {})",
            paint.wrap("1;33", &format!("{:<13}", "NOT CHECKED")),
            u.object,
            u.site.change,
            u.site.file,
            u.site.line,
            u.reason
        )?;
    }
    if doc.targets.is_empty() && doc.unchecked.is_empty() {
        writeln!(out, "no column to check")?;
    }
    for t in &doc.targets {
        writeln!(out)?;
        writeln!(out, "{}", paint.wrap("1", &t.column))?;
        for m in &t.migration {
            writeln!(out, "  changed by {} at {}:{}", m.change, m.file, m.line)?;
        }
        for g in &t.coverage_gaps {
            writeln!(out, "  cannot see: {g}")?;
        }
        // The rows are written as they are made (none: nothing written).
        let (mut any, mut result) = (false, Ok(()));
        rows(&t.column, &mut |d| {
            any = true;
            if result.is_ok() {
                result = dependency_lines(d, &paint, out);
            }
        });
        result?;
        if !any {
            writeln!(out, "  no statement uses it")?;
        }
        for o in doc
            .schema_dependencies
            .iter()
            .filter(|s| s.column == t.column)
        {
            writeln!(out, "  {} {}: {}", o.object_type, o.object, o.detail)?;
        }
    }
    let tot = &doc.coverage.totals;
    writeln!(out)?;
    writeln!(
        out,
        "coverage: {} input(s), {} records, {} statements analysed, {} unparseable, {} to {}",
        doc.coverage.inputs.len(),
        tot.records,
        tot.statements.analysed,
        tot.statements.unparseable,
        or_dash(tot.first_time.as_ref()),
        or_dash(tot.last_time.as_ref()),
    )?;
    writeln!(out, "  accounting: {}", super::accounting_line(tot))?;
    for i in &doc.coverage.inputs {
        for e in &i.errors {
            writeln!(out, "  error: {e}")?;
        }
        for b in &i.blind_spots {
            writeln!(
                out,
                "  blind spot ({}): {b}",
                i.file.as_deref().unwrap_or("")
            )?;
        }
        for n in &i.notes {
            writeln!(out, "  note ({}): {n}", i.file.as_deref().unwrap_or(""))?;
        }
    }
    for w in &doc.warnings {
        writeln!(out, "  warning: {w}")?;
    }
    Ok(())
}

/// The lines of one dependency row.
fn dependency_lines(d: &DependencyDoc, paint: &Paint, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "  {:<5} {:<12} {:<8} user={} db={} app={} client={} calls={}{} last_seen={}",
        serde_plain(&d.access),
        d.via,
        serde_plain(&d.confidence),
        or_dash(d.actor.user.as_ref()),
        or_dash(d.actor.database.as_ref()),
        or_dash(d.actor.application.as_ref()),
        or_dash(d.actor.client.as_ref()),
        d.calls,
        if d.nested_calls > 0 {
            format!(" nested_calls={}", d.nested_calls)
        } else {
            String::new()
        },
        or_dash(d.last_seen.as_ref()),
    )?;
    writeln!(out, "        {}", d.query)?;
    if let Some(r) = &d.reason {
        writeln!(out, "        ({r})")?;
    }
    if let Some(a) = &d.accepted {
        let until = a
            .expires
            .as_ref()
            .map(|e| format!(" until {e}"))
            .unwrap_or_default();
        let state = if a.expired {
            paint.wrap("1;31", "acceptance EXPIRED")
        } else {
            paint.wrap("32", "accepted")
        };
        writeln!(out, "        {state}{until}: {}", a.reason)?;
    }
    Ok(())
}
