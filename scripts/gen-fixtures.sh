#!/usr/bin/env bash
# gen-fixtures.sh [OUTDIR]  -- regenerate the pgcontract integration fixtures.
#
# Starts a throwaway PostgreSQL 15 cluster, creates database `appdb`, and runs
# the same workload (26 cases, see fixtures/app/CASES.md) seven times: with three
# log_line_prefix settings, for pg_stat_statements with track = all, with a prefix
# using many escapes (%c %l %q, padding ...), log_error_verbosity = verbose, and
# through syslog.  The first run also writes
# csvlog and jsonlog.  Writes only inside OUTDIR (default: <repo>/fixtures/app):
#   logs/custom.log logs/custom.csv logs/custom.json logs/rds.log logs/default.log
#   logs/escapes.log logs/verbose.log logs/syslog-{bsd,iso,rfc5424}.log
#   logs/multiline.{log,csv,json} logs/multiline-syslog-{bsd,iso,rfc5424}.log  (a small
#       workload of multi-line, tab-holding and >900-byte statements, one run
#       written to stderr, csvlog, jsonlog and syslog at once)
#   pgss/pgss-names.csv pgss/pgss-oids.csv   (exactly one workload run: the custom one)
#   pgss/pgss-all.{csv,ndjson,json}          (a fourth run with pg_stat_statements.track = all
#                                             and a function case; CSV, row_to_json, json_agg)
#   schema.sql                                (pg_dump --schema-only of appdb, before workload)
# Setup/reseed/export sessions run in separate server "admin" phases whose log is
# thrown away, so the logs contain only the workload.
# The syslog run needs root (a private mount namespace gives the server a
# /dev/log that leads to a throwaway rsyslogd); without root it is skipped.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
OUTDIR=${1:-$REPO_DIR/fixtures/app}
mkdir -p "$OUTDIR/logs" "$OUTDIR/pgss"
OUTDIR=$(cd "$OUTDIR" && pwd)

# shellcheck source=pg-throwaway.sh
source "$SCRIPT_DIR/pg-throwaway.sh"
pgt_init

PSQL="$PGT_BIN/psql"
DB=appdb
# admin sessions: invisible to pg_stat_statements
ADMIN_OPTS='-c pg_stat_statements.track=none'

admin() { # admin DB [psql args...]   (superuser postgres, app "setup")
    local db=$1; shift
    PGOPTIONS="$ADMIN_OPTS" PGAPPNAME=setup \
        "$PSQL" -X -q -v ON_ERROR_STOP=1 -h "$PGT_HOST" -p "$PGT_PORT" -U postgres -d "$db" "$@"
}

# ---------------------------------------------------------------- config
pgt_set shared_preload_libraries "'pg_stat_statements'"
pgt_set pg_stat_statements.track "top"
pgt_set compute_query_id "on"
pgt_set logging_collector "on"
pgt_set log_destination "'stderr'"
pgt_set log_directory "'log'"          # relative to the data dir
pgt_set log_statement "'all'"
pgt_set log_connections "on"
pgt_set log_disconnections "on"
pgt_set log_min_error_statement "error"
pgt_set lc_messages "'C'"
pgt_set log_timezone "'UTC'"
pgt_set timezone "'UTC'"
pgt_set autovacuum "off"               # keep the run quiet and repeatable

admin_phase() { # start the server with a throw-away log file
    pgt_set log_filename "'admin.log'"
    pgt_set log_line_prefix "'%m [%p] user=%u,db=%d,app=%a,client=%h '"
    pgt_start
}
run_phase() { # run_phase NAME PREFIX
    pgt_set log_filename "'$1.log'"
    pgt_set log_line_prefix "'$2'"
    pgt_start
}
reseed() { # between runs: a fresh copy of the data, outside the workload logs
    admin_phase
    echo "$SEED_SQL" | admin "$DB" -f -
    pgt_stop
}

