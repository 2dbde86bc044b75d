//! The scan pipeline: expands inputs, reads each one (in parallel across
//! inputs), extracts statements, analyses each distinct statement shape once
//! (cached by its normalised text), and folds everything into an inventory.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::analyze::{Analysis, Analyzer};
use crate::catalog::Catalog;
use crate::extract::{stats_row, Extractor, Statement};
use crate::input::prefix::Prefix;
use crate::input::{
    self, csvlog, detect_format, fingerprint, jsonlog, pgss, stderr, syslog, InputFormat,
    InputSource,
};
use crate::inventory::{Confidence, DepKey, DepStats, FileCoverage, Inventory, SourceRef};

/// Why a dependency from a statement the log cut short is only possible.
const TRUNCATED_REASON: &str = "the log cut this statement short ([Your log message was truncated]): the lost part could change how its names resolve";
use crate::normalize::{normalize, stable_hash};
use crate::target::ColumnTarget;
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
    /// Logging settings stated with `--logging` (override inference).
    pub logging: crate::visibility::Declared,
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
    let analyzer = Analyzer::new(&cfg.catalog, &cfg.targets, cfg.search_path.clone());
    let bar = crate::progress::Progress::new(cfg.progress, inputs.len() as u64);
    let run = || {
        inputs
            .par_iter()
            .map(|source| {
                let plan = plans.get(&source.display_name());
                let inv = scan_input(source, cfg, &analyzer, plan, window);
                bar.file_done();
                inv
            })
            .reduce(
                || Inventory::new(cfg.targets.clone()),
                |mut a, b| {
                    a.merge(b);
                    a
                },
            )
    };
    let mut inv = match rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .stack_size(64 * 1024 * 1024)
        .build()
    {
        Ok(pool) => pool.install(run),
        Err(_) => run(),
    };
    bar.finish();
    for cov in inv.files.values_mut() {
        crate::visibility::assess(cov, &cfg.logging);
    }
    inv.targets.clone_from(&cfg.targets);
    inv.schema_deps =
        crate::schema_deps::schema_dependencies(&cfg.catalog, &cfg.targets, &cfg.search_path);
    inv.warnings
        .extend(catalog_warnings(&cfg.catalog, &cfg.targets));
    inv.warnings.sort();
    inv.warnings.dedup();
    inv
}

/// Scans pg_stat_statements rows read from a live server (`name` is the
/// input's name in coverage).
pub fn scan_stats_rows(cfg: &ScanConfig, name: &str, rows: Vec<input::StatsRow>) -> Inventory {
    let analyzer = Analyzer::new(&cfg.catalog, &cfg.targets, cfg.search_path.clone());
    let mut cov = FileCoverage {
        format: "pg_stat_statements-live".into(),
        ..FileCoverage::default()
    };
    let mut fs = FileScan {
        name: name.to_string(),
        analyzer: &analyzer,
        cache: HashMap::new(),
        inv: Inventory::new(cfg.targets.clone()),
        // Rows have no time: a window cannot exclude them.
        window: &crate::window::UNBOUNDED,
    };
    for row in rows {
        cov.lines += 1;
        if let Some(s) = stats_row(row, &mut cov) {
            fs.statement(s, &mut cov);
        }
    }
    cov.notes.push(
        "pg_stat_statements has no times: first_seen/last_seen come only from logs".to_string(),
    );
    let mut inv = fs.inv;
    inv.files.insert(name.to_string(), cov);
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

struct FileScan<'a> {
    name: String,
    analyzer: &'a Analyzer<'a>,
    cache: HashMap<String, Arc<Analysis>>,
    inv: Inventory,
    window: &'a Window,
}

