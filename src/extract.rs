//! Statement extraction: turns log entries into executed statements with
//! their actor, time and call count, following each backend's state (the
//! extended protocol, bare `duration:` lines, ERROR + STATEMENT pairs,
//! `connection authorized:` back-fill). Every entry is counted in coverage by
//! kind. Bind parameter values (`DETAIL:  parameters:`) are never kept.
//!
//! pgAudit `AUDIT:` lines (see [`crate::audit`]) are statements too. When
//! `log_statement`/`log_min_duration_statement` and pgAudit both log one
//! execution, it counts once: per backend, a top-level audit statement and a
//! logged statement with the same text pair up, whichever comes first (simple
//! queries log `statement:` before the audit lines, the extended protocol
//! logs `execute` after them). The audit lines of one multi-statement string
//! (one statement id per statement, each with the whole string) count once.
//!
//! A large file is read in chunks cut at record boundaries, in parallel. An
//! [`Extractor::for_chunk`] does not know what the lines before its chunk
//! said about a backend: actor fields it cannot fill are marked in
//! [`Statement::inherit`], and `STATEMENT` records whose meaning depends on
//! that earlier state are deferred. [`Carried`] holds the state at a chunk
//! boundary and settles both, chunk by chunk in file order, so the result is
//! exactly that of one sequential pass. pgAudit pairing and a session's own
//! `search_path` are not carried: a file with `AUDIT:` lines or `SET
//! search_path` is read in order (see [`Extractor::needs_sequential`]).

use crate::audit::{self, AuditObject, AuditState};
use crate::input::record::set_reusing;
use crate::input::{LogEntry, StatsRow};
use crate::inventory::{Actor, FileCoverage};
use crate::time::Millis;
use crate::visibility::TextFacts;
/// Backends by key: hashbrown's map, so that a backend is looked up once
/// by its key's text and the key copied only when it is new.
type HashMap<K, V> = hashbrown::HashMap<K, V, std::hash::BuildHasherDefault<rustc_hash::FxHasher>>;

/// A statement to analyse, with who ran it and when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statement {
    /// The SQL as logged (may hold several `;`-separated statements).
    pub text: String,
    /// Who ran it.
    pub actor: Actor,
    /// When (UTC), if the log says.
    pub time: Option<Millis>,
    /// Executions this represents (1 for log lines, `calls` for pg_stat_statements).
    pub calls: u64,
    /// It failed with an error (still evidence of use).
    pub failed: bool,
    /// Source line of the record.
    pub line: u64,
    /// pg_stat_statements `toplevel`, when known.
    pub toplevel: Option<bool>,
    /// The log cut the record short ([`TRUNCATED_MARKER`]): the text is
    /// only the start of the statement.
    pub truncated: bool,
    /// The function (or `DO block`) it ran inside, for pgAudit substatements.
    pub inside: Option<String>,
    /// pgAudit object evidence; when set, `text` is empty (the statement
    /// text was not logged) or the object is a `TABLE COLUMN`.
    pub audit_object: Option<AuditObject>,
    /// The `search_path` the session's `SET search_path`/`set_config` set
    /// (`None`: the default applies).
    pub search_path: Option<Vec<String>>,
    /// The current user the session's `SET ROLE`/`SET SESSION
    /// AUTHORIZATION` made (`None`: the user who logged in): what
    /// `"$user"` in the path stands for.
    pub role: Option<String>,
    /// Actor fields that come from lines before the chunk this statement
    /// was read from (see [`Carried::fill`]); `None` when the actor is complete.
    pub inherit: Option<Inherit>,
    /// Its shape, when the extractor worked it out.
    pub shape: ShapeHint,
    /// The session's transaction state, for a text of several statements
    /// that may end or roll back part of the transaction it runs in (then
    /// its statements after that resolve with the path it leaves).
    pub in_transaction: Option<Box<crate::analyze::session::PathState>>,
}

/// A statement's normalised text ([`crate::normalize::normalize_bytes`])
/// and its number in the [`Shapes`] that saw it: worked out from `text`
/// once, and handed on so that the analysis cache need not do it again.
/// Not part of what a statement is: any two hints are equal.
#[derive(Debug, Clone, Default)]
pub struct ShapeHint {
    /// The normalised text (empty: not worked out).
    pub text: Vec<u8>,
    /// The number, with the [`Shapes::generation`] it is of.
    pub id: Option<(u64, u32)>,
    /// [`crate::analyze::session::may_set_role_shape`] of the text, when
    /// worked out (once per shape).
    pub may_set_role: Option<bool>,
}

impl PartialEq for ShapeHint {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for ShapeHint {}

/// What the events of a text that moved a session's path were.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TextEvents {
    /// No `COMMIT` or `ROLLBACK`: settings, `BEGIN`, savepoints.
    NoBlockEnd,
    /// A text that is one `COMMIT`.
    OnlyCommit,
    /// A `COMMIT` or `ROLLBACK` among other statements (the events of
    /// each, see [`crate::analyze::session::PathState::failed_outcomes`]).
    EndsBlock(Vec<Vec<crate::analyze::session::PathEvent>>),
}

/// Who logged the last statement text of a backend, for pairing.
#[derive(Debug)]
struct Logged {
    by_audit: bool,
    text: String,
    /// Further audit statement ids of the same multi-statement string.
    absorb: usize,
}

/// What AWS RDS/Aurora appends to a message cut at its size limit.
pub const TRUNCATED_MARKER: &str = "[Your log message was truncated]";

/// Which actor fields of a statement are to be taken from the backend's
/// state at the start of its chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Inherit {
    /// The backend key.
    pub backend: String,
    /// `user` is inherited.
    pub user: bool,
    /// `database` is inherited.
    pub database: bool,
    /// `application` is inherited.
    pub application: bool,
    /// `client` is inherited.
    pub client: bool,
}

/// What one backend's records said so far. In a chunk (`inherits`), a field
/// that is `None` may still be set by lines before the chunk.
#[derive(Debug, Default)]
struct Backend {
    user: Option<String>,
    database: Option<String>,
    application: Option<String>,
    client: Option<String>,
    last_statement: Option<String>,
    /// `None`: not known in this chunk (inherited); means `false` otherwise.
    error_pending: Option<bool>,
    audit: AuditState,
    logged: Option<Logged>,
    /// Set by the session's own `SET [LOCAL] search_path`, transactions
    /// taken into account.
    path: crate::analyze::session::PathState,
    /// `path` before the last text noted, when that text moved it, and
    /// what its events were (see [`Backend::text_failed`]).
    before_text: Option<(Box<crate::analyze::session::PathState>, TextEvents)>,
    /// The last text noted was logged when it had finished (a `duration:`
    /// line): a failure of the same text is another run of it.
    finished: bool,
    /// An ERROR was logged and its `STATEMENT` line has not come (yet).
    abort_pending: bool,
    /// Texts after which the path could not be told (see
    /// [`Backend::text_failed`]), not yet counted in coverage.
    uncertain: u64,
    /// Unset fields come from before the chunk (no connection start or end
    /// was seen for this backend in the chunk yet).
    inherits: bool,
}
impl Backend {
    fn error_pending(&self) -> Option<bool> {
        match self.error_pending {
            None if self.inherits => None,
            p => Some(p.unwrap_or(false)),
        }
    }

    fn is_empty(&self) -> bool {
        self.user.is_none()
            && self.database.is_none()
            && self.application.is_none()
            && self.client.is_none()
            && self.last_statement.is_none()
            && !self.error_pending.unwrap_or(false)
    }
}

/// A `STATEMENT` record whose meaning depends on its backend's state before
/// the chunk; settled by [`Carried::settle`].
#[derive(Debug, Clone)]
pub struct Deferred {
    entry: LogEntry,
    actor: Actor,
    inherit: Option<Inherit>,
    /// Whether an error was pending, when the chunk knows.
    pending: Option<bool>,
    /// Whether the text equals the backend's last statement, when known.
    already: Option<bool>,
    /// The log cut the record short.
    truncated: bool,
}

