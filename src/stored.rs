//! Stored inventories: reading a JSON inventory document back into an
//! [`Inventory`] (lossless: writing it again gives the same document), and
//! merging inventories from many hosts or days into one, recognising inputs
//! that were scanned more than once by their [`ScannedRange`] identity.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::inventory::{
    DepKey, DepStats, FileCoverage, Inventory, ScannedRange, SourceRef, TargetEvidence,
};
use crate::report::json::{self, DependencyDoc, InputDoc, InventoryDoc, TargetDoc, VERSION};
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
/// here; pass the bytes to [`parse`]). The file is read through a buffer and
/// each dependency row becomes a row of the inventory as it is read: neither
/// the text nor the whole document is held. Only a document that turns out
/// to be wrong is read again, whole, to report what [`parse`] reports (the
/// same line and column: serde_json counts columns of some errors one
/// apart when it reads from a buffer).
pub fn load(path: &Path) -> Result<Inventory, StoredError> {
    let name = path.display().to_string();
    let read_err = |e: std::io::Error| StoredError::Read {
        path: name.clone(),
        source: e,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        // A pipe (`/dev/stdin`) cannot be read a second time: it is read
        // whole, from the one opening.
        let bytes = read_all(file).map_err(read_err)?;
        return parse(&name, &bytes);
    }
    if let Ok((Some(VERSION), built)) =
        read_doc(&mut serde_json::Deserializer::from_reader(buffered(file)))
    {
        return built.finish().map_err(|message| StoredError::Invalid {
            path: name,
            message,
        });
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    parse(&name, &bytes)
}

/// The rest of what `file` gives.
pub(crate) fn read_all(mut file: std::fs::File) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes)?;
    Ok(bytes)
}

/// A file read through a buffer large enough for JSON parsing.
pub(crate) fn buffered(file: std::fs::File) -> std::io::BufReader<std::fs::File> {
    std::io::BufReader::with_capacity(64 << 10, file)
}

/// Parses an inventory document; `name` is used in errors.
pub fn parse(name: &str, bytes: &[u8]) -> Result<Inventory, StoredError> {
    let json_err = |e: serde_json::Error| StoredError::Json {
        path: name.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    };
    // The errors, and which one wins when there are several, are those of
    // checking the version of the whole document first, then parsing it
    // into an [`InventoryDoc`], then [`from_doc`]: when the pass succeeded
    // with this version nothing else can be wrong; otherwise the version is
    // read again to tell which error it is.
    let read = read_doc(&mut serde_json::Deserializer::from_slice(bytes));
    if !matches!(read, Ok((Some(VERSION), _))) {
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
    }
    let (_, built) = read.map_err(json_err)?;
    built.finish().map_err(|message| StoredError::Invalid {
        path: name.to_string(),
        message,
    })
}

/// Reads a whole inventory document (and checks that nothing follows it):
/// its `version` and its inventory, made row by row.
fn read_doc<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
) -> Result<(Option<u32>, Built), serde_json::Error> {
    let read = serde::de::DeserializeSeed::deserialize(DocSeed, &mut *de)?;
    de.end()?;
    Ok(read)
}

/// The top-level `version` of a JSON document, read without building the
/// document (which can be large): what `serde_json::Value::get("version")`
/// of the whole document gives (`None` when the document is not an object
/// or has none; the last one when it appears twice). Errors are those of
/// parsing the document.
pub(crate) fn top_level_version(
    bytes: &[u8],
) -> Result<Option<serde_json::Value>, serde_json::Error> {
    top_level_version_in(&mut serde_json::Deserializer::from_slice(bytes))
}

/// [`top_level_version`] of the document `de` reads.
fn top_level_version_in<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
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

    let version = serde::Deserializer::deserialize_any(&mut *de, Probe)?;
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
    let mut b = Built::default();
    b.targets(doc.targets.clone());
    for d in &doc.dependencies {
        b.row(d.clone());
    }
    b.rest
        .schema_dependencies
        .clone_from(&doc.schema_dependencies);
    b.rest.inputs.clone_from(&doc.coverage.inputs);
    b.rest.warnings.clone_from(&doc.warnings);
    b.rest.unchecked.clone_from(&doc.unchecked);
    b.rest.window.clone_from(&doc.window);
    b.rest.accept.clone_from(&doc.accept);
    b.rest.today.clone_from(&doc.today);
    b.rest.literals = doc.literals;
    b.finish()
}

