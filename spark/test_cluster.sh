#!/usr/bin/env bash
# End-to-end test of spark/papermap_embed.py on a real Spark standalone cluster: a master and two
# one-core workers on 127.0.0.1, started here and always stopped on exit. Installs Java and pyspark
# when they are missing. Run from anywhere: `bash spark/test_cluster.sh`.
#
# Checks: the job's vectors equal a local `papermap embed --papers` run (max abs diff <= 1e-6) on the
# seed corpus and on tests/data/arxiv_abstracts.jsonl; tasks ran on both workers; `papermap index`
# takes the output without embedding again, and search works on it; a malformed input line is
# reported with file and line and skipped; a finished OUTPUT is refused without --overwrite; a damaged
# model fails the job with papermap's checksum error; a worker killed mid-job (with its executor)
# still gives every paper exactly once. Prints timings, then "N passed, M failed".
#
# Environment:
#   PAPERMAP_BIN   the papermap binary (default target/release/papermap, else target/debug/papermap)
#   ARXIV_PAPERS   how many of the 1,998 arXiv abstracts the large run embeds (default 1000: the
#                  first 1,000 lines; all 1,998 take ~3 more minutes, past this test's 6-minute budget)
#   FAULT_PAPERS   papers in the run that loses a worker (default 240; at most ARXIV_PAPERS)
#   KEEP_WORK=1    keep the scratch folder (logs, outputs, task logs) and print where it is
set -uo pipefail
cd "$(dirname "$0")/.."

PASSED=0
FAILED=0
say() { echo "test_cluster: $*"; }
pass() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $1"; }
# check NAME COMMAND...: one counted check.
check() {
  local name=$1
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}
# A failure after which nothing else can run.
fatal() {
  fail "$1"
  echo "$PASSED passed, $FAILED failed"
  exit 1
}

# --- prerequisites -------------------------------------------------------------------------------

if ! command -v java >/dev/null 2>&1; then
  say "java not found: apt-get install openjdk-17-jre-headless"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; } ||
    fatal "install Java"
fi
JAVA_MAJOR=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
[ "${JAVA_MAJOR:-0}" -ge 17 ] || fatal "Spark 4 needs Java 17 or newer; found: $(java -version 2>&1 | head -n1)"

if ! python3 -c 'import pyspark' 2>/dev/null; then
  say "pyspark not found: pip install pyspark==4.3.0 into $(command -v python3)"
  python3 -m pip install -q pyspark==4.3.0 ||
    python3 -m pip install -q --break-system-packages pyspark==4.3.0 ||
    fatal "install pyspark"
fi
SPARK_HOME=$(python3 -c 'import pyspark, os; print(os.path.dirname(pyspark.__file__))')
export SPARK_HOME
say "Spark $(python3 -c 'import pyspark; print(pyspark.__version__)') from $SPARK_HOME, Java $JAVA_MAJOR"

BIN=${PAPERMAP_BIN:-}
if [ -z "$BIN" ]; then
  if [ -x target/release/papermap ]; then BIN=target/release/papermap; else BIN=target/debug/papermap; fi
fi
[ -x "$BIN" ] || fatal "papermap binary $BIN not found (build it, or set PAPERMAP_BIN)"
BIN=$(realpath "$BIN")
if ! MODEL_DIR=$("$BIN" model path 2>/dev/null); then
  say "model not cached: papermap model fetch"
  "$BIN" model fetch && MODEL_DIR=$("$BIN" model path) || fatal "fetch the model"
fi
say "papermap $BIN, model $MODEL_DIR"

