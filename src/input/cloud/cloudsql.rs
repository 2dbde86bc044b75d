//! Google Cloud SQL (and AlloyDB) logs exported from Cloud Logging: JSON
//! entries, one a line (log sinks) or one array (`gcloud logging read
//! --format=json`, newest first). The server's line is in `textPayload`
//! (`[pid]: [N-1] db=…,user=… LOG:  …`, newer instances put `%m ` in front;
//! AlloyDB adds `[file.c:123]  `), the time in `timestamp`, and each
//! continuation line of a message is an entry of its own starting with a tab.

use std::io::{BufRead, Read, Seek, Write};
use std::sync::{Arc, OnceLock};

use regex::Regex;

use super::{for_each_json_value, json_str, Assembler};
use crate::input::json_stream::Keys;
use crate::input::prefix::Prefix;
use crate::input::stderr::detect_prefix;
use crate::input::LogEntry;
use crate::inventory::FileCoverage;
use crate::time::{parse_timestamp, Millis};

/// Cloud SQL's `log_line_prefix` values, newest first.
const PREFIXES: &[&str] = &[
    "%m [%p]: [%l-1] db=%d,user=%u ",
    "%t [%p]: [%l-1] db=%d,user=%u ",
    "[%p]: [%l-1] db=%d,user=%u ",
];

fn alloydb_re() -> &'static Regex {
    static R: OnceLock<Regex> = OnceLock::new();
    R.get_or_init(|| {
        Regex::new(r"^\[[A-Za-z0-9_.\-]+:\d+\]  ")
            .unwrap_or_else(|e| unreachable!("static regex: {e}"))
    })
}

/// The keys of a Cloud Logging entry that are read (the rest of an entry,
/// its `resource`, `labels`, ids and other times, is skipped unbuilt).
struct EntryKeys;

impl Keys for EntryKeys {
    const KEYS: &'static [&'static str] = &["logName", "textPayload", "timestamp"];
}

/// Payload texts held in memory at most (about), by default, before they
/// are sorted in runs on disk (see [`Sorter`]).
pub const SORT_BUDGET: usize = 16 << 20;

/// One `postgres.log` entry: where it is, its time, its text.
struct Payload {
    /// Its place among the input's payloads.
    seq: u64,
    line: u64,
    time: Option<Millis>,
    text: String,
}

impl Payload {
    /// Bytes counted against the budget.
    fn weight(&self) -> usize {
        self.text.len() + 64
    }

    fn write(&self, w: &mut impl Write) -> std::io::Result<()> {
        w.write_all(&self.seq.to_le_bytes())?;
        w.write_all(&self.line.to_le_bytes())?;
        match self.time {
            Some(t) => {
                w.write_all(&[1])?;
                w.write_all(&t.to_le_bytes())?;
            }
            None => w.write_all(&[0; 9])?,
        }
        w.write_all(&(self.text.len() as u64).to_le_bytes())?;
        w.write_all(self.text.as_bytes())
    }

    /// The next payload [`Payload::write`] wrote, `None` at the end.
    fn read(r: &mut impl Read) -> std::io::Result<Option<Self>> {
        let mut word = [0u8; 8];
        match r.read_exact(&mut word) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let seq = u64::from_le_bytes(word);
        r.read_exact(&mut word)?;
        let line = u64::from_le_bytes(word);
        let mut flag = [0u8; 1];
        r.read_exact(&mut flag)?;
        r.read_exact(&mut word)?;
        let time = (flag[0] == 1).then(|| Millis::from_le_bytes(word));
        r.read_exact(&mut word)?;
        let len = usize::try_from(u64::from_le_bytes(word)).unwrap_or(usize::MAX);
        let text = if len <= 1 << 20 {
            let mut text = vec![0; len];
            r.read_exact(&mut text)?;
            text
        } else {
            // Grown as it is read: a damaged length cannot ask for more
            // memory than the file holds.
            let mut text = Vec::new();
            r.take(len as u64).read_to_end(&mut text)?;
            if text.len() != len {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            text
        };
        let text = String::from_utf8(text).map_err(std::io::Error::other)?;
        Ok(Some(Self {
            seq,
            line,
            time,
            text,
        }))
    }
}

/// Puts the payloads in time order with bounded memory: `gcloud logging
/// read` lists newest first, and a log sink's entries are not quite in
/// order. The order is the input's (reversed when its first payload is
/// later than its last), stably sorted by time. Payloads are held until
/// they weigh about the budget; then each such batch is sorted by time and
/// place in the input and appended to one unnamed temporary file. At the
/// end (when the input is reversed, after each batch is sorted again, alone,
/// into a second file, its ties last first) the sorted batches are merged,
/// [`FAN_IN`] at a time while there are more (each merge appended to the
/// same file), the batch still in memory joining the last merge: about
/// twice the budget is held at most, and two files are open.
struct Sorter {
    budget: usize,
    batch: Vec<Payload>,
    weight: usize,
    /// Batches written out, in input order.
    spilled: Option<Spill>,
    /// Why batches could not be written out (then they stay in memory).
    spill_error: Option<String>,
    first: Option<Option<Millis>>,
    last: Option<Millis>,
    count: u64,
}

/// Batches of payloads appended to one unnamed temporary file.
struct Spill {
    file: std::fs::File,
    /// The end of what is written.
    end: u64,
    /// Where each batch is.
    runs: Vec<(u64, u64)>,
}

impl Spill {
    fn new() -> std::io::Result<Self> {
        Ok(Self {
            file: tempfile::tempfile()?,
            end: 0,
            runs: Vec::new(),
        })
    }

