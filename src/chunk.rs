//! Cutting an input stream into chunks at record boundaries, so that the
//! chunks of one large file can be scanned in parallel: the reader (and the
//! decompressor behind it) runs on its own thread while the chunks are
//! analysed. Each format says where a record may start (a
//! [`RecordStart`] function); formats without one are read sequentially.

use std::io::{self, BufRead};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Finds the first record start at or after byte `from` of `buf`, looking
/// only at complete lines (ending with `\n`); `None` when there is none yet.
/// A position it returns must be where a sequential reader would start a
/// new record whatever came before.
pub type RecordStart<'a> = &'a (dyn Fn(&[u8], usize) -> Option<usize> + Sync);

/// A piece of an input that starts at a record boundary.
#[derive(Debug)]
pub struct Chunk {
    /// 0-based position in the input.
    pub index: usize,
    /// Lines before this chunk (line numbers continue from here).
    pub lines_before: u64,
    /// The bytes.
    pub data: Vec<u8>,
    /// The `\n` bytes of `data` ([`count_lines`]), counted once, as it is
    /// cut.
    pub lines: u64,
    /// The last chunk of the input (the next one, if any, starts at a
    /// record start).
    pub last: bool,
}

/// Default chunk size: large enough that per-chunk costs vanish, small
/// enough that a few chunks per thread stay in memory.
pub const DEFAULT_CHUNK_BYTES: usize = 4 << 20;

/// Bounds the chunks of one input that are in memory at once: the reader
/// may hand out chunk `i` only once every chunk before `i - cap` has been
/// settled (scanned and folded in file order). A slow chunk therefore holds
/// back the reader instead of letting finished chunks pile up behind it, so
/// at most `cap` chunks (read, being scanned, or waiting for an earlier one)
/// exist at any time, whatever the size of the input.
#[derive(Debug)]
pub struct InFlight {
    cap: usize,
    state: Mutex<Gate>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Gate {
    /// Chunks `0..settled` are settled.
    settled: usize,
    /// The consumer stopped (finished or unwound): never wait again.
    closed: bool,
}

impl InFlight {
    /// A gate letting at most `cap` (at least 1) chunks be in flight.
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            state: Mutex::new(Gate::default()),
            changed: Condvar::new(),
        }
    }

    /// The most chunks in flight at once.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Blocks until chunk `index` may be read: fewer than `cap` chunks before
    /// it are unsettled. Returns false when the consumer has stopped.
    pub fn admit(&self, index: usize) -> bool {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if g.closed {
                return false;
            }
            if index < g.settled + self.cap {
                return true;
            }
            // The timeout only guards against a lost wake-up.
            g = self
                .changed
                .wait_timeout(g, Duration::from_millis(200))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Chunks `0..settled` are settled.
    pub fn settled(&self, settled: usize) {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        g.settled = g.settled.max(settled);
        self.changed.notify_all();
    }

    /// The consumer stopped: wakes and releases the reader for good.
    pub fn close(&self) {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        g.closed = true;
        self.changed.notify_all();
    }

    /// Closes the gate when dropped while unwinding from a panic, so that
    /// the reader never waits for a chunk that will not be settled.
    pub fn close_on_panic(&self) -> impl Drop + '_ {
        struct Closer<'a>(&'a InFlight);
        impl Drop for Closer<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.close();
                }
            }
        }
        Closer(self)
    }

    /// Closes the gate when dropped (also when unwinding from a panic), so
    /// the reader never waits for a consumer that is gone.
    pub fn closer(&self) -> impl Drop + '_ {
        struct Closer<'a>(&'a InFlight);
        impl Drop for Closer<'_> {
            fn drop(&mut self) {
                self.0.close();
            }
        }
        Closer(self)
    }
}

/// The start of the line holding byte `pos` (or `pos` if it starts one).
fn line_start_at_or_after(buf: &[u8], pos: usize) -> Option<usize> {
    if pos == 0 {
        return Some(0);
    }
    let nl = memchr(b'\n', buf.get(pos - 1..)?)?;
    Some(pos + nl)
}

pub use memchr::memchr;

/// Counts `\n` bytes.
pub fn count_lines(buf: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', buf).count() as u64
}

/// Reads `reader` to the end, sending chunks of about `target` bytes cut
/// where `start` finds a record start. Stops early when `send` returns
/// false. On a read error, the complete lines read before it are still
/// sent, and the error comes back with their number.
pub fn cut(
    reader: impl BufRead,
    target: usize,
    start: RecordStart<'_>,
    send: impl FnMut(Chunk) -> bool,
) -> Result<(), (u64, io::Error)> {
    cut_with(reader, target, start, false, send)
}