/// The inventory of a document, made from its parts in whatever order they
/// are read: each dependency row becomes an inventory row as soon as the
/// targets are known (rows read before the targets wait for them), and the
/// first problem [`from_doc`] reports is kept to be reported at the end
/// (after the whole document has been read, so that a JSON error anywhere
/// wins, as when the document was parsed whole first).
#[derive(Default)]
pub(crate) struct Built {
    /// The inventory, once the targets are read, and each target's
    /// position by column; or what is wrong with the targets.
    inv: Option<Result<Made, String>>,
    /// The targets as read (their migration sites are taken at the end).
    targets: Vec<TargetDoc>,
    /// Rows read before the targets.
    pending: Vec<DependencyDoc>,
    /// Rows taken so far (the next row's index).
    rows: usize,
    /// The first bad row's problem.
    bad_row: Option<String>,
    /// Everything after the rows.
    rest: Rest,
}

/// An inventory with its targets, and each target's position by column.
type Made = (Inventory, BTreeMap<String, usize>);

/// The parts of a document that [`Built`] applies at the end (small: no
/// dependency rows).
#[derive(Default)]
struct Rest {
    schema_dependencies: Vec<crate::inventory::SchemaDependency>,
    inputs: Vec<InputDoc>,
    warnings: Vec<String>,
    unchecked: Vec<crate::migration::UncheckedChange>,
    window: Option<json::WindowDoc>,
    accept: Vec<crate::contract::AcceptRule>,
    today: Option<String>,
    literals: crate::inventory::Literals,
}

impl Built {
    /// Takes the targets, and the rows that waited for them.
    fn targets(&mut self, docs: Vec<TargetDoc>) {
        self.inv = Some(Self::inventory_for(&docs));
        self.targets = docs;
        for d in std::mem::take(&mut self.pending) {
            self.row(d);
        }
    }

    /// An empty inventory for the targets of `docs`.
    fn inventory_for(docs: &[TargetDoc]) -> Result<(Inventory, BTreeMap<String, usize>), String> {
        let mut targets = Vec::new();
        for t in docs {
            targets.push(target_from(&t.column)?);
        }
        let index: BTreeMap<String, usize> = docs
            .iter()
            .enumerate()
            .map(|(i, t)| (t.column.clone(), i))
            .collect();
        let mut inv = Inventory::new(targets);
        for (e, t) in inv.evidence.iter_mut().zip(docs) {
            *e = TargetEvidence {
                unparseable_mentions: t.unparseable_mentions,
                truncated_statements: t.truncated_statements,
            };
        }
        Ok((inv, index))
    }

    /// Takes the next dependency row (kept until the targets are read).
    fn row(&mut self, d: DependencyDoc) {
        let Some(made) = &mut self.inv else {
            self.pending.push(d);
            return;
        };
        // After a problem nothing more is taken: it is the one reported.
        let Ok((inv, index)) = made else { return };
        if self.bad_row.is_some() {
            return;
        }
        let n = self.rows;
        self.rows += 1;
        if let Err(e) = Self::add_row(inv, index, n, d) {
            self.bad_row = Some(e);
        }
    }

    /// Adds row `n` to the inventory.
    fn add_row(
        inv: &mut Inventory,
        index: &BTreeMap<String, usize>,
        n: usize,
        d: DependencyDoc,
    ) -> Result<(), String> {
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
            actor: std::sync::Arc::new(d.actor),
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
        // Shares the row's texts and actor with the rows before it.
        inv.add_dep(key, stats);
        Ok(())
    }

