//! SQL text normalisation: a quoting-aware lexer that strips every literal and
//! comment from a statement, giving the cache key for analysis results and the
//! `query` text shown in reports (so no value from a log ever reaches output).
//!
//! The lexer follows PostgreSQL's scanner rules closely enough for this job:
//! `'…'` with `''` escapes, `E'…'` with backslash escapes, `U&'…'`, `B'…'`,
//! `X'…'`, `N'…'`, dollar quotes (`$tag$…$tag$`), nested `/* */` comments,
//! `--` comments, `"quoted ""identifiers"""`, numbers (including `1_000`,
//! `0x1F`, `.5e-3`) and `$n` parameters.

/// A token of the lexer, borrowed from the statement text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    /// An unquoted identifier or keyword, as written (not yet folded).
    Word(&'a str),
    /// A quoted identifier, including its quotes.
    QuotedIdent(&'a str),
    /// A string, bit-string or numeric literal.
    Literal,
    /// A positional parameter `$n`.
    Param(u32),
    /// Any operator or punctuation character sequence.
    Punct(&'a str),
    /// Whitespace or a comment (both separate tokens).
    Space,
}

/// Iterates over the tokens of `sql`. Never fails: unterminated quotes or
/// comments run to the end of the text.
pub fn tokens(sql: &str) -> Lexer<'_> {
    Lexer {
        src: sql,
        bytes: sql.as_bytes(),
        pos: 0,
        legacy: false,
    }
}

/// The lexer state; see [`tokens`].
#[derive(Clone)]
pub struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// `standard_conforming_strings = off`: a backslash escapes the next
    /// character in plain `'…'` strings too.
    legacy: bool,
}

/// Byte classes of identifiers, looked up in one step on the hot path.
const IDENT_START: u8 = 1;
const IDENT_CONT: u8 = 2;
/// Punctuation that is a token of one byte and nothing else: not a quote,
/// a comment, a number, a parameter, a space or the `(` of an `IN` list.
const PLAIN_PUNCT: u8 = 4;
// Indexing in a constant is checked when the crate compiles: it cannot panic.
#[allow(clippy::indexing_slicing)]
const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 {
            t[i] = IDENT_START | IDENT_CONT;
        } else if b.is_ascii_digit() || b == b'$' {
            t[i] = IDENT_CONT;
        } else if matches!(
            b,
            b')' | b','
                | b';'
                | b'='
                | b'<'
                | b'>'
                | b'+'
                | b'*'
                | b'['
                | b']'
                | b':'
                | b'!'
                | b'|'
                | b'&'
                | b'%'
                | b'^'
                | b'~'
                | b'@'
                | b'#'
                | b'?'
                | b'{'
                | b'}'
        ) {
            t[i] = PLAIN_PUNCT;
        }
        i += 1;
    }
    t
};

#[inline]
fn class(b: u8) -> u8 {
    // Every byte has an entry: the lookup cannot miss.
    CLASSES.get(usize::from(b)).copied().unwrap_or(0)
}

#[inline]
fn is_ident_start(b: u8) -> bool {
    class(b) & IDENT_START != 0
}

#[inline]
fn is_ident_cont(b: u8) -> bool {
    class(b) & IDENT_CONT != 0
}

impl<'a> Lexer<'a> {
    /// The byte offset of the next token.
    pub fn offset(&self) -> usize {
        self.pos
    }

    fn peek(&self, off: usize) -> u8 {
        self.bytes.get(self.pos + off).copied().unwrap_or(0)
    }

    /// Skips a single-quoted body starting at `self.pos` (on the opening quote).
    fn skip_quoted(&mut self, backslash_escapes: bool) {
        self.pos += 1;
        while self.pos < self.bytes.len() {
            // Jump to the next byte that matters.
            let rest = self.bytes.get(self.pos..).unwrap_or_default();
            let next = if backslash_escapes {
                memchr::memchr2(b'\'', b'\\', rest)
            } else {
                memchr::memchr(b'\'', rest)
            };
            let Some(off) = next else {
                break;
            };
            self.pos += off;
            if self.peek(0) == b'\\' {
                self.pos += 2;
                continue;
            }
            if self.peek(1) == b'\'' {
                self.pos += 2;
                continue;
            }
            self.pos += 1;
            return;
        }
        self.pos = self.bytes.len();
    }

    /// Tries to read a dollar-quote opening tag at `self.pos`; returns its length.
    fn dollar_tag_len(&self) -> Option<usize> {
        let rest = self.bytes.get(self.pos..)?;
        if rest.first() != Some(&b'$') {
            return None;
        }
        let mut i = 1;
        if rest.get(1).is_some_and(|b| is_ident_start(*b)) {
            i = 2;
            while rest.get(i).is_some_and(|b| is_ident_cont(*b) && *b != b'$') {
                i += 1;
            }
        }
        if rest.get(i) == Some(&b'$') {
            Some(i + 1)
        } else {
            None
        }
    }

    /// Past a number, with any identifier characters right after it: from
    /// PostgreSQL 15 on they are part of the token ("trailing junk after
    /// numeric literal"), and a value for all that (`9f8e7d`).
    fn number(&mut self) {
        self.bare_number();
        while self.pos < self.bytes.len() && is_ident_cont(self.peek(0)) {
            self.pos += 1;
        }
    }

