#!/usr/bin/env bash
# Related-by-id load on a library that has taken several medium-sized additions: a copy of a
# library_bench library plus 7 saves of 5,000 papers each (so 7 segments of one merge tier stand
# beside the big one, as a server taking batches accumulates them), with oha at c = 1 and 64.
#   target/release/examples/library_bench --n 1000000 --work /tmp/libbench
#   BASELINE_PY=python-with-numpy bash benches/segments_load.sh /tmp/libbench/lib-1000000 /tmp/libbench/data-1000000
# PAPERMAP_BIN writes the additions and serves (compare builds by running it once per build: the
# library is written by the build under test). The added papers are library rows plus Gaussian
# noise (σ = 0.02 per component), renormalised, with the library's texts; the seed is fixed.
# BATCH (default 5000) sets the papers per save; RECALL=1 also scores `related` against an exact
# search over all the vectors (benches/baselines/segments_recall.py, numpy).
set -euo pipefail
SOURCE=${1:?usage: segments_load.sh LIBRARY_DIR DATA_DIR}
DATA=${2:?usage: segments_load.sh LIBRARY_DIR DATA_DIR}
BIN=${PAPERMAP_BIN:-target/release/papermap}
PY=${BASELINE_PY:-python3}
PORT=${PORT:-7897}
DUR=${DUR:-10s}
BATCH=${BATCH:-5000}
WORK=$(mktemp -d -p "$(dirname "$SOURCE")")
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
SERVER=
LIB="$WORK/library"
cp -r --reflink=auto "$SOURCE" "$LIB"
"$PY" - "$DATA" "$WORK" "$BATCH" <<'PY'
import json, sys
import numpy as np
data, work, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
vectors = np.load(f"{data}/papers.npy", mmap_mode="r")
texts = []
with open(f"{data}/papers.jsonl") as f:
    for line in f:
        texts.append(json.loads(line))
        if len(texts) == 7 * batch:
            break
rng = np.random.default_rng(7)
for b in range(7):
    rows = np.asarray(vectors[rng.integers(0, vectors.shape[0], batch)], dtype=np.float32)
    rows += rng.normal(0, 0.02, rows.shape).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    np.save(f"{work}/add{b}.npy", rows)
    with open(f"{work}/add{b}.jsonl", "w") as out:
        for j in range(batch):
            t = texts[b * batch + j]
            out.write(json.dumps({"id": f"seg-{b}-{j}", "title": t["title"], "abstract": t["abstract"]}) + "\n")
PY
for b in 0 1 2 3 4 5 6; do
  /usr/bin/time -f "save of $BATCH papers: %e s, %M KB peak" "$BIN" index "$WORK/add$b.jsonl" \
    --embeddings "$WORK/add$b.npy" --out "$LIB" >/dev/null
done
echo "segments: $(ls "$LIB" | grep -c '\.npy$'), with a graph: $(ls "$LIB" | grep -c '\.graph$')"
"$BIN" serve "$LIB" --addr 127.0.0.1:$PORT --read-only 2> "$WORK/server.log" &
SERVER=$!
until curl -sf localhost:$PORT/health >/dev/null; do sleep 0.2; done
curl -s "localhost:$PORT/v1/search?q=learning&k=1000" | python3 -c '
import json, sys
for h in json.load(sys.stdin)["hits"]: print("http://127.0.0.1:'$PORT'/v1/papers/%s/related?k=10" % h["id"])' > "$WORK/related.urls"
for c in 1 64; do
  echo "== related, c = $c"; oha --no-tui -z "$DUR" -c $c --urls-from-file "$WORK/related.urls" | grep -E "Requests/sec| 50.00%| 99.00%"
done
if [ "${RECALL:-0}" = 1 ]; then
  "$PY" "$(dirname "$0")/baselines/segments_recall.py" "$BIN" "$LIB" "$DATA" "$WORK" "$BATCH"
fi
