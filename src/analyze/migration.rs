//! Reads a pending migration (plain SQL as migration frameworks write it)
//! and lists the destructive changes in it: dropped, renamed and retyped
//! columns, dropped and renamed tables and views, dropped functions. Only
//! the "up" part of files with framework markers is read.

use serde_json::Value;

use super::parse::{self, codes};
use super::tree::{list, names, node, text};

/// What a migration statement does to an object that readers may still use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// `ALTER TABLE … DROP COLUMN`.
    DropColumn,
    /// `ALTER TABLE … RENAME COLUMN`.
    RenameColumn,
    /// `ALTER TABLE … ALTER COLUMN … TYPE`.
    AlterColumnType,
    /// `DROP TABLE` (also foreign tables).
    DropTable,
    /// `ALTER TABLE … RENAME TO`.
    RenameTable,
    /// `DROP VIEW`.
    DropView,
    /// `DROP MATERIALIZED VIEW`.
    DropMaterializedView,
    /// `ALTER VIEW / MATERIALIZED VIEW … RENAME TO`.
    RenameView,
    /// `DROP FUNCTION / PROCEDURE / ROUTINE`.
    DropFunction,
}

impl ChangeKind {
    /// How the change is written in SQL, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            ChangeKind::DropColumn => "DROP COLUMN",
            ChangeKind::RenameColumn => "RENAME COLUMN",
            ChangeKind::AlterColumnType => "ALTER COLUMN TYPE",
            ChangeKind::DropTable => "DROP TABLE",
            ChangeKind::RenameTable => "RENAME TABLE",
            ChangeKind::DropView => "DROP VIEW",
            ChangeKind::DropMaterializedView => "DROP MATERIALIZED VIEW",
            ChangeKind::RenameView => "RENAME VIEW",
            ChangeKind::DropFunction => "DROP FUNCTION",
        }
    }

    /// True when the change concerns one column (the others concern every
    /// column of a relation, or a function).
    pub fn is_column_change(self) -> bool {
        matches!(
            self,
            ChangeKind::DropColumn | ChangeKind::RenameColumn | ChangeKind::AlterColumnType
        )
    }
}

/// One destructive change found in a migration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MigrationChange {
    /// 1-based line of the statement in the file.
    pub line: u64,
    /// What it does.
    pub kind: ChangeKind,
    /// The schema as written (`None` when unqualified).
    pub schema: Option<String>,
    /// The table, view or function name.
    pub object: String,
    /// The column, for column changes.
    pub column: Option<String>,
    /// The search path the migration set before this statement (`SET
    /// search_path`, `set_config('search_path', …)`); `None` for the
    /// server's default.
    pub search_path: Option<Vec<String>>,
}

/// A migration statement PostgreSQL's parser rejects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: cannot parse the migration statement ({reason})")]
pub struct MigrationParseError {
    /// 1-based line where the statement starts.
    pub line: u64,
    /// The parser's reason (no statement text).
    pub reason: String,
}

/// The result of reading one migration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationScan {
    /// Destructive changes, in file order.
    pub changes: Vec<MigrationChange>,
    /// Statements read (after the framework's "down" part was left out).
    pub statements: usize,
    /// What was left out and why (a "down" section, psql meta-commands).
    pub notes: Vec<String>,
}

/// Framework markers that open the "up" or the "down" part of a file.
fn section_marker(line: &str) -> Option<bool> {
    let t = line.trim();
    let rest = t.strip_prefix("--")?.trim();
    let lower = rest.to_ascii_lowercase();
    // goose (`-- +goose Up`), sql-migrate (`-- +migrate Up`), dbmate
    // (`-- migrate:up`).
    match lower.as_str() {
        "+goose up" | "+migrate up" | "migrate:up" => Some(true),
        "+goose down" | "+migrate down" | "migrate:down" => Some(false),
        _ => None,
    }
}

