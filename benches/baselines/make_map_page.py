#!/usr/bin/env python3
"""Make a synthetic papermap HTML map page (the format of crates/papermap-topics/assets/PAGE_FORMAT.md).

Fills crates/papermap-topics/assets/map.html with N clustered points (topics in groups), random-word
titles and arXiv-like ids, so the page can be tried at 1,000 or 1,000,000 points without the Rust
side. Also writes OUT.expected.json: what the page's self-check should report for --word.

    python3 benches/baselines/make_map_page.py 1000000 /tmp/map1m.html
    python3 benches/baselines/make_map_page.py 1000 /tmp/map1k.html --tricky

The known word (--word, default "quasar") is in the titles of points i with i % --every == 3,
in varying case; no other title contains it, though titles 5 and 6 spell it across their
boundary (which must not match). Title 0 holds HTML and non-BMP characters. --tricky adds a
title with a Greek capital sigma and a dotted capital I (whose lower case is longer), which send
the page's search down its per-title lower-casing path.
"""
import argparse
import base64
import colorsys
import gzip
import html
import json
import re
import sys
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).resolve().parents[2] / "crates" / "papermap-topics" / "assets"
SYLLABLES = ("ka lo mi ne ta ri so ve du ma pe ci gra tho lin ber fel qui nor stu ple mon zar "
             "tic pha gen ron dis sel cor ven lum tri ox ang ul ess").split()


def vocabulary(rng, size, banned):
    words = set()
    while len(words) < size:
        w = "".join(rng.choice(SYLLABLES, rng.integers(2, 4)))
        if banned not in w:
            words.add(w)
    return sorted(words)


def colours(k):
    out = []
    for i in range(k):
        r, g, b = colorsys.hls_to_rgb((i * 0.618034) % 1.0, 0.45 + 0.1 * (i % 3) / 2, 0.65)
        out.append("#%02x%02x%02x" % (int(r * 255), int(g * 255), int(b * 255)))
    return out


def utf16_len(s):
    return len(s) if s.isascii() else len(s.encode("utf-16-le")) // 2


def offsets(strings):
    off = np.zeros(len(strings) + 1, dtype="<u4")
    np.cumsum([utf16_len(s) for s in strings], out=off[1:])
    return off


