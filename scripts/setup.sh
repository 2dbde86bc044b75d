#!/usr/bin/env bash
# The first set-up command: install what is missing, build, and run the main
# job on the bundled example (examples/shop), printing its inventory.
set -euo pipefail
# rustc reads its target probe from stdin; a caller's stdin that is not UTF-8
# (CI runners, backgrounded jobs) makes cargo fail before it builds anything.
# An empty pipe, not /dev/null: a /dev/null that some program replaced with
# a regular file holds whatever was written to it since.
exec < <(:)
cd "$(dirname "$0")/.."
source scripts/deps.sh
pgcontract_deps
cargo build --release --locked
set +e
./target/release/pgcontract scan \
    --column public.customers.legacy_phone \
    --column public.invoices.legacy_ref \
    --schema examples/shop/schema.sql \
    examples/shop/postgresql.log
status=$?
set -e
# 1 means "dependencies found", which is the expected answer for the example.
if [ "$status" -gt 1 ]; then
    echo "pgcontract failed with exit status $status" >&2
    exit "$status"
fi
echo "pgcontract is built: ./target/release/pgcontract (exit status $status: the example's columns are still in use)"
