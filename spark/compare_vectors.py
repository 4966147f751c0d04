#!/usr/bin/env python3
"""Checks a Spark job's output against the exported papers and a local `papermap embed --papers` run.

    compare_vectors.py --papers EXPORTED.jsonl --actual OUTPUT --expected LOCAL.jsonl [--expected ...]
                       [--tol 1e-6]

- every exported paper's id appears exactly once in OUTPUT, and nothing else does;
- each output line carries the exported paper unchanged, plus its "embedding";
- each vector differs from the local vector of the same id by at most --tol in every value.

OUTPUT is a job folder (its manifest's parts are read and its paper count checked) or a JSON Lines
file. --expected files may hold more papers than OUTPUT (e.g. a local run of a superset). Prints one
JSON line (papers, max_abs_diff) and exits 0, or names the first problems and exits 1.
Pure Python: numpy is not assumed.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys

MANIFEST = "papermap-embeddings.json"


def read_jsonl(path: str):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                yield f"{path}:{n}", json.loads(line)


def actual_files(actual: str, problems: list[str]) -> tuple[list[str], dict | None]:
    if not os.path.isdir(actual):
        return [actual], None
    manifest_path = os.path.join(actual, MANIFEST)
    if not os.path.isfile(manifest_path):
        problems.append(f"{actual} has no {MANIFEST}: the job did not finish")
        return [], None
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    return [os.path.join(actual, p) for p in manifest["parts"]], manifest


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", required=True, help="the exported papers (papermap export)")
    parser.add_argument("--actual", required=True, help="job OUTPUT folder or JSON Lines file with embeddings")
    parser.add_argument("--expected", required=True, action="append", help="local `papermap embed --papers` output")
    parser.add_argument("--tol", type=float, default=1e-6, help="largest allowed absolute difference per value")
    args = parser.parse_args(argv)

    problems: list[str] = []
    papers = {}
    for where, paper in read_jsonl(args.papers):
        papers[paper["id"]] = paper
    expected = {}
    for path in args.expected:
        for _, obj in read_jsonl(path):
            expected[obj["id"]] = obj["embedding"]

    files, manifest = actual_files(args.actual, problems)
    seen: collections.Counter[str] = collections.Counter()
    max_diff = 0.0
    for path in files:
        for where, obj in read_jsonl(path):
            paper_id = obj.get("id")
            seen[paper_id] += 1
            vector = obj.pop("embedding", None)
            if paper_id not in papers:
                problems.append(f"{where}: id {paper_id!r} was not exported")
                continue
            if obj != papers[paper_id]:
                problems.append(f"{where}: paper {paper_id} differs from the exported one apart from its embedding")
            local = expected.get(paper_id)
            if local is None:
                problems.append(f"{where}: no local vector for {paper_id}")
                continue
            if not isinstance(vector, list) or len(vector) != len(local):
                problems.append(f"{where}: embedding of {paper_id} has {len(vector) if isinstance(vector, list) else 'no'} values, local {len(local)}")
                continue
            diff = max(abs(a - b) for a, b in zip(vector, local))
            max_diff = max(max_diff, diff)
            if diff > args.tol:
                problems.append(f"{where}: embedding of {paper_id} differs from the local one by {diff:.3g} > {args.tol:g}")

    repeated = sorted(i for i, c in seen.items() if c > 1)
    missing = sorted(set(papers) - set(seen))
    if repeated:
        problems.append(f"{len(repeated)} ids appear more than once, e.g. {repeated[:5]}")
    if missing:
        problems.append(f"{len(missing)} exported ids are missing, e.g. {missing[:5]}")
    if manifest is not None and manifest.get("papers") != len(papers):
        problems.append(f"the manifest records {manifest.get('papers')} papers, the export holds {len(papers)}")

    if problems:
        for p in problems[:10]:
            print(f"compare_vectors: {p}", file=sys.stderr)
        if len(problems) > 10:
            print(f"compare_vectors: ... and {len(problems) - 10} more problems", file=sys.stderr)
        return 1
    print(json.dumps({"papers": sum(seen.values()), "max_abs_diff": max_diff, "tol": args.tol}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
