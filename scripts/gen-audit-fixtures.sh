#!/usr/bin/env bash
# gen-audit-fixtures.sh [OUTDIR]  -- regenerate the pgAudit / logging set-up fixtures.
#
# Starts a throwaway PostgreSQL 15 cluster with pgaudit preloaded, creates
# database `auditdb` (schema.sql is its pg_dump --schema-only), and runs one
# workload (fixtures/audit/CASES.md) under several logging set-ups, one log
# file each.  Writes only inside OUTDIR (default: <repo>/fixtures/audit):
#   logs/session.log      pgAudit session + object logging, log_statement = none
#   logs/session.csv      the same run's csvlog, logs/session.json its jsonlog
#   logs/once.log         the same plus log_statement = all, pgaudit.log_statement_once = on
#   logs/not-logged.log   pgAudit with pgaudit.log_statement = off (<not logged>)
#   logs/write-only.log   pgaudit.log = 'write' only (reads invisible)
#   logs/duration-all.log log_statement = none, log_min_duration_statement = 0
#   logs/slow-only.log    log_statement = none, log_min_duration_statement = 200
#   logs/mod.log          log_statement = mod (writes and DDL only)
#   logs/interleaved.log  logging_collector = off: the server's stderr, with
#                         concurrent sessions writing multi-line statements
# Setup sessions run in "admin" phases whose log is thrown away.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
OUTDIR=${1:-$REPO_DIR/fixtures/audit}
mkdir -p "$OUTDIR/logs"
OUTDIR=$(cd "$OUTDIR" && pwd)

# shellcheck source=pg-throwaway.sh
source "$SCRIPT_DIR/pg-throwaway.sh"
pgt_init

PSQL="$PGT_BIN/psql"
DB=auditdb
PREFIX='%m [%p] %q[user=%u,db=%d,app=%a] '

admin() { # admin DB [psql args...]
    local db=$1; shift
    PGAPPNAME=setup "$PSQL" -X -q -v ON_ERROR_STOP=1 -h "$PGT_HOST" -p "$PGT_PORT" -U postgres -d "$db" "$@"
}

# ---------------------------------------------------------------- config
pgt_set shared_preload_libraries "'pgaudit'"
pgt_set logging_collector "on"
pgt_set log_destination "'stderr'"
pgt_set log_directory "'log'"
pgt_set log_line_prefix "'$PREFIX'"
pgt_set log_connections "on"
pgt_set log_min_error_statement "error"
pgt_set lc_messages "'C'"
pgt_set log_timezone "'UTC'"
pgt_set timezone "'UTC'"
pgt_set autovacuum "off"
pgt_set pgaudit.log_catalog "off"
pgt_set pgaudit.log_relation "on"
pgt_set pgaudit.log_parameter "on"

# quiet: no statement logging of any kind
quiet() {
    pgt_set log_statement "'none'"
    pgt_set log_min_duration_statement "-1"
    pgt_set pgaudit.log "'none'"
    pgt_set pgaudit.log_statement "on"
    pgt_set pgaudit.log_statement_once "off"
    pgt_set pgaudit.role "''"
    pgt_set logging_collector "on"
    pgt_set log_destination "'stderr'"
}
audit_objects() { pgt_set pgaudit.role "'auditor'"; }  # object audit on
phase() { # phase NAME: start the server logging to log/NAME.log
    pgt_set log_filename "'$1.log'"
    pgt_start
}

ROLES=(r_reader r_report r_func r_writer r_extended r_prepared r_multi r_ddl
       r_decoy r_names r_error r_do r_slow r_conc1 r_conc2 r_conc3 r_conc4)

quiet
phase admin
admin postgres -c "CREATE DATABASE $DB"
{
    echo "CREATE EXTENSION pgaudit;"
    echo "CREATE ROLE auditor NOLOGIN;"
    for r in "${ROLES[@]}"; do echo "CREATE ROLE $r LOGIN;"; done
    cat <<'SQL'
CREATE TABLE public.users (id bigint PRIMARY KEY, email text NOT NULL, legacy_email text, name text);
CREATE TABLE public.orders (id bigint PRIMARY KEY, user_id bigint REFERENCES public.users(id), total numeric(12,2), old_status text, status text);
CREATE TABLE public.newsletter (id bigint PRIMARY KEY, legacy_email text);
CREATE FUNCTION public.get_email(uid bigint) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT legacy_email FROM public.users WHERE id = uid);
END
$$;
-- object audit: statements touching these columns get AUDIT: OBJECT lines
GRANT SELECT (legacy_email), UPDATE (legacy_email) ON public.users TO auditor;
GRANT SELECT (old_status), UPDATE (old_status) ON public.orders TO auditor;
INSERT INTO public.users (id, email, legacy_email, name)
SELECT i, 'user' || i || '@example.com', 'secret-legacy' || i || '@example.com', 'User ' || i
FROM generate_series(1, 10) AS i;
INSERT INTO public.orders (id, user_id, total, old_status, status) VALUES
  (1, 1, 10.00, 'NEW', 'new'), (2, 2, 25.50, 'PAID', 'paid'), (3, 3, 99.99, 'SHIP', 'shipped');
