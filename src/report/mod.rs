//! Reports: the same inventory rendered as JSON (the documented contract),
//! Markdown (for pull requests) or plain text (for terminals), each written
//! to an injected writer.

pub mod github;
pub mod json;
pub mod markdown;
pub mod sarif;
pub mod text;

use std::io::{self, Write};

use crate::inventory::{Inventory, Literals};

/// The accounting of an input's (or the totals') records and statements,
/// in words: `records = with a statement + other + skipped`, then what the
/// statement texts gave.
pub fn accounting_line(c: &json::InputDoc) -> String {
    let b = crate::inventory::RecordBalance::of(&c.records_by_kind, &c.skipped);
    let s = &c.statements;
    let mut skipped: Vec<String> = c.skipped.iter().map(|(r, n)| format!("{r}: {n}")).collect();
    skipped.sort();
    let mut line = format!(
        "{} records = {} with a statement + {} other + {} skipped",
        c.records, b.statement_records, b.other_records, b.skipped
    );
    if !skipped.is_empty() {
        line.push_str(&format!(" ({})", skipped.join(", ")));
    }
    line.push_str(&format!(
        "; {} statement texts = {} statements ({} analysed + {} unparseable)",
        s.texts, s.seen, s.analysed, s.unparseable
    ));
    if s.extra_statements > 0 {
        line.push_str(&format!(
            " − {} more from multi-statement texts",
            s.extra_statements
        ));
    }
    line.push_str(&format!(
        " + {} outside the window + {} without a statement",
        s.outside_window, s.without_statement
    ));
    line
}

/// The line every human-readable report shows when statement texts may
/// carry literal values (`--keep-literals`); `None` when they are stripped.
pub fn literals_notice(literals: Literals) -> Option<&'static str> {
    match literals {
        Literals::Stripped => None,
        Literals::Kept => Some(
            "literal values kept (--keep-literals): the statement texts show values from the logs",
        ),
        Literals::Mixed => Some(
            "literal values kept in part (merged with a --keep-literals inventory): some statement texts show values from the logs",
        ),
    }
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// The JSON inventory (`docs/inventory-format.md`).
    Json,
    /// Markdown for a PR comment.
    Markdown,
    /// Plain text.
    Text,
    /// SARIF 2.1.0.
    Sarif,
    /// GitHub Actions workflow commands.
    Github,
}

/// Writes `inv` in `format` to `out` (no colour).
pub fn write(inv: &Inventory, format: OutputFormat, out: &mut dyn Write) -> io::Result<()> {
    write_styled(inv, format, false, out)
}

/// Writes `inv` in `format` to `out`; `color` adds ANSI colour to the text
/// report (the caller decides: a terminal, `NO_COLOR`, `--color`).
pub fn write_styled(
    inv: &Inventory,
    format: OutputFormat,
    color: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        OutputFormat::Json => json::write(inv, out),
        OutputFormat::Markdown => markdown::write(inv, out),
        OutputFormat::Text => text::write_styled(inv, color, out),
        OutputFormat::Sarif => sarif::write(inv, out),
        OutputFormat::Github => github::write(inv, out),
    }
}