/// Blanks out the parts of the file the server never runs as the "up"
/// migration, keeping every byte offset (so line numbers stay true).
fn up_part(text: &str, notes: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut keep = true;
    let mut down_from: Option<usize> = None;
    let mut meta = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let blank = |out: &mut String| {
            for ch in line.chars() {
                out.push(if ch == '\n' { '\n' } else { ' ' });
            }
        };
        if let Some(up) = section_marker(line) {
            keep = up;
            if !up && down_from.is_none() {
                down_from = Some(i + 1);
            }
            out.push_str(line);
            continue;
        }
        if !keep {
            blank(&mut out);
            continue;
        }
        if line.starts_with('\\') {
            meta += 1;
            blank(&mut out);
            continue;
        }
        out.push_str(line);
    }
    if let Some(l) = down_from {
        notes.push(format!(
            "the \"down\" part (from line {l}) is not read: it is not what runs on deploy"
        ));
    }
    if meta > 0 {
        notes.push(format!(
            "{meta} psql meta-command line{} (`\\…`) skipped",
            if meta == 1 { "" } else { "s" }
        ));
    }
    out
}

fn line_of(text: &str, offset: usize) -> u64 {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|&&b| b == b'\n')
        .count() as u64
        + 1
}

fn int(v: &Value, name: &str) -> i64 {
    v.get(name).and_then(Value::as_i64).unwrap_or(-1)
}

/// `(schema, name)` of a `RangeVar`.
fn range_var(rv: &Value) -> (Option<String>, String) {
    let schema = text(rv, "schemaname");
    (
        (!schema.is_empty()).then(|| schema.to_string()),
        text(rv, "relname").to_string(),
    )
}

/// `(schema, name)` of a dotted name list (`[schema,] name`, the database
/// part of `db.schema.name` dropped).
fn dotted(names: &[String]) -> Option<(Option<String>, String)> {
    match names {
        [] => None,
        [n] => Some((None, n.clone())),
        [.., s, n] => Some((Some(s.clone()), n.clone())),
    }
}

/// Splits a `search_path` string value (`"$user", public`).
fn split_path(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.starts_with('"') {
                crate::normalize::unquote_identifier(p)
            } else {
                crate::normalize::fold_identifier(p)
            }
        })
        .collect()
}

fn a_const_string(v: &Value) -> Option<&str> {
    match node(v)? {
        ("AConst", c) => c.get("val")?.get("Sval")?.get("sval")?.as_str(),
        _ => None,
    }
}

/// The search path a statement sets: `Some(Some(path))` for a new path,
/// `Some(None)` for back to the default, `None` when it does not touch it.
fn search_path_change(tree: &Value) -> Option<Option<Vec<String>>> {
    let (kind, n) = node(tree)?;
    match kind {
        "VariableSetStmt" if text(n, "name") == "search_path" => {
            let args = list(n, "args");
            if args.is_empty() {
                Some(None)
            } else {
                Some(Some(
                    args.iter()
                        .filter_map(a_const_string)
                        .map(str::to_string)
                        .collect(),
                ))
            }
        }
        "SelectStmt" => {
            // `SELECT pg_catalog.set_config('search_path', '…', false)` (pg_dump, Rails).
            let targets = list(n, "target_list");
            let [t] = targets else { return None };
            let (_, rt) = node(t)?;
            let (fk, f) = node(rt.get("val")?)?;
            if fk != "FuncCall" {
                return None;
            }
            let name = names(list(f, "funcname"));
            if name.last().map(String::as_str) != Some("set_config") {
                return None;
            }
            let args = list(f, "args");
            if args.first().and_then(a_const_string) != Some("search_path") {
                return None;
            }
            Some(Some(split_path(args.get(1).and_then(a_const_string)?)))
        }
        _ => None,
    }
}

