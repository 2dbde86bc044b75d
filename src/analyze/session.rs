//! Session state that changes how later statements resolve: `SET
//! search_path`, `RESET search_path`, `SET search_path TO DEFAULT` and
//! `set_config('search_path', '…', …)` found in a logged statement.

use serde_json::Value;

use super::parse::{self, DISCARD_ALL, VAR_RESET, VAR_RESET_ALL, VAR_SET_DEFAULT, VAR_SET_VALUE};
use super::tree::node;
use crate::catalog::Catalog;
use crate::config::parse_search_path;
use crate::normalize::first_word;

/// A change of the session's `search_path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathChange {
    /// A new path (schema names, in order).
    Set(Vec<String>),
    /// Back to the default (the role's setting or `--search-path`).
    Reset,
}

/// Whether `sql` names `search_path`, in any case (found from its `_`, with
/// no lower-cased copy).
pub fn mentions_search_path(sql: &str) -> bool {
    let b = sql.as_bytes();
    memchr::memchr_iter(b'_', b).any(|p| {
        p >= 6
            && b.get(p - 6..p + 5)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"search_path"))
    })
}

/// The last `search_path` change a statement text makes, if any. Texts that
/// do not contain the word are not parsed.
pub fn search_path_change(sql: &str) -> Option<PathChange> {
    if !mentions_search_path(sql) {
        return None;
    }
    let parsed = parse::parse(sql).ok()?;
    let mut last = None;
    for stmt in &parsed {
        let mut found = Vec::new();
        changes(&stmt.tree, &mut found);
        if let Some((_, c)) = found.pop() {
            last = Some(c);
        }
    }
    last
}

/// What a statement does to the `search_path` its session's later
/// statements resolve with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathEvent {
    /// `BEGIN`, `START TRANSACTION`.
    Begin,
    /// `COMMIT`, `END`, `PREPARE TRANSACTION`: a `SET LOCAL` ends.
    Commit,
    /// `ROLLBACK`, `ABORT`: a `SET LOCAL` ends, and a `SET` made in the
    /// transaction is undone.
    Rollback,
    /// `SET [SESSION] search_path`, `RESET`, `set_config('search_path', …,
    /// false)`; `local`: `SET LOCAL`, `set_config(…, true)`, which last
    /// until the transaction ends.
    Set {
        /// Transaction-scoped.
        local: bool,
        /// The new path.
        change: PathChange,
    },
    /// The `AND CHAIN` of a `COMMIT` or `ROLLBACK`: a new block begins if
    /// one just ended (outside one, PostgreSQL refuses the statement).
    Chain,
    /// `SAVEPOINT name` (the name as PostgreSQL folds it).
    Savepoint(String),
    /// `RELEASE [SAVEPOINT] name`: it and the later savepoints end; what
    /// was set since stays.
    Release(String),
    /// `ROLLBACK TO [SAVEPOINT] name`: what was set since it is undone
    /// (`SET` and `SET LOCAL` alike); it stays, the later ones end.
    RollbackTo(String),
    /// `SET [LOCAL] ROLE`, `RESET ROLE`, `SET [LOCAL] SESSION
    /// AUTHORIZATION`, `RESET SESSION AUTHORIZATION`: who `"$user"` stands
    /// for from now on (transactions followed as for the path).
    SetRole {
        /// Transaction-scoped.
        local: bool,
        /// The change.
        change: RoleChange,
    },
}

/// A change of the session's current user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleChange {
    /// `SET ROLE name` (`Some`), `SET ROLE NONE`/`RESET ROLE` (`None`).
    Role(Option<String>),
    /// `SET SESSION AUTHORIZATION name` (`Some`), `… DEFAULT`/`RESET
    /// SESSION AUTHORIZATION` (`None`: the user who logged in). It also
    /// ends a `SET ROLE` (checked on PostgreSQL 15).
    Authorization(Option<String>),
}

/// The session's `SET ROLE` and `SET SESSION AUTHORIZATION` (`None`: not
/// set). The current user, what `"$user"` in the path stands for, is the
/// role, else the session authorization, else the user who logged in; the
/// role's own `search_path` setting stays the logged-in user's (it is read
/// at connection only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Role {
    /// `SET SESSION AUTHORIZATION`.
    pub authorization: Option<String>,
    /// `SET ROLE`.
    pub role: Option<String>,
}

impl Role {
    fn changed(&self, c: &RoleChange) -> Role {
        match c {
            RoleChange::Role(r) => Role {
                authorization: self.authorization.clone(),
                role: r.clone(),
            },
            RoleChange::Authorization(a) => Role {
                authorization: a.clone(),
                role: None,
            },
        }
    }

    /// The current user, when a `SET` made it another than the one who
    /// logged in.
    pub fn current(&self) -> Option<&str> {
        self.role.as_deref().or(self.authorization.as_deref())
    }
}

/// The events of a text's statements that move its session's
/// `search_path`, in order. A text that does not name `search_path` is
/// parsed only when it is one transaction statement (found from its first
/// word) or when `transactions` asks for the transaction statements of a
/// text of several statements (a session with a `SET LOCAL` or a `SET`
/// inside a transaction pending).
pub fn path_events(sql: &str, transactions: bool) -> Vec<PathEvent> {
    if !mentions_search_path(sql) {
        let body = sql.trim().trim_end_matches(';');
        let several = crate::normalize::several_statements(sql);
        // The first word after any comments (`/* app */ BEGIN` begins).
        let first = first_word(body);
        let is = |words: &[&str]| words.iter().any(|w| first.eq_ignore_ascii_case(w));
        // `SAVEPOINT name` and `RELEASE [SAVEPOINT] name`, read here:
        // frameworks send them around every nested block.
        if !several && is(&["savepoint", "release"]) {
            if let Some(e) = savepoint_event(body) {
                return vec![e];
            }
        }
        let single = if is(&["begin", "start"]) {
            Some(PathEvent::Begin)
        } else if is(&["commit", "end"]) {
            Some(PathEvent::Commit)
        } else if is(&["rollback", "abort"]) {
            Some(PathEvent::Rollback)
        } else {
            None
        };
        if !several {
            // `ROLLBACK TO SAVEPOINT` and `ROLLBACK PREPARED` are parsed, and
            // `PREPARE` (`PREPARE TRANSACTION` ends the transaction),
            // `DISCARD ALL`, `RESET ALL` and `SET SCHEMA 'name'`.
            let parse_it = is(&["prepare", "discard", "reset"])
                || (is(&["set"]) && names_session_setting(body));
            if !parse_it && (single.is_none() || !body.contains(|c: char| c.is_ascii_whitespace()))
            {
                return single.into_iter().collect();
            }
        } else if !transactions && !may_hold_session_statement(sql) {
            return Vec::new();
        }
    }
    let Ok(parsed) = parse::parse(sql) else {
        return Vec::new();
    };
    parsed
        .iter()
        .flat_map(|stmt| tree_events(&stmt.tree))
        .collect()
}

