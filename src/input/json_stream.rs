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

/// One value read by [`JsonWindow::value`] (or [`JsonWindow::value_as`]).
pub enum Next<T = serde_json::Value> {
    /// A value, and the line it starts on.
    Value(T, u64),
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
        self.value_as()
    }

    /// [`JsonWindow::value`] read as a `T` (for example a [`Pruned`] value).
    pub fn value_as<T: serde::de::DeserializeOwned>(&mut self) -> Next<T> {
        loop {
            let start = self.pos;
            let mut it = serde_json::Deserializer::from_slice(self.rest()).into_iter::<T>();
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

/// The object keys a [`Pruned`] value keeps.
pub trait Keys {
    /// Keys kept, at every depth.
    const KEYS: &'static [&'static str];
    /// Keep every key (the whole value, as `serde_json::Value` reads it).
    const ALL: bool = false;
}

/// [`Keys`] that keep every key.
pub struct AllKeys;

impl Keys for AllKeys {
    const KEYS: &'static [&'static str] = &[];
    const ALL: bool = true;
}

/// A JSON value read as `serde_json::Value` reads it, but for the members
/// of every object whose key is not in `K::KEYS`: those are checked and
/// dropped, never built. Every lookup of a kept key gives what it gives in
/// the whole value; the same inputs are rejected with the same errors.
pub struct Pruned<K>(pub serde_json::Value, pub std::marker::PhantomData<K>);

impl<'de, K: Keys> serde::Deserialize<'de> for Pruned<K> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{MapAccess, SeqAccess, Visitor};
        use serde_json::Value;
        struct V<K>(std::marker::PhantomData<K>);
        impl<'de, K: Keys> Visitor<'de> for V<K> {
            type Value = Pruned<K>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(pruned(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(pruned(Value::Number(v.into())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(pruned(Value::Number(v.into())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(pruned(
                    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
                ))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(pruned(Value::String(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(pruned(Value::String(v)))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(pruned(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(Pruned(v, _)) = a.next_element::<Pruned<K>>()? {
                    out.push(v);
                }
                Ok(pruned(Value::Array(out)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut out = serde_json::Map::new();
                while let Some(key) = a.next_key::<KeyText<'de>>()? {
                    if K::ALL || K::KEYS.contains(&&*key.0) {
                        let Pruned(v, _) = a.next_value::<Pruned<K>>()?;
                        out.insert(key.0.into_owned(), v);
                    } else {
                        a.next_value::<Skip>()?;
                    }
                }
                Ok(pruned(Value::Object(out)))
            }
        }
        fn pruned<K>(v: serde_json::Value) -> Pruned<K> {
            Pruned(v, std::marker::PhantomData)
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// An object key, borrowed when it has no escapes.
pub struct KeyText<'a>(pub std::borrow::Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for KeyText<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use std::borrow::Cow;
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = KeyText<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(KeyText(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(KeyText(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(KeyText(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A value checked and dropped. Unlike `serde::de::IgnoredAny` it is read
/// as `serde_json::Value` is (`deserialize_any`), so the same nesting limit
/// applies and the same inputs are rejected.
pub struct Skip;

impl<'de> serde::Deserialize<'de> for Skip {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{MapAccess, SeqAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Skip;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_str<E>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_unit<E>(self) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Skip, A::Error> {
                while a.next_element::<Skip>()?.is_some() {}
                Ok(Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Skip, A::Error> {
                while a.next_entry::<Skip, Skip>()?.is_some() {}
                Ok(Skip)
            }
        }
        d.deserialize_any(V)
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
