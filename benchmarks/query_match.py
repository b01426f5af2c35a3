"""Precision, recall and speed of the local brand-query matcher on a hand-labelled set.

Run ``python -m benchmarks.query_match [--seconds S] [--json OUT]``.

The set (tests/data/query_match/) is 300+ hand-written posts in English, Spanish and
Indonesian, each labelled for one of ten brand queries with the traps real queries meet:
a brand inside another word (pineapple, Orangetheory, jagoan), accents (Telefónica,
decomposed accents), hashtags and handles, emoji glued to words, excluded terms (hiring,
giveaway, lowongan) and their look-alikes, other brands or meanings of the same word
(Movistar Arena, Delta faucet, "ayam jago"), proximity, and field filters (lang:,
source:, author:, has:link, country:). A post is a positive when its query should keep it.

Printed: ``precision`` and ``recall`` of the matcher against the labels (targets 1.00),
every disagreement, and ``texts_per_s``: posts checked per second by one process, each
against its own brand's query compiled once (the queries are compiled before timing;
each timed check folds, pre-checks and, when needed, cuts the text into words, as a
source does). ``texts_per_s_all_brands`` is the same with every post checked against all
ten queries (a post per brand check), the load of a source listening for many brands.
Target ≥ 100,000 texts/s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import yaml

from monitor.query import BrandQuery, Post

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "query_match"
TARGET_TEXTS_PER_S = 100_000


def load() -> tuple[dict[str, BrandQuery], list[dict]]:
    queries = {name: BrandQuery.parse(text, name) for name, text in
               yaml.safe_load((DATA / "queries.yaml").read_text(encoding="utf-8")).items()}
    texts = yaml.safe_load((DATA / "texts.yaml").read_text(encoding="utf-8"))
    return queries, texts


def post_of(item: dict) -> Post:
    return Post(item["text"], lang=item.get("lang"), source=item.get("source"), author=item.get("author"),
                country=item.get("country"))


def score(queries: dict[str, BrandQuery], texts: list[dict]) -> dict:
    tp = fp = fn = tn = 0
    wrong = []
    for item in texts:
        got = queries[item["q"]].matches(post_of(item))
        want = bool(item["match"])
        tp += got and want
        fp += got and not want
        fn += want and not got
        tn += not got and not want
        if got != want:
            wrong.append({"query": item["q"], "case": item.get("case"), "text": item["text"], "labelled": want,
                          "matched": got, "why_not": queries[item["q"]].explain(post_of(item)).reasons})
    return {"precision": tp / (tp + fp) if tp + fp else 0.0, "recall": tp / (tp + fn) if tp + fn else 0.0,
            "tp": tp, "fp": fp, "fn": fn, "tn": tn, "disagreements": wrong}


def throughput(pairs: list[tuple[BrandQuery, Post]], seconds: float) -> float:
    """Checks per second over `pairs`, repeated for at least `seconds` (best of three rounds)."""
    checks = [(q.matcher.matches, p) for q, p in pairs]
    best = 0.0
    for _ in range(3):
        done = 0
        start = time.perf_counter()
        while True:
            for match, post in checks:
                match(post)
            done += len(checks)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds / 3:
                break
        best = max(best, done / elapsed)
    return best


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time spent measuring each throughput figure")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)

    queries, texts = load()
    result = score(queries, texts)
    own = [(queries[item["q"]], post_of(item)) for item in texts]
    every = [(q, post_of(item)) for item in texts for q in queries.values()]
    result["texts_per_s"] = round(throughput(own, args.seconds))
    result["texts_per_s_all_brands"] = round(throughput(every, args.seconds))
    langs: dict[str, int] = {}
    for item in texts:
        key = (item.get("lang") or "unknown").split("-")[0].lower()
        langs[key] = langs.get(key, 0) + 1
    result.update({
        "texts": len(texts), "positives": sum(bool(t["match"]) for t in texts), "queries": len(queries),
        "languages": langs, "target_texts_per_s": TARGET_TEXTS_PER_S,
        "python": platform.python_version(), "cpus": os.cpu_count(),
    })
    print(f"query_match: {len(texts)} labelled texts ({result['positives']} positives), {len(queries)} queries, "
          f"languages {langs}")
    print(f"precision  {result['precision']:.3f}   (target 1.00; {result['fp']} false positives)")
    print(f"recall     {result['recall']:.3f}   (target 1.00; {result['fn']} false negatives)")
    for miss in result["disagreements"]:
        print(f"  disagrees [{miss['query']}/{miss['case']}] labelled {miss['labelled']}: {miss['text']!r} "
              f"{'; '.join(miss['why_not'])}")
    print(f"texts_per_s {result['texts_per_s']:,}   (each text against its brand's query; target "
          f"≥ {TARGET_TEXTS_PER_S:,})")
    print(f"texts_per_s_all_brands {result['texts_per_s_all_brands']:,}   (text-query checks, each text "
          f"against all {len(queries)} queries)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
