"""umap-learn alone on the vectors of a library_bench data set: the side-by-side baseline of `papermap map`.

    NUMBA_NUM_THREADS=2 $BASELINE_PY benches/baselines/umap_bench.py /tmp/libbench/data-100000/papers.npy

Runs `umap.UMAP(n_neighbors=15, metric="cosine", low_memory=True).fit_transform` (no random_state,
so umap-learn runs in parallel) and prints wall seconds and the process's peak RSS.
"""
import resource
import sys
import time

import numpy as np
import umap

x = np.load(sys.argv[1], mmap_mode="r")
if len(sys.argv) > 2:
    x = x[: int(sys.argv[2])]
x = np.ascontiguousarray(x, dtype=np.float32)
start = time.perf_counter()
y = umap.UMAP(n_neighbors=15, metric="cosine", low_memory=True).fit_transform(x)
secs = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

# Neighbourhood preservation as papermap reports it: share of each sampled point's 10 nearest
# neighbours by cosine (exact) that are among its 10 nearest on the map; 2,000 seeded points.
rng = np.random.default_rng(0x5C0E)
sample = np.sort(rng.choice(len(x), size=min(2000, len(x)), replace=False))
unit = x / np.linalg.norm(x, axis=1, keepdims=True)
kept = 0
for start in range(0, len(sample), 250):
    rows = sample[start : start + 250]
    sims = unit[rows] @ unit.T
    sims[np.arange(len(rows)), rows] = -np.inf
    high = np.argpartition(-sims, 10, axis=1)[:, :10]
    d2 = ((y[rows, None, :] - y[None, :, :]) ** 2).sum(-1)
    d2[np.arange(len(rows)), rows] = np.inf
    low = np.argpartition(d2, 10, axis=1)[:, :10]
    kept += sum(len(set(h) & set(l)) for h, l in zip(high, low))
score = kept / (10 * len(sample))
print(f"umap-learn {umap.__version__}: {len(x)} points, {secs:.1f} s, peak RSS {rss / 1e6:.0f} MB, "
      f"neighbourhood preservation {score:.3f}")
