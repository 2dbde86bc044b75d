#!/usr/bin/env bash
# gen-example.sh [OUTDIR]  -- regenerate the README demo data (default <repo>/examples/shop).
#
# Throwaway PostgreSQL 15 cluster, database `shop`, a small multi-app workload.
# Writes only inside OUTDIR: postgresql.log, schema.sql, pg_stat_statements.csv, README.md
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
OUTDIR=${1:-$REPO_DIR/examples/shop}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

# shellcheck source=pg-throwaway.sh
source "$SCRIPT_DIR/pg-throwaway.sh"
pgt_init

PSQL="$PGT_BIN/psql"
DB=shop
PREFIX='%m [%p] user=%u,db=%d,app=%a,client=%h '

admin() { # admin DB [psql args...]  superuser, invisible to pg_stat_statements
    local db=$1; shift
    PGOPTIONS='-c pg_stat_statements.track=none' PGAPPNAME=setup \
        "$PSQL" -X -q -v ON_ERROR_STOP=1 -h "$PGT_HOST" -p "$PGT_PORT" -U postgres -d "$db" "$@"
}

pgt_set shared_preload_libraries "'pg_stat_statements'"
pgt_set pg_stat_statements.track "top"
pgt_set compute_query_id "on"
pgt_set logging_collector "on"
pgt_set log_destination "'stderr'"
pgt_set log_directory "'log'"
pgt_set log_statement "'all'"
pgt_set log_connections "on"
pgt_set log_disconnections "on"
pgt_set log_min_error_statement "error"
pgt_set lc_messages "'C'"
pgt_set log_timezone "'UTC'"
pgt_set timezone "'UTC'"
pgt_set autovacuum "off"
pgt_set log_line_prefix "'$PREFIX'"

# ---- setup (logged to a throw-away admin.log)
pgt_set log_filename "'admin.log'"
pgt_start
admin postgres -c "CREATE DATABASE $DB" -c "CREATE EXTENSION pg_stat_statements"
admin "$DB" -f - <<'SQL'
CREATE ROLE web LOGIN;
CREATE ROLE billing LOGIN;
CREATE ROLE analytics LOGIN;
CREATE ROLE support LOGIN;
CREATE ROLE "legacy-cron" LOGIN;
CREATE TABLE public.customers (id bigint PRIMARY KEY, email text NOT NULL, legacy_phone text, name text);
CREATE TABLE public.invoices (id bigint PRIMARY KEY, customer_id bigint REFERENCES public.customers(id),
                              amount numeric(12,2), legacy_ref text);
CREATE VIEW public.customer_directory AS SELECT id, name, legacy_phone FROM public.customers;
GRANT SELECT ON public.customers, public.invoices TO web;
GRANT SELECT, UPDATE ON public.invoices TO billing;
GRANT SELECT ON public.customers, public.invoices TO analytics;
GRANT SELECT ON public.customer_directory TO support;
GRANT SELECT, UPDATE ON public.customers TO "legacy-cron";
INSERT INTO public.customers (id, email, legacy_phone, name)
SELECT i, 'customer' || i || '@example.com', '+1-555-01' || lpad(i::text, 2, '0'), 'Customer ' || i
FROM generate_series(1, 8) AS i;
INSERT INTO public.invoices (id, customer_id, amount, legacy_ref)
SELECT i, 1 + i % 8, 10 * i, CASE WHEN i % 2 = 0 THEN 'OLD-' || i END
FROM generate_series(1, 12) AS i;
SQL
pgt_pg_dump -U postgres --schema-only "$DB" > "$OUTDIR/schema.sql"
admin postgres -c "SELECT pg_stat_statements_reset()" >/dev/null
pgt_stop

cat > "$PGT_DIR/storefront.sql" <<'SQL'
\set cid random(1, 8)
SELECT email, name FROM customers WHERE id = :cid;
SQL

c() { # c ROLE APP [-c SQL]...   one psql session over TCP
    local role=$1 app=$2; shift 2
    PGAPPNAME=$app "$PSQL" -X -q -v ON_ERROR_STOP=1 -h "$PGT_HOST" -p "$PGT_PORT" -U "$role" -d "$DB" "$@" >/dev/null
}

# ---- workload (logged to postgresql.log)
pgt_set log_filename "'postgresql.log'"
pgt_start
c web storefront \
    -c "SELECT email, name FROM customers WHERE id = 1;" \
    -c "SELECT id, amount FROM invoices WHERE customer_id = 1;"
c billing billing-worker \
    -c "SELECT id, amount FROM invoices WHERE legacy_ref IS NULL;" \
    -c "UPDATE invoices SET legacy_ref = 'INV-2024-0001' WHERE id = 1;"
c analytics metabase -c "SELECT * FROM customers;"
c support support-console -c "SELECT name, legacy_phone FROM customer_directory WHERE id = 2;"
c legacy-cron cron-sync -c "UPDATE customers SET legacy_phone = '+1-555-0199' WHERE id = 3;"
PGAPPNAME=storefront "$PGT_BIN/pgbench" -n -M extended -c 1 -t 3 --random-seed=7 \
    -f "$PGT_DIR/storefront.sql" -h "$PGT_HOST" -p "$PGT_PORT" -U web "$DB" >/dev/null 2>"$PGT_DIR/pgbench.err" \
    || { cat "$PGT_DIR/pgbench.err" >&2; exit 1; }
pgt_stop
cp "$PGT_DATA/log/postgresql.log" "$OUTDIR/postgresql.log"
chmod 0644 "$OUTDIR/postgresql.log"

# ---- export pg_stat_statements (admin.log again)
pgt_set log_filename "'admin.log'"
pgt_start
admin postgres -c "COPY (SELECT d.datname, r.rolname, s.* FROM pg_stat_statements s
      JOIN pg_database d ON d.oid = s.dbid JOIN pg_roles r ON r.oid = s.userid
      ORDER BY d.datname, r.rolname, s.query, s.queryid) TO STDOUT WITH (FORMAT csv, HEADER)" \
    > "$OUTDIR/pg_stat_statements.csv"
pgt_stop

grep -q 'ERROR' "$OUTDIR/postgresql.log" && { echo "gen-example: unexpected ERROR in log" >&2; exit 1; }
[ "$(grep -c 'execute <unnamed>: SELECT email, name FROM customers' "$OUTDIR/postgresql.log")" -eq 3 ] \
    || { echo "gen-example: pgbench statements missing" >&2; exit 1; }

cat > "$OUTDIR/README.md" <<'MD'
# Example: `shop`

Generated by `scripts/gen-example.sh` (throwaway PostgreSQL 15 cluster, `log_statement = 'all'`, `log_line_prefix = '%m [%p] user=%u,db=%d,app=%a,client=%h '`, pg_stat_statements reset right before the workload).
Five roles/apps: `web`/`storefront` (psql + pgbench extended protocol; reads `email`, `name` only), `billing`/`billing-worker`, `analytics`/`metabase` (`SELECT *`), `support`/`support-console` (via view `customer_directory`), `legacy-cron`/`cron-sync`.
Files: `postgresql.log` (statement log), `pg_stat_statements.csv` (export with `datname`, `rolname`), `schema.sql` (`pg_dump --schema-only`).
Columns planned to be dropped: `public.customers.legacy_phone` and `public.invoices.legacy_ref`.
MD
echo "gen-example: wrote $OUTDIR"
