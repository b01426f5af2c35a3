"""Noise handling on a labelled mixed stream: are copies and spam flagged, and how fast?

    python -m benchmarks.noise [--data DIR] [--seed N] [--json OUT]

DIR (default ../shared/data/sentiment) holds the real posts the stream is built on; the stream
and its labels are `benchmarks/noise_stream.py` (real ham, copies made with the edits reposts
make, spam from published pattern families, bot rings). The stream is stored in a real SQLite
store and judged by `monitor.noise.marking.mark_noise`, the pipeline's own step, at the default
settings; `posts_per_s` is that step's throughput (store reads and writes included), on one
core (the step is sequential); `posts_per_cpu_s` the same per CPU-second, which a busy machine
does not distort.

* dup_precision / dup_recall: a post flagged as a copy is right when the generator made it as a
  copy and the first post it is linked to is its cluster's first post. Template-generated spam is
  left out of these two (two fills of one template are copies or not by luck of the slots);
  bot rings are in.
* spam_precision / spam_recall: over every post; recall is also printed per spam family.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.noise_stream import SPAM_FAMILIES, make_stream
from monitor.config import Config
from monitor.noise.marking import mark_noise
from monitor.store.sqlite import SQLiteStore

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sentiment"


def ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 1.0


def run(data: Path, seed: int = 7) -> dict[str, object]:
    stream = make_stream(data, seed=seed)
    truth = {p.mention.id: p for p in stream}
    config = Config(brands=[{"name": "Brisa", "queries": ["brisa"]}])
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "noise.db")
        mentions = [p.mention for p in stream]
        for start in range(0, len(mentions), 500):
            store.ingest(mentions[start:start + 500], [])
        began, cpu = time.perf_counter(), time.process_time()
        stats = mark_noise(config, store)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        marks = store.noise_of(truth)
        store.close()
    assert stats.judged == len(stream), (stats, len(stream))

    def cluster(mid: str) -> str:
        return truth[mid].copy_of or mid

    scored = [p for p in stream if p.family not in SPAM_FAMILIES]
    flagged = [p for p in scored if marks[p.mention.id].duplicate_of]
    right = [p for p in flagged if p.copy_of and cluster(marks[p.mention.id].duplicate_of or "") == p.copy_of]
    copies = [p for p in scored if p.copy_of]
    spam_flagged = [p for p in stream if marks[p.mention.id].is_spam]
    spam_right = [p for p in spam_flagged if p.spam]
    spam = [p for p in stream if p.spam]
    per_family = {family: ratio(sum(1 for p in stream if p.family == family and marks[p.mention.id].is_spam),
                                sum(1 for p in stream if p.family == family))
                  for family in (*SPAM_FAMILIES, "bot_ring")}
    false_spam = Counter(p.family for p in spam_flagged if not p.spam)
    return {
        "posts": len(stream),
        "copies": len(copies),
        "spam": len(spam),
        "dup_precision": ratio(len(right), len(flagged)),
        "dup_recall": ratio(len(right), len(copies)),
        "spam_precision": ratio(len(spam_right), len(spam_flagged)),
        "spam_recall": ratio(len(spam_right), len(spam)),
        "posts_per_s": round(len(stream) / elapsed, 1),
        # The same, per second of this process's CPU: what the step costs whatever else the machine runs.
        "posts_per_cpu_s": round(len(stream) / cpu, 1),
        "spam_recall_by_family": per_family,
        "false_spam_by_family": dict(false_spam),
        "seed": seed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, dest="json_out")
    args = parser.parse_args(argv)
    if not (args.data / "tweeteval_en_val.jsonl").exists():
        print(f"{args.data}: no sentiment data (tweeteval_en_val.jsonl); pass --data", file=sys.stderr)
        return 2
    result = run(args.data, args.seed)
    for key in ("posts", "copies", "spam", "dup_precision", "dup_recall", "spam_precision", "spam_recall",
                "posts_per_s", "posts_per_cpu_s"):
        print(f"{key}: {result[key]}")
    print("spam recall by family: " + ", ".join(f"{k} {v}" for k, v in result["spam_recall_by_family"].items()))
    print("ham flagged as spam, by kind: " + (", ".join(f"{k} {v}" for k, v in result["false_spam_by_family"].items())
                                              or "none"))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
