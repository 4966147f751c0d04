#!/usr/bin/env python3
"""Offline evaluation of `papermap rank` against the baselines, side by side in one run (issue 23).

Data: the 1,998 labelled arXiv abstracts (tests/data/arxiv_abstracts.jsonl, a copy of
shared/data/arxiv/abstracts.jsonl; nobody tuned on it). For every primary category with at least
40 papers and 5 seeds: the papers are split in half (library / digest pool); the profile is m
papers of the category from the library half (m = 5, 20); the digest is 100 papers of the pool,
r = 10 of the category and 90 of others; relevant = same primary category. Every method ranks the
same digest from the same profile:

- papermap: `papermap rank DIGEST --library LIB --liked PROFILE --json` (its default scoring),
  on papermap's own MiniLM vectors (computed once: `papermap embed --papers`); its method and
  weights were chosen on other splits (seeds 100-104, `--dev`), these are seeds 0-4;
- centroid: cosine to the mean of the profile's vectors (the same vectors);
- tfidf-svm: arxiv-sanity-lite's method: tf-idf of 1-2-grams fitted on the library half, a linear
  SVM with the profile as positives and the rest of the library half as negatives
  (scikit-learn, C = 0.01, balanced classes, as arxiv-sanity-lite), digest scored by its margin;
- bm25: Okapi BM25 (k1 = 1.2, b = 0.75, idf over the library half) of the profile's text.

Metrics: nDCG@10, precision@10 and average precision (MAP over splits), means over every
category and seed. Usage (numpy and scikit-learn in the Python that runs it):

    cargo build --release -p papermap-cli
    python benches/baselines/rank_eval.py [--papermap target/release/papermap] [--work /tmp/rank_eval]
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict

import numpy as np
from sklearn import svm
from sklearn.feature_extraction.text import TfidfVectorizer

# Reported seeds; the method and its weights were chosen on seeds 100-104 (--dev).
SEEDS = range(5)
DEV_SEEDS = range(100, 105)
MS = (5, 20)
R = 10
DIGEST = 100
MIN_PAPERS = 40


def run(args, **kw):
    out = subprocess.run(args, check=True, capture_output=True, text=True, **kw)
    return out.stdout


def prepare(papermap, data, work):
    """Papers with papermap's vectors, and a library of all of them (given vectors)."""
    os.makedirs(work, exist_ok=True)
    embedded = os.path.join(work, "embedded.jsonl")
    if not os.path.exists(embedded):
        papers = os.path.join(work, "papers.jsonl")
        run([papermap, "export", data, "-o", papers])
        t = time.time()
        run([papermap, "embed", "--papers", papers, "-o", embedded])
        print(f"embedded {data} in {time.time() - t:.0f} s", file=sys.stderr)
    lib = os.path.join(work, "lib")
    if not os.path.exists(os.path.join(lib, "manifest.json")):
        run([papermap, "index", embedded, "--out", lib, "--json"])
    rows = [json.loads(line) for line in open(embedded)]
    return rows, lib


def ndcg10(ranked, relevant):
    dcg = sum(1 / math.log2(i + 2) for i, p in enumerate(ranked[:10]) if p in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return dcg / ideal


def p10(ranked, relevant):
    return sum(p in relevant for p in ranked[:10]) / 10


def average_precision(ranked, relevant):
    hits, total = 0, 0.0
    for i, p in enumerate(ranked):
        if p in relevant:
            hits += 1
            total += hits / (i + 1)
    return total / len(relevant)


TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text):
    return TOKEN.findall(text.lower())


class BM25:
    def __init__(self, docs, k1=1.2, b=0.75):
        self.k1, self.b = k1, b
        self.n = len(docs)
        self.avgdl = sum(len(d) for d in docs) / self.n
        self.df = Counter(t for d in docs for t in set(d))

    def idf(self, t):
        df = self.df.get(t, 0)
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))

    def score(self, query, doc):
        tf = Counter(doc)
        q = Counter(query)
        s = 0.0
        for t, qtf in q.items():
            f = tf.get(t, 0)
            if f:
                s += qtf * self.idf(t) * f * (self.k1 + 1) / (
                    f + self.k1 * (1 - self.b + self.b * len(doc) / self.avgdl))
        return s


