#!/usr/bin/env bash
# Embedding throughput of every precision next to sentence-transformers (f32 and bf16), same texts (500
# seed abstracts), same threads, alternating rounds so drift hits both sides alike. Prints every run and
# the median docs/s per system with its ratio to sentence-transformers f32. On an AVX-512 CPU it also
# runs both sides capped to AVX2 (the int8 target for AVX2-only CPUs).
#   bash benches/baselines/compare_precisions.sh [ROUNDS]      (needs ../shared/tools/setup_baselines.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-2}
eval "$(bash ../shared/tools/setup_baselines.sh)"
model_dir=$(target/release/papermap model path)
cargo build --release --quiet --example embed_bench
bench=target/release/examples/embed_bench
out=$(mktemp)
run() { # name, command...
  local name=$1; shift
  local rate
  rate=$("$@" 2>/dev/null | tail -1 | sed -n 's/.*docs_per_s=\([0-9.]*\).*/\1/p')
  echo "$name $rate" | tee -a "$out"
}
grep -q amx_bf16 /proc/cpuinfo && amx=1 || amx=0
grep -q avx512_bf16 /proc/cpuinfo && bf16=1 || bf16=0
for round in $(seq "$rounds"); do
  echo "# round $round"
  run st-f32 "$BASELINE_PY" ../shared/tools/st_baseline.py --model-dir "$model_dir" --threads 2 --docs 500 --runs 3
  run papermap-f32 "$bench" --threads 2 --docs 500 --runs 3
  if [[ $bf16 == 1 || $amx == 1 ]]; then
    run st-bf16 "$BASELINE_PY" ../shared/tools/st_baseline.py --model-dir "$model_dir" --threads 2 --docs 500 --runs 3 --dtype bf16
    run papermap-bf16 "$bench" --threads 2 --docs 500 --runs 3 --precision bf16
  fi
  run papermap-int8 "$bench" --threads 2 --docs 500 --runs 3 --precision int8
  for kernel in avx-vnni avx2; do
    grep -q "${kernel/-/_}" /proc/cpuinfo || continue
    run "papermap-int8-$kernel" "$bench" --threads 2 --docs 500 --runs 3 --precision int8 --int8-kernel "$kernel"
  done
  if grep -q avx512f /proc/cpuinfo; then
    # What an AVX2-only CPU runs, both sides capped: PyTorch, oneDNN and MKL (whose sgemm does
    # sentence-transformers' f32 products and ignores the other two) to AVX2; papermap's own kernels to
    # AVX2 (the gemm crate behind its f32 attention products has no cap and keeps AVX-512).
    run st-f32-avx2cap env ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \
      "$BASELINE_PY" ../shared/tools/st_baseline.py --model-dir "$model_dir" --threads 2 --docs 500 --runs 3
    run papermap-int8-avx2cap env PAPERMAP_MAX_CPU_ISA=avx2 "$bench" --threads 2 --docs 500 --runs 3 --precision int8
  fi
done
echo "# medians (docs/s) and ratio to st-f32"
python3 - "$out" <<'PY'
import statistics, sys
rates = {}
for line in open(sys.argv[1]):
    name, rate = line.split()
    rates.setdefault(name, []).append(float(rate))
base = statistics.median(rates["st-f32"])
for name, r in rates.items():
    m = statistics.median(r)
    line = f"{name:24s} {m:7.1f}  x{m / base:.2f}  runs={r}"
    if name.endswith("avx2cap") and "st-f32-avx2cap" in rates:
        capped = statistics.median(rates["st-f32-avx2cap"])
        per_round = [f"{a / b:.2f}" for a, b in zip(r, rates["st-f32-avx2cap"])]
        line += f"  x{m / capped:.2f} of st-f32-avx2cap (per round {per_round})"
    print(line)
PY