/// [`path_events`] of each statement of a text (`None`: it cannot be
/// parsed).
pub fn path_events_by_statement(sql: &str) -> Option<Vec<Vec<PathEvent>>> {
    let parsed = parse::parse(sql).ok()?;
    Some(parsed.iter().map(|stmt| tree_events(&stmt.tree)).collect())
}

/// Whether a text of this shape (its normalised text, see
/// [`crate::normalize::normalize_bytes`]) may move its session's
/// `search_path` or end a transaction: what [`path_events`] and
/// [`search_path_change`] can find anything in. It names `search_path` or
/// `set_config` outside literals and comments, starts with `DO` or a
/// transaction word, or holds several statements. Every text of the shape
/// agrees, so the answer is worked out once per shape; a text for which it
/// is `false` has no events.
pub fn may_move_path(shape: &[u8]) -> bool {
    let text = String::from_utf8_lossy(shape);
    let words = [
        "begin",
        "start",
        "commit",
        "end",
        "rollback",
        "abort",
        "prepare",
        "do",
        "savepoint",
        "release",
        "discard",
        "reset",
    ];
    let first = first_word(&text);
    mentions_search_path(&text)
        || crate::normalize::several_statements(&text)
        || memchr::memmem::find(&shape.to_ascii_lowercase(), b"set_config").is_some()
        || words.iter().any(|w| first.eq_ignore_ascii_case(w))
        || (first.eq_ignore_ascii_case("set") && names_session_setting(&text))
}

/// Whether a text may change the session's role (`SET ROLE`, `SET
/// SESSION AUTHORIZATION`, their `RESET`s, `DISCARD ALL`), in any case.
pub fn may_set_role(text: &str) -> bool {
    let mut shape = Vec::with_capacity(text.len());
    crate::normalize::normalize_bytes(text, &mut shape);
    may_set_role_shape(&shape)
}

/// [`may_set_role`] of a text of this shape (its normalised text): one of
/// its statements starts `SET [SESSION | LOCAL] ROLE`, `SET [SESSION |
/// LOCAL] SESSION AUTHORIZATION`, `RESET ROLE`, `RESET SESSION
/// AUTHORIZATION` or `DISCARD` (`UPDATE t SET role = …` does not).
pub fn may_set_role_shape(shape: &[u8]) -> bool {
    shape.split(|&b| b == b';').any(|part| {
        let mut words = part
            .split(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
            .filter(|w| !w.is_empty());
        let mut next = || words.next().unwrap_or_default();
        let is = |w: &[u8], k: &str| w.eq_ignore_ascii_case(k.as_bytes());
        let first = next();
        if is(first, "discard") {
            return true;
        }
        if !is(first, "set") && !is(first, "reset") {
            return false;
        }
        let mut w = next();
        if is(w, "local") || is(w, "session") {
            let after = next();
            if is(w, "session") && is(after, "authorization") {
                return true;
            }
            w = after;
        }
        is(w, "role") || (is(w, "session") && is(next(), "authorization"))
    })
}

/// Whether a text changes the session's role (parsed only when
/// [`may_set_role`]).
pub fn sets_role(text: &str) -> bool {
    may_set_role(text)
        && parse::parse(text).is_ok_and(|p| {
            p.iter().any(|stmt| {
                tree_events(&stmt.tree)
                    .iter()
                    .any(|e| matches!(e, PathEvent::SetRole { .. }))
            })
        })
}

/// Whether a `SET` text may be `SET SCHEMA`, `SET ROLE` or `SET SESSION
/// AUTHORIZATION` (in any case).
fn names_session_setting(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["schema", "role", "authorization"]
        .iter()
        .any(|w| lower.contains(w))
}

/// Whether a text may hold `BEGIN`, `START TRANSACTION`, `DISCARD ALL`,
/// `RESET ALL` or `SET SCHEMA` (in any case): a text of several statements
/// that does is parsed even when no transaction is open.
fn may_hold_session_statement(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    [
        "begin",
        "start",
        "discard",
        "reset",
        "schema",
        "role",
        "authorization",
    ]
    .iter()
    .any(|w| lower.contains(w))
}

/// `SAVEPOINT name` or `RELEASE [SAVEPOINT] name` read word by word
/// (`None` for any other form: it is parsed).
fn savepoint_event(body: &str) -> Option<PathEvent> {
    use crate::normalize::{tokens, Token};
    let mut words = tokens(body).filter(|t| *t != Token::Space);
    let first = match words.next()? {
        Token::Word(w) => w,
        _ => return None,
    };
    let name_of = |t: Token<'_>| match t {
        Token::Word(w) => Some(w.to_ascii_lowercase()),
        Token::QuotedIdent(q) => Some(
            q.strip_prefix('"')?
                .strip_suffix('"')?
                .replace("\"\"", "\""),
        ),
        _ => None,
    };
    let event = if first.eq_ignore_ascii_case("savepoint") {
        PathEvent::Savepoint(name_of(words.next()?)?)
    } else {
        let mut next = words.next()?;
        if matches!(next, Token::Word(w) if w.eq_ignore_ascii_case("savepoint")) {
            next = words.next()?;
        }
        PathEvent::Release(name_of(next)?)
    };
    // Nothing may follow (but the `;` the body was cut before).
    words.next().is_none().then_some(event)
}

