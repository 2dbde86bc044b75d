//! Stored inventories: reading a JSON inventory document back into an
//! [`Inventory`] (lossless: writing it again gives the same document), and
//! merging inventories from many hosts or days into one, recognising inputs
//! that were scanned more than once by their [`ScannedRange`] identity.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::inventory::{
    DepKey, DepStats, FileCoverage, Inventory, ScannedRange, SourceRef, TargetEvidence,
};
use crate::report::json::{self, InputDoc, InventoryDoc, VERSION};
use crate::target::ColumnTarget;
use crate::time::{format_rfc3339, parse_timestamp, Millis};

/// Errors reading or merging stored inventories.
#[derive(Debug, thiserror::Error)]
pub enum StoredError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not JSON, or not an inventory document.
    #[error("{path}: line {line}, column {column}: not a pgcontract inventory: {message}")]
    Json {
        /// The file.
        path: String,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What serde_json said.
        message: String,
    },
    /// A document of another contract version.
    #[error("{path}: inventory version {found} is not supported (this pgcontract reads version {VERSION})")]
    Version {
        /// The file.
        path: String,
        /// The version found (`missing` when absent).
        found: String,
    },
    /// A well-formed document with an impossible value.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, naming the field.
        message: String,
    },
    /// Inventories of different target columns.
    #[error("{a} and {b} are inventories of different columns ({ta} and {tb}); merge needs inventories scanned with the same --column set")]
    Targets {
        /// One file.
        a: String,
        /// The other.
        b: String,
        /// Its targets.
        ta: String,
        /// Its targets.
        tb: String,
    },
    /// Two inventories share scanned inputs but neither holds the other.
    #[error("{a} and {b} both contain {inputs}, but neither contains all the inputs of the other: the shared inputs' counts cannot be separated. Merge inventories of disjoint inputs (one per host or per log file), or leave out the one that is already part of a merged inventory")]
    Overlap {
        /// One file.
        a: String,
        /// The other.
        b: String,
        /// The shared inputs, described.
        inputs: String,
    },
}

/// Reads an inventory document from `path` (`-` for stdin is not handled
/// here; pass the bytes to [`parse`]).
pub fn load(path: &Path) -> Result<Inventory, StoredError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| StoredError::Read {
        path: name.clone(),
        source: e,
    })?;
    // The text is dropped once the document is made from it.
    let doc = parse_doc(&name, &bytes)?;
    drop(bytes);
    inventory_of(&name, &doc)
}

/// Parses an inventory document; `name` is used in errors.
pub fn parse(name: &str, bytes: &[u8]) -> Result<Inventory, StoredError> {
    inventory_of(name, &parse_doc(name, bytes)?)
}

/// The inventory of a parsed document; `name` is used in errors.
fn inventory_of(name: &str, doc: &InventoryDoc) -> Result<Inventory, StoredError> {
    from_doc(doc).map_err(|message| StoredError::Invalid {
        path: name.to_string(),
        message,
    })
}

/// Parses the text of an inventory document (its version checked first).
fn parse_doc(name: &str, bytes: &[u8]) -> Result<InventoryDoc, StoredError> {
    let json_err = |e: serde_json::Error| StoredError::Json {
        path: name.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    };
    let version = top_level_version(bytes).map_err(json_err)?;
    match version.as_ref().and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(VERSION) => {}
        other => {
            return Err(StoredError::Version {
                path: name.to_string(),
                found: other.map_or_else(
                    || {
                        version
                            .as_ref()
                            .map_or_else(|| "missing".to_string(), ToString::to_string)
                    },
                    |v| v.to_string(),
                ),
            })
        }
    }
    // Parse the text again (not the Value) so that errors carry a line.
    serde_json::from_slice(bytes).map_err(json_err)
}

