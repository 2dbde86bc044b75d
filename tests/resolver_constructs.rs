//! Column resolution, construct by construct: for each SQL shape, the exact
//! set of references to the target column(s), as PostgreSQL itself would
//! resolve the statement (doubtful cases were checked against PostgreSQL 15).
//! A case where the resolver disagrees with PostgreSQL is `#[ignore]`d with
//! the reason, never weakened.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use pgcontract::analyze::{load_schema, Analysis, Analyzer};
use pgcontract::catalog::Catalog;
use pgcontract::target::ColumnTarget;

const SCHEMA_SQL: &str = r#"
CREATE SCHEMA archive;
CREATE TABLE public.users (id bigint, email text, legacy_email text, name text);
CREATE TABLE public.orders (id bigint, user_id bigint, total numeric, legacy_email text);
CREATE TABLE archive.users (id bigint, legacy_email text);
CREATE VIEW public.contacts AS SELECT users.id, users.legacy_email FROM public.users;
CREATE VIEW public.contact_ids AS SELECT contacts.id FROM public.contacts;
CREATE VIEW public.names AS SELECT users.id, users.name FROM public.users;
"#;

const TARGET: &str = "public.users.legacy_email";

/// (access, via, confidence), all lower case.
type Ref = (String, String, String);

fn schema() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let c = load_schema(SCHEMA_SQL);
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        c
    })
}

fn no_schema() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(Catalog::default)
}

fn analyze_with(catalog: &Catalog, targets: &[&str], search_path: &[&str], sql: &str) -> Analysis {
    let targets: Vec<ColumnTarget> = targets
        .iter()
        .map(|t| ColumnTarget::parse(t).expect("valid target"))
        .collect();
    let an = Analyzer::new(
        catalog,
        &targets,
        search_path.iter().map(|s| s.to_string()).collect(),
    );
    an.analyze(sql)
}

/// Per statement: the set of (target index, access, via, confidence).
fn all_refs(
    catalog: &Catalog,
    targets: &[&str],
    search_path: &[&str],
    sql: &str,
) -> Vec<BTreeSet<(usize, String, String, String)>> {
    analyze_with(catalog, targets, search_path, sql)
        .statements
        .iter()
        .map(|s| {
            s.refs
                .iter()
                .map(|r| {
                    (
                        r.target,
                        format!("{:?}", r.access).to_lowercase(),
                        r.via.clone(),
                        format!("{:?}", r.confidence).to_lowercase(),
                    )
                })
                .collect()
        })
        .collect()
}

/// The refs of a single-statement `sql` to target 0.
fn refs_in(catalog: &Catalog, target: &str, search_path: &[&str], sql: &str) -> BTreeSet<Ref> {
    let per_stmt = all_refs(catalog, &[target], search_path, sql);
    assert_eq!(per_stmt.len(), 1, "expected one statement in {sql:?}");
    per_stmt
        .into_iter()
        .next()
        .unwrap_or_default()
        .into_iter()
        .map(|(_, a, v, c)| (a, v, c))
        .collect()
}

fn set(expected: &[(&str, &str, &str)]) -> BTreeSet<Ref> {
    expected
        .iter()
        .map(|(a, v, c)| (a.to_string(), v.to_string(), c.to_string()))
        .collect()
}

/// With the schema, target `public.users.legacy_email`, default search_path.
#[track_caller]
fn check(sql: &str, expected: &[(&str, &str, &str)]) {
    assert_eq!(
        refs_in(schema(), TARGET, &["$user", "public"], sql),
        set(expected),
        "{sql}"
    );
}

/// Without any schema.
#[track_caller]
fn check_no_schema(target: &str, sql: &str, expected: &[(&str, &str, &str)]) {
    assert_eq!(
        refs_in(no_schema(), target, &["$user", "public"], sql),
        set(expected),
        "{sql}"
    );
}