# ---------------------------------------------------------------- syslog
# A throwaway rsyslogd listening on a socket in PGT_DIR writes PostgreSQL's
# messages three times: with BSD and with ISO (RFC 3339) timestamps, and as
# RFC 5424 records (rsyslog's RSYSLOG_SyslogProtocol23Format).
RSYSLOG_PID=""
RSYSLOG_NAME=""
start_rsyslog() { # start_rsyslog NAME  -> $PGT_DIR/NAME-{bsd,iso,rfc5424}.log
    RSYSLOG_NAME=$1
    cat > "$PGT_DIR/rsyslog.conf" <<CONF
global(workDirectory="$PGT_DIR")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$PGT_DIR/syslog.sock" RateLimit.Interval="0")
template(name="bsd" type="string" string="%TIMESTAMP% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\n")
template(name="iso" type="string" string="%TIMESTAMP:::date-rfc3339% %HOSTNAME% %syslogtag%%msg:::sp-if-no-1st-sp%%msg:::drop-last-lf%\n")
if \$programname == "postgres" then {
  action(type="omfile" file="$PGT_DIR/$1-bsd.log" template="bsd")
  action(type="omfile" file="$PGT_DIR/$1-iso.log" template="iso")
  action(type="omfile" file="$PGT_DIR/$1-rfc5424.log" template="RSYSLOG_SyslogProtocol23Format")
}
CONF
    (umask 000; exec /usr/sbin/rsyslogd -n -f "$PGT_DIR/rsyslog.conf" -i "$PGT_DIR/rsyslogd.pid") &
    RSYSLOG_PID=$!
    local i
    for i in $(seq 100); do [ -S "$PGT_DIR/syslog.sock" ] && return 0; sleep 0.1; done
    echo "gen-fixtures: rsyslogd did not create its socket" >&2; return 1
}
stop_rsyslog() {
    [ -n "$RSYSLOG_PID" ] || return 0
    # rsyslogd drops what is still queued when it is stopped (after its
    # shutdown timeout), which a loaded machine can reach: wait until the
    # server's last message is written to both files first.
    local i f
    for i in $(seq 300); do
        for f in "$PGT_DIR/$RSYSLOG_NAME-bsd.log" "$PGT_DIR/$RSYSLOG_NAME-iso.log" "$PGT_DIR/$RSYSLOG_NAME-rfc5424.log"; do
            grep -q 'database system is shut down' "$f" 2>/dev/null || { sleep 0.1; continue 2; }
        done
        break
    done
    kill "$RSYSLOG_PID" 2>/dev/null || true
    wait "$RSYSLOG_PID" 2>/dev/null || true
    RSYSLOG_PID=""
}
trap 'rc=$?; stop_rsyslog; (exit $rc); pgt_cleanup' EXIT

# ---------------------------------------------------------------- setup
ROLES=(r_direct r_star r_alias_star r_whole_row r_positional r_insert_cols
       r_update_rw r_returning r_upsert r_copy_all r_copy_cols r_ctas
       r_join_using r_subquery r_cte r_quoted r_multi r_error r_extended
       r_prepared r_orders r_view_reader r_decoy_table r_decoy_schema
       r_comment_string r_view_other)

SEED_SQL="
TRUNCATE public.orders, public.users, public.newsletter, archive.users;
INSERT INTO public.users (id, email, legacy_email, name, created_at)
SELECT i, 'user' || i || '@example.com', 'secret-legacy' || i || '@example.com', 'User ' || i,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 day'
FROM generate_series(1, 10) AS i;
INSERT INTO public.orders (id, user_id, total, old_status, status) VALUES
  (1, 1, 10.00, 'NEW',  'new'),
  (2, 2, 25.50, 'PAID', 'paid'),
  (3, 3, 99.99, 'SHIP', 'shipped'),
  (4, 1,  5.00, NULL,   'new');
INSERT INTO public.newsletter (id, legacy_email) VALUES
  (1, 'secret-news1@example.com'), (2, 'secret-news2@example.com');
INSERT INTO archive.users (id, legacy_email) VALUES
  (1, 'secret-archived1@example.com'), (2, 'secret-archived2@example.com');
"

