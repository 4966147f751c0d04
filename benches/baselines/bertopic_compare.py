"""papermap's topics beside BERTopic's, in one run, on the same MiniLM vectors and one scorer.

Steps (papermap = the release binary, PAPERMAP env or target/release/papermap):
  1. `papermap embed --papers CORPUS` once: every paper with its vector (both tools use these).
  2. papermap: `index` those, `topics` (k chosen by papermap, or --k), `eval topics --label F
     --seeds 3 --json`, `topics --json` for keywords and assignments; fit time and peak RSS of
     `topics --refit`.
  3. BERTopic 0.17 on the same vectors, 3 seeds each, two ways: its defaults (UMAP + HDBSCAN,
     outliers as topic -1) and k-means with papermap's k (UMAP kept, as BERTopic's docs show);
     CountVectorizer(stop_words="english") as its docs recommend; fit time and peak RSS.
  4. One scorer for all: gensim's c_npmi (window 10) of each topic's top-10 words on one regex
     tokenisation (lowercase words, hyphens kept, sklearn's English stopwords dropped; a
     papermap bigram keyword is merged into one token, as papermap's own NPMI does); topic
     diversity (top 10 and 25); NMI and ARI against each label field (BERTopic's outliers count
     as one cluster, and its outlier share is reported); stability = mean pairwise ARI of the 3
     seeds' assignments.

usage: $BASELINE_PY benches/baselines/bertopic_compare.py CORPUS.jsonl WORK_DIR [--labels label_top,label] [--k K]
"""
import argparse
import itertools
import json
import os
import re
import resource
import subprocess
import sys
import time
from multiprocessing import get_context

import numpy as np

PAPERMAP = os.environ.get("PAPERMAP", "target/release/papermap")
WORD = re.compile(r"[^\W_]+(?:[-_][^\W_]+)*")


