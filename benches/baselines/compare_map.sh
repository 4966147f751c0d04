#!/usr/bin/env bash
# `papermap map` against umap-learn alone on the same vectors, alternating rounds, 2 threads.
# Usage: bash benches/baselines/compare_map.sh LIB DATA.npy [ROUNDS]
#   LIB: a library made by examples/library_bench (topics are fitted once before the rounds)
#   DATA.npy: the same vectors (library_bench's data-N/papers.npy)
# Needs: cargo build --release -p papermap-cli; source <(../shared/tools/setup_baselines.sh)
set -euo pipefail
lib=$1 data=$2 rounds=${3:-2}
bin=${PAPERMAP_BIN:-target/release/papermap}
py=${BASELINE_PY:?run: source <(../shared/tools/setup_baselines.sh)}
out=$(mktemp -d)
"$bin" topics "$lib" -k 50 > /dev/null
measure() { # label, command...: prints "label wall_s peak_MB"
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$out/time" "$@" > "$out/stdout" 2> "$out/stderr" || { cat "$out/stderr"; exit 1; }
  read -r wall kb < "$out/time"
  echo "$label $wall $((kb / 1024)) | $(tail -n1 "$out/stdout") $(tail -n1 "$out/stderr")"
}
for round in $(seq "$rounds"); do
  measure papermap-map "$bin" map "$lib" --relayout --svg "$out/map.svg" --html "$out/map.html"
  NUMBA_NUM_THREADS=2 measure umap-learn "$py" benches/baselines/umap_bench.py "$data"
done | tee "$out/results"
echo "medians (wall s, peak RSS MB):"
for label in papermap-map umap-learn; do
  w=$(grep "^$label " "$out/results" | awk '{print $2}' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  m=$(grep "^$label " "$out/results" | awk '{print $3}' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  echo "$label $w s $m MB"
done
ls -la "$out"/map.svg "$out"/map.html