/// [`path_events`] of one parsed statement.
pub fn tree_events(tree: &Value) -> Vec<PathEvent> {
    if let Some(("TransactionStmt", t)) = node(tree) {
        let kind = t.get("kind").and_then(Value::as_i64).unwrap_or(0);
        let name = || {
            t.get("savepoint_name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        // `COMMIT AND CHAIN`, `ROLLBACK AND CHAIN`: a new transaction
        // begins at once.
        let chain = t.get("chain").and_then(Value::as_bool).unwrap_or(false);
        let chained = |e: PathEvent| {
            if chain {
                vec![e, PathEvent::Chain]
            } else {
                vec![e]
            }
        };
        return match kind {
            k if k == parse::trans::BEGIN || k == parse::trans::START => vec![PathEvent::Begin],
            k if k == parse::trans::COMMIT => chained(PathEvent::Commit),
            k if k == parse::trans::PREPARE => vec![PathEvent::Commit],
            k if k == parse::trans::ROLLBACK => chained(PathEvent::Rollback),
            k if k == parse::trans::SAVEPOINT => vec![PathEvent::Savepoint(name())],
            k if k == parse::trans::RELEASE => vec![PathEvent::Release(name())],
            k if k == parse::trans::ROLLBACK_TO => vec![PathEvent::RollbackTo(name())],
            _ => Vec::new(),
        };
    }
    match node(tree) {
        // `DISCARD ALL` (a pooler's reset between clients) and `RESET ALL`
        // set the session's path back to its default.
        Some(("DiscardStmt", d))
            if d.get("target").and_then(Value::as_i64).unwrap_or(0) == DISCARD_ALL =>
        {
            // It also runs `SET SESSION AUTHORIZATION DEFAULT`.
            return vec![
                PathEvent::Set {
                    local: false,
                    change: PathChange::Reset,
                },
                PathEvent::SetRole {
                    local: false,
                    change: RoleChange::Authorization(None),
                },
            ];
        }
        Some(("VariableSetStmt", v)) if role_event(v).is_some() => {
            return role_event(v).into_iter().collect();
        }
        Some(("VariableSetStmt", v))
            if v.get("kind").and_then(Value::as_i64).unwrap_or(0) == VAR_RESET_ALL =>
        {
            return vec![PathEvent::Set {
                local: v.get("is_local").and_then(Value::as_bool).unwrap_or(false),
                change: PathChange::Reset,
            }];
        }
        _ => {}
    }
    let mut found = Vec::new();
    changes(tree, &mut found);
    found
        .into_iter()
        .map(|(local, change)| PathEvent::Set { local, change })
        .collect()
}

/// `SET [LOCAL] ROLE …`, `RESET ROLE`, `SET [LOCAL] SESSION
/// AUTHORIZATION …`, `RESET SESSION AUTHORIZATION` (`RESET ALL` leaves
/// both: checked on PostgreSQL 15).
fn role_event(v: &Value) -> Option<PathEvent> {
    let name = v.get("name").and_then(Value::as_str)?;
    let kind = v.get("kind").and_then(Value::as_i64).unwrap_or(0);
    let local = v.get("is_local").and_then(Value::as_bool).unwrap_or(false);
    let value = if kind == VAR_SET_VALUE {
        let arg = v
            .get("args")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(sval)?;
        Some(arg.to_string())
    } else if kind == VAR_SET_DEFAULT || kind == VAR_RESET {
        None
    } else {
        return None;
    };
    let change = match name {
        // `SET ROLE NONE` (the grammar gives the word as a string).
        "role" => RoleChange::Role(value.filter(|r| r != "none")),
        "session_authorization" => RoleChange::Authorization(value),
        _ => return None,
    };
    Some(PathEvent::SetRole { local, change })
}

/// Statements that hold a `SET search_path` or a `set_config` call
/// without running it now: a routine's `SET` clause or body, a role's or
/// database's setting for later sessions, a prepared statement, a view, a
/// rule, a trigger, a policy, a column default or check.
const NOT_RUN_NOW: &[&str] = &[
    "CreateFunctionStmt",
    "AlterFunctionStmt",
    "AlterRoleSetStmt",
    "AlterDatabaseSetStmt",
    "AlterSystemStmt",
    "PrepareStmt",
    "ViewStmt",
    "RuleStmt",
    "CreateTrigStmt",
    "CreatePolicyStmt",
    "AlterPolicyStmt",
    "CreateStmt",
    "AlterTableStmt",
    "IndexStmt",
    "CreateDomainStmt",
    "AlterDomainStmt",
    "DoStmt",
];

/// A session's `search_path` as its statements move it: the session's
/// value, a transaction's `SET LOCAL` over it, and the value to go back to
/// if the open transaction is rolled back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathState {
    /// Set by `SET search_path` (`None`: the default).
    pub session: Option<Vec<String>>,
    /// Set by `SET LOCAL` in the open transaction (`Some(None)`: the
    /// default for the rest of the transaction).
    pub local: Option<Option<Vec<String>>>,
    /// In an explicit transaction: the session's value when it began.
    pub begun: Option<Option<Vec<String>>>,
    /// The open transaction's savepoints, oldest first, with the session's
    /// and the `SET LOCAL` value when each was made.
    pub savepoints: Vec<Savepoint>,
    /// An error aborted the open transaction: until `ROLLBACK` (or
    /// `ROLLBACK TO` a savepoint) PostgreSQL refuses every command, and its
    /// `COMMIT` rolls back.
    pub aborted: bool,
    /// While a text is applied outside a transaction block: the session's
    /// value when its implicit transaction began (the text's start, or its
    /// last `COMMIT`/`ROLLBACK`). A `BEGIN` later in the text makes that
    /// transaction the block, so a `ROLLBACK` undoes from there.
    pub text_start: Option<Option<Vec<String>>>,
    /// The last event was a `COMMIT` or `ROLLBACK` that ended a block.
    pub ended_block: bool,
    /// `SET ROLE`/`SET SESSION AUTHORIZATION`, as `session` is for the
    /// path; `role_local`, `role_begun` and `role_text_start` as `local`,
    /// `begun` and `text_start` are (set and taken with them).
    pub role: Role,
    /// `SET LOCAL ROLE`/`SET LOCAL SESSION AUTHORIZATION` in the open
    /// transaction.
    pub role_local: Option<Role>,
    /// The role when the open transaction block began.
    pub role_begun: Option<Role>,
    /// The role when the implicit transaction of the text being applied
    /// began.
    pub role_text_start: Option<Role>,
}

/// A savepoint of [`PathState`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Savepoint {
    name: String,
    session: Option<Vec<String>>,
    local: Option<Option<Vec<String>>>,
    role: Role,
    role_local: Option<Role>,
}