    fn bare_number(&mut self) {
        let b = self.bytes;
        if self.peek(0) == b'0' && matches!(self.peek(1), b'x' | b'X' | b'o' | b'O' | b'b' | b'B') {
            self.pos += 2;
            while self.pos < b.len() && (self.peek(0).is_ascii_hexdigit() || self.peek(0) == b'_') {
                self.pos += 1;
            }
            return;
        }
        while self.pos < b.len() && (self.peek(0).is_ascii_digit() || self.peek(0) == b'_') {
            self.pos += 1;
        }
        if self.pos < b.len() && self.peek(0) == b'.' && self.peek(1) != b'.' {
            self.pos += 1;
            while self.pos < b.len() && (self.peek(0).is_ascii_digit() || self.peek(0) == b'_') {
                self.pos += 1;
            }
        }
        if self.pos < b.len() && matches!(self.peek(0), b'e' | b'E') {
            let mut j = self.pos + 1;
            if j < b.len() && matches!(b.get(j).copied().unwrap_or(0), b'+' | b'-') {
                j += 1;
            }
            if j < b.len() && b.get(j).copied().unwrap_or(0).is_ascii_digit() {
                self.pos = j;
                while self.pos < b.len() && self.peek(0).is_ascii_digit() {
                    self.pos += 1;
                }
            }
        }
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let b = self.bytes;
        if self.pos >= b.len() {
            return None;
        }
        let start = self.pos;
        let c = self.peek(0);
        // Whitespace.
        if c.is_ascii_whitespace() {
            while self.pos < b.len() && self.peek(0).is_ascii_whitespace() {
                self.pos += 1;
            }
            return Some(Token::Space);
        }
        // Comments.
        if c == b'-' && self.peek(1) == b'-' {
            while self.pos < b.len() && self.peek(0) != b'\n' {
                self.pos += 1;
            }
            return Some(Token::Space);
        }
        if c == b'/' && self.peek(1) == b'*' {
            self.pos += 2;
            let mut depth = 1usize;
            while self.pos < b.len() && depth > 0 {
                if self.peek(0) == b'/' && self.peek(1) == b'*' {
                    depth += 1;
                    self.pos += 2;
                } else if self.peek(0) == b'*' && self.peek(1) == b'/' {
                    depth -= 1;
                    self.pos += 2;
                } else {
                    self.pos += 1;
                }
            }
            self.pos = self.pos.min(b.len());
            return Some(Token::Space);
        }
        // Strings.
        if c == b'\'' {
            self.skip_quoted(self.legacy);
            return Some(Token::Literal);
        }
        if matches!(c, b'e' | b'E') && self.peek(1) == b'\'' {
            self.pos += 1;
            self.skip_quoted(true);
            return Some(Token::Literal);
        }
        if matches!(c, b'b' | b'B' | b'x' | b'X' | b'n' | b'N') && self.peek(1) == b'\'' {
            self.pos += 1;
            self.skip_quoted(self.legacy);
            return Some(Token::Literal);
        }
        if matches!(c, b'u' | b'U') && self.peek(1) == b'&' && self.peek(2) == b'\'' {
            self.pos += 2;
            self.skip_quoted(false);
            return Some(Token::Literal);
        }
        if matches!(c, b'u' | b'U') && self.peek(1) == b'&' && self.peek(2) == b'"' {
            self.pos += 2;
            return Some(self.quoted_ident(start));
        }
        // Quoted identifiers.
        if c == b'"' {
            return Some(self.quoted_ident(start));
        }
        // Dollar: parameter or dollar quote.
        if c == b'$' {
            if self.peek(1).is_ascii_digit() {
                self.pos += 1;
                let mut n: u32 = 0;
                while self.pos < b.len() && self.peek(0).is_ascii_digit() {
                    n = n
                        .saturating_mul(10)
                        .saturating_add(u32::from(self.peek(0) - b'0'));
                    self.pos += 1;
                }
                return Some(Token::Param(n));
            }
            if let Some(len) = self.dollar_tag_len() {
                let tag = b.get(start..start + len).unwrap_or_default();
                self.pos += len;
                let body_start = self.pos;
                let found = memfind(b.get(body_start..).unwrap_or_default(), tag);
                self.pos = match found {
                    Some(off) => body_start + off + len,
                    None => b.len(),
                };
                return Some(Token::Literal);
            }
        }
        // Numbers.
        if c.is_ascii_digit() || (c == b'.' && self.peek(1).is_ascii_digit()) {
            self.number();
            return Some(Token::Literal);
        }
        // Words.
        if is_ident_start(c) {
            while self.pos < b.len() && is_ident_cont(self.peek(0)) {
                self.pos += 1;
            }
            return Some(Token::Word(
                self.src.get(start..self.pos).unwrap_or_default(),
            ));
        }
        // Punctuation: one char at a time, except multi-char operators that
        // never split ambiguously for our purposes.
        self.pos += 1;
        while self.pos < b.len() && !self.src.is_char_boundary(self.pos) {
            self.pos += 1;
        }
        Some(Token::Punct(
            self.src.get(start..self.pos).unwrap_or_default(),
        ))
    }
}

impl<'a> Lexer<'a> {
    fn quoted_ident(&mut self, start: usize) -> Token<'a> {
        // self.pos is on the opening double quote.
        let b = self.bytes;
        self.pos += 1;
        while self.pos < b.len() {
            if self.peek(0) == b'"' {
                if self.peek(1) == b'"' {
                    self.pos += 2;
                    continue;
                }
                self.pos += 1;
                return Token::QuotedIdent(self.src.get(start..self.pos).unwrap_or_default());
            }
            self.pos += 1;
        }
        self.pos = b.len();
        Token::QuotedIdent(self.src.get(start..self.pos).unwrap_or_default())
    }
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Normalises a statement: every literal and `$n` parameter becomes `$k`,
/// numbered in the order the values appear (a parameter past PostgreSQL's
/// range, a syntax error, keeps its number), comments are removed,
/// whitespace is squeezed, unquoted words are lower-cased (PostgreSQL folds
/// them anyway) and lists of values after `IN` collapse to
/// `($k /*, ... */)`. So statements that differ only in their values, in
/// how their parameters are numbered, or in the length of an `IN` list
/// (literals or parameters: a driver's `IN ($1, $2) AND b = $3` against
/// `IN ($1, $2, $3) AND b = $4`) share one text, the key of their analysis.
/// Values never name a column, so such statements resolve alike (but see
/// [`values_may_decide`] for the values that decide a resolution). Quoted
/// identifiers are kept exactly.
pub fn normalize(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    normalize_into(sql, &mut out);
    out
}