admin_phase
admin postgres -c "CREATE DATABASE $DB" -c "CREATE EXTENSION pg_stat_statements"
{
    for r in "${ROLES[@]}"; do echo "CREATE ROLE $r LOGIN;"; done
    cat <<'SQL'
CREATE SCHEMA archive;
CREATE TABLE public.users (id bigint PRIMARY KEY, email text NOT NULL, legacy_email text, name text, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE public.orders (id bigint PRIMARY KEY, user_id bigint REFERENCES public.users(id), total numeric(12,2), old_status text, status text);
CREATE TABLE public.newsletter (id bigint PRIMARY KEY, legacy_email text);
CREATE TABLE archive.users (id bigint PRIMARY KEY, legacy_email text);
CREATE VIEW public.user_contacts AS SELECT id, legacy_email FROM public.users;
CREATE VIEW public.user_names AS SELECT id, name FROM public.users;
SQL
    for r in "${ROLES[@]}"; do
        echo "GRANT USAGE ON SCHEMA archive TO $r;"
        echo "GRANT ALL ON ALL TABLES IN SCHEMA public, archive TO $r;"
    done
    echo "$SEED_SQL"
} | admin "$DB" -f -
pgt_pg_dump -U postgres --schema-only "$DB" > "$OUTDIR/schema.sql"

cat > "$PGT_DIR/extended.sql" <<'SQL'
\set uid random(1, 10)
SELECT legacy_email FROM users WHERE id = :uid;
SQL
cat > "$PGT_DIR/prepared.sql" <<'SQL'
\set oid random(1, 3)
UPDATE orders SET old_status = status WHERE id = :oid;
SQL

# ---------------------------------------------------------------- workload
# c ROLE APP KIND [-c SQL]...   one psql session; each -c is one simple query.
c() {
    local role=$1 app=$2 kind=$3 host=$PGT_HOST; shift 3
    [ "$kind" = local ] && host=$PGT_DIR
    PGAPPNAME=$app "$PSQL" -X -q -v ON_ERROR_STOP=0 -h "$host" -p "$PGT_PORT" -U "$role" -d "$DB" "$@" >/dev/null
}
bench() { # bench ROLE APP MODE TXNS SCRIPT
    PGAPPNAME=$2 "$PGT_BIN/pgbench" -n -M "$3" -c 1 -t "$4" --random-seed=42 -f "$5" \
        -h "$PGT_HOST" -p "$PGT_PORT" -U "$1" "$DB" >/dev/null 2>"$PGT_DIR/pgbench.err" \
        || { cat "$PGT_DIR/pgbench.err" >&2; return 1; }
}

workload() {
    c r_direct direct-reader tcp \
        -c "SELECT id, legacy_email FROM users WHERE id = 1;" \
        -c "SELECT id, legacy_email FROM users WHERE id = 1;" \
        -c "SELECT id, legacy_email FROM users WHERE id = 1;"
    c r_star bi-report tcp -c "SELECT * FROM users;"
    c r_alias_star alias-star tcp -c "SELECT u.* FROM users u WHERE u.id = 2;"
    c r_whole_row whole-row tcp \
        -c "SELECT u FROM users u WHERE u.id = 3;" \
        -c "SELECT row_to_json(u) FROM users u;"
    c r_positional positional-insert tcp \
        -c "INSERT INTO users VALUES (100, 'p@example.com', 'secret-positional@example.com', 'P', now());"
    c r_insert_cols insert-cols tcp \
        -c "INSERT INTO users (id, email, legacy_email) VALUES (101, 'a@example.com', 'secret-insert@example.com');"
    c r_update_rw update-rw tcp -c "UPDATE users SET legacy_email = lower(legacy_email) WHERE id = 4;"
    c r_returning returning tcp -c "UPDATE users SET name = 'N' WHERE id = 5 RETURNING legacy_email;"
    c r_upsert upsert tcp \
        -c "INSERT INTO users (id, email) VALUES (6, 'u@example.com') ON CONFLICT (id) DO UPDATE SET legacy_email = EXCLUDED.legacy_email;"
    c r_copy_all copy-all tcp -c "COPY users TO STDOUT;"
    c r_copy_cols copy-cols tcp -c "COPY users (id, legacy_email) TO STDOUT;"
    c r_ctas ctas tcp -c "CREATE TEMP TABLE t_export AS SELECT id, legacy_email FROM users;"
    c r_join_using join-using tcp \
        -c "SELECT o.id, legacy_email FROM orders o JOIN users u ON u.id = o.user_id;" \
        -c "SELECT * FROM orders JOIN users USING (id);"
    c r_subquery subquery tcp \
        -c "SELECT id FROM orders o WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id AND u.legacy_email IS NOT NULL);" \
        -c "SELECT x.e FROM (SELECT legacy_email AS e FROM users) x;"
    c r_cte cte tcp -c "WITH c AS (SELECT id, legacy_email FROM users) SELECT legacy_email FROM c WHERE id = 7;"
    c r_quoted quoted tcp \
        -c 'SELECT "legacy_email" FROM "users" WHERE "id" = 8;' \
        -c "SELECT LEGACY_EMAIL FROM USERS WHERE ID = 8;"
    c r_multi multi-statement tcp -c "SELECT 1; UPDATE users SET legacy_email = NULL WHERE id = 9"
    # expected to fail (division by zero): psql exits 1
    if c r_error failing tcp -c "SELECT legacy_email, 1/0 FROM users;" 2>/dev/null; then
        echo "gen-fixtures: case r_error unexpectedly succeeded" >&2; return 1
    fi
    bench r_extended pgbench-extended extended 5 "$PGT_DIR/extended.sql"
    bench r_prepared pgbench-prepared prepared 4 "$PGT_DIR/prepared.sql"
    c r_orders orders-svc local \
        -c "SELECT id, old_status FROM orders WHERE id = 1;" \
        -c "SELECT id, old_status FROM orders WHERE id = 1;" \
        -c "UPDATE orders SET status = 'shipped' WHERE id = 2;"
    c r_view_reader crm tcp -c "SELECT legacy_email FROM user_contacts WHERE id = 1;"
    # negative cases
    c r_decoy_table newsletter tcp -c "SELECT legacy_email FROM newsletter;"
    c r_decoy_schema archive-job tcp -c "SELECT legacy_email FROM archive.users;"
    c r_comment_string comment-string tcp \
        -c "SELECT id /* legacy_email */ FROM users WHERE name = 'legacy_email'; -- legacy_email" \
        -c "SELECT name FROM users WHERE id = 1;"
    c r_view_other names-view tcp -c "SELECT name FROM user_names;"
}

# ---------------------------------------------------------------- runs
# run 1: custom prefix; pg_stat_statements reset right before, exported right after
admin postgres -c "SELECT pg_stat_statements_reset()" >/dev/null
pgt_stop
pgt_set log_destination "'stderr,csvlog,jsonlog'"   # custom.log, custom.csv, custom.json
run_phase custom '%m [%p] user=%u,db=%d,app=%a,client=%h '
workload
pgt_stop
pgt_set log_destination "'stderr'"

admin_phase   # pg_stat_statements survives the restart (pg_stat_statements.save = on)
admin postgres -c "COPY (SELECT d.datname, r.rolname, s.* FROM pg_stat_statements s
      JOIN pg_database d ON d.oid = s.dbid JOIN pg_roles r ON r.oid = s.userid
      ORDER BY d.datname, r.rolname, s.query, s.queryid) TO STDOUT WITH (FORMAT csv, HEADER)" \
    > "$OUTDIR/pgss/pgss-names.csv"
