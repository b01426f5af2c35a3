"""Sentiment throughput: the naive ``transformers.pipeline`` vs Earshot's scorer, same posts, same model.

Run ``python -m benchmarks.sentiment_throughput`` (``--help`` for options). Each side runs in
its own fresh process (so each gets its own peak RSS) on the same 2,000 mixed-language posts:
the shared validation files when present (``$EARSHOT_SHARED_DATA``, else ``shared/data/sentiment``
beside the checkout, found as the tests find it; the first line printed says which) (English, Spanish, Indonesian and the other XLM-T
languages, interleaved), else a built-in synthetic mix. Printed per side: posts/s, p50/p95
latency of one call ("batch": one post for the pipeline, which is how it runs by default;
one ``score()`` call of 256 posts for Earshot, which is how ``monitor.pipeline.score`` calls
it), peak RSS, load time, and macro-F1 / agreement on the labelled posts, so speed is never
bought with silently worse answers.

``--texts FILE`` scores another benchmark's posts instead (one JSON string a line):
``benchmarks.pipeline_scale`` measures the scorer on its own posts that way, so its end to end
is compared with the model on the same text, not on shorter posts.

Why a separate process per side: peak RSS is a per-process high-water mark, and a second
model loaded in the same process would inherit the first one's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

N_POSTS = 2000
EARSHOT_CALL = 256  # posts per score() call, as monitor.pipeline.score sends them (batch_size * 8)
MIX = ("tweeteval_en_val", "xlmt_en_val", "xlmt_es_val", "smsa_id_val", "xlmt_pt_val", "xlmt_fr_val",
       "xlmt_de_val", "xlmt_it_val")

_SYNTH = {
    "en": ["My bill doubled this month and nobody at support answers", "Thanks for the quick fix, works great now!",
           "Is the store on Main St open on Sundays?", "Worst network ever, no signal at home for three days 😡",
           "Just switched plans, we'll see how it goes"],
    "es": ["El servicio al cliente es pésimo, nadie responde", "¡Me encanta la nueva app, muy rápida!",
           "¿A qué hora abre la tienda del centro?", "Llevo tres días sin internet y me siguen cobrando",
           "Cambié de plan ayer, ya veremos"],
    "id": ["Pelayanannya buruk sekali, pulsa saya hilang terus", "Mantap, sinyalnya kencang banget sekarang!",
           "Jam berapa gerai di mal buka hari Minggu?", "Sudah tiga hari internet mati, tolong dibantu",
           "Baru ganti paket kemarin, lihat saja nanti"],
}


def load_posts(n: int = N_POSTS, seed: int = 7, texts: Path | None = None) -> tuple[list[str], list[int] | None, str]:
    """``n`` posts (and gold labels when real), interleaving the languages so batches are mixed;
    or the first ``n`` of ``texts`` (one JSON string a line, no labels): another benchmark's own
    posts, so it can compare its end to end with the scorer on the same text (a post twice as
    long costs the model about twice as much)."""
    from sentiment.data import read_jsonl, shared_sentiment_dir

    if texts is not None:
        with texts.open(encoding="utf-8") as fh:
            given = [json.loads(line) for line, _ in zip(fh, range(n), strict=False)]
        return given, None, f"{texts} (its first {len(given):,} texts)"

    # `$EARSHOT_SHARED_DATA`, else `shared/data/sentiment` beside the checkout (as the tests find it).
    data = shared_sentiment_dir()
    files = [data / f"{name}.jsonl" for name in MIX] if data is not None else []
    rng = random.Random(seed)
    if files and all(f.is_file() for f in files):
        pools = [read_jsonl(f) for f in files]
        for pool in pools:
            rng.shuffle(pool)
        rows = []
        while len(rows) < n:
            for pool in pools:
                if pool and len(rows) < n:
                    rows.append(pool.pop())
        return [r.text for r in rows], [r.label for r in rows], f"validation files in {data} ({', '.join(MIX)})"
    texts = []
    langs = sorted(_SYNTH)
    while len(texts) < n:
        lang = langs[len(texts) % len(langs)]
        base = rng.choice(_SYNTH[lang])
        texts.append(base + (" " + base.lower()) * rng.choice((0, 0, 1, 2)))
    env = os.environ.get("EARSHOT_SHARED_DATA")
    where = (f"{data} lacks some of {', '.join(MIX)}" if data is not None
             else f"EARSHOT_SHARED_DATA={env} holds no sentiment files" if env
             else "no shared/data/sentiment beside the checkout, and EARSHOT_SHARED_DATA unset")
    return texts, None, f"built-in synthetic en/es/id mix ({where}; figures not comparable with the README's)"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_side(side: str, model: str, n: int, given: Path | None = None) -> dict:
    """Run one side in this process; returns its measurements (called in a child process)."""
    texts, gold, _ = load_posts(n, texts=given)
    started = time.perf_counter()
    latencies: list[float] = []
    if side == "pipeline":
        from transformers import pipeline

        from sentiment.bundled import bundled_model_dir
        from sentiment.labels import canonical_labels

        path = str(bundled_model_dir()) if model == "bundled" else model
        pipe = pipeline("sentiment-analysis", model=path)
        load_s = time.perf_counter() - started
        pipe(texts[:8])  # warm-up, as for the other side
        mapping = canonical_labels(pipe.model.config.id2label)
        name_to_index = {name: i for i, name in pipe.model.config.id2label.items()}
        labels = []
        t0 = time.perf_counter()
        last = t0
        for out in pipe(text for text in texts):  # a generator: results stream back one by one
            now = time.perf_counter()
            latencies.append(now - last)
            last = now
            labels.append(mapping[name_to_index[out["label"]]].value)
        elapsed = time.perf_counter() - t0
    else:
        from sentiment.scorer import TransformerScorer

        scorer = TransformerScorer(model)
        load_s = time.perf_counter() - started
        scorer.score(texts[:8])
        labels = []
        t0 = time.perf_counter()
        for start in range(0, len(texts), EARSHOT_CALL):
            c0 = time.perf_counter()
            labels += [s.label.value for s in scorer.score(texts[start : start + EARSHOT_CALL])]
            latencies.append(time.perf_counter() - c0)
        elapsed = time.perf_counter() - t0
    result = {
        "side": side, "posts": len(texts), "seconds": elapsed, "posts_per_s": len(texts) / elapsed,
        "p50_ms": 1000 * _percentile(latencies, 0.5), "p95_ms": 1000 * _percentile(latencies, 0.95),
        "calls": len(latencies), "peak_rss_mb": _peak_rss_mb(), "load_s": load_s,
        # Earshot's ONNX path never imports torch (its memory and load time would count here).
        "torch_threads": sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None,
        "labels": labels,
    }
    if gold is not None:
        from sentiment.data import LABELS
        from sentiment.metrics import scores

        result["macro_f1"] = scores(gold, [LABELS.index(x) for x in labels])["macro_f1"]
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Naive transformers.pipeline vs Earshot's scorer")
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--posts", type=int, default=N_POSTS)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--texts", type=Path, help="score these posts instead (one JSON string a line)")
    parser.add_argument("--side", choices=("prepare", "pipeline", "earshot"), help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args(argv)
    if args.side == "prepare":
        # First use unpacks the weights and builds the int8 graph (minutes of export, GBs of RSS):
        # a one-time cost, paid here so the measured runs show serving, as in production.
        from sentiment.scorer import TransformerScorer

        started = time.perf_counter()
        TransformerScorer(args.model)
        print(json.dumps({"prepare_s": time.perf_counter() - started}))
        return 0
    if args.side:
        print(json.dumps(run_side(args.side, args.model, args.posts, args.texts)))
        return 0

    texts, gold, source = load_posts(args.posts, texts=args.texts)
    args.posts = len(texts)
    print(f"{args.posts} posts from {source}; model {args.model}; {os.cpu_count()} CPUs")
    results = {}
    for side in ("prepare", "pipeline", "earshot"):
        cmd = [sys.executable, "-m", "benchmarks.sentiment_throughput", "--side", side, "--model", args.model,
               "--posts", str(args.posts), *(["--texts", str(args.texts)] if args.texts else [])]
        env = dict(os.environ, HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"), TRANSFORMERS_VERBOSITY="error")
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        results[side] = json.loads(done.stdout.strip().splitlines()[-1])
    if results.pop("prepare")["prepare_s"] > 5:
        print("(first use: unpacked the model and built its int8 graph before measuring)")
    p, e = results["pipeline"], results["earshot"]
    agree = sum(a == b for a, b in zip(p["labels"], e["labels"])) / len(p["labels"])
    rows = [
        ("posts/s", f"{p['posts_per_s']:.1f}", f"{e['posts_per_s']:.1f}"),
        ("batch latency p50 (ms)", f"{p['p50_ms']:.1f} (1 post)", f"{e['p50_ms']:.1f} ({EARSHOT_CALL} posts)"),
        ("batch latency p95 (ms)", f"{p['p95_ms']:.1f} (1 post)", f"{e['p95_ms']:.1f} ({EARSHOT_CALL} posts)"),
        ("peak RSS (MB)", f"{p['peak_rss_mb']:.0f}", f"{e['peak_rss_mb']:.0f}"),
        ("load time (s)", f"{p['load_s']:.1f}", f"{e['load_s']:.1f}"),
        ("torch threads", *(str(side["torch_threads"] or "not imported") for side in (p, e))),
    ]
    if gold is not None:
        rows.append(("macro-F1 on these posts", f"{p['macro_f1']:.3f}", f"{e['macro_f1']:.3f}"))
    width = max(len(r[0]) for r in rows)
    print(f"{'':<{width}}  {'transformers.pipeline':>24}  {'Earshot scorer':>24}")
    for name, a, b in rows:
        print(f"{name:<{width}}  {a:>24}  {b:>24}")
    speedup = e["posts_per_s"] / p["posts_per_s"]
    print(f"speed-up: {speedup:.2f}x; labels agree on {agree:.1%} of posts")
    if args.json:
        summary = {k: {m: v for m, v in r.items() if m != "labels"} for k, r in results.items()}
        summary |= {"speedup": speedup, "agreement": agree, "source": source}
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
