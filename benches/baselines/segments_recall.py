"""Recall@10 of `papermap related` on a library that segments_load.sh built, against an exact
search (numpy) over every vector in it: the library_bench vectors plus the added batches.

usage: $BASELINE_PY benches/baselines/segments_recall.py PAPERMAP LIBRARY DATA_DIR WORK_DIR BATCH
(segments_load.sh runs it with RECALL=1). Queries: 40 library ids (those the load asks about) and
40 of the added papers, drawn with a fixed seed.
"""
import json
import subprocess
import sys

import numpy as np

papermap, library, data, work, batch = sys.argv[1:6]
batch = int(batch)
base = np.load(f"{data}/papers.npy", mmap_mode="r")
added = [np.load(f"{work}/add{b}.npy") for b in range(7)]
every = np.concatenate([np.asarray(base, dtype=np.float32)] + added)


def name(row):
    if row < base.shape[0]:
        return f"bench-{row}"
    row -= base.shape[0]
    return f"seg-{row // batch}-{row % batch}"


def vector(paper_id):
    if paper_id.startswith("bench-"):
        return np.asarray(base[int(paper_id[6:])], dtype=np.float32)
    _, b, j = paper_id.split("-")
    return added[int(b)][int(j)]


urls = open(f"{work}/related.urls").read().split()
ids = [u.split("/papers/")[1].split("/related")[0] for u in urls][:40]
rng = np.random.default_rng(1)
ids += [f"seg-{rng.integers(7)}-{rng.integers(batch)}" for _ in range(40)]
recalls = []
for paper_id in ids:
    scores = every @ vector(paper_id)
    top = np.argpartition(-scores, 11)[:11]
    top = top[np.argsort(-scores[top])]
    want = [name(r) for r in top if name(r) != paper_id][:10]
    out = subprocess.run([papermap, "related", library, paper_id, "-k", "10", "--json"],
                         check=True, capture_output=True, text=True).stdout
    hits = json.loads(out)
    hits = hits["hits"] if isinstance(hits, dict) else hits
    recalls.append(len({h["id"] for h in hits} & set(want)) / 10)
print(f"recall@10 against exact search: {np.mean(recalls):.3f} over {len(ids)} queries "
      f"(library ids {np.mean(recalls[:40]):.3f}, added ids {np.mean(recalls[40:]):.3f})")
