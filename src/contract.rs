//! The contract file (`pgcontract.toml`): targets, inputs, schema, the
//! default window, the exit policy, and the accepted dependencies (known
//! readers and writers that are expected, with a reason and an optional
//! expiry date), with the rules that match a dependency row to them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::inventory::{Access, Actor};
use crate::time::Millis;

/// The file looked for in the working directory when `--config` is not given.
pub const DEFAULT_NAME: &str = "pgcontract.toml";

/// The contract file as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContractFile {
    /// Target columns, `[schema.]table.column`.
    #[serde(default)]
    pub columns: Vec<String>,
    /// Migration files whose changes are targets.
    #[serde(default)]
    pub migrations: Vec<PathBuf>,
    /// `pg_dump --schema-only` file.
    pub schema: Option<PathBuf>,
    /// Inputs (files, directories, globs) used when none is given on the
    /// command line.
    #[serde(default)]
    pub inputs: Vec<PathBuf>,
    /// Default `--window` (e.g. `7d`).
    pub window: Option<String>,
    /// Default `--max-gap`.
    pub max_gap: Option<String>,
    /// Default `--fail-on` (`blocked`, `inconclusive`, `never`).
    pub fail_on: Option<String>,
    /// Accepted dependencies.
    #[serde(default)]
    pub accept: Vec<AcceptRule>,
}

/// A known, expected dependency. Every field given must match (globs with
/// `*` and `?` in column and actor fields); a field left out matches
/// anything. An actor field the log does not show never matches a pattern.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptRule {
    /// `schema.table.column` (glob), e.g. `public.users.legacy_email`.
    pub column: String,
    /// Role (glob).
    pub user: Option<String>,
    /// Database (glob).
    pub database: Option<String>,
    /// `application_name` (glob).
    pub application: Option<String>,
    /// Client host (glob).
    pub client: Option<String>,
    /// `read` or `write`; both when left out.
    pub access: Option<Access>,
    /// Why it is expected (required).
    pub reason: String,
    /// The first day (`YYYY-MM-DD`, UTC) on which it no longer applies.
    pub expires: Option<String>,
}

/// A contract file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// Unreadable.
    #[error("{path}: cannot read the contract file")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Bad TOML or unknown keys.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The TOML parser's message (with line and column).
        message: String,
    },
    /// A bad rule.
    #[error("{path}: accept rule {index}: {message}")]
    Rule {
        /// The file.
        path: String,
        /// 1-based rule number.
        index: usize,
        /// What is wrong.
        message: String,
    },
}

fn glob_ok(p: &str) -> bool {
    glob::Pattern::new(p).is_ok()
}

impl ContractFile {
    /// Parses the text of a contract file; `path` names it in errors.
    /// Relative paths in it are taken relative to the file's directory.
    pub fn parse(text: &str, path: &Path) -> Result<ContractFile, ContractError> {
        let name = path.display().to_string();
        let mut c: ContractFile = toml::from_str(text).map_err(|e| ContractError::Syntax {
            path: name.clone(),
            message: e.to_string().trim_end().replace('\n', " "),
        })?;
        for (i, r) in c.accept.iter().enumerate() {
            let bad = |message: String| ContractError::Rule {
                path: name.clone(),
                index: i + 1,
                message,
            };
            if r.reason.trim().is_empty() {
                return Err(bad(
                    "`reason` is empty: say why the dependency is expected".into()
                ));
            }
            if let Some(e) = &r.expires {
                if expiry_millis(e).is_none() {
                    return Err(bad(format!(
                        "`expires = \"{e}\"` is not a date (YYYY-MM-DD)"
                    )));
                }
            }
            for p in [
                Some(&r.column),
                r.user.as_ref(),
                r.database.as_ref(),
                r.application.as_ref(),
                r.client.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                if !glob_ok(p) {
                    return Err(bad(format!("`{p}` is not a valid pattern")));
                }
            }
        }
        let base = path.parent().unwrap_or(Path::new(""));
        let rebase = |p: &mut PathBuf| {
            if p.is_relative() && p.as_os_str() != "-" {
                *p = base.join(&*p);
            }
        };
        c.migrations.iter_mut().for_each(rebase);
        c.inputs.iter_mut().for_each(rebase);
        if let Some(s) = c.schema.as_mut() {
            rebase(s);
        }
        Ok(c)
    }

    /// Reads `path`.
    pub fn load(path: &Path) -> Result<ContractFile, ContractError> {
        let bytes = std::fs::read(path).map_err(|e| ContractError::Read {
            path: path.display().to_string(),
            source: e,
        })?;
        Self::parse(&String::from_utf8_lossy(&bytes), path)
    }
}

/// Midnight UTC of a `YYYY-MM-DD` date.
pub fn expiry_millis(date: &str) -> Option<Millis> {
    let d = date.trim();
    if d.len() != 10 {
        return None;
    }
    crate::time::parse_timestamp(d).map(|p| p.millis)
}

fn field_matches(pattern: Option<&String>, value: Option<&String>) -> bool {
    match pattern {
        None => true,
        Some(p) => value.is_some_and(|v| glob::Pattern::new(p).is_ok_and(|g| g.matches(v))),
    }
}

impl AcceptRule {
    /// Whether the rule covers a dependency row (expiry not considered).
    pub fn matches(&self, column: &str, actor: &Actor, access: Access) -> bool {
        glob::Pattern::new(&self.column).is_ok_and(|g| g.matches(column))
            && field_matches(self.user.as_ref(), actor.user.as_ref())
            && field_matches(self.database.as_ref(), actor.database.as_ref())
            && field_matches(self.application.as_ref(), actor.application.as_ref())
            && field_matches(self.client.as_ref(), actor.client.as_ref())
            && self.access.is_none_or(|a| a == access)
    }

