"""What one mapped task instance costs: the score, noise and detect chunks of `monitor.partitions`, timed one by one.

Run ``python -m benchmarks.chunk_cost [--posts N] [--json OUT]`` (default 30,000 posts, the
same generated stream as ``benchmarks.pipeline_scale``). It ingests them into a fresh data
directory, plans the scoring chunks (``scale.score_chunk_posts``) and scores each with the
constant-cost scorer (so the figure is everything but the model: add posts / the model's
posts/s for a real chunk), judges each brand's noise (copies and spam; a task instance per
brand, beside scoring in the DAG), then plans the detection chunks (brand x
``scale.detect_partition_hours``) and runs each, then commits. Printed: chunks, seconds per
chunk (median and max), and the process's peak RSS, which bounds what a worker needs per
concurrent task on top of the model.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.pipeline_scale import GoldScorer, generate, write_config
    from monitor import partitions, pipeline
    from monitor.config import load_config
    from monitor.store import open_store

    parser = argparse.ArgumentParser(description="Seconds per mapped score/detect chunk")
    parser.add_argument("--posts", type=int, default=30_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="earshot-chunks-") as tmp:
        directory = Path(tmp)
        generate(directory / "recording.jsonl", args.posts)
        config = load_config(write_config(directory, directory / "recording.jsonl"))
        store = open_store(config)
        pipeline.ingest(config, store, "replay")
        scorer = GoldScorer()
        figures: dict[str, dict[str, float]] = {}
        for step in ("score", "noise", "detect"):
            if step == "score":
                chunks = partitions.plan_scoring(config, store)
                run = lambda c: partitions.score_chunk(config, store, c, scorer=scorer)  # noqa: E731
            elif step == "noise":
                chunks = partitions.plan_noise(config)
                run = lambda brand: partitions.judge_brand(config, store, brand)  # noqa: E731
            else:
                plan = partitions.plan_detection(config, store)
                chunks = plan.chunks
                found: list = []
                run = lambda c: found.extend(partitions.detect_chunk(config, store, c))  # noqa: E731
            seconds = []
            for chunk in chunks:
                started = time.perf_counter()
                run(chunk)
                seconds.append(time.perf_counter() - started)
            figures[step] = {"chunks": len(chunks), "median_s": statistics.median(seconds), "max_s": max(seconds),
                             "total_s": sum(seconds)}
        started = time.perf_counter()
        new = partitions.commit_alerts(store, found)
        partitions.finish_detection(store, plan)
        figures["commit"] = {"chunks": 1, "median_s": time.perf_counter() - started,
                             "max_s": time.perf_counter() - started, "total_s": time.perf_counter() - started}
        store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.posts:,} posts; score chunks of about {config.scale.score_chunk_posts:,} posts (constant scorer), "
          f"noise chunks of one brand, detect chunks of one brand x {config.scale.detect_partition_hours} h; "
          f"{len(new)} alerts")
    for step, f in figures.items():
        print(f"{step:<7} {f['chunks']:>4} chunk(s)  median {f['median_s']:6.2f} s  max {f['max_s']:6.2f} s  "
              f"total {f['total_s']:6.1f} s")
    print(f"peak RSS {peak:,.0f} MB")
    if args.json:
        args.json.write_text(json.dumps({"posts": args.posts, "stages": figures, "peak_rss_mb": peak,
                                         "alerts": len(new)}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