    /// Appends one batch, written by `write`.
    fn append(
        &mut self,
        write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        // After the last whole batch (a failed write may have left part
        // of one after it).
        (&self.file).seek(std::io::SeekFrom::Start(self.end))?;
        let mut w = std::io::BufWriter::new(&self.file);
        write(&mut w)?;
        w.flush()?;
        drop(w);
        let end = (&self.file).stream_position()?;
        self.runs.push((self.end, end));
        self.end = end;
        Ok(())
    }

    /// A reader of the batch `run`.
    fn reader(&self, (start, end): (u64, u64)) -> std::io::BufReader<Section<'_>> {
        std::io::BufReader::new(Section {
            file: &self.file,
            pos: start,
            end,
        })
    }
}

/// A part of a file, read at its own position (the file's offset is left
/// at its end for the next batch).
struct Section<'a> {
    file: &'a std::fs::File,
    pos: u64,
    end: u64,
}

impl Read for Section<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let left = usize::try_from(self.end.saturating_sub(self.pos)).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        let n = self
            .file
            .read_at(buf.get_mut(..want).unwrap_or_default(), self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Sorter {
    fn new(budget: usize) -> Self {
        Self {
            budget: budget.max(1),
            batch: Vec::new(),
            weight: 0,
            spilled: None,
            spill_error: None,
            first: None,
            last: None,
            count: 0,
        }
    }

    fn push(&mut self, line: u64, time: Option<Millis>, text: String) {
        self.first.get_or_insert(time);
        self.last = time;
        let p = Payload {
            seq: self.count,
            line,
            time,
            text,
        };
        self.count += 1;
        self.weight += p.weight();
        self.batch.push(p);
        if self.weight > self.budget && self.spill_error.is_none() {
            let mut spilled = match self.spilled.take() {
                Some(s) => s,
                None => match Spill::new() {
                    Ok(s) => s,
                    Err(e) => {
                        self.spill_error = Some(e.to_string());
                        return;
                    }
                },
            };
            // Sorted now, while the input is still being read: by time,
            // then place (the order of ties is settled when read back).
            self.batch.sort_unstable_by_key(|p| (p.time, p.seq));
            let batch = &self.batch;
            match spilled.append(|w| batch.iter().try_for_each(|p| p.write(w))) {
                Ok(()) => {
                    self.batch.clear();
                    self.weight = 0;
                }
                // The batches written before are kept (a batch counts once
                // it is whole on disk); this one and the rest stay here.
                Err(e) => self.spill_error = Some(e.to_string()),
            }
            self.spilled = Some(spilled);
        }
    }

    /// Hands every payload to `each` in order.
    fn finish(
        mut self,
        cov: &mut FileCoverage,
        mut each: impl FnMut(Payload, &mut FileCoverage),
    ) -> std::io::Result<()> {
        if let Some(e) = &self.spill_error {
            cov.notes.push(format!("the Cloud Logging entries could not be written to a temporary file to be put in time order ({e}): they were held in memory"));
        }
        let reversed = self.first.flatten() > self.last;
        let key = move |p: &Payload| (p.time, if reversed { !p.seq } else { p.seq });
        self.batch.sort_unstable_by_key(key);
        let last = Run::Memory(std::mem::take(&mut self.batch).into_iter());
        let Some(spilled) = self.spilled.take() else {
            return merge(vec![last], key, |p| {
                each(p, cov);
                Ok(())
            });
        };
        // Each batch was written out sorted by time and place: in the
        // order of `key`, unless the input is reversed (its ties go last
        // first). Then each batch is sorted again, alone, into a second
        // file (one batch held at a time).
        let mut sorted = if reversed {
            let mut again = Spill::new()?;
            for &run in &spilled.runs {
                let mut r = spilled.reader(run);
                let mut batch = Vec::new();
                while let Some(p) = Payload::read(&mut r)? {
                    batch.push(p);
                }
                batch.sort_unstable_by_key(key);
                again.append(|w| batch.iter().try_for_each(|p| p.write(w)))?;
            }
            again
        } else {
            spilled
        };
        // Merged `FAN_IN` at a time (what is held in memory does not grow
        // with their number), each merge appended to the same file.
        let mut runs: std::collections::VecDeque<(u64, u64)> = sorted.runs.drain(..).collect();
        while runs.len() > FAN_IN {
            let group: Vec<(u64, u64)> = runs.drain(..FAN_IN).collect();
            let start = sorted.end;
            (&sorted.file).seek(std::io::SeekFrom::Start(start))?;
            let mut w = std::io::BufWriter::new(&sorted.file);
            let readers = group.iter().map(|&r| Run::Disk(sorted.reader(r))).collect();
            merge(readers, key, |p| p.write(&mut w))?;
            w.flush()?;
            drop(w);
            let end = (&sorted.file).stream_position()?;
            sorted.end = end;
            runs.push_back((start, end));
        }
        let mut readers: Vec<Run<'_>> = runs.iter().map(|&r| Run::Disk(sorted.reader(r))).collect();
        readers.push(last);
        merge(readers, key, |p| {
            each(p, cov);
            Ok(())
        })
    }
}

/// Sorted batches on disk merged at once at most.
const FAN_IN: usize = 16;

/// A sorted batch of payloads.
enum Run<'a> {
    Disk(std::io::BufReader<Section<'a>>),
    Memory(std::vec::IntoIter<Payload>),
}

impl Run<'_> {
    fn next(&mut self) -> std::io::Result<Option<Payload>> {
        match self {
            Run::Disk(r) => Payload::read(r),
            Run::Memory(it) => Ok(it.next()),
        }
    }
}

