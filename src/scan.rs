//! The scan pipeline: expands inputs, reads each one (in parallel across
//! inputs, and within a large input in chunks cut at record boundaries),
//! extracts statements, analyses each distinct statement shape once (cached
//! by its normalised text and search_path, shared by all threads), and folds
//! everything into an inventory.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::analyze::{Analysis, Analyzer};
use crate::catalog::Catalog;
use crate::chunk::{self, Chunk};
use crate::extract::{stats_row, Carried, Deferred, Extractor, Statement};
use crate::input::prefix::Prefix;
use crate::input::record::ChunkErrors;
use crate::input::{
    self, cloud::cloudwatch, cloud::heroku, cloud::records, csvlog, detect_format, fingerprint,
    jsonlog, pgss, stderr, syslog, InputFormat, InputSource,
};
use crate::inventory::{
    Confidence, DepKey, DepStats, FileCoverage, Inventory, Literals, SourceRef,
};

use crate::normalize::{normalize_bytes, stable_hash};
use crate::tally::Tally;
use crate::target::ColumnTarget;
use crate::time::Millis;
use crate::window::Window;

/// Everything a scan needs, validated.
pub struct ScanConfig {
    /// Target columns.
    pub targets: Vec<ColumnTarget>,
    /// The catalog (empty when no schema was given).
    pub catalog: Catalog,
    /// Inputs, as given (directories are expanded).
    pub inputs: Vec<InputSource>,
    /// A forced `log_line_prefix`.
    pub prefix: Option<Prefix>,
    /// A forced input format (`--input-format`); detected per input when `None`.
    pub input_format: Option<InputFormat>,
    /// Default search path.
    pub search_path: Vec<String>,
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// Show a progress bar on stderr (when it is a terminal).
    pub progress: bool,
    /// Size of the chunks a large input is cut into (0: the default; four
    /// times it is what Cloud SQL entries may hold in memory while they
    /// are put in time order). Changes only speed and memory, never the
    /// result (but for a Cloud SQL input whose first 500 messages weigh
    /// more than that: its prefix is then detected from fewer).
    pub chunk_bytes: usize,
    /// Logging settings stated with `--logging` (override inference).
    pub logging: crate::visibility::Declared,
    /// Keep literal values in the statement texts shown (`--keep-literals`).
    pub keep_literals: bool,
}

/// Expands directories (recursively, sorted) and glob patterns (`*`, `?`,
/// `[…]`, `**`; matches sorted, directories among them expanded) into
/// files; keeps files and stdin as they are. A path that exists is never
/// read as a pattern. Each input is kept once, at its first position. Missing
/// paths and patterns that match nothing are kept so that the scan reports
/// them.
pub fn expand_inputs(inputs: &[InputSource]) -> Vec<InputSource> {
    let mut out = Vec::new();
    let push_path = |p: &Path, out: &mut Vec<InputSource>| {
        if input::is_dir(p) {
            let mut files = Vec::new();
            walk_dir(p, &mut files);
            files.sort();
            out.extend(files.into_iter().map(InputSource::File));
        } else {
            out.push(InputSource::File(p.to_path_buf()));
        }
    };
    for i in inputs {
        match i {
            InputSource::File(p) if !p.exists() && input::looks_like_glob(&p.to_string_lossy()) => {
                let mut matches: Vec<PathBuf> = glob::glob(&p.to_string_lossy())
                    .map(|paths| paths.flatten().collect())
                    .unwrap_or_default();
                matches.sort();
                if matches.is_empty() {
                    out.push(i.clone());
                }
                for m in &matches {
                    push_path(m, &mut out);
                }
            }
            InputSource::File(p) => push_path(p, &mut out),
            other => out.push(other.clone()),
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|i| seen.insert(i.clone()));
    out
}

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        out.push(dir.to_path_buf());
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk_dir(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Where to start reading one input, for incremental scans (planned by
/// [`crate::state`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadPlan {
    /// Start at this byte of an uncompressed file (seeked to).
    pub offset: u64,
    /// Read at most this many bytes from `offset` (`None`: to the end).
    pub limit: Option<u64>,
    /// Bytes of decompressed content to read past first (compressed files,
    /// which cannot be seeked).
    pub skip: u64,
    /// Lines before `offset`: line numbers continue from here.
    pub lines_before: u64,
    /// The format found when the file was first read (a resumed read starts
    /// mid-file, where detection has less to go on).
    pub format: Option<InputFormat>,
    /// The `log_line_prefix` found when the file was first read.
    pub prefix: Option<String>,
    /// Coverage notes (rotation, truncation, what a resume point loses).
    pub notes: Vec<String>,
}

/// Runs the scan.
pub fn scan(cfg: &ScanConfig) -> Inventory {
    scan_planned(cfg, &expand_inputs(&cfg.inputs), &BTreeMap::new())
}

/// Runs the scan over `inputs` (already expanded) instead of `cfg.inputs`,
/// reading the inputs named in `plans` (by display name) only from where
/// their plan says.
pub fn scan_planned(
    cfg: &ScanConfig,
    inputs: &[InputSource],
    plans: &BTreeMap<String, ReadPlan>,
) -> Inventory {
    scan_with(cfg, inputs, plans, &Window::default())
}

/// Runs the scan keeping only the statements whose time is in `window`
/// (statements without a time are kept: they cannot be placed outside it).
pub fn scan_window(cfg: &ScanConfig, window: &Window) -> Inventory {
    scan_with(cfg, &expand_inputs(&cfg.inputs), &BTreeMap::new(), window)
}

/// Runs the scan with read plans (see [`scan_planned`]) and a window (see
/// [`scan_window`]).
pub fn scan_with(
    cfg: &ScanConfig,
    inputs: &[InputSource],
    plans: &BTreeMap<String, ReadPlan>,
    window: &Window,
) -> Inventory {
    let analyzer = Analyzer::new(&cfg.catalog, &cfg.targets, cfg.search_path.clone())
        .keeping_literals(cfg.keep_literals);
    let cache = AnalysisCache::default();
    let expected: Vec<u64> = inputs
        .iter()
        .map(|i| crate::progress::expected_bytes(i, plans.get(&i.display_name())))
        .collect();
    let bar =
        crate::progress::Progress::new(cfg.progress, expected.iter().sum(), inputs.len() as u64);
    // Each input's rows are merged into one inventory as soon as the input
    // is done (the rows exist once, not once per thread).
    let merged = Mutex::new(Inventory::new(cfg.targets.clone()));
    let run = || {
        inputs
            .par_iter()
            .zip(&expected)
            .for_each(|(source, expected)| {
                let plan = plans.get(&source.display_name());
                let shared = Shared {
                    analyzer: &analyzer,
                    cache: &cache,
                    window,
                };
                let name = source.display_name();
                let counter = bar.counter();
                let inv = crate::panics::catch(|| {
                    crate::panics::test_hook(&name, None);
                    scan_input(source, cfg, shared, plan, &counter)
                })
                .unwrap_or_else(|message| {
                    // What the input gave before the panic is dropped: it
                    // may be incomplete in ways nothing else records.
                    let mut inv = Inventory::new(cfg.targets.clone());
                    inv.files.insert(
                        name.clone(),
                        FileCoverage {
                            format: "unscanned".into(),
                            errors: vec![crate::panics::input_error(&name, None, &message)],
                            ..FileCoverage::default()
                        },
                    );
                    inv
                });
                bar.file_done(&counter, *expected);
                merged.lock().unwrap_or_else(|e| e.into_inner()).merge(inv);
            });
    };
    match rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .stack_size(64 * 1024 * 1024)
        .build()
    {
        Ok(pool) => pool.install(run),
        Err(_) => run(),
    }
    let mut inv = merged.into_inner().unwrap_or_else(|e| e.into_inner());
    bar.finish();
    for cov in inv.files.values_mut() {
        crate::visibility::assess(cov, &cfg.logging);
    }
    inv.targets.clone_from(&cfg.targets);
    inv.schema_deps =
        crate::schema_deps::schema_dependencies(&cfg.catalog, &cfg.targets, &cfg.search_path);
    inv.warnings
        .extend(catalog_warnings(&cfg.catalog, &cfg.targets));
    inv.warnings.extend(same_content_warnings(&inv.files));
    refresh_same_executions_warnings(&mut inv);
    inv.warnings.sort();
    inv.warnings.dedup();
    inv.literals = Some(literals_mark(cfg));
    inv
}

/// Inputs whose (decompressed) content is the same, byte for byte: a log
/// given twice (under two names, or beside its compressed copy) has its
/// records counted once for each.
fn same_content_warnings(files: &BTreeMap<String, FileCoverage>) -> Vec<String> {
    let mut by_content: BTreeMap<&[crate::inventory::ScannedRange], Vec<&str>> = BTreeMap::new();
    for (name, cov) in files {
        if cov.scanned.iter().any(|r| r.length > 0) {
            by_content.entry(&cov.scanned).or_default().push(name);
        }
    }
    by_content
        .into_iter()
        .filter(|(_, names)| names.len() > 1)
        .map(|(ranges, names)| {
            let bytes: u64 = ranges.iter().map(|r| r.length).sum();
            let sha = ranges
                .first()
                .map_or("", |r| r.sha256.get(..12).unwrap_or(&r.sha256));
            format!(
                "inputs {} have the same content ({bytes} bytes, sha256 {sha}…): their records are counted once for each; give each log once (a rotated log and its compressed copy are one log)",
                names.join(", ")
            )
        })
        .collect()
}

const TWO_DESTINATIONS: &str = "if they are one server's log written to two log_destinations, each statement is counted once in each, and calls add up";
const EXPORT_AND_LOGS: &str =
    "if they describe the same period, their calls add up (give one or the other)";

/// Replaces the warnings of [`same_executions_warnings`] in `inv` by those
/// of all its inputs (after a merge of inventories, or of a state's old
/// evidence and new).
pub fn refresh_same_executions_warnings(inv: &mut Inventory) {
    inv.warnings
        .retain(|w| !w.ends_with(TWO_DESTINATIONS) && !w.ends_with(EXPORT_AND_LOGS));
    inv.warnings.extend(same_executions_warnings(&inv.files));
    inv.warnings.sort();
    inv.warnings.dedup();
}

/// Inputs of two log formats whose statements cover the same times, and
/// pg_stat_statements exports beside logs: one server's log written to two
/// `log_destination`s (`stderr,csvlog,jsonlog`), or an export of the
/// period the logs cover, describe the same executions, which are then
/// counted once in each.
fn same_executions_warnings(files: &BTreeMap<String, FileCoverage>) -> Vec<String> {
    let mut logs: BTreeMap<&str, Vec<(&str, Millis, Millis)>> = BTreeMap::new();
    let mut exports = Vec::new();
    for (name, cov) in files {
        if cov.statements.texts == 0 {
            continue;
        }
        if cov.format.starts_with("pg_stat_statements") {
            exports.push(name.as_str());
        } else if !crate::visibility::is_log_format(&cov.format) {
            continue;
        } else if let (Some(first), Some(last)) = (cov.first_time, cov.last_time) {
            logs.entry(cov.format.as_str())
                .or_default()
                .push((name.as_str(), first, last));
        }
    }
    let mut out = Vec::new();
    let formats: Vec<_> = logs.iter().collect();
    for (i, (fa, a)) in formats.iter().enumerate() {
        for (fb, b) in formats.iter().skip(i + 1) {
            let pairs: Vec<(&str, &str)> = a
                .iter()
                .flat_map(|x| b.iter().map(move |y| (x, y)))
                .filter(|(x, y)| x.1 <= y.2 && y.1 <= x.2)
                .map(|(x, y)| (x.0, y.0))
                .collect();
            if let Some((x, y)) = pairs.first() {
                out.push(format!(
                    "{} {fa} and {fb} input {} the same times (as {x} and {y}): {TWO_DESTINATIONS}",
                    pairs.len(),
                    if pairs.len() == 1 {
                        "pair covers"
                    } else {
                        "pairs cover"
                    },
                ));
            }
        }
    }
    if !exports.is_empty() && !logs.is_empty() {
        out.push(format!(
            "pg_stat_statements export{} {} and statement logs are scanned together: {EXPORT_AND_LOGS}",
            if exports.len() == 1 { "" } else { "s" },
            exports.join(", ")
        ));
    }
    out
}

fn literals_mark(cfg: &ScanConfig) -> Literals {
    if cfg.keep_literals {
        Literals::Kept
    } else {
        Literals::Stripped
    }
}

/// Scans pg_stat_statements rows read from a live server (`name` is the
/// input's name in coverage).
pub fn scan_stats_rows(cfg: &ScanConfig, name: &str, rows: Vec<input::StatsRow>) -> Inventory {
    let analyzer = Analyzer::new(&cfg.catalog, &cfg.targets, cfg.search_path.clone())
        .keeping_literals(cfg.keep_literals);
    let mut cov = FileCoverage {
        format: "pg_stat_statements-live".into(),
        ..FileCoverage::default()
    };
    let cache = AnalysisCache::default();
    let shared = Shared {
        analyzer: &analyzer,
        cache: &cache,
        // Rows have no time: a window cannot exclude them.
        window: &crate::window::UNBOUNDED,
    };
    let mut fs = FileScan::new(name.to_string(), shared, &cfg.targets);
    for row in rows {
        cov.lines += 1;
        if let Some(s) = stats_row(row, &mut cov) {
            fs.statement(&s, &mut cov);
        }
    }
    cov.notes.push(
        "pg_stat_statements has no times: first_seen/last_seen come only from logs".to_string(),
    );
    let mut inv = fs.finish();
    inv.files.insert(name.to_string(), cov);
    inv.literals = Some(literals_mark(cfg));
    inv
}

fn catalog_warnings(catalog: &Catalog, targets: &[ColumnTarget]) -> Vec<String> {
    let mut w: Vec<String> = catalog.problems.clone();
    if !catalog.loaded {
        w.push("no schema given: `*`, positional writes and ambiguous names are resolved without column lists (see confidence)".into());
        return w;
    }
    for t in targets {
        match catalog.get(&t.schema, &t.table) {
            None => w.push(format!(
                "target {t}: table {}.{} is not in the schema",
                t.schema, t.table
            )),
            Some(r) if !r.columns.contains(&t.column) => {
                w.push(format!(
                    "target {t}: column {} is not in {}.{} in the schema",
                    t.column, t.schema, t.table
                ));
            }
            _ => {}
        }
    }
    w
}

/// Analyses shared by every thread and input of a scan, keyed by the
/// normalised statement text (so each shape is parsed once).
#[derive(Default)]
struct AnalysisCache {
    shards: [Mutex<HashMap<Vec<u8>, Arc<Analysis>>>; 16],
}

impl AnalysisCache {
    fn shard(&self, key: &[u8]) -> &Mutex<HashMap<Vec<u8>, Arc<Analysis>>> {
        // A fixed hasher: the shard of a key must not change between calls.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        let i = (h.finish() % self.shards.len() as u64) as usize;
        let [first, ..] = &self.shards;
        self.shards.get(i).unwrap_or(first)
    }

    fn get(&self, key: &[u8]) -> Option<Arc<Analysis>> {
        let shard = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        shard.get(key).cloned()
    }

    fn insert(&self, key: Vec<u8>, a: Arc<Analysis>) -> Arc<Analysis> {
        let mut shard = self.shard(&key).lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(shard.entry(key).or_insert(a))
    }
}

/// hashbrown's map with the Fx hash: looked up by a borrowed key
/// (`entry_ref`), which is copied only when it is inserted.
type FxBrown<K, V> = hashbrown::HashMap<K, V, std::hash::BuildHasherDefault<rustc_hash::FxHasher>>;

/// A thread's front of the shared analysis cache (looked up without a
/// lock), with the search_path of each user's statements.
#[derive(Default)]
struct Front {
    /// The analyses looked up so far, by key: their place in `arena`.
    analyses: FxBrown<Vec<u8>, u32>,
    /// The facts of the logged texts' shapes (see [`crate::extract::Shapes`]),
    /// kept from chunk to chunk.
    shapes: crate::extract::Shapes,
    /// Places in `arena` by path number and shape number (for statements
    /// whose shape `shapes` numbered): found without the text.
    by_numbers: FxBrown<u64, u32>,
    /// Path numbers given so far.
    paths: u32,
    /// The [`crate::extract::Shapes::generation`] of `shapes`, also while
    /// an extractor has them.
    shapes_generation: u64,
    /// The analyses looked up so far.
    arena: Vec<Placed>,
    /// For statements without a session path, when no role or database
    /// sets one: the path depends only on the user.
    user_paths: FxBrown<String, PathKey>,
    no_user_path: Option<PathKey>,
    /// The key being built (a reused buffer).
    key: Vec<u8>,
}

/// A search_path and the start of the cache keys of statements under it.
struct PathKey {
    path: Vec<String>,
    key: Vec<u8>,
    /// Its number in its front.
    number: u32,
}

impl PathKey {
    fn new(catalog: &Catalog, user: Option<&str>, default: &[String], number: u32) -> Self {
        let path =
            crate::analyze::session::effective_search_path(None, catalog, user, None, default);
        let key = format!("{}\u{0}", path.join("\u{1}")).into_bytes();
        Self { path, key, number }
    }
}

/// What the threads scanning inputs and chunks share.
#[derive(Clone, Copy)]
struct Shared<'a> {
    analyzer: &'a Analyzer<'a>,
    cache: &'a AnalysisCache,
    /// Statements outside it are only counted.
    window: &'a Window,
}

struct FileScan<'a> {
    name: String,
    shared: Shared<'a>,
    /// This thread's view of the shared cache.
    front: Front,
    /// Dependency evidence not yet made into rows.
    tally: Tally,
    inv: Inventory,
    /// The dependency evidence of statements whose actor is completed from
    /// the state before their chunk, tallied apart until then.
    waiting: Tally,
    /// Statements whose user or database comes from before their chunk:
    /// their search_path may depend on it, so they are analysed then.
    held: Vec<Statement>,
}