/// [`cut`]; with `keep_partial`, the incomplete last line read before a
/// read error is sent too (in the last chunk), as a reader of JSON values,
/// which does not read by lines, would see it.
pub fn cut_with(
    mut reader: impl BufRead,
    target: usize,
    start: RecordStart<'_>,
    keep_partial: bool,
    mut send: impl FnMut(Chunk) -> bool,
) -> Result<(), (u64, io::Error)> {
    let target = target.max(1);
    let capacity = target.min(DEFAULT_CHUNK_BYTES) + (256 << 10);
    let mut buf: Vec<u8> = Vec::with_capacity(capacity);
    let mut search_from = target;
    let mut index = 0usize;
    let mut lines_before = 0u64;
    let mut emit = |data: Vec<u8>, last: bool, lines_before: &mut u64, index: &mut usize| {
        let lines = count_lines(&data);
        let ok = send(Chunk {
            index: *index,
            lines_before: *lines_before,
            data,
            lines,
            last,
        });
        *index += 1;
        *lines_before += lines;
        ok
    };
    loop {
        let (n, err) = match reader.fill_buf() {
            Ok(b) => {
                buf.extend_from_slice(b);
                (b.len(), None)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => (0, Some(e)),
        };
        reader.consume(n);
        if let Some(e) = err {
            // As a line-by-line reader does, drop the incomplete last line.
            if !keep_partial {
                buf.truncate(memchr::memrchr(b'\n', &buf).map_or(0, |p| p + 1));
            }
            let lines = lines_before + count_lines(&buf);
            if !buf.is_empty() {
                emit(buf, true, &mut lines_before, &mut index);
            }
            return Err((lines, e));
        }
        if n == 0 {
            if !buf.is_empty() {
                emit(buf, true, &mut lines_before, &mut index);
            }
            return Ok(());
        }
        while buf.len() > search_from {
            let Some(from) = line_start_at_or_after(&buf, search_from) else {
                break;
            };
            match start(&buf, from) {
                Some(cut_at) if cut_at > 0 => {
                    let mut rest = Vec::with_capacity(capacity);
                    rest.extend_from_slice(buf.get(cut_at..).unwrap_or_default());
                    buf.truncate(cut_at);
                    let data = std::mem::replace(&mut buf, rest);
                    if !emit(data, false, &mut lines_before, &mut index) {
                        return Ok(());
                    }
                    search_from = target;
                }
                _ => {
                    // Every complete line from `from` on was rejected; look
                    // again from the last (incomplete) line when more comes.
                    search_from = memchr::memrchr(b'\n', &buf)
                        .map_or(buf.len(), |p| p + 1)
                        .max(from);
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_not_tab(buf: &[u8], from: usize) -> Option<usize> {
        let mut pos = from;
        while pos < buf.len() {
            let end = pos + memchr(b'\n', &buf[pos..])?;
            if buf[pos] != b'\t' {
                return Some(pos);
            }
            pos = end + 1;
        }
        None
    }

    #[test]
    fn chunks_start_at_record_starts_and_lose_nothing() {
        let text = "a1\n\tb\n\tc\nd2\ne3\n\tf\n\tg\n\th\ni4\n".repeat(37);
        for target in [1, 2, 3, 5, 8, 13, 100, 10_000] {
            let mut chunks = Vec::new();
            cut(
                io::BufReader::with_capacity(7, text.as_bytes()),
                target,
                &lines_not_tab,
                |c| {
                    chunks.push(c);
                    true
                },
            )
            .unwrap();
            let joined: Vec<u8> = chunks.iter().flat_map(|c| c.data.clone()).collect();
            assert_eq!(joined, text.as_bytes(), "target {target}");
            let mut lines = 0;
            for (i, c) in chunks.iter().enumerate() {
                assert_eq!(c.index, i);
                assert_eq!(c.lines_before, lines);
                assert_eq!(c.last, i + 1 == chunks.len());
                assert_ne!(c.data[0], b'\t', "target {target}");
                lines += count_lines(&c.data);
            }
            if target == 1 {
                // Every record is a chunk of its own.
                assert_eq!(chunks.len(), 4 * 37);
            }
        }
    }

    #[test]
    fn read_error_keeps_what_came_before() {
        struct Failing(usize);
        impl io::Read for Failing {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("damaged"));
                }
                self.0 -= 1;
                out[..3].copy_from_slice(b"x\n\t");
                Ok(3)
            }
        }
        let mut got = Vec::new();
        let err = cut(io::BufReader::new(Failing(4)), 4, &lines_not_tab, |c| {
            got.extend(c.data);
            true
        })
        .unwrap_err();
        // The incomplete last line (`\t`) is dropped.
        assert_eq!(got, b"x\n\tx\n\tx\n\tx\n");
        assert_eq!(err.0, 4);
    }
    #[test]
    fn in_flight_gate_holds_the_reader_back_until_earlier_chunks_settle() {
        let gate = InFlight::new(2);
        assert!(gate.admit(0));
        assert!(gate.admit(1));
        let admitted = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 2..5 {
                    assert!(gate.admit(i));
                    admitted.store(i, std::sync::atomic::Ordering::SeqCst);
                }
                // The consumer is gone: the reader is released, refused.
                assert!(!gate.admit(100));
            });
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(admitted.load(std::sync::atomic::Ordering::SeqCst), 0);
            gate.settled(1);
            while admitted.load(std::sync::atomic::Ordering::SeqCst) < 2 {
                std::thread::yield_now();
            }
            std::thread::sleep(Duration::from_millis(50));
            // Chunk 3 needs chunk 1 settled too.
            assert_eq!(admitted.load(std::sync::atomic::Ordering::SeqCst), 2);
            gate.settled(3);
            while admitted.load(std::sync::atomic::Ordering::SeqCst) < 4 {
                std::thread::yield_now();
            }
            drop(gate.closer());
        });
    }
}
