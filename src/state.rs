//! Incremental scanning (`scan --state FILE`): the state file remembers, per
//! input file, its identity (device, inode and a fingerprint of its first
//! bytes) and how far it was read, plus the inventory accumulated so far.
//! The next run reads only what is new, recognises rotated files by
//! identity, starts again from 0 after a truncation or a replacement, adds
//! the new evidence to the stored inventory and writes the state back
//! atomically.
//!
//! A resume point is always at the end of a complete line (a record
//! boundary for PostgreSQL, which writes each message whole). What a resume
//! point loses: the per-session state of the statement extractor (user,
//! database and application learned from an earlier `connection authorized:`
//! line when the prefix lacks `%u`/`%d`/`%a`, a statement waiting for its
//! `duration:` line, an ERROR waiting for its STATEMENT line); this is noted
//! in the coverage of every resumed input.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::input::fingerprint::sha256_hex;
use crate::input::{self, InputSource};
use crate::inventory::Inventory;
use crate::report::json::InventoryDoc;
use crate::scan::{expand_inputs, scan_planned, ReadPlan, ScanConfig};
use crate::stored;
use crate::target::ColumnTarget;

/// The state file format version.
pub const STATE_VERSION: u32 = 1;

/// How many leading bytes identify a file's content.
const HEAD_BYTES: u64 = 4096;

/// The coverage note on every resumed input.
pub const RESUME_NOTE: &str = "incremental scan resumed at a line boundary: session details learned before it (user/database/application from `connection authorized:` when the prefix lacks them, a statement waiting for its `duration:` line) are not carried over";

