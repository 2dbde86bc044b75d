//! The hidden-dependency inventory: dependencies per (column, access, via,
//! actor, statement fingerprint), schema-side dependencies, coverage and
//! verdicts. Everything is kept in ordered maps so that merging partial
//! inventories (one per file or per thread) in any order gives the same result.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::contract::{acceptance, AcceptRule, Acceptance};
use crate::migration::{MigrationSite, UncheckedChange};
use crate::target::ColumnTarget;
use crate::time::{format_rfc3339, Millis};
use crate::window::Window;

/// Who ran a statement, as far as the log tells. `None` where unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// Role name (`%u`), or `oid:N` for pg_stat_statements exports without names.
    pub user: Option<String>,
    /// Database name (`%d`), or `oid:N`.
    pub database: Option<String>,
    /// `application_name` (`%a`).
    pub application: Option<String>,
    /// Client host (`%h`, or the host part of `%r`), `[local]` for Unix sockets.
    pub client: Option<String>,
}

/// Whether a statement reads or writes a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// The column's value is read.
    Read,
    /// The column's value is written.
    Write,
}

/// How sure the resolver is that a reference is to the target column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// The evidence allows it but does not show it (ambiguity, missing catalog,
    /// unparseable text that names the column).
    Possible,
    /// Very likely, with one stated assumption.
    Probable,
    /// PostgreSQL would resolve it this way.
    Certain,
}

/// The decision for one target column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing in the evidence uses the column.
    Clear,
    /// At least one certain or probable dependency.
    Blocked,
    /// The evidence can neither show nor exclude a dependency.
    Inconclusive,
}

/// Whether the statement texts (`query`) of an inventory keep the literal
/// values of the logs (`scan --keep-literals`) or have them replaced by `$n`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Literals {
    /// Every literal is replaced by `$n` (the default; documents written
    /// before the mark existed are always this).
    #[default]
    Stripped,
    /// The texts are as logged, values included.
    Kept,
    /// Merged from inventories of both kinds: some texts may carry values.
    Mixed,
}

impl Literals {
    /// The mark of an inventory merged from two marked ones.
    pub fn combine(a: Option<Literals>, b: Option<Literals>) -> Option<Literals> {
        match (a, b) {
            (None, x) | (x, None) => x,
            (Some(x), Some(y)) if x == y => Some(x),
            _ => Some(Literals::Mixed),
        }
    }
}

/// The identity of one dependency row. Its texts and actor are shared
/// with the other rows of the inventory (see [`crate::intern`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DepKey {
    /// Index of the target in [`Inventory::targets`].
    pub target: usize,
    /// Read or write.
    pub access: Access,
    /// `direct`, `star`, `whole_row`, `positional`, `natural_join`, or
    /// `view schema.name` for references through a view.
    pub via: Arc<str>,
    /// Who ran it.
    pub actor: Arc<Actor>,
    /// Statement fingerprint (pg_query fingerprint, or `text:`-hash when
    /// the statement could not be parsed).
    pub fingerprint: Arc<str>,
}

/// A `file:line` sample of where a dependency was seen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceRef {
    /// The input as named on the command line.
    pub file: Arc<str>,
    /// 1-based line (or CSV record) number.
    pub line: u64,
}

/// How many `sources` samples each dependency keeps.
pub const MAX_SOURCES: usize = 3;

/// Aggregated evidence for one dependency row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepStats {
    /// Highest confidence seen for this row.
    pub confidence: Confidence,
    /// Why the confidence is below certain (none for certain rows).
    pub reason: Option<Arc<str>>,
    /// Executions (log lines count one each; pg_stat_statements rows add `calls`).
    pub calls: u64,
    /// Executions that failed (ERROR + STATEMENT).
    pub failed_calls: u64,
    /// Executions run inside a function, trigger or DO block
    /// (pg_stat_statements rows with `toplevel = false`, pgAudit substatements).
    pub nested_calls: u64,
    /// Earliest time seen.
    pub first_seen: Option<Millis>,
    /// Latest time seen.
    pub last_seen: Option<Millis>,
    /// The normalised statement text (smallest seen, for determinism).
    pub query: Arc<str>,
    /// The smallest `MAX_SOURCES` source positions.
    pub sources: Vec<SourceRef>,
}

