//! pgAudit `AUDIT:` lines: parsing their CSV body, and the per-backend state
//! that decides which lines are new statements, which repeat a statement
//! already seen (another relation, the OBJECT twin of a SESSION line,
//! `<previously logged>`), which are statements run inside a function, and
//! which carry only object names because the text was `<not logged>`.
//! The PARAMETER field is parsed over and dropped: it never leaves this module.

use std::collections::BTreeMap;

use crate::inventory::Access;
use crate::normalize::{tokens, Token};
use crate::target::ColumnTarget;

/// SESSION or OBJECT audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditType {
    /// `pgaudit.log` session logging.
    Session,
    /// `pgaudit.role` object logging.
    Object,
}

/// The STATEMENT field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditText {
    /// The statement text.
    Text(String),
    /// `<not logged>` (`pgaudit.log_statement = off`).
    NotLogged,
    /// `<previously logged>` (`pgaudit.log_statement_once = on`).
    PreviouslyLogged,
}

/// One parsed `AUDIT:` line (without its parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLine {
    /// SESSION or OBJECT.
    pub kind: AuditType,
    /// Statement id, sequential per backend.
    pub statement_id: u64,
    /// Substatement id within the statement (functions, `DO`).
    pub substatement_id: u64,
    /// READ, WRITE, FUNCTION, ROLE, DDL, MISC, MISC_SET.
    pub class: String,
    /// Command tag.
    pub command: String,
    /// `TABLE`, `TABLE COLUMN`, `FUNCTION`, … or empty.
    pub object_type: String,
    /// Schema-qualified object name, or empty.
    pub object_name: String,
    /// The statement text, or why it is absent.
    pub text: AuditText,
}

/// Why an `AUDIT:` body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// Fewer than 9 or more than 10 fields.
    #[error("pgAudit line with {0} fields (expected 9 or 10)")]
    FieldCount(usize),
    /// AUDIT_TYPE is neither SESSION nor OBJECT.
    #[error("pgAudit line with an unknown audit type")]
    Type,
    /// A statement or substatement id that is not a number.
    #[error("pgAudit line with a non-numeric statement id")]
    Id,
    /// A quoted field without its closing quote.
    #[error("pgAudit line with an unterminated quoted field")]
    Unterminated,
}

/// Splits a pgAudit CSV body: fields are quoted only when they contain
/// `,` `"` or a line break, with `""` for a quote.
fn csv_fields(body: &str) -> Result<Vec<String>, AuditError> {
    let mut fields = Vec::new();
    let mut chars = body.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err(AuditError::Unterminated),
                }
            }
            // Anything between the closing quote and the comma is kept.
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                field.push(c);
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                field.push(c);
                chars.next();
            }
        }
        fields.push(field);
        if chars.next().is_none() {
            return Ok(fields);
        }
    }
}

/// Parses the body after `AUDIT: `. The PARAMETER field is dropped.
pub fn parse(body: &str) -> Result<AuditLine, AuditError> {
    let mut f = csv_fields(body)?;
    if !(9..=10).contains(&f.len()) {
        return Err(AuditError::FieldCount(f.len()));
    }
    f.truncate(8); // drop PARAMETER (and ROWS): never kept
    let Ok([kind, statement_id, substatement_id, class, command, object_type, object_name, text]) =
        <[String; 8]>::try_from(f)
    else {
        return Err(AuditError::FieldCount(8));
    };
    let kind = match kind.as_str() {
        "SESSION" => AuditType::Session,
        "OBJECT" => AuditType::Object,
        _ => return Err(AuditError::Type),
    };
    let statement_id = statement_id.parse().map_err(|_| AuditError::Id)?;
    let substatement_id = substatement_id.parse().map_err(|_| AuditError::Id)?;
    let text = match text.as_str() {
        "<not logged>" => AuditText::NotLogged,
        "<previously logged>" => AuditText::PreviouslyLogged,
        _ => AuditText::Text(text),
    };
    Ok(AuditLine {
        kind,
        statement_id,
        substatement_id,
        class,
        command,
        object_type,
        object_name,
        text,
    })
}

