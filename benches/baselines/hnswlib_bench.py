"""hnswlib and numpy brute force on the same .npy files as examples/ann_bench.rs.

    python benches/baselines/hnswlib_bench.py --base DIR/base.npy --queries DIR/queries.npy \
        [--k 10] [--ef 16,32,64,128,256] [--threads 2] [--repeat 3] [--build-only]

Prints lines in the same shape as ann_bench: `ef=64 recall@10=0.9934 qps=12345.6`, queries
single-threaded (one knn_query call over all queries with num_threads=1, so no per-call
Python overhead), median of --repeat passes. Ground truth is numpy brute force (inner product
on unit vectors). Downloads nothing.
"""

import argparse
import os
import statistics
import time

import hnswlib
import numpy as np


def rss_bytes(field="VmRSS:"):
    """A /proc/self/status field in bytes: VmRSS (now) or VmHWM (peak so far)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--queries", required=True)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--ef", default="16,32,64,128,256")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--exact-queries", type=int, default=200)
    p.add_argument("--build-only", action="store_true", help="build and report; no queries")
    a = p.parse_args()

    base = np.ascontiguousarray(np.load(a.base), dtype=np.float32)
    queries = np.ascontiguousarray(np.load(a.queries), dtype=np.float32)
    n, dim = base.shape
    k = a.k
    print(f"data base={n}x{dim} queries={len(queries)} k={k} threads={a.threads}")

    rss0 = rss_bytes()
    index = hnswlib.Index(space="ip", dim=dim)
    t = time.perf_counter()
    index.init_index(max_elements=n, M=a.m, ef_construction=a.ef_construction, random_seed=100)
    index.add_items(base, np.arange(n), num_threads=a.threads)
    build = time.perf_counter() - t
    rss1 = rss_bytes()
    peak = rss_bytes("VmHWM:")
    print(f"build_seconds={build:.2f} m={a.m} ef_construction={a.ef_construction}")
    # hnswlib keeps its own copy of the f32 vectors inside the index: subtract raw_vector to
    # compare with papermap's graph, which leaves the vectors to the caller.
    print(f"memory rss_delta_per_vector={(rss1 - rss0) / n:.0f} peak_rss_mb_after={peak / 2**20:.0f} "
          f"peak_delta_per_vector={(peak - rss0) / n:.0f} raw_vector={dim * 4}")
    if a.build_only:
        return

    # After the build, so that its 1,000 x n score matrix does not mask the build's peak RSS.
    # numpy brute force: one query at a time (matrix-vector), then one batch (matrix-matrix).
    nq1 = min(a.exact_queries, len(queries))
    t = time.perf_counter()
    for q in queries[:nq1]:
        s = base @ q
        np.argpartition(-s, k)[:k]
    single = nq1 / (time.perf_counter() - t)
    t = time.perf_counter()
    truth = []
    for start in range(0, len(queries), 1000):
        s = queries[start:start + 1000] @ base.T
        top = np.argpartition(-s, k, axis=1)[:, :k]
        truth.extend(set(row) for row in top)
    batch = len(queries) / (time.perf_counter() - t)
    print(f"numpy qps_single={single:.1f} qps_batch={batch:.1f}")

    for ef in [int(x) for x in a.ef.split(",")]:
        index.set_ef(ef)
        passes = []
        for _ in range(max(1, a.repeat)):
            t = time.perf_counter()
            labels, _ = index.knn_query(queries, k=k, num_threads=1)
            passes.append(len(queries) / (time.perf_counter() - t))
        found = sum(len(truth[i] & set(labels[i])) for i in range(len(queries)))
        print(f"ef={ef} recall@{k}={found / (k * len(queries)):.4f} qps={statistics.median(passes):.1f}")


if __name__ == "__main__":
    main()