    /// The inventory, or the first problem in the order [`from_doc`] has
    /// always checked them: targets, rows, coverage, window, today.
    pub(crate) fn finish(mut self) -> Result<Inventory, String> {
        if self.inv.is_none() {
            self.targets(Vec::new());
        }
        let Some(made) = self.inv else {
            return Err("targets: missing".to_string());
        };
        let (mut inv, _) = made?;
        if let Some(e) = self.bad_row {
            return Err(e);
        }
        let doc = self.rest;
        inv.schema_deps = doc.schema_dependencies;
        for d in &doc.inputs {
            let file = d
                .file
                .clone()
                .ok_or_else(|| "coverage.inputs: an input without `file`".to_string())?;
            let cov = coverage_from(d)?;
            if inv.files.insert(file.clone(), cov).is_some() {
                return Err(format!("coverage.inputs: `{file}` appears twice"));
            }
        }
        inv.warnings = doc.warnings;
        if self.targets.iter().any(|t| !t.migration.is_empty()) {
            inv.target_sites = self.targets.into_iter().map(|t| t.migration).collect();
        }
        inv.unchecked = doc.unchecked;
        if let Some(w) = &doc.window {
            inv.window = crate::window::Window {
                since: time_from("window.since", &w.since)?,
                until: time_from("window.until", &w.until)?,
                max_gap: w.max_gap_seconds.saturating_mul(1000),
            };
        }
        inv.accepted = doc.accept;
        inv.today = time_from("today", &doc.today)?;
        inv.literals = Some(doc.literals);
        Ok(inv)
    }
}

/// The fields of [`InventoryDoc`], in its order.
const DOC_FIELDS: &[&str] = &[
    "version",
    "targets",
    "dependencies",
    "schema_dependencies",
    "coverage",
    "warnings",
    "unchecked",
    "window",
    "accept",
    "today",
    "literals",
];

/// Reads an inventory document as [`InventoryDoc`]'s `Deserialize` does
/// (the same checks, the same errors at the same places), but gives its
/// `version` (`None` for the array form, which has no top-level version)
/// and its inventory, the dependency rows taken one at a time.
pub(crate) struct DocSeed;

impl<'de> serde::de::DeserializeSeed<'de> for DocSeed {
    type Value = (Option<u32>, Built);

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_struct("InventoryDoc", DOC_FIELDS, DocVisitor)
    }
}

struct DocVisitor;

impl<'de> serde::de::Visitor<'de> for DocVisitor {
    type Value = (Option<u32>, Built);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("struct InventoryDoc")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let mut b = Built::default();
        // Which fields were read: bit i for `DOC_FIELDS[i]`.
        let mut seen = 0u16;
        let mut version = None;
        while let Some(key) = map.next_key::<String>()? {
            let Some((i, field)) = DOC_FIELDS.iter().enumerate().find(|(_, f)| **f == key) else {
                return Err(A::Error::unknown_field(&key, DOC_FIELDS));
            };
            if seen & (1 << i) != 0 {
                return Err(A::Error::duplicate_field(field));
            }
            seen |= 1 << i;
            let r = &mut b.rest;
            match i {
                0 => version = Some(map.next_value()?),
                1 => {
                    let targets = map.next_value()?;
                    b.targets(targets);
                }
                2 => map.next_value_seed(RowsSeed(&mut b))?,
                3 => r.schema_dependencies = map.next_value()?,
                4 => r.inputs = map.next_value::<json::CoverageDoc>()?.inputs,
                5 => r.warnings = map.next_value()?,
                6 => r.unchecked = map.next_value()?,
                7 => r.window = map.next_value()?,
                8 => r.accept = map.next_value()?,
                9 => r.today = map.next_value()?,
                _ => r.literals = map.next_value()?,
            }
        }
        // Missing fields, in declaration order (the first six are
        // required; the others default).
        if let Some((_, field)) = DOC_FIELDS
            .iter()
            .enumerate()
            .take(6)
            .find(|(i, _)| seen & (1 << i) == 0)
        {
            return Err(A::Error::missing_field(field));
        }
        Ok((version, b))
    }

    /// The array form: the fields in declaration order (accepted where the
    /// derived `Deserialize` accepts it, inside a state file).
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        const EXPECTING: &str = "struct InventoryDoc with 11 elements";
        let short = |i: usize| A::Error::invalid_length(i, &EXPECTING);
        let mut b = Built::default();
        seq.next_element::<u32>()?.ok_or_else(|| short(0))?;
        let targets = seq.next_element()?.ok_or_else(|| short(1))?;
        b.targets(targets);
        seq.next_element_seed(RowsSeed(&mut b))?
            .ok_or_else(|| short(2))?;
        let r = &mut b.rest;
        r.schema_dependencies = seq.next_element()?.ok_or_else(|| short(3))?;
        r.inputs = seq
            .next_element::<json::CoverageDoc>()?
            .ok_or_else(|| short(4))?
            .inputs;
        r.warnings = seq.next_element()?.ok_or_else(|| short(5))?;
        r.unchecked = seq.next_element()?.unwrap_or_default();
        r.window = seq.next_element()?.unwrap_or_default();
        r.accept = seq.next_element()?.unwrap_or_default();
        r.today = seq.next_element()?.unwrap_or_default();
        r.literals = seq.next_element()?.unwrap_or_default();
        Ok((None, b))
    }
}