impl Front {
    /// The analysis of a statement under its effective search_path,
    /// borrowed from this thread's front cache: a statement of a known
    /// shape touches no reference count (the analyses are shared by every
    /// thread, and a count changed by two cores at once is slow).
    fn analysis(&mut self, shared: Shared<'_>, s: &Statement) -> &Placed {
        let analyzer = shared.analyzer;
        let catalog = analyzer.catalog();
        // The same text resolves differently under another search_path: the
        // key is the path, then the normalised text.
        let mut key = std::mem::take(&mut self.key);
        key.clear();
        let owned;
        // The path's and the shape's numbers, when both have one.
        let mut numbers = None;
        // A text that may change the role (`SET ROLE`): its statements after
        // that resolve `"$user"` for the new one, from the session's own
        // path and role (a text inside a transaction has them already).
        let may_set_role = s.shape.may_set_role.unwrap_or_else(|| {
            if s.shape.text.is_empty() {
                crate::analyze::session::may_set_role(&s.text)
            } else {
                crate::analyze::session::may_set_role_shape(&s.shape.text)
            }
        });
        let role_state = (s.in_transaction.is_none() && may_set_role).then(|| {
            crate::analyze::session::PathState {
                session: s.search_path.clone(),
                role: crate::analyze::session::Role {
                    authorization: None,
                    role: s.role.clone(),
                },
                ..crate::analyze::session::PathState::default()
            }
        });
        let path: &[String] = if s.search_path.is_none()
            && s.role.is_none()
            && catalog.role_search_paths.is_empty()
        {
            // Only the user can change the path (`$user`): one per user.
            let user = s.actor.user.as_deref();
            let next = self.paths;
            let m = match user {
                Some(u) => &*self
                    .user_paths
                    .entry_ref(u)
                    .or_insert_with(|| PathKey::new(catalog, user, analyzer.search_path(), next)),
                None => &*self.no_user_path.get_or_insert_with(|| {
                    PathKey::new(catalog, None, analyzer.search_path(), next)
                }),
            };
            if m.number == next {
                self.paths = next.saturating_add(1);
            }
            numbers = s
                .shape
                .id
                .filter(|(generation, _)| *generation == self.shapes_generation)
                .filter(|_| s.in_transaction.is_none() && role_state.is_none())
                .filter(|_| m.number != u32::MAX && !analyzer.keeps_literals())
                .map(|(_, shape)| u64::from(m.number) << 32 | u64::from(shape));
            if let Some(&place) = numbers.and_then(|n| self.by_numbers.get(&n)) {
                if !at_place(&self.arena, place).values_matter {
                    self.key = key;
                    return at_place(&self.arena, place);
                }
            }
            key.extend_from_slice(&m.key);
            &m.path
        } else {
            owned = crate::analyze::session::effective_search_path_as(
                s.search_path.as_deref(),
                catalog,
                s.actor.user.as_deref(),
                s.role.as_deref(),
                s.actor.database.as_deref(),
                analyzer.search_path(),
            );
            key.extend_from_slice(owned.join("\u{1}").as_bytes());
            key.push(0);
            &owned
        };
        // A text that may end part of its transaction resolves by the
        // transaction's state too.
        let state = s.in_transaction.as_deref().or(role_state.as_ref());
        if let Some(state) = state {
            key.push(0xfd);
            key.extend_from_slice(format!("{state:?}").as_bytes());
            key.push(0);
        }
        if role_state.is_some() {
            // The role set, and the user and database a `RESET` in it
            // stands for.
            key.extend_from_slice(s.text.as_bytes());
            push_session(&mut key, s);
            key.push(0);
        }
        // Texts shown with their values are analysed per text.
        if analyzer.keeps_literals() {
            key.extend_from_slice(s.text.as_bytes());
            if crate::analyze::session::mentions_search_path(&s.text) {
                push_session(&mut key, s);
            }
        } else {
            let at = key.len();
            if s.shape.text.is_empty() {
                normalize_bytes(&s.text, &mut key);
            } else {
                // The extractor normalised it.
                key.extend_from_slice(&s.shape.text);
            }
            // A shape whose analysis may depend on a few of its values
            // (marked when the shape is first seen) is looked up again
            // with them.
            let first = cached(
                &mut self.analyses,
                &mut self.arena,
                shared,
                &key,
                Some(at),
                s,
                (path, state),
            );
            if let Some(n) = numbers {
                self.by_numbers.insert(n, first);
            }
            if !at_place(&self.arena, first).values_matter {
                self.key = key;
                return at_place(&self.arena, first);
            }
            {
                crate::normalize::append_deciding_values(&s.text, &mut key);
                // A search_path set inside the text: its own values, and
                // the user and database `"$user"` and RESET stand for.
                if crate::analyze::session::mentions_search_path(&s.text) {
                    key.push(0xff);
                    key.extend_from_slice(s.text.as_bytes());
                    push_session(&mut key, s);
                }
            }
        }
        let a = cached(
            &mut self.analyses,
            &mut self.arena,
            shared,
            &key,
            None,
            s,
            (path, state),
        );
        self.key = key;
        at_place(&self.arena, a)
    }
}