fn changes_of(
    tree: &Value,
    line: u64,
    search_path: &Option<Vec<String>>,
    out: &mut Vec<MigrationChange>,
) {
    let Some((kind, n)) = node(tree) else {
        return;
    };
    let mut push = |kind, (schema, object): (Option<String>, String), column: Option<String>| {
        out.push(MigrationChange {
            line,
            kind,
            schema,
            object,
            column,
            search_path: search_path.clone(),
        });
    };
    match kind {
        "AlterTableStmt" => {
            let objtype = int(n, "objtype");
            if objtype != codes::OBJECT_TABLE && objtype != codes::OBJECT_FOREIGN_TABLE {
                return;
            }
            let rel = range_var(n.get("relation").unwrap_or(&Value::Null));
            for cmd in list(n, "cmds") {
                let Some(("AlterTableCmd", c)) = node(cmd) else {
                    continue;
                };
                let sub = int(c, "subtype");
                let kind = if sub == codes::AT_DROP_COLUMN {
                    ChangeKind::DropColumn
                } else if sub == codes::AT_ALTER_COLUMN_TYPE {
                    ChangeKind::AlterColumnType
                } else {
                    continue;
                };
                push(kind, rel.clone(), Some(text(c, "name").to_string()));
            }
        }
        "RenameStmt" => {
            let rel = range_var(n.get("relation").unwrap_or(&Value::Null));
            let rt = int(n, "rename_type");
            if rt == codes::OBJECT_COLUMN {
                let on = int(n, "relation_type");
                if on == codes::OBJECT_TABLE
                    || on == codes::OBJECT_FOREIGN_TABLE
                    || on == codes::OBJECT_VIEW
                    || on == codes::OBJECT_MATVIEW
                {
                    push(
                        ChangeKind::RenameColumn,
                        rel,
                        Some(text(n, "subname").to_string()),
                    );
                }
            } else if rt == codes::OBJECT_TABLE || rt == codes::OBJECT_FOREIGN_TABLE {
                push(ChangeKind::RenameTable, rel, None);
            } else if rt == codes::OBJECT_VIEW || rt == codes::OBJECT_MATVIEW {
                push(ChangeKind::RenameView, rel, None);
            }
        }
        "DropStmt" => {
            let rt = int(n, "remove_type");
            let kind = if rt == codes::OBJECT_TABLE || rt == codes::OBJECT_FOREIGN_TABLE {
                ChangeKind::DropTable
            } else if rt == codes::OBJECT_VIEW {
                ChangeKind::DropView
            } else if rt == codes::OBJECT_MATVIEW {
                ChangeKind::DropMaterializedView
            } else if rt == codes::OBJECT_FUNCTION
                || rt == codes::OBJECT_PROCEDURE
                || rt == codes::OBJECT_ROUTINE
            {
                ChangeKind::DropFunction
            } else {
                return;
            };
            for obj in list(n, "objects") {
                let names = match node(obj) {
                    Some(("List", l)) => names(list(l, "items")),
                    Some(("ObjectWithArgs", o)) => names(list(o, "objname")),
                    _ => continue,
                };
                if let Some(name) = dotted(&names) {
                    push(kind, name, None);
                }
            }
        }
        _ => {}
    }
}