/// The top-level `version` of a JSON document, read without building the
/// document (which can be large): what `serde_json::Value::get("version")`
/// of the whole document gives (`None` when the document is not an object
/// or has none; the last one when it appears twice). Errors are those of
/// parsing the document.
pub(crate) fn top_level_version(
    bytes: &[u8],
) -> Result<Option<serde_json::Value>, serde_json::Error> {
    use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};

    struct Probe;

    impl<'de> Visitor<'de> for Probe {
        type Value = Option<serde_json::Value>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON document")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut version = None;
            while let Some(key) = map.next_key::<String>()? {
                if key == "version" {
                    version = Some(map.next_value::<serde_json::Value>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(version)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }

        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    let mut de = serde_json::Deserializer::from_slice(bytes);
    let version = serde::Deserializer::deserialize_any(&mut de, Probe)?;
    de.end()?;
    Ok(version)
}

/// A target as written in the document (`schema.table.column`, already
/// folded). Names containing dots cannot be read back unambiguously.
fn target_from(column: &str) -> Result<ColumnTarget, String> {
    let parts: Vec<&str> = column.split('.').collect();
    match parts.as_slice() {
        [s, t, c] if !s.is_empty() && !t.is_empty() && !c.is_empty() => Ok(ColumnTarget {
            schema: (*s).to_string(),
            table: (*t).to_string(),
            column: (*c).to_string(),
        }),
        _ => Err(format!(
            "targets: `{column}` is not schema.table.column (names containing dots cannot be read back)"
        )),
    }
}

fn time_from(field: &str, s: &Option<String>) -> Result<Option<Millis>, String> {
    let Some(s) = s else { return Ok(None) };
    match parse_timestamp(s) {
        Some(p) if format_rfc3339(p.millis) == *s => Ok(Some(p.millis)),
        _ => Err(format!(
            "{field}: `{s}` is not an RFC 3339 UTC time as pgcontract writes it"
        )),
    }
}

fn coverage_from(d: &InputDoc) -> Result<FileCoverage, String> {
    let file = d.file.as_deref().unwrap_or("?");
    Ok(FileCoverage {
        format: d.format.clone().unwrap_or_default(),
        log_line_prefix: d.log_line_prefix.clone(),
        bytes: d.bytes,
        lines: d.lines,
        invalid_utf8_lines: d.invalid_utf8_lines,
        truncated_records: d.truncated_records,
        records: d.records,
        records_by_kind: d.records_by_kind.clone(),
        skipped: d.skipped.clone(),
        statements: d.statements.clone(),
        first_time: time_from(&format!("coverage of {file}: first_time"), &d.first_time)?,
        last_time: time_from(&format!("coverage of {file}: last_time"), &d.last_time)?,
        errors: d.errors.clone(),
        notes: d.notes.clone(),
        scanned: d.scanned.clone(),
        blind_spots: d.blind_spots.clone(),
        logging: d.logging.clone(),
        silences: d
            .silences
            .iter()
            .map(|[a, b]| {
                let field = format!("coverage of {file}: silences");
                match (
                    time_from(&field, &Some(a.clone()))?,
                    time_from(&field, &Some(b.clone()))?,
                ) {
                    (Some(a), Some(b)) => Ok((a, b)),
                    _ => Err(field),
                }
            })
            .collect::<Result<_, String>>()?,
    })
}

/// Converts a document back into an inventory. The verdicts and per-target
/// counts in the document are derived data and are computed again.
pub fn from_doc(doc: &InventoryDoc) -> Result<Inventory, String> {
    let mut targets = Vec::new();
    for t in &doc.targets {
        targets.push(target_from(&t.column)?);
    }
    let index: BTreeMap<String, usize> = doc
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| (t.column.clone(), i))
        .collect();
    let mut inv = Inventory::new(targets);
    for (e, t) in inv.evidence.iter_mut().zip(&doc.targets) {
        *e = TargetEvidence {
            unparseable_mentions: t.unparseable_mentions,
            truncated_statements: t.truncated_statements,
        };
    }
    for (n, d) in doc.dependencies.iter().enumerate() {
        let at = format!("dependencies[{n}]");
        let target = *index
            .get(&d.column)
            .ok_or_else(|| format!("{at}: column `{}` is not a target", d.column))?;
        let mut sources = Vec::new();
        for s in &d.sources {
            let (file, line) = s
                .rsplit_once(':')
                .and_then(|(f, l)| Some((f, l.parse::<u64>().ok()?)))
                .ok_or_else(|| format!("{at}: source `{s}` is not file:line"))?;
            sources.push(SourceRef {
                file: file.into(),
                line,
            });
        }
        let key = DepKey {
            target,
            access: d.access,
            via: d.via.as_str().into(),
            actor: std::sync::Arc::new(d.actor.clone()),
            fingerprint: d.fingerprint.as_str().into(),
        };
        let stats = DepStats {
            confidence: d.confidence,
            reason: d.reason.as_deref().map(Into::into),
            calls: d.calls,
            failed_calls: d.failed_calls,
            nested_calls: d.nested_calls,
            first_seen: time_from(&format!("{at}.first_seen"), &d.first_seen)?,
            last_seen: time_from(&format!("{at}.last_seen"), &d.last_seen)?,
            query: d.query.as_str().into(),
            sources,
        };
        if inv.deps.contains_key(&key) {
            return Err(format!("{at}: the same dependency row appears twice"));
        }
        inv.add_dep(key, stats);
    }
    inv.schema_deps.clone_from(&doc.schema_dependencies);
    for d in &doc.coverage.inputs {
        let file = d
            .file
            .clone()
            .ok_or_else(|| "coverage.inputs: an input without `file`".to_string())?;
        let cov = coverage_from(d)?;
        if inv.files.insert(file.clone(), cov).is_some() {
            return Err(format!("coverage.inputs: `{file}` appears twice"));
        }
    }
    inv.warnings.clone_from(&doc.warnings);
    if doc.targets.iter().any(|t| !t.migration.is_empty()) {
        inv.target_sites = doc.targets.iter().map(|t| t.migration.clone()).collect();
    }
    inv.unchecked.clone_from(&doc.unchecked);
    if let Some(w) = &doc.window {
        inv.window = crate::window::Window {
            since: time_from("window.since", &w.since)?,
            until: time_from("window.until", &w.until)?,
            max_gap: w.max_gap_seconds.saturating_mul(1000),
        };
    }
    inv.accepted.clone_from(&doc.accept);
    inv.today = time_from("today", &doc.today)?;
    inv.literals = Some(doc.literals);
    Ok(inv)
}

/// One scanned input: its name and the identity of the range read.
type InputId = (String, ScannedRange);

fn identities(inv: &Inventory) -> BTreeSet<InputId> {
    inv.files
        .iter()
        .flat_map(|(f, c)| c.scanned.iter().map(move |r| (f.clone(), r.clone())))
        .collect()
}

fn describe(id: &InputId) -> String {
    let (file, r) = id;
    format!(
        "{file} (bytes {}..{}, sha256 {})",
        r.offset,
        r.offset + r.length,
        r.sha256.get(..12).unwrap_or(&r.sha256)
    )
}

fn describe_all<'a>(ids: impl Iterator<Item = &'a InputId>) -> String {
    let all: Vec<String> = ids.map(describe).collect();
    if all.len() > 3 {
        format!(
            "{} and {} more",
            all.get(..3).unwrap_or_default().join(", "),
            all.len() - 3
        )
    } else {
        all.join(", ")
    }
}