/// Errors of incremental scans.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The state file exists but cannot be read.
    #[error("{path}: cannot read the state file: {source}")]
    Read {
        /// The state file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not a state file.
    #[error("{path}: line {line}, column {column}: not a pgcontract state file: {message}")]
    Json {
        /// The state file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde_json said.
        message: String,
    },
    /// Another state version.
    #[error("{path}: state version {found} is not supported (this pgcontract reads version {STATE_VERSION}); start a new state file")]
    Version {
        /// The state file.
        path: String,
        /// The version found (`missing` when absent).
        found: String,
    },
    /// The stored inventory is bad.
    #[error("{path}: the stored inventory: {message}")]
    Inventory {
        /// The state file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The state was built for other columns.
    #[error("{path}: the state was built for {stored}, this run is for {now}; use another state file for other columns")]
    Targets {
        /// The state file.
        path: String,
        /// Its columns.
        stored: String,
        /// This run's columns.
        now: String,
    },
    /// stdin cannot be resumed.
    #[error("--state needs files: stdin (`-`) cannot be read incrementally")]
    Stdin,
    /// The state could not be written.
    #[error("{path}: cannot write the state file: {source}")]
    Write {
        /// The state file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What the state remembers about one input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileState {
    /// The input, as named (after directory expansion) when last read.
    pub path: String,
    /// `st_dev`.
    pub device: u64,
    /// `st_ino`.
    pub inode: u64,
    /// Size on disk when last read.
    pub size: u64,
    /// Compression recognised by magic bytes, if any.
    pub compression: Option<String>,
    /// Bytes of content read so far (decompressed for compressed files): the
    /// next run continues here. Always at the end of a complete line.
    pub offset: u64,
    /// Lines before `offset` (line numbers continue from here).
    pub lines: u64,
    /// How many leading bytes `head_sha256` covers.
    pub head_len: u64,
    /// SHA-256 of the first `head_len` bytes on disk: a different value
    /// means the file was replaced (or truncated and rewritten).
    pub head_sha256: String,
    /// The format found.
    pub format: String,
    /// The `log_line_prefix` found.
    pub log_line_prefix: Option<String>,
}

/// The state file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDoc {
    /// Always [`STATE_VERSION`].
    pub version: u32,
    /// One per input file read, sorted by path.
    pub files: Vec<FileState>,
    /// The inventory accumulated over all runs.
    pub inventory: InventoryDoc,
}

fn json_err(path: &str, e: &serde_json::Error) -> StateError {
    StateError::Json {
        path: path.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

/// Reads a state file; `None` when it does not exist yet. The file is read
/// through a buffer and the stored inventory is made row by row as it is
/// read (as [`stored::load`] does): neither the text nor the whole document
/// is held. Only a state that turns out to be wrong is read again, whole,
/// to report the error with its line and column as from the text.
pub fn load(path: &Path) -> Result<Option<(Vec<FileState>, Inventory)>, StateError> {
    let name = path.display().to_string();
    let read_err = |e: std::io::Error| StateError::Read {
        path: name.clone(),
        source: e,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_err(e)),
    };
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        // A pipe cannot be read a second time: it is read whole, from the
        // one opening.
        let bytes = stored::read_all(file).map_err(read_err)?;
        let (files, built) = from_text(&name, &bytes)?;
        return finish(&name, files, built);
    }
    let read = read_state(&mut serde_json::Deserializer::from_reader(
        stored::buffered(file),
    ));
    let (files, built) = match read {
        Ok((STATE_VERSION, files, built)) => (files, built),
        _ => {
            let bytes = std::fs::read(path).map_err(read_err)?;
            from_text(&name, &bytes)?
        }
    };
    finish(&name, files, built)
}

/// The state's files and its inventory, made.
fn finish(
    name: &str,
    files: Vec<FileState>,
    built: stored::Built,
) -> Result<Option<(Vec<FileState>, Inventory)>, StateError> {
    let inv = built.finish().map_err(|message| StateError::Inventory {
        path: name.to_string(),
        message,
    })?;
    Ok(Some((files, inv)))
}

/// The parts of a state file's text, or its error: the errors, and which
/// one wins when there are several, are those of checking the version of
/// the whole document first, then parsing it into a [`StateDoc`] (then
/// making its inventory, which the caller does).
fn from_text(name: &str, bytes: &[u8]) -> Result<(Vec<FileState>, stored::Built), StateError> {
    let read = read_state(&mut serde_json::Deserializer::from_slice(bytes));
    if !matches!(read, Ok((STATE_VERSION, ..))) {
        let version = stored::top_level_version(bytes).map_err(|e| json_err(name, &e))?;
        match version {
            Some(v) if v.as_u64() == Some(u64::from(STATE_VERSION)) => {}
            other => {
                return Err(StateError::Version {
                    path: name.to_string(),
                    found: other.map_or_else(|| "missing".to_string(), |v| v.to_string()),
                })
            }
        }
    }
    let (_, files, built) = read.map_err(|e| json_err(name, &e))?;
    Ok((files, built))
}

/// Reads a whole state file as [`StateDoc`]'s `Deserialize` does (the same
/// checks, the same errors at the same places), its inventory made row by
/// row, and checks that nothing follows it.
fn read_state<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
) -> Result<(u32, Vec<FileState>, stored::Built), serde_json::Error> {
    use serde::de::{Error, MapAccess, Visitor};

    const FIELDS: &[&str] = &["version", "files", "inventory"];

    struct StateVisitor;

    impl<'de> Visitor<'de> for StateVisitor {
        type Value = (u32, Vec<FileState>, stored::Built);

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("struct StateDoc")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let (mut version, mut files, mut inventory) = (None, None, None);
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "version" if version.is_some() => {
                        return Err(A::Error::duplicate_field("version"))
                    }
                    "version" => version = Some(map.next_value()?),
                    "files" if files.is_some() => return Err(A::Error::duplicate_field("files")),
                    "files" => files = Some(map.next_value()?),
                    "inventory" if inventory.is_some() => {
                        return Err(A::Error::duplicate_field("inventory"))
                    }
                    "inventory" => inventory = Some(map.next_value_seed(stored::DocSeed)?.1),
                    _ => return Err(A::Error::unknown_field(&key, FIELDS)),
                }
            }
            let version = version.ok_or_else(|| A::Error::missing_field("version"))?;
            let files = files.ok_or_else(|| A::Error::missing_field("files"))?;
            let inventory = inventory.ok_or_else(|| A::Error::missing_field("inventory"))?;
            Ok((version, files, inventory))
        }
    }

    let read = serde::Deserializer::deserialize_struct(&mut *de, "StateDoc", FIELDS, StateVisitor)?;
    de.end()?;
    Ok(read)
}

