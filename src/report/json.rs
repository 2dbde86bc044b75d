//! The JSON inventory document (contract version 1, documented in
//! `docs/inventory-format.md`): serde types and the conversion from an
//! [`Inventory`]. Every list is sorted, so the output is byte-identical for
//! the same inputs whatever the input order or thread count.

use std::collections::BTreeMap;
use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::contract::{AcceptRule, Acceptance};
use crate::inventory::{
    Access, Actor, Confidence, DepKey, DepStats, FileCoverage, Inventory, Literals, ScannedRange,
    SchemaDependency, StatementCounts, Verdict,
};
use crate::migration::{MigrationSite, UncheckedChange};
use crate::time::format_rfc3339;
use crate::visibility::LoggingSeen;

/// The contract version.
pub const VERSION: u32 = 1;

/// The whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryDoc {
    /// Always 1 for this contract.
    pub version: u32,
    /// One per target column.
    pub targets: Vec<TargetDoc>,
    /// Who uses the targets, one row per (column, access, via, actor, fingerprint).
    pub dependencies: Vec<DependencyDoc>,
    /// Schema objects that use the targets.
    pub schema_dependencies: Vec<SchemaDependency>,
    /// What the inputs could and could not show.
    pub coverage: CoverageDoc,
    /// Warnings about the run.
    pub warnings: Vec<String>,
    /// Destructive `--migration` changes that could not be expanded into
    /// columns (they keep the run from being clear).
    #[serde(default)]
    pub unchecked: Vec<UncheckedChange>,
    /// The evidence window (null in documents written before it existed).
    #[serde(default)]
    pub window: Option<WindowDoc>,
    /// The accepted-dependency rules of the contract file.
    #[serde(default)]
    pub accept: Vec<AcceptRule>,
    /// The time acceptance expiry dates were checked against (RFC 3339).
    #[serde(default)]
    pub today: Option<String>,
    /// `stripped` (every literal in `query` replaced by `$n`), `kept`
    /// (`scan --keep-literals`: texts as logged, values included) or `mixed`
    /// (merged from both). Documents without it are `stripped`.
    #[serde(default)]
    pub literals: Literals,
}

/// The evidence window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowDoc {
    /// Start (inclusive), RFC 3339; null for the inputs' own start.
    pub since: Option<String>,
    /// End (exclusive), RFC 3339; null for the inputs' own end.
    pub until: Option<String>,
    /// Longest silence of the inputs that still counts as covered, seconds.
    pub max_gap_seconds: i64,
}

/// An accepted dependency's rule, as applied to a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptedDoc {
    /// Why it is expected.
    pub reason: String,
    /// The first day it no longer applies (`YYYY-MM-DD`), if any.
    pub expires: Option<String>,
    /// True when the expiry date has passed: the row blocks again.
    pub expired: bool,
}

/// A target and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetDoc {
    /// `schema.table.column`.
    pub column: String,
    /// `clear`, `blocked` or `inconclusive`.
    pub verdict: Verdict,
    /// Why.
    pub reason: String,
    /// Number of dependency rows.
    pub dependencies: usize,
    /// Calls over those rows.
    pub calls: u64,
    /// The `--migration` statements that change this column (empty for
    /// `--column` targets).
    #[serde(default)]
    pub migration: Vec<MigrationSite>,
    /// Unparseable statements whose words include the column name.
    #[serde(default)]
    pub unparseable_mentions: u64,
    /// Statements the log cut short (`[Your log message was truncated]`):
    /// they could hide a reference; omitted when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub truncated_statements: u64,
    /// What the inputs cannot show that matters for this column (`file:
    /// what`); any gap keeps the verdict from `clear`.
    #[serde(default)]
    pub coverage_gaps: Vec<String>,
    /// Every reason for the verdict (`reason` is them joined with `; `).
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// One dependency row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DependencyDoc {
    /// `schema.table.column`.
    pub column: String,
    /// `read` or `write`.
    pub access: Access,
    /// How: `direct`, `star`, `whole_row`, `positional`, `natural_join`,
    /// `view schema.name`, …
    pub via: String,
    /// `certain`, `probable` or `possible`.
    pub confidence: Confidence,
    /// Why not certain (null when certain).
    pub reason: Option<String>,
    /// Who.
    pub actor: Actor,
    /// Executions seen.
    pub calls: u64,
    /// Of which failed with an error.
    pub failed_calls: u64,
    /// Of which ran inside a function, trigger or DO block
    /// (pg_stat_statements `toplevel = false`); omitted when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub nested_calls: u64,
    /// RFC 3339, null when the input has no times.
    pub first_seen: Option<String>,
    /// RFC 3339, null when the input has no times.
    pub last_seen: Option<String>,
    /// Statement fingerprint.
    pub fingerprint: String,
    /// The statement, every literal replaced by `$n` (as logged, values
    /// included, when the document's `literals` is `kept`).
    pub query: String,
    /// Up to three `file:line` samples.
    pub sources: Vec<String>,
    /// The contract file's rule that accepts this row (null when none).
    #[serde(default)]
    pub accepted: Option<AcceptedDoc>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Statement counters in the document.
