//! Session state that changes how later statements resolve: `SET
//! search_path`, `RESET search_path`, `SET search_path TO DEFAULT` and
//! `set_config('search_path', '…', …)` found in a logged statement.

use serde_json::Value;

use super::parse::{self, VAR_RESET, VAR_SET_DEFAULT, VAR_SET_VALUE};
use super::tree::node;
use crate::catalog::Catalog;
use crate::config::parse_search_path;

/// A change of the session's `search_path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathChange {
    /// A new path (schema names, in order).
    Set(Vec<String>),
    /// Back to the default (the role's setting or `--search-path`).
    Reset,
}

/// The last `search_path` change a statement text makes, if any. Texts that
/// do not contain the word are not parsed.
pub fn search_path_change(sql: &str) -> Option<PathChange> {
    // `search_path` in any case, found from its `_` (no lower-cased copy).
    let b = sql.as_bytes();
    let mentions = memchr::memchr_iter(b'_', b).any(|p| {
        p >= 6
            && b.get(p - 6..p + 5)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"search_path"))
    });
    if !mentions {
        return None;
    }
    let parsed = parse::parse(sql).ok()?;
    let mut last = None;
    for stmt in &parsed {
        let mut found = Vec::new();
        changes(&stmt.tree, &mut found);
        if let Some(c) = found.pop() {
            last = Some(c);
        }
    }
    last
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
                user.filter(|u| catalog.relations().any(|r| r.schema == *u))
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
    match found.pop()? {
        PathChange::Set(p) => Some(p),
        PathChange::Reset => None,
    }
}

/// Collects the changes in tree order.
fn changes(v: &Value, out: &mut Vec<PathChange>) {
    match v {
        Value::Object(m) => {
            if let Some((kind, n)) = node(v) {
                match kind {
                    "VariableSetStmt"
                        if n.get("name").and_then(Value::as_str) == Some("search_path") =>
                    {
                        let k = n.get("kind").and_then(Value::as_i64).unwrap_or(0);
                        if k == VAR_SET_VALUE {
                            let args = n.get("args").and_then(Value::as_array);
                            // Each argument is one schema name, already
                            // folded (or a string literal, taken as is).
                            let names: Option<Vec<String>> = args
                                .map(|a| a.iter().filter_map(sval).map(str::to_string).collect());
                            if let Some(names) = names {
                                out.push(PathChange::Set(names));
                            }
                        } else if k == VAR_SET_DEFAULT || k == VAR_RESET {
                            out.push(PathChange::Reset);
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
                                    out.push(PathChange::Set(parse_search_path(value)));
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
}
