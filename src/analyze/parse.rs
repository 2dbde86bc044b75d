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

/// `CMD_INSERT`, `CMD_UPDATE`, `CMD_DELETE` in pg_query's `CmdType` enum
/// (MERGE actions).
pub const CMD_INSERT: i64 = pg_query::protobuf::CmdType::CmdInsert as i64;
/// See [`CMD_INSERT`].
pub const CMD_UPDATE: i64 = pg_query::protobuf::CmdType::CmdUpdate as i64;
/// See [`CMD_INSERT`].
pub const CMD_DELETE: i64 = pg_query::protobuf::CmdType::CmdDelete as i64;

/// Enum values of pg_query's parse tree used by the catalog loader.
pub mod consts {
    use pg_query::protobuf as pb;
    /// `ConstrType`.
    pub const CONSTR_DEFAULT: i64 = pb::ConstrType::ConstrDefault as i64;
    /// `ConstrType`.
    pub const CONSTR_GENERATED: i64 = pb::ConstrType::ConstrGenerated as i64;
    /// `ConstrType`.
    pub const CONSTR_CHECK: i64 = pb::ConstrType::ConstrCheck as i64;
    /// `ConstrType`.
    pub const CONSTR_PRIMARY: i64 = pb::ConstrType::ConstrPrimary as i64;
    /// `ConstrType`.
    pub const CONSTR_UNIQUE: i64 = pb::ConstrType::ConstrUnique as i64;
    /// `ConstrType`.
    pub const CONSTR_EXCLUSION: i64 = pb::ConstrType::ConstrExclusion as i64;
    /// `ConstrType`.
    pub const CONSTR_FOREIGN: i64 = pb::ConstrType::ConstrForeign as i64;
    /// `FunctionParameterMode`.
    pub const PARAM_OUT: i64 = pb::FunctionParameterMode::FuncParamOut as i64;
    /// `FunctionParameterMode`.
    pub const PARAM_VARIADIC: i64 = pb::FunctionParameterMode::FuncParamVariadic as i64;
    /// `FunctionParameterMode`.
    pub const PARAM_TABLE: i64 = pb::FunctionParameterMode::FuncParamTable as i64;
    /// `AlterTableType`.
    pub const AT_ADD_CONSTRAINT: i64 = pb::AlterTableType::AtAddConstraint as i64;
    /// `AlterTableType`.
    pub const AT_COLUMN_DEFAULT: i64 = pb::AlterTableType::AtColumnDefault as i64;
    /// `AlterTableType`.
    pub const AT_ADD_COLUMN: i64 = pb::AlterTableType::AtAddColumn as i64;
    /// `AT_AttachPartition`.
    pub const AT_ATTACH_PARTITION: i64 = pb::AlterTableType::AtAttachPartition as i64;
    /// `AT_AddInherit`.
    pub const AT_ADD_INHERIT: i64 = pb::AlterTableType::AtAddInherit as i64;
}

/// `VAR_SET_VALUE` in pg_query's `VariableSetKind` enum (`SET x = …`).
pub const VAR_SET_VALUE: i64 = pg_query::protobuf::VariableSetKind::VarSetValue as i64;
/// `VAR_SET_CURRENT` (`SET x FROM CURRENT`, in `CREATE FUNCTION`).
pub const VAR_SET_CURRENT: i64 = pg_query::protobuf::VariableSetKind::VarSetCurrent as i64;
/// `VAR_SET_DEFAULT` (`SET x TO DEFAULT`).
pub const VAR_SET_DEFAULT: i64 = pg_query::protobuf::VariableSetKind::VarSetDefault as i64;
/// `VAR_RESET` (`RESET x`).
pub const VAR_RESET: i64 = pg_query::protobuf::VariableSetKind::VarReset as i64;
/// `VAR_RESET_ALL` (`RESET ALL`).
pub const VAR_RESET_ALL: i64 = pg_query::protobuf::VariableSetKind::VarResetAll as i64;
/// `DISCARD_ALL` in pg_query's `DiscardMode` enum (`DISCARD ALL`).
pub const DISCARD_ALL: i64 = pg_query::protobuf::DiscardMode::DiscardAll as i64;

