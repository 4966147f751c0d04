"""scikit-learn side of examples/kmeans_bench.rs: same file, same k, same iteration cap.

Prints one line like the Rust example: k=100 inertia=12345.678 seconds=3.21
(fit time only; the file is loaded before the clock starts, as in the Rust example).

usage: python sklearn_kmeans_bench.py --data FILE.npy --k 100 --iters 50 --seed 42
"""
import argparse
import time

import numpy as np
from sklearn.cluster import KMeans


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--n-init", type=int, default=1)
    args = ap.parse_args()
    x = np.load(args.data)
    t0 = time.perf_counter()
    km = KMeans(n_clusters=args.k, n_init=args.n_init, max_iter=args.iters, random_state=args.seed)
    km.fit(x)
    secs = time.perf_counter() - t0
    print(f"k={args.k} inertia={km.inertia_:.3f} seconds={secs:.2f} iterations={km.n_iter_}")


if __name__ == "__main__":
    main()
