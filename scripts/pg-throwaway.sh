# shellcheck shell=bash
# pg-throwaway.sh -- sourceable helpers for a throwaway PostgreSQL 15 cluster.
#
#   source scripts/pg-throwaway.sh
#   pgt_init                         # temp dir + initdb + trap cleanup on EXIT
#   pgt_set log_statement "'all'"    # value is written verbatim (quote strings!)
#   pgt_start; ...; pgt_stop         # pg_ctl -w start/stop (stop is -m fast)
#   pgt_psql -U postgres -d postgres -c 'SELECT 1'   # psql -X over TCP
#
# Exported after pgt_init:
#   PGT_BIN   server/client binaries (default /usr/lib/postgresql/15/bin)
#   PGT_DIR   temp dir (owned by the server user); also the unix socket dir
#   PGT_DATA  data directory ($PGT_DIR/data)
#   PGT_PORT  TCP port (also used for the unix socket name)
#   PGT_HOST  127.0.0.1
#
# Runs the server binaries as the `postgres` OS user when invoked as root
# (override with PGT_OS_USER), directly otherwise.  Everything lives under
# PGT_DIR, which pgt_cleanup (installed as EXIT trap by pgt_init) removes.
# If the caller needs its own EXIT trap, call pgt_cleanup from it.

PGT_BIN="${PGT_BIN:-/usr/lib/postgresql/15/bin}"
PGT_OS_USER="${PGT_OS_USER:-postgres}"
PGT_DIR=""
PGT_DATA=""
PGT_PORT=""
PGT_HOST="127.0.0.1"

# Drop libpq environment that could redirect our clients elsewhere.
pgt_clean_env() {
    unset PGHOST PGHOSTADDR PGPORT PGDATABASE PGUSER PGPASSWORD PGPASSFILE \
          PGOPTIONS PGAPPNAME PGSERVICE PGSERVICEFILE PGSSLMODE PGDATA \
          PGTZ PGDATESTYLE PGCLIENTENCODING PGCONNECT_TIMEOUT PGTARGETSESSIONATTRS
}

# Run a command as the server OS user, with cwd = PGT_DIR (root's cwd may be
# unreadable for that user).
pgt_as_server() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$PGT_DIR" && runuser -u "$PGT_OS_USER" -- "$@")
    else
        (cd "$PGT_DIR" && "$@")
    fi
}

pgt_port_in_use() {
    local port=$1
    # /proc/net/tcp{,6}: local_address is hex ip:port, state 0A = LISTEN
    local hex
    hex=$(printf '%04X' "$port")
    if cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v h=":$hex" '$2 ~ h"$" && $4 == "0A" {f=1} END {exit !f}'; then
        return 0
    fi
    # also make sure no stale unix socket name collides in our dir
    return 1
}

pgt_pick_port() {
    local port
    if command -v python3 >/dev/null 2>&1; then
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()') || port=""
        if [ -n "$port" ] && ! pgt_port_in_use "$port"; then
            echo "$port"; return 0
        fi
    fi
    local i
    for i in $(seq 1 200); do
        port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
        if ! pgt_port_in_use "$port"; then
            echo "$port"; return 0
        fi
    done
    echo "pg-throwaway: no free port found" >&2
    return 1
}

# pgt_init [initdb extra args...]
pgt_init() {
    pgt_clean_env
    local b
    for b in initdb pg_ctl postgres psql; do
        [ -x "$PGT_BIN/$b" ] || { echo "pg-throwaway: $PGT_BIN/$b not found" >&2; return 1; }
    done
    PGT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pgt.XXXXXX")
    trap pgt_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    chmod 0755 "$PGT_DIR"
    if [ "$(id -u)" -eq 0 ]; then
        chown "$PGT_OS_USER": "$PGT_DIR"
    fi
    PGT_DATA="$PGT_DIR/data"
    PGT_PORT=$(pgt_pick_port)
    export PGT_BIN PGT_DIR PGT_DATA PGT_PORT PGT_HOST

    pgt_as_server "$PGT_BIN/initdb" -D "$PGT_DATA" --auth=trust -E UTF8 --locale=C \
        -U postgres "$@" >"$PGT_DIR/initdb.log" 2>&1 \
        || { cat "$PGT_DIR/initdb.log" >&2; return 1; }

    pgt_as_server sh -c "cat > '$PGT_DATA/pg_hba.conf'" <<HBA
# throwaway cluster: trust everything local
local   all   all                 trust
host    all   all   127.0.0.1/32  trust
HBA
    pgt_as_server sh -c "echo \"include 'pgt.conf'\" >> '$PGT_DATA/postgresql.conf'; : > '$PGT_DATA/pgt.conf'"
    pgt_set port "$PGT_PORT"
    pgt_set listen_addresses "'127.0.0.1'"
    pgt_set unix_socket_directories "'$PGT_DIR'"
}

