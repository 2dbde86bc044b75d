//! The byte-level `log_line_prefix` matcher: a compiled prefix as a list of
//! literal separators and field scanners, matched by a small backtracking
//! search that tries the alternatives of each piece in exactly the order the
//! prefix's regular expression prefers them (lazy fields shortest first,
//! greedy runs longest first), so it finds the same match as the regex. It
//! answers [`Outcome::Unsure`] where it cannot decide alone (a non-ASCII
//! character where the regex's Unicode `\d` might see a digit, or a line
//! that would need too many attempts), and the caller asks the regex.
//! Before the search, the first choice of every piece is followed in one
//! pass ([`Matcher::first_path`]): the search tries that path first, so
//! where it matches it is the search's answer, and most lines match there.

/// A piece of a compiled prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Text as written.
    Lit(Box<str>),
    /// ` *` around a padded escape: spaces, longest run first.
    Spaces,
    /// `.*?`: anything, shortest first (`%a`, `%u`, `%d`, `%i`).
    Lazy,
    /// `\[local\]|[^\s()]*?` (`%h`).
    Host,
    /// `\[local\]|[^\s()]*?(?:\(\d+\))?` (`%r`).
    HostPort,
    /// `\[local\]|[^\s]*?` (`%L`).
    LocalOrWord,
    /// A backend type PostgreSQL prints, else anything (`%b`).
    BackendType,
    /// `\d+` (`%p`, `%l`, `%x`).
    Digits,
    /// `\d*` (`%P`).
    DigitsOpt,
    /// `-?\d+` (`%Q`).
    SignedDigits,
    /// `\d+/\d+|` (`%v`).
    Vxid,
    /// A `%t`/`%s` timestamp.
    Time,
    /// A `%m` timestamp (milliseconds).
    TimeMs,
    /// `\d+\.\d+` (`%n`).
    Epoch,
    /// `[0-9A-Z]{5}` (`%e`).
    Sqlstate,
    /// `[0-9a-f]+\.[0-9a-f]+` (`%c`).
    Session,
}

/// A compiled prefix: the pieces, and where `%q` starts the optional tail.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    pub(crate) pieces: Vec<Piece>,
    /// Index of the first piece after `%q`.
    pub(crate) optional_from: Option<usize>,
}

/// Where the pieces and the severity/message of a line are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spans {
    /// Byte range of each piece (`None`: in a `%q` tail not taken).
    pub(crate) pieces: Vec<Option<(usize, usize)>>,
    pub(crate) severity: (usize, usize),
    pub(crate) message: usize,
}

/// What the matcher says about a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Match(Spans),
    NoMatch,
    /// Ask the regex.
    Unsure,
}

/// Work allowed per line (in bytes scanned, an attempt counting as
/// [`ATTEMPT_COST`]) before the matcher gives the line to the regex: a
/// fixed amount plus a multiple of the line's length, so that a hostile
/// line costs linear time here too.
const BUDGET: u64 = 1 << 16;
const ATTEMPT_COST: u64 = 16;

/// Backend types PostgreSQL prints for `%b`, in the regex's order.
pub(crate) const BACKEND_TYPES: &[&str] = &[
    "client backend",
    "autovacuum launcher",
    "autovacuum worker",
    "logical replication launcher",
    "logical replication parallel worker",
    "logical replication tablesync worker",
    "logical replication apply worker",
    "logical replication worker",
    "parallel worker",
    "background writer",
    "background worker",
    "checkpointer",
    "walreceiver",
    "walsender",
    "walwriter",
    "walsummarizer",
    "wal summarizer",
    "archiver",
    "stats collector",
    "startup",
    "postmaster",
    "standalone backend",
    "slotsync worker",
    "io worker",
    "dead-end client backend",
];

/// Severities, in the regex's order (`DEBUG[1-5]?` first).
const SEVERITIES: &[&str] = &[
    "DEBUG",
    "INFO",
    "NOTICE",
    "WARNING",
    "ERROR",
    "LOG",
    "FATAL",
    "PANIC",
    "DETAIL",
    "HINT",
    "QUERY",
    "CONTEXT",
    "LOCATION",
    "STATEMENT",
    "BACKTRACE",
];

/// Gave up: the regex decides.
struct Unsure;

type Step = Result<bool, Unsure>;

struct Run<'a> {
    m: &'a Matcher,
    text: &'a str,
    b: &'a [u8],
    spans: Vec<Option<(usize, usize)>>,
    severity: (usize, usize),
    message: usize,
    budget: u64,
}

/// The ASCII digits from `pos`; unsure when a non-ASCII character follows
/// (the regex's `\d` is Unicode).
fn digit_run(b: &[u8], pos: usize) -> Result<usize, Unsure> {
    let n = after(b, pos)
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    match b.get(pos + n) {
        Some(c) if !c.is_ascii() => Err(Unsure),
        _ => Ok(n),
    }
}

/// Exactly `n` digits at `pos`.
fn digits_exact(b: &[u8], pos: usize, n: usize) -> Result<bool, Unsure> {
    for i in 0..n {
        match b.get(pos + i) {
            Some(c) if c.is_ascii_digit() => {}
            Some(c) if !c.is_ascii() => return Err(Unsure),
            _ => return Ok(false),
        }
    }
    Ok(true)
}

fn is_zone_start(c: u8) -> bool {
    c.is_ascii_alphabetic()
}

fn is_zone_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'/' | b'_' | b'+' | b'-')
}

