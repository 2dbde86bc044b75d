#!/usr/bin/env bash
# gen-value-shapes-fixture.sh -- regenerates fixtures/value_shapes from a real,
# throwaway PostgreSQL 15 server: statements whose normalised texts are alike
# but which resolve differently (DO blocks and CREATE FUNCTION bodies,
# ORDER BY / GROUP BY positions), writes whose target table a CTE of the
# same name does not hide, uses through a table's row type, and a SET
# search_path inside a text of several statements; logged with
# log_statement = all.
#   scripts/gen-value-shapes-fixture.sh [OUTDIR]   (default <repo>/fixtures/value_shapes)
# Writes OUTDIR/schema.sql (pg_dump -s) and OUTDIR/server.log, and
# OUTDIR/no-session.log: a session's SET search_path logged with a prefix
# that has no %p or %c (its later statements cannot be tied to it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUTDIR=${1:-$ROOT/fixtures/value_shapes}
mkdir -p "$OUTDIR"
# shellcheck source=scripts/pg-throwaway.sh
source "$ROOT/scripts/pg-throwaway.sh"
pgt_init
pgt_set logging_collector "on"
pgt_set log_destination "'stderr'"
pgt_set log_directory "'log'"
pgt_set log_filename "'admin.log'"
pgt_set log_line_prefix "'%m [%p] %q%u@%d/%a '"
pgt_set lc_messages "'C'"
pgt_set log_timezone "'UTC'"
pgt_set autovacuum "off"
pgt_start
pgt_psql -U postgres -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE public.users (id bigint, name text, legacy_email text);
CREATE SCHEMA archive;
CREATE TABLE archive.users (id bigint, legacy_email text);
CREATE ROLE app LOGIN;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.users TO app;
GRANT USAGE ON SCHEMA archive TO app;
GRANT SELECT ON archive.users TO app;
-- A table whose row type is another table's column type.
CREATE TABLE public.acct (id bigint, secret text, note text);
CREATE TABLE public.snap (id bigint, a public.acct);
GRANT SELECT, INSERT ON public.acct, public.snap TO app;
-- A deferred foreign key, for a COMMIT that fails.
CREATE TABLE public.dc (id int PRIMARY KEY, r int REFERENCES public.dc (id) DEFERRABLE INITIALLY DEFERRED);
GRANT SELECT, INSERT ON public.dc TO app;
-- A role with a schema of its own name ("$user").
CREATE ROLE owner LOGIN;
CREATE SCHEMA AUTHORIZATION owner;
CREATE TABLE owner.users (id bigint, legacy_email text);
ALTER TABLE owner.users OWNER TO owner;
GRANT SELECT ON public.users TO owner;
-- app may SET ROLE owner: "$user" is then owner.
GRANT owner TO app;
SQL
pgt_pg_dump -h "$PGT_HOST" -p "$PGT_PORT" -U postgres -s postgres > "$OUTDIR/schema.sql"
pgt_stop
pgt_set log_statement "'all'"
pgt_set log_filename "'workload.log'"
pgt_start
# Each in a session of its own, named by application_name.
run() {
    PGAPPNAME=$1 pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=1 -c "$2"
}
# DO blocks: one reads name, the next legacy_email (normalised alike: do $1).
run do_name 'DO $$ BEGIN PERFORM name FROM users; END $$'
run do_email 'DO $$ BEGIN PERFORM legacy_email FROM users; END $$'
# Functions of one head, created in turn with other bodies.
run fn_name "CREATE OR REPLACE FUNCTION pg_temp.f() RETURNS bigint LANGUAGE sql AS \$\$ SELECT count(name) FROM users \$\$"
run fn_email "CREATE OR REPLACE FUNCTION pg_temp.f() RETURNS bigint LANGUAGE sql AS \$\$ SELECT count(legacy_email) FROM users \$\$"
# Positions: the 3rd output column of * is legacy_email, the 2nd is name.
run order_2 'SELECT * FROM users ORDER BY 2'
run order_3 'SELECT * FROM users ORDER BY 3'
run group_1 'SELECT *, count(*) FROM users GROUP BY 1, 2, 3'
# A CTE named like the table a statement writes does not hide the table.
run cte_update 'WITH users AS (SELECT 1 AS x) UPDATE users SET legacy_email = NULL WHERE id = 0'
run cte_insert "WITH users AS (SELECT 1 AS x) INSERT INTO users VALUES (2, 'p', 'q')"
run cte_delete 'WITH users AS (SELECT 1 AS x) DELETE FROM users WHERE legacy_email IS NULL'
# Row types: a field of a column of acct's row type, a cast to it (as
# jsonb_populate_record takes), and the whole value.
run row_field 'SELECT (a).secret FROM snap'
run row_other_field 'SELECT (a).note FROM snap'
run row_cast "SELECT * FROM jsonb_populate_record(NULL::acct, '{}')"
run row_whole "INSERT INTO snap VALUES (1, ROW(1, 'x', 'y'))"
# Texts alike but for their values: each resolves with its own path, and
# DO blocks in any form with their own bodies.
run path_archive "SET search_path TO 'archive' ; SELECT legacy_email FROM users"
run path_public "SET search_path TO 'public' ; SELECT legacy_email FROM users"
run config_app "SELECT set_config('application_name', 'archive', false) ; SELECT legacy_email FROM users"
run config_path "SELECT set_config('search_path', 'archive', false) ; SELECT legacy_email FROM users"
run do_lang_name 'DO LANGUAGE plpgsql $$ BEGIN PERFORM name FROM users; END $$'
run do_lang_email 'DO LANGUAGE plpgsql $$ BEGIN PERFORM legacy_email FROM users; END $$'
PGAPPNAME=path_user pgt_psql -U owner -d postgres -q -v ON_ERROR_STOP=1 \
    -c 'SET search_path = "$user", public ; SELECT legacy_email FROM users'