/// The `dependencies` array, each row given to the [`Built`] as it is read.
struct RowsSeed<'a>(&'a mut Built);

impl<'de> serde::de::DeserializeSeed<'de> for RowsSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for RowsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(d) = seq.next_element::<DependencyDoc>()? {
            self.0.row(d);
        }
        Ok(())
    }
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
    crate::scan::refresh_same_executions_warnings(&mut out);
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
pub(crate) mod tests {
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

    /// A small inventory with every part a document has: rows sharing
    /// actors and texts, coverage with times and silences, a window,
    /// migration sites, warnings.
    pub(crate) fn sample() -> Inventory {
        use crate::inventory::{Access, Actor, Confidence};
        let a = ColumnTarget::parse("public.users.legacy_email").unwrap();
        let b = ColumnTarget::parse("public.orders.old_status").unwrap();
        let mut inv = Inventory::new(vec![a, b]);
        for n in 0..9u64 {
            let key = DepKey {
                target: (n % 2) as usize,
                access: if n % 3 == 0 {
                    Access::Write
                } else {
                    Access::Read
                },
                via: "direct".into(),
                actor: std::sync::Arc::new(Actor {
                    user: Some(format!("u{}", n % 3)),
                    ..Actor::default()
                }),
                fingerprint: format!("{n:016x}").into(),
            };
            let stats = DepStats {
                confidence: if n % 4 == 0 {
                    Confidence::Possible
                } else {
                    Confidence::Certain
                },
                reason: (n % 4 == 0).then(|| "ambiguous".into()),
                calls: n + 1,
                failed_calls: n % 2,
                nested_calls: 0,
                first_seen: Some(1_700_000_000_000 + n as i64),
                last_seen: Some(1_700_000_100_000),
                query: format!("select legacy_email from users where id = ${}", n % 4).into(),
                sources: vec![SourceRef {
                    file: "a.log".into(),
                    line: n + 10,
                }],
            };
            inv.add_dep(key, stats);
        }
        let mut cov = FileCoverage {
            format: "stderr".into(),
            bytes: 100,
            lines: 9,
            records: 9,
            first_time: Some(1_700_000_000_000),
            last_time: Some(1_700_000_900_000),
            silences: vec![(1_700_000_100_000, 1_700_000_900_000)],
            ..FileCoverage::default()
        };
        cov.scanned.push(ScannedRange {
            offset: 0,
            length: 100,
            sha256: "ab".repeat(32),
        });
        inv.files.insert("a.log".into(), cov);
        inv.warnings.push("a warning".into());
        inv.target_sites = vec![
            vec![crate::migration::MigrationSite {
                file: "m.sql".into(),
                line: 3,
                change: "DROP COLUMN".into(),
            }],
            Vec::new(),
        ];
        inv.window.since = Some(1_699_999_000_000);
        inv
    }