admin postgres -c "COPY (SELECT s.* FROM pg_stat_statements s
      ORDER BY s.dbid, s.userid, s.query, s.queryid) TO STDOUT WITH (FORMAT csv, HEADER)" \
    > "$OUTDIR/pgss/pgss-oids.csv"
echo "$SEED_SQL" | admin "$DB" -f -
pgt_stop

# run 2: AWS RDS prefix
run_phase rds '%t:%r:%u@%d:[%p]:'
workload
pgt_stop

reseed

# run 3: default prefix
run_phase default '%m [%p] '
workload
pgt_stop

# ---------------------------------------------------------------- pg_stat_statements, track = all
# run 4 (its log is not kept): the same workload once more, plus a PL/pgSQL
# function whose inner statement reads the target (case r_nested), with
# pg_stat_statements.track = all so that statements run inside functions are
# recorded with toplevel = false. Exported as CSV, newline-delimited JSON
# (row_to_json, one object a line) and one JSON array (json_agg).
admin_phase
echo "$SEED_SQL" | admin "$DB" -f -
admin "$DB" <<'SQL'
CREATE ROLE r_nested LOGIN;
GRANT ALL ON ALL TABLES IN SCHEMA public TO r_nested;
CREATE FUNCTION public.legacy_email_of(bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT u.legacy_email FROM public.users u WHERE u.id = $1);
END $$;
SQL
admin postgres -c "SELECT pg_stat_statements_reset()" >/dev/null
pgt_stop
pgt_set pg_stat_statements.track "all"
run_phase pgss-all '%m [%p] '
workload
c r_nested nested-function tcp -c "SELECT legacy_email_of(1);"
pgt_stop

