//! The only place that calls pg_query: parsing SQL into a walkable tree,
//! fingerprinting statements, and turning parser errors into messages that
//! carry no text from the statement.

use serde_json::Value;

/// `OBJECT_MATVIEW` in pg_query's `ObjectType` enum.
pub const OBJECT_MATVIEW: i64 = pg_query::protobuf::ObjectType::ObjectMatview as i64;

/// Numeric codes of pg_query enums that DDL statements carry in their trees
/// (`DropStmt.remove_type`, `RenameStmt.rename_type`, `AlterTableCmd.subtype`).
pub mod codes {
    use pg_query::protobuf::{AlterTableType, ObjectType};

    /// `OBJECT_TABLE`.
    pub const OBJECT_TABLE: i64 = ObjectType::ObjectTable as i64;
    /// `OBJECT_FOREIGN_TABLE`.
    pub const OBJECT_FOREIGN_TABLE: i64 = ObjectType::ObjectForeignTable as i64;
    /// `OBJECT_VIEW`.
    pub const OBJECT_VIEW: i64 = ObjectType::ObjectView as i64;
    /// `OBJECT_MATVIEW`.
    pub const OBJECT_MATVIEW: i64 = ObjectType::ObjectMatview as i64;
    /// `OBJECT_COLUMN`.
    pub const OBJECT_COLUMN: i64 = ObjectType::ObjectColumn as i64;
    /// `OBJECT_FUNCTION`.
    pub const OBJECT_FUNCTION: i64 = ObjectType::ObjectFunction as i64;
    /// `OBJECT_PROCEDURE`.
    pub const OBJECT_PROCEDURE: i64 = ObjectType::ObjectProcedure as i64;
    /// `OBJECT_ROUTINE`.
    pub const OBJECT_ROUTINE: i64 = ObjectType::ObjectRoutine as i64;
    /// `AT_DropColumn`.
    pub const AT_DROP_COLUMN: i64 = AlterTableType::AtDropColumn as i64;
    /// `AT_AlterColumnType`.
    pub const AT_ALTER_COLUMN_TYPE: i64 = AlterTableType::AtAlterColumnType as i64;
}

/// One statement of a parsed string.
pub struct ParsedStatement {
    /// The statement's own text (a slice of the input).
    pub text: String,
    /// Its tree as serde JSON (`{"node": {...}}`).
    pub tree: Value,
    /// Byte offset of `text` in the parsed string.
    pub location: usize,
}

/// Parses `sql` (possibly several statements) with PostgreSQL's parser.
pub fn parse(sql: &str) -> Result<Vec<ParsedStatement>, String> {
    let result = pg_query::parse(sql, 0).map_err(|e| sanitize_error(&e.to_string()))?;
    let mut out = Vec::new();
    for raw in &result.protobuf.stmts {
        let start = usize::try_from(raw.stmt_location).unwrap_or(0);
        let len = usize::try_from(raw.stmt_len).unwrap_or(0);
        let end = if len == 0 {
            sql.len()
        } else {
            (start + len).min(sql.len())
        };
        let raw_text = sql.get(start..end).unwrap_or(sql);
        let location = start + (raw_text.len() - raw_text.trim_start().len());
        let text = raw_text.trim().to_string();
        let tree = match &raw.stmt {
            Some(node) => serde_json::to_value(node.as_ref())
                .map_err(|e| format!("internal: cannot walk the parse tree ({e})"))?,
            None => Value::Null,
        };
        out.push(ParsedStatement {
            text,
            tree,
            location,
        });
    }
    Ok(out)
}

/// pg_query's fingerprint of one statement (literal values and `$n` numbers
/// do not change it), as 16 hex digits.
pub fn fingerprint(sql: &str) -> Option<String> {
    pg_query::fingerprint(sql, 0, 0).ok().map(|f| f.hex)
}

/// Removes statement text from a parser error: PostgreSQL quotes the token
/// it stopped at (`syntax error at or near "…"`), which may be a value.
pub fn sanitize_error(msg: &str) -> String {
    let msg = msg.strip_prefix("Error parsing query: ").unwrap_or(msg);
    let msg = msg.strip_prefix("Parse error: ").unwrap_or(msg);
    let msg = msg.strip_prefix("Invalid statement: ").unwrap_or(msg);
    let cut = msg.find(['"', '\'']).unwrap_or(msg.len());
    let mut s = msg[..cut].trim().to_string();
    for tail in [" at or near", " at end of input", " at or near end"] {
        if let Some(stripped) = s.strip_suffix(tail) {
            s = stripped.trim().to_string();
        }
    }
    if s.is_empty() {
        "parse error".to_string()
    } else {
        s
    }
}

/// Splits a schema dump into statements with the scanner, for dumps whose
/// whole text does not parse at once.
pub fn split(sql: &str) -> Vec<String> {
    match pg_query::split_with_scanner(sql) {
        Ok(parts) => parts.into_iter().map(str::to_string).collect(),
        Err(_) => vec![sql.to_string()],
    }
}

/// Splits `sql` into statements with the scanner, each with its byte
/// offset; `None` when even the scanner fails (an unterminated string or
/// comment).
pub fn split_located(sql: &str) -> Option<Vec<(usize, &str)>> {
    let parts = pg_query::split_with_scanner(sql).ok()?;
    let base = sql.as_ptr() as usize;
    Some(
        parts
            .into_iter()
            .map(|p| (p.as_ptr() as usize - base, p))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_carry_statement_text() {
        let e = parse("SELECT 'secret-value' FORM t")
            .err()
            .unwrap_or_default();
        assert!(!e.contains("secret"), "{e}");
        assert!(!e.contains("FORM"), "{e}");
        assert_eq!(e, "syntax error");
    }

    #[test]
    fn splits_multi_statement_strings() {
        let p = parse("SELECT 1; UPDATE t SET a = 2 WHERE b = 3").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].text, "UPDATE t SET a = 2 WHERE b = 3");
    }

    #[test]
    fn fingerprint_ignores_literals_and_params() {
        assert_eq!(
            fingerprint("SELECT a FROM t WHERE id = 1"),
            fingerprint("SELECT a FROM t WHERE id = $1")
        );
    }
}