# --- scratch space and cluster --------------------------------------------------------------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/papermap-spark-test.XXXXXX")
mkdir -p "$WORK/tmp" "$WORK/local"
# Everything Spark and the tasks write (temp files, block manager dirs) stays under $WORK.
export TMPDIR=$WORK/tmp SPARK_LOCAL_DIRS=$WORK/local SPARK_LOCAL_IP=127.0.0.1
PYTHON=$(python3 -c 'import sys; print(sys.executable)')
export PYSPARK_PYTHON=$PYTHON PYSPARK_DRIVER_PYTHON=$PYTHON
# Every JVM here is short-lived or idle (the work is papermap's): the client compiler alone and the
# serial collector cut each job's JVM start-up by about a quarter on 2 cores.
JAVA_OPTS_FAST="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:-UsePerfData -Djava.io.tmpdir=$WORK/tmp"
export SPARK_DAEMON_JAVA_OPTS=$JAVA_OPTS_FAST

CLUSTER_PIDS=()
# Every descendant of a process, deepest first (collected before anything is killed, since the
# children of a killed process are re-parented).
descendants() {
  local child
  for child in $(pgrep -P "$1" 2>/dev/null); do
    descendants "$child"
    echo "$child"
  done
}
stop_tree() {
  local signal=$1 pid=$2
  kill "-$signal" $(descendants "$pid") "$pid" 2>/dev/null
}
cleanup() {
  local pid tries
  for pid in "${CLUSTER_PIDS[@]}"; do stop_tree TERM "$pid"; done
  for pid in "${CLUSTER_PIDS[@]}"; do
    for tries in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    stop_tree KILL "$pid"
  done
  if [ "${KEEP_WORK:-}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r MASTER_PORT MASTER_UI WORKER1_UI WORKER2_UI < <("$PYTHON" -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
MASTER=spark://127.0.0.1:$MASTER_PORT

"$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
  --host 127.0.0.1 --port "$MASTER_PORT" --webui-port "$MASTER_UI" >"$WORK/master.log" 2>&1 &
CLUSTER_PIDS+=($!)
declare -A WORKER_PID
for i in 1 2; do
  ui_var=WORKER${i}_UI
  mkdir -p "$WORK/worker$i"
  SPARK_WORKER_DIR=$WORK/worker$i "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
    --cores 1 --memory 1g --host 127.0.0.1 --webui-port "${!ui_var}" --work-dir "$WORK/worker$i" \
    "$MASTER" >"$WORK/worker$i.log" 2>&1 &
  WORKER_PID[$i]=$!
  CLUSTER_PIDS+=($!)
done
disown -a # the fault run kills a worker on purpose: no job-control notice for it

alive_workers() {
  "$PYTHON" - "$MASTER_UI" <<'EOF'
import json, sys, urllib.request
state = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json/", timeout=2))
print(sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE"))
EOF
}
# Readiness: poll the master's JSON until both workers are registered (bounded: 60 s).
wait_for_workers() {
  local tries n
  for tries in $(seq 1 240); do
    n=$(alive_workers 2>/dev/null) && [ "$n" -ge 2 ] && return 0
    sleep 0.25
  done
  return 1
}
T0=$(date +%s.%N)
wait_for_workers || {
  tail -n 20 "$WORK/master.log" "$WORK"/worker*.log
  fatal "the master at 127.0.0.1:$MASTER_UI lists 2 alive workers"
}
pass "cluster up: master $MASTER with 2 alive workers ($("$PYTHON" -c "print(round($(date +%s.%N) - $T0, 1))") s)"

# --- helpers --------------------------------------------------------------------------------------

now() { date +%s.%N; }
seconds_since() { "$PYTHON" -c "import sys; print(round($(now) - float(sys.argv[1]), 2))" "$1"; }
# jget FILE KEY: a field of the JSON object on FILE's last line.
jget() { "$PYTHON" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])[sys.argv[2]])' "$1" "$2"; }

SUBMIT=(
  "$SPARK_HOME/bin/spark-submit" --master "$MASTER"
  --conf spark.ui.enabled=false --conf spark.ui.showConsoleProgress=false
  --conf spark.driver.host=127.0.0.1
  --driver-java-options "$JAVA_OPTS_FAST" --conf "spark.executor.extraJavaOptions=$JAVA_OPTS_FAST"
  # Start only once both executors are up, so that the two-worker checks do not depend on timing
  # (the ratio counts against spark.cores.max in standalone mode; without it there is no wait).
  --conf spark.cores.max=2 --conf spark.scheduler.minRegisteredResourcesRatio=1.0
  --conf spark.scheduler.maxRegisteredResourcesWaitingTime=60s
)
# run_job NAME [spark-submit --conf ...] -- JOB ARGS...: stdout to $WORK/NAME.out, stderr to NAME.err.
run_job() {
  local name=$1
  shift
  local confs=()
  while [ "$1" != "--" ]; do confs+=("$1"); shift; done
  shift
  local start
  start=$(now)
  # No --model-dir: the job finds the model with `papermap model path`, as a user's run would.
  "${SUBMIT[@]}" "${confs[@]}" spark/papermap_embed.py --papermap "$BIN" --task-log "$WORK/tasks-$name" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
  local rc=$?
  echo "$(seconds_since "$start")" >"$WORK/$name.wall"
  if [ $rc -ne 0 ]; then say "$name: exit $rc; end of its stderr:"; tail -n 15 "$WORK/$name.err" | cut -c1-400; fi
  return $rc
}
job_ok() { [ "$1" -eq 0 ] && [ -f "$2/papermap-embeddings.json" ]; }
# Worker folders (1, 2) whose executors started tasks, from the job's task log.
workers_used() {
  "$PYTHON" - "$1" "$WORK" <<'EOF'
import glob, json, os, sys
used = set()
for path in glob.glob(os.path.join(sys.argv[1], "start-*.json")):
    used.add(json.load(open(path))["worker_dir"])
print(" ".join(sorted(os.path.basename(w or "?") for w in used)))
EOF
}
both_workers() {
  local used
  used=$(workers_used "$WORK/tasks-$1")
  say "$1: tasks started on: $used"
  [ "$used" = "worker1 worker2" ]
}
compare() { "$PYTHON" spark/compare_vectors.py "$@"; }
local_embed() { "$BIN" embed --papers "$1" -o "$2" --threads 2 --model-dir "$MODEL_DIR" 2>>"$WORK/local.err"; }
index_check() {
  local out=$1 lib=$2 papers=$3
  "$BIN" index "$out" --out "$lib" --json >"$lib.json" 2>>"$WORK/index.err" || return 1
  "$PYTHON" - "$lib.json" "$papers" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"index: {r}")
sys.exit(0 if r["embedded"] == 0 and r["papers"] == int(sys.argv[2]) else 1)
EOF
}