    /// Whether the rule has expired on `today` (UTC milliseconds).
    pub fn expired(&self, today: Millis) -> bool {
        self.expires
            .as_deref()
            .and_then(expiry_millis)
            .is_some_and(|e| today >= e)
    }
}

/// How a dependency row stands against the accepted dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acceptance {
    /// No rule matches.
    None,
    /// An unexpired rule matches (the first one in the file).
    Accepted(AcceptRule),
    /// Only expired rules match (the first one in the file).
    Expired(AcceptRule),
}

/// Matches a row against `rules` on `today`: an unexpired rule wins over
/// an expired one.
pub fn acceptance(
    rules: &[AcceptRule],
    today: Millis,
    column: &str,
    actor: &Actor,
    access: Access,
) -> Acceptance {
    let mut expired = None;
    for r in rules {
        if r.matches(column, actor, access) {
            if r.expired(today) {
                expired.get_or_insert_with(|| r.clone());
            } else {
                return Acceptance::Accepted(r.clone());
            }
        }
    }
    expired.map_or(Acceptance::None, Acceptance::Expired)
}

/// Finds the contract file: `--config PATH`, else `pgcontract.toml` in the
/// working directory when it exists.
pub fn find(config: Option<&Path>, cwd: &Path) -> Option<PathBuf> {
    match config {
        Some(p) => Some(p.to_path_buf()),
        None => {
            let p = cwd.join(DEFAULT_NAME);
            p.is_file().then_some(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Millis = 86_400_000;

    fn actor(user: &str, app: Option<&str>) -> Actor {
        Actor {
            user: Some(user.into()),
            database: Some("appdb".into()),
            application: app.map(str::to_string),
            client: Some("10.0.3.7".into()),
        }
    }

    fn rules(toml: &str) -> Vec<AcceptRule> {
        ContractFile::parse(toml, Path::new("pgcontract.toml"))
            .unwrap()
            .accept
    }

    #[test]
    fn accept_rule_matches_column_actor_globs_and_access() {
        let r = rules(
            r#"
[[accept]]
column = "public.users.*"
application = "backfill-*"
client = "10.0.*"
access = "write"
reason = "dual write until the read switch"
"#,
        );
        let a = actor("app", Some("backfill-7"));
        let col = "public.users.legacy_email";
        assert!(r[0].matches(col, &a, Access::Write));
        assert!(!r[0].matches(col, &a, Access::Read));
        assert!(!r[0].matches("public.orders.old_status", &a, Access::Write));
        assert!(!r[0].matches(col, &actor("app", Some("web")), Access::Write));
        // An application the log does not show never matches a pattern.
        assert!(!r[0].matches(col, &actor("app", None), Access::Write));
    }

    #[test]
    fn accept_rule_expires_on_its_date_and_an_unexpired_rule_wins() {
        let r = rules(
            r#"
[[accept]]
column = "public.users.legacy_email"
user = "etl"
reason = "old grant"
expires = "1970-01-03"

[[accept]]
column = "public.users.legacy_email"
user = "e*"
reason = "extended"
expires = "1970-01-05"
"#,
        );
        let a = actor("etl", None);
        let col = "public.users.legacy_email";
        assert!(!r[0].expired(2 * DAY - 1));
        assert!(r[0].expired(2 * DAY));
        match acceptance(&r, 3 * DAY, col, &a, Access::Read) {
            Acceptance::Accepted(rule) => assert_eq!(rule.reason, "extended"),
            other => panic!("{other:?}"),
        }
        match acceptance(&r, 4 * DAY, col, &a, Access::Read) {
            Acceptance::Expired(rule) => assert_eq!(rule.reason, "old grant"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            acceptance(&r, 0, col, &actor("web", None), Access::Read),
            Acceptance::None
        );
    }

    #[test]
    fn contract_file_errors_name_the_file_and_rule() {
        let e = ContractFile::parse(
            "[[accept]]\ncolumn = \"a.b.c\"\nreason = \"\"\n",
            Path::new("x/pgcontract.toml"),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "x/pgcontract.toml: accept rule 1: `reason` is empty: say why the dependency is expected"
        );
        let e = ContractFile::parse("windw = \"7d\"\n", Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.toml: "), "{e}");
        assert!(e.contains("windw"), "{e}");
        let e = ContractFile::parse(
            "[[accept]]\ncolumn = \"a.b.c\"\nreason = \"r\"\nexpires = \"soon\"\n",
            Path::new("p.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not a date"), "{e}");
    }

    #[test]
    fn relative_paths_are_relative_to_the_contract_file() {
        let c = ContractFile::parse(
            "columns = [\"users.legacy_email\"]\nschema = \"db/schema.sql\"\ninputs = [\"logs/\", \"/abs/x.log\"]\nmigrations = [\"m.sql\"]\nwindow = \"7d\"\n",
            Path::new("/repo/pgcontract.toml"),
        )
        .unwrap();
        assert_eq!(c.schema, Some(PathBuf::from("/repo/db/schema.sql")));
        assert_eq!(
            c.inputs,
            vec![PathBuf::from("/repo/logs/"), PathBuf::from("/abs/x.log")]
        );
        assert_eq!(c.migrations, vec![PathBuf::from("/repo/m.sql")]);
        assert_eq!(c.window.as_deref(), Some("7d"));
    }
}