/// Appends the statement's user and database to a cache key: a path set
/// inside its text resolves `"$user"` and `RESET` for them.
fn push_session(key: &mut Vec<u8>, s: &Statement) {
    for part in [&s.actor.user, &s.actor.database] {
        key.push(0);
        key.extend_from_slice(part.as_deref().unwrap_or("\u{1}").as_bytes());
    }
}

/// An analysis in a front cache, with what every statement of its shape
/// counts read off once (kept beside it, so that a statement of a known
/// shape without target references does not read the analysis itself).
struct Placed {
    analysis: Arc<Analysis>,
    values_matter: bool,
    /// Its statements, and how many of them were parsed.
    statements: u64,
    parsed: u64,
    /// Any of them references a target.
    refs: bool,
}

impl Placed {
    fn new(analysis: Arc<Analysis>) -> Self {
        let statements = &analysis.statements;
        Self {
            values_matter: analysis.values_matter,
            statements: statements.len() as u64,
            parsed: statements.iter().filter(|st| st.parsed).count() as u64,
            refs: statements.iter().any(|st| !st.refs.is_empty()),
            analysis,
        }
    }
}

/// The analysis at place `i` of a front cache's arena (a place [`cached`]
/// gave).
fn at_place(arena: &[Placed], i: u32) -> &Placed {
    arena
        .get(i as usize)
        .unwrap_or_else(|| unreachable!("an arena place from cached"))
}

/// The analysis under `key` in a thread's front cache, from the shared
/// cache, or made (of `text` under `path`, and the session's transaction
/// and role `state` when the text may move them). With `shape_from`, `key`
/// holds a normalised text from there on, and a new analysis is marked
/// with whether the shape's values can decide how it resolves.
fn cached(
    analyses: &mut FxBrown<Vec<u8>, u32>,
    arena: &mut Vec<Placed>,
    shared: Shared<'_>,
    key: &[u8],
    shape_from: Option<usize>,
    s: &Statement,
    (path, state): (&[String], Option<&crate::analyze::session::PathState>),
) -> u32 {
    *analyses.entry_ref(key).or_insert_with(|| {
        let a = match shared.cache.get(key) {
            Some(a) => a,
            None => {
                let mut analysis = shared.analyzer.analyze_in_transaction(
                    &s.text,
                    path,
                    s.actor.user.as_deref(),
                    s.role.as_deref(),
                    s.actor.database.as_deref(),
                    state,
                );
                // The parse tree marks routines and texts that set their
                // own path; the normalised text marks positions.
                analysis.values_matter = shape_from.is_some_and(|at| {
                    analysis.values_matter
                        || crate::normalize::values_may_decide(key.get(at..).unwrap_or_default())
                });
                shared.cache.insert(key.to_vec(), Arc::new(analysis))
            }
        };
        arena.push(Placed::new(a));
        u32::try_from(arena.len() - 1).unwrap_or(u32::MAX)
    })
}

impl<'a> FileScan<'a> {
    fn new(name: String, shared: Shared<'a>, targets: &[ColumnTarget]) -> Self {
        Self {
            name,
            shared,
            front: Front::default(),
            tally: Tally::default(),
            inv: Inventory::new(targets.to_vec()),
            waiting: Tally::default(),
            held: Vec::new(),
        }
    }

    /// Records pgAudit object evidence (a `TABLE COLUMN`, or a table whose
    /// statement text was not logged).
    fn audit_object(&mut self, s: &Statement, obj: &crate::audit::AuditObject) {
        let families = self.shared.analyzer.descendants();
        for (target, column_level, through) in obj.matches_through(&self.inv.targets, families) {
            let (via, confidence, reason) = if column_level {
                ("audit_column", Confidence::Certain, None)
            } else if s.text.is_empty() {
                (
                    "audit_object",
                    Confidence::Possible,
                    Some(format!(
                        "pgAudit logged {} {} on {} without the statement text (pgaudit.log_statement = off): which columns it used is unknown",
                        obj.class, obj.command, obj.name
                    )),
                )
            } else {
                continue;
            };
            let query = format!(
                "pgaudit {} {} {} {}",
                obj.class, obj.command, obj.object_type, obj.name
            );
            let via = crate::analyze::through(via, through.as_deref());
            let key = DepKey {
                target,
                access: obj.access,
                via: via.into(),
                actor: Arc::new(s.actor.clone()),
                fingerprint: format!("audit:{:016x}", stable_hash(&query)).into(),
            };
            self.inv.add_dep(
                key,
                DepStats {
                    confidence,
                    reason: reason.map(Arc::from),
                    calls: s.calls,
                    failed_calls: 0,
                    nested_calls: 0,
                    first_seen: s.time,
                    last_seen: s.time,
                    query: query.into(),
                    sources: vec![SourceRef {
                        file: self.name.as_str().into(),
                        line: s.line,
                    }],
                },
            );
        }
    }

    fn statement(&mut self, s: &Statement, cov: &mut FileCoverage) {
        if s.inherit.as_ref().is_some_and(|i| i.user || i.database) {
            self.held.push(s.clone());
            return;
        }
        // pgAudit object evidence without the statement text is no text.
        let object_only = s.text.is_empty() && s.audit_object.is_some();
        if !object_only {
            cov.statements.texts += 1;
        }
        if !self.shared.window.admits(s.time) {
            if !object_only {
                cov.statements.outside_window += 1;
            }
            return;
        }
        if let Some(obj) = &s.audit_object {
            self.audit_object(s, obj);
            if s.text.is_empty() {
                return;
            }
        }
        let Self {
            shared,
            front,
            tally,
            inv,
            waiting,
            ..
        } = self;
        let placed = front.analysis(*shared, s);
        if s.truncated {
            for e in &mut inv.evidence {
                e.truncated_statements += 1;
            }
        }
        match placed.statements {
            0 => cov.statements.without_statement += 1,
            n => cov.statements.extra_statements += n - 1,
        }
        cov.statements.seen += placed.statements;
        cov.statements.calls += s.calls * placed.statements;
        cov.statements.analysed += placed.parsed;
        if placed.parsed < placed.statements {
            for st in placed.analysis.statements.iter().filter(|st| !st.parsed) {
                cov.statements.unparseable += 1;
                let reason = st.problem.as_deref().unwrap_or("parse error");
                let reasons = &mut cov.statements.unparseable_reasons;
                match reasons.get_mut(reason) {
                    Some(n) => *n += 1,
                    None => {
                        reasons.insert(reason.to_string(), 1);
                    }
                }
            }
        }
        // The target references are counted (rows are made when the part
        // is done: see [`FileScan::finish`]); a statement whose actor is
        // completed later is counted apart.
        if placed.refs {
            match s.inherit {
                Some(_) => waiting.add(s, &placed.analysis),
                None => tally.add(s, &placed.analysis),
            }
        }
    }

    /// Makes the tallied dependency rows into rows of this part's
    /// inventory (the rows are the same whenever it is done: a tally whose
    /// part goes on is flushed now and then so that it stays small).
    fn flush(&mut self) {
        self.tally
            .flush(&mut self.inv, self.shared.analyzer, &self.name);
    }

    /// The inventory of this part, with the tallied dependency rows.
    fn finish(mut self) -> Inventory {
        self.flush();
        self.inv
    }
}

/// What scanning one chunk left to settle in file order.
struct ChunkOut {
    /// The chunk had state that is not carried across chunks.
    audit: bool,
    extractor: Extractor,
    deferred: Vec<Deferred>,
    waiting: Tally,
    held: Vec<Statement>,
    /// The record errors the chunk's reader listed, and how many it did not.
    record_errors: (Vec<String>, u64),
    /// The chunk's times, for the silences that depend on earlier chunks.
    times: ChunkTimes,
}

/// What a chunk's silences depend on: a silence is measured from the
/// latest time of all records before it, and a chunk alone knows only its
/// own. Settled in file order by [`ChunkTimes::settle`], the silences are
/// those of one sequential read.
#[derive(Default)]
struct ChunkTimes {
    /// The time of the chunk's first timed record.
    first: Option<Millis>,
    /// The latest time in the chunk.
    latest: Option<Millis>,
    /// Silences measured from the chunk's own records only.
    silences: Vec<(Millis, Millis)>,
}

impl ChunkTimes {
    /// Moves the chunk-local silences out of `cov` (they are settled later).
    fn take(first: Option<Millis>, cov: &mut FileCoverage) -> Self {
        ChunkTimes {
            first,
            latest: cov.last_time,
            silences: std::mem::take(&mut cov.silences),
        }
    }

    /// The chunk's silences given `before`, the latest time of all earlier
    /// chunks, into `cov`; returns the latest time including this chunk.
    /// A local silence starting before `before` really starts at `before`
    /// (and is no silence if it ends within the minimum of it); the first
    /// record is a silence after `before` when it is far enough after it.
    fn settle(self, before: Option<Millis>, cov: &mut FileCoverage) -> Option<Millis> {
        let Some(m) = before else {
            cov.silences.extend(self.silences);
            return self.latest;
        };
        let min = crate::window::MIN_SILENCE;
        if let Some(t) = self.first.filter(|t| t - m > min) {
            cov.silences.push((m, t));
        }
        for (a, b) in self.silences {
            if a >= m {
                cov.silences.push((a, b));
            } else if b - m > min {
                cov.silences.push((m, b));
            }
        }
        Some(self.latest.map_or(m, |l| l.max(m)))
    }
}

