//! Target columns: the columns marked for contract, parsed from
//! `[schema.]table.column` with PostgreSQL's identifier rules.

use std::fmt;

use crate::normalize::{fold_identifier, unquote_identifier};

/// A column marked for contract, with folded (PostgreSQL-internal) names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ColumnTarget {
    /// Schema name (`public` when not given).
    pub schema: String,
    /// Table name.
    pub table: String,
    /// Column name.
    pub column: String,
}

/// Why a `--column` value was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// Not two or three dot-separated identifiers.
    #[error("column `{0}` must be written SCHEMA.TABLE.COLUMN or TABLE.COLUMN")]
    Shape(String),
}

fn split_identifiers(s: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let mut quoted_part = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                // Quoted identifier: read to the closing quote.
                let mut raw = String::from('"');
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            raw.push_str("\"\"");
                        }
                        Some('"') => {
                            raw.push('"');
                            break;
                        }
                        Some(other) => raw.push(other),
                        None => return None,
                    }
                }
                if !cur.is_empty() {
                    return None;
                }
                cur = unquote_identifier(&raw);
                quoted_part = true;
            }
            '.' => {
                if cur.is_empty() {
                    return None;
                }
                parts.push(if quoted_part {
                    cur.clone()
                } else {
                    fold_identifier(&cur)
                });
                cur.clear();
                quoted_part = false;
            }
            c if c.is_whitespace() => return None,
            c => {
                if quoted_part {
                    return None;
                }
                cur.push(c);
            }
        }
    }
    if cur.is_empty() {
        return None;
    }
    parts.push(if quoted_part {
        cur
    } else {
        fold_identifier(&cur)
    });
    Some(parts)
}

impl ColumnTarget {
    /// Parses `schema.table.column` or `table.column` (schema `public`).
    /// Unquoted names fold to lower case; `"Quoted"` names are kept exactly.
    pub fn parse(s: &str) -> Result<Self, TargetError> {
        let parts = split_identifiers(s.trim()).ok_or_else(|| TargetError::Shape(s.to_string()))?;
        match parts.as_slice() {
            [t, c] => Ok(Self {
                schema: "public".into(),
                table: t.clone(),
                column: c.clone(),
            }),
            [s, t, c] => Ok(Self {
                schema: s.clone(),
                table: t.clone(),
                column: c.clone(),
            }),
            _ => Err(TargetError::Shape(s.to_string())),
        }
    }
}

impl fmt::Display for ColumnTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.schema, self.table, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_public_and_folds_case() {
        let t = ColumnTarget::parse("Users.Legacy_Email").unwrap();
        assert_eq!(t.to_string(), "public.users.legacy_email");
    }

    #[test]
    fn keeps_quoted_names() {
        let t = ColumnTarget::parse("app.\"Users\".\"E.mail\"").unwrap();
        assert_eq!(
            (t.schema.as_str(), t.table.as_str(), t.column.as_str()),
            ("app", "Users", "E.mail")
        );
    }

    #[test]
    fn rejects_bad_shapes() {
        assert!(ColumnTarget::parse("email").is_err());
        assert!(ColumnTarget::parse("a.b.c.d").is_err());
        assert!(ColumnTarget::parse("a..c").is_err());
    }
}
