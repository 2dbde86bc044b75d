//! Targets from pending migrations (`--migration FILE.sql`): every column a
//! destructive change takes away from its readers, with the file and line
//! of the change; changes that cannot be turned into columns (a table
//! without a schema, a function) are kept as "not checked".

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::analyze::migration::{read_migration, ChangeKind, MigrationChange};
use crate::catalog::Catalog;
use crate::target::ColumnTarget;

/// Where a target comes from: the statement of a migration that changes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationSite {
    /// The migration file, as given.
    pub file: String,
    /// 1-based line of the statement.
    pub line: u64,
    /// `DROP COLUMN`, `RENAME COLUMN`, `ALTER COLUMN TYPE`, `DROP TABLE`, …
    pub change: String,
}

/// A destructive change whose columns pgcontract cannot check.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UncheckedChange {
    /// The object, `schema.name`.
    pub object: String,
    /// Why it is not checked and what to do.
    pub reason: String,
    /// Where.
    pub site: MigrationSite,
}

/// What a set of migrations asks to check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationTargets {
    /// Column targets with the sites that change them, in file order.
    pub targets: Vec<(ColumnTarget, MigrationSite)>,
    /// Changes that could not be expanded into columns.
    pub unchecked: Vec<UncheckedChange>,
    /// Notes about reading the files (down parts left out, …).
    pub notes: Vec<String>,
}

/// A migration that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The file could not be read.
    #[error("{path}: cannot read the migration")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A statement does not parse.
    #[error("{path}:{line}: cannot parse the migration statement ({reason}); fix the migration or name the columns with --column")]
    Parse {
        /// The file.
        path: String,
        /// Line where the statement starts.
        line: u64,
        /// The parser's reason (no statement text).
        reason: String,
    },
}

/// The schema a name written in the migration refers to: as written, the
/// first schema on the search path that has it in the catalog, or the first
/// real schema on the search path (`$user` is unknown here).
fn resolve_schema(
    schema: Option<&str>,
    name: &str,
    catalog: &Catalog,
    search_path: &[String],
) -> String {
    if let Some(s) = schema {
        return s.to_string();
    }
    if let Some(rel) = catalog.lookup(search_path, name) {
        return rel.schema.clone();
    }
    search_path
        .iter()
        .find(|s| s.as_str() != "$user")
        .cloned()
        .unwrap_or_else(|| "public".to_string())
}

/// Expands one file's changes.
fn expand(
    file: &str,
    changes: &[MigrationChange],
    catalog: &Catalog,
    search_path: &[String],
    out: &mut MigrationTargets,
) {
    for c in changes {
        let site = MigrationSite {
            file: file.to_string(),
            line: c.line,
            change: c.kind.describe().to_string(),
        };
        let path = c.search_path.as_deref().unwrap_or(search_path);
        let schema = resolve_schema(c.schema.as_deref(), &c.object, catalog, path);
        let object = format!("{schema}.{}", c.object);
        if let Some(col) = &c.column {
            out.targets.push((
                ColumnTarget {
                    schema,
                    table: c.object.clone(),
                    column: col.clone(),
                },
                site,
            ));
            continue;
        }
        if c.kind == ChangeKind::DropFunction {
            out.unchecked.push(UncheckedChange {
                object,
                reason: "callers of a function are not inventoried: search the logs for calls to it by hand".into(),
                site,
            });
            continue;
        }
        match catalog.get(&schema, &c.object) {
            Some(rel) if !rel.columns.is_empty() => {
                for col in &rel.columns {
                    out.targets.push((
                        ColumnTarget {
                            schema: schema.clone(),
                            table: c.object.clone(),
                            column: col.clone(),
                        },
                        site.clone(),
                    ));
                }
            }
            _ => {
                let reason = if catalog.loaded {
                    format!("{object} is not in the schema, so its columns are unknown: name them with --column")
                } else {
                    "no --schema given, so its columns are unknown: give the schema dump or name the columns with --column".to_string()
                };
                out.unchecked.push(UncheckedChange {
                    object,
                    reason,
                    site,
                });
            }
        }
    }
}