# pgt_set NAME VALUE  -- VALUE verbatim; replaces an earlier pgt_set of NAME.
# Takes effect on the next pgt_start.
pgt_set() {
    local name=$1 value=$2
    [ -n "$PGT_DATA" ] || { echo "pg-throwaway: pgt_init first" >&2; return 1; }
    local tmp
    tmp=$(mktemp "$PGT_DIR/conf.XXXXXX")
    awk -v n="$name" '{ split($0, a, /[ \t]*=/); if (a[1] != n) print }' "$PGT_DATA/pgt.conf" > "$tmp"
    printf '%s = %s\n' "$name" "$value" >> "$tmp"
    chmod 0644 "$tmp"
    pgt_as_server sh -c "cat '$tmp' > '$PGT_DATA/pgt.conf'"
    rm -f "$tmp"
}

pgt_start() {
    pgt_as_server "$PGT_BIN/pg_ctl" -D "$PGT_DATA" -l "$PGT_DIR/pg_ctl.log" -w -t 60 start >/dev/null \
        || { echo "pg-throwaway: start failed:" >&2; tail -n 30 "$PGT_DIR/pg_ctl.log" >&2; return 1; }
}

pgt_stop() {
    pgt_as_server "$PGT_BIN/pg_ctl" -D "$PGT_DATA" -w -t 60 -m fast stop >/dev/null
}

pgt_restart() { pgt_stop && pgt_start; }

# psql over TCP to the throwaway server; pass -U/-d yourself.
pgt_psql() {
    "$PGT_BIN/psql" -X -h "$PGT_HOST" -p "$PGT_PORT" "$@"
}

# pg_dump over TCP.  Recent minor releases (15.14+) emit a random psql
# "\restrict KEY" line; pin the key when supported so dumps are reproducible.
pgt_pg_dump() {
    local extra=()
    local help
    help=$("$PGT_BIN/pg_dump" --help 2>/dev/null || true)
    if [[ $help == *--restrict-key* ]]; then
        extra=(--restrict-key=pgcontractfixture)
    fi
    "$PGT_BIN/pg_dump" -h "$PGT_HOST" -p "$PGT_PORT" "${extra[@]}" "$@"
}

pgt_cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$PGT_DIR" ] && [ -d "$PGT_DIR" ]; then
        if [ -f "$PGT_DATA/postmaster.pid" ]; then
            pgt_as_server "$PGT_BIN/pg_ctl" -D "$PGT_DATA" -w -t 20 -m immediate stop >/dev/null 2>&1 || {
                local pid
                pid=$(head -n 1 "$PGT_DATA/postmaster.pid" 2>/dev/null || true)
                [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
            }
        fi
        rm -rf "$PGT_DIR"
    fi
    PGT_DIR=""
    return $rc
}

# pgt_start_devlog SOCKET  -- like pgt_start, but the server's /dev/log (where
# syslog(3) sends) is SOCKET: the server runs in a private mount namespace
# whose /dev is a tmpfs of links to the real /dev entries plus `log`.  Needs
# root (unshare -m).  Nothing outside the namespace changes.
pgt_start_devlog() {
    local sock=$1
    mkdir -p "$PGT_DIR/realdev"
    unshare -m --propagation private sh -c '
        set -e
        d=$1; sock=$2; user=$3; shift 3
        mount --rbind /dev "$d/realdev"
        mount -t tmpfs -o mode=755 tmpfs /dev
        for f in "$d"/realdev/* "$d"/realdev/.[!.]*; do
            [ -e "$f" ] || [ -L "$f" ] || continue
            ln -s "$f" "/dev/${f##*/}"
        done
        ln -sf "$sock" /dev/log
        cd "$d" && exec runuser -u "$user" -- "$@"
    ' sh "$PGT_DIR" "$sock" "$PGT_OS_USER" "$PGT_BIN/pg_ctl" -D "$PGT_DATA" -l "$PGT_DIR/pg_ctl.log" -w -t 60 start >/dev/null \
        || { echo "pg-throwaway: start (with /dev/log) failed:" >&2; tail -n 30 "$PGT_DIR/pg_ctl.log" >&2; return 1; }
}