/// Merges sorted runs, handing each payload to `each` in the order of
/// `key` (unique: a payload's place in the input is part of it).
fn merge<K: Ord>(
    mut runs: Vec<Run<'_>>,
    key: impl Fn(&Payload) -> K,
    mut each: impl FnMut(Payload) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut heads = Vec::with_capacity(runs.len());
    let mut heap = std::collections::BinaryHeap::new();
    for (i, r) in runs.iter_mut().enumerate() {
        let head = r.next()?;
        if let Some(p) = &head {
            heap.push(std::cmp::Reverse((key(p), i)));
        }
        heads.push(head);
    }
    while let Some(std::cmp::Reverse((_, i))) = heap.pop() {
        let (Some(slot), Some(r)) = (heads.get_mut(i), runs.get_mut(i)) else {
            continue;
        };
        let next = r.next()?;
        if let Some(p) = &next {
            heap.push(std::cmp::Reverse((key(p), i)));
        }
        if let Some(p) = std::mem::replace(slot, next) {
            each(p)?;
        }
    }
    Ok(())
}

/// Reads the entries, puts them in time order and reads their payloads like
/// a stderr log, holding about [`SORT_BUDGET`] bytes of them at most.
pub fn read_entries(
    reader: impl BufRead,
    forced: Option<&Prefix>,
    cov: &mut FileCoverage,
    sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    read_entries_within(reader, forced, SORT_BUDGET, cov, sink)
}

/// [`read_entries`], holding about `budget` bytes of payloads at most.
pub fn read_entries_within(
    reader: impl BufRead,
    forced: Option<&Prefix>,
    budget: usize,
    cov: &mut FileCoverage,
    sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    read_keeping::<EntryKeys>(reader, forced, budget, cov, sink)
}

/// [`read_entries_within`], keeping the keys `K` of each entry.
fn read_keeping<K: Keys>(
    reader: impl BufRead,
    forced: Option<&Prefix>,
    budget: usize,
    cov: &mut FileCoverage,
    sink: impl FnMut(LogEntry, &mut FileCoverage),
) -> Result<(), (u64, std::io::Error)> {
    let mut sorted = Sorted::new(budget);
    let res = for_each_json_value::<K>(reader, cov, |v, line, cov| {
        if let Some((time, text)) = payload_of(&v, cov) {
            sorted.sorter.push(line, time, text);
        }
    });
    sorted.entries(forced, cov, sink);
    res
}

/// The time and text of a Cloud Logging entry of `postgres.log` (its
/// `textPayload` without AlloyDB's source location and without its line
/// end); `None`, counted as skipped, for any other entry.
fn payload_of(v: &serde_json::Value, cov: &mut FileCoverage) -> Option<(Option<Millis>, String)> {
    let is_postgres = json_str(v, "logName").is_some_and(|n| n.contains("postgres.log"));
    let Some(text) = v.get("textPayload").and_then(|t| t.as_str()) else {
        cov.skip("Cloud Logging entry without textPayload");
        return None;
    };
    if !is_postgres {
        cov.skip("Cloud Logging entry of another log than postgres.log");
        return None;
    }
    let text = match alloydb_re().find(text) {
        Some(m) => text.get(m.end()..).unwrap_or(text),
        None => text,
    };
    let time = json_str(v, "timestamp")
        .and_then(|t| parse_timestamp(&t))
        .map(|t| t.millis);
    Some((time, text.trim_end_matches(['\n', '\r']).to_string()))
}

/// The payloads of one chunk of a Cloud SQL input (cut where a line starts
/// with `{`, see [`crate::input::cloud::records::next_record_start`]), read
/// on their own so that chunks can be read in parallel and then handed to
/// [`Sorted::push_chunk`] in file order.
pub struct ChunkPayloads {
    payloads: Vec<(u64, Option<Millis>, String)>,
    /// The chunk's lines, bytes, skipped entries and malformed values.
    pub cov: FileCoverage,
    /// The chunk ended between values: false when its last value was cut
    /// off by its end, or the array ended in it. Then the chunk after it
    /// does not start where a whole read would, and the input must be read
    /// in order (unless this chunk is its last).
    pub whole: bool,
}

impl ChunkPayloads {
    /// A chunk whose payloads were lost (its reader panicked), with the
    /// coverage that says so.
    pub fn lost(cov: FileCoverage) -> Self {
        Self {
            payloads: Vec::new(),
            cov,
            whole: true,
        }
    }
}

