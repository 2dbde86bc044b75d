//! Reading a stream of JSON values (the elements of one large array, or
//! values one after another) without holding the whole input: a window over
//! the input that holds the value being parsed and little else, so memory
//! grows with the largest value, not with the size of the input.

use std::io::{self, BufRead};

/// Bytes asked for at least per read.
const MIN_READ: usize = 64 << 10;

/// A window over a JSON input. Positions are in the window; line numbers
/// are those of the whole input (1-based).
pub struct JsonWindow<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    /// Newlines in the input before `buf[0]`.
    lines_before_buf: u64,
    /// Newlines in `buf[..counted]` (a cache for [`JsonWindow::line`]).
    counted: usize,
    newlines_counted: u64,
    eof: bool,
    error: Option<io::Error>,
    bytes: u64,
    newlines: u64,
    last: Option<u8>,
}

/// What a window read, for coverage.
#[derive(Debug)]
pub struct Totals {
    /// Bytes read.
    pub bytes: u64,
    /// Lines read (an unterminated last line counts).
    pub lines: u64,
    /// Newlines read (the lines before a read error).
    pub newlines: u64,
    /// The read error that ended the input early.
    pub error: Option<io::Error>,
}

/// One value read by [`JsonWindow::value`].
pub enum Next {
    /// A value, and the line it starts on.
    Value(serde_json::Value, u64),
    /// A malformed value starting on this line.
    Malformed(serde_json::Error, u64),
    /// Nothing more.
    End,
}

impl<R: BufRead> JsonWindow<R> {
    /// A window at the start of `reader`.
    pub fn new(reader: R) -> Self {
        Self::after(reader, 0)
    }

    /// A window at the start of `reader`, which starts after `lines_before`
    /// lines of the input (line numbers continue from there).
    pub fn after(reader: R, lines_before: u64) -> Self {
        Self {
            reader,
            buf: Vec::new(),
            pos: 0,
            lines_before_buf: lines_before,
            counted: 0,
            newlines_counted: 0,
            eof: false,
            error: None,
            bytes: 0,
            newlines: 0,
            last: None,
        }
    }