/// [`normalize`], appending to `out` (a reused buffer; what it already holds
/// is kept, and counts as nothing for the normalised text).
pub fn normalize_into(sql: &str, out: &mut String) {
    normalize_lexed(tokens(sql), out);
}

/// [`normalize`] for text shown in output (`query`): where a backslash in a
/// plain `'…'` string makes the string's end depend on
/// `standard_conforming_strings` (off on old servers and for some clients:
/// the backslash escapes the quote), the two readings can disagree on what
/// is a value; the text is then cut before that string, so that a value is
/// never shown as words.
pub fn normalize_shown(sql: &str) -> String {
    let standard = normalize(sql);
    if !sql.contains('\\') {
        return standard;
    }
    let mut legacy_lexer = tokens(sql);
    legacy_lexer.legacy = true;
    let mut legacy = String::with_capacity(sql.len());
    normalize_lexed(legacy_lexer, &mut legacy);
    if legacy == standard {
        return standard;
    }
    // Both readings agree up to the first plain string with a backslash.
    let mut lx = tokens(sql);
    let mut cut = sql.len();
    loop {
        let start = lx.pos;
        let Some(tok) = lx.next() else { break };
        let text = lx.bytes.get(start..lx.pos).unwrap_or_default();
        if tok == Token::Literal
            && !matches!(text.first(), Some(b'e' | b'E' | b'$'))
            && text.contains(&b'\\')
        {
            cut = start;
            break;
        }
    }
    let head = normalize(sql.get(..cut).unwrap_or_default());
    format!("{head} … (the rest is not shown: a backslash in a string makes its end depend on standard_conforming_strings)")
}

/// The highest parameter number PostgreSQL's scanner accepts: `$n` past it
/// is a syntax error ("parameter number too large"), so it must not share
/// a key with a parameter that parses.
const MAX_PARAM: u32 = i32::MAX as u32;

/// Normalises the tokens of `lexer` (one pass; a lexer clone looks ahead
/// for `IN` lists) onto `out`.
fn normalize_lexed(lexer: Lexer<'_>, out: &mut String) {
    use std::fmt::Write as _;
    let start = out.len();
    // Values are numbered in the order they appear.
    let mut next: u32 = 0;
    let mut pending_space = false;
    let mut prev_word_in = false;
    let mut lexer = lexer;
    while let Some(tok) = lexer.next() {
        if tok == Token::Space {
            pending_space = out.len() > start;
            continue;
        }
        // IN ( const, const, ... ) collapsing.
        if prev_word_in && tok == Token::Punct("(") {
            let mut ahead = lexer.clone();
            if constant_list_end(&mut ahead) {
                if pending_space {
                    out.push(' ');
                }
                next = next.saturating_add(1);
                let _ = write!(out, "(${next} /*, ... */)");
                pending_space = false;
                prev_word_in = false;
                lexer = ahead;
                continue;
            }
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        prev_word_in = false;
        match tok {
            Token::Word(w) => {
                prev_word_in = w.eq_ignore_ascii_case("in");
                let at = out.len();
                out.push_str(w);
                if let Some(w) = out.get_mut(at..) {
                    w.make_ascii_lowercase();
                }
            }
            Token::QuotedIdent(q) => out.push_str(q),
            Token::Param(n) if n > MAX_PARAM => push_param(out, start, n),
            Token::Literal | Token::Param(_) => {
                next = next.saturating_add(1);
                push_param(out, start, next);
            }
            Token::Punct(p) => out.push_str(p),
            Token::Space => {}
        }
    }
}

/// Appends `$n`, after a space when the text before it ends with a word
/// character or `$`: glued on, the `$` would continue that word, or close a
/// `$tag$` that reads the rest of the statement as a dollar-quoted string
/// (`x$tag'v'` must not become `x$tag$1`).
fn push_param(out: &mut String, start: usize, n: u32) {
    if out.len() > start && out.bytes().last().is_some_and(is_ident_cont) {
        out.push(' ');
    }
    out.push('$');
    out.push_str(&n.to_string());
}

/// The byte at `i`, or 0 past the end (as [`Lexer::peek`]).
fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// Past a `'…'` body whose opening quote is at `i` ([`Lexer::skip_quoted`]).
fn past_quoted(b: &[u8], i: usize, backslash_escapes: bool) -> usize {
    let mut lx = Lexer {
        src: "",
        bytes: b,
        pos: i,
        legacy: false,
    };
    lx.skip_quoted(backslash_escapes);
    lx.pos
}

/// Past whitespace and comments from `i` (the lexer's `Space` tokens).
fn past_space(b: &[u8], mut i: usize) -> usize {
    loop {
        let c = at(b, i);
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'-' && at(b, i + 1) == b'-' {
            i = memchr::memchr(b'\n', b.get(i..).unwrap_or_default()).map_or(b.len(), |o| i + o);
        } else if c == b'/' && at(b, i + 1) == b'*' {
            i = past_comment(b, i);
        } else {
            return i;
        }
    }
}

/// Past a nested `/* … */` comment opening at `i`.
fn past_comment(b: &[u8], mut i: usize) -> usize {
    i += 2;
    let mut depth = 1usize;
    while i < b.len() && depth > 0 {
        match (at(b, i), at(b, i + 1)) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
            }
            _ => i += 1,
        }
    }
    i.min(b.len())
}