impl FileScan<'_> {
    /// Records pgAudit object evidence (a `TABLE COLUMN`, or a table whose
    /// statement text was not logged).
    fn audit_object(&mut self, s: &Statement, obj: &crate::audit::AuditObject) {
        for (target, column_level) in obj.matches(&self.inv.targets) {
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
            let key = DepKey {
                target,
                access: obj.access,
                via: via.to_string(),
                actor: s.actor.clone(),
                fingerprint: format!("audit:{:016x}", stable_hash(&query)),
            };
            self.inv.add_dep(
                key,
                DepStats {
                    confidence,
                    reason,
                    calls: s.calls,
                    failed_calls: 0,
                    nested_calls: 0,
                    first_seen: s.time,
                    last_seen: s.time,
                    query,
                    sources: vec![SourceRef {
                        file: self.name.clone(),
                        line: s.line,
                    }],
                },
            );
        }
    }

    fn statement(&mut self, s: Statement, cov: &mut FileCoverage) {
        if !self.window.admits(s.time) {
            cov.statements.outside_window += 1;
            return;
        }
        if let Some(obj) = &s.audit_object {
            self.audit_object(&s, obj);
            if s.text.is_empty() {
                return;
            }
        }
        let path = crate::analyze::session::effective_search_path(
            s.search_path.as_deref(),
            self.analyzer.catalog(),
            s.actor.user.as_deref(),
            s.actor.database.as_deref(),
            self.analyzer.search_path(),
        );
        // The same text resolves differently under another search_path.
        let key = format!("{}\u{0}{}", path.join("\u{1}"), normalize(&s.text));
        let analysis = match self.cache.get(&key) {
            Some(a) => Arc::clone(a),
            None => {
                let a = Arc::new(self.analyzer.analyze_with_path(&s.text, &path));
                self.cache.insert(key, Arc::clone(&a));
                a
            }
        };
        if s.truncated {
            for e in &mut self.inv.evidence {
                e.truncated_statements += 1;
            }
        }
        for st in &analysis.statements {
            cov.statements.seen += 1;
            cov.statements.calls += s.calls;
            if st.parsed {
                cov.statements.analysed += 1;
            } else {
                cov.statements.unparseable += 1;
                let reason = st.problem.clone().unwrap_or_else(|| "parse error".into());
                *cov.statements
                    .unparseable_reasons
                    .entry(reason)
                    .or_default() += 1;
            }
            for r in &st.refs {
                if r.via == "unparseable" {
                    if let Some(e) = self.inv.evidence.get_mut(r.target) {
                        e.unparseable_mentions += 1;
                    }
                }
                // A pg_stat_statements row run inside a function: the
                // function whose body holds the statement.
                let nested_in = match (&s.inside, s.toplevel) {
                    (None, Some(false)) => self.analyzer.routines_containing(&st.fingerprint),
                    _ => None,
                };
                let via = match s.inside.as_ref().or(nested_in.as_ref()) {
                    None => r.via.clone(),
                    Some(f) if r.via == "direct" => format!("substatement of {f}"),
                    Some(f) => format!("substatement of {f} > {}", r.via),
                };
                let key = DepKey {
                    target: r.target,
                    access: r.access,
                    via,
                    actor: s.actor.clone(),
                    fingerprint: st.fingerprint.clone(),
                };
                let (confidence, reason) = if s.truncated {
                    (
                        r.confidence.min(Confidence::Possible),
                        Some(match &r.reason {
                            Some(why) => format!("{why}; {TRUNCATED_REASON}"),
                            None => TRUNCATED_REASON.to_string(),
                        }),
                    )
                } else {
                    (r.confidence, r.reason.clone())
                };
                let stats = DepStats {
                    confidence,
                    reason,
                    calls: s.calls,
                    failed_calls: if s.failed { s.calls } else { 0 },
                    nested_calls: if s.toplevel == Some(false) {
                        s.calls
                    } else {
                        0
                    },
                    first_seen: s.time,
                    last_seen: s.time,
                    query: st.query.clone(),
                    sources: vec![SourceRef {
                        file: self.name.clone(),
                        line: s.line,
                    }],
                };
                self.inv.add_dep(key, stats);
            }
        }
    }
}

/// Opens an uncompressed file at `plan.offset`, reading at most `plan.limit`
/// bytes.
fn open_planned(source: &InputSource, plan: &ReadPlan) -> Result<input::Opened, input::InputError> {
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
    Ok(input::Opened {
        reader: Box::new(std::io::BufReader::with_capacity(256 * 1024, limited)),
        compression: None,
    })
}