fn min_opt(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn max_opt(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl DepStats {
    /// Folds `other` into `self`; commutative and associative.
    pub fn merge(&mut self, other: &DepStats) {
        if other.confidence > self.confidence
            || (other.confidence == self.confidence && other.reason < self.reason)
        {
            self.reason.clone_from(&other.reason);
        }
        self.confidence = self.confidence.max(other.confidence);
        if self.confidence == Confidence::Certain {
            self.reason = None;
        }
        self.calls += other.calls;
        self.failed_calls += other.failed_calls;
        self.nested_calls += other.nested_calls;
        self.first_seen = min_opt(self.first_seen, other.first_seen);
        self.last_seen = max_opt(self.last_seen, other.last_seen);
        if other.query < self.query {
            self.query.clone_from(&other.query);
        }
        merge_sources(&mut self.sources, &other.sources);
    }
}

/// Keeps the `MAX_SOURCES` smallest distinct sources of both lists.
pub fn merge_sources(into: &mut Vec<SourceRef>, from: &[SourceRef]) {
    into.extend(from.iter().cloned());
    into.sort();
    into.dedup();
    into.truncate(MAX_SOURCES);
}

/// What `DROP COLUMN` does to a schema object that uses the column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDrop {
    /// PostgreSQL refuses the drop unless `CASCADE` also drops the object.
    Blocked,
    /// The object is dropped with the column, silently.
    Dropped,
    /// Nothing happens at drop time; the object fails when it next runs.
    BreaksAtRunTime,
    /// The drop succeeds and removes data the object holds: a column of the
    /// table's row type loses that field in every stored value.
    DataLost,
}

/// An object in the schema that uses a target column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SchemaDependency {
    /// The target, `schema.table.column`.
    pub column: String,
    /// The object, `schema.name`.
    pub object: String,
    /// `view`, `materialized_view`, `index`, …
    pub object_type: String,
    /// What `DROP COLUMN` does to it.
    pub on_drop: OnDrop,
    /// `possible` when only dynamic SQL or an unanalysed body names it.
    pub confidence: Confidence,
    /// How it uses the column and what a drop does to it.
    pub detail: String,
}

/// Statement counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementCounts {
    /// Statements extracted from records (a multi-statement string counts each).
    pub seen: u64,
    /// Statements parsed and resolved.
    pub analysed: u64,
    /// Statements pg_query could not parse.
    pub unparseable: u64,
    /// Why they could not be parsed (values never included), with counts.
    pub unparseable_reasons: BTreeMap<String, u64>,
    /// Executions represented (pg_stat_statements `calls` included).
    pub calls: u64,
    /// Statements whose time is outside `--since`/`--until` (not analysed,
    /// not in `seen`).
    #[serde(default)]
    pub outside_window: u64,
    /// Statement texts taken from records: one per record of a kind in
    /// [`STATEMENT_KINDS`] (pgAudit object evidence without a text is none).
    #[serde(default)]
    pub texts: u64,
    /// Texts that hold no statement (empty, or only comments and `;`).
    #[serde(default)]
    pub without_statement: u64,
    /// Statements beyond the first of texts that hold several
    /// (`SELECT 1; SELECT 2` is one text, two statements in `seen`).
    #[serde(default)]
    pub extra_statements: u64,
}

/// The record kinds (`records_by_kind`) that carry one statement text each;
/// every other kind carries none (a repeat of a text already counted, or no
/// statement at all).
pub const STATEMENT_KINDS: &[&str] = &[
    "statement",
    "failed_statement",
    "statement_context",
    "prepare_detail",
    "audit_statement",
    "audit_substatement",
    "pg_stat_statements_row",
    "pg_stat_statements_nested_row",
];

/// How the records and statements of one input (or the totals) add up:
/// `records` = `statement_records` + `other_records` + `skipped`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordBalance {
    /// Records of a kind in [`STATEMENT_KINDS`].
    pub statement_records: u64,
    /// Records of every other kind.
    pub other_records: u64,
    /// Records skipped (any reason).
    pub skipped: u64,
}

impl RecordBalance {
    /// The balance of `records_by_kind` and `skipped`.
    pub fn of(by_kind: &BTreeMap<String, u64>, skipped: &BTreeMap<String, u64>) -> Self {
        let statement_records = by_kind
            .iter()
            .filter(|(k, _)| STATEMENT_KINDS.contains(&k.as_str()))
            .map(|(_, n)| n)
            .sum();
        let all: u64 = by_kind.values().sum();
        Self {
            statement_records,
            other_records: all - statement_records,
            skipped: skipped.values().sum(),
        }
    }
}

