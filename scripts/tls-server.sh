#!/usr/bin/env bash
# tls-server.sh -- starts a throwaway PostgreSQL 15 server that accepts only
# TLS over TCP (`hostssl`, scram-sha-256; password `tls-test-password` for
# role postgres), with a certificate for DNS name `localhost` signed by a
# fresh self-signed CA (openssl).  Leaves the server running and prints
# `PORT=<port> DIR=<dir>` last; DIR holds ca.crt (the right CA) and
# other-ca.crt (an unrelated CA).  The caller stops the server
# (pg_ctl -D DIR/data stop) and removes DIR.  Used by tests/live_tls.rs.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=pg-throwaway.sh
source "$SCRIPT_DIR/pg-throwaway.sh"

pgt_init
cd "$PGT_DIR"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pgcontract test CA" \
    -keyout ca.key -out ca.crt 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=unrelated CA" \
    -keyout other-ca.key -out other-ca.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost\n' > san.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    -extfile san.ext -out server.crt 2>/dev/null
chmod 0600 server.key
chmod 0644 ca.crt other-ca.crt server.crt
if [ "$(id -u)" -eq 0 ]; then
    chown "$PGT_OS_USER": server.key server.crt
fi
pgt_as_server cp server.crt server.key "$PGT_DATA/"
pgt_as_server sh -c "cat > '$PGT_DATA/pg_hba.conf'" <<HBA
local     all   all                 trust
hostssl   all   all   127.0.0.1/32  scram-sha-256
HBA
pgt_set ssl on
pgt_set ssl_cert_file "'server.crt'"
pgt_set ssl_key_file "'server.key'"
pgt_start
"$PGT_BIN/psql" -X -q -h "$PGT_DIR" -p "$PGT_PORT" -U postgres -d postgres \
    -c "ALTER ROLE postgres PASSWORD 'tls-test-password'" >/dev/null
trap - EXIT
echo "PORT=$PGT_PORT DIR=$PGT_DIR"