/// Reads the payloads of a chunk, numbering its lines after
/// `lines_before`; `inside_array`: the chunk is a later one of an array.
pub fn read_chunk_payloads(data: &[u8], lines_before: u64, inside_array: bool) -> ChunkPayloads {
    let mut cov = FileCoverage::default();
    let mut payloads = Vec::new();
    // Reading a byte slice cannot fail.
    let (_, whole) = super::for_each_json_value_while::<EntryKeys>(
        data,
        lines_before,
        inside_array,
        &mut cov,
        |v, line, cov| {
            if let Some((time, text)) = payload_of(&v, cov) {
                payloads.push((line, time, text));
            }
            true
        },
    );
    ChunkPayloads {
        payloads,
        cov,
        whole,
    }
}

/// The payloads of an input, given in file order, put in time order and
/// read like a stderr log, holding about a budget of them in memory.
pub struct Sorted {
    sorter: Sorter,
    budget: usize,
}

impl Sorted {
    pub fn new(budget: usize) -> Self {
        Self {
            sorter: Sorter::new(budget),
            budget,
        }
    }

    /// Adds the payloads of the next chunk, and its coverage to `cov`.
    pub fn push_chunk(&mut self, chunk: ChunkPayloads, cov: &mut FileCoverage) {
        for (line, time, text) in chunk.payloads {
            self.sorter.push(line, time, text);
        }
        cov.merge(&chunk.cov);
    }

    /// Puts the payloads in time order and hands their entries to `sink`.
    pub fn entries(
        self,
        forced: Option<&Prefix>,
        cov: &mut FileCoverage,
        mut sink: impl FnMut(LogEntry, &mut FileCoverage),
    ) {
        let mut asm = Assembler::default();
        self.lines(forced, cov, |p, prefix, cov| {
            asm.line(&p.text, p.line, p.time, prefix, cov, &mut sink);
        });
        asm.finish(cov, &mut sink);
    }

    /// Puts the payloads in time order and hands them, in batches of about
    /// `target` bytes, to `send` (until it returns false). A batch of lines
    /// ([`Batch::Lines`]) but the first starts at a line that starts an
    /// entry (it matches the prefix and is no continuation), so that reading
    /// the batches one after the other, each alone ([`LineBatch::entries`]),
    /// gives the entries one read gives: there a line that starts an entry
    /// hands on the entry before it, whatever came before. When no line has
    /// started an entry for four times `target` (lines no prefix matches, a
    /// long run of continuation lines), the lines are read into entries here
    /// instead, as one read does, until one does ([`Batch::Entries`]): what
    /// is held stays bounded.
    pub fn batches(
        self,
        forced: Option<&Prefix>,
        target: usize,
        cov: &mut FileCoverage,
        mut send: impl FnMut(Batch) -> bool,
    ) {
        let mut batch = LineBatch::default();
        let mut weight = 0usize;
        let mut open = true;
        // The prefix is decided once: every batch shares it.
        let mut shared: Option<Arc<Prefix>> = None;
        // Reading lines into entries here, and the entries read.
        let mut here: Option<Assembler> = None;
        let mut entries: Vec<LogEntry> = Vec::new();
        let mut entries_weight = 0usize;
        self.lines(forced, cov, |p, prefix, cov| {
            if !open {
                return;
            }
            let prefix = shared.get_or_insert_with(|| Arc::new(prefix.clone()));
            let starts_entry =
                |p: &Payload| !p.text.starts_with('\t') && prefix.split(&p.text).is_some();
            let mut take = |e: LogEntry, _: &mut FileCoverage| {
                entries_weight += e.message.len() + 64;
                entries.push(e);
            };
            if let Some(asm) = here.as_mut() {
                if !starts_entry(&p) {
                    asm.line(&p.text, p.line, p.time, prefix, cov, &mut take);
                    if entries_weight >= target && !entries.is_empty() {
                        entries_weight = 0;
                        open = send(Batch::Entries(std::mem::take(&mut entries)));
                    }
                    return;
                }
                // The entry open here is handed on, as the line starting
                // the next one would.
                asm.finish(cov, &mut take);
                here = None;
                entries_weight = 0;
                if !entries.is_empty() {
                    open = send(Batch::Entries(std::mem::take(&mut entries)));
                    if !open {
                        return;
                    }
                }
            } else if weight >= target {
                if starts_entry(&p) {
                    weight = 0;
                    batch.prefix = Some(prefix.clone());
                    open = send(Batch::Lines(std::mem::take(&mut batch)));
                    if !open {
                        return;
                    }
                } else if weight >= target.saturating_mul(4) {
                    // The batch started where an entry starts: read alone
                    // from there, as it would be.
                    let mut asm = Assembler::default();
                    for q in std::mem::take(&mut batch.lines).into_iter().chain([p]) {
                        asm.line(&q.text, q.line, q.time, prefix, cov, &mut take);
                    }
                    weight = 0;
                    here = Some(asm);
                    if entries_weight >= target && !entries.is_empty() {
                        entries_weight = 0;
                        open = send(Batch::Entries(std::mem::take(&mut entries)));
                    }
                    return;
                }
            }
            weight += p.weight();
            batch.lines.push(p);
        });
        if !open {
            return;
        }
        if let Some(mut asm) = here {
            asm.finish(cov, &mut |e, _| entries.push(e));
            if !entries.is_empty() {
                send(Batch::Entries(entries));
            }
        } else if !batch.lines.is_empty() {
            batch.prefix = shared;
            send(Batch::Lines(batch));
        }
    }