impl StatementCounts {
    fn merge(&mut self, o: &StatementCounts) {
        self.seen += o.seen;
        self.analysed += o.analysed;
        self.unparseable += o.unparseable;
        self.calls += o.calls;
        self.outside_window += o.outside_window;
        self.texts += o.texts;
        self.without_statement += o.without_statement;
        self.extra_statements += o.extra_statements;
        for (k, v) in &o.unparseable_reasons {
            *self.unparseable_reasons.entry(k.clone()).or_default() += v;
        }
    }
}

/// What one input contributed and what it could not show.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCoverage {
    /// Detected (or forced) input format.
    pub format: String,
    /// The `log_line_prefix` used to read it, when it is a stderr log.
    pub log_line_prefix: Option<String>,
    /// Bytes read (decompressed).
    pub bytes: u64,
    /// Physical lines read.
    pub lines: u64,
    /// Lines that were not valid UTF-8 (decoded lossily).
    pub invalid_utf8_lines: u64,
    /// Records the log cut short (`[Your log message was truncated]`).
    #[serde(default)]
    pub truncated_records: u64,
    /// Log records (an entry with its continuation lines, or one CSV row).
    pub records: u64,
    /// Records by kind (statement, duration, connection, …).
    pub records_by_kind: BTreeMap<String, u64>,
    /// Records skipped, by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Statement counters.
    pub statements: StatementCounts,
    /// Earliest timestamp.
    pub first_time: Option<Millis>,
    /// Latest timestamp.
    pub last_time: Option<Millis>,
    /// Problems reading this input (the run went on).
    pub errors: Vec<String>,
    /// What the logging set-up of this input cannot show.
    pub notes: Vec<String>,
    /// Stretches (from, to) longer than [`crate::window::MIN_SILENCE`]
    /// between consecutive records: the input shows nothing there (the
    /// longest [`MAX_SILENCES`] are kept).
    #[serde(default)]
    pub silences: Vec<(Millis, Millis)>,
    /// The identity of each byte range read (sorted, deduplicated).
    #[serde(default)]
    pub scanned: Vec<ScannedRange>,
    /// Reads or writes this input's logging set-up cannot show (see
    /// [`crate::visibility`]); any of them keeps a verdict from `clear`.
    #[serde(default)]
    pub blind_spots: Vec<String>,
    /// Evidence about the logging set-up, gathered while reading (stored,
    /// so that an accumulated inventory's blind spots can be worked out
    /// again from all of it).
    #[serde(default)]
    pub logging: crate::visibility::LoggingSeen,
}

/// How many silences each input keeps.
pub const MAX_SILENCES: usize = 256;

/// Keeps the longest `MAX_SILENCES` silences, in time order.
fn trim_silences(s: &mut Vec<(Millis, Millis)>) {
    s.sort();
    s.dedup();
    if s.len() > MAX_SILENCES {
        s.sort_by(|a, b| (b.1 - b.0).cmp(&(a.1 - a.0)).then(a.cmp(b)));
        s.truncate(MAX_SILENCES);
        s.sort();
    }
}

/// The identity of one scanned byte range of an input: where it started in
/// the (decompressed) content, how many bytes were read, and their SHA-256.
/// The same input scanned twice gives the same range.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScannedRange {
    /// First byte read (0 unless an incremental scan resumed).
    pub offset: u64,
    /// Bytes read.
    pub length: u64,
    /// SHA-256 of those bytes, lower-case hex.
    pub sha256: String,
}

impl FileCoverage {
    /// Counts one record of `kind`.
    pub fn record(&mut self, kind: &str) {
        self.record_n(kind, 1);
    }

    /// Counts `n` records of `kind`.
    pub fn record_n(&mut self, kind: &str, n: u64) {
        self.records += n;
        match self.records_by_kind.get_mut(kind) {
            Some(m) => *m += n,
            None => {
                self.records_by_kind.insert(kind.to_string(), n);
            }
        }
    }

    /// Counts one skipped record with its reason.
    pub fn skip(&mut self, reason: &str) {
        self.records += 1;
        match self.skipped.get_mut(reason) {
            Some(n) => *n += 1,
            None => {
                self.skipped.insert(reason.to_string(), 1);
            }
        }
    }