INSERT INTO public.newsletter (id, legacy_email) VALUES (1, 'secret-news1@example.com');
SQL
    for r in "${ROLES[@]}"; do
        echo "GRANT ALL ON ALL TABLES IN SCHEMA public TO $r;"
    done
    echo "ALTER TABLE public.users OWNER TO r_ddl;   -- COMMENT ON COLUMN needs ownership"
} | admin "$DB" -f -
pgt_pg_dump -U postgres --schema-only "$DB" > "$OUTDIR/schema.sql"
pgt_stop

cat > "$PGT_DIR/extended.sql" <<'SQL'
\set uid random(1, 10)
SELECT legacy_email FROM users WHERE id = :uid;
SQL

# c ROLE APP [-c SQL]...   one psql session; each -c is one simple query.
c() {
    local role=$1 app=$2; shift 2
    PGAPPNAME=$app "$PSQL" -X -q -v ON_ERROR_STOP=0 -h "$PGT_HOST" -p "$PGT_PORT" -U "$role" -d "$DB" "$@" >/dev/null
}
bench() { # bench ROLE APP CLIENTS TXNS SCRIPT
    PGAPPNAME=$2 "$PGT_BIN/pgbench" -n -M extended -c "$3" -j "$3" -t "$4" --random-seed=42 -f "$5" \
        -h "$PGT_HOST" -p "$PGT_PORT" -U "$1" "$DB" >/dev/null 2>"$PGT_DIR/pgbench.err" \
        || { cat "$PGT_DIR/pgbench.err" >&2; return 1; }
}

# The full workload (cases 1-12 of CASES.md).
workload() {
    c r_reader reader \
        -c "SELECT id, legacy_email FROM users WHERE id = 1" \
        -c "SELECT id, legacy_email FROM users WHERE id = 1"
    c r_report report -c "SELECT u.id,
       u.legacy_email AS contact, 'secret,comma' AS tag,
       o.old_status
  FROM users u
  JOIN orders o ON o.user_id = u.id"
    c r_func func-caller -c "SELECT get_email(1)"
    c r_writer writer -c "UPDATE orders SET old_status = 'secret-status' WHERE id = 1"
    bench r_extended pgbench-extended 1 3 "$PGT_DIR/extended.sql"
    c r_prepared prepared \
        -c "PREPARE q(bigint, text) AS SELECT old_status FROM orders WHERE id = \$1 AND status <> \$2" \
        -c "EXECUTE q(2, 'secret-param')" -c "EXECUTE q(3, 'secret-param')"
    c r_multi multi-statement -c "SELECT 1 AS one; UPDATE users SET legacy_email = NULL WHERE id = 9"
    c r_ddl migration -c "COMMENT ON COLUMN users.legacy_email IS 'secret-comment'"
    c r_decoy newsletter -c "SELECT legacy_email FROM newsletter"
    c r_names names -c "SELECT id, name FROM users WHERE id = 2"
    if c r_error failing -c "SELECT legacy_email, 1/0 FROM users" 2>/dev/null; then
        echo "gen-audit-fixtures: r_error unexpectedly succeeded" >&2; return 1
    fi
    c r_do do-block -c "DO \$\$ BEGIN PERFORM legacy_email FROM users WHERE id = 3; END \$\$"
}

# A smaller workload for the set-ups that hide something (cases 1, 4, 10, 13):
# reads of legacy_email, a write of old_status, a read of other columns, and
# one slow statement that reads old_status.
reduced() {
    c r_reader reader -c "SELECT id, legacy_email FROM users WHERE id = 1"
    c r_writer writer -c "UPDATE orders SET old_status = 'secret-status' WHERE id = 1"
    c r_names names -c "SELECT id, name FROM users WHERE id = 2"
    c r_slow slow-report -c "SELECT pg_sleep(0.4), old_status FROM orders WHERE id = 2"
}

# ---------------------------------------------------------------- runs
quiet
pgt_set pgaudit.log "'read, write, function, ddl'"
audit_objects
pgt_set log_destination "'stderr,csvlog,jsonlog'"   # session.log, session.csv, session.json
phase session
workload
pgt_stop