fn scan_input(
    source: &InputSource,
    cfg: &ScanConfig,
    analyzer: &Analyzer<'_>,
    plan: Option<&ReadPlan>,
    window: &Window,
) -> Inventory {
    let name = source.display_name();
    let mut cov = FileCoverage::default();
    let offset = plan.map_or(0, |p| p.offset + p.skip);
    let lines_before = plan.map_or(0, |p| p.lines_before);
    let mut fingerprint = None;
    let mut fs = FileScan {
        name: name.clone(),
        analyzer,
        cache: HashMap::new(),
        inv: Inventory::new(cfg.targets.clone()),
        window,
    };
    let opened = match plan {
        Some(p) if p.offset > 0 || p.limit.is_some() => open_planned(source, p),
        _ => input::open(source),
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
                        let mut x = Extractor::default();
                        let res = stderr::read_entries(
                            opened.reader,
                            &prefix,
                            &mut cov,
                            |mut entry, cov| {
                                entry.line += lines_before;
                                x.entry(&entry, cov, &mut |s, cov| fs.statement(s, cov));
                            },
                        );
                        if let Err((line, e)) = res {
                            let line = line + lines_before;
                            cov.errors.push(format!("{name}: read error after line {line}: {e}; the part before was scanned"));
                            damaged_note(&mut cov, opened.compression);
                        }
                        logging_notes(&mut cov);
                    } else {
                        cov.format = "unrecognised".into();
                        cov.errors.push(
                            input::InputError::Unrecognised { path: name.clone() }.to_string(),
                        );
                    }
                }
                Some(f @ (InputFormat::Csvlog | InputFormat::Jsonlog)) => {
                    cov.format = format!("{}{compressed}", f.name());
                    let mut x = Extractor::default();
                    let sink = |entry: input::LogEntry, cov: &mut FileCoverage| {
                        x.entry(&entry, cov, &mut |s, cov| fs.statement(s, cov));
                    };
                    let res = if f == InputFormat::Csvlog {
                        csvlog::read_entries(opened.reader, &name, lines_before, &mut cov, sink)
                    } else {
                        jsonlog::read_entries(opened.reader, &name, lines_before, &mut cov, sink)
                    };
                    if let Err((line, e)) = res {
                        cov.errors.push(format!("{name}: read error after line {line}: {e}; the part before was scanned"));
                        damaged_note(&mut cov, opened.compression);
                    }
                    logging_notes(&mut cov);
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
                            let mut x = Extractor::default();
                            let res = syslog::read_entries(
                                opened.reader,
                                &prefix,
                                lines_before,
                                &mut cov,
                                |entry, cov| {
                                    x.entry(&entry, cov, &mut |s, cov| fs.statement(s, cov));
                                },
                            );
                            if let Err((line, e)) = res {
                                cov.errors.push(format!("{name}: read error after line {line}: {e}; the part before was scanned"));
                                damaged_note(&mut cov, opened.compression);
                            }
                            logging_notes(&mut cov);
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
                            fs.statement(s, cov);
                        }
                    });
                    if let Err(e) = res {
                        cov.errors.push(format!("{name}: {e}"));
                        damaged_note(&mut cov, opened.compression);
                    }
                    pgss_notes(&mut cov);
                }
                Some(
                    f @ (InputFormat::RdsCloudWatch
                    | InputFormat::CloudSql
                    | InputFormat::CloudNativePg
                    | InputFormat::Heroku
                    | InputFormat::AzureEventHub
                    | InputFormat::AzureLogAnalytics),
                ) => {
                    cov.format = format!("{}{compressed}", f.name());
                    let mut x = Extractor::default();
                    let res = input::cloud::read_entries(
                        f,
                        opened.reader,
                        cfg.prefix.as_ref(),
                        &mut cov,
                        |entry, cov| {
                            x.entry(&entry, cov, &mut |s, cov| fs.statement(s, cov));
                        },
                    );
                    if let Err((line, e)) = res {
                        cov.errors.push(format!("{name}: read error after line {line}: {e}; the part before was scanned"));
                        damaged_note(&mut cov, opened.compression);
                    }
                    logging_notes(&mut cov);
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
                            fs.statement(s, cov);
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
    let mut inv = fs.inv;
    inv.files.insert(name, cov);
    inv
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