    /// Widens the time range (and notes a silence since the latest time).
    pub fn saw_time(&mut self, t: Option<Millis>) {
        if let (Some(t), Some(prev)) = (t, self.last_time) {
            if t - prev > crate::window::MIN_SILENCE {
                self.silences.push((prev, t));
                if self.silences.len() > 2 * MAX_SILENCES {
                    trim_silences(&mut self.silences);
                }
            }
        }
        self.first_time = min_opt(self.first_time, t);
        self.last_time = max_opt(self.last_time, t);
    }

    /// Folds another coverage of the same input (e.g. another chunk).
    pub fn merge(&mut self, o: &FileCoverage) {
        // The smallest non-empty value, so that merging is order-independent.
        if self.format.is_empty() || (!o.format.is_empty() && o.format < self.format) {
            self.format.clone_from(&o.format);
        }
        if self.log_line_prefix.is_none()
            || (o.log_line_prefix.is_some() && o.log_line_prefix < self.log_line_prefix)
        {
            self.log_line_prefix.clone_from(&o.log_line_prefix);
        }
        self.bytes += o.bytes;
        self.lines += o.lines;
        self.invalid_utf8_lines += o.invalid_utf8_lines;
        self.truncated_records += o.truncated_records;
        self.records += o.records;
        for (k, v) in &o.records_by_kind {
            *self.records_by_kind.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.skipped {
            *self.skipped.entry(k.clone()).or_default() += v;
        }
        self.statements.merge(&o.statements);
        self.first_time = min_opt(self.first_time, o.first_time);
        self.last_time = max_opt(self.last_time, o.last_time);
        self.errors.extend(o.errors.iter().cloned());
        self.errors.sort();
        self.errors.dedup();
        self.notes.extend(o.notes.iter().cloned());
        self.notes.sort();
        self.notes.dedup();
        self.scanned.extend(o.scanned.iter().cloned());
        self.scanned.sort();
        self.scanned.dedup();
        self.blind_spots.extend(o.blind_spots.iter().cloned());
        self.blind_spots.sort();
        self.blind_spots.dedup();
        self.logging.merge(&o.logging);
        self.silences.extend(o.silences.iter().copied());
        trim_silences(&mut self.silences);
    }
}

/// Per-target evidence that cannot be tied to a dependency row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetEvidence {
    /// Unparseable statements whose words include the column name.
    pub unparseable_mentions: u64,
    /// Statements the log cut short: their lost part could use any column.
    pub truncated_statements: u64,
}

/// The whole inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Target columns, in the order given.
    pub targets: Vec<ColumnTarget>,
    /// Dependency rows.
    pub deps: BTreeMap<DepKey, DepStats>,
    /// Schema-side dependencies (sorted, deduplicated).
    pub schema_deps: Vec<SchemaDependency>,
    /// Coverage per input.
    pub files: BTreeMap<String, FileCoverage>,
    /// Per-target evidence, indexed like `targets`.
    pub evidence: Vec<TargetEvidence>,
    /// Warnings about the run as a whole (catalog problems, targets not in
    /// the catalog, …).
    pub warnings: Vec<String>,
    /// Where each target comes from in `--migration` files, indexed like
    /// `targets` (empty for `--column` targets; may be shorter than
    /// `targets`).
    pub target_sites: Vec<Vec<MigrationSite>>,
    /// Destructive migration changes that could not be expanded into
    /// columns: they keep the run from being clear.
    pub unchecked: Vec<UncheckedChange>,
    /// The window the evidence must cover (statements outside it are not
    /// in `deps`).
    pub window: Window,
    /// Accepted dependencies from the contract file.
    pub accepted: Vec<AcceptRule>,
    /// The day expiry dates are checked against (UTC milliseconds); `None`
    /// treats every acceptance with an expiry date as expired.
    pub today: Option<Millis>,
    /// Whether `query` texts keep literal values; `None` for an inventory
    /// no scan or stored document has marked yet (shown as stripped).
    pub literals: Option<Literals>,
    /// The shared copies of the rows' texts and actors.
    pub strings: crate::intern::Interner,
}

