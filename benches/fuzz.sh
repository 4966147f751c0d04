#!/usr/bin/env bash
# Fuzzes every reader of bytes from disk or from a user (issue 25) for a fixed budget and reports
# executions and findings: the library manifest, a segment's files (the manifest vouching for
# them, so bytes reach each parser), .npy vectors, the graph file, the digest parser.
#
#   bash benches/fuzz.sh [SECONDS_PER_TARGET=60]
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`); not part of the tests.
# Findings (inputs that crash a target) land in fuzz/artifacts/TARGET/ and make this exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${1:-60}
TARGETS=(manifest segment npy graph digest)
status=0
cargo +nightly fuzz build --release
printf '| target | seconds | executions | exec/s | findings |\n|---|---:|---:|---:|---:|\n' > fuzz/summary.md
for t in "${TARGETS[@]}"; do
  corpus=fuzz/corpus/$t
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  if [ "$t" = digest ]; then
    cp crates/papermap-corpus/tests/data/*.md examples/data/seed/* "$corpus/"
  else
    # The target's init writes the template library's files as seeds, then one empty run.
    PAPERMAP_FUZZ_SEEDS=$corpus cargo +nightly fuzz run --release "$t" -- -runs=0 >/dev/null 2>&1 || true
  fi
  log=fuzz/$t.log
  if ! cargo +nightly fuzz run --release "$t" "$corpus" -- \
      -max_total_time="$BUDGET" -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
    status=1
  fi
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  rate=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  found=$(find "fuzz/artifacts/$t" -type f | wc -l)
  printf '| %s | %s | %s | %s | %s |\n' "$t" "$BUDGET" "${runs:-?}" "${rate:-?}" "$found" | tee -a fuzz/summary.md
done
cat fuzz/summary.md
exit $status