def make(args):
    rng = np.random.default_rng(args.seed)
    n, k, ng = args.n, args.topics, args.groups
    # Layout: group centres spread out, topics around their group, points around their topic.
    group_centre = rng.uniform(-9, 9, size=(ng, 2))
    topic_group = np.arange(k) % ng
    rng.shuffle(topic_group)
    topic_centre = group_centre[topic_group] + rng.normal(0, 1.6, size=(k, 2))
    topic_spread = rng.uniform(0.25, 0.9, size=(k, 2))
    weight = rng.pareto(1.2, k) + 0.2
    topic = rng.choice(k, size=n, p=weight / weight.sum()).astype("<u2")
    xy = topic_centre[topic] + rng.normal(size=(n, 2)) * topic_spread[topic]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    q = np.rint((xy - lo) / span * 65535).astype("<u2")
    xy_q = lo + q / 65535 * span  # the coordinates the page will see

    # Titles: topic words and general words; the known word in a known subset.
    vocab = vocabulary(rng, 3000, args.word)
    topic_words = [list(rng.choice(vocab, 8, replace=False)) for _ in range(k)]
    nwords = rng.integers(6, 13, size=n)
    general = rng.integers(0, len(vocab), size=(n, 12))
    own = rng.integers(0, 8, size=(n, 12))
    use_own = rng.random((n, 12)) < 0.3
    forms = [args.word, args.word.upper(), args.word.capitalize()]
    titles = []
    for i in range(n):
        tw = topic_words[topic[i]]
        words = [tw[own[i, j]] if use_own[i, j] else vocab[general[i, j]] for j in range(nwords[i])]
        if i % args.every == 3:
            words.insert(int(own[i, 0]) % len(words), forms[i % 3])
        titles.append(" ".join(words).capitalize())
    if n > 0:
        titles[0] = f'A {args.word.upper()} </script><b>bold</b> & "quoted" 東京 😀 {titles[0]}'
    if n > 6 and 3 not in (5 % args.every, 6 % args.every):
        half = len(args.word) // 2  # "... qua" + "sar ...": the word only across a boundary
        titles[5] = titles[5] + " " + args.word[:half]
        titles[6] = args.word[half:] + " " + titles[6]
    if args.tricky and n > 1:
        titles[1] = "Σ-algebras on İstanbul grids 𝔸 ΟΔΟΣ " + titles[1]
    ids = [f"{24 + i // 1200000}{(i // 100000) % 12 + 1:02d}.{i % 100000:05d}" for i in range(n)]
    flags = np.zeros(n, dtype="u1")
    if args.added_every:
        flags[7::args.added_every] = 1

    # The blob: sections at offsets that are multiples of 4.
    parts = [("x", q[:, 0].tobytes()), ("y", q[:, 1].tobytes()), ("topic", topic.tobytes()),
             ("flags", flags.tobytes()), ("title_offsets", offsets(titles).tobytes()),
             ("titles", "".join(titles).encode()), ("id_offsets", offsets(ids).tobytes()),
             ("ids", "".join(ids).encode())]
    blob, sections = bytearray(), {}
    for name, data in parts:
        blob += b"\0" * (-len(blob) % 4)
        sections[name] = [len(blob), len(data)]
        blob += data
    points_b64 = base64.b64encode(gzip.compress(bytes(blob), 6)).decode()

    size = np.bincount(topic, minlength=k)
    palette = colours(k)
    topics_meta = []
    for t in range(k):
        c = xy_q[topic == t].mean(axis=0) if size[t] else topic_centre[t]
        topics_meta.append({"id": t, "label": ", ".join(topic_words[t][:2]),
                            "keywords": topic_words[t][:5], "size": int(size[t]),
                            "colour": palette[t], "group": int(topic_group[t]),
                            "centre": [round(float(c[0]), 4), round(float(c[1]), 4)]})
    groups_meta = []
    for g in range(ng):
        members = [t for t in range(k) if topic_group[t] == g]
        gs = int(size[members].sum())
        w = size[members] / max(gs, 1)
        c = (np.array([topics_meta[t]["centre"] for t in members]) * w[:, None]).sum(axis=0)
        big = max(members, key=lambda t: size[t])
        groups_meta.append({"id": g, "label": ", ".join(topic_words[big][2:4]), "topics": members,
                            "size": gs, "colour": palette[big],
                            "centre": [round(float(c[0]), 4), round(float(c[1]), 4)]})
    meta = {"version": 1, "title": args.title, "n": n,
            "bounds": [float(lo[0]), float(lo[1]), float(lo[0] + span[0]), float(lo[1] + span[1])],
            "link_template": None if args.no_links else "https://arxiv.org/abs/{id}", "preservation": 0.83,
            "added": int(flags.sum()), "sections": sections, "topics": topics_meta,
            "groups": groups_meta if ng > 1 else []}
    values = {
        "TITLE": html.escape(args.title), "STYLE": (ASSETS / "map.css").read_text(),
        "SCRIPT": (ASSETS / "map.js").read_text(),
        "FOOTER": html.escape(f"{n} papers, {k} topics; neighbourhood preservation 0.830 "
                              "(share of 10 nearest neighbours kept in 2-D)"),
        "META": json.dumps(meta, ensure_ascii=False).replace("<", "\\u003c"),
        "POINTS": points_b64,
    }
    template = (ASSETS / "map.html").read_text()
    for name in values:
        assert template.count("{{%s}}" % name) == 1, name
    # One pass, so that a placeholder-like text inside the data is never substituted again.
    page = re.sub(r"\{\{(TITLE|STYLE|SCRIPT|FOOTER|META|POINTS)\}\}", lambda m: values[m[1]], template)
    Path(args.out).write_text(page)

    want = sorted(ids[i] for i in range(n) if args.word in titles[i].lower())
    expected = {"n": n, "query": args.word, "hit_count": len(want),
                "hit_ids": want if len(want) <= 10000 else None,
                "count_text": "" if not args.word else
                f"{len(want)} match" + ("" if len(want) == 1 else "es"),
                "title0": titles[0] if n else None,
                "opened0": f"https://arxiv.org/abs/{ids[0]}" if n and not args.no_links else None,
                "topic0_size": int(size[0]) if k else 0, "added": int(flags.sum()),
                "html_bytes": len(page.encode())}
    Path(args.out + ".expected.json").write_text(json.dumps(expected, ensure_ascii=False))
    print(f"{args.out}: {n} points, {len(page.encode()) / 1e6:.1f} MB "
          f"(blob {len(blob) / 1e6:.1f} MB raw, {len(points_b64) / 1e6:.1f} MB base64), "
          f"{len(want)} titles contain {args.word!r}", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("n", type=int)
    p.add_argument("out")
    p.add_argument("--topics", type=int, default=40)
    p.add_argument("--groups", type=int, default=8)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--word", default="quasar")
    p.add_argument("--every", type=int, default=997, help="the word is in titles i %% every == 3")
    p.add_argument("--added-every", type=int, default=5000, help="0: no point is flagged 'added'")
    p.add_argument("--title", default="synthetic-map")
    p.add_argument("--tricky", action="store_true")
    p.add_argument("--no-links", action="store_true", help="link_template null")
    make(p.parse_args())


if __name__ == "__main__":
    main()