/// A target's verdict with the reasons stated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetVerdict {
    /// The decision.
    pub verdict: Verdict,
    /// Every reason, joined with `; `.
    pub reason: String,
    /// What the inputs cannot show that matters for this target, one entry
    /// per gap (`file: what`). Any gap keeps the verdict from `clear`.
    pub coverage_gaps: Vec<String>,
    /// Every reason: what blocks, then what is in doubt, then what was
    /// accepted (never empty).
    pub reasons: Vec<String>,
}

impl Inventory {
    /// An empty inventory for these targets.
    pub fn new(targets: Vec<ColumnTarget>) -> Self {
        let n = targets.len();
        Self {
            targets,
            evidence: vec![TargetEvidence::default(); n],
            ..Self::default()
        }
    }

    /// Adds one observation to a dependency row (its texts and actor
    /// become the inventory's shared copies).
    pub fn add_dep(&mut self, mut key: DepKey, mut stats: DepStats) {
        match self.deps.get_mut(&key) {
            Some(existing) => {
                existing.merge(&stats);
                // Texts taken over from `stats` are shared too.
                self.strings.stats(existing);
            }
            None => {
                self.strings.key(&mut key);
                self.strings.stats(&mut stats);
                self.deps.insert(key, stats);
            }
        }
    }

    /// Folds `other` (same targets) into `self`. Commutative and associative.
    pub fn merge(&mut self, mut other: Inventory) {
        // The smaller side's rows are folded into the larger's (with the
        // texts it shares): taking a whole input's rows into an empty
        // inventory costs nothing.
        if other.deps.len() > self.deps.len() {
            std::mem::swap(&mut self.deps, &mut other.deps);
            std::mem::swap(&mut self.strings, &mut other.strings);
        }
        for (k, v) in other.deps {
            self.add_dep(k, v);
        }
        for (path, cov) in other.files {
            self.files.entry(path).or_default().merge(&cov);
        }
        for (mine, theirs) in self.evidence.iter_mut().zip(other.evidence.iter()) {
            mine.unparseable_mentions += theirs.unparseable_mentions;
            mine.truncated_statements += theirs.truncated_statements;
        }
        self.schema_deps.extend(other.schema_deps);
        self.schema_deps.sort();
        self.schema_deps.dedup();
        self.warnings.extend(other.warnings);
        self.warnings.sort();
        self.warnings.dedup();
        if self.target_sites.len() < other.target_sites.len() {
            self.target_sites
                .resize(other.target_sites.len(), Vec::new());
        }
        for (mine, theirs) in self.target_sites.iter_mut().zip(other.target_sites) {
            mine.extend(theirs);
            mine.sort();
            mine.dedup();
        }
        self.unchecked.extend(other.unchecked);
        self.unchecked.sort();
        self.unchecked.dedup();
        if self.window.is_unbounded() {
            self.window = other.window;
        }
        self.accepted.extend(other.accepted);
        self.accepted.sort();
        self.accepted.dedup();
        self.today = self.today.max(other.today);
        self.literals = Literals::combine(self.literals, other.literals);
    }

    /// Coverage summed over all inputs.
    pub fn total_coverage(&self) -> FileCoverage {
        let mut total = FileCoverage::default();
        for cov in self.files.values() {
            total.merge(cov);
        }
        total.format = String::new();
        total.scanned.clear();
        total.log_line_prefix = None;
        total
    }

    /// How a dependency row stands against the accepted dependencies of
    /// the contract file on [`Inventory::today`].
    pub fn acceptance(&self, key: &DepKey) -> Acceptance {
        let column = self
            .targets
            .get(key.target)
            .map(ToString::to_string)
            .unwrap_or_default();
        acceptance(
            &self.accepted,
            self.today.unwrap_or(Millis::MAX),
            &column,
            &key.actor,
            key.access,
        )
    }