/// `\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}` at `pos` (the digits checked
/// first: a non-ASCII character among them makes the matcher unsure).
fn date_time_at(b: &[u8], pos: usize) -> Result<bool, Unsure> {
    for (off, n) in [(0, 4), (5, 2), (8, 2), (11, 2), (14, 2), (17, 2)] {
        if !digits_exact(b, pos + off, n)? {
            return Ok(false);
        }
    }
    Ok(b.get(pos + 4) == Some(&b'-')
        && b.get(pos + 7) == Some(&b'-')
        && matches!(b.get(pos + 10), Some(b' ' | b'T'))
        && b.get(pos + 13) == Some(&b':')
        && b.get(pos + 16) == Some(&b':'))
}

/// How many zone-name characters (at most 30) follow a zone's first
/// letter, from `pos`.
fn zone_word_rest(b: &[u8], pos: usize) -> usize {
    after(b, pos)
        .iter()
        .take(30)
        .take_while(|c| is_zone_char(**c))
        .count()
}

fn is_sqlstate_char(c: u8) -> bool {
    c.is_ascii_digit() || c.is_ascii_uppercase()
}

/// A verbose SQLSTATE (five of `[0-9A-Z]`, at least one digit) at `pos`.
fn sqlstate_at(b: &[u8], pos: usize) -> bool {
    b.get(pos..pos + 5)
        .is_some_and(|s| s.iter().all(|c| is_sqlstate_char(*c)) && s.iter().any(u8::is_ascii_digit))
}

thread_local! {
    /// The span buffer of the last line matched on this thread, reused
    /// (see [`recycle`]): a line is matched without an allocation.
    static SPARE: std::cell::Cell<Vec<Option<(usize, usize)>>> =
        const { std::cell::Cell::new(Vec::new()) };
}

/// Gives the spans of a match back for the next line to reuse.
pub(crate) fn recycle(pieces: Vec<Option<(usize, usize)>>) {
    SPARE.with(|s| s.set(pieces));
}

impl Matcher {
    /// Matches `text` (a whole line).
    pub(crate) fn run(&self, text: &str) -> Outcome {
        let mut spans = SPARE.with(std::cell::Cell::take);
        spans.clear();
        spans.resize(self.pieces.len(), None);
        // Most lines match along the first choice of every piece: found
        // without the search.
        match self.first_path(text, &mut spans) {
            First::Match(severity, message) => {
                return Outcome::Match(Spans {
                    pieces: spans,
                    severity,
                    message,
                })
            }
            First::Unsure => {
                recycle(spans);
                return Outcome::Unsure;
            }
            First::Search => {}
        }
        spans.fill(None);
        self.search(text, spans)
    }

    /// Matches `text` by the backtracking search alone, filling `spans`
    /// (one per piece, all `None`).
    fn search(&self, text: &str, spans: Vec<Option<(usize, usize)>>) -> Outcome {
        let mut r = Run {
            m: self,
            text,
            b: text.as_bytes(),
            spans,
            severity: (0, 0),
            message: 0,
            budget: BUDGET + 16 * text.len() as u64,
        };
        match r.from(0, 0) {
            Ok(true) => Outcome::Match(Spans {
                pieces: r.spans,
                severity: r.severity,
                message: r.message,
            }),
            Ok(false) => {
                recycle(r.spans);
                Outcome::NoMatch
            }
            Err(Unsure) => {
                recycle(r.spans);
                Outcome::Unsure
            }
        }
    }
}

/// What following the first choice of every piece gave.
enum First {
    /// The match (the severity's range, where the message starts): the
    /// one the search finds, since it tries this path first.
    Match((usize, usize), usize),
    /// The search would give up on this path ([`Outcome::Unsure`]) before
    /// trying any other.
    Unsure,
    /// The path fails: the search decides.
    Search,
}

impl From<Unsure> for First {
    fn from(_: Unsure) -> Self {
        First::Unsure
    }
}

/// The first path: a piece's first choice, or `Err(First::Search)` when it
/// has none (or `First::Unsure`).
type Choice = Result<usize, First>;

impl Matcher {
    /// The literal that must follow piece `i` (none when the next piece is
    /// not a literal, or starts the optional `%q` tail).
    fn literal_after(&self, i: usize) -> Option<&[u8]> {
        match self.pieces.get(i + 1) {
            Some(Piece::Lit(l)) if Some(i + 1) != self.optional_from => Some(l.as_bytes()),
            _ => None,
        }
    }

    /// Whether every piece after piece `i` is a literal, none of them the
    /// start of the optional `%q` tail, and the first of them exists.
    fn only_literals_after(&self, i: usize) -> bool {
        let rest = self.pieces.get(i + 1..).unwrap_or_default();
        !rest.is_empty()
            && rest.iter().all(|p| matches!(p, Piece::Lit(_)))
            && self
                .optional_from
                .is_none_or(|o| o <= i || o >= self.pieces.len())
    }

    /// Follows the first choice of every piece, in the order
    /// [`Run::piece`] tries them, charging the same budget: when that path
    /// matches, it is the match the search returns (it tries it first), so
    /// the search is needed only when it fails.
    fn first_path(&self, text: &str, spans: &mut [Option<(usize, usize)>]) -> First {
        let mut f = FirstPath {
            m: self,
            text,
            b: text.as_bytes(),
            budget: BUDGET + 16 * text.len() as u64,
        };
        let mut pos = 0;
        for (i, piece) in self.pieces.iter().enumerate() {
            if f.charge(ATTEMPT_COST).is_err() {
                return First::Unsure;
            }
            if matches!(piece, Piece::Lazy) && self.only_literals_after(i) {
                // The last free field: the search tries each of its ends in
                // turn, with nothing but literals and the tail after it.
                return f.last_lazy(i, pos, spans);
            }
            let end = match f.piece(i, piece, pos) {
                Ok(end) => end,
                Err(e) => return e,
            };
            if let Some(s) = spans.get_mut(i) {
                *s = Some((pos, end));
            }
            pos = end;
        }
        if f.charge(ATTEMPT_COST).is_err() {
            return First::Unsure;
        }
        match tail_at(f.b, pos) {
            Some((severity, message)) => First::Match(severity, message),
            None => First::Search,
        }
    }
}