admin_phase
PGSS_NAMED="SELECT d.datname, r.rolname, s.* FROM pg_stat_statements s
      JOIN pg_database d ON d.oid = s.dbid JOIN pg_roles r ON r.oid = s.userid"
PGSS_ORDER="datname, rolname, query, toplevel, queryid"
admin postgres -c "COPY (SELECT * FROM ($PGSS_NAMED) x ORDER BY $PGSS_ORDER)
      TO STDOUT WITH (FORMAT csv, HEADER)" > "$OUTDIR/pgss/pgss-all.csv"
admin postgres -At -c "SELECT row_to_json(x) FROM ($PGSS_NAMED) x ORDER BY $PGSS_ORDER" \
    > "$OUTDIR/pgss/pgss-all.ndjson"
admin postgres -At -c "SELECT json_agg(x ORDER BY $PGSS_ORDER) FROM ($PGSS_NAMED) x" \
    > "$OUTDIR/pgss/pgss-all.json"
pgt_stop

reseed

# run 5: many escapes: padding, session id, line number, xid, vxid, SQLSTATE,
# command tag, backend type, %q, %r
run_phase escapes '%m [%-6p] %c %l %x %v %e %i %b %q%-12u %d %r %a: '
workload
pgt_stop
reseed

# run 6: log_error_verbosity = verbose (SQLSTATE before each message, LOCATION lines)
pgt_set log_error_verbosity "verbose"
run_phase verbose '%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h '
workload
pgt_stop
pgt_set log_error_verbosity "default"

LOGS=(custom.log custom.csv custom.json rds.log default.log escapes.log verbose.log)
for f in "${LOGS[@]}"; do
    cp "$PGT_DATA/log/$f" "$OUTDIR/logs/$f"
    chmod 0644 "$OUTDIR/logs/$f"
done

# run 7: syslog (root only: see the top of this file)
# What the sanity checks below look for is in every syslog file, and the
# three files have as many lines.
syslog_run_complete() {
    local f n=""
    for f in bsd iso rfc5424; do
        f="$PGT_DIR/syslog-$f.log"
        [ "$(grep -cF 'LOG:  statement: SELECT id, legacy_email FROM users WHERE id = 1;' "$f")" -eq 3 ] || return 1
        [ "$(grep -cF 'STATEMENT:  SELECT legacy_email, 1/0 FROM users;' "$f")" -eq 1 ] || return 1
        [ -z "$n" ] || [ "$(wc -l < "$f")" -eq "$n" ] || return 1
        n=$(wc -l < "$f")
    done
}
if [ "$(id -u)" -eq 0 ]; then
    # A loaded machine's rsyslogd has been seen to lose a piece: the run is
    # made again then, from fresh data and empty logs.
    for attempt in 1 2 3; do
        rm -f "$PGT_DIR"/syslog-*.log
        reseed
        start_rsyslog syslog
        pgt_set log_destination "'syslog'"
        pgt_set syslog_facility "'local0'"
        pgt_set syslog_ident "'postgres'"
        pgt_set log_line_prefix "'user=%u,db=%d,app=%a,client=%h '"
        pgt_start_devlog "$PGT_DIR/syslog.sock"
        workload
        pgt_stop
        stop_rsyslog
        syslog_run_complete && break
        echo "gen-fixtures: rsyslogd lost a piece of the syslog run (attempt $attempt)" >&2
    done
    syslog_run_complete || { echo "gen-fixtures: the syslog run lost pieces three times" >&2; exit 1; }
    for f in syslog-bsd.log syslog-iso.log syslog-rfc5424.log; do
        cp "$PGT_DIR/$f" "$OUTDIR/logs/$f"
        chmod 0644 "$OUTDIR/logs/$f"
    done
    pgt_set log_destination "'stderr'"
else
    echo "gen-fixtures: not root: syslog runs skipped (logs/*syslog-*.log not regenerated)" >&2
fi

