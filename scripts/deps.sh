#!/usr/bin/env bash
# Installs what pgcontract's build and tests need on Debian bookworm, when it is
# missing: a C toolchain and libclang (pg_query's build and bindgen), OpenSSL
# headers (TLS for --database-url), and the
# PostgreSQL 15 server, contrib (pg_stat_statements) and pgaudit for the tests
# that run a real server, rsyslog (the syslog fixture goes through it), and
# python3 (scripts/gen-cloud-fixtures.py; the cloud fixtures are checked
# against it), and openssl (scripts/tls-server.sh makes a throwaway CA).
# Sourced by setup.sh and test.sh; does nothing when everything
# is there.
set -euo pipefail
pgcontract_deps() {
    local pkgs=(build-essential libclang-dev pkg-config libssl-dev postgresql-15 postgresql-contrib postgresql-15-pgaudit gzip rsyslog python3 openssl)
    local missing=()
    local p
    for p in "${pkgs[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "pgcontract: installing ${missing[*]}" >&2
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    fi
}