/// Per-input (or per-chunk) extraction state.
#[derive(Debug, Default)]
pub struct Extractor {
    backends: HashMap<String, Backend>,
    /// The entry being processed was cut short by the log.
    truncating: bool,
    /// Reading a chunk that may not be the first: backend state before it
    /// is unknown.
    chunk: bool,
    deferred: Vec<Deferred>,
    /// A pgAudit line or a session `search_path` change was read: state
    /// that is not carried across chunks.
    sequential_state: bool,
    /// The statement handed to `emit` for logged statements (its buffers
    /// are reused).
    scratch: Statement,
    /// Records counted by kind and not yet added to the coverage (see
    /// [`Extractor::flush_counts`]): a counter found by the address of its
    /// kind's name costs less than a lookup by name per record.
    kinds: Vec<(&'static str, u64)>,
    /// [`Backend::uncertain`] of backends that ended, not yet counted.
    uncertain_paths: u64,
    /// What logged texts show, by shape.
    pub shapes: Shapes,
}

/// What the logged texts of a shape show of the logging set-up and of
/// their session's `search_path`, worked out when the shape is first seen
/// (a text is looked at word by word only then). Each shape gets a number,
/// so that the analysis cache can find it without its text.
#[derive(Debug)]
pub struct Shapes {
    by_shape: HashMap<Vec<u8>, ShapeFacts>,
    generation: u64,
}

impl Default for Shapes {
    fn default() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Self {
            by_shape: HashMap::default(),
            generation: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct ShapeFacts {
    /// `None`: they may depend on the text's values, and are worked out
    /// for each text.
    logging: Option<TextFacts>,
    /// See [`crate::analyze::session::may_move_path`].
    moves_path: bool,
    /// See [`crate::analyze::session::may_set_role_shape`].
    may_set_role: bool,
    /// The shape's number.
    id: u32,
}

impl Shapes {
    /// What tells these shape numbers from those of another set: unique in
    /// the process.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The facts of `sql`, whose normalised text is `shape`, and the
    /// shape's number.
    fn facts(&mut self, shape: &[u8], sql: &str) -> (TextFacts, bool, bool, u32) {
        let next = u32::try_from(self.by_shape.len()).unwrap_or(u32::MAX);
        let f = *self
            .by_shape
            .entry_ref(shape)
            .or_insert_with(|| ShapeFacts {
                logging: (!TextFacts::depend_on_values(shape)).then(|| TextFacts::of(sql)),
                moves_path: crate::analyze::session::may_move_path(shape),
                may_set_role: crate::analyze::session::may_set_role_shape(shape),
                id: next,
            });
        (
            f.logging.unwrap_or_else(|| TextFacts::of(sql)),
            f.moves_path,
            f.may_set_role,
            f.id,
        )
    }
}

/// `[^:\s]+: ` at the start of `s` (a prepared statement or portal name,
/// then `: `): the rest after it.
fn after_name(s: &str) -> Option<&str> {
    let end = s
        .char_indices()
        .find(|(_, c)| *c == ':' || c.is_whitespace())
        .map_or(s.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    s.get(end..)?.strip_prefix(": ")
}

/// `execute [fetch from ]NAME: SQL`: `Some((fetch, sql))`.
fn execute_body(msg: &str) -> Option<(bool, &str)> {
    let rest = msg.strip_prefix("execute ")?;
    if let Some(sql) = rest.strip_prefix("fetch from ").and_then(after_name) {
        return Some((true, sql));
    }
    after_name(rest).map(|sql| (false, sql))
}

/// `parse NAME: …` or `bind NAME: …`.
fn is_protocol_step(msg: &str) -> bool {
    msg.strip_prefix("parse ")
        .or_else(|| msg.strip_prefix("bind "))
        .and_then(after_name)
        .is_some()
}

/// `duration: X ms` alone (`Some(None)`) or followed by two spaces and
/// more (`Some(Some(more))`).
fn duration_rest(msg: &str) -> Option<Option<&str>> {
    let rest = msg.strip_prefix("duration: ")?;
    let n = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    if n == 0 {
        return None;
    }
    let tail = rest.get(n..)?.strip_prefix(" ms")?;
    if tail.is_empty() {
        return Some(None);
    }
    tail.strip_prefix("  ").map(Some)
}

/// The milliseconds of a `duration: X ms…` message.
fn duration_ms(msg: &str) -> Option<f64> {
    let rest = msg.strip_prefix("duration: ")?;
    rest.split_once(" ms")?.0.parse().ok()
}

fn kv(message: &str, key: &str) -> Option<String> {
    let start = message.find(&format!("{key}="))? + key.len() + 1;
    let rest = message.get(start..)?;
    let v = rest.split(' ').next().unwrap_or_default().trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// What a LOG message body is.
enum LogBody<'a> {
    Statement(&'a str),
    Audit(&'a str),
    Execute(&'a str),
    PortalFetch,
    ProtocolStep,
    Duration,
    Other,
}

fn classify_log(msg: &str) -> LogBody<'_> {
    if let Some(body) = msg.strip_prefix("AUDIT: ") {
        return LogBody::Audit(body);
    }
    if let Some(sql) = msg.strip_prefix("statement: ") {
        return LogBody::Statement(sql);
    }
    if let Some((fetch, sql)) = execute_body(msg) {
        if fetch {
            return LogBody::PortalFetch;
        }
        return LogBody::Execute(sql);
    }
    if let Some(rest) = duration_rest(msg) {
        return match rest {
            None => LogBody::Duration,
            Some(rest) => match classify_log(rest) {
                LogBody::Other if is_protocol_step(rest) => LogBody::ProtocolStep,
                other => other,
            },
        };
    }
    if is_protocol_step(msg) {
        return LogBody::ProtocolStep;
    }
    LogBody::Other
}

fn other_kind(msg: &str) -> &'static str {
    if msg.starts_with("connection ") {
        "connection"
    } else if msg.starts_with("disconnection:") {
        "disconnection"
    } else if msg.starts_with("checkpoint") || msg.starts_with("restartpoint") {
        "checkpoint"
    } else if msg.starts_with("automatic vacuum") || msg.starts_with("automatic analyze") {
        "autovacuum"
    } else {
        "other_log"
    }
}

impl Backend {
    /// What a statement text tells about its backend: the last text (an
    /// ERROR's `STATEMENT` line repeats it), and a `search_path` change,
    /// this text and later ones of the session resolving with the new path
    /// (then `true`: state that is not carried across chunks).
    /// `moves_path` `false`: the text's shape cannot move the path.
    fn note(&mut self, sql: &str, moves_path: bool) -> bool {
        use crate::analyze::session::{path_events, PathEvent};
        set_text(&mut self.last_statement, sql);
        // An error with no STATEMENT line aborted the block it was in. It
        // may be the last text's (`log_min_error_statement` above `error`
        // logs none): when that text moved the path and its failure would
        // leave another one, the path is not known.
        if std::mem::take(&mut self.abort_pending) {
            let mut kept = self.path.clone();
            kept.aborted |= kept.begun.is_some();
            if !self.finished
                && self
                    .failure_outcomes()
                    .iter()
                    .any(|s| s.outcome() != kept.outcome())
            {
                self.uncertain += 1;
            }
            self.path = kept;
        }
        self.before_text = None;
        if !moves_path {
            return false;
        }
        let events = path_events(sql, self.path.pending());
        if events.is_empty() {
            return false;
        }
        let before = self.path.clone();
        self.path.begin_text();
        for e in &events {
            self.path.apply(e);
        }
        self.path.end_text();
        let kind = match events.as_slice() {
            [PathEvent::Commit] if !crate::normalize::several_statements(sql) => {
                TextEvents::OnlyCommit
            }
            _ if events
                .iter()
                .any(|e| matches!(e, PathEvent::Commit | PathEvent::Rollback)) =>
            {
                TextEvents::EndsBlock(by_statement(sql, &events))
            }
            _ => TextEvents::NoBlockEnd,
        };
        self.before_text = Some((Box::new(before.clone()), kind));
        // A path set (or a transaction that ends one) is state that is not
        // carried across chunks.
        events
            .iter()
            .any(|e| matches!(e, PathEvent::Set { .. } | PathEvent::SetRole { .. }))
            || self.path.current() != before.current()
            || self.path.current_role() != before.current_role()
    }

    /// A text failed (its `STATEMENT` line followed an ERROR); `applied`:
    /// its events were applied when it was noted (it is the last text
    /// noted, logged before it ran). Which statement of a text of several
    /// failed is not logged, so only what holds wherever it failed is done:
    /// - a text without `COMMIT` or `ROLLBACK` is undone whole: outside a
    ///   block it ran as one implicit transaction (a `BEGIN` in it either
    ///   never ran or began a block the error aborted); inside one, the
    ///   error aborted the block (what was set in it is undone at its end,
    ///   `COMMIT` or `ROLLBACK`) and its savepoint statements after the
    ///   error never ran;
    /// - a `COMMIT` that fails (a deferred constraint) rolls back;
    /// - a text that also ends a block is left as it was applied; when
    ///   failing elsewhere in it would leave another path, the path is not
    ///   known from here on (counted in `uncertain`, a blind spot).
    fn text_failed(&mut self, applied: bool) {
        let outcomes = if applied {
            self.failure_outcomes()
        } else {
            Vec::new()
        };
        match self.before_text.take().filter(|_| applied) {
            Some((_, TextEvents::OnlyCommit | TextEvents::NoBlockEnd)) => {
                if let Some(s) = outcomes.into_iter().next() {
                    self.path = s;
                }
            }
            Some((_, TextEvents::EndsBlock(_))) => {
                let agreed = outcomes
                    .first()
                    .is_some_and(|f| outcomes.iter().all(|s| s.outcome() == f.outcome()));
                if agreed {
                    // Wherever it failed, later statements see the same:
                    // that (not in an aborted block, when one such place
                    // is: statements after it are then not refused).
                    if let Some(s) = outcomes.iter().find(|s| !s.aborted).or(outcomes.first()) {
                        self.path = s.clone();
                    }
                } else {
                    self.uncertain += 1;
                }
            }
            None => self.path.aborted |= self.path.begun.is_some(),
        }
    }

    /// The paths the last text noted may have left if it failed (none when
    /// it did not move the path): see [`Backend::text_failed`].
    fn failure_outcomes(&self) -> Vec<crate::analyze::session::PathState> {
        use crate::analyze::session::{PathEvent, PathState};
        match &self.before_text {
            None => Vec::new(),
            Some((before, TextEvents::OnlyCommit)) => {
                let mut s = (**before).clone();
                s.apply(&PathEvent::Rollback);
                vec![s]
            }
            Some((before, TextEvents::NoBlockEnd)) => {
                let mut s = (**before).clone();
                s.aborted |= s.begun.is_some();
                vec![s]
            }
            Some((before, TextEvents::EndsBlock(events))) => {
                PathState::failed_outcomes(before, events)
            }
        }
    }
}

impl Extractor {
    /// An extractor for a chunk of a file that may start after other
    /// records: what those records said about a backend is left open.
    pub fn for_chunk() -> Self {
        Self {
            chunk: true,
            ..Self::default()
        }
    }

    /// Counts a record of `kind` (added to the coverage by
    /// [`Extractor::flush_counts`]).
    fn count(&mut self, kind: &'static str) {
        match self.kinds.iter_mut().find(|(k, _)| std::ptr::eq(*k, kind)) {
            Some((_, n)) => *n += 1,
            None => self.kinds.push((kind, 1)),
        }
    }

    /// Adds the records counted since the last call to `cov`. Call it when
    /// the entries given with `cov` are done (and before reading `cov`):
    /// until then some records are counted here only.
    pub fn flush_counts(&mut self, cov: &mut FileCoverage) {
        for (kind, n) in self.kinds.drain(..) {
            cov.record_n(kind, n);
        }
        cov.logging.uncertain_path_changes += std::mem::take(&mut self.uncertain_paths);
        for b in self.backends.values_mut() {
            cov.logging.uncertain_path_changes += std::mem::take(&mut b.uncertain);
        }
    }

    /// The `STATEMENT` records that need the state before the chunk.
    pub fn take_deferred(&mut self) -> Vec<Deferred> {
        std::mem::take(&mut self.deferred)
    }

    fn actor(&self, e: &LogEntry) -> (Actor, Option<Inherit>) {
        let b = e.backend.as_ref().and_then(|k| self.backends.get(k));
        let mut actor = Actor::default();
        let mut inherit = None;
        actor_from(self.chunk, e, b, &mut actor, &mut inherit);
        (actor, inherit)
    }

    fn backend(&mut self, e: &LogEntry) -> Option<&mut Backend> {
        let key = e.backend.as_deref()?;
        // One lookup; the key is copied only for a new backend.
        let chunk = self.chunk;
        Some(self.backends.entry_ref(key).or_insert_with(|| Backend {
            inherits: chunk,
            ..Backend::default()
        }))
    }

    /// A pgAudit line or a session's own `search_path` change was read:
    /// the chunks of this input cannot be settled exactly, and it must be
    /// read in order.
    pub fn needs_sequential(&self) -> bool {
        self.sequential_state
    }

    /// The chunk read does not match a sequential read (it ended inside a
    /// record): [`Extractor::needs_sequential`] from now on.
    pub fn require_sequential(&mut self) {
        self.sequential_state = true;
    }

    fn statement(&mut self, e: &LogEntry, sql: &str, failed: bool) -> Statement {
        let s = self.make_statement(e, sql, failed);
        self.note_statement(e, sql);
        s
    }

    /// After a `STATEMENT` line: when it followed an ERROR, a text failed
    /// (see [`Backend::text_failed`]); `already`: it is the backend's last
    /// text noted.
    fn failed_text(&mut self, e: &LogEntry, pending: Option<bool>, already: bool) {
        if pending != Some(true) {
            return;
        }
        // A text noted from its `STATEMENT` line was applied just now; the
        // last text noted was applied unless it was logged once finished
        // (then the failure is of another run of it, never applied).
        let applied = !already || self.backend(e).is_some_and(|b| !b.finished);
        if let Some(b) = self.backend(e) {
            b.text_failed(applied);
        }
    }

    /// What a statement text of `e` tells about its backend: the last text
    /// (an ERROR's `STATEMENT` line repeats it), and a `search_path` change.
    fn note_statement(&mut self, e: &LogEntry, sql: &str) {
        if let Some(b) = self.backend(e) {
            b.finished = false;
            if b.note(sql, true) {
                self.sequential_state = true;
            }
        }
    }

    fn make_statement(&self, e: &LogEntry, sql: &str, failed: bool) -> Statement {
        let mut s = Statement::default();
        self.fill_statement(e, sql, failed, &mut s);
        s
    }

    /// [`Extractor::make_statement`] into `s`, reusing its buffers.
    fn fill_statement(&self, e: &LogEntry, sql: &str, failed: bool, s: &mut Statement) {
        let b = e.backend.as_ref().and_then(|k| self.backends.get(k));
        fill_statement(self.chunk, self.truncating, e, b, sql, failed, s);
    }

    /// A statement logged by log_statement or log_min_duration_statement:
    /// emitted unless it pairs with the same backend's audit line.
    fn logged_statement(
        &mut self,
        e: &LogEntry,
        sql: &str,
        cov: &mut FileCoverage,
        emit: &mut impl FnMut(&Statement, &mut FileCoverage),
    ) {
        let duration = duration_ms(&e.message);
        let mut s = std::mem::take(&mut self.scratch);
        // Normalised once, for the facts of its shape and the analysis.
        s.shape.text.clear();
        crate::normalize::normalize_bytes(sql, &mut s.shape.text);
        let (facts, moves_path, may_set_role, id) = self.shapes.facts(&s.shape.text, sql);
        // Past u32::MAX shapes, numbers repeat: none is given.
        s.shape.id = (id != u32::MAX).then_some((self.shapes.generation, id));
        s.shape.may_set_role = Some(may_set_role);
        cov.logging.logged_text(facts, duration);
        let (chunk, truncating) = (self.chunk, self.truncating);
        let mut path_changed = false;
        // One lookup of the backend, for its state and the statement's actor.
        let mut b = self.backend(e);
        if b.is_none()
            && moves_path
            && (crate::analyze::session::search_path_change(sql).is_some()
                || crate::analyze::session::sets_role(sql))
        {
            // No %p or %c in the prefix: the later statements of its
            // session cannot be told apart.
            cov.logging.unattributed_path_changes += 1;
        }
        if let Some(b) = b.as_deref_mut() {
            if b.logged
                .as_ref()
                .is_some_and(|l| l.by_audit && l.text == sql)
            {
                b.logged = None;
                self.scratch = s;
                self.count("statement_already_audited");
                return;
            }
            match &mut b.logged {
                // Reuse the buffer of the last one.
                Some(l) => {
                    l.by_audit = false;
                    l.absorb = 0;
                    l.text.clear();
                    l.text.push_str(sql);
                }
                None => {
                    b.logged = Some(Logged {
                        by_audit: false,
                        text: sql.to_string(),
                        absorb: 0,
                    });
                }
            }
        }
        // The text resolves with the path before it (a change inside a
        // text of several statements applies from there on: the analysis
        // follows it); later texts with the path after it.
        fill_statement(chunk, truncating, e, b.as_deref(), sql, false, &mut s);
        s.in_transaction = b
            .as_deref()
            .filter(|b| moves_path && b.path.pending() && crate::normalize::several_statements(sql))
            .map(|b| Box::new(b.path.clone()));
        if let Some(b) = b {
            path_changed = b.note(sql, moves_path);
            b.finished = duration.is_some();
        }
        self.sequential_state |= path_changed;
        self.count("statement");
        emit(&s, cov);
        self.scratch = s;
    }

    fn audit(
        &mut self,
        e: &LogEntry,
        body: &str,
        cov: &mut FileCoverage,
        emit: &mut impl FnMut(&Statement, &mut FileCoverage),
    ) {
        let line = match audit::parse(body) {
            Ok(l) => l,
            Err(err) => {
                cov.skip(&err.to_string());
                return;
            }
        };
        cov.logging.audit_lines += 1;
        if line.kind == audit::AuditType::Session {
            *cov.logging
                .audit_session_classes
                .entry(line.class.clone())
                .or_default() += 1;
        }
        if line.text == audit::AuditText::NotLogged {
            cov.logging.audit_text_not_logged += 1;
        }
        let mut fallback = AuditState::default();
        let out = match self.backend(e) {
            Some(b) => b.audit.step(line),
            // Without a backend key there is nothing to pair with.
            None => fallback.step(line),
        };
        let mut kind = out.kind;
        let mut text = None;
        if let Some((sql, inside, toplevel)) = out.statement {
            if toplevel {
                let paired = self.backend(e).and_then(|b| match b.logged.as_mut() {
                    Some(l) if l.text == sql && !l.by_audit => Some("audit_already_logged"),
                    Some(l) if l.text == sql && l.absorb > 0 => {
                        l.absorb -= 1;
                        Some("audit_same_query_string")
                    }
                    _ => {
                        b.logged = Some(Logged {
                            by_audit: true,
                            absorb: audit::statement_count(&sql) - 1,
                            text: sql.clone(),
                        });
                        None
                    }
                });
                match paired {
                    Some(k) => kind = k,
                    None => text = Some((sql, None)),
                }
            } else {
                cov.logging.audit_substatements += 1;
                text = Some((sql, inside));
            }
        }
        cov.record(kind);
        if let Some((sql, inside)) = text {
            // A substatement must not replace the top-level text that an
            // ERROR's STATEMENT line would repeat.
            let mut s = if inside.is_some() {
                self.make_statement(e, &sql, false)
            } else {
                self.statement(e, &sql, false)
            };
            if inside.is_some() {
                // run inside a function: what pg_stat_statements calls
                // `toplevel = false`
                s.toplevel = Some(false);
            }
            s.inside = inside;
            emit(&s, cov);
        }
        if let Some(obj) = out.object {
            let mut s = self.make_statement(e, "", false);
            s.audit_object = Some(obj);
            emit(&s, cov);
        }
    }

    /// Processes one log entry, counting it in `cov` and emitting the
    /// statements it carries. An entry that ends with [`TRUNCATED_MARKER`] is
    /// counted as truncated and read without the marker; its statements are
    /// marked truncated.
    pub fn entry(
        &mut self,
        e: &LogEntry,
        cov: &mut FileCoverage,
        emit: &mut impl FnMut(&Statement, &mut FileCoverage),
    ) {
        if let Some(cut) = e.message.trim_end().strip_suffix(TRUNCATED_MARKER) {
            cov.truncated_records += 1;
            let cut = LogEntry {
                message: cut.trim_end().to_string(),
                ..e.clone()
            };
            self.truncating = true;
            self.entry_whole(&cut, cov, emit);
            self.truncating = false;
        } else {
            self.entry_whole(e, cov, emit);
        }
    }

    fn entry_whole(
        &mut self,
        e: &LogEntry,
        cov: &mut FileCoverage,
        emit: &mut impl FnMut(&Statement, &mut FileCoverage),
    ) {
        cov.saw_time(e.time);
        match e.severity.as_str() {
            "LOG" => match classify_log(&e.message) {
                LogBody::Statement(sql) | LogBody::Execute(sql) => {
                    self.logged_statement(e, sql, cov, emit);
                }
                LogBody::Audit(body) => {
                    self.sequential_state = true;
                    self.audit(e, body, cov, emit);
                }
                LogBody::PortalFetch => self.count("portal_fetch"),
                LogBody::ProtocolStep => self.count("protocol_step"),
                LogBody::Duration => self.count("duration"),
                LogBody::Other => {
                    let kind = other_kind(&e.message);
                    self.count(kind);
                    cov.logging.server_message(&e.message);
                    self.connection_state(e);
                }
            },
            "ERROR" | "FATAL" | "PANIC" => {
                self.count("error");
                if let Some(b) = self.backend(e) {
                    b.error_pending = Some(true);
                    // An error aborts the transaction block it is in: taken
                    // at its STATEMENT line (which tells the failed text),
                    // or, without one, before the backend's next text.
                    b.abort_pending = true;
                }
            }
            "STATEMENT" => {
                let (pending, already) = match self.backend(e) {
                    None => (Some(false), Some(false)),
                    Some(b) => {
                        let pending = b.error_pending();
                        b.error_pending = Some(false);
                        // The failed text is known: see `failed_text`.
                        b.abort_pending = false;
                        let already = match &b.last_statement {
                            Some(last) => Some(*last == e.message),
                            None if b.inherits => None,
                            None => Some(false),
                        };
                        (pending, already)
                    }
                };
                match (pending, already) {
                    (_, Some(true)) => {
                        self.count("failed_statement_already_logged");
                        self.failed_text(e, pending, true);
                    }
                    (Some(pending), Some(false)) => {
                        let s = self.statement(e, &e.message, pending);
                        statement_record(&s, pending, cov, emit);
                        self.failed_text(e, Some(pending), false);
                    }
                    _ => {
                        // Settled later, with the state before the chunk.
                        let (actor, inherit) = self.actor(e);
                        self.deferred.push(Deferred {
                            entry: e.clone(),
                            actor,
                            inherit,
                            pending,
                            already,
                            truncated: self.truncating,
                        });
                        if let Some(b) = self.backend(e) {
                            b.last_statement = Some(e.message.clone());
                        }
                    }
                }
            }
            "DETAIL" => {
                let m = e.message.as_str();
                if m.starts_with("parameters: ") || m.starts_with("Parameters: ") {
                    self.count("bind_parameters");
                } else if let Some(prepare) = m.strip_prefix("prepare: ") {
                    // SQL-level EXECUTE: the PREPARE text names the columns.
                    self.count("prepare_detail");
                    if let Some(b) = self.backend(e) {
                        b.logged = Some(Logged {
                            by_audit: false,
                            text: prepare.to_string(),
                            absorb: 0,
                        });
                    }
                    let s = self.statement(e, prepare, false);
                    emit(&s, cov);
                } else {
                    self.count("detail");
                }
            }
            "HINT" | "CONTEXT" | "QUERY" | "LOCATION" | "BACKTRACE" => self.count("auxiliary"),
            _ => self.count("other_severity"),
        }
    }

    fn connection_state(&mut self, e: &LogEntry) {
        let m = e.message.as_str();
        if m.starts_with("connection received:") {
            if let Some(key) = e.backend.clone() {
                // A new connection: a reused pid must not inherit old state.
                let old = self.backends.insert(
                    key,
                    Backend {
                        client: kv(m, "host"),
                        error_pending: Some(false),
                        ..Backend::default()
                    },
                );
                self.uncertain_paths += old.map_or(0, |b| b.uncertain);
            }
        } else if m.starts_with("connection authorized:") {
            let app = m.split_once("application_name=").map(|(_, rest)| {
                let end = [" SSL enabled", " GSS ", " (", "\n"]
                    .iter()
                    .filter_map(|s| rest.find(s))
                    .min()
                    .unwrap_or(rest.len());
                rest.get(..end).unwrap_or(rest).trim().to_string()
            });
            if let Some(b) = self.backend(e) {
                b.user = kv(m, "user").or(b.user.take());
                b.database = kv(m, "database").or(b.database.take());
                if let Some(app) = app.filter(|a| !a.is_empty()) {
                    b.application = Some(app);
                }
            }
        } else if m.starts_with("disconnection:") {
            if let Some(k) = &e.backend {
                // Known to be empty from here on (not inherited).
                let old = if self.chunk {
                    self.backends.insert(k.clone(), Backend::default())
                } else {
                    self.backends.remove(k)
                };
                self.uncertain_paths += old.map_or(0, |b| b.uncertain);
            }
        }
    }
}
/// Sets `actor` to who logged `e` and `inherit` to which of its fields
/// come from before the chunk (reusing the buffers of both), `b` being
/// the state of `e`'s backend and `chunk` whether the extractor reads a
/// chunk that may not be the first.
fn actor_from(
    chunk: bool,
    e: &LogEntry,
    b: Option<&Backend>,
    actor: &mut Actor,
    inherit: &mut Option<Inherit>,
) {
    set_reusing(&mut actor.user, or_kept(&e.user, b.map(|b| &b.user)));
    set_reusing(
        &mut actor.database,
        or_kept(&e.database, b.map(|b| &b.database)),
    );
    set_reusing(
        &mut actor.application,
        or_kept(&e.application, b.map(|b| &b.application)),
    );
    set_reusing(&mut actor.client, or_kept(&e.client, b.map(|b| &b.client)));
    let open = match (&e.backend, b) {
        (Some(_), Some(b)) => b.inherits,
        (Some(_), None) => chunk,
        (None, _) => false,
    };
    let (user, database, application, client) = (
        actor.user.is_none(),
        actor.database.is_none(),
        actor.application.is_none(),
        actor.client.is_none(),
    );
    match e.backend.as_ref().filter(|_| open) {
        Some(key) if user || database || application || client => match inherit {
            Some(i) => {
                i.backend.clear();
                i.backend.push_str(key);
                (i.user, i.database, i.application, i.client) =
                    (user, database, application, client);
            }
            None => {
                *inherit = Some(Inherit {
                    backend: key.clone(),
                    user,
                    database,
                    application,
                    client,
                });
            }
        },
        _ => *inherit = None,
    }
}

/// The statement `sql` of `e` into `s`, reusing its buffers: `b` is the
/// state of `e`'s backend, `chunk` whether the extractor reads a chunk that
/// may not be the first, `truncating` whether the log cut `e` short.
fn fill_statement(
    chunk: bool,
    truncating: bool,
    e: &LogEntry,
    b: Option<&Backend>,
    sql: &str,
    failed: bool,
    s: &mut Statement,
) {
    actor_from(chunk, e, b, &mut s.actor, &mut s.inherit);
    s.text.clear();
    s.text.push_str(sql);
    s.time = e.time;
    s.calls = 1;
    s.failed = failed;
    s.line = e.line;
    s.toplevel = None;
    s.truncated = truncating;
    s.inside = None;
    s.audit_object = None;
    match b.and_then(|b| b.path.current()) {
        Some(p) => match &mut s.search_path {
            Some(mine) => mine.clone_from(p),
            None => s.search_path = Some(p.clone()),
        },
        None => s.search_path = None,
    }
    match b.and_then(|b| b.path.current_role()) {
        Some(r) => match &mut s.role {
            Some(mine) => {
                mine.clear();
                mine.push_str(r);
            }
            None => s.role = Some(r.to_string()),
        },
        None => s.role = None,
    }
}

/// The path events of each statement of `sql`, whose events are
/// `events`. When its statements cannot be told, each event is taken as a
/// statement, with a statement that may fail before, between and after
/// them.
fn by_statement(
    sql: &str,
    events: &[crate::analyze::session::PathEvent],
) -> Vec<Vec<crate::analyze::session::PathEvent>> {
    crate::analyze::session::path_events_by_statement(sql)
        .filter(|each| each.iter().flatten().eq(events.iter()))
        .unwrap_or_else(|| {
            let mut each = vec![Vec::new()];
            for e in events {
                each.push(vec![e.clone()]);
                each.push(Vec::new());
            }
            each
        })
}

/// Sets `slot` to `text`, reusing its buffer.
/// An entry's own value of an actor field, or else the backend's.
fn or_kept<'a>(own: &'a Option<String>, kept: Option<&'a Option<String>>) -> Option<&'a str> {
    own.as_deref().or_else(|| kept.and_then(Option::as_deref))
}

fn set_text(slot: &mut Option<String>, text: &str) {
    match slot {
        Some(s) => {
            s.clear();
            s.push_str(text);
        }
        None => *slot = Some(text.to_string()),
    }
}

/// Counts a `STATEMENT` record that is not a repeat of the logged statement
/// and emits its statement.
fn statement_record(
    s: &Statement,
    pending: bool,
    cov: &mut FileCoverage,
    emit: &mut impl FnMut(&Statement, &mut FileCoverage),
) {
    cov.record(if pending {
        "failed_statement"
    } else {
        "statement_context"
    });
    emit(s, cov);
}

/// Backend state at a chunk boundary of one input, everything known; folds
/// the chunks' extractors in file order.
#[derive(Debug, Default)]
pub struct Carried {
    backends: HashMap<String, Backend>,
}

impl Carried {
    /// Fills a statement's inherited actor fields from the state before its
    /// chunk (call before [`Carried::advance`] for that chunk).
    pub fn fill(&self, s: &mut Statement) {
        if let Some(i) = s.inherit.take() {
            self.fill_actor(&mut s.actor, &i);
        }
    }

    /// Fills the fields of `a` that `i` says are inherited from the state
    /// before the chunk.
    pub fn fill_actor(&self, a: &mut Actor, i: &Inherit) {
        let Some(b) = self.backends.get(&i.backend) else {
            return;
        };
        if i.user {
            a.user.clone_from(&b.user);
        }
        if i.database {
            a.database.clone_from(&b.database);
        }
        if i.application {
            a.application.clone_from(&b.application);
        }
        if i.client {
            a.client.clone_from(&b.client);
        }
    }

    /// Settles a deferred `STATEMENT` record of the next chunk: counts it and
    /// emits its statement, as one sequential pass would have.
    pub fn settle(
        &self,
        d: Deferred,
        cov: &mut FileCoverage,
        emit: &mut impl FnMut(&Statement, &mut FileCoverage),
    ) {
        let before = d.entry.backend.as_ref().and_then(|k| self.backends.get(k));
        let pending = d
            .pending
            .unwrap_or_else(|| before.is_some_and(|b| b.error_pending == Some(true)));
        let already = d.already.unwrap_or_else(|| {
            before.and_then(|b| b.last_statement.as_deref()) == Some(d.entry.message.as_str())
        });
        if already {
            cov.record("failed_statement_already_logged");
            return;
        }
        let mut s = Statement {
            text: d.entry.message,
            actor: d.actor,
            time: d.entry.time,
            calls: 1,
            failed: pending,
            line: d.entry.line,
            toplevel: None,
            truncated: d.truncated,
            inside: None,
            audit_object: None,
            search_path: None,
            role: None,
            inherit: d.inherit,
            shape: ShapeHint::default(),
            in_transaction: None,
        };
        self.fill(&mut s);
        statement_record(&s, pending, cov, emit);
    }

    /// Moves past a chunk: applies what its records said about each backend.
    pub fn advance(&mut self, x: Extractor) {
        for (key, b) in x.backends {
            if !b.inherits {
                if b.is_empty() {
                    self.backends.remove(&key);
                } else {
                    self.backends.insert(key, b);
                }
                continue;
            }
            let into = self.backends.entry(key).or_default();
            if b.user.is_some() {
                into.user = b.user;
            }
            if b.database.is_some() {
                into.database = b.database;
            }
            if b.application.is_some() {
                into.application = b.application;
            }
            if b.client.is_some() {
                into.client = b.client;
            }
            if b.last_statement.is_some() {
                into.last_statement = b.last_statement;
            }
            if b.error_pending.is_some() {
                into.error_pending = b.error_pending;
            }
        }
    }
}

/// Turns a pg_stat_statements row into a statement (or counts why not).
pub fn stats_row(row: StatsRow, cov: &mut FileCoverage) -> Option<Statement> {
    let Some(query) = row.query else {
        cov.skip("pg_stat_statements row without query text");
        return None;
    };
    if query.trim() == "<insufficient privilege>" {
        cov.skip("pg_stat_statements text hidden (<insufficient privilege>)");
        return None;
    }
    if row.calls == 0 {
        cov.skip("pg_stat_statements row with zero calls");
        return None;
    }
    // `toplevel = false` (track = all): run inside a function, trigger or DO
    // block. Kept, counted apart, and marked on the dependency (`nested_calls`).
    cov.record(if row.toplevel == Some(false) {
        "pg_stat_statements_nested_row"
    } else {
        "pg_stat_statements_row"
    });
    Some(Statement {
        text: query,
        actor: Actor {
            user: row.user,
            database: row.database,
            application: None,
            client: None,
        },
        time: None,
        calls: row.calls,
        failed: false,
        line: row.line,
        toplevel: row.toplevel,
        truncated: false,
        inside: None,
        audit_object: None,
        search_path: None,
        role: None,
        inherit: None,
        shape: ShapeHint::default(),
        in_transaction: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(line: u64, sev: &str, msg: &str) -> LogEntry {
        LogEntry {
            line,
            backend: Some("7".into()),
            severity: sev.into(),
            message: msg.into(),
            ..LogEntry::default()
        }
    }

    fn run(entries: &[LogEntry]) -> (Vec<Statement>, FileCoverage) {
        let mut x = Extractor::default();
        let mut cov = FileCoverage::default();
        let mut out = Vec::new();
        for e in entries {
            x.entry(e, &mut cov, &mut |s, _| out.push(s.clone()));
        }
        x.flush_counts(&mut cov);
        (out, cov)
    }

    #[test]
    fn a_failed_run_of_a_text_logged_once_finished_leaves_the_path_it_set() {
        // log_min_duration_statement = 0 with log_statement = none: a text
        // is logged once it has run; a later run of it that fails is not
        // logged, and its STATEMENT line repeats the text.
        let text = "SET search_path = archive; SELECT 1";
        let (out, _) = run(&[
            entry(1, "LOG", &format!("duration: 0.1 ms  statement: {text}")),
            entry(2, "ERROR", "division by zero"),
            entry(3, "STATEMENT", text),
            entry(
                4,
                "LOG",
                "duration: 0.1 ms  statement: SELECT legacy_email FROM users",
            ),
        ]);
        let last = out.last().map(|s| (s.text.as_str(), s.search_path.clone()));
        assert_eq!(
            last,
            Some((
                "SELECT legacy_email FROM users",
                Some(vec!["archive".to_string()])
            ))
        );
        // Logged before it ran (log_statement = all), the failed text is the
        // one noted: nothing it set stays.
        let (out, _) = run(&[
            entry(1, "LOG", &format!("statement: {text}")),
            entry(2, "ERROR", "division by zero"),
            entry(3, "STATEMENT", text),
            entry(4, "LOG", "statement: SELECT legacy_email FROM users"),
        ]);
        assert_eq!(out.last().map(|s| s.search_path.clone()), Some(None));
    }

    /// The path the last statement of `texts` resolves with: each text is
    /// logged as `statement:` (or, with `duration`, once finished), and a
    /// text starting with `!` failed (an ERROR, then its STATEMENT line
    /// unless it starts with `!!`).
    fn path_after(texts: &[&str], duration: bool) -> Option<Vec<String>> {
        path_and_doubts(texts, duration).0
    }

    /// [`path_after`], and how many texts left a path not known (coverage
    /// `uncertain_path_changes`).
    fn path_and_doubts(texts: &[&str], duration: bool) -> (Option<Vec<String>>, u64) {
        let mut entries = Vec::new();
        let mut line = 0;
        let mut push = |entries: &mut Vec<LogEntry>, sev: &str, msg: String| {
            line += 1;
            entries.push(entry(line, sev, &msg));
        };
        for t in texts {
            let logged = |t: &str| match duration {
                true => format!("duration: 0.1 ms  statement: {t}"),
                false => format!("statement: {t}"),
            };
            if let Some(t) = t.strip_prefix("!!") {
                if !duration {
                    push(&mut entries, "LOG", logged(t));
                }
                push(&mut entries, "ERROR", "boom".into());
            } else if let Some(t) = t.strip_prefix('!') {
                if !duration {
                    push(&mut entries, "LOG", logged(t));
                }
                push(&mut entries, "ERROR", "boom".into());
                push(&mut entries, "STATEMENT", t.into());
            } else {
                push(&mut entries, "LOG", logged(t));
            }
        }
        push(&mut entries, "LOG", logged_select(duration));
        let (out, cov) = run(&entries);
        (
            out.last().and_then(|s| s.search_path.clone()),
            cov.logging.uncertain_path_changes,
        )
    }

    #[test]
    fn failed_texts_whose_path_depends_on_where_they_failed_leave_it_unknown() {
        let archive = Some(vec!["archive".to_string()]);
        // Which statement failed decides: SELECT 1/0 leaves the SET
        // committed (archive), a failed SET or COMMIT does not. Kept as
        // applied, and counted.
        assert_eq!(
            path_and_doubts(
                &["BEGIN", "!SET search_path = archive; COMMIT; SELECT 1/0"],
                false
            ),
            (archive.clone(), 1)
        );
        // Wherever these fail the SET is undone (checked on PostgreSQL 15:
        // the rest of a failed text does not run, so its COMMIT never
        // does, and the block ends rolled back): not counted, and undone.
        for texts in [
            &[
                "BEGIN",
                "!SET search_path = archive; SELECT 1/0; COMMIT",
                "ROLLBACK",
            ][..],
            &[
                "!BEGIN; SET search_path = archive; SELECT 1/0; COMMIT",
                "ROLLBACK",
            ],
            &["!BEGIN; SET LOCAL search_path = archive; SELECT 1/0; COMMIT"],
            &[
                "!SET search_path = archive; BEGIN; SELECT 1/0; COMMIT",
                "ROLLBACK",
            ],
            &["!BEGIN; SET ROLE owner; SELECT 1/0; COMMIT", "ROLLBACK"],
        ] {
            assert_eq!(path_and_doubts(texts, false), (None, 0), "{texts:?}");
        }
        // The same for the role "$user" stands for.
        assert_eq!(
            path_and_doubts(&["BEGIN", "!SET ROLE owner; COMMIT; SELECT 1/0"], false).1,
            1
        );
        // An error without its STATEMENT line after a text that moved the
        // path: it may be that text's.
        assert_eq!(
            path_and_doubts(&["!!SET search_path = archive; SELECT 1/0"], false),
            (archive.clone(), 1)
        );
        // Wherever it failed, the same path: nothing counted.
        for texts in [
            // Undone whole (no COMMIT or ROLLBACK).
            &["!SET search_path = archive; SELECT 1/0"][..],
            // A lone COMMIT that fails rolls back.
            &["BEGIN", "SET search_path = archive", "!COMMIT"],
            // A COMMIT first: failing, it rolls back; running, it ends
            // the SET LOCAL too.
            &[
                "BEGIN",
                "SET LOCAL search_path = archive",
                "!COMMIT; SELECT 1/0",
            ],
            // A ROLLBACK wherever it failed: the block is undone.
            &["BEGIN", "SELECT 1", "!SELECT 1/0; ROLLBACK"],
            // The text before the error did not move the path.
            &["SET search_path = archive", "!!SELECT 1/0"],
            // The error has its STATEMENT line: the failed text is known.
            &["SET search_path = archive", "!SELECT 1/0"],
        ] {
            assert_eq!(path_and_doubts(texts, false).1, 0, "{texts:?}");
        }
        // A text logged once finished ran whole: a failed later run of it
        // was never applied.
        assert_eq!(
            path_and_doubts(
                &["BEGIN", "SET search_path = archive; COMMIT; SELECT 1"],
                true
            ),
            (archive, 0)
        );
    }

    fn logged_select(duration: bool) -> String {
        match duration {
            true => "duration: 0.1 ms  statement: SELECT legacy_email FROM users".into(),
            false => "statement: SELECT legacy_email FROM users".into(),
        }
    }

    #[test]
    fn failed_texts_move_the_path_as_postgres_does_wherever_they_failed() {
        let archive = Some(vec!["archive".to_string()]);
        for duration in [false, true] {
            // Refused outside a block, COMMIT AND CHAIN begins nothing.
            assert_eq!(
                path_after(
                    &["!COMMIT AND CHAIN", "SET search_path = archive"],
                    duration
                ),
                archive,
                "{duration}"
            );
            // A failed text with ROLLBACK TO or RELEASE: they never ran.
            for t in ["!SELECT 1/0; ROLLBACK TO a", "!SELECT 1/0; RELEASE a"] {
                assert_eq!(
                    path_after(
                        &[
                            "BEGIN",
                            "SAVEPOINT a",
                            "SAVEPOINT b",
                            t,
                            "ROLLBACK TO b",
                            "SET search_path = archive",
                            "COMMIT"
                        ],
                        duration
                    ),
                    archive,
                    "{t} {duration}"
                );
            }
            // Outside a block, a failed text without COMMIT or ROLLBACK is
            // undone whole, a BEGIN in it too.
            for t in [
                "!SET search_path = archive; SAVEPOINT a",
                "!SET search_path = archive; SELECT 1/0; BEGIN",
                "!SET search_path = archive; BEGIN; SELECT 1/0",
            ] {
                assert_eq!(path_after(&[t], duration), None, "{t} {duration}");
                assert_eq!(
                    path_after(&[t, "SET search_path = archive"], duration),
                    archive,
                    "{t} {duration}"
                );
            }
        }
        // Logged once finished: a COMMIT that ran before the failure.
        assert_eq!(
            path_after(
                &["BEGIN", "SET search_path = archive", "!COMMIT ; SELECT 1/0"],
                true
            ),
            archive
        );
        // An error without its STATEMENT line aborts the block it is in.
        assert_eq!(
            path_after(
                &[
                    "BEGIN",
                    "SET search_path = archive",
                    "!!SELECT 1/0",
                    "COMMIT"
                ],
                false
            ),
            None
        );
    }

    /// The message parsers agree with the regular expressions they replace.
    #[test]
    fn message_parsers_match_the_regexes_they_replace() {
        let execute =
            regex::Regex::new(r"(?s)^execute (fetch from )?[^:\s]+(?:/[^:\s]+)?: (.*)$").unwrap();
        let step = regex::Regex::new(r"(?s)^(parse|bind) [^:\s]+(?:/[^:\s]+)?: (.*)$").unwrap();
        let duration = regex::Regex::new(r"(?s)^duration: [0-9.]+ ms(?:  (.*))?$").unwrap();
        let names = [
            "S_1",
            "<unnamed>",
            "a/b",
            "C_2/S_1",
            "",
            "x\u{3000}y",
            "a:b",
            "/",
            "ö",
            "fetch",
        ];
        let mut msgs = vec![String::new()];
        for n in names {
            for sep in [": ", ":", " : ", ":  ", ": \n"] {
                for head in [
                    "execute ",
                    "execute fetch from ",
                    "parse ",
                    "bind ",
                    "execute  ",
                ] {
                    msgs.push(format!("{head}{n}{sep}SELECT 1"));
                }
            }
        }
        for d in ["0.1", "12", ".", "", "1.2.3", "x"] {
            for tail in [
                "",
                "  statement: x",
                " statement: x",
                "  ",
                "  execute S_1: y",
                "x",
            ] {
                for unit in [" ms", " s", "ms"] {
                    msgs.push(format!("duration: {d}{unit}{tail}"));
                }
            }
        }
        for m in &msgs {
            let want = execute
                .captures(m)
                .map(|c| (c.get(1).is_some(), c.get(2).map_or("", |g| g.as_str())));
            assert_eq!(execute_body(m), want, "{m:?}");
            assert_eq!(is_protocol_step(m), step.is_match(m), "{m:?}");
            let want = duration.captures(m).map(|c| c.get(1).map(|g| g.as_str()));
            assert_eq!(duration_rest(m), want, "{m:?}");
        }
    }

    #[test]
    fn extended_protocol_counts_once() {
        let (out, cov) = run(&[
            entry(
                1,
                "LOG",
                "duration: 0.1 ms  parse S_1: SELECT a FROM t WHERE id = $1",
            ),
            entry(
                2,
                "LOG",
                "duration: 0.1 ms  bind S_1: SELECT a FROM t WHERE id = $1",
            ),
            entry(3, "DETAIL", "Parameters: $1 = '42'"),
            entry(
                4,
                "LOG",
                "duration: 0.2 ms  execute S_1: SELECT a FROM t WHERE id = $1",
            ),
            entry(5, "DETAIL", "parameters: $1 = '42'"),
            entry(6, "LOG", "execute <unnamed>: SELECT b FROM t"),
            entry(7, "LOG", "duration: 0.3 ms"),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].text, "SELECT a FROM t WHERE id = $1");
        assert_eq!(out[1].text, "SELECT b FROM t");
        assert_eq!(cov.records_by_kind["protocol_step"], 2);
        assert_eq!(cov.records_by_kind["bind_parameters"], 2);
        assert_eq!(cov.records_by_kind["duration"], 1);
        assert_eq!(cov.records, 7);
    }

    #[test]
    fn failed_statement_is_evidence_once() {
        let (out, _) = run(&[
            entry(1, "LOG", "statement: SELECT 1/0"),
            entry(2, "ERROR", "division by zero"),
            entry(3, "STATEMENT", "SELECT 1/0"),
            entry(4, "ERROR", "syntax error at or near \"FORM\""),
            entry(5, "STATEMENT", "SELECT a FORM t"),
        ]);
        assert_eq!(out.len(), 2);
        assert!(!out[0].failed);
        assert!(out[1].failed);
    }

    fn entry_of(line: u64, backend: &str, user: Option<&str>, sev: &str, msg: &str) -> LogEntry {
        LogEntry {
            line,
            backend: Some(backend.into()),
            user: user.map(str::to_string),
            severity: sev.into(),
            message: msg.into(),
            ..LogEntry::default()
        }
    }

    /// Statements (sorted) and coverage of `entries` read as chunks cut
    /// before each index in `cuts`, settled in order as the scan does.
    fn run_chunked(entries: &[LogEntry], cuts: &[usize]) -> (Vec<Statement>, FileCoverage) {
        let mut bounds = vec![0];
        bounds.extend_from_slice(cuts);
        bounds.push(entries.len());
        let mut carried = Carried::default();
        let mut cov = FileCoverage::default();
        let mut out = Vec::new();
        for (i, w) in bounds.windows(2).enumerate() {
            let mut x = if i == 0 {
                Extractor::default()
            } else {
                Extractor::for_chunk()
            };
            let mut open = Vec::new();
            for e in &entries[w[0]..w[1]] {
                x.entry(e, &mut cov, &mut |s, _| open.push(s.clone()));
            }
            x.flush_counts(&mut cov);
            for mut s in open {
                carried.fill(&mut s);
                out.push(s);
            }
            for d in x.take_deferred() {
                carried.settle(d, &mut cov, &mut |s, _| out.push(s.clone()));
            }
            carried.advance(x);
        }
        out.sort_by_key(|s| s.line);
        (out, cov)
    }

    #[test]
    fn chunk_cuts_anywhere_give_the_sequential_result() {
        let entries = vec![
            entry_of(1, "7", None, "LOG", "connection received: host=10.0.0.5 port=5555"),
            entry_of(2, "7", None, "LOG", "connection authorized: user=alice database=app application_name=web"),
            entry_of(3, "8", Some("bob"), "LOG", "statement: SELECT 8"),
            entry_of(4, "7", None, "LOG", "statement: SELECT 1/0"),
            entry_of(5, "7", None, "ERROR", "division by zero"),
            entry_of(6, "7", None, "STATEMENT", "SELECT 1/0"),
            entry_of(7, "7", None, "ERROR", "syntax error"),
            entry_of(8, "7", None, "STATEMENT", "SELECT a FORM t"),
            entry_of(9, "7", None, "STATEMENT", "SELECT context"),
            entry_of(10, "8", Some("bob"), "ERROR", "boom"),
            entry_of(11, "7", None, "LOG", "statement: SELECT 2"),
            entry_of(12, "8", Some("bob"), "STATEMENT", "SELECT 9"),
            entry_of(13, "7", None, "LOG", "disconnection: session time: 0:00:00.010 user=alice database=app host=10.0.0.5 port=5555"),
            entry_of(14, "7", None, "LOG", "statement: SELECT 3"),
            entry_of(15, "7", None, "LOG", "connection received: host=10.9.9.9 port=1"),
            entry_of(16, "7", Some("carol"), "LOG", "statement: SELECT 4"),
            entry_of(17, "7", None, "ERROR", "late"),
            entry_of(18, "8", None, "LOG", "connection authorized: user=dave database=db2"),
            entry_of(19, "8", None, "LOG", "statement: SELECT 5"),
            entry_of(20, "7", None, "STATEMENT", "SELECT 4"),
            entry_of(21, "7", None, "STATEMENT", "SELECT 6"),
        ];
        let (want, want_cov) = run_chunked(&entries, &[]);
        assert_eq!(want.len(), 10);
        assert_eq!(want_cov.records_by_kind["failed_statement"], 2);
        assert_eq!(
            want_cov.records_by_kind["failed_statement_already_logged"],
            2
        );
        assert_eq!(want_cov.records_by_kind["statement_context"], 2);
        let n = entries.len();
        for a in 1..n {
            let (got, cov) = run_chunked(&entries, &[a]);
            assert_eq!(got, want, "cut before entry {a}");
            assert_eq!(cov, want_cov, "cut before entry {a}");
            for b in a + 1..n {
                let (got, cov) = run_chunked(&entries, &[a, b]);
                assert_eq!(got, want, "cuts before entries {a} and {b}");
                assert_eq!(cov, want_cov, "cuts before entries {a} and {b}");
            }
        }
        let every: Vec<usize> = (1..n).collect();
        assert_eq!(run_chunked(&entries, &every), (want, want_cov));
    }

    #[test]
    fn backfills_actor_from_connection_authorized() {
        let (out, _) = run(&[
            entry(1, "LOG", "connection received: host=10.0.0.5 port=5555"),
            entry(2, "LOG", "connection authorized: user=alice database=app application_name=my app"),
            entry(3, "LOG", "statement: SELECT 1"),
            entry(4, "LOG", "disconnection: session time: 0:00:00.010 user=alice database=app host=10.0.0.5 port=5555"),
            entry(5, "LOG", "statement: SELECT 2"),
        ]);
        assert_eq!(out[0].actor.user.as_deref(), Some("alice"));
        assert_eq!(out[0].actor.database.as_deref(), Some("app"));
        assert_eq!(out[0].actor.application.as_deref(), Some("my app"));
        assert_eq!(out[0].actor.client.as_deref(), Some("10.0.0.5"));
        assert_eq!(out[1].actor, Actor::default());
    }

    fn audit(line: u64, body: &str) -> LogEntry {
        entry(line, "LOG", &format!("AUDIT: {body}"))
    }

    #[test]
    fn audit_after_statement_line_counts_once() {
        let (out, cov) = run(&[
            entry(1, "LOG", "statement: SELECT 1; UPDATE t SET a = 2"),
            audit(
                2,
                "SESSION,1,1,READ,SELECT,,,SELECT 1; UPDATE t SET a = 2,<none>",
            ),
            audit(
                3,
                "SESSION,2,1,WRITE,UPDATE,TABLE,public.t,SELECT 1; UPDATE t SET a = 2,<none>",
            ),
            entry(4, "LOG", "statement: SELECT 1; UPDATE t SET a = 2"),
            audit(
                5,
                "SESSION,3,1,READ,SELECT,,,SELECT 1; UPDATE t SET a = 2,<none>",
            ),
            audit(
                6,
                "SESSION,4,1,WRITE,UPDATE,TABLE,public.t,SELECT 1; UPDATE t SET a = 2,<none>",
            ),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(cov.records_by_kind["audit_already_logged"], 4);
    }

    #[test]
    fn audit_before_execute_line_counts_once() {
        let q = "SELECT a FROM t WHERE id = $1";
        let (out, cov) = run(&[
            audit(
                1,
                &format!("OBJECT,1,1,READ,SELECT,TABLE,public.t,{q},secret"),
            ),
            audit(
                2,
                "SESSION,1,1,READ,SELECT,TABLE,public.t,<previously logged>,<previously logged>",
            ),
            entry(3, "LOG", &format!("execute <unnamed>: {q}")),
            entry(4, "DETAIL", "parameters: $1 = 'secret'"),
            audit(
                5,
                &format!("OBJECT,2,1,READ,SELECT,TABLE,public.t,{q},secret"),
            ),
            entry(6, "LOG", &format!("execute <unnamed>: {q}")),
        ]);
        assert_eq!(out.len(), 2);
        assert!(out
            .iter()
            .all(|s| s.text == q && s.line != 3 && s.line != 6));
        assert_eq!(cov.records_by_kind["statement_already_audited"], 2);
        assert_eq!(cov.records_by_kind["audit_repeat"], 1);
    }

    #[test]
    fn audit_multi_statement_string_counts_once_per_execution() {
        let q = "SELECT 1; UPDATE t SET a = 2";
        let (out, cov) = run(&[
            audit(1, &format!("SESSION,1,1,READ,SELECT,,,{q},<none>")),
            audit(
                2,
                &format!("SESSION,2,1,WRITE,UPDATE,TABLE,public.t,{q},<none>"),
            ),
            audit(3, &format!("SESSION,3,1,READ,SELECT,,,{q},<none>")),
            audit(
                4,
                &format!("SESSION,4,1,WRITE,UPDATE,TABLE,public.t,{q},<none>"),
            ),
            // a single-statement text repeated is two executions
            audit(5, "SESSION,5,1,READ,SELECT,,,SELECT 2,<none>"),
            audit(6, "SESSION,6,1,READ,SELECT,,,SELECT 2,<none>"),
        ]);
        assert_eq!(out.len(), 4);
        assert_eq!(cov.records_by_kind["audit_same_query_string"], 2);
    }

    #[test]
    fn audit_substatement_is_marked_and_keeps_the_failed_statement_pairing() {
        let (out, cov) = run(&[
            audit(1, "SESSION,1,1,READ,SELECT,,,SELECT f(1),<none>"),
            audit(
                2,
                "SESSION,1,2,FUNCTION,EXECUTE,FUNCTION,public.f,SELECT f(1),<none>",
            ),
            audit(
                3,
                "SESSION,1,3,READ,SELECT,TABLE,public.t,SELECT a FROM t,<none>",
            ),
            entry(4, "ERROR", "division by zero"),
            entry(5, "STATEMENT", "SELECT f(1)"),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].inside, None);
        assert_eq!(out[1].inside.as_deref(), Some("public.f"));
        assert_eq!(out[1].text, "SELECT a FROM t");
        assert_eq!(cov.records_by_kind["failed_statement_already_logged"], 1);
        assert_eq!(cov.logging.audit_substatements, 1);
    }

    #[test]
    fn malformed_audit_line_is_skipped_with_its_reason() {
        let (out, cov) = run(&[audit(1, "SESSION,1,1,READ")]);
        assert!(out.is_empty());
        assert_eq!(
            cov.skipped["pgAudit line with 4 fields (expected 9 or 10)"],
            1
        );
        assert_eq!(cov.records, 1);
    }
}