# run 8: multi-line statements, tabs and a statement longer than syslog's
# 900-byte chunks, written to every destination at once (syslog only as root)
multiline_workload() {
    c r_direct ml-multiline tcp -c $'SELECT id,\n       legacy_email\n  FROM users\n WHERE id = 1;'
    local cols="" i
    for i in $(seq 1 150); do cols+="id AS c$i, "; done
    c r_star ml-long tcp -c "SELECT ${cols}legacy_email FROM users WHERE id = 2;"
    c r_direct ml-tabs tcp \
        -c $'SELECT\tlegacy_email\tFROM users WHERE id = 3;' \
        -c $'SELECT legacy_email\n\tFROM users\n\tWHERE id = 4;'
    if c r_error ml-error tcp -c $'SELECT legacy_email,\n  1/0\nFROM users;' 2>/dev/null; then
        echo "gen-fixtures: case ml-error unexpectedly succeeded" >&2; return 1
    fi
}
# The long statement's three syslog pieces are all in every syslog file
# (ml-long: two hold `id AS c`, the last ends the statement).
multiline_syslog_complete() {
    local f
    for f in bsd iso rfc5424; do
        f="$PGT_DIR/multiline-syslog-$f.log"
        [ "$(grep -c 'id AS c' "$f")" -eq 2 ] || return 1
        [ "$(grep -c 'WHERE id = 2;' "$f")" -eq 1 ] || return 1
    done
}
reseed
if [ "$(id -u)" -eq 0 ]; then
    # A loaded machine's rsyslogd has been seen to lose a piece: the run
    # (read-only statements) is made again then, from empty logs.
    for attempt in 1 2 3; do
        rm -f "$PGT_DIR"/multiline-syslog-*.log "$PGT_DATA"/log/multiline.*
        start_rsyslog multiline-syslog
        pgt_set log_destination "'stderr,csvlog,jsonlog,syslog'"
        pgt_set log_filename "'multiline.log'"
        pgt_set log_line_prefix "'%m [%p] user=%u,db=%d,app=%a,client=%h '"
        pgt_start_devlog "$PGT_DIR/syslog.sock"
        multiline_workload
        pgt_stop
        stop_rsyslog
        multiline_syslog_complete && break
        echo "gen-fixtures: rsyslogd lost a piece of the multi-line run (attempt $attempt)" >&2
    done
    multiline_syslog_complete || { echo "gen-fixtures: the multi-line syslog run lost pieces three times" >&2; exit 1; }
    for f in multiline-syslog-bsd.log multiline-syslog-iso.log multiline-syslog-rfc5424.log; do
        cp "$PGT_DIR/$f" "$OUTDIR/logs/$f"
        chmod 0644 "$OUTDIR/logs/$f"
    done
else
    pgt_set log_destination "'stderr,csvlog,jsonlog'"
    run_phase multiline '%m [%p] user=%u,db=%d,app=%a,client=%h '
    multiline_workload
    pgt_stop
fi
for f in multiline.log multiline.csv multiline.json; do
    cp "$PGT_DATA/log/$f" "$OUTDIR/logs/$f"
    chmod 0644 "$OUTDIR/logs/$f"
done

# ---------------------------------------------------------------- sanity checks
fail() { echo "gen-fixtures: check failed: $*" >&2; exit 1; }
expect_count() { # FILE PATTERN N
    local n
    n=$(grep -cF -- "$2" "$1" || true)
    [ "$n" -eq "$3" ] || fail "$(basename "$1"): expected $3 x '$2', got $n"
}
for f in custom rds default escapes verbose; do
    L="$OUTDIR/logs/$f.log"
    expect_count "$L" "statement: SELECT id, legacy_email FROM users WHERE id = 1;" 3
    if [ "$f" = verbose ]; then
        expect_count "$L" "ERROR:  22012: division by zero" 1
        grep -q 'LOCATION:  exec_simple_query' "$L" || fail "verbose.log: no LOCATION lines"
    else
        expect_count "$L" "ERROR:  division by zero" 1
    fi
    expect_count "$L" "STATEMENT:  SELECT legacy_email, 1/0 FROM users;" 1
    expect_count "$L" "execute <unnamed>: SELECT legacy_email FROM users WHERE id = \$1" 5
    expect_count "$L" "execute P_0: UPDATE orders SET old_status = status WHERE id = \$1" 4
    expect_count "$L" "statement: SELECT 1; UPDATE users SET legacy_email = NULL WHERE id = 9" 1
    expect_count "$L" "statement: SELECT id, old_status FROM orders WHERE id = 1;" 2
    [ "$(grep -c 'ERROR:' "$L" || true)" -eq 1 ] || fail "$f.log: unexpected ERROR lines"
    [ "$(grep -c ' statement: ' "$L" || true)" -eq 33 ] || fail "$f.log: expected 33 'statement:' lines"
    [ "$(grep -c ' execute ' "$L" || true)" -eq 9 ] || fail "$f.log: expected 9 'execute' lines"
    grep -q 'application_name=pgbench-extended' "$L" || fail "$f.log: pgbench app name missing"
    grep -q 'user=postgres' "$L" && fail "$f.log: superuser session leaked into workload log"
    for r in "${ROLES[@]}"; do
        grep -q "connection authorized: user=$r " "$L" || fail "$f.log: no connection for $r"
    done
