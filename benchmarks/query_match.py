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

When ../shared/data/sentiment is there, ``real_posts_per_s`` is measured on real posts
(TweetEval English tweets, InterTASS Spanish tweets, SmSA Indonesian comments; validation
splits): each checked against all ten queries, as a source listening for ten brands does.
Most real posts mention none of the brands, so the substring pre-check does most of the work.
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

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "query_match"
REAL = REPO.parent / "shared" / "data" / "sentiment"
REAL_FILES = {"tweeteval_en_val.jsonl": "en", "xlmt_es_val.jsonl": "es", "smsa_id_val.jsonl": "id"}
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


def _fields(post: Post) -> tuple:
    return post.text, post.lang, post.source, post.author, post.country


def throughput(pairs: list[tuple[BrandQuery, Post]], seconds: float) -> tuple[float, float]:
    """Checks per second over `pairs`, repeated for at least `seconds` (best of three rounds).

    Each check builds a new Post, as a source does for each post it reads, so nothing
    folded or cut in an earlier round is reused.
    """
    checks = [(q.matcher.matches, _fields(p)) for q, p in pairs]
    best = best_cpu = 0.0
    for _ in range(3):
        done = 0
        start, cpu = time.perf_counter(), time.process_time()
        while True:
            for match, (text, lang, source, author, country) in checks:
                match(Post(text, lang, source, author, country))
            done += len(checks)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds / 3:
                break
        best = max(best, done / elapsed)
        best_cpu = max(best_cpu, done / max(time.process_time() - cpu, 1e-9))
    return best, best_cpu


def real_posts(directory: Path) -> list[Post]:
    posts = []
    for name, lang in REAL_FILES.items():
        path = directory / name
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    posts.append(Post(json.loads(line)["text"], lang=lang, source="x"))
    return posts


def real_throughput(queries: dict[str, BrandQuery], posts: list[Post], seconds: float) -> tuple[float, int]:
    """Posts per second, each checked against every query (stopping at none: a post may match several)."""
    checks = [q.matcher.matches for q in queries.values()]
    matched = sum(any(check(p) for check in checks) for p in posts)
    fields = [_fields(p) for p in posts]
    best = 0.0
    for _ in range(3):
        done = 0
        start = time.perf_counter()
        while True:
            for text, lang, source, author, country in fields:
                post = Post(text, lang, source, author, country)  # one per post, shared by the ten checks
                for check in checks:
                    check(post)
            done += len(posts)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds / 3:
                break
        best = max(best, done / elapsed)
    return best, matched


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time spent measuring each throughput figure")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--real", type=Path, default=REAL, help="directory of real posts (default: %(default)s)")
    args = parser.parse_args(argv)

    queries, texts = load()
    result = score(queries, texts)
    own = [(queries[item["q"]], post_of(item)) for item in texts]
    every = [(q, post_of(item)) for item in texts for q in queries.values()]  # a new post per check: no reuse
    wall, cpu = throughput(own, args.seconds)
    result["texts_per_s"], result["texts_per_s_cpu"] = round(wall), round(cpu)
    result["texts_per_s_all_brands"] = round(throughput(every, args.seconds)[0])
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
    print(f"texts_per_s {result['texts_per_s']:,}   (each text against its brand's query, one process, wall clock; "
          f"target ≥ {TARGET_TEXTS_PER_S:,}; per CPU-second {result['texts_per_s_cpu']:,}, so what a busy machine "
          f"takes away shows)")
    print(f"texts_per_s_all_brands {result['texts_per_s_all_brands']:,}   (text-query checks, each text "
          f"against all {len(queries)} queries)")
    posts = real_posts(args.real)
    if posts:
        rate, matched = real_throughput(queries, posts, args.seconds)
        result["real_posts"], result["real_posts_matched"] = len(posts), matched
        result["real_posts_per_s"] = round(rate)
        print(f"real_posts_per_s {result['real_posts_per_s']:,}   ({len(posts):,} real en/es/id posts from "
              f"{args.real}, each against all {len(queries)} queries; {matched} match one)")
    else:
        print(f"real_posts_per_s: skipped, no real posts under {args.real}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