impl PathState {
    /// The path the next statement resolves with (`None`: the default).
    pub fn current(&self) -> Option<&Vec<String>> {
        match &self.local {
            Some(local) => local.as_ref(),
            None => self.session.as_ref(),
        }
    }

    /// Who `"$user"` stands for, when a `SET ROLE` or `SET SESSION
    /// AUTHORIZATION` changed it (`None`: the user who logged in).
    pub fn current_role(&self) -> Option<&str> {
        self.role_local.as_ref().unwrap_or(&self.role).current()
    }

    /// Applies one event.
    pub fn apply(&mut self, e: &PathEvent) {
        let value = |c: &PathChange| match c {
            PathChange::Set(p) => Some(p.clone()),
            PathChange::Reset => None,
        };
        // In an aborted transaction only its end and `ROLLBACK TO` run.
        if self.aborted
            && !matches!(
                e,
                PathEvent::Commit | PathEvent::Rollback | PathEvent::RollbackTo(_)
            )
        {
            return;
        }
        let ended_block = std::mem::take(&mut self.ended_block);
        match e {
            PathEvent::Chain => {
                if ended_block {
                    self.apply(&PathEvent::Begin);
                }
            }
            PathEvent::Begin => {
                if self.begun.is_none() {
                    let start = self.text_start.take();
                    self.begun = Some(start.unwrap_or_else(|| self.session.clone()));
                    let start = self.role_text_start.take();
                    self.role_begun = Some(start.unwrap_or_else(|| self.role.clone()));
                }
            }
            PathEvent::Commit if self.aborted => self.apply(&PathEvent::Rollback),
            PathEvent::Commit => {
                self.ended_block = self.begun.take().is_some();
                self.role_begun = None;
                self.local = None;
                self.role_local = None;
                self.savepoints.clear();
                self.restart_text();
            }
            PathEvent::Rollback => {
                if let Some(before) = self.begun.take() {
                    self.session = before;
                    self.ended_block = true;
                }
                if let Some(before) = self.role_begun.take() {
                    self.role = before;
                }
                self.local = None;
                self.role_local = None;
                self.savepoints.clear();
                self.aborted = false;
                self.restart_text();
            }
            // Only inside a transaction block (elsewhere PostgreSQL
            // refuses them); an unknown name is an error that changes
            // nothing here.
            PathEvent::Savepoint(name) if self.begun.is_some() => {
                self.savepoints.push(Savepoint {
                    name: name.clone(),
                    session: self.session.clone(),
                    local: self.local.clone(),
                    role: self.role.clone(),
                    role_local: self.role_local.clone(),
                });
            }
            PathEvent::Release(name) => {
                if let Some(at) = self.savepoints.iter().rposition(|s| &s.name == name) {
                    self.savepoints.truncate(at);
                }
            }
            PathEvent::RollbackTo(name) => {
                if let Some(at) = self.savepoints.iter().rposition(|s| &s.name == name) {
                    self.savepoints.truncate(at + 1);
                    if let Some(s) = self.savepoints.last() {
                        self.session.clone_from(&s.session);
                        self.local.clone_from(&s.local);
                        self.role.clone_from(&s.role);
                        self.role_local.clone_from(&s.role_local);
                    }
                    self.aborted = false;
                }
            }
            PathEvent::Savepoint(_) => {}
            // A SET after a SET LOCAL in the same transaction replaces
            // both (checked on PostgreSQL 15).
            PathEvent::Set {
                local: false,
                change,
            } => {
                self.session = value(change);
                self.local = None;
            }
            PathEvent::Set {
                local: true,
                change,
            } => self.local = Some(value(change)),
            PathEvent::SetRole {
                local: false,
                change,
            } => {
                self.role = self.role.changed(change);
                self.role_local = None;
            }
            // Outside a transaction block PostgreSQL ignores it (with a
            // warning), as the end of the text ends it.
            PathEvent::SetRole {
                local: true,
                change,
            } => {
                let now = self.role_local.as_ref().unwrap_or(&self.role);
                self.role_local = Some(now.changed(change));
            }
        }
    }

    /// Starts applying a text's events (see [`PathState::text_start`]).
    pub fn begin_text(&mut self) {
        self.text_start = self.begun.is_none().then(|| self.session.clone());
        self.role_text_start = self.begun.is_none().then(|| self.role.clone());
    }

    /// After a transaction ends inside a text, the next statements run in
    /// a new implicit transaction.
    fn restart_text(&mut self) {
        if self.text_start.is_some() {
            self.text_start = Some(self.session.clone());
            self.role_text_start = Some(self.role.clone());
        }
    }

    /// Ends a text: outside an explicit transaction, a text of several
    /// statements ran in one implicit transaction, which ends with it.
    pub fn end_text(&mut self) {
        if self.begun.is_none() {
            self.local = None;
            self.role_local = None;
        }
        self.text_start = None;
        self.role_text_start = None;
    }