/// Number of statements in a query string (top-level `;` separators outside
/// quotes and comments), at least 1.
pub fn statement_count(sql: &str) -> usize {
    let mut n = 0;
    let mut content = false;
    for t in tokens(sql) {
        match t {
            Token::Space => {}
            Token::Punct(p) => {
                for c in p.chars() {
                    if c == ';' {
                        if content {
                            n += 1;
                        }
                        content = false;
                    } else {
                        content = true;
                    }
                }
            }
            _ => content = true,
        }
    }
    (n + usize::from(content)).max(1)
}

/// Evidence from an audit line's object, for lines whose text is unknown or
/// that name a `TABLE COLUMN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditObject {
    /// READ → read; WRITE, DDL, … → write.
    pub access: Access,
    /// `READ`, `WRITE`, `DDL`, …
    pub class: String,
    /// Command tag.
    pub command: String,
    /// `TABLE`, `TABLE COLUMN`, …
    pub object_type: String,
    /// Schema-qualified name as logged.
    pub name: String,
}

impl AuditObject {
    /// The (target index, column-level?) pairs this object is evidence for:
    /// a `TABLE COLUMN` naming a target exactly, or a relation that is a
    /// target's table.
    pub fn matches(&self, targets: &[ColumnTarget]) -> Vec<(usize, bool)> {
        self.matches_through(targets, &[])
            .into_iter()
            .map(|(i, c, _)| (i, c))
            .collect()
    }

    /// [`AuditObject::matches`], where `families[i]` are the descendant
    /// tables of target `i` whose same-named column is the target's
    /// (`schema`, `table`, `partition s.t` / `child s.t`): a line naming one
    /// of them is evidence for the target too, with that `via` word.
    pub fn matches_through(
        &self,
        targets: &[ColumnTarget],
        families: &[Vec<(String, String, String)>],
    ) -> Vec<(usize, bool, Option<String>)> {
        let column_level = self.object_type == "TABLE COLUMN";
        let parsed = if column_level {
            ColumnTarget::parse(&self.name).ok()
        } else {
            // `schema.table` read as the table part of `schema.table.x`.
            ColumnTarget::parse(&format!("{}.x", self.name)).ok()
        };
        let Some(p) = parsed else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            if column_level && t.column != p.column {
                continue;
            }
            if t.schema == p.schema && t.table == p.table {
                out.push((i, column_level, None));
                continue;
            }
            let desc = families
                .get(i)
                .and_then(|f| f.iter().find(|(s, n, _)| *s == p.schema && *n == p.table));
            if let Some((_, _, via)) = desc {
                out.push((i, column_level, Some(via.clone())));
            }
        }
        out
    }
}

/// What one audit line contributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOutcome {
    /// Coverage kind of the record.
    pub kind: &'static str,
    /// A statement text to analyse, with the function it ran inside (for
    /// substatements), and whether it is a top-level statement (subject to
    /// pairing with `log_statement` lines).
    pub statement: Option<(String, Option<String>, bool)>,
    /// Object evidence to record.
    pub object: Option<AuditObject>,
}

/// Per-backend pgAudit state: the current statement id's texts and callers.
#[derive(Debug, Default)]
pub struct AuditState {
    statement_id: Option<u64>,
    /// Text per substatement id of the current statement.
    texts: BTreeMap<u64, String>,
    /// Substatement ids whose text has been handed out (or recognised as a
    /// repeat of an earlier substatement's text).
    handled: BTreeMap<u64, ()>,
    /// Function (or `DO` block) started at a substatement id.
    callers: BTreeMap<u64, String>,
    /// (substatement id, object name) pairs already reported.
    objects: BTreeMap<(u64, String), ()>,
}

fn access_of(class: &str) -> Access {
    if class == "READ" {
        Access::Read
    } else {
        Access::Write
    }
}