pub type StatementsDoc = StatementCounts;

/// Coverage of one input, or the totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputDoc {
    /// The input (null for totals).
    pub file: Option<String>,
    /// Detected format (null for totals).
    pub format: Option<String>,
    /// The log_line_prefix used.
    pub log_line_prefix: Option<String>,
    /// Bytes read (decompressed).
    pub bytes: u64,
    /// Lines read.
    pub lines: u64,
    /// Lines with invalid UTF-8.
    pub invalid_utf8_lines: u64,
    /// Records the log cut short (`[Your log message was truncated]`);
    /// omitted when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub truncated_records: u64,
    /// Records read.
    pub records: u64,
    /// Records by kind.
    pub records_by_kind: BTreeMap<String, u64>,
    /// Records skipped, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Statement counters.
    pub statements: StatementsDoc,
    /// Earliest time.
    pub first_time: Option<String>,
    /// Latest time.
    pub last_time: Option<String>,
    /// Errors (the run went on).
    pub errors: Vec<String>,
    /// Blind spots of the logging set-up.
    pub notes: Vec<String>,
    /// Identity of each byte range read (empty for totals).
    #[serde(default)]
    pub scanned: Vec<ScannedRange>,
    /// Reads or writes the logging set-up does not log (inferred from the
    /// content, or from `--logging`); they keep verdicts from `clear`.
    #[serde(default)]
    pub blind_spots: Vec<String>,
    /// What was seen of the logging set-up (statement kinds logged, their
    /// messages, pgAudit classes): the evidence behind `blind_spots`, kept so
    /// that stored and incremental inventories can work them out again.
    /// Omitted when empty (and in totals).
    #[serde(default, skip_serializing_if = "LoggingSeen::is_empty")]
    pub logging: LoggingSeen,
    /// Stretches of more than five minutes without any record, `[from, to]`
    /// (RFC 3339); empty in the totals.
    #[serde(default)]
    pub silences: Vec<[String; 2]>,
}

/// The coverage section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverageDoc {
    /// One entry per input, sorted by name.
    pub inputs: Vec<InputDoc>,
    /// Sums over all inputs.
    pub totals: InputDoc,
}

