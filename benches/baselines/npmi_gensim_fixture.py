"""Writes crates/papermap-topics/tests/data/npmi_gensim.json: gensim's c_npmi of a few topics over
seeded pseudo-random texts, the reference papermap's NPMI is checked against (to 1e-4).

Texts are lowercase words of a small vocabulary (no stopwords, so papermap's tokenisation is a split
on spaces); a topic may hold a bigram, which both sides merge into one token left to right. Documents
are short and long, repeat words inside a window, and some hold no topic term.

usage: $BASELINE_PY benches/baselines/npmi_gensim_fixture.py OUT.json
"""
import json
import random
import sys

from gensim.corpora import Dictionary
from gensim.models.coherencemodel import CoherenceModel

VOCAB = ["quasar", "lensing", "redshift", "spin", "chain", "lattice", "qubit", "black", "hole",
         "merger", "neutron", "star", "entropy", "gauge", "boson", "galaxy"]
TOPICS = [["quasar", "lensing", "redshift", "galaxy"],
          ["black hole", "merger", "neutron", "star"],
          ["spin", "chain", "lattice", "entropy", "qubit"],
          ["gauge", "boson", "black", "galaxy"]]


def merge(words, bigrams):
    out, last_plain, before_plain = [], False, False
    for w in words:
        before_plain = last_plain
        out.append(w)
        last_plain = True
        if len(out) >= 2 and before_plain and f"{out[-2]} {out[-1]}" in bigrams:
            pair = f"{out[-2]} {out[-1]}"
            out[-2:] = [pair]
            last_plain = False
    return out


def main() -> None:
    rng = random.Random(7)
    docs = []
    for i in range(60):
        n = rng.choice([1, 3, 8, 10, 11, 25, 40])
        docs.append(" ".join(rng.choice(VOCAB[: 8 + i % 8]) for _ in range(n)))
    docs.append("spin spin spin")
    bigrams = {t for topic in TOPICS for t in topic if " " in t}
    texts = [merge(d.split(), bigrams) for d in docs]
    dictionary = Dictionary(texts)
    cm = CoherenceModel(topics=TOPICS, texts=texts, dictionary=dictionary, coherence="c_npmi",
                        window_size=10, processes=1)
    per_topic = cm.get_coherence_per_topic()
    json.dump({"docs": docs, "topics": TOPICS, "npmi": [float(v) for v in per_topic],
               "made_by": "benches/baselines/npmi_gensim_fixture.py (gensim CoherenceModel c_npmi, window 10)"},
              open(sys.argv[1], "w"), indent=1)
    print(per_topic)


if __name__ == "__main__":
    main()