    /// What later statements can tell of the state: the path (and the
    /// role `"$user"` stands for) the next one resolves with, and the
    /// session's once the open transaction ends by `ROLLBACK` and by
    /// `COMMIT`.
    /// In an aborted block nothing runs until it ends, and it ends rolled
    /// back: only that value shows.
    pub fn outcome(&self) -> ([Option<&Vec<String>>; 3], [Option<&str>; 3]) {
        let rolled_back = match &self.begun {
            Some(b) => b.as_ref(),
            None => self.session.as_ref(),
        };
        let role_rolled_back = self.role_begun.as_ref().unwrap_or(&self.role).current();
        if self.aborted {
            return ([rolled_back; 3], [role_rolled_back; 3]);
        }
        (
            [self.current(), rolled_back, self.session.as_ref()],
            [self.current_role(), role_rolled_back, self.role.current()],
        )
    }

    /// An error in the text being applied: a transaction block is aborted;
    /// outside one, the text's implicit transaction is rolled back. The
    /// rest of the text does not run.
    fn fail_text(&mut self) {
        if self.begun.is_some() {
            self.aborted = true;
        } else {
            if let Some(start) = self.text_start.take() {
                self.session = start;
            }
            if let Some(start) = self.role_text_start.take() {
                self.role = start;
            }
            self.local = None;
            self.role_local = None;
            self.savepoints.clear();
        }
        self.ended_block = false;
        self.end_text();
    }

    /// The states a text may leave when it fails somewhere the log does
    /// not tell, applied from `before`: `statements` are the events of each
    /// of its statements. The failed statement's events do not happen (a
    /// failed `COMMIT` rolls back), and the rest of the text does not run.
    pub fn failed_outcomes(before: &PathState, statements: &[Vec<PathEvent>]) -> Vec<PathState> {
        let mut out = Vec::with_capacity(statements.len());
        for (at, failed) in statements.iter().enumerate() {
            let mut s = before.clone();
            s.begin_text();
            for e in statements.get(..at).unwrap_or_default().iter().flatten() {
                s.apply(e);
            }
            if matches!(failed.first(), Some(PathEvent::Commit)) {
                s.apply(&PathEvent::Rollback);
                s.end_text();
            } else {
                s.fail_text();
            }
            out.push(s);
        }
        out
    }

    /// Whether a transaction statement can still change the path. In a
    /// transaction block its end matters even when nothing was set yet: a
    /// `SET LOCAL` after it lasts only for its own text.
    pub fn pending(&self) -> bool {
        self.local.is_some() || self.role_local.is_some() || self.begun.is_some()
    }
}

/// A constant that is true: `true`, `'t'`, `'on'`, `'1'`, …
fn is_true(v: &Value) -> bool {
    let Some(("AConst", c)) = node(v) else {
        return false;
    };
    let val = c.get("val");
    if let Some(b) = val
        .and_then(|v| v.get("Boolval"))
        .and_then(|b| b.get("boolval"))
        .and_then(Value::as_bool)
    {
        return b;
    }
    sval(v).is_some_and(|s| {
        matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "t" | "true" | "on" | "1" | "yes" | "y"
        )
    })
}

fn sval(v: &Value) -> Option<&str> {
    match node(v)? {
        ("AConst", c) => c.get("val")?.get("Sval")?.get("sval")?.as_str(),
        _ => None,
    }
}

/// The `search_path` a statement resolves with: its session's own (`SET
/// search_path`), else its role's in its database, else its role's, else its
/// database's (`ALTER DATABASE … SET`), else `default`; `$user` becomes the
/// role's name when the catalog has a schema of that name with relations (it
/// is dropped otherwise, as when the log does not say who ran it).
pub fn effective_search_path(
    session: Option<&[String]>,
    catalog: &Catalog,
    user: Option<&str>,
    database: Option<&str>,
    default: &[String],
) -> Vec<String> {
    effective_search_path_as(session, catalog, user, None, database, default)
}

/// [`effective_search_path`] in a session whose `SET ROLE` or `SET
/// SESSION AUTHORIZATION` made `role` the current user: `"$user"` is
/// `role`; the role settings read are still `user`'s (the user who logged
/// in: they are applied at connection only).
pub fn effective_search_path_as(
    session: Option<&[String]>,
    catalog: &Catalog,
    user: Option<&str>,
    role: Option<&str>,
    database: Option<&str>,
    default: &[String],
) -> Vec<String> {
    let current = role.or(user);
    let role = |db: &str| {
        user.and_then(|u| {
            catalog
                .role_search_paths
                .get(&(u.to_string(), db.to_string()))
        })
    };
    // PostgreSQL's order: role in database, role, database, server default.
    let database_wide = database.and_then(|d| {
        catalog
            .role_search_paths
            .get(&(String::new(), d.to_string()))
    });
    let path = session
        .or_else(|| database.and_then(role).map(Vec::as_slice))
        .or_else(|| role("").map(Vec::as_slice))
        .or_else(|| database_wide.map(Vec::as_slice))
        .unwrap_or(default);
    path.iter()
        .filter_map(|s| {
            if s == "$user" {
                // Only a schema that holds relations can resolve a name.
                current
                    .filter(|u| catalog.relations().any(|r| r.schema == *u))
                    .map(str::to_string)
            } else {
                Some(s.clone())
            }
        })
        .collect()
}

/// A `search_path` setting of `ALTER ROLE … SET` (a `VariableSetStmt`
/// tree): `Some(path)`, or `None` when it is not about `search_path`.
pub fn role_setting(setstmt: &Value) -> Option<Vec<String>> {
    let wrapped = serde_json::json!({ "node": { "VariableSetStmt": setstmt } });
    let mut found = Vec::new();
    changes(&wrapped, &mut found);
    match found.pop()?.1 {
        PathChange::Set(p) => Some(p),
        PathChange::Reset => None,
    }
}