fn input_doc(file: Option<&str>, c: &FileCoverage) -> InputDoc {
    InputDoc {
        file: file.map(str::to_string),
        format: file.map(|_| c.format.clone()),
        log_line_prefix: c.log_line_prefix.clone(),
        bytes: c.bytes,
        lines: c.lines,
        invalid_utf8_lines: c.invalid_utf8_lines,
        truncated_records: c.truncated_records,
        records: c.records,
        records_by_kind: c.records_by_kind.clone(),
        skipped: c.skipped.clone(),
        statements: c.statements.clone(),
        first_time: c.first_time.map(format_rfc3339),
        last_time: c.last_time.map(format_rfc3339),
        errors: c.errors.clone(),
        notes: c.notes.clone(),
        scanned: if file.is_some() {
            c.scanned.clone()
        } else {
            Vec::new()
        },
        blind_spots: c.blind_spots.clone(),
        logging: if file.is_some() {
            c.logging.clone()
        } else {
            LoggingSeen::default()
        },
        silences: if file.is_some() {
            c.silences
                .iter()
                .map(|&(a, b)| [format_rfc3339(a), format_rfc3339(b)])
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// The document row of one dependency.
fn dependency_doc(inv: &Inventory, k: &DepKey, s: &DepStats) -> DependencyDoc {
    DependencyDoc {
        column: inv
            .targets
            .get(k.target)
            .map(ToString::to_string)
            .unwrap_or_default(),
        access: k.access,
        via: k.via.to_string(),
        confidence: s.confidence,
        reason: s.reason.as_deref().map(str::to_string),
        actor: Actor::clone(&k.actor),
        calls: s.calls,
        failed_calls: s.failed_calls,
        nested_calls: s.nested_calls,
        first_seen: s.first_seen.map(format_rfc3339),
        last_seen: s.last_seen.map(format_rfc3339),
        fingerprint: k.fingerprint.to_string(),
        query: s.query.to_string(),
        sources: s
            .sources
            .iter()
            .map(|r| format!("{}:{}", r.file, r.line))
            .collect(),
        accepted: accepted_doc(inv, k),
    }
}

/// The contract rule that accepts a row, as the document shows it.
fn accepted_doc(inv: &Inventory, k: &DepKey) -> Option<AcceptedDoc> {
    match inv.acceptance(k) {
        Acceptance::None => None,
        Acceptance::Accepted(r) => Some(AcceptedDoc {
            reason: r.reason,
            expires: r.expires,
            expired: false,
        }),
        Acceptance::Expired(r) => Some(AcceptedDoc {
            reason: r.reason,
            expires: r.expires,
            expired: true,
        }),
    }
}

/// Converts an inventory into the document.
pub fn to_doc(inv: &Inventory) -> InventoryDoc {
    InventoryDoc {
        dependencies: inv
            .deps
            .iter()
            .map(|(k, s)| dependency_doc(inv, k, s))
            .collect(),
        ..to_doc_without_dependencies(inv)
    }
}

/// Visits the document rows of the dependencies of `column` (a target's
/// `schema.table.column`) in document order, made one at a time: the rows
/// of [`to_doc`]`(inv).dependencies` whose `column` it is.
pub(crate) fn each_column_dependency(
    inv: &Inventory,
    column: &str,
    visit: &mut dyn FnMut(&DependencyDoc),
) {
    let targets: Vec<usize> = inv
        .targets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.to_string() == column)
        .map(|(i, _)| i)
        .collect();
    for (k, s) in inv.deps.iter().filter(|(k, _)| targets.contains(&k.target)) {
        visit(&dependency_doc(inv, k, s));
    }
}

/// Visits the dependency rows of `column`: `(column, visit)` calls `visit`
/// with each of them, in document order.
pub(crate) type ColumnRows<'a> = dyn FnMut(&str, &mut dyn FnMut(&DependencyDoc)) + 'a;

/// The document with an empty `dependencies` list.
pub(crate) fn to_doc_without_dependencies(inv: &Inventory) -> InventoryDoc {
    let targets = inv
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let v = inv.verdict(i);
            let (rows, calls) = inv
                .deps
                .iter()
                .filter(|(k, _)| k.target == i)
                .fold((0, 0), |(n, c), (_, s)| (n + 1, c + s.calls));
            TargetDoc {
                column: t.to_string(),
                verdict: v.verdict,
                reason: v.reason,
                reasons: v.reasons,
                dependencies: rows,
                calls,
                migration: inv.target_sites.get(i).cloned().unwrap_or_default(),
                unparseable_mentions: inv.evidence.get(i).map_or(0, |e| e.unparseable_mentions),
                truncated_statements: inv.evidence.get(i).map_or(0, |e| e.truncated_statements),
                coverage_gaps: v.coverage_gaps,
            }
        })
        .collect();
    let inputs = inv
        .files
        .iter()
        .map(|(f, c)| input_doc(Some(f), c))
        .collect();
    InventoryDoc {
        version: VERSION,
        targets,
        dependencies: Vec::new(),
        schema_dependencies: inv.schema_deps.clone(),
        coverage: CoverageDoc {
            inputs,
            totals: input_doc(None, &inv.total_coverage()),
        },
        warnings: inv.warnings.clone(),
        unchecked: inv.unchecked.clone(),
        window: Some(WindowDoc {
            since: inv.window.since.map(format_rfc3339),
            until: inv.window.until.map(format_rfc3339),
            max_gap_seconds: inv.window.max_gap / 1000,
        }),
        accept: inv.accepted.clone(),
        today: inv.today.map(format_rfc3339),
        literals: inv.literals.unwrap_or_default(),
    }
}

