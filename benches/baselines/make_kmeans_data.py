"""Seeded synthetic embeddings for the k-means speed benchmark (written OUTSIDE the repo).

100,000 x 384 float32 rows, L2-normalised like sentence embeddings: 300 random unit directions
(topics of very different sizes) plus isotropic noise, so k-means has structure to find but does
not converge in a handful of iterations.

usage: python make_kmeans_data.py OUT.npy [n] [d] [seed]
"""
import sys

import numpy as np


def main() -> None:
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    d = int(sys.argv[3]) if len(sys.argv) > 3 else 384
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 42
    rng = np.random.default_rng(seed)
    n_centres = 300
    centres = rng.standard_normal((n_centres, d)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = rng.pareto(1.5, n_centres) + 1.0
    which = rng.choice(n_centres, size=n, p=weights / weights.sum())
    x = centres[which] + rng.standard_normal((n, d)).astype(np.float32) * (1.2 / np.sqrt(d))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    np.save(out, x.astype(np.float32))
    print(f"wrote {out}: {x.shape} {x.dtype}")


if __name__ == "__main__":
    main()