/// The state of [`Matcher::first_path`].
struct FirstPath<'a> {
    m: &'a Matcher,
    text: &'a str,
    b: &'a [u8],
    budget: u64,
}

impl FirstPath<'_> {
    fn charge(&mut self, cost: u64) -> Result<(), Unsure> {
        self.budget = self.budget.checked_sub(cost).ok_or(Unsure)?;
        Ok(())
    }

    /// Where the first choice of piece `i` at `pos` ends.
    fn piece(&mut self, i: usize, piece: &Piece, pos: usize) -> Choice {
        let b = self.b;
        let none = Err(First::Search);
        let local = || after(b, pos).starts_with(b"[local]");
        match piece {
            Piece::Lit(l) => {
                if starts(b, pos, l.as_bytes()) {
                    Ok(pos + l.len())
                } else {
                    none
                }
            }
            Piece::Spaces => Ok(pos + after(b, pos).iter().take_while(|c| **c == b' ').count()),
            Piece::Lazy => self.lazy(i, pos, true, |_| true),
            Piece::Host if local() => Ok(pos + 7),
            Piece::Host => self.lazy(i, pos, false, |c| {
                !c.is_whitespace() && c != '(' && c != ')'
            }),
            Piece::HostPort if local() => Ok(pos + 7),
            Piece::HostPort => {
                // The shortest host (none) with the greedy `(port)` first.
                if b.get(pos) == Some(&b'(') {
                    let n = digit_run(b, pos + 1)?;
                    if n > 0 && b.get(pos + 1 + n) == Some(&b')') {
                        return Ok(pos + n + 2);
                    }
                }
                Ok(pos)
            }
            Piece::LocalOrWord if local() => Ok(pos + 7),
            Piece::LocalOrWord => self.lazy(i, pos, false, |c| !c.is_whitespace()),
            Piece::BackendType => {
                match BACKEND_TYPES
                    .iter()
                    .find(|t| after(b, pos).starts_with(t.as_bytes()))
                {
                    Some(t) => Ok(pos + t.len()),
                    None => self.lazy(i, pos, true, |_| true),
                }
            }
            Piece::Digits => match digit_run(b, pos)? {
                0 => none,
                n => Ok(pos + n),
            },
            Piece::DigitsOpt => Ok(pos + digit_run(b, pos)?),
            Piece::SignedDigits => {
                let sign = usize::from(b.get(pos) == Some(&b'-'));
                match digit_run(b, pos + sign)? {
                    0 => none,
                    n => Ok(pos + sign + n),
                }
            }
            Piece::Vxid => {
                let n = digit_run(b, pos)?;
                if n > 0 && b.get(pos + n) == Some(&b'/') {
                    let m = digit_run(b, pos + n + 1)?;
                    if m > 0 {
                        return Ok(pos + n + 1 + m);
                    }
                }
                Ok(pos)
            }
            Piece::Time | Piece::TimeMs => self.time(pos, matches!(piece, Piece::TimeMs)),
            Piece::Epoch => {
                let n = digit_run(b, pos)?;
                if n == 0 || b.get(pos + n) != Some(&b'.') {
                    return none;
                }
                match digit_run(b, pos + n + 1)? {
                    0 => none,
                    m => Ok(pos + n + 1 + m),
                }
            }
            Piece::Sqlstate => {
                if b.get(pos..pos + 5)
                    .is_some_and(|s| s.iter().all(|c| is_sqlstate_char(*c)))
                {
                    Ok(pos + 5)
                } else {
                    none
                }
            }
            Piece::Session => {
                let hex = |c: &u8| c.is_ascii_digit() || (b'a'..=b'f').contains(c);
                let n = after(b, pos).iter().take_while(|c| hex(c)).count();
                if n == 0 || b.get(pos + n) != Some(&b'.') {
                    return none;
                }
                match after(b, pos + n + 1).iter().take_while(|c| hex(c)).count() {
                    0 => none,
                    m => Ok(pos + n + 1 + m),
                }
            }
        }
    }

    /// Piece `i`, a lazy field followed only by literals, and what follows
    /// it: each end [`Run::lazy`] tries (where the next literal starts),
    /// in its order and charging what the search charges, until the
    /// literals and the tail match there.
    fn last_lazy(&mut self, i: usize, pos: usize, spans: &mut [Option<(usize, usize)>]) -> First {
        let b = self.b;
        let rest = self.m.pieces.get(i + 1..).unwrap_or_default();
        let Some(Piece::Lit(first)) = rest.first() else {
            return First::Search;
        };
        let first = first.as_bytes();
        let mut from = pos;
        while let Some(off) = first
            .first()
            .and_then(|&c| memchr::memchr(c, after(b, from)))
        {
            if self.charge(off as u64 + 1).is_err() {
                return First::Unsure;
            }
            let end = from + off;
            from = end + 1;
            if !starts(b, end, first) {
                continue;
            }
            // `from` of each piece after the field, then of the tail.
            let mut at = end;
            let mut matched = true;
            for (j, piece) in rest.iter().enumerate() {
                if self.charge(ATTEMPT_COST).is_err() {
                    return First::Unsure;
                }
                let Piece::Lit(l) = piece else {
                    return First::Search;
                };
                if !starts(b, at, l.as_bytes()) {
                    matched = false;
                    break;
                }
                if let Some(s) = spans.get_mut(i + 1 + j) {
                    *s = Some((at, at + l.len()));
                }
                at += l.len();
            }
            if !matched {
                continue;
            }
            if self.charge(ATTEMPT_COST).is_err() {
                return First::Unsure;
            }
            if let Some((severity, message)) = tail_at(b, at) {
                if let Some(s) = spans.get_mut(i) {
                    *s = Some((pos, end));
                }
                return First::Match(severity, message);
            }
        }
        First::Search
    }

    /// The shortest lazy run [`Run::lazy`] tries first.
    fn lazy(&mut self, i: usize, pos: usize, any: bool, ok: impl Fn(char) -> bool) -> Choice {
        let lit = self.m.literal_after(i);
        let b = self.b;
        if let (true, Some(l)) = (any, lit) {
            let mut from = pos;
            while let Some(off) = l.first().and_then(|&c| memchr::memchr(c, after(b, from))) {
                self.charge(off as u64 + 1)?;
                let end = from + off;
                if starts(b, end, l) {
                    return Ok(end);
                }
                from = end + 1;
            }
            return Err(First::Search);
        }
        let mut end = pos;
        loop {
            if lit.is_none_or(|l| starts(b, end, l)) {
                return Ok(end);
            }
            match self.text.get(end..).unwrap_or_default().chars().next() {
                Some(c) if any || ok(c) => {
                    self.charge(1)?;
                    end += c.len_utf8();
                }
                _ => return Err(First::Search),
            }
        }
    }

    /// The timestamp [`Run::time`] tries first: the longest fraction, then
    /// the zone [`Run::zone`] tries first.
    fn time(&mut self, pos: usize, ms: bool) -> Choice {
        let b = self.b;
        if !date_time_at(b, pos)? {
            return Err(First::Search);
        }
        let at = pos + 19;
        if !ms {
            return self.zone(at.min(b.len()));
        }
        if b.get(at) != Some(&b'.') {
            return Err(First::Search);
        }
        match digit_run(b, at + 1)?.min(6) {
            0 => Err(First::Search),
            n => self.zone(at + 1 + n),
        }
    }

    /// The zone [`Run::zone`] tries first at `at`: after a space, then
    /// without one; none when neither starts a zone.
    fn zone(&mut self, at: usize) -> Choice {
        let b = self.b;
        for start in [at + 1, at] {
            if start == at + 1 && b.get(at) != Some(&b' ') {
                continue;
            }
            match b.get(start) {
                Some(c) if is_zone_start(*c) => {
                    let n = zone_word_rest(b, start + 1);
                    return Ok(start + 1 + n);
                }
                Some(b'+' | b'-') if digits_exact(b, start + 1, 2)? => {
                    let h = start + 3;
                    if b.get(h) == Some(&b':') && digits_exact(b, h + 1, 2)? {
                        return Ok(h + 3);
                    }
                    if digits_exact(b, h, 2)? {
                        return Ok(h + 2);
                    }
                    return Ok(h);
                }
                _ => {}
            }
        }
        Ok(at)
    }
}

