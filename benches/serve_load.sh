#!/usr/bin/env bash
# Load figures of `papermap serve` with the oha load generator (`cargo install oha`) on loopback,
# against a library_bench library (synthetic clustered vectors, real arXiv texts):
#   cargo build --release -p papermap-cli && cargo build --release --example library_bench && target/release/examples/library_bench --n 1000000 --work /tmp/libbench
#   bash benches/serve_load.sh /tmp/libbench/lib-1000000
# Prints oha's summary (QPS, p50, p99) for: related by id at c = 1, 8, 64; search by short text
# (embedding included) at c = 8; related at c = 8 while one writer adds 1,000 papers in batches of
# 100; the server's peak anonymous memory; and the process-per-query CLI beside it.
# The server runs on a copy of LIBRARY_DIR (same filesystem, ~3.4 GB at 1,000,000 papers): the
# writer's papers must not stay in the library, or every later run would measure a library with
# more small segments (each scanned per query) than library_bench made, and would draw its ids
# from the writer's papers.
set -euo pipefail
SOURCE=${1:?usage: serve_load.sh LIBRARY_DIR}
BIN=${PAPERMAP_BIN:-target/release/papermap}
PORT=${PORT:-7899}
DUR=${DUR:-10s}
WORK=$(mktemp -d -p "$(dirname "$SOURCE")")
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
LIB="$WORK/library"
cp -r --reflink=auto "$SOURCE" "$LIB"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$WORK/token"

# Ids to ask about: the library's own (its search by a generic word returns 1,000 of them).
"$BIN" serve "$LIB" --addr 127.0.0.1:$PORT --token-file "$WORK/token" 2> "$WORK/server.log" &
SERVER=$!
until curl -sf localhost:$PORT/health >/dev/null; do sleep 0.2; done
curl -s "localhost:$PORT/v1/search?q=learning&k=1000" | python3 -c '
import json, sys
for h in json.load(sys.stdin)["hits"]: print("http://127.0.0.1:'$PORT'/v1/papers/%s/related?k=10" % h["id"])' > "$WORK/related.urls"
python3 - "$WORK/search.urls" $PORT <<'PY'
import sys, urllib.parse
words = ["graph neural networks", "protein design", "black hole mergers", "speech recognition",
         "reinforcement learning for robots", "diffusion models", "quantum error correction",
         "large language model reasoning", "climate simulation", "image segmentation"]
with open(sys.argv[1], "w") as f:
    for w in words:
        f.write("http://127.0.0.1:%s/v1/search?q=%s&k=10\n" % (sys.argv[2], urllib.parse.quote_plus(w)))
PY

peak() { awk '/RssAnon/{print $2/1024 " MB anonymous"} /RssFile/{print $2/1024 " MB file-backed"}' /proc/$SERVER/status; }
for c in 1 8 64; do
  echo "== related, c = $c"; oha --no-tui -z "$DUR" -c $c --urls-from-file "$WORK/related.urls"
done
echo "== search (embedding included), c = 8"; oha --no-tui -z "$DUR" -c 8 --urls-from-file "$WORK/search.urls"
echo "== related, c = 8, while one writer adds 1,000 papers"
# Ids new to the library on every run (a rerun's writer must write, not find its papers unchanged).
python3 - "$WORK/batch" "$(date +%s)" <<'PY'
import json, sys
run = sys.argv[2]
for b in range(10):
    with open("%s%d.jsonl" % (sys.argv[1], b), "w") as f:
        for j in range(100):
            i = b * 100 + j
            f.write(json.dumps({"id": "load-%s-%05d" % (run, i), "title": "Load test paper %d on graph learning" % i,
                                "abstract": "We study benchmark %d of message passing networks under load." % i}) + "\n")
PY
( for b in $(seq 0 9); do curl -s -H "Authorization: Bearer $(cat "$WORK/token")" --data-binary @"$WORK/batch$b.jsonl" localhost:$PORT/v1/papers >/dev/null; done; echo "writer done" ) &
WRITER=$!
oha --no-tui -z "$DUR" -c 8 --urls-from-file "$WORK/related.urls"
wait $WRITER
echo "== server memory now"; peak
echo "== process per query (the CLI), 20 runs"
ID=$(head -1 "$WORK/related.urls" | sed 's#.*/papers/##; s#/related.*##')
start=$(date +%s.%N); for i in $(seq 20); do "$BIN" related "$LIB" "$ID" -k 10 --json >/dev/null; done
echo "mean $(echo "($(date +%s.%N) - $start) / 20" | bc -l | cut -c1-6) s per related query"