# Transaction-scoped paths: SET LOCAL and set_config(…, true) end with the
# transaction; a SET in a transaction rolled back is undone. In texts of
# their own, and inside one text.
PGAPPNAME=txn_local pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
BEGIN;
SET LOCAL search_path = archive;
SELECT max(legacy_email) FROM users;
COMMIT;
SELECT min(legacy_email) FROM users;
BEGIN;
SELECT set_config('search_path', 'archive', true);
SELECT max(legacy_email) FROM users;
COMMIT;
SELECT min(legacy_email) FROM users;
BEGIN;
SET search_path = archive;
ROLLBACK;
SELECT count(legacy_email) FROM users;
SQL
run txn_one_text 'BEGIN ; SET LOCAL search_path = archive ; SELECT max(legacy_email) FROM users ; COMMIT ; SELECT min(legacy_email) FROM users'
# ROLLBACK TO SAVEPOINT undoes the path set since the savepoint (the SET
# LOCAL made before it stays); RELEASE keeps it. Both reads are of archive.
PGAPPNAME=txn_savepoint pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
BEGIN;
SET LOCAL search_path = archive;
SAVEPOINT s1;
SET LOCAL search_path = public;
ROLLBACK TO SAVEPOINT s1;
SELECT max(legacy_email) FROM users;
SAVEPOINT "S2";
SET LOCAL search_path = archive;
RELEASE "S2";
SELECT min(legacy_email) FROM users;
COMMIT;
SQL
# A text of several statements that ends (COMMIT, ROLLBACK) or rolls back
# to a savepoint part of the transaction it runs in: its read after that is
# of public, as the session's path is then.
PGAPPNAME=txn_commit_text pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
BEGIN;
SET LOCAL search_path = archive;
COMMIT \; SELECT min(legacy_email) FROM users;
SQL
PGAPPNAME=txn_savepoint_text pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
BEGIN;
SAVEPOINT a \; SET search_path = archive \; ROLLBACK TO a \; SELECT max(legacy_email) FROM users;
COMMIT;
SQL
PGAPPNAME=txn_rollback_text pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
BEGIN;
SET search_path = archive \; ROLLBACK \; SELECT count(legacy_email) FROM users;
SQL
# Errors: an error aborts the transaction, whose COMMIT then rolls back the
# SET made in it; an error in a text of several statements outside a
# transaction undoes the SET before it in that text. Both reads are of
# public.
PGAPPNAME=txn_error_commit pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=0 <<'SQL' || true
BEGIN;
SET search_path = archive;
SELECT 1/0;
COMMIT;
SELECT max(legacy_email) FROM users;
SQL
PGAPPNAME=text_error pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=0 <<'SQL' || true
SET search_path = archive \; SELECT 1/0;
SELECT min(legacy_email) FROM users;
SQL
# Where a text of several statements fails matters: a SET committed before
# the failure stays (archive); a COMMIT before it ended the transaction, so
# its SET LOCAL is gone (public). A BEGIN after a SET in one text makes the
# SET part of the transaction its ROLLBACK undoes (public). A COMMIT that
# fails on a deferred constraint rolls back (public).
PGAPPNAME=err_after_commit pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=0 <<'SQL' || true
SET search_path = archive \; COMMIT \; SELECT 1/0;
SELECT max(legacy_email) FROM users;
SQL
PGAPPNAME=err_commit_first pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=0 <<'SQL' || true
BEGIN;
SET LOCAL search_path = archive;
COMMIT \; SELECT 1/0;
SELECT min(legacy_email) FROM users;
SQL
PGAPPNAME=set_then_begin pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=0 <<'SQL' || true
SET search_path = archive \; BEGIN \; SELECT 1;
ROLLBACK;
SELECT count(legacy_email) FROM users;
SQL
PGAPPNAME=failed_commit pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=0 <<'SQL' || true
BEGIN;
SET search_path = archive;
INSERT INTO public.dc VALUES (1, 99);
COMMIT;
SELECT max(legacy_email) FROM users;
SQL
# A transaction begun inside a text of several statements: the SET LOCAL
# after it lasts to its COMMIT, so the read is of archive.
PGAPPNAME=txn_begin_text pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
BEGIN \; SELECT 1;
SET LOCAL search_path = archive;
SELECT max(legacy_email) FROM users;
COMMIT;
SQL
# A SET search_path inside a text of several statements (psql's \; sends
# one query): the statements before it read public.users, those after it
# (in that text and later ones) archive.users.
PGAPPNAME=multi pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
SELECT legacy_email FROM users WHERE id = 1 \; SET search_path = archive, public \; SELECT count(legacy_email) FROM users;
SELECT max(legacy_email) FROM users;
SQL
# SET ROLE and SET SESSION AUTHORIZATION change what "$user" (app has no
# schema of its name; owner has one, with a users table) stands for: the
# path "$user", public reads owner.users while owner is the current user,
# public.users before and after. SET LOCAL ROLE ends with its transaction,
# a SET ROLE rolled back (also to a savepoint) is undone, DISCARD ALL
# resets it; in a text of several statements it applies from there on.
PGAPPNAME=role_set pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
SET ROLE owner;
SELECT max(legacy_email) FROM users;
RESET ROLE;
SELECT min(legacy_email) FROM users;
SQL
PGAPPNAME=role_local pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
BEGIN;
SET LOCAL ROLE owner;
SELECT max(legacy_email) FROM users;
COMMIT;
SELECT min(legacy_email) FROM users;
SQL
PGAPPNAME=role_rollback pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
BEGIN;
SET ROLE owner;
ROLLBACK;
SELECT max(legacy_email) FROM users;
BEGIN;
SAVEPOINT s;
SET ROLE owner;
ROLLBACK TO SAVEPOINT s;
SELECT min(legacy_email) FROM users;
COMMIT;
SET ROLE owner;
DISCARD ALL;
SELECT count(legacy_email) FROM users;
SQL
PGAPPNAME=role_text pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
SELECT count(legacy_email) FROM users \; SET ROLE owner \; SELECT max(legacy_email) FROM users;
SQL
PGAPPNAME=role_auth pgt_psql -U postgres -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
SET SESSION AUTHORIZATION owner;
SELECT max(legacy_email) FROM users;
RESET SESSION AUTHORIZATION;
SELECT min(legacy_email) FROM users;
SQL
pgt_stop
cp "$PGT_DATA/log/workload.log" "$OUTDIR/server.log"
pgt_set log_line_prefix "'%m %u@%d '"
pgt_set log_filename "'no-session.log'"
pgt_start
PGAPPNAME=path pgt_psql -U app -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
SET search_path = public;
SELECT name FROM users;
SQL
pgt_stop
cp "$PGT_DATA/log/no-session.log" "$OUTDIR/no-session.log"
chmod 644 "$OUTDIR"/*.log