impl AuditState {
    /// Folds one line into the state and says what it contributes.
    pub fn step(&mut self, line: AuditLine) -> AuditOutcome {
        if self.statement_id != Some(line.statement_id) {
            *self = AuditState {
                statement_id: Some(line.statement_id),
                ..AuditState::default()
            };
        }
        let sub = line.substatement_id;
        if line.class == "FUNCTION" && line.command == "EXECUTE" && !line.object_name.is_empty() {
            self.callers.insert(sub, line.object_name.clone());
        } else if line.command == "DO" {
            self.callers.insert(sub, "DO block".to_string());
        }
        let previously = matches!(line.text, AuditText::PreviouslyLogged);
        let text = match line.text {
            AuditText::Text(t) => {
                self.texts.entry(sub).or_insert_with(|| t.clone());
                Some(t)
            }
            AuditText::PreviouslyLogged => self.texts.get(&sub).cloned(),
            AuditText::NotLogged => None,
        };
        let object = if line.object_name.is_empty() {
            None
        } else {
            Some(AuditObject {
                access: access_of(&line.class),
                class: line.class.clone(),
                command: line.command.clone(),
                object_type: line.object_type.clone(),
                name: line.object_name.clone(),
            })
        };
        let new_object = object
            .as_ref()
            .is_some_and(|o| self.objects.insert((sub, o.name.clone()), ()).is_none());
        let column_object = object
            .clone()
            .filter(|o| new_object && o.object_type == "TABLE COLUMN");
        let Some(text) = text else {
            return AuditOutcome {
                kind: if previously {
                    "audit_previously_logged_unrecovered"
                } else {
                    "audit_text_not_logged"
                },
                statement: None,
                object: object.filter(|_| new_object),
            };
        };
        if self.handled.contains_key(&sub) {
            return AuditOutcome {
                kind: "audit_repeat",
                statement: None,
                object: column_object,
            };
        }
        self.handled.insert(sub, ());
        // A substatement carrying an earlier substatement's text is the
        // function call itself (the caller's statement), not a new statement.
        let repeats_earlier = self.texts.range(..sub).any(|(_, t)| *t == text);
        if repeats_earlier {
            return AuditOutcome {
                kind: "audit_function_call",
                statement: None,
                object: column_object,
            };
        }
        if sub > 1 {
            let caller = self
                .callers
                .range(..sub)
                .next_back()
                .map_or_else(|| "function".to_string(), |(_, c)| c.clone());
            return AuditOutcome {
                kind: "audit_substatement",
                statement: Some((text, Some(caller), false)),
                object: column_object,
            };
        }
        AuditOutcome {
            kind: "audit_statement",
            statement: Some((text, None, true)),
            object: column_object,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(body: &str) -> AuditLine {
        parse(body).unwrap()
    }

    #[test]
    fn parses_quoted_multiline_statement_and_drops_parameters() {
        let l = line("OBJECT,1,3,READ,SELECT,TABLE,public.users,\"SELECT a,\n b FROM \"\"t\"\"\",\"secret-1,secret-2\"");
        assert_eq!(l.kind, AuditType::Object);
        assert_eq!((l.statement_id, l.substatement_id), (1, 3));
        assert_eq!(l.object_name, "public.users");
        assert_eq!(l.text, AuditText::Text("SELECT a,\n b FROM \"t\"".into()));
        assert!(!format!("{l:?}").contains("secret"));
    }

    #[test]
    fn parses_not_logged_and_previously_logged() {
        assert_eq!(
            line("SESSION,1,1,READ,SELECT,TABLE,public.users,<not logged>,<not logged>").text,
            AuditText::NotLogged
        );
        assert_eq!(
            line("SESSION,2,1,READ,SELECT,TABLE,public.users,<previously logged>,<previously logged>,3").text,
            AuditText::PreviouslyLogged
        );
    }

    #[test]
    fn malformed_bodies_are_errors() {
        assert_eq!(parse("SESSION,1,1,READ"), Err(AuditError::FieldCount(4)));
        assert_eq!(
            parse("SESSION,x,1,READ,SELECT,,,SELECT 1,<none>"),
            Err(AuditError::Id)
        );
        assert_eq!(
            parse("SESSION,1,1,READ,SELECT,,,\"SELECT 1,<none>"),
            Err(AuditError::Unterminated)
        );
        assert_eq!(
            parse("OTHER,1,1,READ,SELECT,,,SELECT 1,<none>"),
            Err(AuditError::Type)
        );
    }

    #[test]
    fn counts_statements_outside_quotes() {
        assert_eq!(statement_count("SELECT 1"), 1);
        assert_eq!(statement_count("SELECT 1;"), 1);
        assert_eq!(statement_count("SELECT 1; UPDATE t SET a = ';'"), 2);
        assert_eq!(statement_count("SELECT ';' -- ;\n; ;SELECT 2"), 2);
        assert_eq!(statement_count("DO $$ BEGIN PERFORM 1; END $$"), 1);
    }

    #[test]
    fn function_substatements_are_attributed_to_their_caller() {
        let mut s = AuditState::default();
        let a = s.step(line("SESSION,1,1,READ,SELECT,,,SELECT get_email(1),<none>"));
        assert_eq!(a.kind, "audit_statement");
        let b = s.step(line(
            "SESSION,1,2,FUNCTION,EXECUTE,FUNCTION,public.get_email,SELECT get_email(1),<none>",
        ));
        assert_eq!(b.kind, "audit_function_call");
        let c = s.step(line("OBJECT,1,3,READ,SELECT,TABLE,public.users,(SELECT legacy_email FROM users WHERE id = uid),\"1,\""));
        assert_eq!(
            c.statement,
            Some((
                "(SELECT legacy_email FROM users WHERE id = uid)".into(),
                Some("public.get_email".into()),
                false
            ))
        );
        let d = s.step(line(
            "SESSION,1,3,READ,SELECT,TABLE,public.users,<previously logged>,<previously logged>",
        ));
        assert_eq!(d.kind, "audit_repeat");
        // a new statement id starts afresh
        let e = s.step(line(
            "SESSION,2,1,READ,SELECT,TABLE,public.users,<previously logged>,<previously logged>",
        ));
        assert_eq!(e.kind, "audit_previously_logged_unrecovered");
        assert!(e.statement.is_none());
    }

    #[test]
    fn not_logged_text_gives_object_evidence_once_per_object() {
        let mut s = AuditState::default();
        let a = s.step(line(
            "OBJECT,1,1,READ,SELECT,TABLE,public.users,<not logged>,<not logged>",
        ));
        assert_eq!(a.kind, "audit_text_not_logged");
        assert_eq!(a.object.as_ref().unwrap().name, "public.users");
        let b = s.step(line(
            "SESSION,1,1,READ,SELECT,TABLE,public.users,<not logged>,<not logged>",
        ));
        assert!(b.object.is_none());
        let c = s.step(line(
            "SESSION,1,1,READ,SELECT,TABLE,public.orders,<not logged>,<not logged>",
        ));
        assert_eq!(c.object.unwrap().name, "public.orders");
    }

    #[test]
    fn table_column_objects_match_targets_exactly() {
        let t = vec![
            ColumnTarget::parse("public.users.legacy_email").unwrap(),
            ColumnTarget::parse("public.orders.old_status").unwrap(),
        ];
        let o = |ty: &str, name: &str| AuditObject {
            access: Access::Write,
            class: "DDL".into(),
            command: "COMMENT".into(),
            object_type: ty.into(),
            name: name.into(),
        };
        assert_eq!(
            o("TABLE COLUMN", "public.users.legacy_email").matches(&t),
            vec![(0, true)]
        );
        assert!(o("TABLE COLUMN", "public.users.email")
            .matches(&t)
            .is_empty());
        assert_eq!(o("TABLE", "public.orders").matches(&t), vec![(1, false)]);
        assert!(o("TABLE", "archive.orders").matches(&t).is_empty());
        // A partition or inheriting child whose column is the target's.
        let fam = vec![
            vec![(
                "public".to_string(),
                "users_2026".to_string(),
                "partition public.users_2026".to_string(),
            )],
            Vec::new(),
        ];
        assert_eq!(
            o("TABLE COLUMN", "public.users_2026.legacy_email").matches_through(&t, &fam),
            vec![(0, true, Some("partition public.users_2026".to_string()))]
        );
        assert_eq!(
            o("TABLE", "public.users_2026").matches_through(&t, &fam),
            vec![(0, false, Some("partition public.users_2026".to_string()))]
        );
        assert!(o("TABLE COLUMN", "public.users_2026.email")
            .matches_through(&t, &fam)
            .is_empty());
        assert!(o("TABLE", "public.users_2026").matches(&t).is_empty());
    }
}