/// If a literal or `$n` parameter starts at `i`, the position past it:
/// the lexer's `Literal` and `Param` tokens.
fn past_value(b: &[u8], i: usize) -> Option<usize> {
    let c = at(b, i);
    let next = at(b, i + 1);
    match c {
        b'\'' => Some(past_quoted(b, i, false)),
        b'e' | b'E' if next == b'\'' => Some(past_quoted(b, i + 1, true)),
        b'b' | b'B' | b'x' | b'X' | b'n' | b'N' if next == b'\'' => {
            Some(past_quoted(b, i + 1, false))
        }
        b'u' | b'U' if next == b'&' && at(b, i + 2) == b'\'' => Some(past_quoted(b, i + 2, false)),
        b'$' if next.is_ascii_digit() => {
            let mut j = i + 1;
            while at(b, j).is_ascii_digit() {
                j += 1;
            }
            Some(j.min(b.len()))
        }
        b'$' => {
            let lx = Lexer {
                src: "",
                bytes: b,
                pos: i,
                legacy: false,
            };
            let len = lx.dollar_tag_len()?;
            let tag = b.get(i..i + len).unwrap_or_default();
            let body = i + len;
            Some(
                memchr::memmem::find(b.get(body..).unwrap_or_default(), tag)
                    .map_or(b.len(), |o| body + o + len),
            )
        }
        b'0'..=b'9' => Some(past_number(b, i)),
        b'.' if next.is_ascii_digit() => Some(past_number(b, i)),
        _ => None,
    }
}

/// Past a number starting at `i` ([`Lexer::number`]).
fn past_number(b: &[u8], i: usize) -> usize {
    let mut lx = Lexer {
        src: "",
        bytes: b,
        pos: i,
        legacy: false,
    };
    lx.number();
    lx.pos.min(b.len())
}

/// [`normalize`] in one pass over the bytes, appended to `out` (the cache
/// key of a statement's analysis; what `out` already holds counts as
/// nothing). It gives exactly the text of the token-by-token normaliser (a
/// test compares the two).
pub fn normalize_bytes(sql: &str, out: &mut Vec<u8>) {
    let b = sql.as_bytes();
    let start = out.len();
    let mut values: u32 = 0;
    let mut i = 0;
    let mut pending_space = false;
    let mut after_in = false;
    while i < b.len() {
        let c = at(b, i);
        // Whitespace and comments.
        if c.is_ascii_whitespace()
            || (c == b'-' && at(b, i + 1) == b'-')
            || (c == b'/' && at(b, i + 1) == b'*')
        {
            i = past_space(b, i);
            pending_space = out.len() > start;
            continue;
        }
        if std::mem::take(&mut pending_space) {
            out.push(b' ');
        }
        // Most of a statement is words, single spaces and punctuation that
        // are copied as they are (words lower-cased): copied as one run.
        if !after_in {
            let j = plain_run(b, i, out.len() > start, &mut after_in);
            if j > i {
                let at = out.len();
                out.extend_from_slice(b.get(i..j).unwrap_or_default());
                if let Some(run) = out.get_mut(at..) {
                    run.make_ascii_lowercase();
                }
                i = j;
                continue;
            }
        }
        if class(c) & PLAIN_PUNCT != 0 {
            out.push(c);
            after_in = false;
            i += 1;
            continue;
        }
        // Most tokens are words: one not followed by `'` or `&` cannot
        // start a literal (`E'…'`, `U&'…'`) or a quoted identifier (`U&"…"`).
        if is_ident_start(c) && !matches!(at(b, i + 1), b'\'' | b'&') {
            i = push_word(b, i, out, &mut after_in);
            continue;
        }
        // Quoted identifiers, kept as written.
        let quoted = if c == b'"' {
            Some(i)
        } else if matches!(c, b'u' | b'U') && at(b, i + 1) == b'&' && at(b, i + 2) == b'"' {
            Some(i + 2)
        } else {
            None
        };
        if let Some(q) = quoted {
            let mut j = q + 1;
            while j < b.len() {
                if at(b, j) == b'"' {
                    if at(b, j + 1) == b'"' {
                        j += 2;
                        continue;
                    }
                    j += 1;
                    break;
                }
                j += 1;
            }
            let j = j.min(b.len());
            out.extend_from_slice(b.get(i..j).unwrap_or_default());
            after_in = false;
            i = j;
            continue;
        }
        // Literals and parameters: `$k`, after a space when the text ends
        // with a word character (see [`push_param`]).
        if let Some(j) = past_value(b, i) {
            if out.len() > start && out.last().is_some_and(|c| is_ident_cont(*c)) {
                out.push(b' ');
            }
            out.push(b'$');
            let n = if c == b'$' && at(b, i + 1).is_ascii_digit() {
                param_number(b.get(i + 1..j).unwrap_or_default())
            } else {
                0
            };
            if n > MAX_PARAM {
                push_number(out, n);
            } else {
                values = values.saturating_add(1);
                push_number(out, values);
            }
            after_in = false;
            i = j;
            continue;
        }
        // Words, folded to lower case.
        if is_ident_start(c) {
            i = push_word(b, i, out, &mut after_in);
            continue;
        }
        // `IN (value, …)` collapses whatever its length.
        if c == b'(' && after_in {
            if let Some(j) = past_constant_list(b, i + 1) {
                values = values.saturating_add(1);
                out.extend_from_slice(b"($");
                push_number(out, values);
                out.extend_from_slice(b" /*, ... */)");
                after_in = false;
                i = j;
                continue;
            }
        }
        // Punctuation: one byte (bytes from 0x80 start words).
        out.push(c);
        after_in = false;
        i += 1;
    }
}