# --- inputs and local reference vectors -----------------------------------------------------------

ARXIV_PAPERS=${ARXIV_PAPERS:-1000}
FAULT_PAPERS=${FAULT_PAPERS:-240}
# The fault run's and the small run's papers are checked against the arXiv run's local vectors.
[ "$FAULT_PAPERS" -le "$ARXIV_PAPERS" ] && [ "$ARXIV_PAPERS" -ge 2 ] || fatal "need 2 <= FAULT_PAPERS <= ARXIV_PAPERS"
head -n "$ARXIV_PAPERS" tests/data/arxiv_abstracts.jsonl >"$WORK/arxiv.jsonl"
head -n "$FAULT_PAPERS" tests/data/arxiv_abstracts.jsonl >"$WORK/fault.jsonl"
# Two good papers and a malformed third line.
{ head -n 2 tests/data/arxiv_abstracts.jsonl; echo '{"id": "broken", "title": "no closing brace"'; } >"$WORK/small.jsonl"

"$BIN" export examples/data/seed -o "$WORK/seed.papers.jsonl" 2>/dev/null &&
  "$BIN" export "$WORK/arxiv.jsonl" -o "$WORK/arxiv.papers.jsonl" 2>/dev/null &&
  "$BIN" export "$WORK/fault.jsonl" -o "$WORK/fault.papers.jsonl" 2>/dev/null &&
  "$BIN" export "$WORK/small.jsonl" -o "$WORK/small.papers.jsonl" 2>/dev/null ||
  fatal "papermap export of the test inputs"