/// Merges named inventories into one. The result does not depend on the
/// order of `items`, nor on how they were grouped in earlier merges:
/// calls are summed, first/last seen widened, coverage combined, schema
/// dependencies and warnings united. An inventory whose scanned inputs are
/// all part of another one (the same inventory twice, or one already merged
/// into another) is counted once and named in the warnings; two inventories
/// that share only some inputs are refused ([`StoredError::Overlap`]).
pub fn merge(items: Vec<(String, Inventory)>) -> Result<Inventory, StoredError> {
    let Some((first_name, first)) = items.first() else {
        return Ok(Inventory::default());
    };
    let mut want: Vec<ColumnTarget> = first.targets.clone();
    want.sort();
    want.dedup();
    let mut same_order = true;
    for (name, inv) in &items {
        let mut t = inv.targets.clone();
        t.sort();
        t.dedup();
        if t != want {
            let list = |v: &[ColumnTarget]| {
                v.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(StoredError::Targets {
                a: first_name.clone(),
                b: name.clone(),
                ta: list(&first.targets),
                tb: list(&inv.targets),
            });
        }
        same_order &= inv.targets == first.targets;
    }
    // A canonical order of the targets: as given when every inventory agrees.
    let targets = if same_order {
        first.targets.clone()
    } else {
        want
    };

    // Canonical order of the inventories, independent of the argument order.
    let mut keyed: Vec<(BTreeSet<InputId>, Vec<u8>, String, Inventory)> = items
        .into_iter()
        .map(|(name, inv)| {
            let inv = retarget(inv, &targets);
            let mut bytes = Vec::new();
            let _ = json::write(&inv, &mut bytes);
            (identities(&inv), bytes, name, inv)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));

    let mut warnings = Vec::new();
    let mut kept: Vec<usize> = Vec::new();
    for (i, (ids, ..)) in keyed.iter().enumerate() {
        if ids.is_empty() {
            warnings.push("an inventory without input identities was merged: duplicates among its inputs cannot be recognised".to_string());
            kept.push(i);
            continue;
        }
        let contained = keyed.iter().enumerate().any(|(j, (other, ..))| {
            j != i && ids.is_subset(other) && (ids.len() < other.len() || j < i)
        });
        if contained {
            for id in ids {
                warnings.push(format!(
                    "input {} was in more than one merged inventory; counted once",
                    describe(id)
                ));
            }
        } else {
            kept.push(i);
        }
    }
    let kept_items: Vec<_> = kept.iter().filter_map(|&i| keyed.get(i)).collect();
    for (x, (ids_a, _, name_a, _)) in kept_items.iter().enumerate() {
        for (ids_b, _, name_b, _) in kept_items.iter().skip(x + 1) {
            let shared: Vec<&InputId> = ids_a.intersection(ids_b).collect();
            if !shared.is_empty() {
                return Err(StoredError::Overlap {
                    a: name_a.clone(),
                    b: name_b.clone(),
                    inputs: describe_all(shared.into_iter()),
                });
            }
        }
    }
    let mut out = Inventory::new(targets);
    for (i, (_, _, _, inv)) in keyed.into_iter().enumerate() {
        if kept.contains(&i) {
            out.merge(inv);
        }
    }
    out.warnings.extend(warnings);
    out.warnings.sort();
    out.warnings.dedup();
    Ok(out)
}

/// Re-indexes an inventory's per-target data (rows, evidence, migration
/// sites) for `targets` (the same set, maybe in another order); everything
/// else is kept as it is.
pub fn retarget(mut inv: Inventory, targets: &[ColumnTarget]) -> Inventory {
    if inv.targets == targets {
        return inv;
    }
    let map: Vec<usize> = inv
        .targets
        .iter()
        .map(|t| targets.iter().position(|x| x == t).unwrap_or(0))
        .collect();
    let mut evidence = vec![TargetEvidence::default(); targets.len()];
    for (old, e) in std::mem::take(&mut inv.evidence).into_iter().enumerate() {
        if let Some(slot) = map.get(old).and_then(|&new| evidence.get_mut(new)) {
            *slot = e;
        }
    }
    inv.evidence = evidence;
    for (mut k, v) in std::mem::take(&mut inv.deps) {
        k.target = map.get(k.target).copied().unwrap_or(k.target);
        inv.add_dep(k, v);
    }
    if !inv.target_sites.is_empty() {
        let mut sites = vec![Vec::new(); targets.len()];
        for (old, s) in std::mem::take(&mut inv.target_sites)
            .into_iter()
            .enumerate()
        {
            if let Some(slot) = map.get(old).and_then(|&new| sites.get_mut(new)) {
                *slot = s;
            }
        }
        inv.target_sites = sites;
    }
    inv.targets = targets.to_vec();
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_version_is_what_the_whole_documents_value_gives() {
        for text in [
            r#"{"version": 1, "targets": [{"version": 9}]}"#,
            r#"{"targets": [], "version": "1"}"#,
            r#"{"version": 1, "version": 2}"#,
            r#"{"targets": {"version": 3}}"#,
            r#"[{"version": 1}]"#,
            r#""version""#,
            "12",
            "null",
            "true",
            r#"{"version": {"major": 1, "x": [1, 2.5, null]}}"#,
        ] {
            let whole: serde_json::Value = serde_json::from_str(text).unwrap();
            assert_eq!(
                top_level_version(text.as_bytes()).unwrap(),
                whole.get("version").cloned(),
                "{text}"
            );
        }
        for bad in [
            r#"{"version": 1"#,
            r#"{"version": 1} x"#,
            "",
            r#"{"version": 1, oops}"#,
        ] {
            let whole = serde_json::from_str::<serde_json::Value>(bad).unwrap_err();
            let probe = top_level_version(bad.as_bytes()).unwrap_err();
            assert_eq!(
                (probe.line(), probe.column()),
                (whole.line(), whole.column()),
                "{bad}"
            );
        }
    }

    #[test]
    fn retarget_moves_rows_evidence_and_sites_with_their_column() {
        let a = ColumnTarget::parse("public.t.a").unwrap();
        let b = ColumnTarget::parse("public.t.b").unwrap();
        let mut inv = Inventory::new(vec![a.clone(), b.clone()]);
        inv.evidence[1].unparseable_mentions = 2;
        inv.evidence[1].truncated_statements = 3;
        inv.target_sites = vec![
            Vec::new(),
            vec![crate::migration::MigrationSite {
                file: "m.sql".into(),
                line: 4,
                change: "DROP COLUMN".into(),
            }],
        ];
        inv.warnings.push("kept".into());
        let out = retarget(inv, &[b.clone(), a.clone()]);
        assert_eq!(out.targets, [b, a]);
        assert_eq!(out.evidence[0].unparseable_mentions, 2);
        assert_eq!(out.evidence[0].truncated_statements, 3);
        assert_eq!(out.evidence[1], TargetEvidence::default());
        assert_eq!(out.target_sites[0][0].line, 4);
        assert!(out.target_sites[1].is_empty());
        assert_eq!(out.warnings, ["kept"]);
    }
}