/// Collects the changes in tree order, each with whether it lasts only to
/// the end of the transaction (`SET LOCAL`, `set_config(…, true)`).
fn changes(v: &Value, out: &mut Vec<(bool, PathChange)>) {
    match v {
        Value::Object(m) => {
            if let Some((kind, n)) = node(v) {
                match kind {
                    k if NOT_RUN_NOW.contains(&k) => return,
                    "VariableSetStmt"
                        if n.get("name").and_then(Value::as_str) == Some("search_path") =>
                    {
                        let local = n.get("is_local").and_then(Value::as_bool).unwrap_or(false);
                        let k = n.get("kind").and_then(Value::as_i64).unwrap_or(0);
                        if k == VAR_SET_VALUE {
                            let args = n.get("args").and_then(Value::as_array);
                            // Each argument is one schema name, already
                            // folded (or a string literal, taken as is).
                            let names: Option<Vec<String>> = args
                                .map(|a| a.iter().filter_map(sval).map(str::to_string).collect());
                            if let Some(names) = names {
                                out.push((local, PathChange::Set(names)));
                            }
                        } else if k == VAR_SET_DEFAULT || k == VAR_RESET {
                            out.push((local, PathChange::Reset));
                        }
                        return;
                    }
                    "FuncCall" => {
                        let name = n
                            .get("funcname")
                            .and_then(Value::as_array)
                            .and_then(|f| f.last())
                            .and_then(|s| node(s))
                            .and_then(|(_, s)| s.get("sval"))
                            .and_then(Value::as_str);
                        let args = n.get("args").and_then(Value::as_array);
                        if let (Some("set_config"), Some(args)) = (name, args) {
                            if args.first().and_then(sval) == Some("search_path") {
                                if let Some(value) = args.get(1).and_then(sval) {
                                    let local = args.get(2).is_some_and(is_true);
                                    out.push((local, PathChange::Set(parse_search_path(value))));
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
            for x in m.values() {
                changes(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| changes(x, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> Option<PathChange> {
        Some(PathChange::Set(
            names.iter().map(|s| s.to_string()).collect(),
        ))
    }

    #[test]
    fn effective_path_prefers_session_then_role_then_default() {
        let mut c = Catalog::default();
        c.role_search_paths.insert(
            ("app".into(), String::new()),
            vec!["app".into(), "public".into()],
        );
        c.role_search_paths
            .insert(("app".into(), "reporting".into()), vec!["analytics".into()]);
        let default = vec!["$user".to_string(), "public".to_string()];
        let s = vec!["x".to_string()];
        let p = |sess: Option<&[String]>, user: Option<&str>, db: Option<&str>| {
            effective_search_path(sess, &c, user, db, &default)
        };
        assert_eq!(p(Some(&s), Some("app"), None), ["x"]);
        assert_eq!(p(None, Some("app"), Some("shop")), ["app", "public"]);
        assert_eq!(p(None, Some("app"), Some("reporting")), ["analytics"]);
        assert_eq!(p(None, Some("bob"), None), ["public"]);
        assert_eq!(p(None, None, None), ["public"]);
        let mut with_bob = c.clone();
        with_bob.insert(crate::catalog::Relation {
            schema: "bob".into(),
            name: "t".into(),
            kind: crate::catalog::RelKind::Table,
            columns: vec!["a".into()],
            uses: Vec::new(),
            origins: Vec::new(),
            parents: Vec::new(),
            partition: false,
            inherited: Vec::new(),
        });
        assert_eq!(
            effective_search_path(None, &with_bob, Some("bob"), None, &default),
            ["bob", "public"]
        );
    }

    #[test]
    fn set_search_path_forms() {
        assert_eq!(
            search_path_change("SET search_path = app, public"),
            set(&["app", "public"])
        );
        assert_eq!(search_path_change("set SEARCH_PATH to App"), set(&["app"]));
        assert_eq!(
            search_path_change("SET search_path TO \"$user\", \"Odd\""),
            set(&["$user", "Odd"])
        );
        assert_eq!(search_path_change("SET LOCAL search_path = a"), set(&["a"]));
        assert_eq!(
            search_path_change("SET search_path TO DEFAULT"),
            Some(PathChange::Reset)
        );
        assert_eq!(
            search_path_change("RESET search_path"),
            Some(PathChange::Reset)
        );
        assert_eq!(
            search_path_change("SELECT pg_catalog.set_config('search_path', 'b, \"C\"', false)"),
            set(&["b", "C"])
        );
        assert_eq!(search_path_change("SET work_mem = '64MB'"), None);
        assert_eq!(search_path_change("SELECT search_path FROM t"), None);
        assert_eq!(search_path_change("SELECT 'search_path'"), None);
    }

    #[test]
    fn a_transaction_statement_after_a_comment_or_prepared_still_moves_the_path() {
        assert_eq!(
            path_events("/* app:web */ BEGIN", false),
            vec![PathEvent::Begin]
        );
        assert_eq!(
            path_events("-- job 7\nROLLBACK", false),
            vec![PathEvent::Rollback]
        );
        assert_eq!(
            path_events("PREPARE TRANSACTION 'tx1'", false),
            vec![PathEvent::Commit]
        );
        assert_eq!(path_events("PREPARE q AS SELECT 1", false), vec![]);
        assert_eq!(path_events("SELECT 1", true), vec![]);
    }

    /// The current role after each text, as a backend follows them.
    fn follow_role(texts: &[&str]) -> Vec<Option<String>> {
        let mut st = PathState::default();
        texts
            .iter()
            .map(|t| {
                st.begin_text();
                for e in path_events(t, st.pending()) {
                    st.apply(&e);
                }
                st.end_text();
                st.current_role().map(str::to_string)
            })
            .collect()
    }

    /// As PostgreSQL 15 does (checked with `current_user`).
    #[test]
    fn set_role_and_session_authorization_follow_transactions() {
        let r = |s: &str| Some(s.to_string());
        assert_eq!(
            follow_role(&["SET ROLE alice", "select 1", "RESET ROLE"]),
            [r("alice"), r("alice"), None]
        );
        assert_eq!(
            follow_role(&["set role \"Alice\"", "SET ROLE 'Bob'", "SET ROLE NONE"]),
            [r("Alice"), r("Bob"), None]
        );
        assert_eq!(
            follow_role(&["BEGIN", "SET LOCAL ROLE alice", "COMMIT"]),
            [None, r("alice"), None]
        );
        assert_eq!(
            follow_role(&["BEGIN", "SET ROLE alice", "ROLLBACK"]),
            [None, r("alice"), None]
        );
        assert_eq!(
            follow_role(&[
                "SET ROLE alice",
                "BEGIN",
                "RESET ROLE",
                "SAVEPOINT s",
                "SET ROLE bob",
                "ROLLBACK TO SAVEPOINT s",
                "COMMIT"
            ]),
            [r("alice"), r("alice"), None, None, r("bob"), None, None]
        );
        // RESET ALL leaves the role; DISCARD ALL resets it.
        assert_eq!(
            follow_role(&["SET ROLE alice", "RESET ALL", "DISCARD ALL"]),
            [r("alice"), r("alice"), None]
        );
        // SET SESSION AUTHORIZATION ends a SET ROLE; its RESET (or
        // DEFAULT) goes back to the user who logged in.
        assert_eq!(
            follow_role(&[
                "SET ROLE alice",
                "SET SESSION AUTHORIZATION bob",
                "RESET ROLE",
                "SET ROLE alice",
                "SET SESSION AUTHORIZATION DEFAULT"
            ]),
            [r("alice"), r("bob"), r("bob"), r("alice"), None]
        );
        assert_eq!(
            follow_role(&[
                "SET ROLE alice",
                "BEGIN",
                "SET SESSION AUTHORIZATION bob",
                "ROLLBACK",
                "RESET SESSION AUTHORIZATION"
            ]),
            [r("alice"), r("alice"), r("bob"), r("alice"), None]
        );
        // SET LOCAL outside a block lasts to the end of its text.
        assert_eq!(
            follow_role(&["SET LOCAL ROLE alice", "SET LOCAL ROLE alice; SELECT 1"]),
            [None, None]
        );
        // In a text of several statements.
        assert_eq!(
            follow_role(&[
                "SELECT 1; SET ROLE alice; SELECT 2",
                "BEGIN; SET ROLE bob; ROLLBACK"
            ]),
            [r("alice"), r("alice")]
        );
    }

    #[test]
    fn only_statements_that_start_like_a_role_change_may_change_the_role() {
        for t in [
            "SET ROLE alice",
            "set role = 'alice'",
            "SET LOCAL ROLE alice",
            "SET SESSION ROLE alice",
            "RESET ROLE",
            "SET SESSION AUTHORIZATION 'bob'",
            "SET LOCAL SESSION AUTHORIZATION bob",
            "RESET SESSION AUTHORIZATION",
            "DISCARD ALL",
            "BEGIN; /* c */ SET ROLE alice; SELECT 1",
            "set role=alice",
        ] {
            assert!(may_set_role(t), "{t}");
        }
        for t in [
            "UPDATE users SET role = 'admin' WHERE id = 1",
            "SELECT role FROM user_roles",
            "SELECT 'set role x'",
            "SET search_path = role",
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
            "RESET ALL",
            "INSERT INTO authorization_log VALUES (1)",
        ] {
            assert!(!may_set_role(t), "{t}");
        }
    }

    #[test]
    fn user_in_the_path_is_the_current_role() {
        let mut c = Catalog::default();
        c.role_search_paths.insert(
            ("app".into(), String::new()),
            vec!["$user".into(), "public".into()],
        );
        c.insert(crate::catalog::Relation {
            schema: "alice".into(),
            name: "t".into(),
            kind: crate::catalog::RelKind::Table,
            columns: vec!["a".into()],
            uses: Vec::new(),
            origins: Vec::new(),
            parents: Vec::new(),
            partition: false,
            inherited: Vec::new(),
        });
        let default = vec!["public".to_string()];
        // The login role's setting, with "$user" the role set.
        assert_eq!(
            effective_search_path_as(None, &c, Some("app"), Some("alice"), None, &default),
            ["alice", "public"]
        );
        assert_eq!(
            effective_search_path_as(None, &c, Some("app"), None, None, &default),
            ["public"]
        );
        // alice's own setting (none here) is not read.
        assert_eq!(
            effective_search_path_as(None, &c, Some("bob"), Some("alice"), None, &default),
            ["public"]
        );
    }

    /// The path after each text, as a backend follows them.
    fn follow(texts: &[&str]) -> Vec<Option<Vec<String>>> {
        let mut st = PathState::default();
        texts
            .iter()
            .map(|t| {
                st.begin_text();
                for e in path_events(t, st.pending()) {
                    st.apply(&e);
                }
                st.end_text();
                st.current().cloned()
            })
            .collect()
    }

    #[test]
    fn rollback_to_a_savepoint_undoes_the_paths_set_since() {
        let app = Some(vec!["app".to_string()]);
        let t1 = Some(vec!["t1".to_string()]);
        assert_eq!(
            follow(&[
                "BEGIN",
                "SET LOCAL search_path = app",
                "SAVEPOINT s1",
                "SET LOCAL search_path = t1",
                "ROLLBACK TO SAVEPOINT s1",
                "SELECT 1",
                "COMMIT",
            ]),
            vec![
                None,
                app.clone(),
                app.clone(),
                t1.clone(),
                app.clone(),
                app.clone(),
                None
            ]
        );
        // A session-level SET is undone too; RELEASE keeps what was set.
        assert_eq!(
            follow(&[
                "BEGIN",
                "SAVEPOINT \"Odd\"",
                "SET search_path = t1",
                "ROLLBACK TO \"Odd\"",
                "SAVEPOINT b",
                "SET search_path = app",
                "RELEASE SAVEPOINT b",
                "COMMIT",
                "SELECT 1",
            ]),
            vec![
                None,
                None,
                t1.clone(),
                None,
                None,
                app.clone(),
                app.clone(),
                app.clone(),
                app.clone()
            ]
        );
        // Nested: rolling back to the outer one ends the inner one.
        assert_eq!(
            follow(&[
                "begin",
                "savepoint a",
                "savepoint b",
                "set local search_path = t1",
                "rollback to a",
                "rollback to b",
                "end",
            ]),
            vec![None, None, None, t1.clone(), None, None, None]
        );
        // Outside a transaction block a savepoint is refused.
        assert_eq!(
            follow(&["SAVEPOINT s", "SET search_path = t1", "ROLLBACK TO s"]),
            vec![None, t1.clone(), t1]
        );
    }

    #[test]
    fn session_resets_chains_and_stored_settings_move_the_path_as_postgres_does() {
        let app = Some(vec!["app".to_string()]);
        let t1 = Some(vec!["t1".to_string()]);
        // A SET after a SET LOCAL replaces both, and stays after COMMIT.
        assert_eq!(
            follow(&[
                "BEGIN",
                "SET LOCAL search_path = t1",
                "SET search_path = app",
                "COMMIT",
                "SELECT 1"
            ]),
            vec![None, t1.clone(), app.clone(), app.clone(), app.clone()]
        );
        // COMMIT AND CHAIN begins the next transaction at once.
        assert_eq!(
            follow(&[
                "BEGIN",
                "COMMIT AND CHAIN",
                "SET LOCAL search_path = t1",
                "SELECT 1",
                "COMMIT",
                "SELECT 1"
            ]),
            vec![None, None, t1.clone(), t1.clone(), None, None]
        );
        // A pooler's DISCARD ALL, RESET ALL; SET SCHEMA is SET search_path.
        assert_eq!(
            follow(&[
                "SET search_path = app",
                "DISCARD ALL",
                "SET SCHEMA 't1'",
                "RESET ALL",
                "SELECT 1"
            ]),
            vec![app.clone(), None, t1.clone(), None, None]
        );
        assert_eq!(
            follow(&["SET search_path = app", "SELECT 1; DISCARD ALL"]),
            vec![app.clone(), None]
        );
        // Settings kept for later: a routine's SET clause, a role's or
        // database's setting, a prepared statement, a view.
        assert_eq!(
            follow(&[
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = t1 AS 'SELECT 1'",
                "ALTER ROLE r SET search_path = t1",
                "ALTER DATABASE d SET search_path TO t1",
                "PREPARE p AS SELECT set_config('search_path', 't1', false)",
                "CREATE VIEW v AS SELECT set_config('search_path', 't1', false)",
                "SELECT 1",
            ]),
            vec![None, None, None, None, None, None]
        );
        assert_eq!(
            search_path_change("ALTER ROLE r SET search_path = t1"),
            None
        );
    }

    #[test]
    fn a_begin_after_a_set_in_one_text_makes_the_set_part_of_the_transaction() {
        let app = Some(vec!["app".to_string()]);
        // The implicit transaction the SET ran in becomes the block: its
        // ROLLBACK undoes the SET (checked on PostgreSQL 15).
        assert_eq!(
            follow(&[
                "SET search_path = app; BEGIN; SELECT 1",
                "ROLLBACK",
                "SELECT 1"
            ]),
            vec![app.clone(), None, None]
        );
        // After a COMMIT in the text a new implicit transaction starts.
        assert_eq!(
            follow(&["SET search_path = app; COMMIT; BEGIN; SELECT 1", "ROLLBACK"]),
            vec![app.clone(), app.clone()]
        );
    }

    #[test]
    fn a_transaction_begun_or_ended_in_a_text_of_several_statements_is_followed() {
        let app = Some(vec!["app".to_string()]);
        // Begun inside a text of several: the SET LOCAL lasts to COMMIT.
        assert_eq!(
            follow(&[
                "BEGIN; SELECT 1",
                "SET LOCAL search_path = app",
                "SELECT 2",
                "COMMIT"
            ]),
            vec![None, app.clone(), app.clone(), None]
        );
        // Ended inside one: a SET LOCAL after it lasts for its own text.
        assert_eq!(
            follow(&[
                "BEGIN",
                "COMMIT; SELECT 1",
                "SET LOCAL search_path = app",
                "SELECT 2"
            ]),
            vec![None, None, None, None]
        );
    }

    #[test]
    fn only_shapes_that_may_move_the_path_are_looked_into() {
        // The one-pass normaliser gives this same text (a test holds it).
        let shape = |sql: &str| crate::normalize::normalize(sql).into_bytes();
        for sql in [
            "SET search_path = app",
            "set LOCAL Search_Path to 'a'",
            "SELECT pg_catalog.set_config('search_path', 'b', false)",
            "/* c */ begin",
            "END",
            "abort",
            "START TRANSACTION",
            "COMMIT",
            "ROLLBACK TO SAVEPOINT s",
            "PREPARE TRANSACTION 'x'",
            "SAVEPOINT s",
            "release s",
            "DISCARD ALL",
            "RESET ALL",
            "SET SCHEMA 'app'",
            "SELECT 1; SELECT 2",
            "DO $$ BEGIN PERFORM 1; END $$",
        ] {
            assert!(may_move_path(&shape(sql)), "{sql}");
        }
        for sql in [
            "SELECT 'search_path' FROM t",
            "SELECT a /* search_path */ FROM t",
            "SELECT 'a;b'",
            "UPDATE t SET begin_at = now()",
            "SELECT 1;",
        ] {
            assert!(!may_move_path(&shape(sql)), "{sql}");
            // Nothing would have been found in it.
            assert_eq!(path_events(sql, true), vec![], "{sql}");
            assert_eq!(search_path_change(sql), None, "{sql}");
        }
    }
}