impl Run<'_> {
    /// Matches pieces `i..` (then the severity and message) at `pos`.
    fn from(&mut self, i: usize, pos: usize) -> Step {
        self.charge(ATTEMPT_COST)?;
        if Some(i) == self.m.optional_from {
            // `(?:tail)?` is greedy: with the tail first, then without.
            if self.piece(i, pos)? {
                return Ok(true);
            }
            for s in self.spans.get_mut(i..).unwrap_or_default() {
                *s = None;
            }
            return self.tail(pos);
        }
        self.piece(i, pos)
    }

    /// Matches piece `i` at `pos` and everything after it.
    fn piece(&mut self, i: usize, pos: usize) -> Step {
        let Some(piece) = self.m.pieces.get(i) else {
            return self.tail(pos);
        };
        let b = self.b;
        match piece {
            Piece::Lit(l) => {
                if after(b, pos).starts_with(l.as_bytes()) {
                    self.next(i, pos, pos + l.len())
                } else {
                    Ok(false)
                }
            }
            Piece::Spaces => {
                let n = after(b, pos).iter().take_while(|c| **c == b' ').count();
                for end in (pos..=pos + n).rev() {
                    if self.next(i, pos, end)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Piece::Lazy => self.lazy(i, pos, true, |_| true),
            Piece::Host => {
                if self.local(i, pos)? {
                    return Ok(true);
                }
                self.lazy(i, pos, false, |c| {
                    !c.is_whitespace() && c != '(' && c != ')'
                })
            }
            Piece::HostPort => {
                if self.local(i, pos)? {
                    return Ok(true);
                }
                // `[^\s()]*?` shortest first, each length with the greedy
                // optional `(port)` before without it.
                let mut end = pos;
                loop {
                    if b.get(end) == Some(&b'(') {
                        let n = digit_run(b, end + 1)?;
                        if n > 0
                            && b.get(end + 1 + n) == Some(&b')')
                            && self.next(i, pos, end + n + 2)?
                        {
                            return Ok(true);
                        }
                    }
                    if self.next(i, pos, end)? {
                        return Ok(true);
                    }
                    match self.text.get(end..).unwrap_or_default().chars().next() {
                        Some(c) if !c.is_whitespace() && c != '(' && c != ')' => {
                            self.charge(1)?;
                            end += c.len_utf8();
                        }
                        _ => return Ok(false),
                    }
                }
            }
            Piece::LocalOrWord => {
                if self.local(i, pos)? {
                    return Ok(true);
                }
                self.lazy(i, pos, false, |c| !c.is_whitespace())
            }
            Piece::BackendType => {
                for t in BACKEND_TYPES {
                    if after(b, pos).starts_with(t.as_bytes())
                        && self.next(i, pos, pos + t.len())?
                    {
                        return Ok(true);
                    }
                }
                self.lazy(i, pos, true, |_| true)
            }
            Piece::Digits => {
                let n = digit_run(b, pos)?;
                self.greedy(i, pos, pos + 1, pos + n)
            }
            Piece::DigitsOpt => {
                let n = digit_run(b, pos)?;
                self.greedy(i, pos, pos, pos + n)
            }
            Piece::SignedDigits => {
                if b.get(pos) == Some(&b'-') {
                    let n = digit_run(b, pos + 1)?;
                    if self.greedy(i, pos, pos + 2, pos + 1 + n)? {
                        return Ok(true);
                    }
                }
                let n = digit_run(b, pos)?;
                self.greedy(i, pos, pos + 1, pos + n)
            }
            Piece::Vxid => {
                let n = digit_run(b, pos)?;
                if n > 0 && b.get(pos + n) == Some(&b'/') {
                    let m = digit_run(b, pos + n + 1)?;
                    if self.greedy(i, pos, pos + n + 2, pos + n + 1 + m)? {
                        return Ok(true);
                    }
                }
                self.next(i, pos, pos)
            }
            Piece::Time | Piece::TimeMs => self.time(i, pos, matches!(piece, Piece::TimeMs)),
            Piece::Epoch => {
                let n = digit_run(b, pos)?;
                if n == 0 || b.get(pos + n) != Some(&b'.') {
                    return Ok(false);
                }
                let m = digit_run(b, pos + n + 1)?;
                self.greedy(i, pos, pos + n + 2, pos + n + 1 + m)
            }
            Piece::Sqlstate => {
                if b.get(pos..pos + 5)
                    .is_some_and(|s| s.iter().all(|c| is_sqlstate_char(*c)))
                {
                    self.next(i, pos, pos + 5)
                } else {
                    Ok(false)
                }
            }
            Piece::Session => {
                let hex = |c: &u8| c.is_ascii_digit() || (b'a'..=b'f').contains(c);
                let n = after(b, pos).iter().take_while(|c| hex(c)).count();
                if n == 0 || b.get(pos + n) != Some(&b'.') {
                    return Ok(false);
                }
                let m = after(b, pos + n + 1).iter().take_while(|c| hex(c)).count();
                self.greedy(i, pos, pos + n + 2, pos + n + 1 + m)
            }
        }
    }

    fn charge(&mut self, cost: u64) -> Result<(), Unsure> {
        self.budget = self.budget.checked_sub(cost).ok_or(Unsure)?;
        Ok(())
    }

    /// Piece `i` took `pos..end`: on to the next one.
    fn next(&mut self, i: usize, pos: usize, end: usize) -> Step {
        if let Some(s) = self.spans.get_mut(i) {
            *s = Some((pos, end));
        }
        self.from(i + 1, end)
    }

    /// Ends from `hi` down to `lo` (a greedy run).
    fn greedy(&mut self, i: usize, pos: usize, lo: usize, hi: usize) -> Step {
        let mut end = hi;
        while end >= lo {
            if self.next(i, pos, end)? {
                return Ok(true);
            }
            if end == 0 {
                break;
            }
            end -= 1;
        }
        Ok(false)
    }

    /// `\[local\]` at `pos`.
    fn local(&mut self, i: usize, pos: usize) -> Step {
        if after(self.b, pos).starts_with(b"[local]") {
            self.next(i, pos, pos + 7)
        } else {
            Ok(false)
        }
    }

    /// A lazy run of characters allowed by `ok` from `pos`: shortest
    /// first. When the next piece is a literal, only the ends where it
    /// follows are tried (the others fail on it anyway).
    fn lazy(&mut self, i: usize, pos: usize, any: bool, ok: impl Fn(char) -> bool) -> Step {
        let lit = self.m.literal_after(i);
        let b = self.b;
        if let (true, Some(l)) = (any, lit) {
            // Any character: jump from one occurrence of the literal to the
            // next (a literal always starts on a character boundary).
            let mut from = pos;
            while let Some(off) = l.first().and_then(|&c| memchr::memchr(c, after(b, from))) {
                self.charge(off as u64 + 1)?;
                let end = from + off;
                if after(b, end).starts_with(l) && self.next(i, pos, end)? {
                    return Ok(true);
                }
                from = end + 1;
            }
            return Ok(false);
        }
        let mut end = pos;
        loop {
            let skip = lit.is_some_and(|l| !after(b, end).starts_with(l));
            if !skip && self.next(i, pos, end)? {
                return Ok(true);
            }
            match self.text.get(end..).unwrap_or_default().chars().next() {
                Some(c) if any || ok(c) => {
                    self.charge(1)?;
                    end += c.len_utf8();
                }
                _ => return Ok(false),
            }
        }
    }

    /// A timestamp as `%t` (or `%m`, with a fraction) prints it, zone
    /// optional; the alternatives in the regex's order.
    fn time(&mut self, i: usize, pos: usize, ms: bool) -> Step {
        let b = self.b;
        if !date_time_at(b, pos)? {
            return Ok(false);
        }
        let mut at = pos + 19;
        if ms {
            // \.\d{1,6}, greedy: every shorter fraction leaves a digit.
            if b.get(at) != Some(&b'.') {
                return Ok(false);
            }
            let n = digit_run(b, at + 1)?.min(6);
            if n == 0 {
                return Ok(false);
            }
            // A shorter fraction is followed by a digit, which neither a zone
            // nor anything after a space can start; but the pieces after may
            // take digits, so try every length, longest first.
            for k in (1..=n).rev() {
                if self.zone(i, pos, at + 1 + k)? {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        at = at.min(b.len());
        self.zone(i, pos, at)
    }

    /// `(?:[ ]?(?:[A-Za-z][A-Za-z0-9/_+\-]{0,30}|[+\-]\d{2}(?::?\d{2})?))?`
    /// after a time ending at `at`, then the next piece.
    fn zone(&mut self, i: usize, pos: usize, at: usize) -> Step {
        let b = self.b;
        for start in [at + 1, at] {
            if start == at + 1 && b.get(at) != Some(&b' ') {
                continue;
            }
            match b.get(start) {
                Some(c) if is_zone_start(*c) => {
                    let n = zone_word_rest(b, start + 1);
                    for k in (0..=n).rev() {
                        if self.next(i, pos, start + 1 + k)? {
                            return Ok(true);
                        }
                    }
                }
                Some(b'+' | b'-') if digits_exact(b, start + 1, 2)? => {
                    let h = start + 3;
                    // (?::?\d{2})? greedy: with `:`, without, then nothing.
                    if b.get(h) == Some(&b':')
                        && digits_exact(b, h + 1, 2)?
                        && self.next(i, pos, h + 3)?
                    {
                        return Ok(true);
                    }
                    if digits_exact(b, h, 2)? && self.next(i, pos, h + 2)? {
                        return Ok(true);
                    }
                    if self.next(i, pos, h)? {
                        return Ok(true);
                    }
                }
                _ => {}
            }
        }
        self.next(i, pos, at)
    }

    /// `(SEVERITY):  ?(?:SQLSTATE:  ?)?(.*)$` at `pos`.
    fn tail(&mut self, pos: usize) -> Step {
        match tail_at(self.b, pos) {
            Some((severity, message)) => {
                self.severity = severity;
                self.message = message;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// `(SEVERITY):  ?(?:SQLSTATE:  ?)?(.*)$` at `pos`: where the severity
/// and the message are.
fn tail_at(b: &[u8], pos: usize) -> Option<((usize, usize), usize)> {
    let rest = after(b, pos);
    // A severity is a word that ends at the first `:` (`DEBUG1` to
    // `DEBUG5` too): at most one alternative can match.
    let sev = memchr::memchr(b':', rest.get(..10).unwrap_or(rest))?;
    let word = rest.get(..sev).unwrap_or(rest);
    let known = SEVERITIES.iter().any(|s| s.as_bytes() == word)
        || matches!(word, [b'D', b'E', b'B', b'U', b'G', b'1'..=b'5']);
    if !known || rest.get(sev + 1) != Some(&b' ') {
        return None;
    }
    let mut at = pos + sev + 2;
    if b.get(at) == Some(&b' ') {
        at += 1;
    }
    if sqlstate_at(b, at) && after(b, at + 5).starts_with(b": ") {
        at += 7;
        if b.get(at) == Some(&b' ') {
            at += 1;
        }
    }
    Some(((pos, pos + sev), at))
}

/// Whether `lit` is at `pos` of `b`: compared in line (literals are a
/// byte or two, shorter than a call to `memcmp` is worth).
fn starts(b: &[u8], pos: usize, lit: &[u8]) -> bool {
    lit.iter()
        .enumerate()
        .all(|(k, c)| b.get(pos + k) == Some(c))
}

/// The bytes of `b` from `pos` on (empty past the end).
fn after(b: &[u8], pos: usize) -> &[u8] {
    b.get(pos..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    //! The matcher must split every line exactly as the regex does.

    use super::Outcome;
    use crate::input::prefix::{Prefix, KNOWN_PREFIXES};

    /// Prefixes used by fixtures and tests, and every escape alone, padded
    /// both ways, and next to its neighbours.
    fn prefixes() -> Vec<String> {
        let mut v: Vec<String> = KNOWN_PREFIXES.iter().map(|p| (*p).to_string()).collect();
        v.extend(
            [
                "%m [%p] user=%u,db=%d,app=%a,client=%h ",
                "%m [%p] user=%u,db=%d ",
                "user=%u,db=%d,app=%a,client=%h ",
                "<%t|%u|%d|%p> ",
                "%n %c %10u %-8d|",
                "%m [%-6p] %-10u ",
                "%m [%p] %b %l %q%u@%d/%a ",
                "%a|%u|%d|%r|%h|%L|%b|%p|%P|%t|%m|%n|%i|%e|%c|%l|%s|%v|%x|%Q|%%|",
                "%q%u@%d ",
                "%m%p%u%d",
                "%t%q",
                "",
                "%z%Y %m ",
                "%5%|%-3%",
            ]
            .map(String::from),
        );
        for e in "audhrLbpPtmnieclsvxQ%".chars() {
            v.push(format!("%{e} "));
            v.push(format!("%{e}"));
            v.push(format!("[%-7{e}]:"));
            v.push(format!("%7{e}@"));
            v.push(format!("%{e}%u@%d "));
            v.push(format!("%m %{e}%q %a "));
        }
        v
    }

    fn fixture_lines() -> Vec<String> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            let Ok(rd) = std::fs::read_dir(dir) else {
                return;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut files = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
            &mut files,
        );
        files.sort();
        let mut lines = Vec::new();
        for f in files {
            let Ok(bytes) = std::fs::read(&f) else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes);
            lines.extend(text.lines().take(3000).map(String::from));
        }
        lines
    }

    fn check(p: &Prefix, line: &str) -> bool {
        let fast = p.split(line);
        let slow = p.split_regex(line);
        assert_eq!(fast, slow, "prefix {:?} line {line:?}", p.source);
        !matches!(p.matcher.run(line), Outcome::Unsure)
    }

    #[test]
    fn matcher_splits_every_fixture_line_as_the_regex_does() {
        let lines = fixture_lines();
        assert!(lines.len() > 1000, "fixtures found: {}", lines.len());
        let mut matched = 0usize;
        // The real prefixes (the known ones and those of fixtures and tests;
        // every escape is in the generated test below) never need the regex
        // on these lines.
        for src in prefixes().into_iter().take(KNOWN_PREFIXES.len() + 8) {
            let p = Prefix::compile(&src).unwrap();
            for l in &lines {
                assert!(check(&p, l), "unsure on a fixture line: {src:?} {l:?}");
                matched += usize::from(p.split(l).is_some());
            }
        }
        // The comparison is not vacuous: many lines split.
        assert!(matched > 10_000, "{matched}");
    }

    use crate::test_rng::Rng;

    /// A plausible (or nearly plausible) value for an escape.
    fn value(r: &mut Rng, e: char) -> String {
        let names = [
            "",
            "alice",
            "[unknown]",
            "my app",
            "a@b",
            "x/y",
            "Jörg's tool",
            "a b c",
            "db:1",
            "@",
            "/",
            "[local]",
            "u٣",
            "LOG:  x",
        ];
        let v: &[&str] = match e {
            'a' | 'u' | 'd' | 'i' => &names,
            'h' => &["10.0.0.1", "[local]", "::1", "", "h(1)", "h x", "ö"],
            'r' => &[
                "10.0.0.1(5432)",
                "[local]",
                "::1",
                "h(x)",
                "h(12)(3)",
                "",
                "h(٣)",
                "a(1",
            ],
            'L' => &["10.0.0.1", "[local]", "", "x y"],
            'b' => &[
                "client backend",
                "checkpointer",
                "TimescaleDB Worker",
                "",
                "wal summarizer x",
            ],
            'p' | 'l' | 'x' => &["4242", "7", "", "12a", "٣", "1٣"],
            'P' => &["", "4240", "x"],
            't' | 's' => &[
                "2024-06-27 00:00:07 CEST",
                "2024-06-27 00:00:07",
                "2024-06-27T00:00:07+02",
                "2024-06-27 00:00:07 +05:30",
                "2024-06-27 00:00:07 -0800",
                "2024-06-27 00:00:07 Europe/Berlin",
                "2024-06-27 00:00:07 A23456789012345678901234567890123",
                "2024-06-27 00:00:0",
                "2024-06-27 00:00:07 ٣",
                "2024-06-27 00:00:07 +1",
            ],
            'm' => &[
                "2024-06-27 00:00:07.369 UTC",
                "2024-06-27 00:00:07.369",
                "2024-06-27 00:00:07.1234567 UTC",
                "2024-06-27 00:00:07.3 +03",
                "2024-06-27 00:00:07. UTC",
                "2024-06-27 00:00:07.12٣",
            ],
            'n' => &["1719439207.369", "1719439207", "1.", ".5"],
            'e' => &["00000", "42P01", "ABCDE", "0000"],
            'c' => &["667c8f67.e327", "667c8f67.", "abc.def0", "G.1"],
            'v' => &["3/77", "", "3/", "/7"],
            'Q' => &["-123456789", "0", "-", "7"],
            '%' => &["%"],
            _ => &[""],
        };
        let mut s = r.pick(v).to_string();
        if r.next() % 4 == 0 {
            s = format!("{s}{}", " ".repeat((r.next() % 3) as usize));
        }
        s
    }

    /// Renders `prefix` with random values, then a severity and a message.
    fn render(r: &mut Rng, prefix: &str) -> String {
        let mut out = String::new();
        let mut chars = prefix.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            let mut width = 0usize;
            while let Some(d) = chars
                .peek()
                .copied()
                .filter(|d| *d == '-' || d.is_ascii_digit())
            {
                chars.next();
                width = width * 10 + d.to_digit(10).unwrap_or(0) as usize;
            }
            let Some(e) = chars.next() else { break };
            let v = value(r, e);
            let pad = " ".repeat(width.saturating_sub(v.chars().count()));
            if r.next() % 2 == 0 {
                out.push_str(&pad);
                out.push_str(&v);
            } else {
                out.push_str(&v);
                out.push_str(&pad);
            }
        }
        out.push_str(r.pick(&[
            "LOG",
            "ERROR",
            "DEBUG1",
            "DEBUG7",
            "STATEMENT",
            "AUDIT",
            "LOCATION",
            "log",
            "",
        ]));
        out.push_str(r.pick(&[":  ", ": ", ":", ":   ", "  "]));
        out.push_str(r.pick(&[
            "statement: SELECT 1",
            "00000: statement: SELECT 1",
            "42P01:  relation",
            "AUDIT: SESSION,1",
            "ABCDE: x",
            "",
            "\u{0}\ttab\nnewline",
        ]));
        out
    }

    /// Random edits: characters that matter to the matcher.
    fn mutate(r: &mut Rng, line: &str) -> String {
        let pool = [
            " ", "@", "/", "[", "]", "(", ")", ":", ".", "-", "+", "1", "٣", "ö", "\t", "\u{3000}",
            "LOG:  ", "T", "%",
        ];
        let mut chars: Vec<char> = line.chars().collect();
        for _ in 0..=(r.next() % 3) {
            let at = (r.next() % (chars.len() as u64 + 1)) as usize;
            match r.next() % 3 {
                0 if at < chars.len() => {
                    chars.remove(at);
                }
                1 if at < chars.len() => {
                    let with: Vec<char> = r.pick(&pool).chars().collect();
                    chars.splice(at..=at, with);
                }
                _ => {
                    let with: Vec<char> = r.pick(&pool).chars().collect();
                    chars.splice(at..at, with);
                }
            }
        }
        chars.into_iter().collect()
    }

    #[test]
    fn matcher_splits_generated_and_mutated_lines_as_the_regex_does() {
        let mut r = Rng(7);
        let mut decided = 0usize;
        let mut total = 0usize;
        for src in prefixes() {
            let p = Prefix::compile(&src).unwrap();
            for _ in 0..300 {
                let line = render(&mut r, &src);
                let mutated = mutate(&mut r, &line);
                for l in [line, mutated] {
                    total += 1;
                    decided += usize::from(check(&p, &l));
                }
            }
        }
        // The regex is asked only for the rare undecidable line.
        assert!(decided * 10 > total * 8, "{decided} of {total}");
    }

    /// The first path, where it decides, gives what the search gives.
    fn check_first_path(p: &Prefix, line: &str) -> bool {
        let m = &p.matcher;
        let mut spans = vec![None; m.pieces.len()];
        let first = m.first_path(line, &mut spans);
        let search = m.search(line, vec![None; m.pieces.len()]);
        match first {
            super::First::Match(severity, message) => {
                let got = Outcome::Match(super::Spans {
                    pieces: spans,
                    severity,
                    message,
                });
                assert_eq!(got, search, "prefix {:?} line {line:?}", p.source);
                true
            }
            super::First::Unsure => {
                assert_eq!(
                    search,
                    Outcome::Unsure,
                    "prefix {:?} line {line:?}",
                    p.source
                );
                true
            }
            super::First::Search => false,
        }
    }

    #[test]
    fn first_path_matches_as_the_search_does() {
        let lines = fixture_lines();
        let mut r = Rng(11);
        let (mut decided, mut total) = (0usize, 0usize);
        for src in prefixes() {
            let p = Prefix::compile(&src).unwrap();
            let real = KNOWN_PREFIXES.contains(&src.as_str());
            for l in lines.iter().filter(|_| real) {
                total += 1;
                decided += usize::from(check_first_path(&p, l));
            }
            for _ in 0..300 {
                let line = render(&mut r, &src);
                let mutated = mutate(&mut r, &line);
                for l in [line, mutated] {
                    total += 1;
                    decided += usize::from(check_first_path(&p, &l));
                }
            }
        }
        // Not vacuous: the first path decides many lines, and not all.
        assert!(decided > 20_000 && decided < total, "{decided} of {total}");
    }

    #[test]
    fn first_path_agrees_on_hostile_lines_and_names_with_spaces() {
        let p = Prefix::compile("%m [%p] %q%u@%d/%a ").unwrap();
        let hostile = [
            format!("2024-06-27 00:00:07.369 UTC [4] {}", "@/ ".repeat(20_000)),
            format!(
                "2024-06-27 00:00:07.369 UTC [4] u@d/{} LOG:  x",
                "a ".repeat(40_000)
            ),
            format!(
                "2024-06-27 00:00:07.369 UTC [4] u@d/{}LOG:  x",
                "a ".repeat(5)
            ),
        ];
        for l in &hostile {
            check_first_path(&p, l);
            assert_eq!(p.split(l), p.split_regex(l));
        }
        // An application name with spaces: the first pass tries each space.
        let l = "2024-06-27 00:00:07.369 UTC [4] u@d/PostgreSQL JDBC Driver LOG:  statement: x";
        assert!(check_first_path(&p, l), "decided by the first pass");
        assert_eq!(
            p.split(l).unwrap().application,
            Some("PostgreSQL JDBC Driver")
        );
    }

    #[test]
    fn unicode_digit_goes_to_the_regex() {
        let p = Prefix::compile("%m [%p] ").unwrap();
        let l = "2024-06-27 00:00:07.369 UTC [4٣] LOG:  x";
        assert_eq!(p.matcher.run(l), Outcome::Unsure);
        assert_eq!(p.split(l), p.split_regex(l));
    }

    #[test]
    fn hostile_line_is_linear_and_agrees() {
        let p = Prefix::compile("%m [%p] %q%u@%d/%a ").unwrap();
        let l = format!("2024-06-27 00:00:07.369 UTC [4] {}", "@/ ".repeat(20_000));
        assert!(check(&p, &l) || p.split(&l).is_none());
        let ok = format!(
            "2024-06-27 00:00:07.369 UTC [4] {}u@d/a LOG:  x",
            "@/".repeat(5_000)
        );
        assert_eq!(p.split(&ok), p.split_regex(&ok));
    }
}