def text(row):
    return row["title"] + ". " + row.get("abstract", "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--papermap", default="target/release/papermap")
    ap.add_argument("--data", default="tests/data/arxiv_abstracts.jsonl")
    ap.add_argument("--work", default="/tmp/rank_eval")
    ap.add_argument("--dev", action="store_true", help="the development seeds instead")
    ap.add_argument("--digest-precision", choices=["bf16", "int8"],
                    help="also rank each digest embedded by papermap in this precision "
                         "(`rank --digest-precision`; the library stays f32)")
    args = ap.parse_args()
    papermap = os.path.abspath(args.papermap)
    rows, lib = prepare(papermap, args.data, args.work)
    ids = [r["id"] for r in rows]
    label = {r["id"]: r["label"] for r in rows}
    vec = {r["id"]: np.asarray(r["embedding"], dtype=np.float32) for r in rows}
    by_id = {r["id"]: r for r in rows}
    cats = [c for c, n in Counter(label.values()).most_common() if n >= MIN_PAPERS]
    print(f"{len(rows)} papers, categories with >= {MIN_PAPERS}: {', '.join(cats)}", file=sys.stderr)

    scores = defaultdict(lambda: defaultdict(list))  # (method, m) -> metric -> values
    seconds = defaultdict(float)
    for seed in DEV_SEEDS if args.dev else SEEDS:
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(ids))
        library = [ids[i] for i in order[: len(ids) // 2]]
        pool = [ids[i] for i in order[len(ids) // 2:]]
        t = time.time()
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), max_features=20000, min_df=2,
                                     sublinear_tf=True, stop_words="english")
        x_lib = vectorizer.fit_transform([text(by_id[i]) for i in library])
        seconds["tfidf-svm"] += time.time() - t
        bm25 = BM25([tokens(text(by_id[i])) for i in library])
        for cat in cats:
            in_lib = [i for i in library if label[i] == cat]
            in_pool = [i for i in pool if label[i] == cat]
            others = [i for i in pool if label[i] != cat]
            for m in MS:
                if len(in_lib) < m or len(in_pool) < R:
                    continue
                profile = list(rng.choice(in_lib, m, replace=False))
                relevant = set(rng.choice(in_pool, R, replace=False))
                digest = list(relevant) + list(rng.choice(others, DIGEST - R, replace=False))
                digest = [digest[i] for i in rng.permutation(len(digest))]
                rankings = {}

                t = time.time()
                dpath = os.path.join(args.work, "digest.jsonl")
                with open(dpath, "w") as f:
                    for i in digest:
                        f.write(json.dumps(by_id[i]) + "\n")
                ppath = os.path.join(args.work, "profile.txt")
                with open(ppath, "w") as f:
                    f.write("\n".join(profile))
                out = run([papermap, "rank", dpath, "--library", lib, "--liked", ppath,
                           "--json", "-k", str(DIGEST)])
                rankings["papermap"] = [p["id"] for p in json.loads(out)["papers"]]
                seconds["papermap"] += time.time() - t

                if args.digest_precision:
                    # The digest without its f32 vectors: rank embeds it in the precision asked.
                    t = time.time()
                    with open(dpath, "w") as f:
                        for i in digest:
                            row = {k: v for k, v in by_id[i].items() if k != "embedding"}
                            f.write(json.dumps(row) + "\n")
                    out = run([papermap, "rank", dpath, "--library", lib, "--liked", ppath,
                               "--json", "-k", str(DIGEST), "--digest-precision",
                               args.digest_precision])
                    method = "papermap-" + args.digest_precision
                    rankings[method] = [p["id"] for p in json.loads(out)["papers"]]
                    seconds[method] += time.time() - t

                t = time.time()
                centre = np.mean([vec[i] for i in profile], axis=0)
                centre /= np.linalg.norm(centre)
                rankings["centroid"] = sorted(digest, key=lambda i: -float(vec[i] @ centre))
                seconds["centroid"] += time.time() - t

                t = time.time()
                y = np.array([1 if i in set(profile) else 0 for i in library])
                clf = svm.LinearSVC(class_weight="balanced", C=0.01, max_iter=10000, tol=1e-6)
                clf.fit(x_lib, y)
                margin = clf.decision_function(vectorizer.transform([text(by_id[i]) for i in digest]))
                rankings["tfidf-svm"] = [digest[i] for i in np.argsort(-margin, kind="stable")]
                seconds["tfidf-svm"] += time.time() - t

                t = time.time()
                query = [tok for i in profile for tok in tokens(text(by_id[i]))]
                bm = {i: bm25.score(query, tokens(text(by_id[i]))) for i in digest}
                rankings["bm25"] = sorted(digest, key=lambda i: -bm[i])
                seconds["bm25"] += time.time() - t

                for method, ranked in rankings.items():
                    assert sorted(ranked) == sorted(digest), method
                    scores[(method, m)]["ndcg@10"].append(ndcg10(ranked, relevant))
                    scores[(method, m)]["p@10"].append(p10(ranked, relevant))
                    scores[(method, m)]["map"].append(average_precision(ranked, relevant))

    methods = ["papermap", "centroid", "tfidf-svm", "bm25"]
    if args.digest_precision:
        methods.insert(1, "papermap-" + args.digest_precision)
    print("| m | method | nDCG@10 | P@10 | MAP | splits |")
    print("|---:|---|---:|---:|---:|---:|")
    for m in MS:
        for method in methods:
            s = scores[(method, m)]
            print(f"| {m} | {method} | {np.mean(s['ndcg@10']):.3f} | {np.mean(s['p@10']):.3f} | "
                  f"{np.mean(s['map']):.3f} | {len(s['map'])} |")
    for m in MS:
        ours = np.mean(scores[("papermap", m)]["ndcg@10"])
        svm_ = np.mean(scores[("tfidf-svm", m)]["ndcg@10"])
        print(f"m = {m}: papermap nDCG@10 / tf-idf+SVM = {ours / svm_:.3f}")
    print("seconds per method (all splits): " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()))


if __name__ == "__main__":
    main()