/// Settles chunks in file order: the backend state carried over each
/// boundary completes the actors and `STATEMENT` records left open.
struct Settler<'a> {
    next: usize,
    ready: BTreeMap<usize, ChunkOut>,
    carried: Carried,
    fs: FileScan<'a>,
    cov: FileCoverage,
    /// Some chunk had state that is not carried across chunks.
    audit_seen: bool,
    errors: ChunkErrors,
    /// The latest time of the chunks settled so far.
    latest: Option<Millis>,
}

impl Settler<'_> {
    fn push(&mut self, index: usize, out: ChunkOut) {
        self.ready.insert(index, out);
        while let Some(out) = self.ready.remove(&self.next) {
            self.next += 1;
            self.audit_seen |= out.audit;
            let (listed, more) = out.record_errors;
            self.errors.add(&mut self.cov, listed, more);
            self.latest = out.times.settle(self.latest, &mut self.cov);
            let carried = &self.carried;
            let mut waiting = out.waiting;
            waiting.settle_into(&mut self.fs.tally, |a, i| carried.fill_actor(a, i));
            for mut s in out.held {
                self.carried.fill(&mut s);
                self.fs.statement(&s, &mut self.cov);
            }
            let fs = &mut self.fs;
            for d in out.deferred {
                // `settle` filled the actor (and cleared `inherit`).
                self.carried
                    .settle(d, &mut self.cov, &mut |s, cov| fs.statement(s, cov));
            }
            self.carried.advance(out.extractor);
        }
    }
}

/// How many entries a tally that outlives its chunk (a worker thread's,
/// the settler's, a sequential read's) may hold before it is made into
/// rows: tallies grow with the distinct actors and shapes seen, and the
/// rows they become are kept once, in one inventory.
const TALLY_BOUND: usize = 4096;

/// How the chunks of a stderr log are scanned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkMode {
    /// In parallel, settled in file order.
    Parallel,
    /// One after the other by one extractor: exactly a sequential read,
    /// with reading (and decompression) still on its own thread.
    Sequential,
}

/// What scanning a stderr log in chunks gave.
struct ChunkedScan {
    inv: Inventory,
    cov: FileCoverage,
    /// The read error that ended the input early, with the lines read before.
    read_result: Result<(), (u64, std::io::Error)>,
    /// Parallel chunks met state that is not carried across chunks
    /// (pgAudit): the result is not exact, read the input sequentially.
    needs_sequential: bool,
}

impl ChunkedScan {
    /// Adds the scan to the input's inventory and coverage: its rows and
    /// counts, the read error that ended it early (lines numbered after
    /// `lines_before`), and the notes on what the log shows.
    fn add_to(
        self,
        inv: &mut Inventory,
        cov: &mut FileCoverage,
        name: &str,
        lines_before: u64,
        compression: Option<&str>,
    ) {
        inv.merge(self.inv);
        cov.merge(&self.cov);
        if let Err((line, e)) = self.read_result {
            let line = line + lines_before;
            cov.errors.push(format!(
                "{name}: read error after line {line}: {e}; the part before was scanned"
            ));
            damaged_note(cov, compression);
        }
        logging_notes(cov);
    }
}