/// Writes the document as pretty JSON with a trailing newline: the bytes
/// of serialising [`to_doc`], but the dependency rows are made and written
/// one at a time, so the document never exists whole in memory.
pub fn write(inv: &Inventory, out: &mut dyn Write) -> std::io::Result<()> {
    let head = to_doc_without_dependencies(inv);
    let mut out = std::io::BufWriter::with_capacity(64 << 10, out);
    serde_json::to_writer_pretty(&mut out, &Streamed { head: &head, inv })
        .map_err(std::io::Error::other)?;
    writeln!(out)?;
    out.flush()
}

/// The document of `inv`, serialised as [`to_doc`]`(inv)` is but with the
/// dependency rows made one at a time as they are written.
pub(crate) fn streamed(inv: &Inventory) -> impl Serialize + '_ {
    StreamedDoc {
        head: to_doc_without_dependencies(inv),
        inv,
    }
}

/// [`Streamed`] owning everything but the rows.
struct StreamedDoc<'a> {
    head: InventoryDoc,
    inv: &'a Inventory,
}

impl Serialize for StreamedDoc<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Streamed {
            head: &self.head,
            inv: self.inv,
        }
        .serialize(serializer)
    }
}

/// [`InventoryDoc`] serialised with its `dependencies` taken from the
/// inventory row by row (same fields, same order).
struct Streamed<'a> {
    /// Everything but the dependency rows.
    head: &'a InventoryDoc,
    inv: &'a Inventory,
}

/// The dependency rows of an inventory, as a JSON array made row by row.
struct Rows<'a>(&'a Inventory);

impl Serialize for Rows<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let inv = self.0;
        serializer.collect_seq(inv.deps.iter().map(|(k, s)| dependency_doc(inv, k, s)))
    }
}