def run(*args, json_out=False):
    out = subprocess.run([PAPERMAP, *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout) if json_out else out.stdout


def timed_rss(cmd):
    """Wall seconds and peak RSS (MB) of a command, by GNU time."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M", *cmd], check=True, capture_output=True,
                         text=True)
    wall, kb = out.stderr.strip().splitlines()[-1].split()
    return float(wall), int(kb) / 1024


def tokenise(text, stop):
    return [w for w in WORD.findall(text.lower())
            if len(w) > 1 and not w.isdigit() and w not in stop]


def merge(words, bigrams):
    """Adjacent words forming a bigram term become one token, left to right (papermap's rule)."""
    out, last_plain, before_plain = [], False, False
    for w in words:
        before_plain = last_plain
        out.append(w)
        last_plain = True
        if len(out) >= 2 and before_plain and f"{out[-2]} {out[-1]}" in bigrams:
            out[-2:] = [f"{out[-2]} {out[-1]}"]
            last_plain = False
    return out


def npmi(texts, topics):
    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel
    bigrams = {w for t in topics for w in t if " " in w}
    merged = [merge(t, bigrams) for t in texts] if bigrams else texts
    dictionary = Dictionary(merged)
    known = [[w for w in t if w in dictionary.token2id] for t in topics]
    scorable = [t for t in known if len(t) >= 2]
    if not scorable:  # e.g. HDBSCAN on a small corpus: every paper an outlier, no topic to score
        return float("nan"), len(topics)
    cm = CoherenceModel(topics=scorable, texts=merged, dictionary=dictionary,
                        coherence="c_npmi", window_size=10, processes=1)
    per = cm.get_coherence_per_topic()
    return float(np.mean(per)), len(topics) - len(scorable)


def diversity(topics, top):
    if not topics:
        return float("nan")
    words = [w for t in topics for w in t[:top]]
    return len(set(words)) / (top * len(topics))


def bertopic_fit(args):
    """One BERTopic fit in a fresh process: (assignments, top-25 words per topic, seconds, peak MB)."""
    docs, vectors_path, mode, k, seed = args
    from bertopic import BERTopic
    from sklearn.cluster import KMeans
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP
    vectors = np.load(vectors_path)
    umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
    kwargs = {}
    if mode == "kmeans":
        kwargs["hdbscan_model"] = KMeans(n_clusters=k, n_init=10, random_state=seed)
    model = BERTopic(umap_model=umap, vectorizer_model=CountVectorizer(stop_words="english"),
                     top_n_words=25, calculate_probabilities=False, **kwargs)
    start = time.perf_counter()
    topics, _ = model.fit_transform(docs, vectors)
    seconds = time.perf_counter() - start
    words = {t: [w for w, _ in model.get_topic(t)] for t in set(topics) if t != -1}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return list(map(int, topics)), [words[t] for t in sorted(words)], seconds, peak


def scores(name, assignments, topic_words, texts, labels, seconds, peak, outliers=None):
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    first = assignments[0]
    mean_npmi, unscored = npmi(texts, [w[:10] for w in topic_words])
    row = {"method": name, "topics": len(topic_words), "npmi": mean_npmi,
           "npmi_unscored_topics": unscored,
           "diversity_top10": diversity(topic_words, 10),
           "diversity_top25": diversity(topic_words, 25),
           "outlier_share": outliers if outliers is not None else
           float(np.mean(np.asarray(first) == -1)),
           "fit_seconds_median": float(np.median(seconds)), "peak_rss_mb": float(max(peak))}
    for field, truth in labels.items():
        row[f"nmi_{field}"] = float(normalized_mutual_info_score(truth, first))
        row[f"ari_{field}"] = float(adjusted_rand_score(truth, first))
    pairs = list(itertools.combinations(assignments, 2))
    row["seed_ari_mean"] = float(np.mean([adjusted_rand_score(a, b) for a, b in pairs])) \
        if pairs else float("nan")
    return row


def main():
    p = argparse.ArgumentParser()
    p.add_argument("corpus")
    p.add_argument("work")
    p.add_argument("--labels", default="label_top,label")
    p.add_argument("--k", type=int)
    p.add_argument("--seeds", type=int, default=3)
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    rows = [json.loads(l) for l in open(a.corpus, encoding="utf-8") if l.strip()]
    fields = [f for f in a.labels.split(",") if f and all(f in r for r in rows)]

    exported = os.path.join(a.work, "papers.jsonl")
    embedded = os.path.join(a.work, "embedded.jsonl")
    if not os.path.exists(embedded):
        run("export", a.corpus, "--output", exported)
        run("embed", "--papers", exported, "--output", embedded)
    papers = [json.loads(l) for l in open(embedded, encoding="utf-8")]
    vectors = np.asarray([q.pop("embedding") for q in papers], dtype=np.float32)
    vectors_path = os.path.join(a.work, "vectors.npy")
    np.save(vectors_path, vectors)
    ids = [q["id"] for q in papers]
    docs = [q["title"] + ". " + q["abstract"] for q in papers]
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    texts = [tokenise(d, ENGLISH_STOP_WORDS) for d in docs]
    by_id = {r.get("id"): r for r in rows}
    labels = {f: [str(by_id[i][f]) for i in ids] for f in fields}

    # papermap
    lib = os.path.join(a.work, "lib")
    if not os.path.exists(lib):
        run("index", embedded, "--out", lib)
    kargs = ["-k", str(a.k)] if a.k else []
    pm_seconds, pm_peak = [], []
    for _ in range(a.seeds):
        wall, peak = timed_rss([PAPERMAP, "topics", lib, "--refit", *kargs])
        pm_seconds.append(wall)
        pm_peak.append(peak)
    fitted = run("topics", lib, "--json", json_out=True)
    topic_of = {x["id"]: x["topic"] for x in fitted["assignments"]}
    k = len(fitted["topics"])
    own = run("eval", "topics", lib, "--seeds", str(a.seeds), "--json", json_out=True)
    fits_note = "papermap's fit time is the whole `topics --refit` process (open, k-means, keywords, save)"
    # 25 keywords for diversity@25 come from eval's own extraction; here the fitted top 10.
    pm_words = [t["keywords"] for t in fitted["topics"]]
    pm = scores("papermap (k-means, c-TF-IDF)", [[topic_of[i] for i in ids]], pm_words, texts,
                labels, pm_seconds, pm_peak, outliers=0.0)
    pm["diversity_top25"] = own["diversity_top25"]
    pm["seed_ari_mean"] = own["stability"]["ari_mean"] if own.get("stability") else None
    pm["npmi_papermap_tokenisation"] = own["npmi"]
    out = [pm]

    # BERTopic, each fit in its own process (peak RSS per fit, no state shared between seeds)
    ctx = get_context("spawn")
    for mode in ["default", "kmeans"]:
        fits = []
        for seed in range(a.seeds):
            with ctx.Pool(1) as pool:
                fits.append(pool.map(bertopic_fit, [(docs, vectors_path, mode, k, seed)])[0])
        name = "BERTopic (UMAP + HDBSCAN)" if mode == "default" else f"BERTopic (UMAP + k-means, k={k})"
        out.append(scores(name, [f[0] for f in fits], fits[0][1], texts, labels,
                          [f[2] for f in fits], [f[3] for f in fits]))

    json.dump(out, open(os.path.join(a.work, "bertopic_compare.json"), "w"), indent=1)
    cols = ["topics", "npmi", "diversity_top10", "diversity_top25", "outlier_share"] + \
        [f"{m}_{f}" for f in fields for m in ("nmi", "ari")] + \
        ["seed_ari_mean", "fit_seconds_median", "peak_rss_mb"]
    print(f"corpus {a.corpus}: {len(docs)} papers, seeds {a.seeds}")
    print("| method | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for r in out:
        cells = [r[c] if isinstance(r[c], int) or r[c] is None else f"{r[c]:.3f}" for c in cols]
        print(f"| {r['method']} | " + " | ".join(map(str, cells)) + " |")
    print(f"papermap's NPMI on its own tokenisation (eval topics): {pm['npmi_papermap_tokenisation']:.4f}")
    print(fits_note + "; BERTopic's is fit_transform given the vectors (UMAP, clustering, c-TF-IDF)")


if __name__ == "__main__":
    sys.exit(main())