    pub(crate) fn document(inv: &Inventory) -> serde_json::Value {
        let mut out = Vec::new();
        json::write(inv, &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    /// The document `v` (an object) as text, its top-level keys in `order`
    /// (keys it lacks are left out; keys not named follow, sorted).
    pub(crate) fn text_in_order(v: &serde_json::Value, order: &[&str]) -> String {
        let Some(map) = v.as_object() else {
            return v.to_string();
        };
        let mut keys: Vec<&str> = order
            .iter()
            .copied()
            .filter(|k| map.contains_key(*k))
            .collect();
        keys.extend(
            map.keys()
                .map(String::as_str)
                .filter(|k| !order.contains(k)),
        );
        let fields: Vec<String> = keys
            .iter()
            .map(|k| format!("{}: {}", serde_json::json!(k), map[*k]))
            .collect();
        format!("{{\n{}\n}}", fields.join(",\n"))
    }

    /// [`from_doc`] as it was before it was made of [`Built`], which reads
    /// documents row by row: the reference the row-by-row reading is held to.
    pub(crate) fn from_doc_whole(doc: &InventoryDoc) -> Result<Inventory, String> {
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

    /// How this module read a document before it was read row by row: the
    /// version of the whole text, then the whole [`InventoryDoc`], then
    /// [`from_doc`].
    fn read_whole(name: &str, bytes: &[u8]) -> Result<Inventory, StoredError> {
        let json_err = |e: serde_json::Error| StoredError::Json {
            path: name.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        };
        let version = top_level_version(bytes).map_err(json_err)?;
        if version.as_ref().and_then(serde_json::Value::as_u64) != Some(u64::from(VERSION)) {
            return Err(StoredError::Version {
                path: name.to_string(),
                found: version.map_or_else(|| "missing".to_string(), |v| v.to_string()),
            });
        }
        let doc: InventoryDoc = serde_json::from_slice(bytes).map_err(json_err)?;
        from_doc_whole(&doc).map_err(|message| StoredError::Invalid {
            path: name.to_string(),
            message,
        })
    }

    fn outcome(r: Result<Inventory, StoredError>) -> String {
        match r {
            Ok(inv) => {
                let mut out = Vec::new();
                json::write(&inv, &mut out).unwrap();
                String::from_utf8(out).unwrap()
            }
            Err(e) => format!("error: {e}"),
        }
    }

    /// Damaged and odd documents: each a change to the sample's document.
    pub(crate) fn cases() -> Vec<(&'static str, serde_json::Value)> {
        use serde_json::json;
        let base = document(&sample());
        let change = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = base.clone();
            f(&mut v);
            v
        };
        let mut each_left_out: Vec<(&'static str, serde_json::Value)> = DOC_FIELDS
            .iter()
            .map(|f| {
                let mut v = base.clone();
                v.as_object_mut().unwrap().remove(*f);
                ("a field left out", v)
            })
            .collect();
        each_left_out.extend(vec![
            ("as written", base.clone()),
            (
                "bad time in row 1",
                change(&|v| v["dependencies"][1]["first_seen"] = json!("yesterday")),
            ),
            (
                "unknown column in row 2",
                change(&|v| v["dependencies"][2]["column"] = json!("public.users.nope")),
            ),
            (
                "bad source in row 0",
                change(&|v| v["dependencies"][0]["sources"] = json!(["no line"])),
            ),
            (
                "row 4 repeats row 3",
                change(&|v| v["dependencies"][4] = v["dependencies"][3].clone()),
            ),
            (
                "bad row after a repeated one",
                change(&|v| {
                    v["dependencies"][4] = v["dependencies"][3].clone();
                    v["dependencies"][6]["last_seen"] = json!("x");
                }),
            ),
            (
                "bad target",
                change(&|v| v["targets"][1]["column"] = json!("orders.old_status")),
            ),
            (
                "bad target and bad row",
                change(&|v| {
                    v["targets"][0]["column"] = json!("x");
                    v["dependencies"][0]["column"] = json!("y");
                }),
            ),
            (
                "bad coverage time",
                change(&|v| v["coverage"]["inputs"][0]["first_time"] = json!("soon")),
            ),
            (
                "bad silence",
                change(&|v| v["coverage"]["inputs"][0]["silences"][0][1] = json!("later")),
            ),
            (
                "input without file",
                change(&|v| v["coverage"]["inputs"][0]["file"] = json!(null)),
            ),
            (
                "input twice",
                change(&|v| {
                    let i = v["coverage"]["inputs"][0].clone();
                    v["coverage"]["inputs"].as_array_mut().unwrap().push(i);
                }),
            ),
            (
                "bad window",
                change(&|v| v["window"]["until"] = json!("2024")),
            ),
            ("bad today", change(&|v| v["today"] = json!("today"))),
            (
                "bad row and bad today",
                change(&|v| {
                    v["today"] = json!("today");
                    v["dependencies"][8]["column"] = json!("z");
                }),
            ),
            (
                "unknown field in a row",
                change(&|v| v["dependencies"][5]["extra"] = json!(1)),
            ),
            (
                "wrong type in a row",
                change(&|v| v["dependencies"][1]["calls"] = json!("many")),
            ),
            (
                "missing field in a row",
                change(&|v| {
                    v["dependencies"][2]
                        .as_object_mut()
                        .unwrap()
                        .remove("actor");
                }),
            ),
            (
                "bad row, then a wrong type in coverage",
                change(&|v| {
                    v["dependencies"][0]["column"] = json!("z");
                    v["coverage"]["totals"]["bytes"] = json!(-1);
                }),
            ),
            (
                "dependencies null",
                change(&|v| v["dependencies"] = json!(null)),
            ),
            (
                "dependencies an object",
                change(&|v| v["dependencies"] = json!({})),
            ),
            ("targets null", change(&|v| v["targets"] = json!(null))),
            (
                "version 2 with a bad row",
                change(&|v| {
                    v["version"] = json!(2);
                    v["dependencies"][0]["column"] = json!("z");
                }),
            ),
            (
                "version 2 with a wrong type",
                change(&|v| {
                    v["version"] = json!(2);
                    v["warnings"] = json!(3);
                }),
            ),
            ("version as text", change(&|v| v["version"] = json!("1"))),
            (
                "version missing",
                change(&|v| {
                    v.as_object_mut().unwrap().remove("version");
                }),
            ),
            (
                "targets missing",
                change(&|v| {
                    v.as_object_mut().unwrap().remove("targets");
                }),
            ),
            (
                "targets and warnings missing",
                change(&|v| {
                    let o = v.as_object_mut().unwrap();
                    o.remove("targets");
                    o.remove("warnings");
                }),
            ),
            (
                "optional fields missing",
                change(&|v| {
                    let o = v.as_object_mut().unwrap();
                    for k in ["unchecked", "window", "accept", "today", "literals"] {
                        o.remove(k);
                    }
                }),
            ),
            (
                "unknown top-level field",
                change(&|v| v["extra"] = json!([1])),
            ),
            ("an array", json!([1, [], []])),
            ("the array form", {
                let fields: Vec<serde_json::Value> =
                    DOC_FIELDS.iter().map(|f| base[*f].clone()).collect();
                json!(fields)
            }),
            ("the array form, defaults left out", {
                let fields: Vec<serde_json::Value> = DOC_FIELDS
                    .iter()
                    .take(6)
                    .map(|f| base[*f].clone())
                    .collect();
                json!(fields)
            }),
            ("the array form with a bad row", {
                let mut fields: Vec<serde_json::Value> =
                    DOC_FIELDS.iter().map(|f| base[*f].clone()).collect();
                fields[2][1]["column"] = json!("z");
                json!(fields)
            }),
            ("the array form, too long", {
                let mut fields: Vec<serde_json::Value> =
                    DOC_FIELDS.iter().map(|f| base[*f].clone()).collect();
                fields.push(json!(1));
                json!(fields)
            }),
            ("a number", json!(1)),
        ]);
        each_left_out
    }

    /// The top-level orders the cases are read in: as pgcontract writes
    /// them, alphabetical (rows before targets, version late) and reversed.
    pub(crate) const ORDERS: [&[&str]; 3] = [
        DOC_FIELDS,
        &[],
        &[
            "extra",
            "literals",
            "today",
            "accept",
            "window",
            "unchecked",
            "warnings",
            "coverage",
            "schema_dependencies",
            "dependencies",
            "targets",
            "version",
        ],
    ];

    /// Texts that are not JSON documents, or not one object.
    pub(crate) fn damaged_texts() -> Vec<String> {
        let good = text_in_order(&document(&sample()), DOC_FIELDS);
        let mut bad_row = document(&sample());
        bad_row["dependencies"][0]["column"] = serde_json::json!("z");
        let bad_row = text_in_order(&bad_row, DOC_FIELDS);
        let at_end = |t: &str, tail: &str| format!("{}{tail}", t.trim_end().trim_end_matches('}'));
        vec![
            String::new(),
            "{".to_string(),
            "[1] x".to_string(),
            format!("{good} x"),
            format!("{good}\n{{}}"),
            at_end(&good, ",\n}"),
            at_end(&bad_row, ",\n}"),
            at_end(&bad_row, "\n"),
            good.replacen("\"version\": 1", "\"version\": 1,\n\"version\": 1", 1),
            good.replacen("\"version\": 1", "\"version\": 2,\n\"version\": 1", 1),
            good.replacen("\"version\": 1", "\"version\": 1,\n\"version\": 2", 1),
            good.replacen("\"warnings\"", "\"dependencies\": [],\n\"warnings\"", 1),
            good.replacen("\"targets\"", "\"targets\": [],\n\"targets\"", 1),
            good.replacen("\"targets\"", "\"vers\\u0069on\": 1,\n\"targets\"", 1),
            good.replacen("\"calls\": 1,", "\"calls\": 1,,", 1),
            good.replacen("select", "sel\u{1}ect", 1),
        ]
    }

    #[test]
    fn rows_read_one_at_a_time_give_what_the_whole_document_gave() {
        let mut texts = Vec::new();
        for (what, v) in cases() {
            for order in ORDERS {
                texts.push((what.to_string(), text_in_order(&v, order)));
            }
        }
        for t in damaged_texts() {
            texts.push((format!("damaged: {t:.60}"), t));
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("inv.json");
        let mut errors = BTreeSet::new();
        for (what, text) in &texts {
            let whole = outcome(read_whole("x.json", text.as_bytes()));
            let read = outcome(parse("x.json", text.as_bytes()));
            assert_eq!(read, whole, "{what}:\n{text}");
            // From a file, through a buffer: the same, line and column
            // included.
            std::fs::write(&file, text).unwrap();
            let loaded = outcome(load(&file)).replace(&file.display().to_string(), "x.json");
            assert_eq!(loaded, whole, "{what}: from a file");
            errors.insert(whole.lines().next().unwrap_or_default().to_string());
        }
        // The cases reach every kind of outcome: read, each validation,
        // version errors, and JSON errors with their position.
        for expected in [
            "error: x.json: dependencies[1].first_seen: `yesterday` is not an RFC 3339 UTC time as pgcontract writes it",
            "error: x.json: dependencies[2]: column `public.users.nope` is not a target",
            "error: x.json: dependencies[0]: source `no line` is not file:line",
            "error: x.json: dependencies[4]: the same dependency row appears twice",
            "error: x.json: targets: `x` is not schema.table.column (names containing dots cannot be read back)",
            "error: x.json: today: `today` is not an RFC 3339 UTC time as pgcontract writes it",
            "error: x.json: coverage.inputs: `a.log` appears twice",
            "error: x.json: inventory version 2 is not supported (this pgcontract reads version 1)",
            "error: x.json: inventory version missing is not supported (this pgcontract reads version 1)",
        ] {
            assert!(errors.contains(expected), "{expected} not among {errors:#?}");
        }
        assert!(
            errors.iter().any(|e| e.starts_with("error: x.json: line ")
                && e.contains("duplicate field `version`")),
            "{errors:#?}"
        );
        assert!(errors.iter().any(|e| e.starts_with("{")), "{errors:#?}");
    }

    #[test]
    fn a_document_from_a_pipe_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let good = text_in_order(&document(&sample()), DOC_FIELDS);
        let mut damaged = document(&sample());
        damaged["dependencies"][3]["calls"] = serde_json::json!("many");
        let damaged = text_in_order(&damaged, DOC_FIELDS);
        for text in [good, damaged] {
            let writer = {
                let (fifo, text) = (fifo.clone(), text.clone());
                std::thread::spawn(move || std::fs::write(fifo, text).unwrap())
            };
            // Opening the pipe again would wait for a writer for ever: the
            // test fails instead.
            let (tx, rx) = std::sync::mpsc::channel();
            {
                let fifo = fifo.clone();
                std::thread::spawn(move || tx.send(outcome(load(&fifo))));
            }
            let from_pipe = rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("reading the pipe hangs: it was opened a second time")
                .replace(&fifo.display().to_string(), "x.json");
            writer.join().unwrap();
            assert_eq!(from_pipe, outcome(read_whole("x.json", text.as_bytes())));
        }
    }

    #[test]
    fn keys_in_another_order_read_the_same() {
        let inv = sample();
        let written = outcome(Ok(inv));
        for order in ORDERS {
            let text = text_in_order(&document(&sample()), order);
            assert_eq!(
                outcome(parse("x.json", text.as_bytes())),
                written,
                "{order:?}"
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
