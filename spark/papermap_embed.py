#!/usr/bin/env python3
"""Embed a paper corpus on a Spark cluster with the papermap binary.

    spark-submit --master URL spark/papermap_embed.py INPUT... OUTPUT
        [--papermap BIN] [--model-dir DIR] [--partitions N] [--overwrite] [--task-log DIR]

The driver exports the papers with papermap's own readers (`papermap export`), so ids and texts are
exactly the ones `papermap index` uses; executors pipe their partition through
`papermap embed --papers --threads 1` and the vectors are those of a local run. The result,
`OUTPUT/papermap-embeddings.json` plus `OUTPUT/parts/part-NNNNN.jsonl`, is indexed with
`papermap index OUTPUT --out LIB` without embedding again.

OUTPUT must be a path every worker sees (a shared filesystem), like any Spark output; this script
reads and renames the part files itself, so it takes plain paths, not hdfs:// URIs.

Crash safety: part files are written through Hadoop's FileOutputCommitter (algorithm 1: each task
attempt writes to its own temporary folder and exactly one attempt per partition is committed), and
the manifest is written last, atomically, after the output was counted and checked. A folder without
the manifest is therefore never a finished job; it may be cleared and reused by the next run.

Prints one JSON line of timings on stdout at the end; everything else goes to stderr.
Python 3.11, pyspark and the standard library only.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import zipfile

MANIFEST = "papermap-embeddings.json"
FORMAT = "papermap-embeddings"
FORMAT_VERSION = 1
STAGING = "_staging"
PARTS = "parts"
WRITTEN_BY = "spark/papermap_embed.py"
# Name under which the model folder travels to the executors (sc.addArchive unpacks it there).
MODEL_ARCHIVE = "papermap-model.zip"
# How much of a failed papermap's stderr goes into the task's exception.
STDERR_TAIL = 4000

EXIT_FAILED = 1
EXIT_USAGE = 2


class JobError(Exception):
    """A failure explained in one line; `code` becomes the exit status."""

    def __init__(self, message: str, code: int = EXIT_FAILED):
        super().__init__(message)
        self.code = code


def log(message: str) -> None:
    print(f"papermap_embed: {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="papermap_embed.py",
        usage="spark-submit [--master URL] %(prog)s INPUT... OUTPUT [options]",
        description="Embed papers on a Spark cluster with papermap; the output is indexed with "
        "`papermap index OUTPUT --out LIB` without embedding again.",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="INPUT... OUTPUT",
        help="corpus files or folders (digest markdown, JSON Lines), then the output folder",
    )
    parser.add_argument("--papermap", metavar="BIN", default="papermap", help="papermap binary on the driver (default: papermap on PATH); shipped to the executors")
    parser.add_argument("--model-dir", metavar="DIR", help="model folder to ship to the executors (default: `papermap model path`)")
    parser.add_argument("--partitions", metavar="N", type=int, help="partitions to embed (default: 2 x the cluster's default parallelism)")
    parser.add_argument("--overwrite", action="store_true", help="replace an OUTPUT that already holds a finished job")
    parser.add_argument(
        "--task-log",
        metavar="DIR",
        help="record where each task attempt ran (host, pid, worker folder) as one small JSON file "
        "per start and finish in DIR; DIR must be visible to the executors (diagnostics and tests)",
    )
    args = parser.parse_args(argv)
    if len(args.paths) < 2:
        parser.error("give at least one INPUT and the OUTPUT folder")
    if args.partitions is not None and args.partitions < 1:
        parser.error("--partitions must be at least 1")
    args.inputs, args.output = args.paths[:-1], args.paths[-1]
    return args


# ---------------------------------------------------------------------------------------------
# Driver side
# ---------------------------------------------------------------------------------------------


def resolve_binary(name: str) -> str:
    path = shutil.which(name) if os.sep not in name else name
    if not path or not os.path.isfile(path):
        raise JobError(f"papermap binary {name!r} not found: give --papermap BIN", EXIT_USAGE)
    if not os.access(path, os.X_OK):
        raise JobError(f"papermap binary {path} is not executable", EXIT_USAGE)
    return os.path.abspath(path)


def run_papermap(binary: str, *args: str) -> str:
    """Runs a short papermap command and returns its stdout; its stderr goes into the error."""
    proc = subprocess.run([binary, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        detail = proc.stderr.strip() or f"exit status {proc.returncode}"
        raise JobError(f"`papermap {' '.join(args)}` failed: {detail}")
    return proc.stdout


def prepare_output(output: str, overwrite: bool) -> None:
    """Refuses a finished OUTPUT unless overwrite; clears what an earlier (crashed) run left."""
    manifest = os.path.join(output, MANIFEST)
    if os.path.exists(manifest):
        if not overwrite:
            raise JobError(
                f"{output} already holds a finished embedding job ({MANIFEST}); "
                "pass --overwrite to replace it or choose another OUTPUT",
                EXIT_USAGE,
            )
        # The manifest goes first: from here on OUTPUT reads as an unfinished job, never as a
        # finished one whose parts are being replaced underneath it.
        os.remove(manifest)
        log(f"--overwrite: replacing the job in {output}")
    if os.path.exists(output) and not os.path.isdir(output):
        raise JobError(f"OUTPUT {output} exists and is not a folder", EXIT_USAGE)
    # Only what this script writes is removed; anything else in OUTPUT is left alone.
    leftovers = [os.path.join(output, n) for n in (STAGING, PARTS)]
    if os.path.isdir(output):
        leftovers += [os.path.join(output, n) for n in os.listdir(output) if n.startswith(f".{MANIFEST}.")]
    for path in leftovers:
        if os.path.isdir(path):
            shutil.rmtree(path)
            log(f"removed {path} left by an unfinished run")
        elif os.path.exists(path):
            os.remove(path)
    os.makedirs(os.path.join(output, STAGING))


def export_papers(binary: str, inputs: list[str], staged: str) -> int:
    """`papermap export INPUT... -o staged`, forwarding its warnings; returns the entries it skipped."""
    proc = subprocess.Popen(
        [binary, "export", *inputs, "-o", staged],
        stdout=sys.stderr.fileno(),  # stdout is reserved for this job's timings line
        stderr=subprocess.PIPE,
        text=True,
    )
    skipped_summary = None
    warnings = 0
    error_lines = []
    assert proc.stderr is not None
    for line in proc.stderr:
        sys.stderr.write(line)  # verbatim: "warning: FILE:LINE: reason; skipped"
        sys.stderr.flush()
        if line.startswith("warning:"):
            warnings += 1
        elif line.startswith("error:") or error_lines:
            error_lines.append(line.strip().removeprefix("error:").strip())
        # papermap prints at most 20 warnings and then a count, so the summary is the true figure.
        m = re.match(r"exported (\d+) papers \((\d+) entries skipped", line)
        if m:
            skipped_summary = int(m.group(2))
    if proc.wait() != 0:
        detail = " ".join(error_lines) or f"exit status {proc.returncode}"
        raise JobError(f"`papermap export` failed: {detail}")
    return skipped_summary if skipped_summary is not None else warnings


def read_ids(path: str) -> list[str]:
    ids = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                paper_id = json.loads(line).get("id")
                if not isinstance(paper_id, str):
                    raise JobError(f"{path}:{n}: exported paper without an id")
                ids.append(paper_id)
    if not ids:
        raise JobError("papermap export wrote no papers")
    return ids


def archive_model(model_dir: str, archive: str) -> None:
    """Zips the model folder (stored, not compressed: the weights do not compress and speed matters).

    sc.addFile(DIR, recursive=True) refuses local folders outside local mode
    (UNSUPPORTED_ADD_FILE.LOCAL_DIRECTORY), so the folder travels as an archive that Spark itself
    ships and unpacks on every executor (sc.addArchive). Symbolic links (e.g. a Hugging Face cache
    layout) are followed.
    """
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        for root, dirs, files in os.walk(model_dir, followlinks=True):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                z.write(path, os.path.relpath(path, model_dir))


def finalize_parts(parts_dir: str) -> list[str]:
    """Names the committed part files *.jsonl (what papermap reads as JSON Lines); returns them
    relative to OUTPUT. Empty parts (empty partitions) are dropped; Hadoop's .crc side files would
    no longer match their renamed parts and go too."""
    if not os.path.exists(os.path.join(parts_dir, "_SUCCESS")):
        raise JobError(f"{parts_dir} has no _SUCCESS marker: the Spark job did not commit its output")
    parts = []
    for name in sorted(os.listdir(parts_dir)):
        path = os.path.join(parts_dir, name)
        if name.endswith(".crc"):
            os.remove(path)
        elif re.fullmatch(r"part-\d+", name):
            if os.path.getsize(path) == 0:
                os.remove(path)
            else:
                os.rename(path, path + ".jsonl")
                parts.append(f"{PARTS}/{name}.jsonl")
    return parts


def verify_output(output: str, parts: list[str], expected_ids: list[str], dimension: int) -> int:
    """Streams the part files: every exported id exactly once, each with a vector of the model's
    dimension. Returns the number of papers."""
    expected = collections.Counter(expected_ids)
    seen: collections.Counter[str] = collections.Counter()
    for part in parts:
        path = os.path.join(output, part)
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                paper = json.loads(line)
                vector = paper.get("embedding")
                if not isinstance(vector, list) or len(vector) != dimension:
                    raise JobError(f"{path}:{n}: no {dimension}-value embedding")
                seen[paper.get("id")] += 1
    if seen != expected:
        missing = sorted((expected - seen).keys())
        extra = sorted((seen - expected).keys())
        raise JobError(
            f"output does not match the exported papers: {sum(seen.values())} lines for "
            f"{len(expected_ids)} papers; missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"extra or repeated {extra[:5]}{'...' if len(extra) > 5 else ''}"
        )
    return sum(seen.values())


def write_manifest(output: str, manifest: dict) -> None:
    """Temp file + fsync + rename: readers see no manifest or a whole one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{MANIFEST}.", dir=output)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(output, MANIFEST))
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    dir_fd = os.open(output, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def file_uri(path: str) -> str:
    """An explicit file: URI, so Spark never resolves a plain path against a configured HDFS."""
    return "file://" + os.path.abspath(path)


# ---------------------------------------------------------------------------------------------
# Executor side
# ---------------------------------------------------------------------------------------------


def record_task(task_log: str | None, event: str, **fields) -> None:
    """Writes one task-log entry atomically (the tests poll this folder)."""
    if not task_log:
        return
    from pyspark import TaskContext

    ctx = TaskContext.get()
    entry = {
        "event": event,
        "stage": ctx.stageId(),
        "partition": ctx.partitionId(),
        "attempt": ctx.attemptNumber(),
        "task_attempt_id": ctx.taskAttemptId(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        # Set by a standalone worker for its executors; the executor runs in WORKER_DIR/APP/EXECUTOR.
        "worker_dir": os.environ.get("SPARK_WORKER_DIR"),
        "cwd": os.getcwd(),
        "time": time.time(),
        **fields,
    }
    name = f"{event}-s{entry['stage']}-p{entry['partition']:05d}-a{entry['attempt']}-t{entry['task_attempt_id']}.json"
    tmp = os.path.join(task_log, f".{name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(entry, f)
    os.replace(tmp, os.path.join(task_log, name))


def shipped_binary(name: str) -> str:
    from pyspark import SparkFiles

    path = SparkFiles.get(name)
    if not os.access(path, os.X_OK):
        # Spark normally keeps the executable bit, but not every fetch path does.
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def embed_partition(lines, *, binary_name: str, task_log: str | None):
    """mapPartitions body: the partition's paper lines through `papermap embed --papers`.

    The partition is written to a temporary file first and given to papermap as its stdin, so no
    pipe can fill up in both directions (papermap reads all its input before it embeds), and the
    number of lines it must return is known. Output lines are passed on unparsed, exactly as
    papermap wrote them. Any failure raises, so Spark fails the attempt and retries the task; a
    failed attempt's output is never committed.
    """
    from pyspark import SparkFiles, TaskContext

    ctx = TaskContext.get()
    with tempfile.TemporaryDirectory(prefix="papermap-task-") as tmp:
        papers_path = os.path.join(tmp, "papers.jsonl")
        count = 0
        with open(papers_path, "w", encoding="utf-8") as f:
            for line in lines:
                if line.strip():
                    f.write(line.rstrip("\n") + "\n")
                    count += 1
        if count == 0:
            return
        model_dir = SparkFiles.get(MODEL_ARCHIVE)
        if not os.path.isdir(model_dir):
            raise RuntimeError(f"the model archive was not unpacked on this executor: {model_dir} is not a folder")
        # One thread per core the task holds (spark.task.cpus, 1 by default): executors run as
        # many tasks at once as they have cores.
        threads = max(1, ctx.cpus() or 1)
        command = [shipped_binary(binary_name), "embed", "--papers", "-", "--threads", str(threads), "--model-dir", model_dir]
        record_task(task_log, "start", papers=count)
        started = time.monotonic()
        stderr_path = os.path.join(tmp, "stderr")
        with open(papers_path, "rb") as stdin, open(stderr_path, "wb") as stderr:
            proc = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE, stderr=stderr)
            written = 0
            try:
                assert proc.stdout is not None
                for raw in proc.stdout:
                    yield raw.decode("utf-8").rstrip("\n")
                    written += 1
                status = proc.wait()
            finally:
                # Reached early when Spark abandons the task (it closes this generator).
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if status != 0:
            with open(stderr_path, "rb") as f:
                tail = f.read().decode("utf-8", "replace")[-STDERR_TAIL:].strip()
            raise RuntimeError(
                f"papermap embed failed with exit status {status} on partition {ctx.partitionId()} "
                f"(host {socket.gethostname()}): {tail}"
            )
        if written != count:
            raise RuntimeError(f"papermap embed returned {written} lines for {count} papers on partition {ctx.partitionId()}")
        record_task(task_log, "done", papers=count, seconds=round(time.monotonic() - started, 3))


# ---------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict:
    started = time.monotonic()
    binary = resolve_binary(args.papermap)
    output = os.path.abspath(args.output)
    inputs = [os.path.abspath(p) for p in args.inputs]
    for given, path in zip(args.inputs, inputs):
        if not os.path.exists(path):
            raise JobError(f"input {given} does not exist", EXIT_USAGE)
    if args.task_log:
        os.makedirs(args.task_log, exist_ok=True)
    # Checked before Spark starts, so a refused OUTPUT costs no cluster time.
    prepare_output(output, args.overwrite)
    staging = os.path.join(output, STAGING)
    try:
        timings = embed_job(args, binary, output, inputs, staging)
    except BaseException:
        # The staged papers and the model archive (~90 MB) are no use to anyone now; the
        # manifest-less OUTPUT is cleared by the next run.
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {"output": output, **timings, "total_s": round(time.monotonic() - started, 3)}


def embed_job(args: argparse.Namespace, binary: str, output: str, inputs: list[str], staging: str) -> dict:
    from pyspark import SparkConf, SparkContext

    # `model fingerprint` prints JSON with or without --json; the plain form works with either.
    fingerprint = json.loads(run_papermap(binary, "model", "fingerprint"))
    model_dir = args.model_dir or run_papermap(binary, "model", "path").strip()
    if not os.path.isdir(model_dir):
        raise JobError(f"model folder {model_dir} not found (run `papermap model fetch`, or give --model-dir)", EXIT_USAGE)

    staged = os.path.join(staging, "papers.jsonl")
    t = time.monotonic()
    skipped = export_papers(binary, args.inputs, staged)
    ids = read_ids(staged)
    export_s = time.monotonic() - t
    log(f"exported {len(ids)} papers ({skipped} input entries skipped)")

    t = time.monotonic()
    archive = os.path.join(staging, MODEL_ARCHIVE)
    archive_model(model_dir, archive)
    conf = SparkConf().setAppName("papermap-embed")
    # FileOutputCommitter algorithm 1 commits each task attempt's folder once, at task commit, and
    # moves the committed tasks into place at job commit: a retried or killed attempt never adds
    # lines. (Algorithm 2 writes straight into the output folder.)
    conf.set("spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version", "1")
    sc = SparkContext(conf=conf)
    try:
        sc.setLogLevel("WARN")
        sc.addFile(binary)
        sc.addArchive(archive)
        partitions = args.partitions or 2 * sc.defaultParallelism
        startup_s = time.monotonic() - t

        t = time.monotonic()
        binary_name = os.path.basename(binary)
        task_log = os.path.abspath(args.task_log) if args.task_log else None
        # textFile keeps the export's order inside and across partitions (splits are byte ranges
        # of the file), so the parts concatenated are in input order; splits of equal size hold
        # about equally much text to embed. Hadoop may make one split more than asked.
        papers = sc.textFile(file_uri(staged), minPartitions=partitions)
        partitions = papers.getNumPartitions()
        embedded = papers.mapPartitions(lambda it: embed_partition(it, binary_name=binary_name, task_log=task_log))
        embedded.saveAsTextFile(file_uri(os.path.join(output, PARTS)))
        spark_s = time.monotonic() - t
    finally:
        sc.stop()

    t = time.monotonic()
    parts = finalize_parts(os.path.join(output, PARTS))
    count = verify_output(output, parts, ids, int(fingerprint["dimension"]))
    shutil.rmtree(staging)
    write_manifest(
        output,
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": fingerprint,
            "papers": count,
            "parts": parts,
            "inputs": inputs,
            "skipped_entries": skipped,
            "written_by": WRITTEN_BY,
        },
    )
    verify_s = time.monotonic() - t
    log(f"wrote {count} papers in {len(parts)} parts to {output}")
    return {
        "papers": count,
        "skipped_entries": skipped,
        "partitions": partitions,
        "export_s": round(export_s, 3),
        "spark_startup_s": round(startup_s, 3),
        "spark_job_s": round(spark_s, 3),
        "verify_s": round(verify_s, 3),
        "papers_per_s": round(count / spark_s, 2) if spark_s > 0 else None,
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        timings = run(args)
    except JobError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.code
    except Exception as e:  # a failed Spark job: Py4J wraps the executors' Python tracebacks
        detail = str(e).strip()
        m = re.search(r"^RuntimeError: (papermap embed .*)$", detail, re.M)
        reason = m.group(1) if m else (detail.splitlines() or [repr(e)])[0]
        print(detail, file=sys.stderr)  # the whole trace first; the one-line reason last
        print(f"error: the Spark job failed: {reason.strip()}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(timings), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
