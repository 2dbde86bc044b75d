#!/bin/sh
# Scheduled audit of the columns in pgcontract.toml against the server's
# logs (run by the systemd timer or the crontab line next to this file).
# Writes the JSON inventory and a Markdown report atomically; exit code 1
# means a column is blocked or inconclusive (see pgcontract.toml `fail_on`).
set -u
cd /etc/pgcontract || exit 2
out=/var/lib/pgcontract
mkdir -p "$out"
pgcontract scan --quiet --config /etc/pgcontract/pgcontract.toml \
    --window 7d --format json --output "$out/inventory.json" /var/log/postgresql/
code=$?
pgcontract scan --quiet --config /etc/pgcontract/pgcontract.toml \
    --window 7d --fail-on never --format markdown --output "$out/report.md" /var/log/postgresql/
exit "$code"