SEED_N=$(wc -l <"$WORK/seed.papers.jsonl")
ARXIV_N=$(wc -l <"$WORK/arxiv.papers.jsonl")

local_embed "$WORK/seed.papers.jsonl" "$WORK/seed.local.jsonl" || fatal "local papermap embed of the seed corpus"
start=$(now)
local_embed "$WORK/arxiv.papers.jsonl" "$WORK/arxiv.local.jsonl" || fatal "local papermap embed of the arXiv abstracts"
LOCAL_S=$(seconds_since "$start")
pass "local reference vectors: $SEED_N seed papers, $ARXIV_N arXiv papers ($LOCAL_S s at 2 threads)"

# --- seed corpus, 16 partitions: vectors, both workers, index, search -----------------------------

run_job seed16 -- examples/data/seed "$WORK/out-seed" --partitions 16
rc=$?
check "seed corpus, 16 partitions: job finished with its manifest" job_ok $rc "$WORK/out-seed"
check "seed corpus: tasks ran on both workers" both_workers seed16
check "seed corpus: every paper once, vectors equal to a local run" \
  compare --papers "$WORK/seed.papers.jsonl" --actual "$WORK/out-seed" --expected "$WORK/seed.local.jsonl"
check "seed corpus: papermap index takes the output without embedding ($SEED_N papers)" \
  index_check "$WORK/out-seed" "$WORK/lib-seed" "$SEED_N"
search_first() {
  "$BIN" search "$WORK/lib-seed" "summarizing recorded scientific talks into text" -k 5 --json >"$WORK/search.json" 2>>"$WORK/index.err" &&
    "$PYTHON" -c 'import json,sys; hits = json.load(open(sys.argv[1])); print("search:", [h["id"] for h in hits]); sys.exit(hits[0]["id"] != "2502.08279")' "$WORK/search.json"
}
check "seed library: search puts 2502.08279 first" search_first

# --- a finished OUTPUT is refused; --overwrite, with 2 partitions (the per-partition cost) ---------

run_job seed-again -- examples/data/seed "$WORK/out-seed"
rc=$?
refused() {
  local error
  # spark-submit passes the Python driver's stderr on to its own stdout: look in both.
  error=$(cat "$WORK/seed-again.out" "$WORK/seed-again.err" | grep '^error: ')
  say "refusal: $error"
  [ "$rc" -eq 2 ] && [ "$(echo "$error" | wc -l)" -eq 1 ] && echo "$error" | grep -q -- "--overwrite"
}
check "a finished OUTPUT is refused with one error line (exit 2)" refused
run_job seed2 -- examples/data/seed "$WORK/out-seed" --partitions 2 --overwrite
rc=$?
overwritten() {
  job_ok $rc "$WORK/out-seed" &&
    compare --papers "$WORK/seed.papers.jsonl" --actual "$WORK/out-seed" --expected "$WORK/seed.local.jsonl" &&
    "$PYTHON" -c 'import json,sys; sys.exit(len(json.load(open(sys.argv[1]))["parts"]) != 2)' "$WORK/out-seed/papermap-embeddings.json"
}
check "--overwrite replaces it (2 partitions this time), vectors equal to a local run" overwritten

# --- a damaged model fails the tasks with papermap's checksum error -------------------------------
# (into the OUTPUT of the next run, which must then clear what this failed run left)