quiet
pgt_set pgaudit.log "'read, write, function, ddl'"
pgt_set pgaudit.log_statement_once "on"
pgt_set log_statement "'all'"
audit_objects
phase once
workload
pgt_stop

quiet
pgt_set pgaudit.log "'read, write'"
pgt_set pgaudit.log_statement "off"
audit_objects
phase not-logged
reduced
pgt_stop

quiet
pgt_set pgaudit.log "'write'"
phase write-only                       # no object audit either: reads are invisible
reduced
pgt_stop

quiet
pgt_set log_min_duration_statement "0"
phase duration-all
workload
pgt_stop

quiet
pgt_set log_min_duration_statement "200"
phase slow-only
reduced
pgt_stop

quiet
pgt_set log_statement "'mod'"
phase mod
reduced
pgt_stop

for f in session once not-logged write-only duration-all slow-only mod; do
    cp "$PGT_DATA/log/$f.log" "$OUTDIR/logs/$f.log"
    chmod 0644 "$OUTDIR/logs/$f.log"
done
for f in session.csv session.json; do
    cp "$PGT_DATA/log/$f" "$OUTDIR/logs/$f"
    chmod 0644 "$OUTDIR/logs/$f"
done

# ---------------------------------------------------------------- interleaved
# logging_collector = off: every backend writes to the server's stderr
# (pg_ctl -l file) directly, so the messages of concurrent sessions interleave.
quiet
pgt_set logging_collector "off"
pgt_set log_statement "'all'"
pgt_set log_min_duration_statement "0"
: > "$PGT_DIR/pg_ctl.log"
pgt_start
: > "$PGT_DIR/pg_ctl.log"   # drop the start-up lines (written before any client)
conc() { # conc ROLE N: N multi-line statements, each a separate simple query
    local role=$1 n=$2 i args=()
    for ((i = 1; i <= n; i++)); do
        args+=(-c "SELECT u.id,
	u.legacy_email
  FROM users u
 WHERE u.id = $(( i % 10 + 1 ))")
        args+=(-c "UPDATE orders
   SET old_status = 'secret-$role-$i'
 WHERE id = $(( i % 3 + 1 ))")
    done
    c "$role" "conc-$role" "${args[@]}"
}
conc r_conc1 40 & p1=$!
conc r_conc2 40 & p2=$!
conc r_conc3 40 & p3=$!
bench r_conc4 conc-bench 2 30 "$PGT_DIR/extended.sql" & p4=$!
wait "$p1" "$p2" "$p3" "$p4"
pgt_stop
grep -v -e 'received fast shutdown' -e 'aborting any active' -e 'background worker' \
        -e 'shutting down' -e 'checkpoint ' -e 'database system is shut down' \
        "$PGT_DIR/pg_ctl.log" > "$OUTDIR/logs/interleaved.log"
chmod 0644 "$OUTDIR/logs/interleaved.log"

# ---------------------------------------------------------------- sanity checks
fail() { echo "gen-audit-fixtures: check failed: $*" >&2; exit 1; }
L=$OUTDIR/logs
grep -q 'AUDIT: SESSION,1,3,READ,SELECT,TABLE,public.users' "$L/session.log" || fail "session.log: no function substatement"
grep -q 'TABLE COLUMN,public.users.legacy_email' "$L/session.log" || fail "session.log: no TABLE COLUMN line"
grep -q '<previously logged>' "$L/once.log" || fail "once.log: no <previously logged>"
grep -q ',"2,secret-param"$' "$L/session.log" || fail "session.log: no parameter field with a value"
grep -q '<not logged>' "$L/not-logged.log" || fail "not-logged.log: no <not logged>"
grep -q 'READ' "$L/write-only.log" && fail "write-only.log: READ class logged"
grep -q 'duration: .* statement: SELECT pg_sleep' "$L/slow-only.log" || fail "slow-only.log: slow statement missing"
[ "$(grep -c 'duration:' "$L/slow-only.log" || true)" -eq 1 ] || fail "slow-only.log: expected exactly one duration line"
grep -q 'statement: SELECT' "$L/mod.log" && fail "mod.log: a SELECT was logged"
[ "$(grep -c 'LOG:  statement: SELECT u.id,' "$L/interleaved.log" || true)" -eq 120 ] || fail "interleaved.log: expected 120 multi-line SELECTs"
[ "$(grep -c 'LOG:  statement: UPDATE orders$' "$L/interleaved.log" || true)" -eq 120 ] || fail "interleaved.log: expected 120 multi-line UPDATEs"
[ "$(grep -c 'execute <unnamed>: SELECT legacy_email' "$L/interleaved.log" || true)" -eq 60 ] || fail "interleaved.log: expected 60 extended executes"
echo "gen-audit-fixtures: wrote $OUTDIR"