/// `TransactionStmtKind`s: `BEGIN`, `START TRANSACTION`, `COMMIT`/`END`,
/// `ROLLBACK`/`ABORT`, `PREPARE TRANSACTION`.
pub mod trans {
    use pg_query::protobuf::TransactionStmtKind as K;
    /// `BEGIN`.
    pub const BEGIN: i64 = K::TransStmtBegin as i64;
    /// `START TRANSACTION`.
    pub const START: i64 = K::TransStmtStart as i64;
    /// `COMMIT`, `END`.
    pub const COMMIT: i64 = K::TransStmtCommit as i64;
    /// `ROLLBACK`, `ABORT`.
    pub const ROLLBACK: i64 = K::TransStmtRollback as i64;
    /// `PREPARE TRANSACTION` (ends the session's transaction).
    pub const PREPARE: i64 = K::TransStmtPrepare as i64;
    /// `SAVEPOINT name`.
    pub const SAVEPOINT: i64 = K::TransStmtSavepoint as i64;
    /// `RELEASE [SAVEPOINT] name`.
    pub const RELEASE: i64 = K::TransStmtRelease as i64;
    /// `ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] name`.
    pub const ROLLBACK_TO: i64 = K::TransStmtRollbackTo as i64;
}

/// `EXISTS_SUBLINK` in pg_query's `SubLinkType` enum.
pub const EXISTS_SUBLINK: i64 = pg_query::protobuf::SubLinkType::ExistsSublink as i64;

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

/// How a PL/pgSQL expression is parsed (pg_query's parser modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExprMode {
    /// A whole SQL statement.
    Statement,
    /// An expression (`IF cond`, `RAISE … %`, `RETURN x`): parsed as the
    /// target list and clauses of a `SELECT`.
    Expression,
    /// An assignment `target := expr` whose target has 1, 2 or 3 name parts.
    Assign(u8),
}

impl ExprMode {
    /// The mode from the `parseMode` number of pg_query's PL/pgSQL JSON.
    pub fn from_plpgsql(n: i64) -> Option<Self> {
        match n {
            0 => Some(Self::Statement),
            2 => Some(Self::Expression),
            3..=5 => Some(Self::Assign((n - 2) as u8)),
            _ => None,
        }
    }
}

/// Parses one PL/pgSQL expression or embedded statement in the given mode.
pub fn parse_mode(sql: &str, mode: ExprMode) -> Result<Vec<ParsedStatement>, String> {
    let opts = match mode {
        ExprMode::Statement => return parse(sql),
        ExprMode::Expression => pg_query::ParserOptions::PLPGSQL_EXPR,
        ExprMode::Assign(1) => pg_query::ParserOptions::PLPGSQL_ASSIGN1,
        ExprMode::Assign(2) => pg_query::ParserOptions::PLPGSQL_ASSIGN2,
        ExprMode::Assign(_) => pg_query::ParserOptions::PLPGSQL_ASSIGN3,
    };
    let result = pg_query::parse(sql, opts).map_err(|e| sanitize_error(&e.to_string()))?;
    let mut out = Vec::new();
    for raw in &result.protobuf.stmts {
        let tree = match &raw.stmt {
            Some(node) => serde_json::to_value(node.as_ref())
                .map_err(|e| format!("internal: cannot walk the parse tree ({e})"))?,
            None => Value::Null,
        };
        out.push(ParsedStatement {
            text: sql.trim().to_string(),
            tree,
            location: 0,
        });
    }
    Ok(out)
}

mod ffi {
    use std::ffi::{c_char, c_void};

    /// `PgQueryPlpgsqlParseResult` of libpg_query (`pg_query.h`).
    #[repr(C)]
    pub struct PlpgsqlParseResult {
        pub plpgsql_funcs: *mut c_char,
        pub error: *mut c_void,
    }

    extern "C" {
        // Linked from the libpg_query that the pg_query crate builds.
        pub fn pg_query_parse_plpgsql(input: *const c_char) -> PlpgsqlParseResult;
        pub fn pg_query_free_plpgsql_parse_result(result: PlpgsqlParseResult);
    }
}

