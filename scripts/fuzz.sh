#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets, cargo-fuzz + libFuzzer on the
# nightly toolchain) for SECONDS each (default 60), one job at a time, and
# fails when any target finds a crash. Not part of .ci/run (CI has no nightly
# guarantee); run it by hand before a release or after touching a reader,
# the normaliser, the migration parser or the analyser.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Seeds come from fuzz/corpus/<target> (regenerate the seed-* files with
# scripts/gen-fuzz-seeds.py; crash-* files there are past findings, kept as
# regression seeds). What libFuzzer learns goes to fuzz/target/corpus/<target>
# (kept between runs, never committed); crashing inputs land in
# fuzz/artifacts/<target>/ and each run's log in fuzz/target/logs/<target>.log.
# The targets are built once, then run as built (PGCONTRACT_FUZZ_NO_BUILD=1
# runs what fuzz/target holds without building first).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
case "$seconds" in
    '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz.sh: needs a nightly toolchain (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
if [ -z "${PGCONTRACT_FUZZ_NO_BUILD:-}" ]; then
    cargo +nightly fuzz build
fi
bin="fuzz/target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"
mkdir -p fuzz/target/logs
# As `cargo fuzz run` does: pg_query's vendored upb defines same-named
# constants in two C files, which AddressSanitizer's start-up check reports
# as an ODR violation before any input runs.
export ASAN_OPTIONS="detect_odr_violation=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
failed=()
printf '%-10s %8s %12s %8s  %s\n' target seconds executions exec/s result
for t in "${targets[@]}"; do
    mkdir -p "fuzz/target/corpus/$t" "fuzz/corpus/$t" "fuzz/artifacts/$t"
    log="fuzz/target/logs/$t.log"
    start=$(date +%s)
    status=0
    extra=()
    # The scan target's worker pools end their threads after the scan
    # returns; LeakSanitizer reports their thread-local blocks
    # (pthread_setspecific) as leaks. Memory is still capped by rss_limit_mb.
    [ "$t" = scan ] && extra+=(-detect_leaks=0)
    "$bin/$t" -artifact_prefix="fuzz/artifacts/$t/" "${extra[@]}" \
        -max_total_time="$seconds" -timeout=60 -rss_limit_mb=4096 \
        -print_final_stats=1 "fuzz/target/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1 || status=$?
    took=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    if [ "$status" -eq 0 ]; then
        result=ok
    else
        result="FAILED (exit $status, see $log and fuzz/artifacts/$t/)"
        failed+=("$t")
    fi
    printf '%-10s %8s %12s %8s  %s\n' "$t" "$took" "${execs:-?}" "${rate:-?}" "$result"
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz.sh: crashes in: ${failed[*]}" >&2
    for t in "${failed[@]}"; do
        grep -m1 -B2 -A12 'panicked at\|ERROR: AddressSanitizer\|ERROR: libFuzzer\|deadly signal' \
            "fuzz/target/logs/$t.log" >&2 || tail -20 "fuzz/target/logs/$t.log" >&2
    done
    exit 1
fi