fn head_of(path: &Path, len: u64) -> Option<(u64, String)> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    (&mut f).take(len).read_to_end(&mut buf).ok()?;
    Some((buf.len() as u64, sha256_hex(&buf)))
}

/// The end of the last complete line within the first `size` bytes.
fn complete_end(path: &Path, size: u64) -> std::io::Result<u64> {
    let mut f = std::fs::File::open(path)?;
    let mut end = size;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let n = (end - start) as usize;
        f.seek(SeekFrom::Start(start))?;
        let part = buf.get_mut(..n).unwrap_or_default();
        f.read_exact(part)?;
        if let Some(i) = part.iter().rposition(|b| *b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

fn compression_on_disk(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut head = [0u8; 8];
    let mut n = 0;
    while let Some(rest) = head.get_mut(n..).filter(|rest| !rest.is_empty()) {
        match f.read(rest) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    input::compression_of(head.get(..n).unwrap_or_default()).map(str::to_string)
}

/// Formats that can be continued from a line boundary.
fn resumable(format: &str) -> bool {
    ["stderr", "csvlog", "jsonlog", "syslog"]
        .iter()
        .any(|f| format.starts_with(f))
}

/// What to do with one input this run.
enum Decision {
    /// Nothing new: not read.
    Unchanged,
    /// Read with this plan.
    Read(ReadPlan),
}

struct Probe {
    device: u64,
    inode: u64,
    size: u64,
    compression: Option<String>,
}

fn decide(
    path: &Path,
    name: &str,
    p: &Probe,
    known: Option<&FileState>,
    same_name: Option<&FileState>,
) -> Decision {
    let mut plan = ReadPlan::default();
    let fresh_limit = |plan: &mut ReadPlan| {
        if p.compression.is_none() {
            plan.limit = Some(complete_end(path, p.size).unwrap_or(p.size));
        }
    };
    let Some(k) = known else {
        if let Some(old) = same_name {
            plan.notes.push(format!(
                "a new file under this name since the last run (rotated; the previous file was {} bytes): read from the start",
                old.size
            ));
        }
        fresh_limit(&mut plan);
        return Decision::Read(plan);
    };
    if p.compression.is_none() && k.compression.is_none() && p.size < k.offset {
        plan.notes.push(format!(
            "the file was truncated since the last run ({} bytes, {} had been read): read from the start",
            p.size, k.offset
        ));
        fresh_limit(&mut plan);
        return Decision::Read(plan);
    }
    let head_ok = p.size >= k.head_len
        && head_of(path, k.head_len).is_some_and(|(n, h)| n == k.head_len && h == k.head_sha256);
    if p.compression != k.compression || !head_ok {
        plan.notes.push(format!(
            "the file was replaced or rewritten since the last run (its first bytes changed): read from the start{}",
            if resumable(&k.format) {
                ""
            } else if k.format.starts_with("pg_stat_statements") {
                "; a pg_stat_statements export's counters are cumulative, so calls counted before may be counted again"
            } else {
                "; records it repeats from the earlier file are counted again"
            }
        ));
        fresh_limit(&mut plan);
        return Decision::Read(plan);
    }
    let renamed = k.path != name;
    match &p.compression {
        None => {
            let end = complete_end(path, p.size).unwrap_or(k.offset);
            if end <= k.offset {
                return Decision::Unchanged;
            }
            if !resumable(&k.format) {
                plan.notes.push(format!(
                    "the file grew since the last run and {} cannot be continued: read again from the start, so its earlier content is counted again",
                    k.format
                ));
                fresh_limit(&mut plan);
                return Decision::Read(plan);
            }
            plan.offset = k.offset;
            plan.limit = Some(end - k.offset);
        }
        Some(_) => {
            if p.size == k.size {
                return Decision::Unchanged;
            }
            if p.size < k.size || !resumable(&k.format) {
                plan.notes.push(format!(
                    "the compressed file changed since the last run ({} bytes, was {}): read again from the start{}",
                    p.size,
                    k.size,
                    if p.size < k.size { "" } else { ", so its earlier content is counted again" }
                ));
                return Decision::Read(plan);
            }
            plan.skip = k.offset;
        }
    }
    plan.lines_before = k.lines;
    plan.prefix.clone_from(&k.log_line_prefix);
    plan.format = input::InputFormat::from_name(k.format.split('+').next().unwrap_or(""));
    plan.notes.push(RESUME_NOTE.to_string());
    if renamed {
        plan.notes.push(format!(
            "the same file as `{}` in the last run (renamed, e.g. by log rotation): continued where that left off",
            k.path
        ));
    }
    Decision::Read(plan)
}

fn target_list(t: &[ColumnTarget]) -> String {
    let mut v: Vec<String> = t.iter().map(ToString::to_string).collect();
    v.sort();
    v.join(", ")
}

/// Runs an incremental scan against the state in `state_path`, writes the
/// state back (atomically) and returns the accumulated inventory.
pub fn scan_incremental(cfg: &ScanConfig, state_path: &Path) -> Result<Inventory, StateError> {
    let spath = state_path.display().to_string();
    let inputs = expand_inputs(&cfg.inputs);
    if inputs.contains(&InputSource::Stdin) {
        return Err(StateError::Stdin);
    }
    let (known, stored_inv) = match load(state_path)? {
        Some((files, inv)) => {
            if target_list(&inv.targets) != target_list(&cfg.targets) {
                return Err(StateError::Targets {
                    path: spath,
                    stored: target_list(&inv.targets),
                    now: target_list(&cfg.targets),
                });
            }
            (files, Some(inv))
        }
        None => (Vec::new(), None),
    };
    let by_identity: BTreeMap<(u64, u64), &FileState> =
        known.iter().map(|f| ((f.device, f.inode), f)).collect();
    let by_name: BTreeMap<&str, &FileState> = known.iter().map(|f| (f.path.as_str(), f)).collect();

    let mut plans = BTreeMap::new();
    let mut to_read = Vec::new();
    let mut probes = BTreeMap::new();
    let mut unchanged: Vec<FileState> = Vec::new();
    for source in &inputs {
        let InputSource::File(path) = source else {
            continue;
        };
        let name = source.display_name();
        let Ok(meta) = std::fs::metadata(path) else {
            // Missing or unreadable: the scan reports it.
            to_read.push(source.clone());
            continue;
        };
        let probe = Probe {
            device: meta.dev(),
            inode: meta.ino(),
            size: meta.len(),
            compression: compression_on_disk(path),
        };
        let k = by_identity.get(&(probe.device, probe.inode)).copied();
        match decide(path, &name, &probe, k, by_name.get(name.as_str()).copied()) {
            Decision::Unchanged => {
                if let Some(k) = k {
                    let mut k = k.clone();
                    k.path.clone_from(&name);
                    k.size = probe.size;
                    unchanged.push(k);
                }
            }
            Decision::Read(plan) => {
                plans.insert(name.clone(), plan);
                to_read.push(source.clone());
            }
        }
        probes.insert(name, (path.clone(), probe));
    }

    let mut inv = scan_planned(cfg, &to_read, &plans);

    // The new state of every file read.
    let mut files: BTreeMap<String, FileState> = BTreeMap::new();
    for k in unchanged {
        files.insert(k.path.clone(), k);
    }
    for (name, cov) in &inv.files {
        let (Some((path, probe)), Some(range)) = (probes.get(name), cov.scanned.first()) else {
            continue;
        };
        let plan = plans.get(name).cloned().unwrap_or_default();
        let offset = plan.offset + plan.skip + range.length;
        let head_len = match probe.compression {
            None => offset.min(HEAD_BYTES),
            Some(_) => probe.size.min(HEAD_BYTES),
        };
        let Some((head_len, head_sha256)) = head_of(path, head_len) else {
            continue;
        };
        files.insert(
            name.clone(),
            FileState {
                path: name.clone(),
                device: probe.device,
                inode: probe.inode,
                size: probe.size,
                compression: probe.compression.clone(),
                offset,
                lines: plan.lines_before + cov.lines,
                head_len,
                head_sha256,
                format: cov.format.clone(),
                log_line_prefix: cov.log_line_prefix.clone(),
            },
        );
    }
    // Files of earlier runs not looked at this time stay known while they
    // exist under their name (and are not another name's file now).
    let seen: BTreeSet<(u64, u64)> = files.values().map(|f| (f.device, f.inode)).collect();
    for k in &known {
        if files.contains_key(&k.path) || seen.contains(&(k.device, k.inode)) {
            continue;
        }
        let still_there =
            std::fs::metadata(&k.path).is_ok_and(|m| m.dev() == k.device && m.ino() == k.inode);
        if still_there {
            files.insert(k.path.clone(), k.clone());
        }
    }

    if let Some(mut old) = stored_inv {
        // Schema dependencies, warnings and migration sites describe the
        // current run; the evidence accumulates.
        old.schema_deps.clear();
        old.warnings.clear();
        old.target_sites.clear();
        old.unchecked.clear();
        inv.merge(stored::retarget(old, &cfg.targets));
        crate::scan::refresh_same_executions_warnings(&mut inv);
        // Blind spots follow from all the evidence of an input, old and new.
        for cov in inv.files.values_mut() {
            crate::visibility::assess(cov, &cfg.logging);
        }
    }

    // The fields of `StateDoc`, the inventory's rows made as they are
    // written (the document never exists whole in memory).
    #[derive(Serialize)]
    struct Streamed<'a, I: Serialize> {
        version: u32,
        files: &'a [FileState],
        inventory: I,
    }
    let files: Vec<FileState> = files.into_values().collect();
    {
        let doc = Streamed {
            version: STATE_VERSION,
            files: &files,
            inventory: crate::report::json::streamed(&inv),
        };
        crate::write_atomically_with(state_path, &mut |w| {
            serde_json::to_writer_pretty(&mut *w, &doc).map_err(std::io::Error::other)?;
            w.write_all(b"\n")
        })
        .map_err(|e| StateError::Write {
            path: spath,
            source: e,
        })?;
    }
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stored::tests::{cases, damaged_texts, document, sample, text_in_order, ORDERS};

    /// How a state file was read before its inventory was read row by row:
    /// the version of the whole text, then the whole [`StateDoc`], then
    /// `from_doc` as it was.
    fn read_whole(name: &str, bytes: &[u8]) -> Result<(Vec<FileState>, Inventory), StateError> {
        let version = stored::top_level_version(bytes).map_err(|e| json_err(name, &e))?;
        if version.as_ref().and_then(serde_json::Value::as_u64) != Some(u64::from(STATE_VERSION)) {
            return Err(StateError::Version {
                path: name.to_string(),
                found: version.map_or_else(|| "missing".to_string(), |v| v.to_string()),
            });
        }
        let doc: StateDoc = serde_json::from_slice(bytes).map_err(|e| json_err(name, &e))?;
        let inv = stored::tests::from_doc_whole(&doc.inventory).map_err(|message| {
            StateError::Inventory {
                path: name.to_string(),
                message,
            }
        })?;
        Ok((doc.files, inv))
    }

    fn outcome(r: Result<Option<(Vec<FileState>, Inventory)>, StateError>) -> String {
        match r {
            Ok(Some((files, inv))) => {
                let mut out = serde_json::to_string(&files).unwrap();
                crate::report::json::write(&inv, unsafe_vec(&mut out)).unwrap();
                out
            }
            Ok(None) => "none".to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    fn unsafe_vec(s: &mut String) -> &mut Vec<u8> {
        // SAFETY: only JSON (UTF-8) is written to it.
        unsafe { s.as_mut_vec() }
    }

    fn file_state() -> serde_json::Value {
        serde_json::to_value(FileState {
            path: "a.log".into(),
            device: 1,
            inode: 2,
            size: 100,
            compression: None,
            offset: 100,
            lines: 9,
            head_len: 100,
            head_sha256: "ab".repeat(32),
            format: "stderr".into(),
            log_line_prefix: Some("%m ".into()),
        })
        .unwrap()
    }

    /// A state text, its keys in `order`, the inventory's keys in `inner`.
    fn state_text(
        version: serde_json::Value,
        files: Option<serde_json::Value>,
        inventory: &str,
        order: &[&str],
    ) -> String {
        let mut fields = vec![("version", version.to_string())];
        if let Some(f) = files {
            fields.push(("files", f.to_string()));
        }
        fields.push(("inventory", inventory.to_string()));
        fields.sort_by_key(|(k, _)| order.iter().position(|o| o == k));
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("\"{k}\": {v}"))
            .collect();
        format!("{{\n{}\n}}\n", body.join(",\n"))
    }

    #[test]
    fn a_state_from_a_pipe_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let good = text_in_order(&document(&sample()), &[]);
        let files = serde_json::json!([file_state()]);
        for text in [
            state_text(serde_json::json!(1), Some(files.clone()), &good, &[]),
            state_text(serde_json::json!(1), Some(files), "[1]", &[]),
        ] {
            let writer = {
                let (fifo, text) = (fifo.clone(), text.clone());
                std::thread::spawn(move || std::fs::write(fifo, text).unwrap())
            };
            let (tx, rx) = std::sync::mpsc::channel();
            {
                let fifo = fifo.clone();
                std::thread::spawn(move || tx.send(outcome(load(&fifo))));
            }
            let from_pipe = rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("reading the pipe hangs: it was opened a second time")
                .replace(&fifo.display().to_string(), "s.json");
            writer.join().unwrap();
            assert_eq!(
                from_pipe,
                outcome(read_whole("s.json", text.as_bytes()).map(Some))
            );
        }
    }

    #[test]
    fn a_state_read_row_by_row_gives_what_the_whole_state_gave() {
        use serde_json::json;
        let files = json!([file_state()]);
        let mut texts = Vec::new();
        for (what, v) in cases() {
            for inner in ORDERS {
                let inventory = text_in_order(&v, inner);
                for order in [
                    &["version", "files", "inventory"][..],
                    &["inventory", "files", "version"],
                ] {
                    texts.push((
                        what.to_string(),
                        state_text(json!(1), Some(files.clone()), &inventory, order),
                    ));
                }
            }
        }
        for t in damaged_texts() {
            texts.push((
                format!("damaged inventory: {t:.60}"),
                state_text(json!(1), Some(files.clone()), &t, &[]),
            ));
        }
        let good = text_in_order(&document(&sample()), &[]);
        let mut bad_file = file_state();
        bad_file["inode"] = json!("x");
        for (what, text) in [
            (
                "state version 2",
                state_text(json!(2), Some(files.clone()), &good, &[]),
            ),
            ("no files", state_text(json!(1), None, &good, &[])),
            (
                "bad file",
                state_text(json!(1), Some(json!([bad_file])), &good, &[]),
            ),
            (
                "unknown field",
                state_text(json!(1), Some(files.clone()), &good, &[]).replacen(
                    "\"files\"",
                    "\"other\": 1,\n\"files\"",
                    1,
                ),
            ),
            (
                "files twice",
                state_text(json!(1), Some(files.clone()), &good, &[]).replacen(
                    "\"files\"",
                    "\"files\": [],\n\"files\"",
                    1,
                ),
            ),
            ("not an object", "[1, [], {}]".to_string()),
            (
                "trailing",
                state_text(json!(1), Some(files.clone()), &good, &[]) + "]",
            ),
        ] {
            texts.push((what.to_string(), text));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut outcomes = BTreeSet::new();
        for (what, text) in &texts {
            std::fs::write(&path, text).unwrap();
            let whole = outcome(read_whole("s.json", text.as_bytes()).map(Some));
            let read = outcome(load(&path)).replace(&path.display().to_string(), "s.json");
            assert_eq!(read, whole, "{what}:\n{text}");
            outcomes.insert(whole.lines().next().unwrap_or_default().to_string());
        }
        for expected in [
            "error: s.json: the stored inventory: dependencies[2]: column `public.users.nope` is not a target",
            "error: s.json: the stored inventory: dependencies[4]: the same dependency row appears twice",
            "error: s.json: state version 2 is not supported (this pgcontract reads version 1); start a new state file",
        ] {
            assert!(outcomes.contains(expected), "{expected} not among {outcomes:#?}");
        }
        assert!(
            outcomes
                .iter()
                .any(|e| e.starts_with("error: s.json: line ")
                    && e.contains("missing field `files`")),
            "{outcomes:#?}"
        );
        assert!(
            outcomes.iter().any(|e| e.starts_with("[{")),
            "{outcomes:#?}"
        );
        assert_eq!(outcome(load(&dir.path().join("none.json"))), "none");
    }
}