    /// Puts the payloads in time order and hands each to `each` with the
    /// prefix it is read under: the prefix is detected from the first 500
    /// lines (in time order) that are not continuations; they are held
    /// until then (at most about the budget of them: then it is detected
    /// from those held). Without a prefix, every line is skipped.
    fn lines(
        self,
        forced: Option<&Prefix>,
        cov: &mut FileCoverage,
        mut each: impl FnMut(Payload, &Prefix, &mut FileCoverage),
    ) {
        let mut reading = Reading {
            forced,
            held: Vec::new(),
            held_weight: 0,
            budget: self.budget,
            starts: 0,
            prefix: forced.map(|p| Some(p.clone())),
        };
        if let Some(p) = forced {
            cov.log_line_prefix = Some(p.source.clone());
        }
        let sorted = self
            .sorter
            .finish(cov, |p, cov| reading.payload(p, cov, &mut each));
        match sorted {
            Ok(()) => {
                if reading.prefix.is_none() {
                    reading.decide(cov, &mut each);
                }
            }
            Err(e) => cov.errors.push(format!(
                "the Cloud Logging entries could not be put in time order on disk ({e}): some of them were not read"
            )),
        }
    }
}

/// A part of the entries of a Cloud SQL input in time order (see
/// [`Sorted::batches`]).
pub enum Batch {
    /// Lines, read into entries on their own.
    Lines(LineBatch),
    /// Entries read from lines where no batch of lines could start.
    Entries(Vec<LogEntry>),
}

/// Payload lines of a Cloud SQL input in time order, and the prefix they
/// are read under: a part of the input read on its own (see
/// [`Sorted::batches`]).
#[derive(Default)]
pub struct LineBatch {
    prefix: Option<Arc<Prefix>>,
    lines: Vec<Payload>,
}

impl Batch {
    /// The first and last input lines of the batch's payloads or entries.
    pub fn span(&self) -> (u64, u64) {
        let (first, last) = match self {
            Batch::Lines(b) => (
                b.lines.iter().map(|p| p.line).min(),
                b.lines.iter().map(|p| p.line).max(),
            ),
            Batch::Entries(e) => (
                e.iter().map(|e| e.line).min(),
                e.iter().map(|e| e.line).max(),
            ),
        };
        let first = first.unwrap_or(1);
        (first, last.unwrap_or(first))
    }
}

impl LineBatch {
    /// Hands the entries of the batch's lines to `sink`, taking them.
    pub fn entries(
        &mut self,
        cov: &mut FileCoverage,
        mut sink: impl FnMut(LogEntry, &mut FileCoverage),
    ) {
        let Some(prefix) = self.prefix.take() else {
            return;
        };
        let mut asm = Assembler::default();
        for p in std::mem::take(&mut self.lines) {
            asm.line(&p.text, p.line, p.time, &prefix, cov, &mut sink);
        }
        asm.finish(cov, &mut sink);
    }
}

/// How many payloads the prefix is detected from.
const SAMPLE: usize = 500;

/// Payloads in time order, handed on with their prefix once it is known.
struct Reading<'a> {
    forced: Option<&'a Prefix>,
    /// Payloads before the prefix is decided, and what they weigh.
    held: Vec<Payload>,
    held_weight: usize,
    budget: usize,
    /// Held payloads that are not continuations.
    starts: usize,
    /// The prefix, once decided (`Some(None)`: none matches).
    prefix: Option<Option<Prefix>>,
}