/// The end of the run from `i` (a token start) that [`normalize_bytes`]
/// copies as it is, but for lower-casing: words (not a number, a `$…`, or
/// a one-letter word before `'` or `&`, which may start a literal or a
/// quoted identifier), punctuation that is not a value, a comment or the
/// `(` of an `IN` list, and single spaces between them (`text_before`: the
/// key already holds text, so a space is kept). The run ends right after
/// the word `in`, with `after_in` set (its list is the main loop's);
/// otherwise `after_in` is cleared when the run is not empty.
#[inline]
fn plain_run(b: &[u8], i: usize, text_before: bool, after_in: &mut bool) -> usize {
    let mut j = i;
    while let Some(&c) = b.get(j) {
        let cls = class(c);
        if cls & IDENT_START != 0 {
            // A word: not one that may start a literal or quoted identifier.
            if matches!(at(b, j + 1), b'\'' | b'&') {
                break;
            }
            let w = j;
            j += 1;
            while b.get(j).is_some_and(|c| class(*c) & IDENT_CONT != 0) {
                j += 1;
            }
            if j - w == 2 && b.get(w..j).is_some_and(|w| w.eq_ignore_ascii_case(b"in")) {
                *after_in = true;
                return j;
            }
            continue;
        }
        let next = at(b, j + 1);
        let plain = cls & PLAIN_PUNCT != 0
            || match c {
                b'(' => true,
                b'.' => !next.is_ascii_digit(),
                b'-' => next != b'-',
                b'/' => next != b'*',
                b' ' => {
                    (j > i || text_before)
                        && j + 1 < b.len()
                        && !next.is_ascii_whitespace()
                        && next != b'-'
                        && next != b'/'
                }
                // A number or `$…` starting a token, a quote, other spaces.
                _ => false,
            };
        if !plain {
            break;
        }
        j += 1;
    }
    if j > i {
        *after_in = false;
    }
    j
}

/// Appends the word starting at `i`, folded to lower case, says whether it
/// is `IN`, and returns the position past it.
#[inline]
fn push_word(b: &[u8], i: usize, out: &mut Vec<u8>, is_in: &mut bool) -> usize {
    let rest = b.get(i + 1..).unwrap_or_default();
    let j = i
        + 1
        + rest
            .iter()
            .position(|c| !is_ident_cont(*c))
            .unwrap_or(rest.len());
    let word = b.get(i..j).unwrap_or_default();
    out.extend(word.iter().map(u8::to_ascii_lowercase));
    *is_in = word.eq_ignore_ascii_case(b"in");
    j
}

/// Appends the decimal digits of `n`.
fn push_number(out: &mut Vec<u8>, n: u32) {
    let mut digits = [0u8; 10];
    let mut len = 0;
    let mut n = n;
    loop {
        if let Some(d) = digits.get_mut(len) {
            *d = b'0' + (n % 10) as u8;
        }
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits.iter().take(len).rev());
}

/// [`constant_list_end`] on bytes, in the key's mode: from just inside
/// `(`, the position past the `)` of a `value (, value)* )` list whose
/// parameters are all in PostgreSQL's range.
fn past_constant_list(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i = past_space(b, i);
        let value = i;
        i = past_value(b, i)?;
        if at(b, value) == b'$'
            && at(b, value + 1).is_ascii_digit()
            && param_number(b.get(value + 1..i).unwrap_or_default()) > MAX_PARAM
        {
            return None;
        }
        i = past_space(b, i);
        match at(b, i) {
            b',' if i < b.len() => i += 1,
            b')' if i < b.len() => return Some(i + 1),
            _ => return None,
        }
    }
}

/// The number of a `$n` parameter from its digits (saturated, as the lexer
/// reads it).
fn param_number(digits: &[u8]) -> u32 {
    digits.iter().fold(0u32, |n, d| {
        n.saturating_mul(10)
            .saturating_add(u32::from(d.wrapping_sub(b'0')))
    })
}

/// If the tokens ahead are `value (, value)* )` (spaces allowed, and no
/// parameter past PostgreSQL's range), moves past the closing parenthesis
/// and says so.
fn constant_list_end(ahead: &mut Lexer<'_>) -> bool {
    let mut expect_value = true;
    let mut seen = 0usize;
    for tok in ahead {
        match tok {
            Token::Space => {}
            Token::Param(n) if n > MAX_PARAM => return false,
            Token::Literal | Token::Param(_) if expect_value => {
                expect_value = false;
                seen += 1;
            }
            Token::Punct(",") if !expect_value => expect_value = true,
            Token::Punct(")") if !expect_value && seen > 0 => return true,
            _ => return false,
        }
    }
    false
}

/// The identifiers of `sql` as PostgreSQL would see them: unquoted words
/// folded to lower case, quoted identifiers unquoted exactly. Used to find
/// whether an unparseable statement mentions a column name as a word (never
/// inside a comment or a string).
pub fn identifiers(sql: &str) -> impl Iterator<Item = String> + '_ {
    tokens(sql).filter_map(|t| match t {
        Token::Word(w) => Some(fold_identifier(w)),
        Token::QuotedIdent(q) => Some(unquote_identifier(q)),
        _ => None,
    })
}

