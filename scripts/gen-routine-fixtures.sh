#!/usr/bin/env bash
# gen-routine-fixtures.sh [OUTDIR]  -- regenerate fixtures/routine-bodies.
#
# Starts a throwaway PostgreSQL 15 cluster, loads
# fixtures/routine-bodies/setup.sql into database `shop`, and writes into
# OUTDIR (default: <repo>/fixtures/routine-bodies):
#   schema.sql         pg_dump --schema-only of `shop`
#   logs/workload.log  the server log of workload.sql, run as role `shopper`
#   after-drop.tsv     for each column of targets.txt and each statement of
#                      workload.sql, what the statement does once the column
#                      is dropped (in a fresh session, rolled back):
#                      `error: <message>`, `changed` (its result or what its
#                      triggers logged differs) or `same`.
# Set PGCONTRACT_KEEP_SERVER=1 to leave the server running (tests read the
# live catalog from it); the script then prints `PORT=<port> DIR=<dir>`
# last, and the caller stops the server.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
SRC="$REPO_DIR/fixtures/routine-bodies"
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
pgt_start

psql_q() { "$PGT_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGT_HOST" -p "$PGT_PORT" "$@"; }

psql_q -U postgres -d postgres -c 'CREATE DATABASE shop'
psql_q -U postgres -d shop -f "$SRC/setup.sql"
psql_q -U postgres -d shop <<'SQL'
CREATE ROLE shopper LOGIN;
GRANT USAGE ON SCHEMA app TO shopper;
GRANT ALL ON ALL TABLES IN SCHEMA public, app TO shopper;
ALTER ROLE shopper SET log_statement = 'all';
SQL

pgt_pg_dump -U postgres -d shop --schema-only > "$OUTDIR/schema.sql"

# The workload, logged, rolled back statement by statement (each in its
# own session, so that the tables stay as setup.sql left them).
LOG="$PGT_DIR/pg_ctl.log"
start=$(wc -l < "$LOG")
PGAPPNAME=shop-app \
    "$PGT_BIN/psql" -X -q -h "$PGT_HOST" -p "$PGT_PORT" -U shopper -d shop -f "$SRC/workload.sql" >/dev/null 2>&1 || true
sleep 0.2
tail -n "+$((start + 1))" "$LOG" | grep -v 'could not receive data\|^\s*$' > "$OUTDIR/logs/workload.log" || true

psql_q -U postgres -d shop -c 'TRUNCATE public.logt, public.log2, public.ord2, public.aud, public.tn, public.orders3'

# One statement in a fresh session, after `prelude`, rolled back: its
# result and what the triggers logged, or its first error.
run_one() {
    local prelude=$1 stmt=$2 raw
    raw=$("$PGT_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$PGT_HOST" -p "$PGT_PORT" -U postgres -d shop \
        -c "BEGIN" ${prelude:+-c "$prelude"} -c "$stmt" \
        -c "SELECT 'logged: ' || coalesce(string_agg(v, '|' ORDER BY v), '') FROM (SELECT v FROM public.logt UNION ALL SELECT v FROM public.log2) s" \
        -c "ROLLBACK" 2>&1 || true)
    if grep -q '^ERROR:' <<<"$raw"; then
        grep -m1 '^ERROR:' <<<"$raw" | sed 's/^ERROR:  */error: /'
    else
        tr '\n' ' ' <<<"$raw"
    fi
}

out="$OUTDIR/after-drop.tsv"
: > "$out"
while IFS= read -r target; do
    [ -n "$target" ] || continue
    schema=${target%%.*}; rest=${target#*.}; table=${rest%%.*}; column=${rest#*.}
    drop="ALTER TABLE \"$schema\".\"$table\" DROP COLUMN \"$column\""
    while IFS= read -r stmt; do
        [ -n "$stmt" ] || continue
        before=$(run_one "" "$stmt")
        after=$(run_one "$drop" "$stmt")
        if [[ "$after" == "error: "* ]]; then
            outcome=$after
        elif [ "$before" != "$after" ]; then
            outcome=changed
        else
            outcome=same
        fi
        printf '%s\t%s\t%s\n' "$target" "$stmt" "$outcome" >> "$out"
    done < "$SRC/workload.sql"
done < "$SRC/targets.txt"

if [ "${PGCONTRACT_KEEP_SERVER:-}" = 1 ]; then
    trap - EXIT
    echo "PORT=$PGT_PORT DIR=$PGT_DIR"
else
    pgt_stop
fi