/// Reads migration files and expands their changes into targets.
pub fn targets_from_migrations(
    files: &[&Path],
    catalog: &Catalog,
    search_path: &[String],
) -> Result<MigrationTargets, MigrationError> {
    let mut out = MigrationTargets::default();
    for path in files {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| MigrationError::Read {
            path: name.clone(),
            source: e,
        })?;
        let text = String::from_utf8_lossy(&bytes);
        targets_from_text(&name, &text, catalog, search_path, &mut out)?;
    }
    Ok(out)
}

/// Reads one migration's text (`name` as given, for sites and notes) and
/// adds its changes to `out`.
pub fn targets_from_text(
    name: &str,
    text: &str,
    catalog: &Catalog,
    search_path: &[String],
    out: &mut MigrationTargets,
) -> Result<(), MigrationError> {
    let scan = read_migration(text).map_err(|e| MigrationError::Parse {
        path: name.to_string(),
        line: e.line,
        reason: e.reason,
    })?;
    if name.ends_with(".down.sql") {
        out.notes.push(format!(
            "{name}: a \"down\" migration; its changes are checked as given"
        ));
    }
    if scan.changes.is_empty() {
        out.notes.push(format!(
            "{name}: no DROP, RENAME or ALTER COLUMN TYPE in {} statement{}",
            scan.statements,
            if scan.statements == 1 { "" } else { "s" }
        ));
    }
    out.notes
        .extend(scan.notes.iter().map(|n| format!("{name}: {n}")));
    expand(name, &scan.changes, catalog, search_path, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::load_schema;

    fn expand_sql(sql: &str, catalog: &Catalog) -> MigrationTargets {
        let scan = read_migration(sql).unwrap();
        let mut out = MigrationTargets::default();
        let sp = vec!["$user".to_string(), "app".to_string(), "public".to_string()];
        expand("m.sql", &scan.changes, catalog, &sp, &mut out);
        out
    }

    fn names(t: &MigrationTargets) -> Vec<String> {
        t.targets.iter().map(|(t, _)| t.to_string()).collect()
    }

    #[test]
    fn drop_table_expands_to_every_column_of_the_catalog() {
        let cat = load_schema(
            "CREATE TABLE public.users (id int, legacy_email text);\nCREATE TABLE app.users (id int, nick text);",
        );
        let t = expand_sql("DROP TABLE users;\nDROP TABLE public.users;", &cat);
        assert_eq!(
            names(&t),
            vec![
                "app.users.id",
                "app.users.nick",
                "public.users.id",
                "public.users.legacy_email"
            ]
        );
        assert_eq!(t.targets[0].1.line, 1);
        assert_eq!(t.targets[3].1.line, 2);
        assert!(t.unchecked.is_empty());
    }

    #[test]
    fn unqualified_column_change_takes_the_search_path_schema() {
        let t = expand_sql(
            "ALTER TABLE orders DROP COLUMN old_status;",
            &Catalog::default(),
        );
        assert_eq!(names(&t), vec!["app.orders.old_status"]);
        assert_eq!(t.targets[0].1.change, "DROP COLUMN");
    }

    #[test]
    fn drop_table_without_a_schema_is_not_checked_and_says_so() {
        let t = expand_sql(
            "DROP TABLE orders; DROP FUNCTION f(int);",
            &Catalog::default(),
        );
        assert!(t.targets.is_empty());
        let got: Vec<_> = t.unchecked.iter().map(|u| u.object.as_str()).collect();
        assert_eq!(got, vec!["app.orders", "app.f"]);
        assert!(t.unchecked[0].reason.contains("no --schema given"));
        assert!(t.unchecked[1].reason.contains("function"));
    }
}