/// Expected (access, via, confidence) triples.
type Expected<'a> = &'a [(&'a str, &'a str, &'a str)];

const NONE: &[(&str, &str, &str)] = &[];
const READ: &[(&str, &str, &str)] = &[("read", "direct", "certain")];
const WRITE: &[(&str, &str, &str)] = &[("write", "direct", "certain")];
const READ_WRITE: &[(&str, &str, &str)] = &[
    ("read", "direct", "certain"),
    ("write", "direct", "certain"),
];
const STAR: &[(&str, &str, &str)] = &[("read", "star", "certain")];
/// A direct read that an outer query's same-named column would capture.
const CAPTURE: &[(&str, &str, &str)] = &[("read", "outer_capture", "certain")];
const WHOLE_ROW: &[(&str, &str, &str)] = &[("read", "whole_row", "certain")];
const AMBIGUOUS: &[(&str, &str, &str)] = &[("read", "direct", "possible")];

/// Table-driven: every (sql, expected) pair must hold.
#[track_caller]
fn check_all(cases: &[(&str, Expected)]) {
    for (sql, expected) in cases {
        check(sql, expected);
    }
}

// ------------------------------------------------------------ plain SELECT

#[test]
fn direct_select_is_a_certain_read() {
    check("SELECT legacy_email FROM users", READ);
}

#[test]
fn alias_qualified_column_is_a_read() {
    check("SELECT u.legacy_email FROM users u", READ);
}

#[test]
fn table_qualified_column_is_a_read() {
    check("SELECT users.legacy_email FROM users", READ);
}

#[test]
fn schema_qualified_column_is_a_read() {
    check("SELECT public.users.legacy_email FROM public.users", READ);
}

#[test]
fn quoted_and_upper_case_names_fold_like_postgres() {
    check_all(&[
        (r#"SELECT "legacy_email" FROM "users""#, READ),
        ("SELECT LEGACY_EMAIL FROM USERS", READ),
        ("SELECT Legacy_Email FROM Users", READ),
    ]);
}

#[test]
fn quoted_mixed_case_is_another_column() {
    check_all(&[
        (r#"SELECT "Legacy_Email" FROM users"#, NONE),
        (r#"SELECT "LEGACY_EMAIL" FROM users"#, NONE),
        (r#"SELECT legacy_email FROM "Users""#, NONE),
    ]);
}

#[test]
fn other_columns_are_not_references() {
    check_all(&[
        ("SELECT id FROM users", NONE),
        ("SELECT id, email, name FROM users WHERE id = $1", NONE),
        ("SELECT id FROM users ORDER BY 1", NONE),
        ("SELECT id FROM users FOR UPDATE", NONE),
    ]);
}

#[test]
fn same_named_column_of_another_table_is_not_a_reference() {
    check_all(&[
        ("SELECT legacy_email FROM orders", NONE),
        ("SELECT o.legacy_email FROM orders o", NONE),
        (
            "SELECT o.legacy_email FROM users u JOIN orders o ON u.id = o.user_id",
            NONE,
        ),
    ]);
}

#[test]
fn same_named_table_in_another_schema_is_not_a_reference() {
    check_all(&[
        ("SELECT legacy_email FROM archive.users", NONE),
        ("SELECT archive.users.legacy_email FROM archive.users", NONE),
        ("SELECT users.legacy_email FROM archive.users", NONE),
        ("SELECT * FROM archive.users", NONE),
    ]);
}

#[test]
fn search_path_decides_which_users_table_is_meant() {
    let sql = "SELECT legacy_email FROM users";
    assert_eq!(
        refs_in(schema(), TARGET, &["archive", "public"], sql),
        set(NONE)
    );
    assert_eq!(
        refs_in(
            schema(),
            "archive.users.legacy_email",
            &["archive", "public"],
            sql
        ),
        set(READ)
    );
    assert_eq!(
        refs_in(
            schema(),
            "archive.users.legacy_email",
            &["$user", "public"],
            sql
        ),
        set(NONE)
    );
}

#[test]
fn schema_qualified_column_picks_its_schema_among_same_named_tables() {
    // FROM a.t, b.t without aliases is legal; the 3-part name picks one.
    check_all(&[
        (
            "SELECT public.users.legacy_email FROM archive.users, public.users",
            READ,
        ),
        (
            "SELECT archive.users.legacy_email FROM archive.users, public.users",
            NONE,
        ),
    ]);
}

#[test]
fn two_part_name_over_same_named_tables_is_ambiguous() {
    // PostgreSQL: ERROR table reference "users" is ambiguous.
    check(
        "SELECT users.legacy_email FROM archive.users, public.users",
        AMBIGUOUS,
    );
}

#[test]
fn alias_hides_the_table_name() {
    check_all(&[
        ("SELECT users.legacy_email FROM orders users", NONE),
        ("SELECT u.legacy_email FROM orders u", NONE),
    ]);
}

#[test]
fn comments_and_strings_naming_the_column_are_not_references() {
    check_all(&[
        ("SELECT id FROM users -- legacy_email", NONE),
        ("SELECT id FROM users /* legacy_email */", NONE),
        ("SELECT 'legacy_email' FROM users", NONE),
        ("SELECT id FROM users WHERE email = 'legacy_email'", NONE),
        ("SELECT $$legacy_email$$ FROM users", NONE),
    ]);
}

#[test]
fn only_and_tablesample_still_resolve() {
    check_all(&[
        ("SELECT legacy_email FROM ONLY users", READ),
        (
            "SELECT legacy_email FROM users TABLESAMPLE SYSTEM (10)",
            READ,
        ),
    ]);
}

// ------------------------------------------------------------- clauses

#[test]
fn where_clause_reads() {
    check_all(&[
        ("SELECT id FROM users WHERE legacy_email IS NULL", READ),
        (
            "SELECT id FROM users WHERE (id, legacy_email) = (1, 'a')",
            READ,
        ),
        (
            "SELECT id FROM users u WHERE u.legacy_email LIKE '%@x'",
            READ,
        ),
    ]);
}

#[test]
fn group_by_and_having_read() {
    check_all(&[
        (
            "SELECT legacy_email, count(*) FROM users GROUP BY legacy_email",
            READ,
        ),
        ("SELECT count(*) FROM users GROUP BY legacy_email", READ),
        ("SELECT legacy_email, count(*) FROM users GROUP BY 1", READ),
        (
            "SELECT count(*) FROM users GROUP BY ROLLUP (legacy_email)",
            READ,
        ),
        (
            "SELECT email FROM users GROUP BY email HAVING max(legacy_email) IS NOT NULL",
            READ,
        ),
    ]);
}

#[test]
fn group_by_prefers_the_input_column_over_an_output_alias() {
    // GROUP BY resolves a bare name against FROM columns first (checked with
    // EXPLAIN VERBOSE: Group Key: users.legacy_email).
    check(
        "SELECT count(*) AS legacy_email FROM users GROUP BY legacy_email",
        READ,
    );
}

#[test]
fn order_by_reads() {
    check_all(&[
        ("SELECT id FROM users ORDER BY legacy_email", READ),
        (
            "SELECT id FROM users u ORDER BY u.legacy_email DESC NULLS LAST",
            READ,
        ),
        ("SELECT legacy_email FROM users ORDER BY 1", READ),
        ("SELECT legacy_email AS x FROM users ORDER BY x", READ),
    ]);
}

#[test]
fn order_by_output_alias_is_not_a_reference() {
    // ORDER BY a bare name matches the output column first (Sort Key: users.email).
    check(
        "SELECT email AS legacy_email FROM users ORDER BY legacy_email",
        NONE,
    );
}

#[test]
fn order_by_expression_uses_the_input_column_not_the_alias() {
    // Inside an expression only input columns are visible.
    check(
        "SELECT email AS legacy_email FROM users ORDER BY legacy_email || ''",
        READ,
    );
}

#[test]
fn order_by_qualified_name_is_the_input_column() {
    check(
        "SELECT email AS legacy_email FROM users u ORDER BY u.legacy_email",
        READ,
    );
}

#[test]
fn distinct_and_distinct_on_read() {
    check_all(&[
        ("SELECT DISTINCT legacy_email FROM users", READ),
        ("SELECT DISTINCT ON (legacy_email) id FROM users", READ),
        (
            "SELECT DISTINCT ON (legacy_email) id FROM users ORDER BY legacy_email, id",
            READ,
        ),
    ]);
}

#[test]
fn distinct_on_output_alias_is_not_a_reference() {
    // DISTINCT ON follows the ORDER BY rule (Sort Key: users.email).
    check(
        "SELECT DISTINCT ON (legacy_email) email AS legacy_email FROM users",
        NONE,
    );
}

#[test]
fn window_clauses_read() {
    check_all(&[
        (
            "SELECT row_number() OVER (PARTITION BY legacy_email) FROM users",
            READ,
        ),
        (
            "SELECT rank() OVER (ORDER BY legacy_email) FROM users",
            READ,
        ),
        (
            "SELECT count(*) OVER w FROM users WINDOW w AS (PARTITION BY legacy_email)",
            READ,
        ),
        (
            "SELECT lag(legacy_email) OVER (ORDER BY id) FROM users",
            READ,
        ),
    ]);
}

#[test]
fn window_order_by_prefers_the_input_column_over_an_output_alias() {
    // Window ORDER BY uses SQL99 rules (Sort Key: users.legacy_email).
    check_all(&[
        (
            "SELECT email AS legacy_email, rank() OVER (ORDER BY legacy_email) FROM users",
            READ,
        ),
        (
            "SELECT email AS legacy_email, rank() OVER w FROM users WINDOW w AS (ORDER BY legacy_email)",
            READ,
        ),
    ]);
}

#[test]
fn aggregate_filter_and_order_by_read() {
    check_all(&[
        (
            "SELECT count(*) FILTER (WHERE legacy_email IS NULL) FROM users",
            READ,
        ),
        (
            "SELECT string_agg(email, ',' ORDER BY legacy_email) FROM users",
            READ,
        ),
        ("SELECT count(DISTINCT legacy_email) FROM users", READ),
        ("SELECT max(legacy_email) FROM users", READ),
    ]);
}

#[test]
fn expressions_read() {
    check_all(&[
        (
            "SELECT CASE WHEN legacy_email IS NULL THEN 0 ELSE 1 END FROM users",
            READ,
        ),
        (
            "SELECT CASE legacy_email WHEN 'a' THEN 1 END FROM users",
            READ,
        ),
        ("SELECT COALESCE(email, legacy_email) FROM users", READ),
        ("SELECT NULLIF(legacy_email, '') FROM users", READ),
        ("SELECT legacy_email::text FROM users", READ),
        ("SELECT CAST(legacy_email AS varchar(10)) FROM users", READ),
        (
            "SELECT (string_to_array(legacy_email, '@'))[2] FROM users",
            READ,
        ),
        ("SELECT (ARRAY[legacy_email])[1] FROM users", READ),
        ("SELECT legacy_email IS NULL FROM users", READ),
        ("SELECT lower(legacy_email) || '@' FROM users", READ),
        ("SELECT id FROM users WHERE legacy_email = ANY ($1)", READ),
    ]);
}

#[test]
fn count_star_is_not_a_reference() {
    check_all(&[
        ("SELECT count(*) FROM users", NONE),
        ("SELECT count(1) FROM users", NONE),
        ("SELECT count(id) FROM users", NONE),
    ]);
}

// ---------------------------------------------------------- subqueries

#[test]
fn subqueries_in_where_read() {
    check_all(&[
        // orders has a legacy_email too: dropping users' would silently
        // make the name the outer orders column.
        (
            "SELECT id FROM orders WHERE user_id IN (SELECT id FROM users WHERE legacy_email IS NULL)",
            CAPTURE,
        ),
        (
            "SELECT id FROM orders o WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id AND u.legacy_email = 'x')",
            READ,
        ),
        (
            "SELECT id FROM orders WHERE total > (SELECT count(legacy_email) FROM users)",
            CAPTURE,
        ),
        (
            "SELECT id FROM users WHERE legacy_email IN (SELECT legacy_email FROM orders)",
            READ,
        ),
        (
            "SELECT (SELECT legacy_email FROM users u WHERE u.id = o.user_id) FROM orders o",
            CAPTURE,
        ),
    ]);
}

#[test]
fn correlated_subquery_resolves_to_the_inner_table_first() {
    check_all(&[
        (
            "SELECT 1 FROM orders o WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id AND legacy_email IS NULL)",
            CAPTURE,
        ),
        (
            "SELECT 1 FROM orders o WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id AND name IS NULL)",
            NONE,
        ),
        // The inner orders has the column: the outer users is not reached.
        (
            "SELECT 1 FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND legacy_email IS NULL)",
            NONE,
        ),
        (
            "SELECT id FROM users WHERE id IN (SELECT user_id FROM orders WHERE legacy_email IS NULL)",
            NONE,
        ),
    ]);
}

#[test]
fn correlated_subquery_resolves_outward_when_the_inner_table_lacks_the_column() {
    check_all(&[
        (
            "SELECT 1 FROM users u WHERE EXISTS (SELECT 1 FROM names n WHERE n.id = u.id AND legacy_email IS NOT NULL)",
            READ,
        ),
        (
            "SELECT 1 FROM users WHERE EXISTS (SELECT 1 FROM archive.users a WHERE a.id = users.id AND users.legacy_email IS NULL)",
            READ,
        ),
    ]);
}

#[test]
fn non_lateral_subquery_in_from_does_not_see_siblings() {
    check(
        "SELECT 1 FROM users u, (SELECT legacy_email FROM orders) s",
        NONE,
    );
}

// --------------------------------------------------------------- joins

#[test]
fn join_on_condition_reads() {
    check_all(&[
        (
            "SELECT u.id FROM users u JOIN orders o ON o.legacy_email = u.legacy_email",
            READ,
        ),
        (
            "SELECT u.id FROM users u LEFT JOIN orders o ON o.user_id = u.id AND u.legacy_email IS NULL",
            READ,
        ),
        (
            "SELECT u.id FROM users u JOIN orders o ON o.user_id = u.id WHERE o.legacy_email IS NULL",
            NONE,
        ),
    ]);
}

#[test]
fn join_using_the_column_reads() {
    check_all(&[
        ("SELECT 1 FROM users JOIN orders USING (legacy_email)", READ),
        (
            "SELECT legacy_email FROM users JOIN orders USING (legacy_email)",
            READ,
        ),
        (
            "SELECT legacy_email FROM orders FULL JOIN users USING (legacy_email)",
            READ,
        ),
        (
            "SELECT u1.legacy_email FROM users u1 JOIN users u2 USING (legacy_email)",
            READ,
        ),
        ("SELECT id FROM users JOIN orders USING (id)", NONE),
    ]);
}

/// `JOIN … USING (…) AS x` (PostgreSQL 14+): `x` names only the merged
/// columns (checked on PostgreSQL 15: `x.c` of a column not in `USING` is
/// "column x.c does not exist"; `x.*` is the merged columns; the sides stay
/// visible; a join alias over the join hides `x`). `x.c` is the merged
/// column, both sides' `c` (EXPLAIN VERBOSE: `a.c` for an inner join,
/// `COALESCE(a.c, b.c)` for a full one).
#[test]
fn join_using_alias_names_the_merged_columns_only() {
    check_all(&[
        (
            "SELECT x.legacy_email FROM users JOIN orders USING (legacy_email) AS x",
            READ,
        ),
        (
            "SELECT x.* FROM users JOIN orders USING (legacy_email) AS x",
            &[("read", "direct", "certain"), ("read", "star", "certain")],
        ),
        (
            "SELECT x FROM orders JOIN users USING (legacy_email) AS x",
            &[
                ("read", "direct", "certain"),
                ("read", "whole_row", "certain"),
            ],
        ),
        // The merged columns only: `id`.
        ("SELECT x.* FROM users JOIN orders USING (id) AS x", NONE),
        ("SELECT x FROM users JOIN orders USING (id) AS x", NONE),
        // PostgreSQL: column x.legacy_email does not exist.
        (
            "SELECT x.legacy_email FROM users JOIN orders USING (id) AS x",
            NONE,
        ),
        // The sides stay visible.
        (
            "SELECT users.legacy_email FROM users JOIN orders USING (id) AS x",
            READ,
        ),
        // Unqualified, the merged column is the join's (not ambiguous with
        // `x`), also under a join alias that hides `x`.
        (
            "SELECT legacy_email FROM users JOIN orders USING (legacy_email) AS x",
            READ,
        ),
        (
            "SELECT legacy_email FROM (users JOIN orders USING (legacy_email) AS x) j",
            READ,
        ),
        // An inner `x` hides an outer FROM item `x`: `x.legacy_email` in
        // the subquery is the merged column of orders and archive.users.
        (
            "SELECT 1 FROM users x WHERE EXISTS (SELECT 1 FROM orders o JOIN archive.users a USING (legacy_email) AS x WHERE x.legacy_email = 'a')",
            NONE,
        ),
        (
            "SELECT 1 FROM users x WHERE EXISTS (SELECT 1 FROM orders o JOIN archive.users a USING (id) AS x WHERE x.legacy_email = 'a')",
            NONE,
        ),
    ]);
    // Both sides' columns, by name through the alias.
    let refs = all_refs(
        schema(),
        &["public.orders.legacy_email", "archive.users.legacy_email"],
        &["$user", "public"],
        "SELECT 1 FROM users x WHERE EXISTS (SELECT 1 FROM orders o JOIN archive.users a USING (id) AS x WHERE x.id = 1 AND o.legacy_email = a.legacy_email)",
    );
    assert_eq!(
        refs,
        vec![[0, 1]
            .into_iter()
            .map(|t| (t, "read".into(), "direct".into(), "certain".into()))
            .collect::<BTreeSet<_>>()]
    );
}

#[test]
fn unqualified_column_present_in_two_joined_tables_is_possible() {
    // PostgreSQL: ERROR column reference "legacy_email" is ambiguous.
    check_all(&[
        (
            "SELECT legacy_email FROM users u JOIN orders o ON u.id = o.user_id",
            AMBIGUOUS,
        ),
        ("SELECT legacy_email FROM users, orders", AMBIGUOUS),
        (
            "SELECT legacy_email FROM users u JOIN orders o USING (id)",
            AMBIGUOUS,
        ),
        (
            "SELECT legacy_email FROM users u1 JOIN users u2 USING (id)",
            AMBIGUOUS,
        ),
    ]);
}

#[test]
fn natural_join_reads_the_common_columns() {
    check_all(&[
        (
            "SELECT 1 FROM public.users u NATURAL JOIN archive.users a",
            &[("read", "natural_join", "certain")],
        ),
        (
            "SELECT 1 FROM users NATURAL JOIN orders",
            &[("read", "natural_join", "certain")],
        ),
        // names has (id, name): legacy_email is not a common column.
        ("SELECT 1 FROM users NATURAL JOIN names", NONE),
        ("SELECT * FROM users NATURAL JOIN names", STAR),
        (
            "SELECT * FROM users u NATURAL JOIN orders o",
            &[
                ("read", "natural_join", "certain"),
                ("read", "star", "certain"),
            ],
        ),
    ]);
}

#[test]
fn join_alias_columns_resolve_to_their_tables() {
    check_all(&[
        (
            "SELECT j.email FROM (users u JOIN orders o ON u.id = o.user_id) j",
            NONE,
        ),
        (
            "SELECT j.legacy_email FROM (users JOIN names USING (id)) j",
            READ,
        ),
        ("SELECT j.* FROM (users u JOIN names n USING (id)) j", STAR),
    ]);
}

#[test]
fn join_alias_column_present_on_both_sides_is_ambiguous() {
    // PostgreSQL: ERROR column reference "legacy_email" is ambiguous.
    check(
        "SELECT j.legacy_email FROM (users u JOIN orders o USING (id)) j",
        AMBIGUOUS,
    );
}

// ------------------------------------------------- star and whole row

#[test]
fn star_reads_every_column() {
    check_all(&[
        ("SELECT * FROM users", STAR),
        ("SELECT u.* FROM users u", STAR),
        ("SELECT users.* FROM users", STAR),
        ("SELECT * FROM users LIMIT 0", STAR),
        ("TABLE users", STAR),
        (
            "SELECT o.* FROM users u JOIN orders o ON u.id = o.user_id",
            NONE,
        ),
        ("SELECT * FROM orders", NONE),
    ]);
}

#[test]
fn whole_row_references_read_every_column() {
    check_all(&[
        ("SELECT u FROM users u", WHOLE_ROW),
        ("SELECT users FROM users", WHOLE_ROW),
        ("SELECT row_to_json(u) FROM users u", WHOLE_ROW),
        ("SELECT to_jsonb(u) FROM users u", WHOLE_ROW),
        ("SELECT to_jsonb(u.*) FROM users u", WHOLE_ROW),
        ("SELECT json_agg(u) FROM users u", WHOLE_ROW),
        ("SELECT u::text FROM users u", WHOLE_ROW),
        ("SELECT count(u.*) FROM users u", WHOLE_ROW),
        ("SELECT 1 FROM users u WHERE u IS NOT NULL", WHOLE_ROW),
        (
            "SELECT o FROM users u JOIN orders o ON u.id = o.user_id",
            NONE,
        ),
    ]);
}

#[test]
fn field_selection_from_a_row_is_a_direct_read() {
    check_all(&[
        ("SELECT (u).legacy_email FROM users u", READ),
        ("SELECT (users).legacy_email FROM users", READ),
        ("SELECT (u).id FROM users u", NONE),
    ]);
}

#[test]
fn field_star_from_a_row_reads_every_column() {
    check("SELECT (u).* FROM users u", STAR);
}

#[test]
fn functional_notation_is_a_direct_read() {
    // PostgreSQL: EXPLAIN VERBOSE shows Output: legacy_email.
    check("SELECT legacy_email(u) FROM users u", READ);
}

#[test]
fn column_wins_over_a_relation_of_the_same_name() {
    // `legacy_email` is a column of users before it is the alias.
    check("SELECT legacy_email FROM users legacy_email", READ);
}

// --------------------------------------------------------------- views

#[test]
fn view_over_the_column_reads_it() {
    let via = &[("read", "view public.contacts", "certain")];
    check_all(&[
        ("SELECT * FROM contacts", via),
        ("SELECT legacy_email FROM contacts", via),
        ("SELECT id FROM contacts", via),
        ("SELECT 1 FROM contacts c WHERE c.id = 1", via),
    ]);
}

#[test]
fn view_chain_is_reported_with_its_path() {
    check(
        "SELECT id FROM contact_ids",
        &[(
            "read",
            "view public.contact_ids > view public.contacts",
            "certain",
        )],
    );
}

#[test]
fn view_without_the_column_is_not_a_reference() {
    check_all(&[
        ("SELECT * FROM names", NONE),
        ("SELECT n.* FROM names n", NONE),
        ("SELECT n FROM names n", NONE),
    ]);
}

#[test]
fn update_through_a_view_writes_the_base_column() {
    // PostgreSQL rewrites it to UPDATE public.users SET legacy_email = NULL.
    check(
        "UPDATE contacts SET legacy_email = NULL",
        &[
            ("read", "view public.contacts", "certain"),
            ("write", "view public.contacts", "certain"),
        ],
    );
}

#[test]
fn insert_through_a_view_writes_the_base_column() {
    // PostgreSQL rewrites it to INSERT INTO public.users (id, legacy_email).
    check(
        "INSERT INTO contacts (id, legacy_email) VALUES (1, 'a')",
        &[
            ("read", "view public.contacts", "certain"),
            ("write", "view public.contacts", "certain"),
        ],
    );
}

// ------------------------------------------------- derived tables and CTEs

#[test]
fn star_in_a_derived_table_uses_only_what_the_outer_query_takes() {
    // Checked against PostgreSQL 15 (tests/differential.rs): dropping a
    // column the outer query does not take changes nothing.
    check_all(&[
        ("SELECT * FROM (SELECT * FROM users) s", STAR),
        ("SELECT s.id FROM (SELECT * FROM users) s", NONE),
        (
            "SELECT row_to_json(s) FROM (SELECT * FROM users) s",
            &[("read", "whole_row", "certain")],
        ),
        (
            "SELECT 1 FROM users u WHERE EXISTS (SELECT * FROM users)",
            NONE,
        ),
        (
            "SELECT count(*) FROM (SELECT legacy_email FROM users) s",
            READ,
        ),
    ]);
}

#[test]
fn distinct_star_in_a_derived_table_or_cte_uses_every_column() {
    // Checked on PostgreSQL 15: `EXPLAIN VERBOSE` groups by every column,
    // and with rows (1, 'p') and (1, 'q') the count drops from 2 to 1
    // once legacy_email is dropped. DISTINCT ON keeps one row per key
    // whatever the other columns hold.
    check_all(&[
        (
            "SELECT count(*) FROM (SELECT DISTINCT * FROM users) s",
            STAR,
        ),
        ("SELECT s.id FROM (SELECT DISTINCT * FROM users) s", STAR),
        (
            "WITH c AS (SELECT DISTINCT * FROM users) SELECT count(*) FROM c",
            STAR,
        ),
        (
            "SELECT count(*) FROM (SELECT DISTINCT u.* FROM users u) s",
            STAR,
        ),
        (
            "SELECT count(*) FROM (SELECT DISTINCT ON (id) * FROM users) s",
            NONE,
        ),
    ]);
}

#[test]
fn utility_statements_that_name_a_column_read_it() {
    // Each fails on PostgreSQL 15 once the column is dropped (`column
    // "legacy_email" of relation "users" does not exist`): a cron job's
    // ANALYZE, a provisioning script's column GRANT.
    check_all(&[
        ("ANALYZE users (legacy_email)", READ),
        ("VACUUM (ANALYZE) orders, users (id, legacy_email)", READ),
        ("GRANT SELECT (id, legacy_email) ON users TO bob", READ),
        ("REVOKE UPDATE (legacy_email) ON TABLE users FROM bob", READ),
        ("CREATE STATISTICS s ON id, legacy_email FROM users", READ),
        (
            "CREATE STATISTICS s ON (lower(legacy_email)), id FROM users",
            READ,
        ),
        ("ANALYZE users", NONE),
        ("GRANT SELECT ON users TO bob", NONE),
        ("ANALYZE archive.users (legacy_email)", NONE),
        // The column's own definition: the expand-contract steps before
        // the drop itself (documented in docs/resolution.md).
        (
            "ALTER TABLE users ALTER COLUMN legacy_email DROP NOT NULL",
            NONE,
        ),
        ("COMMENT ON COLUMN users.legacy_email IS 'deprecated'", NONE),
    ]);
}

#[test]
fn named_column_of_a_derived_star_is_a_direct_read() {
    check(
        "SELECT s.legacy_email FROM (SELECT * FROM users) s",
        &[("read", "direct", "certain")],
    );
}

#[test]
fn derived_table_columns_follow_their_origin() {
    check_all(&[
        ("SELECT s.* FROM (SELECT legacy_email FROM users) s", READ),
        ("SELECT e FROM (SELECT legacy_email FROM users) s(e)", READ),
        (
            "SELECT legacy_email FROM (SELECT legacy_email FROM users)",
            READ,
        ),
        // The derived column named legacy_email is users.email.
        (
            "SELECT legacy_email FROM (SELECT email AS legacy_email FROM users) s",
            NONE,
        ),
        ("SELECT x FROM (SELECT id AS x FROM users) s", NONE),
    ]);
}

#[test]
fn cte_passing_the_column_reads_it() {
    check_all(&[
        (
            "WITH c AS (SELECT legacy_email FROM users) SELECT * FROM c",
            READ,
        ),
        (
            "WITH c(x) AS (SELECT legacy_email FROM users) SELECT x FROM c",
            READ,
        ),
        (
            "WITH a AS (SELECT legacy_email FROM users), b AS (SELECT * FROM a) SELECT * FROM b",
            READ,
        ),
        (
            "WITH c AS (SELECT * FROM users) SELECT legacy_email FROM c",
            READ,
        ),
        ("WITH c AS (SELECT id FROM users) SELECT c.id FROM c", NONE),
        (
            "WITH c AS (SELECT legacy_email AS x FROM orders) SELECT x FROM c",
            NONE,
        ),
    ]);
}

#[test]
fn cte_named_like_the_table_shadows_it() {
    check_all(&[
        (
            "WITH users AS (SELECT 1 AS legacy_email) SELECT legacy_email FROM users",
            NONE,
        ),
        ("WITH users AS (SELECT 1 AS id) SELECT * FROM users", NONE),
        // The CTE is visible in nested subqueries too.
        (
            "WITH users AS (SELECT 1 AS id, 'x' AS legacy_email) SELECT 1 FROM orders WHERE user_id IN (SELECT id FROM users WHERE legacy_email = 'x')",
            NONE,
        ),
        // A schema-qualified name bypasses the CTE.
        ("WITH users AS (SELECT 1 AS id) SELECT * FROM public.users", STAR),
    ]);
}

#[test]
fn recursive_cte_reads_through_its_anchor() {
    check_all(&[
        (
            "WITH RECURSIVE r(id, e) AS (SELECT id, legacy_email FROM users UNION ALL SELECT r.id + 1, r.e FROM r WHERE r.id < 3) SELECT e FROM r",
            READ,
        ),
        (
            "WITH RECURSIVE r AS (SELECT id FROM users UNION ALL SELECT id + 1 FROM r WHERE id < 3) SELECT * FROM r",
            NONE,
        ),
    ]);
}

// ------------------------------------------- set operations and VALUES

#[test]
fn set_operations_read_from_each_branch() {
    check_all(&[
        (
            "SELECT legacy_email FROM users UNION SELECT email FROM users",
            READ,
        ),
        (
            "SELECT email FROM users UNION ALL SELECT legacy_email FROM users",
            READ,
        ),
        (
            "SELECT email FROM users INTERSECT SELECT legacy_email FROM users",
            READ,
        ),
        (
            "SELECT email FROM users EXCEPT SELECT legacy_email FROM users",
            READ,
        ),
        (
            "SELECT legacy_email FROM users UNION SELECT email FROM users ORDER BY legacy_email",
            READ,
        ),
        (
            "SELECT email FROM users UNION SELECT legacy_email FROM orders",
            NONE,
        ),
        (
            "SELECT * FROM (SELECT email FROM users UNION SELECT legacy_email FROM users) s",
            READ,
        ),
    ]);
}

#[test]
fn order_by_output_alias_of_a_set_operation_is_not_a_reference() {
    check(
        "SELECT email AS legacy_email FROM users UNION ALL SELECT name FROM users ORDER BY legacy_email",
        NONE,
    );
}

#[test]
fn values_lists_are_not_references() {
    check_all(&[
        ("SELECT * FROM (VALUES (1, 'a')) AS v(id, legacy_email)", NONE),
        ("VALUES (1, 'legacy_email')", NONE),
        (
            "SELECT v.legacy_email FROM users u JOIN (VALUES (1, 'x')) v(id, legacy_email) USING (id)",
            NONE,
        ),
    ]);
}

#[test]
fn lateral_subquery_reads_the_outer_row() {
    check_all(&[
        (
            "SELECT l.e FROM users u, LATERAL (SELECT u.legacy_email AS e) l",
            READ,
        ),
        (
            "SELECT l.e FROM users u CROSS JOIN LATERAL (SELECT legacy_email AS e) l",
            READ,
        ),
        (
            "SELECT l.x FROM users u JOIN LATERAL (SELECT u.id AS x) l ON true",
            NONE,
        ),
    ]);
}

#[test]
fn table_functions_in_from() {
    check_all(&[
        (
            "SELECT legacy_email, g FROM users, generate_series(1, 3) g",
            READ,
        ),
        ("SELECT g FROM users, generate_series(1, 3) g", NONE),
        (
            "SELECT x FROM users u, unnest(ARRAY[u.legacy_email]) x",
            READ,
        ),
        (
            "SELECT x FROM users u, LATERAL unnest(ARRAY[u.legacy_email]) AS t(x)",
            READ,
        ),
        (
            "SELECT legacy_email FROM users, unnest(ARRAY[1]) AS t(x)",
            READ,
        ),
        (
            "SELECT n, legacy_email FROM users, generate_series(1, 2) WITH ORDINALITY AS s(n, o)",
            READ,
        ),
    ]);
}

#[test]
fn table_function_column_named_like_the_column_is_ambiguous() {
    // PostgreSQL: ERROR column reference "legacy_email" is ambiguous.
    check_all(&[(
        "SELECT legacy_email FROM users, generate_series(1, 3) AS legacy_email",
        AMBIGUOUS,
    )]);
}

#[test]
fn column_definition_list_column_named_like_the_column_is_ambiguous() {
    // PostgreSQL: ERROR column reference "legacy_email" is ambiguous.
    check(
        "SELECT legacy_email FROM users, jsonb_to_record('{}') AS r(legacy_email text)",
        AMBIGUOUS,
    );
}

#[test]
fn column_definition_list_column_hides_the_outer_column() {
    // PostgreSQL (EXPLAIN VERBOSE): Filter: (r.legacy_email IS NULL), the inner column.
    check(
        "SELECT 1 FROM users u WHERE EXISTS (SELECT 1 FROM jsonb_to_record('{}') AS r(legacy_email text) WHERE legacy_email IS NULL)",
        NONE,
    );
}

// --------------------------------------------------------------- INSERT

#[test]
fn insert_with_column_list_writes() {
    check_all(&[
        (
            "INSERT INTO users (id, legacy_email) VALUES (1, 'a')",
            WRITE,
        ),
        (
            "INSERT INTO users (id, legacy_email) VALUES (1, DEFAULT)",
            WRITE,
        ),
        ("INSERT INTO public.users (legacy_email) VALUES ($1)", WRITE),
        (
            "INSERT INTO users (id, legacy_email) SELECT id, legacy_email FROM orders",
            WRITE,
        ),
        ("INSERT INTO users (id, email) VALUES (1, 'a')", NONE),
        ("INSERT INTO users DEFAULT VALUES", NONE),
        (
            "INSERT INTO orders (id, legacy_email) VALUES (1, 'a')",
            NONE,
        ),
        (
            "INSERT INTO archive.users (id, legacy_email) VALUES (1, 'a')",
            NONE,
        ),
    ]);
}

#[test]
fn insert_select_reading_the_column() {
    check_all(&[
        (
            "INSERT INTO orders (id, legacy_email) SELECT id, legacy_email FROM users",
            READ,
        ),
        (
            "INSERT INTO users (id) SELECT id FROM users WHERE legacy_email IS NULL",
            READ,
        ),
        (
            "INSERT INTO archive.users SELECT id, legacy_email FROM users",
            READ,
        ),
    ]);
}

#[test]
fn positional_insert_covering_the_column_writes_it() {
    let positional = &[("write", "positional", "certain")];
    check_all(&[
        ("INSERT INTO users VALUES (1, 'a', 'b', 'c')", positional),
        ("INSERT INTO users VALUES (1, 'a', 'b')", positional),
        (
            "INSERT INTO users VALUES (1, 'a', 'b', 'c'), (2, 'd', 'e', 'f')",
            positional,
        ),
        (
            "INSERT INTO users SELECT * FROM (VALUES (1, 'a', 'b')) v",
            positional,
        ),
        ("INSERT INTO users SELECT 1, 'a', 'b'", positional),
    ]);
}

#[test]
fn positional_insert_not_reaching_the_column_is_not_a_write() {
    // legacy_email is the 3rd column.
    check_all(&[
        ("INSERT INTO users VALUES (1, 'a')", NONE),
        ("INSERT INTO users SELECT 1, 'a'", NONE),
        (
            "INSERT INTO users SELECT id, email FROM archive.users",
            NONE,
        ),
        ("INSERT INTO users SELECT * FROM archive.users", NONE),
    ]);
}

#[test]
fn insert_select_star_from_itself_reads_and_writes() {
    check_all(&[
        (
            "INSERT INTO users SELECT * FROM users",
            &[
                ("read", "star", "certain"),
                ("write", "positional", "certain"),
            ],
        ),
        (
            "INSERT INTO users SELECT * FROM orders",
            &[("write", "positional", "certain")],
        ),
    ]);
}

#[test]
fn on_conflict_do_update_from_excluded_writes_and_reads() {
    check(
        "INSERT INTO users (id, legacy_email) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET legacy_email = EXCLUDED.legacy_email",
        READ_WRITE,
    );
}

#[test]
fn on_conflict_clauses_read() {
    check_all(&[
        (
            "INSERT INTO users (id) VALUES (1) ON CONFLICT (legacy_email) DO NOTHING",
            READ,
        ),
        (
            "INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET name = users.legacy_email",
            READ,
        ),
        (
            "INSERT INTO users AS u (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET name = u.legacy_email",
            READ,
        ),
        (
            "INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET name = excluded.legacy_email",
            READ,
        ),
        (
            "INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET name = 'x' WHERE users.legacy_email IS NULL",
            READ,
        ),
        // EXCLUDED is visible unqualified in DO UPDATE, so PostgreSQL says
        // ERROR column reference "legacy_email" is ambiguous.
        (
            "INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET name = legacy_email",
            AMBIGUOUS,
        ),
        (
            "INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET name = 'x' WHERE legacy_email IS NULL",
            AMBIGUOUS,
        ),
        ("INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO NOTHING", NONE),
        (
            "INSERT INTO users (id) VALUES (1) ON CONFLICT ON CONSTRAINT users_pkey DO NOTHING",
            NONE,
        ),
        (
            "INSERT INTO users (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET name = excluded.name",
            NONE,
        ),
    ]);
}

#[test]
fn insert_returning_reads() {
    check_all(&[
        (
            "INSERT INTO users (id) VALUES (1) RETURNING legacy_email",
            READ,
        ),
        ("INSERT INTO users (id) VALUES (1) RETURNING *", STAR),
        ("INSERT INTO users (id) VALUES (1) RETURNING id", NONE),
    ]);
}

// ------------------------------------------------------ UPDATE and DELETE

#[test]
fn update_set_writes() {
    check_all(&[
        ("UPDATE users SET legacy_email = NULL", WRITE),
        (
            "UPDATE users SET legacy_email = DEFAULT WHERE id = 1",
            WRITE,
        ),
        (
            "UPDATE public.users u SET legacy_email = 'x' WHERE u.id = $1",
            WRITE,
        ),
        ("UPDATE users SET (legacy_email, name) = ('a', 'b')", WRITE),
        (
            "UPDATE users SET (name, legacy_email) = (SELECT 'a', 'b')",
            WRITE,
        ),
        ("UPDATE orders SET legacy_email = NULL", NONE),
        ("UPDATE archive.users SET legacy_email = NULL", NONE),
        ("UPDATE users SET name = 'x' WHERE id = 1", NONE),
    ]);
}

#[test]
fn update_reading_the_column_is_a_read_only() {
    check_all(&[
        ("UPDATE users SET name = legacy_email", READ),
        (
            "UPDATE users SET name = 'x' WHERE legacy_email IS NULL",
            READ,
        ),
        ("UPDATE users SET name = 'x' RETURNING legacy_email", READ),
        ("UPDATE users SET name = 'x' RETURNING *", STAR),
        (
            "UPDATE users SET legacy_email = legacy_email || 'x'",
            READ_WRITE,
        ),
    ]);
}

#[test]
fn update_from_resolves_each_table() {
    check_all(&[
        (
            "UPDATE users u SET name = o.total::text FROM orders o WHERE o.user_id = u.id AND o.legacy_email IS NULL",
            NONE,
        ),
        (
            "UPDATE orders o SET legacy_email = u.legacy_email FROM users u WHERE u.id = o.user_id",
            READ,
        ),
        (
            "UPDATE users u SET legacy_email = o.legacy_email FROM orders o WHERE o.user_id = u.id",
            WRITE,
        ),
    ]);
}

#[test]
fn update_from_with_unqualified_shared_column_is_ambiguous() {
    // PostgreSQL: ERROR column reference "legacy_email" is ambiguous.
    check(
        "UPDATE users u SET name = 'x' FROM orders o WHERE o.user_id = u.id AND legacy_email IS NULL",
        AMBIGUOUS,
    );
}

#[test]
fn delete_reads_in_where_and_returning() {
    check_all(&[
        ("DELETE FROM users WHERE legacy_email IS NULL", READ),
        ("DELETE FROM users RETURNING *", STAR),
        ("DELETE FROM users u RETURNING u.legacy_email", READ),
        ("DELETE FROM users WHERE id = 1", NONE),
        (
            "DELETE FROM users USING orders o WHERE o.legacy_email = users.email",
            NONE,
        ),
        ("DELETE FROM orders WHERE legacy_email IS NULL", NONE),
    ]);
}

// ---------------------------------------------------------------- MERGE

#[test]
fn merge_update_and_insert_write() {
    check(
        "MERGE INTO users u USING orders o ON u.id = o.user_id \
         WHEN MATCHED THEN UPDATE SET legacy_email = o.legacy_email \
         WHEN NOT MATCHED THEN INSERT (id, legacy_email) VALUES (o.user_id, o.legacy_email)",
        WRITE,
    );
}

#[test]
fn merge_cases() {
    check_all(&[
        (
            "MERGE INTO users u USING orders o ON u.id = o.user_id WHEN MATCHED AND u.legacy_email IS NULL THEN DELETE",
            READ,
        ),
        (
            "MERGE INTO users u USING orders o ON u.legacy_email = o.legacy_email WHEN MATCHED THEN DO NOTHING",
            READ,
        ),
        (
            "MERGE INTO users u USING orders o ON u.id = o.user_id WHEN NOT MATCHED THEN INSERT VALUES (o.user_id, 'e', 'l')",
            &[("write", "positional", "certain")],
        ),
        (
            "MERGE INTO users u USING orders o ON u.id = o.user_id WHEN NOT MATCHED THEN INSERT VALUES (o.user_id, 'e')",
            NONE,
        ),
        (
            "MERGE INTO users u USING orders o ON u.id = o.user_id WHEN MATCHED THEN UPDATE SET name = o.legacy_email",
            NONE,
        ),
        (
            "MERGE INTO orders o USING (SELECT id, legacy_email FROM users) s ON o.user_id = s.id WHEN MATCHED THEN UPDATE SET legacy_email = s.legacy_email",
            READ,
        ),
        (
            "MERGE INTO users u USING orders o ON u.id = o.user_id WHEN MATCHED THEN UPDATE SET name = u.legacy_email",
            READ,
        ),
    ]);
}

#[test]
fn on_conflict_arbiter_where_sees_only_the_target_table() {
    // PostgreSQL accepts it: the arbiter predicate only sees the target table.
    check(
        "INSERT INTO users (id) VALUES (1) ON CONFLICT (id) WHERE legacy_email IS NOT NULL DO NOTHING",
        READ,
    );
}

// ----------------------------------------------------------------- COPY

#[test]
fn copy_table_to_is_a_positional_read() {
    check_all(&[
        ("COPY users TO STDOUT", &[("read", "positional", "certain")]),
        (
            "COPY public.users TO STDOUT WITH (FORMAT csv)",
            &[("read", "positional", "certain")],
        ),
        ("COPY orders TO STDOUT", NONE),
        ("COPY archive.users TO STDOUT", NONE),
    ]);
}

#[test]
fn copy_with_column_list() {
    check_all(&[
        ("COPY users (id, legacy_email) FROM STDIN", WRITE),
        ("COPY users (id, legacy_email) TO STDOUT", READ),
        ("COPY users (id, email) TO STDOUT", NONE),
        ("COPY users (id, email) FROM STDIN", NONE),
    ]);
}

#[test]
fn copy_from_without_column_list_is_a_positional_write() {
    check(
        "COPY users FROM STDIN",
        &[("write", "positional", "certain")],
    );
}

#[test]
fn copy_query_to_reads() {
    check_all(&[
        ("COPY (SELECT legacy_email FROM users) TO STDOUT", READ),
        ("COPY (SELECT * FROM users) TO STDOUT", STAR),
        ("COPY (SELECT id FROM users) TO STDOUT", NONE),
    ]);
}

// ------------------------------------------------- wrappers and DDL

#[test]
fn statements_wrapping_a_query_read() {
    check_all(&[
        ("CREATE TABLE x AS SELECT legacy_email FROM users", READ),
        ("CREATE TEMP TABLE x AS SELECT * FROM users", STAR),
        ("SELECT legacy_email INTO x FROM users", READ),
        ("CREATE VIEW v AS SELECT legacy_email FROM users", READ),
        (
            "CREATE VIEW v2 AS SELECT id FROM contacts",
            &[("read", "view public.contacts", "certain")],
        ),
        ("CREATE MATERIALIZED VIEW mv AS SELECT * FROM users", STAR),
        ("EXPLAIN SELECT legacy_email FROM users", READ),
        (
            "EXPLAIN (ANALYZE, VERBOSE) SELECT id FROM users WHERE legacy_email = 'x'",
            READ,
        ),
        (
            "PREPARE p AS SELECT legacy_email FROM users WHERE id = $1",
            READ,
        ),
        ("DECLARE c CURSOR FOR SELECT legacy_email FROM users", READ),
        ("CREATE TABLE x AS SELECT id FROM users", NONE),
        ("EXECUTE p(1)", NONE),
    ]);
}

#[test]
fn explain_analyze_update_writes() {
    check(
        "EXPLAIN ANALYZE UPDATE users SET legacy_email = NULL",
        WRITE,
    );
}

#[test]
fn prepared_insert_writes() {
    check(
        "PREPARE p AS INSERT INTO users (id, legacy_email) VALUES ($1, $2)",
        WRITE,
    );
}

#[test]
fn create_index_on_the_column_reads() {
    check_all(&[
        ("CREATE INDEX ON users (legacy_email)", READ),
        (
            "CREATE INDEX i ON public.users USING btree (lower(legacy_email))",
            READ,
        ),
        (
            "CREATE INDEX ON users (id) WHERE legacy_email IS NOT NULL",
            READ,
        ),
        ("CREATE INDEX ON users (id) INCLUDE (legacy_email)", READ),
        ("CREATE INDEX ON users (email)", NONE),
        ("CREATE INDEX ON orders (legacy_email)", NONE),
    ]);
}

#[test]
fn check_constraint_on_the_column_reads() {
    check(
        "ALTER TABLE users ADD CONSTRAINT c CHECK (legacy_email <> '')",
        READ,
    );
}

#[test]
fn data_modifying_ctes() {
    check_all(&[
        ("WITH d AS (DELETE FROM users RETURNING legacy_email) SELECT * FROM d", READ),
        (
            "WITH u AS (UPDATE users SET legacy_email = NULL RETURNING id) SELECT count(*) FROM u",
            WRITE,
        ),
        (
            "WITH i AS (INSERT INTO users (id, legacy_email) VALUES (1, 'a') RETURNING *) SELECT id FROM i",
            &[("write", "direct", "certain")],
        ),
        ("WITH d AS (DELETE FROM users RETURNING id) SELECT * FROM d", NONE),
    ]);
}

#[test]
fn do_block_and_function_bodies_are_resolved() {
    check_all(&[
        (
            "DO $$ BEGIN UPDATE users SET legacy_email = NULL; END $$",
            &[("write", "do_block", "certain")],
        ),
        (
            "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT legacy_email FROM users $$",
            &[("read", "function_body", "certain")],
        ),
        // A variable is not a column; a DO block's dynamic SQL is possible.
        (
            "DO $$ DECLARE legacy_email text; BEGIN SELECT email INTO legacy_email FROM users; RAISE NOTICE '%', legacy_email; END $$",
            NONE,
        ),
        (
            "DO $$ BEGIN EXECUTE 'UPDATE users SET legacy_email = NULL'; END $$",
            &[("read", "do_block", "possible")],
        ),
    ]);
}

// --------------------------------------------- multi-statement, unparseable

#[test]
fn multi_statement_string_gives_one_analysis_per_statement() {
    let a = analyze_with(
        schema(),
        &[TARGET],
        &["$user", "public"],
        "SELECT 1; UPDATE users SET legacy_email = NULL",
    );
    assert_eq!(a.statements.len(), 2);
    assert!(a.statements.iter().all(|s| s.parsed));
    assert!(
        a.statements[0].refs.is_empty(),
        "{:?}",
        a.statements[0].refs
    );
    let per = all_refs(
        schema(),
        &[TARGET],
        &["$user", "public"],
        "SELECT 1; UPDATE users SET legacy_email = NULL",
    );
    assert_eq!(
        per[1],
        BTreeSet::from([(0, "write".into(), "direct".into(), "certain".into())])
    );
}

#[test]
fn unparseable_sql_naming_the_column_is_a_possible_mention() {
    let sql = "SELEC legacy_email FROM users";
    let a = analyze_with(schema(), &[TARGET], &["$user", "public"], sql);
    assert_eq!(a.statements.len(), 1);
    assert!(!a.statements[0].parsed);
    assert!(a.statements[0].problem.is_some());
    assert_eq!(
        refs_in(schema(), TARGET, &["$user", "public"], sql),
        set(&[("read", "unparseable", "possible")])
    );
}

#[test]
fn unparseable_sql_naming_the_column_only_in_a_string_or_comment_is_not_a_reference() {
    for sql in [
        "SELEC 'legacy_email' FROM users",
        "SELEC id FROM users -- legacy_email",
        "SELEC id /* legacy_email */ FROM users",
    ] {
        let a = analyze_with(schema(), &[TARGET], &["$user", "public"], sql);
        assert!(!a.statements[0].parsed, "{sql}");
        assert_eq!(
            refs_in(schema(), TARGET, &["$user", "public"], sql),
            set(NONE),
            "{sql}"
        );
    }
}

// ---------------------------------------------------------- no schema

#[test]
fn without_schema_single_table_is_certain() {
    check_no_schema(TARGET, "SELECT legacy_email FROM users", READ);
    check_no_schema(TARGET, "SELECT u.legacy_email FROM users u, orders o", READ);
    check_no_schema(TARGET, "SELECT legacy_email FROM public.users", READ);
    check_no_schema(TARGET, "UPDATE users SET legacy_email = NULL", WRITE);
    check_no_schema(TARGET, "SELECT * FROM users", STAR);
    check_no_schema(TARGET, "SELECT legacy_email FROM orders", NONE);
}

#[test]
fn without_schema_two_tables_and_unqualified_name_is_possible() {
    check_no_schema(
        TARGET,
        "SELECT legacy_email FROM users u JOIN orders o ON u.id = o.user_id",
        AMBIGUOUS,
    );
}

#[test]
fn without_schema_whole_row_is_probable() {
    check_no_schema(
        TARGET,
        "SELECT u FROM users u",
        &[("read", "whole_row", "probable")],
    );
}

#[test]
fn without_schema_positional_insert_is_probable() {
    check_no_schema(
        TARGET,
        "INSERT INTO users VALUES (1, 'a', 'b')",
        &[("write", "positional", "probable")],
    );
}

#[test]
fn without_schema_natural_join_is_possible() {
    check_no_schema(
        TARGET,
        "SELECT 1 FROM users NATURAL JOIN orders",
        &[("read", "natural_join", "possible")],
    );
}

#[test]
fn without_schema_unqualified_table_with_target_in_another_schema_is_possible() {
    let t = "archive.users.legacy_email";
    check_no_schema(t, "SELECT legacy_email FROM users", AMBIGUOUS);
    check_no_schema(t, "SELECT legacy_email FROM archive.users", READ);
    check_no_schema(t, "SELECT legacy_email FROM public.users", NONE);
}

// ---------------------------------------------------- several targets

#[test]
fn several_targets_are_resolved_independently() {
    let targets = [TARGET, "public.orders.legacy_email"];
    let sp = ["$user", "public"];
    // The (access, via, confidence) of the references to each target.
    let check = |sql: &str, users: &[(&str, &str, &str)], orders: &[(&str, &str, &str)]| {
        let want: BTreeSet<_> = [users, orders]
            .iter()
            .enumerate()
            .flat_map(|(t, refs)| refs.iter().map(move |&(a, v, c)| (t, a, v, c)))
            .map(|(t, a, v, c)| (t, a.to_string(), v.to_string(), c.to_string()))
            .collect();
        assert_eq!(all_refs(schema(), &targets, &sp, sql), vec![want], "{sql}");
    };
    let join = "FROM users u JOIN orders o ON u.id = o.user_id";
    check(
        &format!("SELECT u.legacy_email, o.legacy_email {join}"),
        READ,
        READ,
    );
    check(&format!("SELECT legacy_email {join}"), AMBIGUOUS, AMBIGUOUS);
    let update =
        "UPDATE orders o SET legacy_email = u.legacy_email FROM users u WHERE u.id = o.user_id";
    check(update, READ, WRITE);
    let view = [("read", "view public.contacts", "certain")];
    check("SELECT * FROM contacts", &view, NONE);
}

#[test]
fn ordinal_over_a_star_names_the_column_at_that_position() {
    // users is (id, email, legacy_email, name): position 3 is legacy_email.
    check_all(&[
        (
            "SELECT * FROM users ORDER BY 3",
            &[("read", "ordinal", "certain"), ("read", "star", "certain")],
        ),
        ("SELECT * FROM users ORDER BY 2", STAR),
        (
            "SELECT u.* FROM users u GROUP BY 3, 1, 2, 4",
            &[("read", "ordinal", "certain"), ("read", "star", "certain")],
        ),
        // An ordinal over named columns is the named column itself.
        ("SELECT legacy_email FROM users ORDER BY 1", READ),
    ]);
}

#[test]
fn column_aliases_over_a_table_are_positional() {
    // users is (id, email, legacy_email, name).
    check_all(&[
        // x.c is the third column, whichever it is: dropping any of the
        // first three makes it another one.
        (
            "SELECT x.c FROM users AS x(a, b, c)",
            &[("read", "positional", "certain")],
        ),
        ("SELECT x.a FROM users AS x(a, b, c)", NONE),
        // legacy_email is past the aliases: a direct read (dropping id or
        // email would make it the column aliased b: a positional use of
        // those two, not of legacy_email).
        ("SELECT x.legacy_email FROM users AS x(a, b)", READ),
        // As many aliases as columns: dropping any column is an error.
        (
            "SELECT x.a FROM users AS x(a, b, c, d)",
            &[("read", "positional", "certain")],
        ),
    ]);
}

#[test]
fn composite_field_of_a_whole_row_is_that_column() {
    check_all(&[
        ("SELECT (u).legacy_email FROM users u", READ),
        ("SELECT (u.*).legacy_email FROM users u", READ),
        ("SELECT (u.*).name FROM users u", NONE),
    ]);
}

#[test]
fn trigger_update_of_list_and_when_condition_name_columns() {
    check_all(&[
        (
            "CREATE TRIGGER t BEFORE UPDATE OF legacy_email ON users FOR EACH ROW EXECUTE FUNCTION f()",
            READ,
        ),
        (
            "CREATE TRIGGER t AFTER UPDATE ON users FOR EACH ROW WHEN (OLD.legacy_email IS DISTINCT FROM NEW.legacy_email) EXECUTE FUNCTION f()",
            READ,
        ),
        (
            "CREATE TRIGGER t BEFORE UPDATE OF name ON users FOR EACH ROW WHEN (NEW.email IS NULL) EXECUTE FUNCTION f()",
            NONE,
        ),
    ]);
}

#[test]
fn a_cte_named_like_the_table_does_not_hide_the_table_a_statement_writes() {
    // PostgreSQL never looks the target of INSERT, UPDATE, DELETE or MERGE
    // up among the CTEs: each of these writes (or reads) public.users, and
    // fails once legacy_email is dropped.
    let write = ("write", "direct", "certain");
    let read = ("read", "direct", "certain");
    check_all(&[
        (
            "WITH users AS (SELECT 1 AS x) UPDATE users SET legacy_email = NULL WHERE id = 0",
            &[write],
        ),
        (
            "WITH users AS (SELECT 1 AS x) INSERT INTO users VALUES (2, 'p', 'q')",
            &[("write", "positional", "certain")],
        ),
        (
            "WITH users AS (SELECT 1 AS x) DELETE FROM users WHERE legacy_email IS NULL",
            &[read],
        ),
        (
            "WITH users AS (SELECT 1 AS x) UPDATE users SET id = 1 RETURNING *",
            &[("read", "star", "certain")],
        ),
        (
            "WITH users AS (SELECT 1 AS id) MERGE INTO users u USING orders o ON u.id = o.user_id WHEN MATCHED THEN UPDATE SET legacy_email = 'x'",
            &[write],
        ),
        // A read of the CTE in the same statement is still of the CTE.
        (
            "WITH users AS (SELECT 1 AS id) INSERT INTO orders (id) SELECT id FROM users",
            NONE,
        ),
    ]);
}

#[test]
fn a_column_of_an_aliased_join_is_looked_up_once_in_the_join() {
    // `(users JOIN names …) j`: j's columns are its sides'; `legacy_email`
    // is users.legacy_email alone, not "ambiguous between users and j".
    let certain = &[("read", "direct", "certain")];
    check_all(&[
        (
            "SELECT legacy_email FROM (users JOIN names n ON n.id = users.id) j",
            certain,
        ),
        (
            "SELECT j.legacy_email FROM (users JOIN names n ON n.id = users.id) j",
            certain,
        ),
        (
            "SELECT total FROM (users u JOIN orders o ON o.user_id = u.id) j WHERE legacy_email IS NULL",
            // orders has a legacy_email too: PostgreSQL calls it ambiguous.
            &[("read", "direct", "possible")],
        ),
        (
            "SELECT name FROM (users JOIN names n USING (id, name)) j",
            NONE,
        ),
    ]);
}

#[test]
fn a_cast_to_a_tables_row_type_uses_every_column() {
    // Dropping a column changes the row type: a record literal of it no
    // longer fits, and a row made from it silently loses a field.
    let whole = &[("read", "whole_row", "certain")];
    check_all(&[
        (
            "SELECT * FROM jsonb_populate_record(NULL::users, '{}')",
            whole,
        ),
        (
            "SELECT * FROM json_populate_recordset(NULL::public.users, $1)",
            whole,
        ),
        ("SELECT ('(1,a,b,c)'::users).id", whole),
        ("SELECT CAST(ROW(1, 'a', 'b', 'c') AS users)", whole),
        // Built-in types and other tables' row types are not.
        ("SELECT 'users'::text, 1::int, NULL::archive.users", NONE),
    ]);
}

// ------------------------------------------- column aliases of a join alias

/// `users` is (id, email, legacy_email, name); `mystery` is not in the
/// schema. PostgreSQL numbers a join's columns left side first (after the
/// columns USING/NATURAL merge), and `j(a, b, …)` renames the first ones by
/// position, whatever they are (checked against PostgreSQL 15).
const POSITIONAL: &[(&str, &str, &str)] = &[("read", "positional", "certain")];
const POSSIBLY_POSITIONAL: &[(&str, &str, &str)] = &[("read", "positional", "possible")];

#[test]
fn join_alias_column_list_over_an_unknown_table_renames_the_known_left_columns() {
    // Left side known: j's columns 0..3 are users' 0..3, whatever mystery
    // holds. x is legacy_email; dropping id, email or legacy_email makes x
    // another column without an error.
    let from = "FROM (users JOIN mystery m ON true) AS j(a, b, x)";
    check_all(&[
        (&format!("SELECT j.x {from}"), POSITIONAL),
        (&format!("SELECT x {from}"), POSITIONAL),
        // b is email: dropping legacy_email does not touch it.
        (&format!("SELECT j.b {from}"), NONE),
        // name is the first column past the aliases: dropping legacy_email
        // moves it under alias x (and `j.name` fails).
        (&format!("SELECT j.name {from}"), POSITIONAL),
        (&format!("SELECT j.* {from}"), STAR),
    ]);
}

#[test]
fn join_alias_column_list_after_an_unknown_table_is_a_possible_positional_use() {
    // mystery's width is unknown: x is users' column 0, 1 or 2 (or
    // mystery's), so it may be legacy_email.
    let from = "FROM (mystery m JOIN users ON true) AS j(a, b, x)";
    check_all(&[
        (&format!("SELECT j.x {from}"), POSSIBLY_POSITIONAL),
        (&format!("SELECT x {from}"), POSSIBLY_POSITIONAL),
        (
            &format!("SELECT count(*) {from} WHERE j.x IS NOT NULL"),
            POSSIBLY_POSITIONAL,
        ),
        // a and b are at positions 0 and 1: never legacy_email (users'
        // column 2), whatever mystery holds.
        (&format!("SELECT j.a, j.b {from}"), NONE),
        // legacy_email past the aliases is users.legacy_email (it is at
        // position 2 or later; at 2 it would be renamed and the name would
        // not resolve).
        (&format!("SELECT j.legacy_email {from}"), READ),
        (&format!("SELECT legacy_email {from}"), READ),
        // name may be the first column past the aliases: dropping
        // legacy_email may rename it.
        (&format!("SELECT j.name {from}"), POSSIBLY_POSITIONAL),
        (&format!("SELECT j.* {from}"), STAR),
        (
            &format!("SELECT j {from}"),
            &[("read", "whole_row", "probable")],
        ),
    ]);
}

#[test]
fn join_alias_column_list_counts_using_and_natural_columns_first() {
    // `users JOIN names USING (name)` is (name, id, email, legacy_email,
    // id): d is legacy_email, c is email.
    check_all(&[
        (
            "SELECT j.d FROM (users JOIN names USING (name)) AS j(a, b, c, d)",
            POSITIONAL,
        ),
        (
            "SELECT j.c FROM (users JOIN names USING (name)) AS j(a, b, c, d)",
            NONE,
        ),
        // NATURAL: (id, name, email, legacy_email).
        (
            "SELECT j.d FROM (users NATURAL JOIN names) AS j(a, b, c, d)",
            POSITIONAL,
        ),
        (
            "SELECT j.c FROM (users NATURAL JOIN names) AS j(a, b, c)",
            NONE,
        ),
        // FULL JOIN USING (id): (id, email, legacy_email, name, user_id, …):
        // d is name, past legacy_email.
        (
            "SELECT j.d FROM (users FULL JOIN orders USING (id)) AS j(a, b, c, d)",
            POSITIONAL,
        ),
        // An unknown side: the merged column first, then mystery's columns
        // (unknown number), then users' others.
        (
            "SELECT j.x FROM (users JOIN mystery USING (email)) AS j(a, b, x)",
            POSITIONAL,
        ),
        (
            "SELECT j.x FROM (mystery JOIN users USING (email)) AS j(a, b, x)",
            POSSIBLY_POSITIONAL,
        ),
    ]);
}

#[test]
fn nested_join_aliases_with_column_lists_rename_in_turn() {
    check_all(&[
        // k is (a, b, legacy_email, name, id, name); j's third column is
        // k's third: legacy_email.
        (
            "SELECT j.y FROM ((users JOIN names ON true) AS k(a, b) JOIN orders o ON true) AS j(p, q, y)",
            POSITIONAL,
        ),
        // With mystery first, k's b is at position 1: users' column 0 or
        // 1 at most, never legacy_email.
        (
            "SELECT j.x FROM ((mystery m JOIN users ON true) AS k(a, b) JOIN orders o ON true) AS j(p, x)",
            NONE,
        ),
        (
            "SELECT j.y FROM ((mystery m JOIN users ON true) AS k(a, b) JOIN orders o ON true) AS j(p, q, y)",
            POSSIBLY_POSITIONAL,
        ),
        // The inner alias stands for its tables: users' columns are counted
        // once.
        (
            "SELECT legacy_email FROM ((users JOIN names ON true) AS k JOIN names n2 ON true) AS j",
            READ,
        ),
    ]);
}

#[test]
fn join_alias_with_a_column_alias_for_every_column_uses_them_all() {
    // Six aliases for six columns: dropping any column is an error ("join
    // expression has 5 columns available but 6 columns specified").
    check_all(&[
        (
            "SELECT j.a FROM (users JOIN names ON true) AS j(a, b, c, d, e, f)",
            POSITIONAL,
        ),
        (
            "SELECT j.a FROM (users JOIN names ON true) AS j(a, b, c, d, e)",
            NONE,
        ),
        // With mystery, the width is unknown: five aliases may be all.
        (
            "SELECT j.a FROM (users JOIN mystery ON true) AS j(a, b, c, d, e)",
            POSSIBLY_POSITIONAL,
        ),
        (
            "SELECT j.a FROM (users JOIN mystery ON true) AS j(a, b, c)",
            NONE,
        ),
    ]);
}

#[test]
fn natural_join_with_an_unknown_table_may_join_on_any_known_column() {
    // mystery may have a legacy_email: then the join condition compares it,
    // and dropping users.legacy_email changes the rows silently.
    check_all(&[
        (
            "SELECT 1 FROM users NATURAL JOIN mystery",
            &[("read", "natural_join", "possible")],
        ),
        (
            "SELECT 1 FROM mystery NATURAL LEFT JOIN users u",
            &[("read", "natural_join", "possible")],
        ),
    ]);
}

#[test]
fn a_common_column_of_a_natural_join_named_is_a_silent_use() {
    // users and orders share id and legacy_email. Dropping
    // users.legacy_email leaves orders.legacy_email under the name: no
    // error, other rows (checked against PostgreSQL 15).
    let natural = &[("read", "natural_join", "certain")];
    check_all(&[
        (
            "SELECT legacy_email FROM users NATURAL JOIN orders",
            natural,
        ),
        (
            "SELECT j.legacy_email FROM (users NATURAL JOIN orders) j",
            natural,
        ),
        // USING names it: dropping it is an error.
        (
            "SELECT legacy_email FROM users JOIN orders USING (legacy_email)",
            READ,
        ),
    ]);
}

#[test]
fn derived_table_star_over_a_known_and_an_unknown_table_keeps_the_known_columns() {
    // `*` over users and mystery: s's columns are users' (known) and
    // mystery's (unknown); naming a users column still uses it.
    check_all(&[
        (
            "SELECT s.legacy_email FROM (SELECT * FROM mystery, users) s",
            READ,
        ),
        (
            "WITH s AS (SELECT * FROM mystery m JOIN users ON true) SELECT legacy_email FROM s",
            READ,
        ),
        (
            "SELECT s FROM (SELECT * FROM mystery JOIN users ON true) s",
            &[("read", "whole_row", "probable")],
        ),
        ("SELECT s.id FROM (SELECT * FROM mystery, users) s", NONE),
    ]);
}

#[test]
fn column_aliases_over_a_query_star_are_positional() {
    // As for a table or a join: `(SELECT * …) AS s(a, b, x)` and
    // `WITH s(a, b, x) AS (SELECT * …)` rename by position.
    check_all(&[
        (
            "SELECT s.x FROM (SELECT * FROM users) AS s(a, b, x)",
            POSITIONAL,
        ),
        ("SELECT s.b FROM (SELECT * FROM users) AS s(a, b, x)", NONE),
        (
            "SELECT s.x FROM (SELECT * FROM mystery JOIN users ON true) AS s(a, b, x)",
            POSSIBLY_POSITIONAL,
        ),
        (
            "WITH s(a, b, x) AS (SELECT * FROM mystery, users) SELECT x FROM s",
            POSSIBLY_POSITIONAL,
        ),
        (
            "SELECT s.x FROM (SELECT * FROM (mystery JOIN users ON true) AS j(a, b, x)) s",
            POSSIBLY_POSITIONAL,
        ),
        // The USING column comes first: a is legacy_email.
        (
            "SELECT s.a FROM (SELECT * FROM users JOIN mystery USING (legacy_email)) s(a)",
            &[
                ("read", "direct", "certain"),
                ("read", "positional", "certain"),
            ],
        ),
        // A named select-list column keeps its place whatever is dropped.
        (
            "SELECT s.a FROM (SELECT legacy_email, id FROM users) AS s(a, b)",
            READ,
        ),
        // Four aliases for users' four columns: dropping any is an error
        // ("WITH query "s" has 3 columns available but 4 columns
        // specified"), even unused.
        (
            "WITH s(a, b, c, d) AS (SELECT * FROM users) SELECT 1",
            POSITIONAL,
        ),
    ]);
}

#[test]
fn ordinal_past_a_star_of_unknown_width_is_not_resolved() {
    // mystery's width is unknown: ORDER BY 4 is not known to be users'
    // third column (legacy_email); users.* already uses it.
    check_all(&[
        ("SELECT m.*, u.* FROM mystery m, users u ORDER BY 4", STAR),
        (
            "SELECT u.*, m.* FROM users u, mystery m ORDER BY 3",
            &[("read", "ordinal", "certain"), ("read", "star", "certain")],
        ),
        // A join's merged columns come first: (name, id, email,
        // legacy_email, id).
        (
            "SELECT * FROM users JOIN names USING (name) ORDER BY 4",
            &[("read", "ordinal", "certain"), ("read", "star", "certain")],
        ),
        (
            "SELECT * FROM users JOIN names USING (name) ORDER BY 3",
            STAR,
        ),
    ]);
}

// ------------------------------------------- row types through views

/// Views whose columns hold rows of a relation, and views that select a
/// field of them (checked on PostgreSQL 15: `DROP COLUMN users.legacy_email`
/// is refused for "view v2 depends on column legacy_email of table users",
/// and likewise for w2, p2, f2 and, for acct.secret, s2).
const ROW_VIEWS_SQL: &str = r#"
CREATE TABLE public.users (id bigint, email text, legacy_email text, name text);
CREATE TABLE public.acct (id bigint, secret text, note text);
CREATE TABLE public.snap (id bigint, a public.acct);
CREATE VIEW public.v1 AS SELECT u.*::public.users AS r, u.id FROM public.users u;
CREATE VIEW public.v2 AS SELECT (v1.r).legacy_email AS legacy_email, v1.id FROM public.v1;
CREATE VIEW public.w1 AS SELECT u AS r FROM public.users u;
CREATE VIEW public.w2 AS SELECT (w1.r).legacy_email AS x FROM public.w1;
CREATE VIEW public.p1 AS SELECT v1.r FROM public.v1;
CREATE VIEW public.p2 AS SELECT (p1.r).legacy_email AS x FROM public.p1;
CREATE VIEW public.s1 AS SELECT snap.a AS r FROM public.snap;
CREATE VIEW public.s2 AS SELECT (s1.r).secret AS x FROM public.s1;
CREATE VIEW public.s3 AS SELECT (s1.r).note AS x FROM public.s1;
CREATE FUNCTION public.get_user(bigint) RETURNS public.users LANGUAGE sql AS $$ SELECT 1 $$;
CREATE VIEW public.f1 AS SELECT public.get_user(snap.id) AS r FROM public.snap;
CREATE VIEW public.f2 AS SELECT (f1.r).legacy_email AS x FROM public.f1;
"#;

/// (object, confidence, detail starts with "uses the column").
fn view_deps(target: &str) -> BTreeSet<(String, String, bool)> {
    let catalog = load_schema(ROW_VIEWS_SQL);
    assert!(catalog.problems.is_empty(), "{:?}", catalog.problems);
    let targets = [ColumnTarget::parse(target).expect("valid target")];
    pgcontract::schema_deps::schema_dependencies(&catalog, &targets, &["public".to_string()])
        .into_iter()
        .filter(|d| d.object_type == "view")
        .map(|d| {
            (
                d.object,
                format!("{:?}", d.confidence).to_lowercase(),
                d.detail.starts_with("uses the column"),
            )
        })
        .collect()
}

#[test]
fn a_field_of_a_row_through_another_view_is_the_underlying_column() {
    let got: BTreeSet<(String, String, bool)> = view_deps("public.users.legacy_email")
        .into_iter()
        .filter(|d| d.2)
        .collect();
    let want: BTreeSet<(String, String, bool)> = [
        ("public.v2", "certain"),
        ("public.w2", "certain"),
        ("public.p2", "certain"),
        // get_user's result type is not known here: any table's column of
        // that name may be the field.
        ("public.f2", "possible"),
    ]
    .into_iter()
    .map(|(o, c)| (o.to_string(), c.to_string(), true))
    .collect();
    assert_eq!(got, want);
    // Through a table column of acct's row type: s2 names `secret`, s3
    // another field.
    assert_eq!(
        view_deps("public.acct.secret"),
        [("public.s2".to_string(), "certain".to_string(), true)]
            .into_iter()
            .collect()
    );
    // A statement over such a view reads it through the view.
    let catalog = load_schema(ROW_VIEWS_SQL);
    let refs = refs_in(
        &catalog,
        "public.acct.secret",
        &["public"],
        "SELECT x FROM s2",
    );
    // (Reading a view reads every base column its definition uses, here
    // snap.a through s1, whose whole value is every column of acct.)
    assert_eq!(
        refs,
        set(&[
            ("read", "view public.s2", "certain"),
            ("read", "whole_row", "certain")
        ])
    );
    let refs = refs_in(
        &catalog,
        "public.acct.secret",
        &["public"],
        "SELECT x FROM s3",
    );
    assert_eq!(refs, set(&[("read", "whole_row", "certain")]));
    let refs = refs_in(
        &catalog,
        "public.acct.secret",
        &["public"],
        "SELECT (r).secret FROM s1",
    );
    assert_eq!(
        refs,
        set(&[
            ("read", "direct", "certain"),
            ("read", "whole_row", "certain")
        ])
    );
}