mkdir -p "$WORK/damaged-model"
for f in "$MODEL_DIR"/*; do ln -s "$(realpath "$f")" "$WORK/damaged-model/$(basename "$f")"; done
rm "$WORK/damaged-model/config.json"
{ cat "$MODEL_DIR/config.json"; echo " "; } >"$WORK/damaged-model/config.json"
"${SUBMIT[@]}" --conf spark.task.maxFailures=1 spark/papermap_embed.py --papermap "$BIN" \
  --model-dir "$WORK/damaged-model" "$WORK/small.jsonl" "$WORK/out-small" >"$WORK/damaged.out" 2>"$WORK/damaged.err"
rc=$?
damaged_fails() {
  say "damaged model: exit $rc; $(cat "$WORK/damaged.out" "$WORK/damaged.err" | grep -m1 '^error: ' | cut -c1-300)"
  [ "$rc" -ne 0 ] && grep -qi checksum "$WORK/damaged.out" "$WORK/damaged.err" && [ ! -e "$WORK/out-small/papermap-embeddings.json" ]
}
check "a damaged model fails the job with the checksum error, no manifest" damaged_fails

# --- a malformed entry is reported and skipped -----------------------------------------------------

run_job small -- "$WORK/small.jsonl" "$WORK/out-small"
rc=$?
reused() { job_ok $rc "$WORK/out-small" && grep -q "left by an unfinished run" "$WORK/small.out" "$WORK/small.err"; }
check "2 papers + a malformed line: job finished, in the OUTPUT the failed run left" reused
check "malformed line reported with its file and line" grep -q "^warning: .*small.jsonl:3: " "$WORK/small.out" "$WORK/small.err"
check "manifest: 2 papers, 1 skipped entry, parts named *.jsonl" "$PYTHON" -c '
import json, sys
m = json.load(open(sys.argv[1] + "/papermap-embeddings.json"))
print("manifest:", {k: m[k] for k in ("format", "format_version", "papers", "parts", "skipped_entries", "written_by")})
ok = m["format"] == "papermap-embeddings" and m["format_version"] == 1 and m["papers"] == 2
ok = ok and m["skipped_entries"] == 1 and m["parts"] and all(p.startswith("parts/") and p.endswith(".jsonl") for p in m["parts"])
ok = ok and m["model"]["dimension"] == 384 and m["written_by"] == "spark/papermap_embed.py"
sys.exit(0 if ok else 1)' "$WORK/out-small"
check "2 papers: vectors equal to a local run" \
  compare --papers "$WORK/small.papers.jsonl" --actual "$WORK/out-small" --expected "$WORK/arxiv.local.jsonl"

# --- the arXiv abstracts: throughput against a local run -----------------------------------------

run_job arxiv -- "$WORK/arxiv.jsonl" "$WORK/out-arxiv"
rc=$?
check "arXiv abstracts ($ARXIV_N): job finished with its manifest" job_ok $rc "$WORK/out-arxiv"
check "arXiv abstracts: tasks ran on both workers" both_workers arxiv
check "arXiv abstracts: every paper once, vectors equal to a local run" \
  compare --papers "$WORK/arxiv.papers.jsonl" --actual "$WORK/out-arxiv" --expected "$WORK/arxiv.local.jsonl"
check "arXiv abstracts: papermap index takes the output without embedding ($ARXIV_N papers)" \
  index_check "$WORK/out-arxiv" "$WORK/lib-arxiv" "$ARXIV_N"

# --- a worker dies mid-job ------------------------------------------------------------------------

# The job runs in the background; the kill is triggered by the job's own task log (the first
# "start" record: a task has begun embedding), not by a sleep.
run_job fault -- "$WORK/fault.jsonl" "$WORK/out-fault" --partitions 6 &
JOB_PID=$!
CLUSTER_PIDS+=($JOB_PID)
FIRST_START=$("$PYTHON" - "$WORK/tasks-fault" <<'EOF'
import glob, json, os, sys, time
for _ in range(1800):  # 180 s at most
    found = sorted(glob.glob(os.path.join(sys.argv[1], "start-*.json")))
    if found:
        print(found[0])
        sys.exit(0)
    time.sleep(0.1)
sys.exit(1)
EOF
)
VICTIM=
VICTIM_PIDS=
if [ -n "$FIRST_START" ]; then
  VICTIM=$("$PYTHON" -c 'import json,os,sys; print(os.path.basename(json.load(open(sys.argv[1]))["worker_dir"]))' "$FIRST_START")
  VICTIM_PID=${WORKER_PID[${VICTIM#worker}]}
  TREE=$(descendants "$VICTIM_PID" | tr '\n' ' ')
  say "fault: task $(basename "$FIRST_START") started on $VICTIM; kill -9 worker pid $VICTIM_PID and its processes: $TREE"
  VICTIM_PIDS="$TREE $VICTIM_PID"
  kill -9 $VICTIM_PIDS
fi
wait "$JOB_PID"
rc=$?
victim_gone() {
  local pid
  [ -n "$VICTIM_PIDS" ] || return 1
  for pid in $VICTIM_PIDS; do
    # Gone, or a zombie waiting for its new parent to reap it.
    case "$(ps -o stat= -p "$pid" 2>/dev/null)" in "" | Z*) ;; *) return 1 ;; esac
  done
}
check "fault: a task started; its worker, executor and their processes were killed" victim_gone
check "fault: the job still finished with its manifest" job_ok $rc "$WORK/out-fault"
retried() {
  "$PYTHON" - "$WORK/tasks-fault" "$FIRST_START" <<'EOF'
import glob, json, os, sys
killed = json.load(open(sys.argv[2]))
done = [json.load(open(p)) for p in glob.glob(os.path.join(sys.argv[1], "done-*.json"))]
same = [d for d in done if d["partition"] == killed["partition"]]
print(f"fault: partition {killed['partition']} attempt {killed['attempt']} killed on "
      f"{os.path.basename(killed['worker_dir'])}; finished by", [(d["attempt"], os.path.basename(d["worker_dir"])) for d in same])
sys.exit(0 if len(same) == 1 and same[0]["attempt"] > killed["attempt"] else 1)
EOF
}
check "fault: the killed task was retried on the other worker and finished once" retried
check "fault: every exported paper exactly once, vectors equal to a local run" \
  compare --papers "$WORK/fault.papers.jsonl" --actual "$WORK/out-fault" --expected "$WORK/arxiv.local.jsonl"

# --- timings --------------------------------------------------------------------------------------

"$PYTHON" - "$WORK" "$LOCAL_S" <<'EOF'
import json, os, sys
work, local_s = sys.argv[1], float(sys.argv[2])
def job(name):
    path = os.path.join(work, name + ".out")
    if not os.path.exists(path) or not open(path).read().strip():
        return None
    t = json.loads(open(path).read().strip().splitlines()[-1])
    t["wall_s"] = float(open(os.path.join(work, name + ".wall")).read())
    return t
arxiv, small, s2, s16 = job("arxiv"), job("small"), job("seed2"), job("seed16")
if arxiv:
    n = arxiv["papers"]
    print(f"timing: cluster, 2 workers x 1 core: {n} papers, Spark job {arxiv['spark_job_s']:.1f} s = {arxiv['papers_per_s']:.1f} docs/s "
          f"({arxiv['partitions']} partitions); whole spark-submit {arxiv['wall_s']:.1f} s = {n / arxiv['wall_s']:.1f} docs/s "
          f"(export {arxiv['export_s']:.1f} s, Spark start {arxiv['spark_startup_s']:.1f} s, verify {arxiv['verify_s']:.1f} s)")
    print(f"timing: local papermap embed --papers --threads 2: {n} papers in {local_s:.1f} s = {n / local_s:.1f} docs/s")
if small:
    print(f"timing: fixed cost per job ({small['papers']} papers): spark-submit {small['wall_s']:.1f} s wall, of which Spark start "
          f"{small['spark_startup_s']:.1f} s and Spark job {small['spark_job_s']:.1f} s ({small['partitions']} partitions)")
if s2 and s16:
    extra = s16["partitions"] - s2["partitions"]
    per = (s16["spark_job_s"] - s2["spark_job_s"]) / extra
    print(f"timing: per partition: seed corpus Spark job {s2['spark_job_s']:.1f} s at {s2['partitions']} partitions, "
          f"{s16['spark_job_s']:.1f} s at {s16['partitions']}: {per:.2f} s wall per extra partition on 2 cores "
          f"(~{2 * per:.2f} core-s: a papermap process and model load per partition)")
EOF

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