/// Folds an unquoted identifier the way PostgreSQL does: ASCII lower case,
/// truncated to 63 bytes.
pub fn fold_identifier(w: &str) -> String {
    truncate_identifier(&w.to_ascii_lowercase())
}

/// Removes the quotes of a quoted identifier (`"a""b"` → `a"b`), truncated
/// to 63 bytes.
pub fn unquote_identifier(q: &str) -> String {
    let q = q
        .strip_prefix("U&")
        .or_else(|| q.strip_prefix("u&"))
        .unwrap_or(q);
    let inner = q.strip_prefix('"').unwrap_or(q);
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    truncate_identifier(&inner.replace("\"\"", "\""))
}

/// PostgreSQL truncates identifiers to NAMEDATALEN-1 = 63 bytes, on a
/// character boundary.
pub fn truncate_identifier(s: &str) -> String {
    if s.len() <= 63 {
        return s.to_string();
    }
    let mut end = 63;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_string()
}

/// Whether statements of the normalised text `normalised` can resolve
/// differently by their values. Values never name a column, with two
/// exceptions:
/// - the body of a `DO` block or of a `CREATE FUNCTION`/`PROCEDURE` is a
///   string;
/// - an integer in an `ORDER BY`, `GROUP BY` or `DISTINCT ON` list is an
///   output column's position (which column of a `*` it is depends on it).
///
/// Such statements are keyed with [`append_deciding_values`] too.
pub fn values_may_decide(normalised: &[u8]) -> bool {
    let has = |needle: &[u8]| memchr::memmem::find(normalised, needle).is_some();
    if has(b"do $") || (has(b"create ") && (has(b"function ") || has(b"procedure "))) {
        return true;
    }
    // A value in an `ORDER BY`/`GROUP BY` list (before any LIMIT), or
    // DISTINCT ON.
    memchr::memmem::find_iter(normalised, b" by ").any(|at| {
        let rest = normalised.get(at..).unwrap_or_default();
        let end = memchr::memmem::find(rest, b" limit ").unwrap_or(rest.len());
        memchr::memchr(b'$', rest.get(..end).unwrap_or_default()).is_some()
    }) || has(b"distinct on (")
        || has(b"distinct on(")
        // `set_config($1, $2, …)`: one of them may be 'search_path'.
        || has(b"set_config")
}

/// Appends to `key` the values of `sql` that decide how it resolves (see
/// [`values_may_decide`]): the integers of its `ORDER BY`, `GROUP BY` and
/// `DISTINCT ON` lists, and the whole text when one of its statements is a
/// routine (starts with `DO` or `CREATE`).
pub fn append_deciding_values(sql: &str, key: &mut Vec<u8>) {
    #[derive(PartialEq, Clone, Copy)]
    enum Prev {
        StatementStart,
        ListStart,
        Distinct,
        On,
        Other,
    }
    let mut lx = tokens(sql);
    let mut prev = Prev::StatementStart;
    let mut depth = 0usize;
    let mut list_depth: Option<usize> = None;
    let mut marked = false;
    let mut routine = false;
    loop {
        let start = lx.offset();
        let Some(t) = lx.next() else { break };
        prev = match t {
            Token::Space => continue,
            Token::Word(w) if prev == Prev::StatementStart => {
                routine |= w.eq_ignore_ascii_case("do") || w.eq_ignore_ascii_case("create");
                Prev::Other
            }
            Token::Punct(";") if depth == 0 => {
                list_depth = None;
                Prev::StatementStart
            }
            Token::Word(w) if w.eq_ignore_ascii_case("by") => {
                list_depth = Some(depth);
                Prev::ListStart
            }
            Token::Word(w) if w.eq_ignore_ascii_case("distinct") => Prev::Distinct,
            Token::Word(w) if w.eq_ignore_ascii_case("on") && prev == Prev::Distinct => Prev::On,
            Token::Punct("(") => {
                depth += 1;
                if prev == Prev::On {
                    list_depth = Some(depth);
                    Prev::ListStart
                } else if prev == Prev::ListStart {
                    // `ORDER BY (3)` is a position too.
                    Prev::ListStart
                } else {
                    Prev::Other
                }
            }
            Token::Punct(")") => {
                if list_depth == Some(depth) {
                    list_depth = None;
                }
                depth = depth.saturating_sub(1);
                Prev::Other
            }
            Token::Punct(",") if list_depth == Some(depth) => Prev::ListStart,
            Token::Literal if prev == Prev::ListStart => {
                let text = sql.get(start..lx.offset()).unwrap_or_default();
                if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
                    if !marked {
                        key.push(0xfe);
                        marked = true;
                    }
                    key.extend_from_slice(text.as_bytes());
                    key.push(b',');
                }
                Prev::Other
            }
            _ => Prev::Other,
        };
    }
    if routine {
        key.push(0xff);
        key.extend_from_slice(sql.as_bytes());
    }
}

/// Whether a text may hold several statements: a `;` before its last
/// (a cheap check; a `;` in a string counts too, so a caller that needs
/// the statements splits them by tokens).
pub fn several_statements(sql: &str) -> bool {
    let body = sql.trim_end().trim_end_matches(';');
    memchr::memchr(b';', body.as_bytes()).is_some()
}

/// The first word of `sql` after whitespace and comments (`""` when it
/// starts with anything else).
pub fn first_word(sql: &str) -> &str {
    tokens(sql)
        .find_map(|t| match t {
            Token::Word(w) => Some(w),
            Token::Space => None,
            _ => Some(""),
        })
        .unwrap_or("")
}

