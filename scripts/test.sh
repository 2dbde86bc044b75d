#!/usr/bin/env bash
# The second set-up command and the CI job: formatting, lints, and the whole
# test suite (unit tests, fixture tests, and tests that start a throwaway
# PostgreSQL 15 server).
set -euo pipefail
# rustc reads its target probe from stdin; a caller's stdin that is not UTF-8
# (CI runners, backgrounded jobs) makes cargo fail before it builds anything.
# An empty pipe, not /dev/null: a /dev/null that some program replaced with
# a regular file holds whatever was written to it since.
exec < <(:)
cd "$(dirname "$0")/.."
source scripts/deps.sh
pgcontract_deps
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
