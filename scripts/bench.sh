#!/usr/bin/env bash
# Throughput figures on a generated log (examples/genlog.rs): writes SIZE of
# realistic stderr log (default 1GiB) to a RAM-backed directory, warms the
# page cache, then times `cat FILE > /dev/null`, pgcontract on the file,
# `zcat` of its gzip copy and pgcontract on that copy, and pgBadger on a
# 100 MB slice when it is installed; prints MB/s, ratios to cat/zcat and the
# peak RSS (/usr/bin/time). Not a test: speed is never asserted.
# Usage: scripts/bench.sh [SIZE] [THREADS]   e.g. scripts/bench.sh 1GiB 2
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1GiB}"
threads="${2:-0}"
base="${BENCH_DIR:-/dev/shm}"
work="$(mktemp -d "$base/pgcontract-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cargo build --release --locked -q --bin pgcontract --example genlog
log="$work/bench.log"
./target/release/examples/genlog --size "$size" --seed 1 --out "$log"
bytes=$(stat -c %s "$log")
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
rate() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }
rss() { # peak RSS in MiB of a command (its output discarded)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f %M -o "$work/rss" "$@" > /dev/null 2>&1 || true
        echo "$(( $(tail -n 1 "$work/rss") / 1024 )) MiB"
    else
        echo "n/a"
    fi
}
scan=(./target/release/pgcontract scan -q --threads "$threads"
      -c public.users.legacy_email -c public.orders.old_status
      --schema fixtures/app/schema.sql --log-line-prefix '%m [%p] %q%u@%d/%a '
      --format json --output "$work/out.json")
cat "$log" > /dev/null # warm the page cache
t0=$(now); cat "$log" > /dev/null; t1=$(now)
t2=$(now); "${scan[@]}" "$log" || true; t3=$(now)
scan_rss=$(rss "${scan[@]}" "$log")
gzip -1 -c "$log" > "$log.gz"
cat "$log.gz" > /dev/null
t4=$(now); zcat "$log.gz" > /dev/null; t5=$(now)
t6=$(now); "${scan[@]}" "$log.gz" || true; t7=$(now)
c=$(secs "$t0" "$t1"); p=$(secs "$t2" "$t3"); z=$(secs "$t4" "$t5"); pz=$(secs "$t6" "$t7")
echo "input: $mb MB generated stderr log (genlog --size $size --seed 1), threads: ${threads/#0/all cores} on $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "cat:              %8.3f s %9.1f MB/s\n" "$c" "$(rate "$c")"
printf "pgcontract:       %8.3f s %9.1f MB/s  (%.1fx the time of cat)  peak RSS %s\n" "$p" "$(rate "$p")" "$(awk -v a="$p" -v b="$c" 'BEGIN{print a/b}')" "$scan_rss"
printf "zcat (gzip -1):   %8.3f s %9.1f MB/s\n" "$z" "$(rate "$z")"
printf "pgcontract (gz):  %8.3f s %9.1f MB/s  (%.2fx the time of zcat)\n" "$pz" "$(rate "$pz")" "$(awk -v a="$pz" -v b="$z" 'BEGIN{print a/b}')"
if command -v pgbadger > /dev/null; then
    head -c 100000000 "$log" > "$work/slice.log"
    t8=$(now)
    pgbadger -q -j 2 -f stderr --prefix '%m [%p] %q%u@%d/%a ' -o "$work/out.html" "$work/slice.log" > /dev/null 2>&1 || true
    t9=$(now)
    b=$(secs "$t8" "$t9")
    printf "pgBadger -j 2 (100 MB slice): %8.3f s %9.1f MB/s\n" "$b" "$(awk -v s="$b" 'BEGIN { printf "%.1f", 100 / s }')"
else
    echo "pgBadger: not installed (apt-get install pgbadger to compare)"
fi
