#!/usr/bin/env bash
# A first throughput figure: builds a log of SIZE_MB megabytes by repeating
# the real-server fixture log (fixtures/app/logs/custom.log), then times
# reading it (cat) and scanning it with pgcontract, and prints MB/s and the
# peak RSS. Not a test: speed is never asserted. Usage: scripts/bench.sh [SIZE_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb="${1:-200}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release --locked -q
log="$work/bench.log"
src=fixtures/app/logs/custom.log
while [ "$(stat -c %s "$log" 2>/dev/null || echo 0)" -lt $((size_mb * 1024 * 1024)) ]; do
    cat "$src" "$src" "$src" "$src" "$src" "$src" "$src" "$src" >> "$log"
done
bytes=$(stat -c %s "$log")
cat "$log" > /dev/null # warm the page cache
now() { date +%s.%N; }
t0=$(now); cat "$log" > /dev/null; t1=$(now)
run=(./target/release/pgcontract scan -q --column public.users.legacy_email --column public.orders.old_status
     --schema fixtures/app/schema.sql --format json --output "$work/out.json" "$log")
t2=$(now); set +e; "${run[@]}"; set -e; t3=$(now)
rss="n/a"
if [ -x /usr/bin/time ]; then
    set +e; /usr/bin/time -f %M -o "$work/rss" "${run[@]}"; set -e
    rss="$(( $(tail -n 1 "$work/rss") / 1024 )) MiB"
fi
awk -v b="$bytes" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" -v rss="$rss" 'BEGIN {
    c = t1 - t0; p = t3 - t2
    mb = b / 1e6
    printf "input: %.1f MB (fixture log repeated)\n", mb
    printf "cat:        %7.3f s  %8.1f MB/s\n", c, mb / c
    printf "pgcontract: %7.3f s  %8.1f MB/s  (%.0fx cat)  peak RSS %s\n", p, mb / p, p / c, rss
}'