done
grep -q 'pgbench-extended' "$OUTDIR/logs/custom.log" || fail "custom.log: app name"
expect_count "$OUTDIR/logs/custom.csv" ',"statement: SELECT id, legacy_email FROM users WHERE id = 1;"' 3
expect_count "$OUTDIR/logs/custom.csv" ',"SELECT legacy_email, 1/0 FROM users;",' 1
expect_count "$OUTDIR/logs/custom.json" '"message":"statement: SELECT id, legacy_email FROM users WHERE id = 1;"' 3
expect_count "$OUTDIR/logs/custom.json" '"statement":"SELECT legacy_email, 1/0 FROM users;"' 1
grep -qx '       legacy_email' "$OUTDIR/logs/multiline.csv" || fail "multiline.csv: no raw newline in a quoted field"
expect_count "$OUTDIR/logs/multiline.log" "ERROR:  division by zero" 1
if [ "$(id -u)" -eq 0 ]; then
    grep -q '#011#011FROM users' "$OUTDIR/logs/multiline-syslog-bsd.log" || fail "multiline-syslog-bsd.log: no #011 continuation"
    for f in syslog-bsd syslog-iso syslog-rfc5424; do
        L="$OUTDIR/logs/$f.log"
        expect_count "$L" "LOG:  statement: SELECT id, legacy_email FROM users WHERE id = 1;" 3
        expect_count "$L" "STATEMENT:  SELECT legacy_email, 1/0 FROM users;" 1
        grep -q '\(\]:\| - -\)  *\[[0-9]*-2\] user=r_error,.* STATEMENT:  ' "$L" || fail "$f.log: STATEMENT is not chunk 2"
    done
    grep -q '^<[0-9]*>1 [0-9T:.+-]* [^ ]* postgres [0-9]* - -  \[' "$OUTDIR/logs/syslog-rfc5424.log" || fail "syslog-rfc5424.log: not RFC 5424 records"
fi
grep -q 'pg_stat_statements_reset' "$OUTDIR/pgss/pgss-names.csv" && fail "reset call leaked into pgss export"
grep -q '^appdb,r_extended,' "$OUTDIR/pgss/pgss-names.csv" || fail "pgss: r_extended missing"
[ "$(grep -vc '^appdb,' "$OUTDIR/pgss/pgss-names.csv")" -eq 1 ] || fail "pgss: rows outside appdb"
[ "$(grep -c "^appdb," "$OUTDIR/pgss/pgss-names.csv")" -eq 31 ] || fail "pgss: expected 31 appdb rows"
A="$OUTDIR/pgss/pgss-all"
grep -q 'pg_stat_statements_reset' "$A.csv" && fail "reset call leaked into pgss-all export"
[ "$(grep -c '^appdb,r_nested,' "$A.csv")" -ge 2 ] || fail "pgss-all: r_nested rows missing"
grep -q '"toplevel":false' "$A.ndjson" || fail "pgss-all.ndjson: no toplevel = false row"
[ "$(wc -l < "$A.ndjson")" -eq "$(($(grep -c '^appdb,' "$A.csv")))" ] || fail "pgss-all: CSV and NDJSON row counts differ"
[ "$(head -c 2 "$A.json")" = '[{' ] || fail "pgss-all.json: not a JSON array"
echo "gen-fixtures: wrote $OUTDIR"
