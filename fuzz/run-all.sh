#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and prints the executions of each.
#
#   fuzz/run-all.sh [seconds-per-target]    (default 30)
#
# Needs a nightly toolchain (libFuzzer's instrumentation); installs cargo-fuzz if it is missing.
# Without nightly it says so and exits 0, so CI without nightly skips fuzzing. A crash stops
# the run with the target's output and a non-zero status; the input is in artifacts/<target>/.
# Each target starts from its committed seeds (corpus/<target>/seed-*); what libFuzzer adds
# beside them is ignored by git. FUZZ_SANITIZER picks cargo-fuzz's sanitizer (default
# address; `none` builds and runs faster, which CI uses: the workspace forbids unsafe code).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-30}"
sanitizer="${FUZZ_SANITIZER:-address}"

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz: no nightly toolchain installed; skipping (rustup toolchain install nightly)"
    exit 0
fi
if ! cargo +nightly fuzz --help >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

cargo +nightly fuzz build -O --sanitizer "$sanitizer"
total=0
for target in $(cargo +nightly fuzz list); do
    log="$(mktemp)"
    if ! cargo +nightly fuzz run -O --sanitizer "$sanitizer" "$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        tail -n 60 "$log"
        rm -f "$log"
        echo "fuzz: $target FAILED (input saved under fuzz/artifacts/$target/)"
        exit 1
    fi
    execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)"
    rm -f "$log"
    total=$((total + execs))
    printf 'fuzz: %-16s %12d executions in %ss\n' "$target" "$execs" "$seconds"
done
printf 'fuzz: %-16s %12d executions\n' "total" "$total"