    /// The verdict for target `idx`, with every reason stated: what blocks
    /// it, what keeps it from being clear, and what was accepted.
    pub fn verdict(&self, idx: usize) -> TargetVerdict {
        let mut blockers = Vec::new();
        let mut doubts = Vec::new();
        let mut info = Vec::new();
        let mut schema_blockers = Vec::new();
        let schema = self.schema_reasons(idx, &mut schema_blockers);
        self.dependency_reasons(idx, schema.possible, &mut blockers, &mut doubts, &mut info);
        blockers.extend(schema_blockers);
        self.evidence_reasons(idx, &mut doubts);
        self.window_reasons(&mut doubts);
        let (verdict, mut reasons) = if !blockers.is_empty() {
            blockers.extend(doubts);
            (Verdict::Blocked, blockers)
        } else if !doubts.is_empty() {
            (Verdict::Inconclusive, doubts)
        } else {
            let total = self.total_coverage();
            let within = if self.window.is_unbounded() {
                String::new()
            } else {
                format!(" ({})", self.window.describe())
            };
            let mut clear = vec![format!(
                "no reference in {} analysed statements{within}",
                total.statements.analysed
            )];
            if schema.dropped > 0 {
                clear.push(format!(
                    "{} schema object{} (index, constraint, grant, …) would be dropped with it",
                    schema.dropped,
                    plural(schema.dropped, "", "s")
                ));
            }
            (Verdict::Clear, clear)
        };
        reasons.extend(info);
        // Blind spots of the logging set-up (what the inputs cannot show)
        // keep a column from `clear`.
        let coverage_gaps = self.coverage_gaps(idx);
        let verdict = if verdict == Verdict::Clear && !coverage_gaps.is_empty() {
            if let Some(first) = reasons.first_mut() {
                *first = format!(
                    "{first}, but the inputs cannot show every use: {}",
                    coverage_gaps.join("; ")
                );
            }
            Verdict::Inconclusive
        } else {
            verdict
        };
        TargetVerdict {
            verdict,
            reason: reasons.join("; "),
            reasons,
            coverage_gaps,
        }
    }

    /// Gaps in what the inputs can show, for target `idx`: every input's
    /// blind spots (reads or writes its logging set-up does not log).
    pub fn coverage_gaps(&self, _idx: usize) -> Vec<String> {
        let mut gaps: Vec<String> = self
            .files
            .iter()
            .flat_map(|(file, cov)| cov.blind_spots.iter().map(move |b| format!("{file}: {b}")))
            .collect();
        gaps.sort();
        gaps.dedup();
        gaps
    }

    /// Reasons from the dependency rows: unaccepted certain/probable rows
    /// and expired acceptances block; possible rows (and `schema_possible`
    /// possible schema objects) are doubts; accepted rows are stated.
    fn dependency_reasons(
        &self,
        idx: usize,
        schema_possible: u64,
        blockers: &mut Vec<String>,
        doubts: &mut Vec<String>,
        info: &mut Vec<String>,
    ) {
        let (mut firm_rows, mut firm_calls, mut untimed) = (0u64, 0u64, 0u64);
        let mut firm_nested = 0u64;
        let mut possible = schema_possible;
        let mut accepted = 0u64;
        let mut expired: BTreeMap<(String, String), u64> = BTreeMap::new();
        for (k, s) in self.deps.iter().filter(|(k, _)| k.target == idx) {
            match self.acceptance(k) {
                Acceptance::Accepted(_) => {
                    accepted += 1;
                    continue;
                }
                Acceptance::Expired(rule) => {
                    *expired
                        .entry((
                            rule.expires.clone().unwrap_or_default(),
                            rule.reason.clone(),
                        ))
                        .or_default() += 1;
                }
                Acceptance::None => {}
            }
            if s.confidence >= Confidence::Probable {
                firm_rows += 1;
                firm_calls += s.calls.max(1);
                firm_nested += s.nested_calls.min(s.calls.max(1));
                if s.last_seen.is_none() {
                    untimed += 1;
                }
            } else {
                possible += 1;
            }
        }
        if firm_rows > 0 {
            // A call inside a function can be seen twice: at the caller
            // (through the function) and as the statement it ran (pgAudit
            // substatement, `toplevel = false` row), so those are named.
            let nested = if firm_nested > 0 {
                format!(", {firm_nested} of them run inside functions")
            } else {
                String::new()
            };
            let mut r = format!(
                "{firm_rows} dependenc{} ({firm_calls} call{}{nested}) in the logs",
                plural(firm_rows, "y", "ies"),
                plural(firm_calls, "", "s")
            );
            if untimed > 0 && !self.window.is_unbounded() {
                r.push_str(&format!(
                    " ({untimed} without a time: pg_stat_statements counts since its last reset, so they cannot be placed outside the window)"
                ));
            }
            blockers.push(r);
        }
        for ((date, reason), n) in expired {
            blockers.push(format!(
                "{n} dependenc{} accepted until {date} (\"{reason}\") but the acceptance has expired",
                plural(n, "y was", "ies were")
            ));
        }
        if possible > 0 {
            doubts.push(format!(
                "{possible} possible dependenc{} need a human look",
                plural(possible, "y", "ies")
            ));
        }
        if accepted > 0 {
            info.push(format!(
                "{accepted} accepted dependenc{} (not blocking)",
                plural(accepted, "y", "ies")
            ));
        }
    }