impl Serialize for Streamed<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let d = self.head;
        let mut s = serializer.serialize_struct("InventoryDoc", 11)?;
        s.serialize_field("version", &d.version)?;
        s.serialize_field("targets", &d.targets)?;
        s.serialize_field("dependencies", &Rows(self.inv))?;
        s.serialize_field("schema_dependencies", &d.schema_dependencies)?;
        s.serialize_field("coverage", &d.coverage)?;
        s.serialize_field("warnings", &d.warnings)?;
        s.serialize_field("unchecked", &d.unchecked)?;
        s.serialize_field("window", &d.window)?;
        s.serialize_field("accept", &d.accept)?;
        s.serialize_field("today", &d.today)?;
        s.serialize_field("literals", &d.literals)?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::SourceRef;
    use crate::target::ColumnTarget;

    fn inventory(rows: u64) -> Inventory {
        let targets = vec![
            ColumnTarget::parse("public.users.legacy_email").unwrap(),
            ColumnTarget::parse("public.orders.old_status").unwrap(),
        ];
        let mut inv = Inventory::new(targets);
        for n in 0..rows {
            let key = DepKey {
                target: (n % 2) as usize,
                access: if n % 3 == 0 {
                    Access::Write
                } else {
                    Access::Read
                },
                via: "direct".into(),
                actor: Actor {
                    user: Some(format!("u{}", n % 4)),
                    client: Some(format!("10.0.0.{n}")),
                    ..Actor::default()
                }
                .into(),
                fingerprint: format!("{n:016x}").into(),
            };
            let stats = DepStats {
                confidence: if n % 5 == 0 {
                    Confidence::Possible
                } else {
                    Confidence::Certain
                },
                reason: (n % 5 == 0).then(|| "ambiguous \"name\"".into()),
                calls: n + 1,
                failed_calls: n % 2,
                nested_calls: n % 3,
                first_seen: Some(1_700_000_000_000 + n as i64),
                last_seen: (n % 4 != 0).then_some(1_700_000_100_000),
                query: format!("select legacy_email from users where id = ${n}").into(),
                sources: vec![SourceRef {
                    // Names that need escaping in JSON, on some rows.
                    file: if n % 2 == 1 {
                        "logs\\a \"ü\"\t.log".into()
                    } else {
                        "a.log".into()
                    },
                    line: n + 10,
                }],
            };
            inv.add_dep(key, stats);
        }
        inv
    }

    fn whole_document(inv: &Inventory) -> String {
        let mut s = serde_json::to_string_pretty(&to_doc(inv)).unwrap();
        s.push('\n');
        s
    }

    /// A report made from the inventory row by row, and the same report
    /// made from the whole document.
    fn both(
        inv: &Inventory,
        made: fn(&Inventory, &mut Vec<u8>) -> std::io::Result<()>,
        whole: fn(&InventoryDoc, &mut Vec<u8>) -> std::io::Result<()>,
    ) -> (String, String) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        made(inv, &mut a).unwrap();
        whole(&to_doc(inv), &mut b).unwrap();
        (String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap())
    }

    fn markdown(inv: &Inventory) -> (String, String) {
        both(
            inv,
            |i, o| crate::report::markdown::write(i, o),
            |d, o| crate::report::markdown::write_doc(d, o),
        )
    }

    fn text(inv: &Inventory) -> (String, String) {
        both(
            inv,
            |i, o| crate::report::text::write(i, o),
            |d, o| crate::report::text::write_doc(d, o),
        )
    }

    #[test]
    fn markdown_and_text_made_column_by_column_are_those_of_the_whole_document() {
        for rows in [0, 1, 7] {
            let inv = inventory(rows);
            let (made, whole) = markdown(&inv);
            assert_eq!(made, whole);
            assert_eq!(
                made.matches("No statement in the inputs uses this column.")
                    .count(),
                if rows == 0 {
                    2
                } else if rows == 1 {
                    1
                } else {
                    0
                }
            );
            assert_eq!(
                made.matches("<details><summary>Statements (").count(),
                if rows == 0 {
                    0
                } else if rows == 1 {
                    1
                } else {
                    2
                }
            );
            let (made, whole) = text(&inv);
            assert_eq!(made, whole);
            assert_eq!(
                made.matches("no statement uses it").count(),
                if rows == 0 {
                    2
                } else if rows == 1 {
                    1
                } else {
                    0
                }
            );
        }
    }

    #[test]
    fn markdown_and_text_of_accepted_rows_are_written_in_their_passes() {
        let mut doc = to_doc(&inventory(7));
        // old_status (odd rows): every row accepted; legacy_email (even
        // rows): row 0 accepted, row 2 accepted but expired.
        for (n, d) in doc.dependencies.iter_mut().enumerate() {
            let fp = u64::from_str_radix(&d.fingerprint, 16).unwrap();
            let expired = fp == 2;
            if fp % 2 == 1 || fp == 0 || expired {
                d.accepted = Some(AcceptedDoc {
                    reason: format!("reason {n}"),
                    expires: expired.then(|| "2020-01-01".to_string()),
                    expired,
                });
            }
        }
        let mut out = Vec::new();
        crate::report::markdown::write_doc(&doc, &mut out).unwrap();
        let md = String::from_utf8(out).unwrap();
        assert_eq!(
            md.matches("Every statement that uses this column is accepted.")
                .count(),
            1
        );
        assert_eq!(
            md.matches("**Accepted** (expected, not blocking):").count(),
            2
        );
        // Accepted rows: 3 of old_status, 1 of legacy_email; the expired one
        // is in the actor table.
        assert_eq!(md.matches("| reason ").count(), 4);
        assert_eq!(md.matches("(acceptance expired)").count(), 1);
        assert_eq!(
            md.matches("<details><summary>Statements (4)</summary>")
                .count(),
            1
        );
        assert_eq!(
            md.matches("<details><summary>Statements (3)</summary>")
                .count(),
            1
        );
        let mut out = Vec::new();
        crate::report::text::write_doc(&doc, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("        accepted: reason").count(), 4);
        assert_eq!(
            text.matches("        acceptance EXPIRED until 2020-01-01: reason")
                .count(),
            1
        );
    }

    #[test]
    fn streamed_document_is_the_serialised_document_byte_for_byte() {
        for rows in [0, 1, 7] {
            let inv = inventory(rows);
            let mut streamed = Vec::new();
            write(&inv, &mut streamed).unwrap();
            assert_eq!(String::from_utf8(streamed).unwrap(), whole_document(&inv));
        }
    }
}
