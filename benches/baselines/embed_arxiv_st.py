"""Sentence-transformers vectors of the labelled arXiv set, for papermap-topics quality figures.

Writes an n x 384 float32 .npy (L2-normalised) plus a labels file, both OUTSIDE the repo.
Text is title + ". " + abstract, exactly as papermap embeds it.

usage: python embed_arxiv_st.py ABSTRACTS.jsonl MODEL_DIR OUT.npy
"""
import json
import sys

import numpy as np
from sentence_transformers import SentenceTransformer


def main() -> None:
    src, model_dir, out = sys.argv[1], sys.argv[2], sys.argv[3]
    rows = [json.loads(line) for line in open(src, encoding="utf-8") if line.strip()]
    texts = [r["title"] + ". " + r["abstract"] for r in rows]
    model = SentenceTransformer(model_dir, device="cpu")
    vecs = model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    np.save(out, np.asarray(vecs, dtype=np.float32))
    print(f"wrote {out}: {vecs.shape}")


if __name__ == "__main__":
    main()