/// A log format read in chunks cut at record boundaries.
#[derive(Clone, Copy)]
enum Chunked<'p> {
    Stderr(&'p Prefix),
    Csvlog,
    Jsonlog,
    /// Cut at any line: see [`Stitch`].
    Syslog(&'p Prefix),
    /// AWS RDS/Aurora lines behind CloudWatch stamps, under the server's
    /// prefix.
    CloudWatch(&'p Prefix),
    /// CloudNativePG or Azure records, one JSON object after another or
    /// one array (see [`records::chunkable`]); the Event Hub prefix of the
    /// input; whether it is one array.
    Records(InputFormat, Option<&'p Prefix>, bool),
    /// Heroku logplex lines, cut at any line: see [`Stitch`].
    Heroku(&'p heroku::Splitter),
    /// Cloud SQL entries, read from a [`Feed::Sorted`]: every part is a
    /// batch of their lines in time order.
    CloudSql,
}

/// What the reader thread of [`scan_chunked`] reads.
enum Feed<'a> {
    /// An input, cut into chunks at record boundaries.
    Bytes(Box<dyn std::io::BufRead + Send>),
    /// The payloads of a Cloud SQL input, read and held in time order
    /// ([`cloud_sql_sorted`]); they are sent in batches of about a quarter
    /// of a chunk, each starting where an entry starts ([`send_sorted`]),
    /// under the forced prefix if any.
    Sorted(input::cloud::cloudsql::Sorted, Option<&'a Prefix>),
}

/// What scanning in file order works on: a chunk of the input, or (syslog)
/// the messages the lines of a chunk completed.
enum Part {
    Chunk(Chunk),
    Messages(Box<Assembled>),
}

/// The syslog messages completed by the lines of chunk `index`, in the
/// order a sequential read completes them.
struct Assembled {
    index: usize,
    /// Lines before the chunk (from the start of the read).
    lines_before: u64,
    /// Lines of the chunk.
    lines: u64,
    messages: Completed,
    /// The coverage of the chunk's lines (lines, bytes, skipped lines).
    cov: FileCoverage,
}

impl Part {
    fn index(&self) -> usize {
        match self {
            Part::Chunk(c) => c.index,
            Part::Messages(a) => a.index,
        }
    }

    /// Lines before the part, and in it.
    fn lines(&self) -> (u64, u64) {
        match self {
            Part::Chunk(c) => (c.lines_before, c.lines),
            Part::Messages(a) => (a.lines_before, a.lines),
        }
    }
}

/// A chunk of a syslog file split into pieces, waiting for its turn.
struct Split {
    lines_before: u64,
    lines: u64,
    pieces: Pieces,
    cov: FileCoverage,
    last: bool,
}

/// The pieces of a chunk's lines, split from their framing.
enum Pieces {
    Syslog(Vec<syslog::Piece>),
    Heroku(Vec<heroku::Piece>),
}

impl Pieces {
    /// Syslog pieces (none when the split gave other ones: it panicked,
    /// and the chunk adds nothing, though the input may end with it).
    fn syslog(self) -> Vec<syslog::Piece> {
        match self {
            Pieces::Syslog(p) => p,
            Pieces::Heroku(_) => Vec::new(),
        }
    }

    /// Heroku pieces (none otherwise, as for [`Pieces::syslog`]).
    fn heroku(self) -> Vec<heroku::Piece> {
        match self {
            Pieces::Heroku(p) => p,
            Pieces::Syslog(_) => Vec::new(),
        }
    }
}

/// What the pieces of a chunk completed, in the order a sequential read
/// completes it (or a batch of Cloud SQL lines in time order).
enum Completed {
    Syslog(Vec<syslog::Message>),
    Entries(Vec<input::LogEntry>),
    CloudSql(input::cloud::cloudsql::LineBatch),
}

/// What puts the pieces of a format's processes together.
enum Assembly<'p> {
    Syslog(syslog::Assembler<'p>),
    Heroku(heroku::Assembler),
}

/// Puts messages sent in pieces (syslog's and Heroku's `[seq-chunk]`)
/// together across chunk boundaries: the chunks are split into pieces in
/// parallel (the costly part: the framing of every line), then one
/// assembler takes the pieces of all chunks in file order, exactly as a
/// sequential read does. A message whose pieces span chunks, a process
/// whose last message stays open for the rest of the file, the oldest open
/// message handed on when too many are open: all come out as in one read,
/// and the messages completed by chunk `i` are part `i`, settled in file
/// order like the chunks of other formats.
struct Stitch<'p> {
    /// The chunk whose pieces go next.
    next: usize,
    /// Chunks split before an earlier one.
    ready: BTreeMap<usize, Split>,
    assembly: Assembly<'p>,
}

impl<'p> Stitch<'p> {
    /// The stitch of a format read in pieces (none for the others).
    fn of(format: Chunked<'p>) -> Option<Self> {
        let assembly = match format {
            Chunked::Syslog(prefix) => Assembly::Syslog(syslog::Assembler::new(prefix)),
            Chunked::Heroku(_) => Assembly::Heroku(heroku::Assembler::default()),
            _ => return None,
        };
        Some(Self {
            next: 0,
            ready: BTreeMap::new(),
            assembly,
        })
    }

    /// Splits chunk `c` into pieces, then assembles the pieces of every
    /// chunk whose turn has come: returns their parts (none when an
    /// earlier chunk is still being split; that chunk's thread assembles
    /// this one's too).
    fn parts(
        stitch: &Mutex<Self>,
        format: Chunked<'_>,
        c: Chunk,
        name: &str,
        lines_before: u64,
    ) -> Vec<Part> {
        let mut cov = FileCoverage::default();
        let lines = c.lines;
        let first_line = lines_before + c.lines_before;
        let split = crate::panics::catch(|| match format {
            Chunked::Heroku(splitter) => {
                Pieces::Heroku(splitter.chunk(&c.data, first_line, &mut cov))
            }
            Chunked::Syslog(prefix) => {
                Pieces::Syslog(syslog::Pieces::new(prefix).chunk(&c.data, first_line, &mut cov))
            }
            _ => Pieces::Syslog(Vec::new()),
        });
        let pieces = split.unwrap_or_else(|message| {
            let part = format!("lines {} to {}", first_line + 1, first_line + lines.max(1));
            cov.errors
                .push(crate::panics::input_error(name, Some(&part), &message));
            Pieces::Syslog(Vec::new())
        });
        let index = c.index;
        let split = Split {
            lines_before: c.lines_before,
            lines,
            pieces,
            cov,
            last: c.last,
        };
        drop(c);
        let mut guard = stitch.lock().unwrap_or_else(|e| e.into_inner());
        let st = &mut *guard;
        st.ready.insert(index, split);
        let mut out = Vec::new();
        while let Some(split) = st.ready.remove(&st.next) {
            let mut cov = split.cov;
            let assembly = &mut st.assembly;
            let last = split.last;
            let pieces = split.pieces;
            let messages = crate::panics::catch(|| match assembly {
                Assembly::Syslog(a) => Completed::Syslog(a.chunk(pieces.syslog(), last, &mut cov)),
                Assembly::Heroku(a) => Completed::Entries(a.chunk(pieces.heroku(), last, &mut cov)),
            })
            .unwrap_or_else(|message| {
                let from = lines_before + split.lines_before;
                let part = format!("lines {} to {}", from + 1, from + split.lines.max(1));
                cov.errors
                    .push(crate::panics::input_error(name, Some(&part), &message));
                Completed::Syslog(Vec::new())
            });
            out.push(Part::Messages(Box::new(Assembled {
                index: st.next,
                lines_before: split.lines_before,
                lines: split.lines,
                messages,
                cov,
            })));
            st.next += 1;
        }
        out
    }

    /// The prefixes Heroku's first chunks were split with.
    fn prefixes_used(&self) -> Option<String> {
        match &self.assembly {
            Assembly::Heroku(a) => a.prefixes_used(),
            Assembly::Syslog(_) => None,
        }
    }
}

impl Chunked<'_> {
    /// Where a record may start (see [`chunk::RecordStart`]).
    fn start(self, buf: &[u8], from: usize) -> Option<usize> {
        match self {
            Chunked::Stderr(prefix) => stderr::next_record_start(prefix, buf, from),
            Chunked::Csvlog => csvlog::next_record_start(buf, from),
            Chunked::Jsonlog => jsonlog::next_record_start(buf, from),
            Chunked::Syslog(_) => syslog::next_record_start(buf, from),
            Chunked::Heroku(_) => heroku::next_record_start(buf, from),
            Chunked::CloudWatch(prefix) => cloudwatch::next_record_start(prefix, buf, from),
            Chunked::Records(..) | Chunked::CloudSql => records::next_record_start(buf, from),
        }
    }

    /// Reads the entries of one chunk; line numbers continue from
    /// `lines_before`. Returns false when the chunk ended inside a record:
    /// the next chunk does not start where a sequential read would.
    fn read(
        self,
        part: &mut Part,
        name: &str,
        lines_before: u64,
        cov: &mut FileCoverage,
        sink: &mut dyn FnMut(&input::LogEntry, &mut FileCoverage),
    ) -> bool {
        let mut owned = |e: input::LogEntry, cov: &mut FileCoverage| sink(&e, cov);
        let c = match part {
            Part::Chunk(c) => c,
            Part::Messages(a) => {
                cov.merge(&std::mem::take(&mut a.cov));
                match (&mut a.messages, self) {
                    (Completed::Syslog(messages), Chunked::Syslog(prefix)) => {
                        let mut splitter = syslog::Splitter::new(prefix);
                        for m in messages.drain(..) {
                            splitter.entries(m, cov, &mut owned);
                        }
                    }
                    (Completed::CloudSql(batch), _) => batch.entries(cov, &mut owned),
                    (Completed::Entries(entries), _) => {
                        for e in entries.drain(..) {
                            owned(e, cov);
                        }
                    }
                    _ => {}
                }
                return true;
            }
        };
        // Reading a byte slice cannot fail.
        match self {
            Chunked::Stderr(prefix) => {
                stderr::read_chunk(&c.data, prefix, lines_before, cov, sink);
            }
            Chunked::Csvlog => {
                csvlog::read_chunk(&c.data, name, lines_before, c.last, cov, &mut owned);
            }
            Chunked::Jsonlog => {
                let _ = jsonlog::read_entries(&c.data[..], name, lines_before, cov, &mut owned);
            }
            Chunked::Syslog(prefix) => {
                // Not reached: a syslog chunk is read as its part (see
                // `Stitch`); alone, it is one whole input.
                let _ = syslog::read_entries(&c.data[..], prefix, lines_before, cov, &mut owned);
            }
            Chunked::CloudWatch(prefix) => {
                let _ = cloudwatch::read_lines(&c.data[..], prefix, lines_before, cov, &mut owned);
            }
            Chunked::Records(format, hub_prefix, array) => {
                return records::read_chunk(
                    format,
                    &c.data,
                    lines_before,
                    hub_prefix,
                    array && c.index > 0,
                    cov,
                    &mut owned,
                );
            }
            Chunked::Heroku(_) => {
                // Not reached: a Heroku chunk is read as its part (see
                // `Stitch`); alone, it is one whole input.
                let _ = heroku::read_entries(&c.data[..], cov, &mut owned);
            }
            // Not reached: Cloud SQL parts are batches of entries.
            Chunked::CloudSql => {}
        }
        true
    }

    /// Its reader lists record errors (only the first few per reader).
    fn lists_record_errors(self) -> bool {
        matches!(self, Chunked::Csvlog | Chunked::Jsonlog)
    }
}

/// Scans a log in chunks cut at record boundaries: a reader thread reads
/// (and decompresses) while the pool scans chunks. Line numbers continue
/// from `lines_before`.
fn scan_chunked(
    feed: Feed<'_>,
    format: Chunked<'_>,
    name: &str,
    lines_before: u64,
    mode: ChunkMode,
    cfg: &ScanConfig,
    shared: Shared<'_>,
) -> ChunkedScan {
    let target = chunk_target(cfg);
    let threads = rayon::current_num_threads();
    let settler = Mutex::new(Settler {
        next: 0,
        ready: BTreeMap::new(),
        carried: Carried::default(),
        fs: FileScan::new(name.to_string(), shared, &cfg.targets),
        cov: FileCoverage::default(),
        audit_seen: false,
        errors: ChunkErrors::default(),
        latest: None,
    });
    // At most this many chunks of the input exist at once (read, being
    // scanned, or done and waiting for an earlier one to be settled).
    // Each worker thread tallies the dependency evidence of all its chunks
    // (rows are made once, at the end, instead of per chunk and merged).
    let tallies: Vec<Mutex<Tally>> = (0..threads).map(|_| Mutex::default()).collect();
    let tallies = &tallies;
    let gate = chunk::InFlight::new(2 * threads + 2);
    let gate = &gate;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Part>(threads + 1);
    let start = |buf: &[u8], from: usize| format.start(buf, from);
    // Messages sent in pieces are put together across chunks in file order.
    let stitch = Stitch::of(format).map(Mutex::new);
    let parts_of = |part: Part| match (&stitch, part) {
        (Some(stitch), Part::Chunk(c)) => Stitch::parts(stitch, format, c, name, lines_before),
        (_, part) => vec![part],
    };
    let scan_chunk = |part: &mut Part,
                      x: &mut Extractor,
                      fs: &mut FileScan<'_>,
                      cov: &mut FileCoverage,
                      first: &mut Option<Millis>| {
        let (before, lines) = part.lines();
        let lines_before = lines_before + before;
        let index = part.index();
        let assembled = matches!(part, Part::Messages(_));
        let last = matches!(part, Part::Chunk(c) if c.last);
        let scanned = crate::panics::catch(|| {
            crate::panics::test_hook(name, Some(&format!("chunk{index}")));
            let whole = format.read(part, name, lines_before, cov, &mut |e, cov| {
                if first.is_none() {
                    *first = e.time;
                }
                x.entry(e, cov, &mut |s, cov| fs.statement(s, cov));
            });
            if !whole && !last {
                // The input must be read in order (unless this is its last
                // chunk: then a sequential read ends the same way).
                x.require_sequential();
            }
        });
        // Also after a panic: the records before it were read.
        x.flush_counts(cov);
        let record_errors = if format.lists_record_errors() {
            ChunkErrors::take(name, &mut cov.errors)
        } else {
            (Vec::new(), 0)
        };
        if let Err(message) = scanned {
            // What is lost of syslog or Heroku is the messages the lines
            // completed (they may have started before them).
            let what = match format {
                Chunked::CloudSql => "the Cloud SQL entries (in time order) of ",
                Chunked::Heroku(_) if assembled => "the Heroku messages completed by ",
                _ if assembled => "the syslog messages completed by ",
                _ => "",
            };
            let part = format!(
                "{what}lines {} to {}",
                lines_before + 1,
                lines_before + lines.max(1)
            );
            cov.errors
                .push(crate::panics::input_error(name, Some(&part), &message));
        }
        record_errors
    };
    let (read_result, parts, chunks) = std::thread::scope(|scope| {
        let reader_thread = scope.spawn(move || {
            let mut send = |part: Part| gate.admit(part.index()) && tx.send(part).is_ok();
            match feed {
                Feed::Bytes(reader) => {
                    // JSON values are not read by lines: what came before
                    // a read error is read, as in one read.
                    let keep_partial = matches!(format, Chunked::Records(..));
                    let res = chunk::cut_with(reader, target, &start, keep_partial, |c| {
                        send(Part::Chunk(c))
                    });
                    (res, FileCoverage::default())
                }
                Feed::Sorted(sorted, forced) => {
                    // A panic here loses the entries not yet sent: said
                    // as for a lost chunk (a blind spot), not as a read
                    // error.
                    let cov = crate::panics::catch(|| {
                        send_sorted(sorted, forced, name, lines_before, target / 4, &mut send)
                    })
                    .unwrap_or_else(|message| {
                        let part = "the Cloud SQL entries put in time order";
                        let mut cov = FileCoverage::default();
                        cov.errors
                            .push(crate::panics::input_error(name, Some(part), &message));
                        cov
                    });
                    (Ok(()), cov)
                }
            }
        });
        let mut chunks = 0usize;
        let closer = gate.closer();
        let parts = match mode {
            ChunkMode::Sequential => {
                let mut cov = FileCoverage::default();
                let mut fs = FileScan::new(name.to_string(), shared, &cfg.targets);
                let mut x = Extractor::default();
                fs.front.shapes_generation = x.shapes.generation();
                let mut errors = ChunkErrors::default();
                let mut listed = FileCoverage::default();
                for mut part in rx.into_iter().flat_map(parts_of) {
                    chunks += 1;
                    let (l, more) = scan_chunk(&mut part, &mut x, &mut fs, &mut cov, &mut None);
                    errors.add(&mut listed, l, more);
                    if fs.tally.len() > TALLY_BOUND {
                        fs.flush();
                    }
                    gate.settled(chunks);
                }
                errors.finish(name, &mut listed);
                cov.errors.append(&mut listed.errors);
                let mut inv = fs.finish();
                inv.files.insert(name.to_string(), cov);
                inv
            }
            ChunkMode::Parallel => {
                // Each chunk's rows are merged into one inventory as soon
                // as the chunk is done, so that the rows exist once (not
                // once per thread) however many threads scan.
                let merged = Mutex::new(Inventory::new(cfg.targets.clone()));
                // Chunk inventories waiting for `merged`: a thread that finds
                // it taken leaves its part here and goes on scanning.
                let backlog: Mutex<Vec<Inventory>> = Mutex::default();
                let scan_part = |front: &mut Front, mut part: Part| {
                    let mut part_cov = FileCoverage::default();
                    let mut fs = FileScan::new(name.to_string(), shared, &cfg.targets);
                    // The front cache and the tally outlive the chunk.
                    fs.front = std::mem::take(front);
                    let slot = rayon::current_thread_index()
                        .and_then(|i| tallies.get(i))
                        .or(tallies.first());
                    let mut tally = slot.map(|t| t.lock().unwrap_or_else(|e| e.into_inner()));
                    if let Some(t) = tally.as_deref_mut() {
                        fs.tally = std::mem::take(t);
                    }
                    let index = part.index();
                    let mut x = if index == 0 {
                        Extractor::default()
                    } else {
                        Extractor::for_chunk()
                    };
                    // So do the facts of the shapes seen.
                    fs.front.shapes_generation = fs.front.shapes.generation();
                    x.shapes = std::mem::take(&mut fs.front.shapes);
                    let mut first = None;
                    let record_errors =
                        scan_chunk(&mut part, &mut x, &mut fs, &mut part_cov, &mut first);
                    fs.front.shapes = std::mem::take(&mut x.shapes);
                    let out = ChunkOut {
                        times: ChunkTimes::take(first, &mut part_cov),
                        deferred: x.take_deferred(),
                        audit: x.needs_sequential(),
                        extractor: x,
                        waiting: std::mem::take(&mut fs.waiting),
                        held: std::mem::take(&mut fs.held),
                        record_errors,
                    };
                    *front = std::mem::take(&mut fs.front);
                    // A tally grown past the bound is made into rows
                    // now (it grows with the distinct actors seen).
                    let mut full = Vec::new();
                    if fs.tally.len() > TALLY_BOUND {
                        full.push(std::mem::take(&mut fs.tally));
                    }
                    if let Some(t) = tally.as_deref_mut() {
                        *t = std::mem::take(&mut fs.tally);
                    }
                    drop(tally);
                    crate::panics::test_hook(name, Some(&format!("settle{index}")));
                    drop(part);
                    let settled = {
                        let mut settler = settler.lock().unwrap_or_else(|e| e.into_inner());
                        settler.push(index, out);
                        if settler.fs.tally.len() > TALLY_BOUND {
                            full.push(std::mem::take(&mut settler.fs.tally));
                        }
                        settler.next
                    };
                    gate.settled(settled);
                    let mut inv = fs.finish();
                    inv.files.insert(name.to_string(), part_cov);
                    for mut t in full {
                        t.flush(&mut inv, shared.analyzer, name);
                    }
                    // Merging is commutative and associative: parts
                    // merged later, or in another order, give the same
                    // inventory.
                    let mut merged = match merged.try_lock() {
                        Ok(m) => m,
                        Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
                        Err(std::sync::TryLockError::WouldBlock) => {
                            backlog.lock().unwrap_or_else(|e| e.into_inner()).push(inv);
                            return;
                        }
                    };
                    merged.merge(inv);
                    let waiting =
                        std::mem::take(&mut *backlog.lock().unwrap_or_else(|e| e.into_inner()));
                    for part in waiting {
                        merged.merge(part);
                    }
                };
                rx.into_iter()
                    .par_bridge()
                    .for_each_init(Front::default, |front, c| {
                        // A panic here must not leave the reader waiting for
                        // this chunk to be settled.
                        let _closer = gate.close_on_panic();
                        for part in parts_of(c) {
                            scan_part(front, part);
                        }
                    });
                let mut merged = merged.into_inner().unwrap_or_else(|e| e.into_inner());
                for part in backlog.into_inner().unwrap_or_else(|e| e.into_inner()) {
                    merged.merge(part);
                }
                merged
            }
        };
        drop(closer);
        let (read_result, read_cov) = reader_thread.join().unwrap_or_else(|_| {
            let e = std::io::Error::other("reader thread panicked");
            (Err((0, e)), FileCoverage::default())
        });
        (read_result, (parts, read_cov), chunks)
    });
    let mut settler = settler.into_inner().unwrap_or_else(|e| e.into_inner());
    std::mem::take(&mut settler.errors).finish(name, &mut settler.cov);
    let (mut inv, read_cov) = parts;
    for t in tallies {
        let mut t = t.lock().unwrap_or_else(|e| e.into_inner());
        t.flush(&mut inv, shared.analyzer, name);
    }
    inv.merge(settler.fs.finish());
    let mut cov = inv.files.remove(name).unwrap_or_default();
    cov.merge(&settler.cov);
    cov.merge(&read_cov);
    let chunks = chunks.max(settler.next);
    if let Some(p) = stitch
        .map(|s| s.into_inner().unwrap_or_else(|e| e.into_inner()))
        .and_then(|s| s.prefixes_used())
    {
        cov.log_line_prefix = Some(p);
    }
    ChunkedScan {
        inv,
        cov,
        read_result,
        needs_sequential: settler.audit_seen && chunks > 1,
    }
}

/// An input to scan in chunks, opened, with its first bytes.
struct Chunks<'a, 'p> {
    source: &'a InputSource,
    plan: Option<&'a ReadPlan>,
    opened: input::Opened,
    head: &'a [u8],
    format: Chunked<'p>,
}

/// Scans an input in chunks ([`scan_in_chunks`]) into its inventory and
/// coverage.
fn scan_in_chunks_into(
    fs: &mut FileScan<'_>,
    cov: &mut FileCoverage,
    c: Chunks<'_, '_>,
    cfg: &ScanConfig,
    shared: Shared<'_>,
) {
    let name = c.source.display_name();
    let lines_before = c.plan.map_or(0, |p| p.lines_before);
    let run = scan_in_chunks(
        c.source,
        c.plan,
        c.opened.reader,
        c.head,
        c.format,
        cfg,
        shared,
    );
    run.add_to(&mut fs.inv, cov, &name, lines_before, c.opened.compression);
}

/// Scans a log in chunks: in parallel, unless state that is not carried
/// across chunks (pgAudit pairing, a session's own search_path) shows in
/// `head` or the input is stdin (which cannot be read twice); a file where
/// such state appears only later is read again, in order.
#[allow(clippy::too_many_arguments)]
fn scan_in_chunks(
    source: &InputSource,
    plan: Option<&ReadPlan>,
    reader: Box<dyn std::io::BufRead + Send>,
    head: &[u8],
    format: Chunked<'_>,
    cfg: &ScanConfig,
    shared: Shared<'_>,
) -> ChunkedScan {
    let name = source.display_name();
    let lines_before = plan.map_or(0, |p| p.lines_before);
    let mode = if read_in_order(source, head) {
        ChunkMode::Sequential
    } else {
        ChunkMode::Parallel
    };
    let run = scan_chunked(
        Feed::Bytes(reader),
        format,
        &name,
        lines_before,
        mode,
        cfg,
        shared,
    );
    if !run.needs_sequential {
        return run;
    }
    match reopen(source, plan) {
        Ok(reader) => scan_chunked(
            Feed::Bytes(reader),
            format,
            &name,
            lines_before,
            ChunkMode::Sequential,
            cfg,
            shared,
        ),
        Err(e) => {
            let mut run = run;
            run.cov.errors.push(format!("{name}: pgAudit lines or a session search_path change appeared after the start of the file, and reopening it to read it again in order failed ({e}): records near chunk boundaries may be misread"));
            run
        }
    }
}

/// State that is not carried across chunks (pgAudit pairing, a session's
/// own search_path) shows in `head`, or the input cannot be read twice
/// (stdin, a pipe): read it in order.
fn read_in_order(source: &InputSource, head: &[u8]) -> bool {
    memchr::memmem::find(head, b"AUDIT: ").is_some()
        || head
            .windows(11)
            .any(|w| w.eq_ignore_ascii_case(b"search_path"))
        || !rereadable(source)
}

/// Whether the input can be opened again and read from its start: a
/// regular file (not stdin, nor a pipe such as `<(zcat …)`, which a second
/// open would take data from or wait on).
fn rereadable(source: &InputSource) -> bool {
    match source {
        InputSource::File(path) => std::fs::metadata(path).is_ok_and(|m| m.is_file()),
        InputSource::Stdin => false,
    }
}

/// Opens an input again from where its plan starts (for a second,
/// sequential read); refuses one that is not a regular file.
fn reopen(
    source: &InputSource,
    plan: Option<&ReadPlan>,
) -> Result<Box<dyn std::io::BufRead + Send>, String> {
    if !rereadable(source) {
        return Err("it is not a regular file, and cannot be read twice".into());
    }
    let mut opened = match plan {
        Some(p) if p.offset > 0 || p.limit.is_some() => open_planned(source, p, None),
        _ => input::open(source),
    }
    .map_err(|e| e.to_string())?;
    if let Some(p) = plan.filter(|p| p.skip > 0) {
        std::io::copy(
            &mut std::io::Read::take(&mut opened.reader, p.skip),
            &mut std::io::sink(),
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(opened.reader)
}

/// Opens an uncompressed file at `plan.offset`, reading at most `plan.limit`
/// bytes.
fn open_planned(
    source: &InputSource,
    plan: &ReadPlan,
    counter: Option<&crate::progress::Counter>,
) -> Result<input::Opened, input::InputError> {
    use std::io::{Read, Seek, SeekFrom};
    let InputSource::File(path) = source else {
        return input::open(source);
    };
    let err = |e| input::InputError::Open {
        path: path.display().to_string(),
        source: e,
    };
    let mut f = std::fs::File::open(path).map_err(err)?;
    f.seek(SeekFrom::Start(plan.offset)).map_err(err)?;
    let limited = f.take(plan.limit.unwrap_or(u64::MAX));
    let raw: Box<dyn Read + Send> = match counter {
        Some(c) => Box::new(c.wrap(limited)),
        None => Box::new(limited),
    };
    Ok(input::Opened {
        reader: Box::new(std::io::BufReader::with_capacity(256 * 1024, raw)),
        compression: None,
    })
}

fn scan_input(
    source: &InputSource,
    cfg: &ScanConfig,
    shared: Shared<'_>,
    plan: Option<&ReadPlan>,
    counter: &crate::progress::Counter,
) -> Inventory {
    let name = source.display_name();
    let mut cov = FileCoverage::default();
    let offset = plan.map_or(0, |p| p.offset + p.skip);
    let lines_before = plan.map_or(0, |p| p.lines_before);
    let mut fingerprint = None;
    let mut fs = FileScan::new(name.clone(), shared, &cfg.targets);
    let opened = match plan {
        Some(p) if p.offset > 0 || p.limit.is_some() => open_planned(source, p, Some(counter)),
        _ => input::open_counted(source, Some(counter)),
    };
    match opened {
        Err(e) => {
            cov.format = "unreadable".into();
            cov.errors.push(e.to_string());
        }
        Ok(mut opened) => {
            if let Some(p) = plan.filter(|p| p.skip > 0) {
                let skipped = std::io::copy(
                    &mut std::io::Read::take(&mut opened.reader, p.skip),
                    &mut std::io::sink(),
                );
                if let Err(e) = skipped {
                    cov.errors.push(format!(
                        "{name}: read error while skipping the {} bytes read before: {e}",
                        p.skip
                    ));
                }
            }
            let (hashing, fp) = fingerprint::Hashing::new(opened.reader);
            opened.reader = Box::new(hashing);
            fingerprint = Some(fp);
            let head = match std::io::BufRead::fill_buf(&mut opened.reader) {
                Ok(h) => h.to_vec(),
                Err(e) => {
                    cov.errors
                        .push(format!("{name}: read error at byte 0: {e}"));
                    Vec::new()
                }
            };
            let planned_format = plan.and_then(|p| p.format);
            let format =
                cfg.input_format
                    .or(planned_format)
                    .or_else(|| match detect_format(&head) {
                        None if cfg.prefix.is_some() => Some(InputFormat::Stderr),
                        detected => detected,
                    });
            let compressed = opened
                .compression
                .map(|c| format!("+{c}"))
                .unwrap_or_default();
            match format {
                Some(InputFormat::Stderr) => {
                    let planned = plan
                        .and_then(|p| p.prefix.as_deref())
                        .and_then(|p| Prefix::compile(p).ok());
                    let prefix = cfg.prefix.clone().or(planned).or_else(|| {
                        let text = String::from_utf8_lossy(&head);
                        let sample: Vec<&str> = text.lines().take(500).collect();
                        stderr::detect_prefix(&sample)
                    });
                    if let Some(prefix) = prefix {
                        cov.format = format!("stderr{compressed}");
                        cov.log_line_prefix = Some(prefix.source.clone());
                        scan_in_chunks_into(
                            &mut fs,
                            &mut cov,
                            Chunks {
                                source,
                                plan,
                                opened,
                                head: &head,
                                format: Chunked::Stderr(&prefix),
                            },
                            cfg,
                            shared,
                        );
                    } else {
                        cov.format = "unrecognised".into();
                        cov.errors.push(
                            input::InputError::Unrecognised { path: name.clone() }.to_string(),
                        );
                    }
                }
                Some(f @ (InputFormat::Csvlog | InputFormat::Jsonlog)) => {
                    cov.format = format!("{}{compressed}", f.name());
                    let format = if f == InputFormat::Csvlog {
                        Chunked::Csvlog
                    } else {
                        Chunked::Jsonlog
                    };
                    scan_in_chunks_into(
                        &mut fs,
                        &mut cov,
                        Chunks {
                            source,
                            plan,
                            opened,
                            head: &head,
                            format,
                        },
                        cfg,
                        shared,
                    );
                }
                Some(InputFormat::Syslog) => {
                    let planned = plan
                        .and_then(|p| p.prefix.as_deref())
                        .and_then(|p| Prefix::compile(p).ok());
                    let prefix = cfg.prefix.clone().or(planned).or_else(|| {
                        let text = String::from_utf8_lossy(&head);
                        let sample: Vec<&str> = text.lines().take(500).collect();
                        syslog::detect_inner_prefix(&sample)
                    });
                    cov.format = format!("syslog{compressed}");
                    match prefix {
                        Some(prefix) => {
                            cov.log_line_prefix = Some(prefix.source.clone());
                            scan_in_chunks_into(
                        &mut fs,
                        &mut cov,
                        Chunks {
                            source,
                            plan,
                            opened,
                            head: &head,
                            format: Chunked::Syslog(&prefix),
                        },
                        cfg,
                        shared,
                    );
                        }
                        None => cov.errors.push(format!(
                            "{name}: syslog messages match no known log_line_prefix; pass --log-line-prefix"
                        )),
                    }
                }
                Some(InputFormat::PgssCsv) => {
                    cov.format = format!("{}{compressed}", InputFormat::PgssCsv.name());
                    let res = pgss::read_rows(opened.reader, &mut cov, |row, cov| {
                        if let Some(s) = stats_row(row, cov) {
                            fs.statement(&s, cov);
                        }
                    });
                    if let Err(e) = res {
                        cov.errors.push(format!("{name}: {e}"));
                        damaged_note(&mut cov, opened.compression);
                    }
                    pgss_notes(&mut cov);
                }
                Some(InputFormat::RdsCloudWatch) => {
                    cov.format = format!("{}{compressed}", InputFormat::RdsCloudWatch.name());
                    match cloudwatch::prefix_for(&head, cfg.prefix.as_ref()) {
                        Some(prefix) => {
                            cov.log_line_prefix = Some(prefix.source.clone());
                            scan_in_chunks_into(
                                &mut fs,
                                &mut cov,
                                Chunks {
                                    source,
                                    plan,
                                    opened,
                                    head: &head,
                                    format: Chunked::CloudWatch(&prefix),
                                },
                                cfg,
                                shared,
                            );
                        }
                        None => {
                            cov.errors
                                .push(format!("{name}: {}", cloudwatch::NO_PREFIX));
                            logging_notes(&mut cov);
                        }
                    }
                }
                Some(f) if records::chunkable(f, &head) && !read_in_order(source, &head) => {
                    cov.format = format!("{}{compressed}", f.name());
                    // Event Hub records share the prefix detected from the
                    // first messages: found first, by reading them again.
                    let hub_prefix = match (f, &cfg.prefix) {
                        (InputFormat::AzureEventHub, None) => {
                            reopen(source, plan).ok().map(records::event_hub_prefix)
                        }
                        (_, forced) => Some(forced.clone()),
                    };
                    match hub_prefix {
                        Some(hub_prefix) => {
                            let run = scan_chunked(
                                Feed::Bytes(opened.reader),
                                Chunked::Records(f, hub_prefix.as_ref(), records::is_array(&head)),
                                &name,
                                lines_before,
                                ChunkMode::Parallel,
                                cfg,
                                shared,
                            );
                            scan_records_again_if_cut(
                                run,
                                f,
                                source,
                                plan,
                                cfg,
                                &mut fs,
                                &mut cov,
                                &name,
                                opened.compression,
                            );
                        }
                        None => scan_cloud_in_order(
                            f,
                            opened.reader,
                            cfg,
                            &mut fs,
                            &mut cov,
                            &name,
                            opened.compression,
                        ),
                    }
                }
                Some(f @ InputFormat::CloudSql) if !read_in_order(source, &head) => {
                    cov.format = format!("{}{compressed}", f.name());
                    let (sorted, read, whole) = cloud_sql_sorted(
                        opened.reader,
                        records::is_array(&head),
                        &name,
                        lines_before,
                        cfg,
                    );
                    let mut run = scan_chunked(
                        Feed::Sorted(sorted, cfg.prefix.as_ref()),
                        Chunked::CloudSql,
                        &name,
                        lines_before,
                        ChunkMode::Parallel,
                        cfg,
                        shared,
                    );
                    run.cov.merge(&read.cov);
                    run.read_result = read.result;
                    run.needs_sequential |= !whole;
                    scan_records_again_if_cut(
                        run,
                        f,
                        source,
                        plan,
                        cfg,
                        &mut fs,
                        &mut cov,
                        &name,
                        opened.compression,
                    );
                }
                Some(InputFormat::Heroku) => {
                    cov.format = format!("{}{compressed}", InputFormat::Heroku.name());
                    let splitter = heroku::Splitter::default();
                    scan_in_chunks_into(
                        &mut fs,
                        &mut cov,
                        Chunks {
                            source,
                            plan,
                            opened,
                            head: &head,
                            format: Chunked::Heroku(&splitter),
                        },
                        cfg,
                        shared,
                    );
                }
                Some(
                    f @ (InputFormat::CloudSql
                    | InputFormat::CloudNativePg
                    | InputFormat::AzureEventHub
                    | InputFormat::AzureLogAnalytics),
                ) => {
                    cov.format = format!("{}{compressed}", f.name());
                    scan_cloud_in_order(
                        f,
                        opened.reader,
                        cfg,
                        &mut fs,
                        &mut cov,
                        &name,
                        opened.compression,
                    );
                }
                Some(f @ (InputFormat::PgssNdjson | InputFormat::PgssJsonArray)) => {
                    cov.format = format!("{}{compressed}", f.name());
                    let shape = if f == InputFormat::PgssNdjson {
                        pgss::JsonShape::Lines
                    } else {
                        pgss::JsonShape::Array
                    };
                    let res = pgss::read_json_rows(opened.reader, shape, &mut cov, |row, cov| {
                        if let Some(s) = stats_row(row, cov) {
                            fs.statement(&s, cov);
                        }
                    });
                    if let Err((line, e)) = res {
                        cov.errors.push(format!("{name}: read error after line {line}: {e}; the part before was scanned"));
                        damaged_note(&mut cov, opened.compression);
                    }
                    pgss_notes(&mut cov);
                }
                None => {
                    if head.is_empty() {
                        cov.format = "empty".into();
                        cov.notes.push("the input is empty".into());
                    } else {
                        cov.format = "unrecognised".into();
                        cov.errors.push(
                            input::InputError::Unrecognised { path: name.clone() }.to_string(),
                        );
                    }
                }
            }
        }
    }
    if let Some(fp) = fingerprint {
        cov.scanned = vec![fp.range(offset)];
    }
    if let Some(p) = plan {
        cov.notes.extend(p.notes.iter().cloned());
    }
    cov.errors.sort();
    cov.notes.sort();
    cov.notes.dedup();
    let mut inv = fs.finish();
    inv.files.insert(name, cov);
    inv
}

/// Adds a chunked read of JSON records to the input's inventory, or, when
/// a chunk ended inside a value (or pgAudit lines appeared), reads the
/// input again in order instead.
#[allow(clippy::too_many_arguments)]
fn scan_records_again_if_cut(
    run: ChunkedScan,
    f: InputFormat,
    source: &InputSource,
    plan: Option<&ReadPlan>,
    cfg: &ScanConfig,
    fs: &mut FileScan<'_>,
    cov: &mut FileCoverage,
    name: &str,
    compression: Option<&str>,
) {
    let lines_before = plan.map_or(0, |p| p.lines_before);
    if !run.needs_sequential {
        run.add_to(&mut fs.inv, cov, name, lines_before, compression);
        return;
    }
    match reopen(source, plan) {
        Ok(reader) => scan_cloud_in_order(f, reader, cfg, fs, cov, name, compression),
        Err(e) => {
            run.add_to(&mut fs.inv, cov, name, lines_before, compression);
            cov.errors.push(format!("{name}: a JSON value spread over lines where the file was cut, or pgAudit lines appeared, and reopening it to read it again in order failed ({e}): records near chunk boundaries may be misread"));
        }
    }
}

/// Cloud SQL payloads held in memory while put in time order: as much as a
/// few chunks of other inputs.
fn sort_budget(cfg: &ScanConfig) -> usize {
    match cfg.chunk_bytes {
        0 => input::cloud::cloudsql::SORT_BUDGET,
        n => n.saturating_mul(4),
    }
}

/// The size chunks of an input are cut at.
fn chunk_target(cfg: &ScanConfig) -> usize {
    match cfg.chunk_bytes {
        0 => chunk::DEFAULT_CHUNK_BYTES,
        n => n,
    }
}

/// What reading the payloads of a Cloud SQL input gave besides them.
struct SortedRead {
    /// Its lines, bytes, skipped entries and malformed values.
    cov: FileCoverage,
    /// The read error that ended it early, with the lines read before.
    result: Result<(), (u64, std::io::Error)>,
}

/// Reads the payloads of a Cloud SQL input (one entry a line, or one
/// array) and puts them in time order: a reader thread cuts the input into
/// chunks where a line starts with `{`, the chunks are read into payloads
/// in parallel, and their payloads go to the sorter in file order, exactly
/// as one read gives them (at most 2 × threads + 2 chunks exist at once).
/// The third value is false when a chunk other than the last ended inside
/// a value (a value spread over lines was cut): then the chunks after it
/// did not start where one read would, and the input must be read again,
/// in order (what was read is kept only if it cannot be reopened).
fn cloud_sql_sorted(
    reader: Box<dyn std::io::BufRead + Send>,
    array: bool,
    name: &str,
    lines_before: u64,
    cfg: &ScanConfig,
) -> (input::cloud::cloudsql::Sorted, SortedRead, bool) {
    use input::cloud::cloudsql::{read_chunk_payloads, ChunkPayloads, Sorted};
    /// Chunks read into payloads, handed to the sorter in file order.
    struct InOrder {
        next: usize,
        ready: BTreeMap<usize, (bool, ChunkPayloads)>,
        sorted: Sorted,
        cov: FileCoverage,
        /// No chunk but the last ended inside a value.
        whole: bool,
    }
    let threads = rayon::current_num_threads();
    let in_order = Mutex::new(InOrder {
        next: 0,
        ready: BTreeMap::new(),
        sorted: Sorted::new(sort_budget(cfg)),
        cov: FileCoverage::default(),
        whole: true,
    });
    let gate = chunk::InFlight::new(2 * threads + 2);
    let gate = &gate;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(threads);
    let start = |buf: &[u8], from: usize| records::next_record_start(buf, from);
    let target = chunk_target(cfg);
    let read = |c: Chunk| {
        // A panic here must not leave the reader waiting for this chunk.
        let _closer = gate.close_on_panic();
        let first = lines_before + c.lines_before;
        let payloads = crate::panics::catch(|| {
            crate::panics::test_hook(name, Some(&format!("payloads{}", c.index)));
            read_chunk_payloads(&c.data, first, array && c.index > 0)
        })
        .unwrap_or_else(|message| {
            let lines = c.lines.max(1);
            let part = format!("lines {} to {}", first + 1, first + lines);
            let mut cov = FileCoverage::default();
            cov.errors
                .push(crate::panics::input_error(name, Some(&part), &message));
            ChunkPayloads::lost(cov)
        });
        let (index, last) = (c.index, c.last);
        drop(c);
        let mut guard = in_order.lock().unwrap_or_else(|e| e.into_inner());
        let st = &mut *guard;
        st.ready.insert(index, (last, payloads));
        while let Some((last, p)) = st.ready.remove(&st.next) {
            st.whole &= p.whole || last;
            st.sorted.push_chunk(p, &mut st.cov);
            st.next += 1;
        }
        gate.settled(st.next);
    };
    let result = std::thread::scope(|scope| {
        let cutter = scope.spawn(move || {
            chunk::cut_with(reader, target, &start, true, |mut c| {
                // A chunk held while others are read keeps no more than
                // its bytes (a small chunk's buffer is mostly the read
                // buffer's room).
                if c.data.capacity() > 2 * c.data.len() {
                    c.data.shrink_to_fit();
                }
                gate.admit(c.index) && tx.send(c).is_ok()
            })
        });
        let closer = gate.closer();
        rx.into_iter().par_bridge().for_each(read);
        drop(closer);
        cutter
            .join()
            .unwrap_or_else(|_| Err((0, std::io::Error::other("reader thread panicked"))))
    });
    let st = in_order.into_inner().unwrap_or_else(|e| e.into_inner());
    let read = SortedRead {
        cov: st.cov,
        result,
    };
    (st.sorted, read, st.whole)
}

/// Sends the payload lines of a Cloud SQL input in time order, in batches
/// of about `target` bytes that start where an entry starts (or entries
/// read from lines where none could start), as parts numbered from 0;
/// returns the coverage of putting them in order (the prefix, lines that
/// no prefix matches).
fn send_sorted(
    sorted: input::cloud::cloudsql::Sorted,
    forced: Option<&Prefix>,
    name: &str,
    lines_before: u64,
    target: usize,
    send: &mut dyn FnMut(Part) -> bool,
) -> FileCoverage {
    let mut cov = FileCoverage::default();
    let mut index = 0usize;
    sorted.batches(forced, target, &mut cov, |batch| {
        crate::panics::test_hook(name, Some(&format!("sorted{index}")));
        let (first, last) = batch.span();
        let part = Part::Messages(Box::new(Assembled {
            index,
            // Entries carry the input's line numbers; a part's lines are
            // counted from where the read started.
            lines_before: first.saturating_sub(1 + lines_before),
            lines: last + 1 - first,
            messages: match batch {
                input::cloud::cloudsql::Batch::Lines(lines) => Completed::CloudSql(lines),
                input::cloud::cloudsql::Batch::Entries(entries) => Completed::Entries(entries),
            },
            cov: FileCoverage::default(),
        }));
        index += 1;
        send(part)
    });
    cov
}

/// Reads a cloud-shaped input in order, with one extractor.
fn scan_cloud_in_order(
    f: InputFormat,
    reader: Box<dyn std::io::BufRead + Send>,
    cfg: &ScanConfig,
    fs: &mut FileScan<'_>,
    cov: &mut FileCoverage,
    name: &str,
    compression: Option<&str>,
) {
    let mut x = Extractor::default();
    let budget = sort_budget(cfg);
    let res = input::cloud::read_entries_within(
        f,
        reader,
        cfg.prefix.as_ref(),
        budget,
        cov,
        |entry, cov| {
            x.entry(&entry, cov, &mut |s, cov| fs.statement(s, cov));
        },
    );
    x.flush_counts(cov);
    if let Err((line, e)) = res {
        cov.errors.push(format!(
            "{name}: read error after line {line}: {e}; the part before was scanned"
        ));
        damaged_note(cov, compression);
    }
    logging_notes(cov);
}

/// Notes on what a pg_stat_statements export cannot show.
fn pgss_notes(cov: &mut FileCoverage) {
    cov.notes.push(
        "pg_stat_statements has no times: first_seen/last_seen come only from logs".to_string(),
    );
    let nested = cov
        .records_by_kind
        .get("pg_stat_statements_nested_row")
        .copied()
        .unwrap_or(0);
    let top = cov
        .records_by_kind
        .get("pg_stat_statements_row")
        .copied()
        .unwrap_or(0);
    if nested == 0 && top > 0 && !cov.notes.iter().any(|n| n.contains("no `toplevel` column")) {
        cov.notes.push("no nested statement (toplevel = false) in the export: pg_stat_statements.track was probably `top`, so SQL inside functions, triggers and DO blocks is not visible".into());
    }
}

/// After a read error in a compressed input: what the scanned part is worth.
fn damaged_note(cov: &mut FileCoverage, compression: Option<&str>) {
    if let Some(c) = compression {
        cov.notes.push(format!(
            "the compressed stream is damaged ({c}): everything up to the error was scanned, and lines decoded just before it may be garbled (codecs verify checksums only at the end of a block or stream)"
        ));
    }
}

/// Notes on what a stderr log's logging set-up cannot show.
fn logging_notes(cov: &mut FileCoverage) {
    let statements = cov.records_by_kind.get("statement").copied().unwrap_or(0);
    if statements == 0 && cov.records > 0 && cov.logging.audit_lines == 0 {
        cov.notes.push("no `statement:`/`execute` lines: log_statement seems off, so reads and writes are not all logged".into());
    }
    // What the logging set-up hides is worked out per input once the scan is
    // complete (crate::visibility::assess).
    if cov.truncated_records > 0 {
        cov.notes.push(format!(
            "{} record{} cut short by the log ([Your log message was truncated]): dependencies from them are at most possible, and no column can be clear",
            cov.truncated_records,
            if cov.truncated_records == 1 { " was" } else { "s were" }
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(chunk_bytes: usize) -> ScanConfig {
        ScanConfig {
            targets: Vec::new(),
            catalog: Catalog::default(),
            inputs: Vec::new(),
            prefix: None,
            input_format: None,
            search_path: vec!["public".into()],
            threads: 2,
            progress: false,
            chunk_bytes,
            logging: Default::default(),
            keep_literals: false,
        }
    }

    #[test]
    fn cloud_sql_fixtures_are_read_in_parallel_chunks_without_a_second_read() {
        // Every chunk of the Cloud SQL fixtures (one entry a line, and one
        // indented array) ends between values, whatever the chunk size:
        // none sends them to be read again in order, so the chunk tests
        // (tests/chunking.rs) compare the parallel read with the read in
        // order, and the payloads read in chunks are those of one read.
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/cloud/");
        for (file, array) in [("cloudsql.ndjson", false), ("cloudsql.json", true)] {
            let text = std::fs::read(format!("{root}{file}")).unwrap();
            let mut want = Vec::new();
            let mut cov = FileCoverage::default();
            input::cloud::cloudsql::read_entries(&text[..], None, &mut cov, |e, _| want.push(e))
                .unwrap();
            assert!(want.len() > 100, "{file}: {}", want.len());
            for chunk_bytes in [1, 97, 333, 4096] {
                let reader = Box::new(std::io::Cursor::new(text.clone()));
                let (sorted, read, whole) =
                    cloud_sql_sorted(reader, array, file, 0, &chunked(chunk_bytes));
                assert!(whole, "{file}, {chunk_bytes}-byte chunks");
                assert!(read.result.is_ok());
                assert_eq!(
                    read.cov.lines,
                    text.iter().filter(|&&b| b == b'\n').count() as u64
                );
                let mut got = Vec::new();
                sorted.entries(None, &mut FileCoverage::default(), |e, _| got.push(e));
                assert_eq!(got, want, "{file}, {chunk_bytes}-byte chunks");
            }
        }
    }
}
