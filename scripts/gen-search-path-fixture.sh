#!/usr/bin/env bash
# gen-search-path-fixture.sh -- regenerates fixtures/search_path from a real,
# throwaway PostgreSQL 15 server: two schemas with a same-named table, roles
# with their own search_path, and sessions that change theirs with
# SET search_path / set_config, logged with log_statement = all.
#   scripts/gen-search-path-fixture.sh [OUTDIR]   (default <repo>/fixtures/search_path)
# Writes OUTDIR/schema.sql (pg_dump -s plus the roles' settings from
# pg_dumpall --globals-only) and OUTDIR/server.log.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUTDIR=${1:-$ROOT/fixtures/search_path}
mkdir -p "$OUTDIR"
# shellcheck source=scripts/pg-throwaway.sh
source "$ROOT/scripts/pg-throwaway.sh"
pgt_init
pgt_set logging_collector "on"
pgt_set log_destination "'stderr'"
pgt_set log_directory "'log'"
pgt_set log_filename "'admin.log'"
pgt_set log_line_prefix "'%m [%p] user=%u,db=%d '"
pgt_set lc_messages "'C'"
pgt_set log_timezone "'UTC'"
pgt_set autovacuum "off"
pgt_start
pgt_psql -U postgres -d postgres -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE SCHEMA archive;
CREATE TABLE public.users (id bigint, legacy_email text);
CREATE TABLE archive.users (id bigint, legacy_email text);
CREATE ROLE app LOGIN;
CREATE ROLE reporter LOGIN;
ALTER ROLE reporter SET search_path TO archive, public;
GRANT USAGE ON SCHEMA archive TO app, reporter;
GRANT SELECT ON ALL TABLES IN SCHEMA public, archive TO app, reporter;
SQL
pgt_pg_dump -h "$PGT_HOST" -p "$PGT_PORT" -U postgres -s postgres > "$OUTDIR/schema.sql"
"$PGT_BIN/pg_dumpall" -h "$PGT_HOST" -p "$PGT_PORT" -U postgres --globals-only --no-role-passwords \
    | grep -E '^ALTER ROLE [a-z]+ SET search_path' >> "$OUTDIR/schema.sql"
pgt_stop
pgt_set log_statement "'all'"
pgt_set log_filename "'workload.log'"
pgt_start
# Session 1 (app): the default path, then archive first, then back.
pgt_psql -U app -d postgres -q <<'SQL'
SELECT legacy_email FROM users WHERE id = 1;
SET search_path = archive, public;
SELECT legacy_email FROM users WHERE id = 2;
RESET search_path;
SELECT id FROM users WHERE legacy_email IS NULL;
SQL
# Session 2 (app): set_config.
pgt_psql -U app -d postgres -q <<'SQL'
SELECT set_config('search_path', 'archive', false);
SELECT count(legacy_email) FROM users;
SQL
# Session 3 (app): unaffected by session 2's setting.
pgt_psql -U app -d postgres -q <<'SQL'
SELECT legacy_email FROM users WHERE id > 3;
SQL
# Session 4 (reporter): the role's own search_path.
pgt_psql -U reporter -d postgres -q <<'SQL'
SELECT max(legacy_email) FROM users;
SQL
pgt_stop
cp "$PGT_DATA/log/workload.log" "$OUTDIR/server.log"