    /// Reads more input (at least as much as the window holds after the
    /// cursor, so that re-parsing a long value costs linear time); false at
    /// the end of the input or after a read error.
    fn more(&mut self) -> bool {
        if self.eof {
            return false;
        }
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            let consumed = self.buf.get(..self.pos).unwrap_or_default();
            let dropped = memchr::memchr_iter(b'\n', consumed).count() as u64;
            self.lines_before_buf += dropped;
            self.buf.drain(..self.pos);
            self.pos = 0;
            self.counted = 0;
            self.newlines_counted = 0;
        }
        let want = self.buf.len().saturating_sub(self.pos).max(MIN_READ);
        let mut got = 0;
        while got < want {
            let chunk = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.error = Some(e);
                    self.eof = true;
                    break;
                }
            };
            if chunk.is_empty() {
                self.eof = true;
                break;
            }
            let n = chunk.len();
            self.bytes += n as u64;
            self.newlines += memchr::memchr_iter(b'\n', chunk).count() as u64;
            self.last = chunk.last().copied();
            self.buf.extend_from_slice(chunk);
            self.reader.consume(n);
            got += n;
        }
        got > 0
    }

    /// What the window holds from the cursor on.
    fn rest(&self) -> &[u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// The byte at the cursor, reading more when needed.
    pub fn peek(&mut self) -> Option<u8> {
        loop {
            if let Some(b) = self.buf.get(self.pos) {
                return Some(*b);
            }
            if !self.more() {
                return None;
            }
        }
    }

    /// Moves past one byte.
    pub fn bump(&mut self) {
        if self.peek().is_some() {
            self.pos += 1;
        }
    }

    /// Moves past whitespace.
    pub fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// Moves past a UTF-8 byte order mark at the cursor.
    pub fn skip_bom(&mut self) {
        const BOM: &[u8] = "\u{feff}".as_bytes();
        while self.buf.len().saturating_sub(self.pos) < BOM.len() && self.more() {}
        if self.rest().starts_with(BOM) {
            self.pos += BOM.len();
        }
    }

    /// The line (1-based) of the cursor.
    pub fn line(&mut self) -> u64 {
        if self.counted > self.pos {
            self.counted = 0;
            self.newlines_counted = 0;
        }
        let uncounted = self.buf.get(self.counted..self.pos).unwrap_or_default();
        self.newlines_counted += memchr::memchr_iter(b'\n', uncounted).count() as u64;
        self.counted = self.pos;
        self.lines_before_buf + self.newlines_counted + 1
    }

    /// Parses the value at the cursor and moves past it (past nothing when
    /// it is malformed).
    pub fn value(&mut self) -> Next {
        loop {
            let start = self.pos;
            let mut it =
                serde_json::Deserializer::from_slice(self.rest()).into_iter::<serde_json::Value>();
            let got = it.next();
            let end = start + it.byte_offset();
            match got {
                // A value that reaches the end of the window (a number
                // could go on) or one cut off by it: read more and retry.
                Some(Ok(_)) if end >= self.buf.len() && !self.eof && self.more() => {}
                Some(Err(e)) if e.is_eof() && !self.eof && self.more() => {}
                None if !self.eof && self.more() => {}
                Some(Ok(v)) => {
                    let line = self.line();
                    self.pos = end;
                    return Next::Value(v, line);
                }
                Some(Err(e)) => return Next::Malformed(e, self.line()),
                None => return Next::End,
            }
        }
    }

    /// Moves to the start of the next line (the end of the input if none).
    pub fn next_line(&mut self) {
        loop {
            if let Some(nl) = memchr::memchr(b'\n', self.rest()) {
                self.pos += nl + 1;
                return;
            }
            self.pos = self.buf.len();
            if !self.more() {
                return;
            }
        }
    }

    /// Reads the rest of the input (without keeping it) and returns what
    /// was read in all.
    pub fn finish(mut self) -> Totals {
        self.pos = self.buf.len();
        while self.more() {
            self.pos = self.buf.len();
        }
        Totals {
            bytes: self.bytes,
            lines: self.newlines + u64::from(self.last.is_some_and(|b| b != b'\n')),
            newlines: self.newlines,
            error: self.error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str, cap: usize) -> Vec<(String, u64)> {
        let mut w = JsonWindow::new(io::BufReader::with_capacity(cap, text.as_bytes()));
        let mut out = Vec::new();
        w.skip_ws();
        assert_eq!(w.peek(), Some(b'['));
        w.bump();
        loop {
            w.skip_ws();
            if w.peek() == Some(b']') {
                break;
            }
            match w.value() {
                Next::Value(v, line) => out.push((v.to_string(), line)),
                other => panic!("{}", matches!(other, Next::End)),
            }
            w.skip_ws();
            if w.peek() == Some(b',') {
                w.bump();
            }
        }
        let t = w.finish();
        assert_eq!(t.bytes, text.len() as u64);
        out
    }

    #[test]
    fn values_split_across_reads_parse_whole_with_their_lines() {
        let big = "x".repeat(300_000);
        let text = format!("[\n 12345,\n {{\"a\": \"{big}\"}},\n\n [1,\n2],\n 678\n]\n");
        for cap in [1, 2, 7, 4096, 1 << 20] {
            let got = values(&text, cap);
            assert_eq!(got.len(), 4, "cap {cap}");
            assert_eq!(got[0], ("12345".to_string(), 2), "cap {cap}");
            assert_eq!(got[1].1, 3);
            assert_eq!(got[1].0.len(), big.len() + 8);
            assert_eq!(got[2], ("[1,2]".to_string(), 5), "cap {cap}");
            assert_eq!(got[3], ("678".to_string(), 7), "cap {cap}");
        }
    }

    #[test]
    fn the_window_stays_small_on_a_long_array() {
        let elem = format!("{{\"q\": \"{}\"}}", "y".repeat(1000));
        let text = format!("[{}]", vec![elem; 20_000].join(",\n"));
        let mut w = JsonWindow::new(io::BufReader::new(text.as_bytes()));
        w.bump();
        let mut n = 0;
        let mut widest = 0;
        loop {
            w.skip_ws();
            match w.value() {
                Next::Value(_, line) => {
                    n += 1;
                    assert_eq!(line, n);
                }
                _ => break,
            }
            widest = widest.max(w.buf.capacity());
            w.skip_ws();
            if w.peek() != Some(b',') {
                break;
            }
            w.bump();
        }
        assert_eq!(n, 20_000);
        assert!(widest < 1 << 20, "window grew to {widest} bytes");
    }
}