/// Reads a migration file's text: every destructive change with the line
/// of its statement. A statement the parser rejects is an error naming its
/// line (a migration that cannot be read cannot be vouched for).
pub fn read_migration(text: &str) -> Result<MigrationScan, MigrationParseError> {
    let mut scan = MigrationScan::default();
    let sql = up_part(text, &mut scan.notes);
    let statements = match parse::parse(&sql) {
        Ok(s) => s,
        Err(whole) => {
            // Find the statement that fails, for its line.
            let parts = parse::split_located(&sql).ok_or_else(|| MigrationParseError {
                line: 1,
                reason: whole.clone(),
            })?;
            for (offset, part) in parts {
                if let Err(reason) = parse::parse(part) {
                    let lead = part.len() - part.trim_start().len();
                    return Err(MigrationParseError {
                        line: line_of(&sql, offset + lead),
                        reason,
                    });
                }
            }
            return Err(MigrationParseError {
                line: 1,
                reason: whole,
            });
        }
    };
    let mut search_path = None;
    for st in &statements {
        scan.statements += 1;
        if let Some(change) = search_path_change(&st.tree) {
            search_path = change;
        }
        changes_of(
            &st.tree,
            line_of(&sql, st.location),
            &search_path,
            &mut scan.changes,
        );
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_path_set_by_the_migration_is_kept_per_change() {
        let sql = "ALTER TABLE a DROP COLUMN x;\nSET search_path TO app, \"$user\";\nALTER TABLE b DROP COLUMN y;\nSELECT pg_catalog.set_config('search_path', '', false);\nALTER TABLE c DROP COLUMN z;\nRESET search_path;\nALTER TABLE d DROP COLUMN w;\n";
        let m = read_migration(sql).unwrap();
        let paths: Vec<_> = m.changes.iter().map(|c| c.search_path.clone()).collect();
        assert_eq!(
            paths,
            vec![
                None,
                Some(vec!["app".to_string(), "$user".to_string()]),
                Some(vec![]),
                None
            ]
        );
    }

    type Row = (u64, ChangeKind, Option<String>, String, Option<String>);

    fn kinds(sql: &str) -> Vec<Row> {
        read_migration(sql)
            .unwrap()
            .changes
            .into_iter()
            .map(|c| (c.line, c.kind, c.schema, c.object, c.column))
            .collect()
    }

    #[test]
    fn every_destructive_change_with_its_line() {
        let sql = "BEGIN;\n\
            ALTER TABLE s.t DROP COLUMN IF EXISTS c, ALTER COLUMN d TYPE bigint, ADD COLUMN e int;\n\
            ALTER TABLE t RENAME COLUMN a TO b;\n\
            ALTER TABLE t RENAME TO u;\n\
            DROP TABLE a, s.b CASCADE;\n\
            DROP VIEW v; DROP MATERIALIZED VIEW m;\n\
            ALTER VIEW w RENAME TO w2;\n\
            DROP FUNCTION f(int), s.g;\n\
            CREATE INDEX i ON t (b);\n\
            COMMIT;\n";
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            kinds(sql),
            vec![
                (2, ChangeKind::DropColumn, s("s"), "t".into(), s("c")),
                (2, ChangeKind::AlterColumnType, s("s"), "t".into(), s("d")),
                (3, ChangeKind::RenameColumn, None, "t".into(), s("a")),
                (4, ChangeKind::RenameTable, None, "t".into(), None),
                (5, ChangeKind::DropTable, None, "a".into(), None),
                (5, ChangeKind::DropTable, s("s"), "b".into(), None),
                (6, ChangeKind::DropView, None, "v".into(), None),
                (6, ChangeKind::DropMaterializedView, None, "m".into(), None),
                (7, ChangeKind::RenameView, None, "w".into(), None),
                (8, ChangeKind::DropFunction, None, "f".into(), None),
                (8, ChangeKind::DropFunction, s("s"), "g".into(), None),
            ]
        );
    }

    #[test]
    fn goose_down_part_is_not_read() {
        let sql = "-- +goose Up\n-- +goose StatementBegin\nALTER TABLE users DROP COLUMN legacy_email;\n-- +goose StatementEnd\n\n-- +goose Down\nALTER TABLE users ADD COLUMN legacy_email text;\nDROP TABLE users;\n";
        let m = read_migration(sql).unwrap();
        assert_eq!(m.changes.len(), 1);
        assert_eq!(m.changes[0].line, 3);
        assert_eq!(m.statements, 1);
        assert_eq!(
            m.notes,
            vec!["the \"down\" part (from line 6) is not read: it is not what runs on deploy"]
        );
    }

    #[test]
    fn unparseable_migration_statement_names_its_line() {
        let sql = "ALTER TABLE t DROP COLUMN a;\n\nALTER TABLE t DROPP COLUMN 'secret';\n";
        let e = read_migration(sql).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