impl Reading<'_> {
    fn payload(
        &mut self,
        p: Payload,
        cov: &mut FileCoverage,
        each: &mut impl FnMut(Payload, &Prefix, &mut FileCoverage),
    ) {
        if self.prefix.is_none() {
            if !p.text.starts_with('\t') {
                self.starts += 1;
            }
            self.held_weight += p.weight();
            self.held.push(p);
            if self.starts >= SAMPLE || self.held_weight > self.budget {
                self.decide(cov, each);
            }
            return;
        }
        self.read(p, cov, each);
    }

    fn read(
        &mut self,
        p: Payload,
        cov: &mut FileCoverage,
        each: &mut impl FnMut(Payload, &Prefix, &mut FileCoverage),
    ) {
        match self.prefix.as_ref().and_then(Option::as_ref) {
            Some(prefix) => each(p, prefix, cov),
            None => crate::input::skip_unmatched(cov, &p.text),
        }
    }

    /// Detects the prefix from the held payloads and reads them.
    fn decide(
        &mut self,
        cov: &mut FileCoverage,
        each: &mut impl FnMut(Payload, &Prefix, &mut FileCoverage),
    ) {
        let sample: Vec<&str> = self
            .held
            .iter()
            .map(|p| p.text.as_str())
            .filter(|t| !t.starts_with('\t'))
            .take(SAMPLE)
            .collect();
        let prefix = self.forced.cloned().or_else(|| {
            PREFIXES
                .iter()
                .filter_map(|p| Prefix::compile_known(p).ok())
                .map(|p| {
                    let hits = sample.iter().filter(|l| p.split(l).is_some()).count();
                    (hits, p)
                })
                .filter(|(hits, _)| *hits > 0)
                .max_by_key(|(hits, _)| *hits)
                .map(|(_, p)| p)
                .or_else(|| detect_prefix(&sample))
        });
        match &prefix {
            Some(p) => cov.log_line_prefix = Some(p.source.clone()),
            None => cov
                .errors
                .push("no textPayload matches a Cloud SQL or other known log_line_prefix".into()),
        }
        self.prefix = Some(prefix);
        for p in std::mem::take(&mut self.held) {
            self.read(p, cov, each);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading only the keys of [`EntryKeys`] reads every entry as reading
    /// whole entries does: the fixtures (both framings), and copies whose
    /// entries carry the read keys inside skipped values, twice, with
    /// other types, or not at all.
    #[test]
    fn entries_read_with_only_the_keys_read_as_whole_entries() {
        use crate::input::json_stream::AllKeys;
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/cloud/");
        let ndjson = std::fs::read_to_string(format!("{root}cloudsql.ndjson")).unwrap();
        let array = std::fs::read_to_string(format!("{root}cloudsql.json")).unwrap();
        let odd = ndjson
            .lines()
            .enumerate()
            .map(|(i, l)| match i % 5 {
                0 => l.replacen("{", r#"{"labels":{"textPayload":"x","timestamp":1},"#, 1),
                1 => l.replacen(r#""textPayload":"#, r#""textPayload":7,"textPayload":"#, 1),
                2 => l.replacen(r#""timestamp":"#, r#""timestamp":null,"x":"#, 1),
                3 => l.replacen(r#""logName":"#, r#""logName":["a"],"y":"#, 1),
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let mut entries = 0;
        for text in [&ndjson, &array, &odd] {
            let read_as = |whole: bool| {
                let mut cov = FileCoverage::default();
                let mut out = Vec::new();
                let sink = |e, _: &mut FileCoverage| out.push(e);
                let res = if whole {
                    read_keeping::<AllKeys>(text.as_bytes(), None, SORT_BUDGET, &mut cov, sink)
                } else {
                    read_entries(text.as_bytes(), None, &mut cov, sink)
                };
                assert!(res.is_ok());
                (out, cov)
            };
            let (pruned, whole) = (read_as(false), read_as(true));
            assert_eq!(pruned, whole);
            entries += pruned.0.len();
        }
        assert!(entries > 300, "{entries}");
    }

    /// The order of the payloads as the reader of old put them: the input
    /// reversed when its first time is later than its last, then stably
    /// sorted by time.
    fn reference(mut v: Vec<(Option<Millis>, String)>) -> Vec<String> {
        if v.first().and_then(|p| p.0) > v.last().and_then(|p| p.0) {
            v.reverse();
        }
        v.sort_by_key(|p| p.0);
        v.into_iter().map(|p| p.1).collect()
    }

    fn sorted(v: &[(Option<Millis>, String)], budget: usize) -> (Vec<String>, FileCoverage) {
        let mut s = Sorter::new(budget);
        for (n, (t, text)) in v.iter().enumerate() {
            s.push(n as u64 + 1, *t, text.clone());
        }
        let mut cov = FileCoverage::default();
        let mut out = Vec::new();
        s.finish(&mut cov, |p, _| out.push(p.text)).unwrap();
        (out, cov)
    }

    #[test]
    fn payloads_sorted_on_disk_come_in_the_order_sorted_in_memory() {
        // Times drawn from a few values (many ties), some missing, in an
        // order that rises, falls or is shuffled; budgets that keep
        // everything, spill every payload alone (more batches than are
        // merged at once: merged in several passes), or a few at a time.
        let mut seed = 7u64;
        let mut rnd = |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % n
        };
        for shape in 0..3 {
            let mut v: Vec<(Option<Millis>, String)> = (0..700)
                .map(|i| {
                    let t = match rnd(10) {
                        0 => None,
                        _ => Some(i as Millis / 9 + rnd(3) as Millis),
                    };
                    (t, format!("payload {i} {}", "x".repeat(rnd(40) as usize)))
                })
                .collect();
            match shape {
                0 => {}
                1 => v.reverse(),
                _ => {
                    let mut keyed: Vec<_> = v.into_iter().map(|p| (rnd(1000), p)).collect();
                    keyed.sort_by_key(|k| k.0);
                    v = keyed.into_iter().map(|k| k.1).collect();
                }
            }
            let want = reference(v.clone());
            for budget in [usize::MAX, 1, 500, 20_000] {
                let (got, cov) = sorted(&v, budget);
                assert_eq!(got, want, "shape {shape}, budget {budget}");
                assert!(cov.notes.is_empty() && cov.errors.is_empty());
            }
        }
    }

    #[test]
    fn cloud_sql_entries_read_the_same_whatever_the_budget() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/cloud/");
        for file in ["cloudsql.json", "cloudsql.ndjson"] {
            let text = std::fs::read_to_string(format!("{dir}{file}")).unwrap();
            let read = |budget: usize| {
                let mut cov = FileCoverage::default();
                let mut out = Vec::new();
                read_entries_within(text.as_bytes(), None, budget, &mut cov, |e, _| out.push(e))
                    .unwrap();
                (out, cov)
            };
            let (want, want_cov) = read(usize::MAX);
            assert!(want.len() > 100, "{file}: {}", want.len());
            for budget in [1, 300, 4096] {
                let (got, cov) = read(budget);
                assert_eq!(got, want, "{file}, budget {budget}");
                assert_eq!(cov, want_cov, "{file}, budget {budget}");
            }
        }
    }

    /// The payloads of `text` (whole), held for sorting within `budget`.
    fn sorted_payloads(text: &str, budget: usize) -> Sorted {
        let mut sorted = Sorted::new(budget);
        let mut cov = FileCoverage::default();
        sorted.push_chunk(read_chunk_payloads(text.as_bytes(), 0, false), &mut cov);
        sorted
    }

    #[test]
    fn batches_read_alone_give_the_entries_of_one_read() {
        // Cut as small as every entry start, each batch read by an
        // assembler of its own gives the entries (and skipped lines) one
        // read gives. The odd copy holds, after an entry, a line that no
        // prefix matches and then a continuation: in one read the
        // continuation joins the entry before the stray line, so a batch
        // may not start at the stray line (a continuation at the start of
        // a batch would be read as a stray line too).
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/cloud/");
        let ndjson = std::fs::read_to_string(format!("{root}cloudsql.ndjson")).unwrap();
        let array = std::fs::read_to_string(format!("{root}cloudsql.json")).unwrap();
        let entry = |ts: &str, payload: &str| {
            serde_json::json!({
                "logName": "projects/p/logs/cloudsql.googleapis.com%2Fpostgres.log",
                "textPayload": payload,
                "timestamp": ts,
            })
            .to_string()
        };
        let mut odd = String::new();
        // Lines that stop matching the prefix (the server's prefix changed)
        // and a long run of continuation lines: no batch of lines may start
        // there, and what a batch holds stays bounded.
        let mut changed = String::new();
        for i in 0..2000 {
            let ts = format!("2024-05-01T10:{:02}:{:02}.000Z", i / 60, i % 60);
            let payload = match i {
                0..600 => format!("[42]: [{i}-1] db=app,user=alice LOG:  statement: SELECT {i}"),
                600..1000 => format!("\t, column_{i}"),
                _ => format!("2024-05-01 10:00:00.000 UTC [42]: [{i}-1] db=app,user=alice LOG:  statement: SELECT {i}"),
            };
            changed.push_str(&entry(&ts, &payload));
            changed.push('\n');
        }
        for i in 0..40 {
            let ts = |ms: u32| format!("2024-05-01T10:00:{:02}.{ms:03}Z", i);
            let lines = [
                entry(
                    &ts(0),
                    "[42]: [3-1] db=app,user=alice LOG:  statement: SELECT a",
                ),
                entry(&ts(1), "not a line of the server"),
                entry(&ts(2), "	FROM t"),
                entry(&ts(3), "	WHERE b = 1"),
                entry(&ts(4), ""),
                entry(&ts(5), "	, c"),
            ];
            odd.push_str(&lines.join("\n"));
            odd.push('\n');
        }
        for text in [&ndjson, &array, &odd, &changed] {
            let mut want_cov = FileCoverage::default();
            let mut want = Vec::new();
            sorted_payloads(text, SORT_BUDGET).entries(None, &mut want_cov, |e, _| want.push(e));
            assert!(want.len() >= 40, "{}", want.len());
            for target in [0, 1, 300, 5000, usize::MAX] {
                let mut cov = FileCoverage::default();
                let mut batches = Vec::new();
                sorted_payloads(text, SORT_BUDGET).batches(None, target, &mut cov, |b| {
                    batches.push(b);
                    true
                });
                if target == 0 {
                    assert!(batches.len() >= want.len(), "{} batches", batches.len());
                }
                let mut got = Vec::new();
                let mut lines_read_here = 0;
                for b in batches {
                    match b {
                        Batch::Lines(mut b) => {
                            // Each payload weighs at least 64 bytes.
                            let most = target.saturating_mul(4) / 64 + 2;
                            assert!(b.lines.len() <= most, "{} lines", b.lines.len());
                            b.entries(&mut cov, |e, _| got.push(e));
                        }
                        Batch::Entries(e) => {
                            lines_read_here += e.len();
                            got.extend(e);
                        }
                    }
                }
                if std::ptr::eq(text, &changed) && target == 300 {
                    assert!(lines_read_here > 0);
                }
                assert_eq!(got, want, "target {target}");
                assert_eq!(cov, want_cov, "target {target}");
            }
        }
    }

    /// Reads the batches of `sorted` (sending stops after `stop` batches)
    /// into entries and coverage, checking that no batch comes after a
    /// refused one.
    fn read_batches(
        sorted: Sorted,
        forced: Option<&Prefix>,
        target: usize,
        stop: usize,
    ) -> (Vec<LogEntry>, FileCoverage) {
        let mut cov = FileCoverage::default();
        let mut read = FileCoverage::default();
        let mut got = Vec::new();
        let mut sent = 0;
        sorted.batches(forced, target, &mut cov, |b| {
            assert!(sent < stop, "a batch after a refused one");
            sent += 1;
            match b {
                Batch::Lines(mut b) => b.entries(&mut read, |e, _| got.push(e)),
                Batch::Entries(e) => got.extend(e),
            }
            sent < stop
        });
        cov.merge(&read);
        (got, cov)
    }

    #[test]
    fn batches_read_alone_give_the_entries_of_one_read_however_lines_alternate() {
        // Stretches of lines that start entries, continuation runs, lines
        // no prefix matches and blank lines, in turn, a continuation first;
        // in time order, newest first, or without times; the prefix forced,
        // detected from the first 500 lines, or from fewer (the budget);
        // sending stopped after any batch: the entries are those of one
        // read, or the first of them.
        let entry = |ts: Option<String>, payload: &str| {
            let mut e = serde_json::json!({
                "logName": "projects/p/logs/cloudsql.googleapis.com%2Fpostgres.log",
                "textPayload": payload,
            });
            if let Some(ts) = ts {
                e["timestamp"] = ts.into();
            }
            e.to_string()
        };
        let mut seed = 11u64;
        let mut rnd = |n: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % n
        };
        let forced = Prefix::compile("[%p]: [%l-1] db=%d,user=%u ").unwrap();
        for order in 0..3 {
            let mut lines = Vec::new();
            let mut i = 0u64;
            while lines.len() < 1500 {
                // Lines that start entries first: the prefix is found
                // from the first lines, even when few are held.
                let kind = if lines.is_empty() { 0 } else { rnd(4) };
                let run = 1 + rnd(40);
                for _ in 0..run {
                    i += 1;
                    let payload = match (lines.is_empty(), kind) {
                        (true, _) | (_, 1) => format!("\t, column_{i}"),
                        (_, 0) => format!(
                            "[{}]: [{i}-1] db=app,user=u{} LOG:  statement: SELECT {i}",
                            40 + i % 3,
                            i % 5
                        ),
                        (_, 2) => format!("not a line of the server {i}"),
                        _ => String::new(),
                    };
                    let ts = match order {
                        0 => Some(format!(
                            "2024-05-01T10:{:02}:{:02}.000Z",
                            i / 60 % 60,
                            i % 60
                        )),
                        1 => Some(format!(
                            "2024-05-01T11:{:02}:{:02}.000Z",
                            59 - i / 60 % 60,
                            59 - i % 60
                        )),
                        _ => None,
                    };
                    lines.push(entry(ts, &payload));
                }
            }
            let text = lines.join("\n");
            for budget in [SORT_BUDGET, 3000] {
                for forced in [None, Some(&forced)] {
                    let mut want_cov = FileCoverage::default();
                    let mut want = Vec::new();
                    sorted_payloads(&text, budget)
                        .entries(forced, &mut want_cov, |e, _| want.push(e));
                    assert!(
                        want.len() > 100,
                        "order {order}, budget {budget}: {}",
                        want.len()
                    );
                    for target in [0, 1, 200, 3000] {
                        let (got, cov) = read_batches(
                            sorted_payloads(&text, budget),
                            forced,
                            target,
                            usize::MAX,
                        );
                        let case = format!(
                            "order {order}, budget {budget}, forced {}, target {target}",
                            forced.is_some()
                        );
                        assert_eq!(got, want, "{case}");
                        assert_eq!(cov.skipped, want_cov.skipped, "{case}");
                        assert_eq!(cov.log_line_prefix, want_cov.log_line_prefix, "{case}");
                        for stop in [1, 2, 7] {
                            let (got, _) =
                                read_batches(sorted_payloads(&text, budget), forced, target, stop);
                            assert_eq!(got[..], want[..got.len()], "{case}, stopped after {stop}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn newest_first_entries_with_tab_continuations_are_put_back_together() {
        let e = |ts: &str, payload: &str| {
            serde_json::json!({
                "logName": "projects/p/logs/cloudsql.googleapis.com%2Fpostgres.log",
                "resource": {"type": "cloudsql_database"},
                "textPayload": payload,
                "timestamp": ts,
            })
        };
        let entries = vec![
            e("2024-05-01T10:00:01.000001Z", "\tFROM t"),
            e("2024-05-01T10:00:01Z", "[42]: [3-1] db=app,user=alice LOG:  statement: SELECT a"),
            e("2024-05-01T10:00:00Z", "[42]: [2-1] db=app,user=alice LOG:  connection authorized: user=alice database=app application_name=psql"),
        ];
        let json = serde_json::to_string_pretty(&entries).unwrap();
        let mut cov = FileCoverage::default();
        let mut out = Vec::new();
        read_entries(json.as_bytes(), None, &mut cov, |e, _| out.push(e)).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].message, "statement: SELECT a\nFROM t");
        assert_eq!(out[1].user.as_deref(), Some("alice"));
        assert_eq!(out[1].time, Some(1_714_557_601_000));
        assert_eq!(
            cov.log_line_prefix.as_deref(),
            Some("[%p]: [%l-1] db=%d,user=%u ")
        );
    }
}