/// Compiles a `CREATE FUNCTION … LANGUAGE plpgsql` or `DO` statement with
/// PostgreSQL's PL/pgSQL compiler (as bundled by pg_query) and returns its
/// JSON form (one `PLpgSQL_function` per function).
///
/// pg_query's own `parse_plpgsql` cannot be used: libpg_query writes
/// trigger functions' special variables as `{}}` (one brace too many), so
/// its JSON does not parse. This calls the same C function and removes the
/// stray braces before parsing the JSON.
pub fn parse_plpgsql(sql: &str) -> Result<Value, String> {
    // Initialises the parser's memory context on this thread.
    let _ = pg_query::fingerprint("SELECT 1", 0, 0);
    let input =
        std::ffi::CString::new(sql).map_err(|_| "the body contains a NUL byte".to_string())?;
    // SAFETY: the input is a valid C string; the result is freed exactly once
    // after its strings have been copied.
    let (json, error) = unsafe {
        let result = ffi::pg_query_parse_plpgsql(input.as_ptr());
        let error = if result.error.is_null() {
            None
        } else {
            // `PgQueryError` starts with `char *message`.
            let msg = *(result.error as *const *const std::ffi::c_char);
            Some(if msg.is_null() {
                "PL/pgSQL compile error".to_string()
            } else {
                std::ffi::CStr::from_ptr(msg).to_string_lossy().into_owned()
            })
        };
        let json = if result.plpgsql_funcs.is_null() || error.is_some() {
            None
        } else {
            Some(
                std::ffi::CStr::from_ptr(result.plpgsql_funcs)
                    .to_string_lossy()
                    .into_owned(),
            )
        };
        ffi::pg_query_free_plpgsql_parse_result(result);
        (json, error)
    };
    if let Some(e) = error {
        return Err(sanitize_error(&e));
    }
    let json = repair_plpgsql_json(&json.unwrap_or_default());
    serde_json::from_str(&json).map_err(|e| format!("internal: unreadable PL/pgSQL tree ({e})"))
}

/// Drops the `}` after an empty object `{}` that follows `,` or `[` outside
/// strings: never valid JSON, and exactly libpg_query's trigger-variable slip.
fn repair_plpgsql_json(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut in_str = false;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        out.push(c);
        if in_str {
            if let (b'\\', Some(&escaped)) = (c, b.get(i + 1)) {
                out.push(escaped);
                i += 2;
                continue;
            }
            if c == b'"' {
                in_str = false;
            }
        } else if c == b'"' {
            in_str = true;
        } else if c == b'{'
            && b.get(i + 1) == Some(&b'}')
            && b.get(i + 2) == Some(&b'}')
            && matches!(
                out.len().checked_sub(2).and_then(|k| out.get(k)),
                Some(b',' | b'[')
            )
        {
            out.push(b'}');
            i += 3;
            continue;
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_default()
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
    // Only the words before the first quote: what follows can quote input.
    let before_quote = msg.split(['"', '\'']).next().unwrap_or_default();
    let mut s = before_quote.trim().to_string();
    for tail in [" at or near", " at end of input", " at or near end"] {
        if let Some(stripped) = s.strip_suffix(tail) {
            s = stripped.trim().to_string();
        }
    }
    if s == "memory exhausted" || s == "stack depth limit exceeded" {
        // The parser's own limits on nesting (bison stack, stack depth check).
        format!("too deep: nested beyond the parser's limit ({s})")
    } else if s.is_empty() {
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
    fn trigger_function_compiles_despite_libpg_query_json_slip() {
        let f = parse_plpgsql(
            "CREATE FUNCTION t() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.a := NEW.b; RETURN NEW; END $$",
        )
        .unwrap();
        assert!(f[0]["PLpgSQL_function"]["action"].is_object(), "{f}");
    }

    #[test]
    fn repair_keeps_braces_inside_strings() {
        assert_eq!(repair_plpgsql_json(r#"[{},{}},"{}}"]"#), r#"[{},{},"{}}"]"#);
    }

    #[test]
    fn fingerprint_ignores_literals_and_params() {
        assert_eq!(
            fingerprint("SELECT a FROM t WHERE id = 1"),
            fingerprint("SELECT a FROM t WHERE id = $1")
        );
    }
}