    /// Schema objects that use the column: those that fail or break when
    /// it is dropped (certain or probable) block; possible ones are counted
    /// for the doubts; objects dropped with it (indexes, constraints,
    /// grants, …) are listed but do not block.
    fn schema_reasons(&self, idx: usize, blockers: &mut Vec<String>) -> SchemaCounts {
        let column = self
            .targets
            .get(idx)
            .map(ToString::to_string)
            .unwrap_or_default();
        let mut counts = SchemaCounts::default();
        let mut firm = 0u64;
        for d in self.schema_deps.iter().filter(|d| d.column == column) {
            if d.on_drop == OnDrop::Dropped {
                counts.dropped += 1;
            } else if d.confidence >= Confidence::Probable {
                firm += 1;
            } else {
                counts.possible += 1;
            }
        }
        if firm > 0 {
            blockers.push(format!(
                "{firm} object{} in the schema use{} it",
                plural(firm, "", "s"),
                plural(firm, "s", "")
            ));
        }
        counts
    }

    /// What the statements could not show for this column.
    fn evidence_reasons(&self, idx: usize, doubts: &mut Vec<String>) {
        let mentions = self.evidence.get(idx).map_or(0, |e| e.unparseable_mentions);
        if mentions > 0 {
            doubts.push(format!(
                "{mentions} unparseable statement{} mention the column name",
                plural(mentions, "", "s")
            ));
        }
        let truncated = self.evidence.get(idx).map_or(0, |e| e.truncated_statements);
        if truncated > 0 {
            doubts.push(format!(
                "{truncated} statement{} cut short by the log ([Your log message was truncated]) could hide a reference",
                plural(truncated, "", "s")
            ));
        }
        if self.total_coverage().statements.analysed == 0 {
            doubts.push("no statement in the inputs could be analysed".into());
        }
    }

    /// Whether the inputs' times cover the window.
    fn window_reasons(&self, doubts: &mut Vec<String>) {
        match self.window.uncovered(self.files.values()) {
            None => {
                if !self.window.is_unbounded() {
                    doubts.push(format!(
                        "no input has timestamps, so nothing shows the window ({}) was observed (pg_stat_statements counts since its last reset and cannot show absence within a window)",
                        self.window.describe()
                    ));
                }
            }
            Some(gaps) => {
                for (a, b) in gaps {
                    doubts.push(format!(
                        "no input covers {} to {}",
                        format_rfc3339(a),
                        format_rfc3339(b)
                    ));
                }
            }
        }
    }
}

/// Schema objects of one target that do not block by themselves.
#[derive(Debug, Default, Clone, Copy)]
struct SchemaCounts {
    /// Possible uses (need a human look).
    possible: u64,
    /// Objects dropped with the column.
    dropped: u64,
}

fn plural<'a>(n: u64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(calls: u64, first: i64, file_line: u64, conf: Confidence) -> DepStats {
        DepStats {
            confidence: conf,
            reason: (conf != Confidence::Certain).then(|| "r".into()),
            calls,
            failed_calls: 0,
            nested_calls: 0,
            first_seen: Some(first),
            last_seen: Some(first),
            query: format!("q{file_line}").into(),
            sources: vec![SourceRef {
                file: "f".into(),
                line: file_line,
            }],
        }
    }

    #[test]
    fn merge_is_order_independent() {
        let mut a = stats(1, 10, 5, Confidence::Possible);
        let b = stats(2, 5, 9, Confidence::Certain);
        let c = stats(3, 20, 1, Confidence::Probable);
        let mut x = b.clone();
        x.merge(&c);
        x.merge(&a);
        a.merge(&c);
        a.merge(&b);
        assert_eq!(a, x);
        assert_eq!(a.calls, 6);
        assert_eq!(a.first_seen, Some(5));
        assert_eq!(a.last_seen, Some(20));
        assert_eq!(a.confidence, Confidence::Certain);
        assert_eq!(a.reason, None);
        assert_eq!(&*a.query, "q1");
    }
}