/// A stable 64-bit FNV-1a hash, used to fingerprint text that pg_query could
/// not parse.
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    /// The analysis cache key of `sql`, as the scan makes it.
    fn key(sql: &str) -> Vec<u8> {
        let mut k = b"path\0".to_vec();
        let at = k.len();
        normalize_bytes(sql, &mut k);
        if values_may_decide(&k[at..]) {
            append_deciding_values(sql, &mut k);
        }
        k
    }

    #[test]
    fn positions_and_routine_bodies_keep_their_values_in_the_cache_key() {
        // ORDER BY / GROUP BY / DISTINCT ON positions are not values.
        assert_ne!(
            key("SELECT * FROM t ORDER BY 2"),
            key("SELECT * FROM t ORDER BY 3")
        );
        assert_ne!(
            key("SELECT * FROM t ORDER BY $1"),
            key("SELECT * FROM t ORDER BY 1")
        );
        assert_ne!(
            key("SELECT *, count(*) FROM t GROUP BY 1, 2"),
            key("SELECT *, count(*) FROM t GROUP BY 1, 3")
        );
        assert_ne!(
            key("SELECT DISTINCT ON (1) * FROM t"),
            key("SELECT DISTINCT ON (2) * FROM t")
        );
        assert_ne!(
            key("SELECT DISTINCT ON(1) * FROM t"),
            key("SELECT DISTINCT ON(2) * FROM t")
        );
        assert_ne!(
            key("SELECT * FROM t ORDER BY (2)"),
            key("SELECT * FROM t ORDER BY (3)")
        );
        assert_ne!(
            key("SELECT * FROM t ORDER BY (1), 2"),
            key("SELECT * FROM t ORDER BY (1), 3")
        );
        // Other values still share the key.
        assert_eq!(
            key("SELECT * FROM t WHERE id = 1 ORDER BY 2 LIMIT 10"),
            key("SELECT * FROM t WHERE id = 7 ORDER BY 2 LIMIT 50")
        );
        assert_eq!(
            key("SELECT a FROM t WHERE id = 1"),
            key("SELECT a FROM t WHERE id = 2")
        );
        // A DO block's or a function's body is a string.
        assert_ne!(
            key("DO $$ BEGIN PERFORM a FROM t; END $$"),
            key("DO $$ BEGIN PERFORM b FROM t; END $$")
        );
        assert_ne!(
            key("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT a FROM t'"),
            key("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT b FROM t'")
        );
    }

    use super::*;

    #[test]
    fn backslash_string_never_shows_a_value_as_words() {
        // With standard_conforming_strings = off the backslash escapes the
        // quote: `x\' AND name = secret` is one string, not words.
        let sql = "SELECT a FROM t WHERE n = 'x\\' AND name = secret9' AND m = 1";
        let shown = normalize_shown(sql);
        assert!(!shown.contains("secret9"), "{shown}");
        assert!(shown.starts_with("select a from t where n = … (the rest is not shown"));
        // The other way round: a value after the backslash string.
        let sql = "SELECT a FROM t WHERE n = 'x\\' , 'y' secret8 '";
        assert!(!normalize_shown(sql).contains("secret8"));
        // A backslash both readings agree on changes nothing.
        let sql = "SELECT a FROM t WHERE n ~ '^\\d+$' AND m = E'a\\'b'";
        assert_eq!(normalize_shown(sql), normalize(sql));
        assert_eq!(normalize(sql), "select a from t where n ~ $1 and m = $2");
    }

    #[test]
    fn strips_every_kind_of_literal() {
        let sql = "SELECT a FROM t WHERE b = 'x''y' AND c = E'\\'q' AND d = $tag$ secret $tag$ AND e = 1.5e3 AND f = B'101' AND g = X'1F'";
        assert_eq!(
            normalize(sql),
            "select a from t where b = $1 and c = $2 and d = $3 and e = $4 and f = $5 and g = $6"
        );
    }

    #[test]
    fn fuzz_normalize_dollar_word_before_a_literal_does_not_open_a_dollar_quote() {
        // Found by fuzz/fuzz_targets/normalize.rs: `$con'…'` gave `$con$1`,
        // which lexes as the start of a `$con$` dollar-quoted string.
        let n = normalize("SELECT ge$ $con');");
        assert_eq!(n, "select ge$ $con $1");
        assert!(!tokens(&n).any(|t| t == Token::Literal), "{n}");
        // And (fuzz/fuzz_targets/resolve.rs) a lone `$` before a literal
        // gave `$$1`, an empty-tag dollar quote.
        let n = normalize("legacy_email\u{fffd}($'ot 1nn'e);");
        assert_eq!(n, "legacy_email\u{fffd}($ $1e);");
        assert!(!tokens(&n).any(|t| t == Token::Literal), "{n}");
        // A typed literal written without a space keeps its word apart.
        assert_eq!(normalize("SELECT date'2026-11-22'"), "select date $1");
        assert_eq!(normalize("SELECT x$1"), "select x$1");
    }

    #[test]
    fn fuzz_normalize_highest_parameter_number_does_not_overflow() {
        // Found by fuzz/fuzz_targets/normalize.rs: a `$n` past u32::MAX (read
        // saturated) followed by a literal overflowed the next number.
        // Values are now numbered in order, and such a parameter keeps
        // its (saturated) number.
        assert_eq!(
            normalize("SELECT $99999999999, 'x' WHERE a IN (1, 2)"),
            "select $4294967295, $1 where a in ($2 /*, ... */)"
        );
    }

    #[test]
    fn numbers_parameters_and_literals_in_order() {
        assert_eq!(
            normalize("SELECT $1, 'x' FROM t WHERE id = $2"),
            "select $1, $2 from t where id = $3"
        );
    }

    #[test]
    fn removes_comments_and_keeps_quoted_identifiers() {
        assert_eq!(
            normalize("SELECT /* user 42 */ \"Legacy\"  -- note\n FROM t"),
            "select \"Legacy\" from t"
        );
        assert_eq!(normalize("SELECT a/**/FROM t"), "select a from t");
    }

    #[test]
    fn collapses_in_lists_of_any_length() {
        let a = normalize("SELECT * FROM t WHERE id IN (1, 2, 3)");
        let b = normalize("select * from t where id in (7)");
        assert_eq!(a, b);
        assert_eq!(a, "select * from t where id in ($1 /*, ... */)");
        // VALUES lists are positional and keep their length.
        assert_ne!(
            normalize("INSERT INTO t VALUES (1, 2)"),
            normalize("INSERT INTO t VALUES (1, 2, 3)")
        );
    }

    #[test]
    fn identifiers_ignore_comments_and_strings() {
        let ids: Vec<String> = identifiers(
            "SELECT id /* legacy_email */ FROM \"Users\" WHERE n = 'legacy_email' -- legacy_email",
        )
        .collect();
        assert_eq!(ids, vec!["select", "id", "from", "Users", "where", "n"]);
    }

    #[test]
    fn digits_inside_identifiers_are_not_literals() {
        assert_eq!(normalize("SELECT t1.a2 FROM t1"), "select t1.a2 from t1");
    }

    #[test]
    fn unterminated_quotes_do_not_panic() {
        assert_eq!(normalize("SELECT 'abc"), "select $1");
        assert_eq!(normalize("SELECT \"abc"), "select \"abc");
        assert_eq!(normalize("SELECT $a$ abc"), "select $1");
        assert_eq!(normalize("/* open"), "");
    }

    fn fast(sql: &str) -> String {
        let mut out = b"kept".to_vec();
        normalize_bytes(sql, &mut out);
        String::from_utf8(out.split_off(4)).unwrap_or_default()
    }

    fn lexed(sql: &str) -> String {
        let mut out = String::new();
        normalize_lexed(tokens(sql), &mut out);
        out
    }

    #[test]
    fn cache_key_numbers_every_value_in_order() {
        assert_eq!(
            fast("SELECT $2, 'x' FROM t WHERE id = $1 AND n IN (1, 2) OR m = 5"),
            "select $1, $2 from t where id = $3 and n in ($4 /*, ... */) or m = $5"
        );
        // The text shown in reports is the same text.
        assert_eq!(
            normalize("SELECT $2, 'x' FROM t WHERE id = $1"),
            "select $1, $2 from t where id = $3"
        );
    }

    #[test]
    fn parameter_in_lists_of_any_length_share_a_cache_key() {
        // What drivers send for a list bound as parameters: the list's
        // length shifts the number of every later parameter.
        let short = fast("DELETE FROM t WHERE c IN ($1, $2) AND d = $3");
        let long = fast("DELETE FROM t WHERE c IN ($1, $2, $3, $4, $5) AND d = $6");
        let literal = fast("delete from t where c in (7) and d = 'x'");
        assert_eq!(short, "delete from t where c in ($1 /*, ... */) and d = $2");
        assert_eq!(short, long);
        assert_eq!(short, literal);
    }

    #[test]
    fn parameter_past_postgres_range_keeps_its_own_cache_key() {
        // `$2147483648` is a syntax error ("parameter number too large"):
        // it must not share the key of a statement that parses.
        assert_eq!(fast("SELECT $2147483647"), "select $1");
        assert_eq!(fast("SELECT $2147483648"), "select $2147483648");
        assert_eq!(fast("SELECT $99999999999"), "select $4294967295");
        assert_eq!(
            fast("SELECT a WHERE b IN ($1, $2147483648)"),
            "select a where b in ($1, $2147483648)"
        );
    }

    /// Statements built from the pieces lexing is most sensitive to.
    fn tricky_statements(n: usize) -> Vec<String> {
        const PIECES: &[&str] = &[
            " ", "  ", "\n", "\t", "'", "''", "'x'", "e'", "E'\\''", "\\", "b'", "X'1f'", "n'",
            "u&'", "U&\"", "u&", "\"", "\"\"", "\"Ab\"", "$", "$$", "$1", "$12", "$a$", "$a",
            "$_$", "--", "-", "/*", "*/", "/", "*", "(", ")", ",", ";", ".", ".5", "1", "1.5e3",
            "0x1F", "1_000", "e", "E", "in", "IN", "In (", "select", "a", "t1", "_x", "é", "ß",
            "x$", "=", "<>", "::",
        ];
        let mut r = crate::test_rng::Rng(0x5eed);
        (0..n)
            .map(|_| {
                let len = r.next() % 24;
                (0..len).map(|_| r.pick(PIECES)).collect()
            })
            .collect()
    }

    #[test]
    fn one_pass_normaliser_gives_exactly_the_token_by_token_text() {
        let mut differ = 0;
        for sql in tricky_statements(50_000).into_iter().chain([
            "SELECT x$1, date'2026-11-22', $01 IN ($2, 'a')".to_string(),
            "SELECT $2147483648 IN ($2147483648, 1), $3 IN ($2147483647)".to_string(),
        ]) {
            let (f, l) = (fast(&sql), lexed(&sql));
            assert_eq!(f, l, "{sql:?}");
            differ += usize::from(f != sql);
        }
        assert!(differ > 40_000, "{differ}");
    }

    #[test]
    fn identifiers_truncate_at_63_bytes() {
        let long = "a".repeat(70);
        assert_eq!(fold_identifier(&long).len(), 63);
    }
}
