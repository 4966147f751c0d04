"""scikit-learn side of examples/topic_quality.rs: KMeans(n_clusters=k, n_init=10) on the same vectors.

Prints NMI and ARI against label_top per seed and their mean.

usage: python sklearn_topic_quality.py ABSTRACTS.jsonl VECTORS.npy [k] [seeds]
"""
import json
import sys

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score


def main() -> None:
    src, vectors = sys.argv[1], sys.argv[2]
    k = int(sys.argv[3]) if len(sys.argv) > 3 else 18
    seeds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    truth = [json.loads(line)["label_top"] for line in open(src, encoding="utf-8") if line.strip()]
    x = np.load(vectors)
    assert len(truth) == x.shape[0]
    nmis, aris = [], []
    for seed in range(seeds):
        pred = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)
        nmis.append(normalized_mutual_info_score(truth, pred))
        aris.append(adjusted_rand_score(truth, pred))
        print(f"seed={seed} k={k} nmi={nmis[-1]:.3f} ari={aris[-1]:.3f}")
    print(f"mean nmi={np.mean(nmis):.3f} ari={np.mean(aris):.3f}")


if __name__ == "__main__":
    main()
