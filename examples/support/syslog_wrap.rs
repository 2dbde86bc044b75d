//! Re-wraps a PostgreSQL stderr log (`%m [%p] …` prefix) as a syslog daemon
//! stores what PostgreSQL sends it with `log_destination = syslog`: every
//! line of a record, and every piece of a longer line (900 bytes, or back
//! to the last white space before, as PostgreSQL cuts it), becomes a
//! line of its own with an ISO header and a `[seq-chunk]` tag, control
//! characters escaped as `#ooo` (a tab is `#011`). The pieces of a few
//! records of different processes are interleaved, as concurrent backends
//! do. Shared by `examples/genlog.rs --format syslog` and tests/chunking.rs.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};

/// PostgreSQL's `PG_SYSLOG_LIMIT`: the longest piece.
const PIECE_BYTES: usize = 900;

/// One stderr record on its way out as syslog lines.
struct Message {
    pid: String,
    header: String,
    seq: u64,
    pieces: VecDeque<String>,
    chunk: u64,
}

/// A writer taking a stderr log and writing it to `out` as syslog.
pub struct SyslogWriter<W: Write> {
    out: W,
    /// Bytes of a line not ended yet.
    partial: Vec<u8>,
    /// The lines of the record being read.
    record: Vec<String>,
    /// Records read, not started yet.
    queue: VecDeque<Vec<String>>,
    /// Messages being written, a piece of each in turn.
    active: Vec<Message>,
    turn: usize,
    /// Messages at most in progress at once.
    concurrency: usize,
    /// The last sequence number of each process.
    seq: HashMap<String, u64>,
}

impl<W: Write> SyslogWriter<W> {
    /// Writes to `out`, interleaving the pieces of up to `concurrency`
    /// records of different processes.
    pub fn new(out: W, concurrency: usize) -> Self {
        Self {
            out,
            partial: Vec::new(),
            record: Vec::new(),
            queue: VecDeque::new(),
            active: Vec::new(),
            turn: 0,
            concurrency: concurrency.max(1),
            seq: HashMap::new(),
        }
    }

    /// Writes what is left and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.partial.is_empty() {
            let line = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
            self.line(line)?;
        }
        if !self.record.is_empty() {
            let r = std::mem::take(&mut self.record);
            self.queue.push_back(r);
        }
        while !self.queue.is_empty() || !self.active.is_empty() {
            self.start_waiting();
            self.write_piece()?;
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn line(&mut self, line: String) -> io::Result<()> {
        if !line.starts_with('\t') && !self.record.is_empty() {
            let r = std::mem::take(&mut self.record);
            self.queue.push_back(r);
            // Write pieces until the queue can take more.
            while !self.queue.is_empty() {
                if !self.start_waiting() {
                    self.write_piece()?;
                }
            }
        }
        self.record.push(line);
        Ok(())
    }

    /// Starts queued records while there is room and the next one's
    /// process has no message in progress; true when the queue is empty.
    fn start_waiting(&mut self) -> bool {
        while self.active.len() < self.concurrency {
            let Some(r) = self.queue.front() else {
                return true;
            };
            let (pid, header) = pid_and_header(r.first().map_or("", String::as_str));
            if self.active.iter().any(|m| m.pid == pid) {
                return false;
            }
            let Some(r) = self.queue.pop_front() else {
                return true;
            };
            let seq = self.seq.entry(pid.clone()).or_insert(0);
            *seq += 1;
            let mut pieces = VecDeque::new();
            for line in &r {
                let mut rest = line.as_str();
                loop {
                    let mut end = rest.len().min(PIECE_BYTES);
                    while !rest.is_char_boundary(end) {
                        end -= 1;
                    }
                    // As PostgreSQL does: a word is not cut when there is
                    // white space before it in the piece (the next piece
                    // then starts with that white space).
                    let b = rest.as_bytes();
                    let space =
                        |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
                    if b.get(end).is_some_and(|c| !space(*c)) {
                        if let Some(i) = (1..end)
                            .rev()
                            .find(|&i| b.get(i).is_some_and(|c| space(*c)))
                        {
                            end = i;
                        }
                    }
                    pieces.push_back(escape(&rest[..end]));
                    rest = &rest[end..];
                    if rest.is_empty() {
                        break;
                    }
                }
            }
            self.active.push(Message {
                pid,
                header,
                seq: *seq,
                pieces,
                chunk: 0,
            });
        }
        self.queue.is_empty()
    }

    /// Writes the next piece of the message whose turn it is.
    fn write_piece(&mut self) -> io::Result<()> {
        if self.active.is_empty() {
            return Ok(());
        }
        let i = self.turn % self.active.len();
        let m = &mut self.active[i];
        if let Some(p) = m.pieces.pop_front() {
            m.chunk += 1;
            writeln!(
                self.out,
                "{} vm postgres[{}]: [{}-{}] {}",
                m.header, m.pid, m.seq, m.chunk, p
            )?;
        }
        if m.pieces.is_empty() {
            self.active.remove(i);
        } else {
            self.turn += 1;
        }
        Ok(())
    }
}

impl<W: Write> Write for SyslogWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..nl]);
            let line = String::from_utf8_lossy(&std::mem::take(&mut self.partial)).into_owned();
            self.line(line)?;
            rest = &rest[nl + 1..];
        }
        self.partial.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The pid (`[123]`) and an ISO syslog time from a `%m [%p] ` line.
fn pid_and_header(line: &str) -> (String, String) {
    let pid = line
        .split_once(" [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(p, _)| p)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("1")
        .to_string();
    let header = match line.get(..23) {
        Some(t) if t.as_bytes().get(10) == Some(&b' ') => {
            format!("{}+00:00", t.replacen(' ', "T", 1))
        }
        _ => "2026-11-20T00:00:00.000+00:00".to_string(),
    };
    (pid, header)
}

/// A syslog daemon's escape of control characters (`#011` for a tab).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if (c as u32) < 0x20 || c == '\u{7f}' {
            out.push_str(&format!("#{:03o}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}
