#!/usr/bin/env bash
# gen-schema-fixtures.sh [OUTDIR]  -- regenerate fixtures/schema-objects.
#
# Starts a throwaway PostgreSQL 15 cluster, loads
# fixtures/schema-objects/setup.sql (one object of each kind on the target
# public.users.legacy_email, plus decoys) into database `shop`, and writes into
# OUTDIR (default: <repo>/fixtures/schema-objects):
#   schema.sql        pg_dump --schema-only of `shop`
#   full-dump.sql     pg_dump -Fp of `shop` (schema and data)
#   drop-detail.txt   what PostgreSQL itself says when the column is dropped
#                     (the objects that block the drop), sorted
#   logs/workload.log the server log of workload.sql, run as role `app`
#   logs/family.log   the server log of family-workload.sql (partitions and
#                     inheritance), run as role `app`
#   family-drops.txt  per target of that part: what a plain DROP COLUMN does
#                     (`drop<TAB>ok` or the ERROR and DETAIL lines), then, after
#                     DROP COLUMN … CASCADE (when that succeeds), whether
#                     each line of family-workload.sql still runs (`runs`)
#                     or fails
# Set PGCONTRACT_KEEP_SERVER=1 to leave the server running (tests use it to
# read the live catalog and pg_stat_statements, track = all); the script then
# prints `PORT=<port> DIR=<dir>` last, and the caller stops the server.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
SRC="$REPO_DIR/fixtures/schema-objects"
OUTDIR=${1:-$SRC}
mkdir -p "$OUTDIR/logs"
OUTDIR=$(cd "$OUTDIR" && pwd)

# shellcheck source=pg-throwaway.sh
source "$SCRIPT_DIR/pg-throwaway.sh"
pgt_init

pgt_set lc_messages "'C'"
pgt_set log_timezone "'UTC'"
pgt_set timezone "'UTC'"
pgt_set autovacuum "off"
pgt_set log_line_prefix "'%m [%p] user=%u,db=%d,app=%a,client=%h '"
pgt_set log_statement "'none'"
pgt_set shared_preload_libraries "'pg_stat_statements'"
pgt_set pg_stat_statements.track "'all'"
pgt_start

psql_q() { "$PGT_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGT_HOST" -p "$PGT_PORT" "$@"; }

psql_q -U postgres -d postgres -c 'CREATE DATABASE shop'
psql_q -U postgres -d shop -f "$SRC/setup.sql" 2>&1 | grep -v 'wal_level\|Set wal_level' >&2 || true
psql_q -U postgres -d shop <<'SQL'
CREATE ROLE app LOGIN;
GRANT ALL ON ALL TABLES IN SCHEMA public TO app;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO app;
ALTER TABLE public.users OWNER TO app;
INSERT INTO public.domains VALUES (''), ('b.c'), ('y');
INSERT INTO public.users (id, email) VALUES (1, 'a@b.c'), (2, 'b@b.c');
ALTER ROLE app SET log_statement = 'all';
SQL

pgt_pg_dump -U postgres -d shop --schema-only > "$OUTDIR/schema.sql"
pgt_pg_dump -U postgres -d shop > "$OUTDIR/full-dump.sql"

# What PostgreSQL blocks: the DETAIL of a plain DROP COLUMN.
{ psql_q -U postgres -d shop -c 'ALTER TABLE public.users DROP COLUMN legacy_email' 2>&1 || true; } \
    | sed -n 's/^DETAIL:  //p; /^[a-z].* depends on /p' | sed 's/^DETAIL:  //' | sort -u > "$OUTDIR/drop-detail.txt"

# pg_stat_statements (after the dumps, so they do not list it), reset so
# that it holds the workload only.
psql_q -U postgres -d shop -c 'CREATE EXTENSION pg_stat_statements' -c 'SELECT pg_stat_statements_reset()' >/dev/null

# The workload, logged.
LOG="$PGT_DIR/pg_ctl.log"
: > "$OUTDIR/logs/workload.log"
start=$(wc -l < "$LOG")
PGAPPNAME=shop-app \
    "$PGT_BIN/psql" -X -q -h "$PGT_HOST" -p "$PGT_PORT" -U app -d shop -f "$SRC/workload.sql" >/dev/null 2>&1 || true
sleep 0.2
tail -n "+$((start + 1))" "$LOG" | grep -v 'could not receive data\|^\s*$' > "$OUTDIR/logs/workload.log" || true

# Partitions and inheritance: their own workload, logged.
start=$(wc -l < "$LOG")
PGAPPNAME=shop-app \
    "$PGT_BIN/psql" -X -q -h "$PGT_HOST" -p "$PGT_PORT" -U app -d shop -f "$SRC/family-workload.sql" >/dev/null 2>&1 || true
sleep 0.2
tail -n "+$((start + 1))" "$LOG" | grep -v 'could not receive data\|^\s*$' > "$OUTDIR/logs/family.log" || true

# What PostgreSQL does with each of those targets (as postgres: not logged).
psql_try() { "$PGT_BIN/psql" -X -q -h "$PGT_HOST" -p "$PGT_PORT" -U postgres -d shop "$@" 2>&1 >/dev/null; }
: > "$OUTDIR/family-drops.txt"
for target in public.ev.legacy2 public.ev.note public.base.old public.vb.gone public.pk.k public.pke.d \
    public.kid.old public.ev2.legacy2; do
    tbl=${target%.*}
    col=${target##*.}
    msg=$(psql_try -c "BEGIN" -c "ALTER TABLE $tbl DROP COLUMN $col" -c "ROLLBACK" \
        | { grep "^ERROR\|^DETAIL\|depends on" || true; } | sed "s/^DETAIL:  //" | paste -sd "|" -)
    printf '%s\tdrop\t%s\n' "$target" "${msg:-ok}" >> "$OUTDIR/family-drops.txt"
    if psql_try -c "BEGIN" -c "ALTER TABLE $tbl DROP COLUMN $col CASCADE" -c "ROLLBACK" | grep '^ERROR' >/dev/null; then
        continue
    fi
    while IFS= read -r stmt; do
        errors=$(psql_try -c "BEGIN" -c "ALTER TABLE $tbl DROP COLUMN $col CASCADE" -c "$stmt" -c "ROLLBACK" \
            | grep -c '^ERROR' || true)
        if [ "$errors" != 0 ]; then
            outcome=fails
        else
            outcome=runs
        fi
        printf '%s\t%s\t%s\n' "$target" "$outcome" "$stmt" >> "$OUTDIR/family-drops.txt"
    done < "$SRC/family-workload.sql"
done

if [ "${PGCONTRACT_KEEP_SERVER:-}" = 1 ]; then
    trap - EXIT
    echo "PORT=$PGT_PORT DIR=$PGT_DIR"
else
    pgt_stop
fi
