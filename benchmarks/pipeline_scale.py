"""Pipeline scale: the main job over N generated posts, per stage, with peak memory and the re-run.

Run ``python -m benchmarks.pipeline_scale [--posts N] [--no-model] [--workers N] [--json OUT]``.

It writes a replay recording of N posts (default 100,000) about three brands into a fresh
data directory: the texts are the shared validation tweets and reviews (English, Spanish,
Indonesian, Portuguese, French, German, Italian, Hindi, Arabic, interleaved) when
``../shared/data/sentiment`` (or ``$EARSHOT_SHARED_DATA``) is there, else a built-in
synthetic mix. Each post is two real texts of one language and label, one after the other,
so that posts are as distinct as a day's posts are, except 3 % that repeat a recent post's
text word for word (copypasta; the noise step links them to the first). About 4,000 posts
an hour, so 100,000 posts are a big brand's day. 1 % of
the posts are negative complaints that spread (eight engagement snapshots climbing into
the thousands over six hours); every other post's engagement is read once an hour after
posting (and 15 % again at three hours), heavy-tailed as popularity is (Zipf). Then it runs the main job (``monitor.pipeline``: ingest -> score -> detect ->
notify, as ``earshot run --once`` does) in a child process, so the peak RSS printed is the
job's own (with its worker processes: their sum, sampled), and runs it again on the same data
directory: the idempotent re-run, which must find nothing to do, quickly. ``--workers N``
(default: the CPUs the benchmark may use) runs the job as ``earshot run --workers N`` does
(monitor/workers.py, monitor/fetch_ahead.py); ``--workers 1`` in one process.

``--no-model`` replaces the sentiment model by a constant-cost scorer (each text's gold
label, looked up), to measure everything else; with the model, the scorer's own posts/s
on the first 2,000 of the same posts (``benchmarks.sentiment_throughput --side earshot --texts``)
is measured in the same run, so the end-to-end share of it can be read straight off. The same
posts, not the shared validation mix: a post here is two real texts, about twice the tokens, and
the model's cost follows the tokens.

JSON keys (``--json``): ``posts``, ``posts_per_s`` (end to end, with the model; null with
``--no-model``), ``posts_per_s_no_model`` (end to end without the model's own time: the
constant scorer's run, or the model run minus the time inside the model), ``peak_rss_mb``,
``rerun_s``, ``stages`` {name: posts/s}, plus ``seconds`` per stage, ``scorer_posts_per_s``,
``alerts``, ``data``, ``workers`` and the machine's ``load`` before and after.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
POSTS_PER_HOUR = 4000
SPREADING_SHARE = 0.01
ORDINARY_SNAPSHOT_SHARE = 0.15
COPY_SHARE = 0.03  # posts that repeat a recent post's text word for word (copypasta, reposts as new posts)
START = datetime(2026, 3, 2, tzinfo=UTC)  # a fixed Monday: the run is the same every time
BRANDS = (
    ("Brisa Mobile", ["brisa mobile", "@brisamobile"]),
    ("Nimbus Bank", ["nimbus bank", "@nimbusbank"]),
    ("Kora Air", ["kora air", "@koraair"]),
)
LANG_FILES = ("tweeteval_en_val", "xlmt_es_val", "smsa_id_val", "xlmt_pt_val", "xlmt_fr_val", "xlmt_de_val",
              "xlmt_it_val", "xlmt_hi_val", "xlmt_ar_val")
_SYNTH = [
    ("My bill doubled this month and nobody at support answers", "negative", "en"),
    ("Thanks for the quick fix, works great now!", "positive", "en"),
    ("Is the store on Main St open on Sundays?", "neutral", "en"),
    ("Worst network ever, no signal at home for three days", "negative", "en"),
    ("El servicio al cliente es pésimo, me cobraron dos veces", "negative", "es"),
    ("¡Me encanta la nueva app, muy rápida!", "positive", "es"),
    ("¿A qué hora abre la tienda del centro?", "neutral", "es"),
    ("Sudah tiga hari internet mati, tolong dibantu", "negative", "id"),
    ("Mantap, sinyalnya kencang banget sekarang!", "positive", "id"),
    ("Jam berapa gerai di mal buka hari Minggu?", "neutral", "id"),
]


# -- the input -------------------------------------------------------------------------------


def text_pool() -> tuple[list[tuple[str, str, str]], str]:
    """(text, label, lang) to draw posts from, and which data it is."""
    from sentiment.data import read_jsonl, shared_sentiment_dir, LABELS

    data = shared_sentiment_dir()
    if data is not None:
        files = [data / f"{name}.jsonl" for name in LANG_FILES if (data / f"{name}.jsonl").is_file()]
        if files:
            pool = [(" ".join(e.text.split()), LABELS[e.label], e.lang or "") for f in files for e in read_jsonl(f)]
            return [p for p in pool if p[0]], f"shared validation text, {len(files)} files in {data}"
    return list(_SYNTH), "built-in synthetic en/es/id text (no shared data found)"


def generate(path: Path, posts: int, seed: int = 21, per_hour: int = POSTS_PER_HOUR) -> dict[str, object]:
    """Write the recording (time order) and return what is in it."""
    rng = random.Random(seed)
    pool, data = text_pool()
    negatives = [p for p in pool if p[1] == "negative"]
    by_kind: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for p in pool:
        by_kind.setdefault((p[2], p[1]), []).append(p)
    recent: list[tuple[str, str]] = []  # texts of recent posts, which some posts copy
    pending: list[tuple[datetime, int, str]] = []  # snapshot lines waiting for their time
    seq = 0
    spreading = snapshots = 0
    step = timedelta(hours=1) / per_hour
    with path.open("w", encoding="utf-8") as out:
        for i in range(posts):
            at = START + step * i
            while pending and pending[0][0] <= at:
                out.write(heapq.heappop(pending)[2])
            brand, queries = BRANDS[i % len(BRANDS)]
            spreads = rng.random() < SPREADING_SHARE
            if not spreads and recent and rng.random() < COPY_SHARE:
                text, lang = rng.choice(recent)  # a repost of a recent post's text, as copypasta is
            else:
                text, label, lang = rng.choice(negatives if spreads else pool)
                # Two real texts of one language and label, one after the other: each post its own
                # words, as a day's posts are (one real text each made most posts copies of others).
                other = rng.choice(by_kind[(lang, label)])[0]
                text = f"{text}\n{other}"
                recent.append((text, lang))
                if len(recent) > 500:
                    recent.pop(0)
            native = str(i)
            post = {
                "type": "post", "at": at.isoformat(), "source": "x", "native_id": native,
                "url": f"https://x.example/{native}", "author": {"handle": f"user{rng.randrange(50_000)}",
                                                               "followers": int(rng.paretovariate(1.2) * 50)},
                "text": f"{rng.choice(queries)} {text}", "lang": lang or None,
                "engagement": {"likes": rng.randrange(3)},
            }
            out.write(json.dumps(post, ensure_ascii=False) + "\n")
            if spreads:
                # Well past the brand's usual top 0.5 % (about 600 here): climbing for six hours.
                spreading += 1
                size = rng.uniform(300, 15_000)
                curve = [(t, size * (1 - 0.6 ** (t / 30))) for t in (10, 20, 40, 60, 90, 150, 240, 360)]
            else:
                # Popularity is heavy-tailed (Zipf): most posts get a handful, a few get hundreds.
                size = min(3 * rng.paretovariate(1.0), 50_000)
                curve = [(60, 0.7 * size)]
                if rng.random() < ORDINARY_SNAPSHOT_SHARE:
                    curve.append((180, size))
            for minutes, engagement in curve:
                when = at + timedelta(minutes=minutes)
                likes = int(engagement)
                line = json.dumps({"type": "snapshot", "at": when.isoformat(), "source": "x", "native_id": native,
                                   "engagement": {"likes": likes, "reposts": likes // 4}}) + "\n"
                seq += 1
                snapshots += 1
                heapq.heappush(pending, (when, seq, line))
        while pending:
            out.write(heapq.heappop(pending)[2])
    return {"posts": posts, "spreading": spreading, "snapshots": snapshots, "data": data}


def write_config(directory: Path, recording: Path) -> Path:
    """The demo config (topics, detectors) on this recording, with a store and outbox of its own."""
    import yaml

    from monitor.config import default_config_path  # noqa: F401 - the demo's location below

    demo = yaml.safe_load((REPO / "monitor" / "demo" / "earshot.yaml").read_text(encoding="utf-8"))
    demo["brands"] = [{"name": name, "queries": queries} for name, queries in BRANDS]
    demo["sources"] = {"replay": {"path": str(recording), "speed": 0, "shift_to_now": False}}
    demo["alerts"] = {"channels": [{"type": "jsonl", "path": str(directory / "alerts.jsonl")}]}
    demo["store"] = {"backend": "sqlite", "path": str(directory / "earshot.db")}
    path = directory / "earshot.yaml"
    path.write_text(yaml.safe_dump(demo, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# -- the job, in a child process ---------------------------------------------------------------


class GoldScorer:
    """The --no-model stand-in: each text's gold label, looked up (the text minus its brand query)."""

    def __init__(self) -> None:
        from monitor.models import Sentiment

        self._labels = {text: label for text, label, _ in text_pool()[0]}
        self._by_label = {label: Sentiment(label=label, score={"negative": -0.9, "neutral": 0.0, "positive": 0.9}[
            label], model="gold-labels") for label in ("negative", "neutral", "positive")}

    def score(self, texts: Sequence[str]) -> list:
        return [self._by_label[self._label(t)] for t in texts]

    def _label(self, text: str) -> str:
        for _, queries in BRANDS:
            for q in queries:
                if text.startswith(q + " "):  # the brand query, then the first of the post's texts
                    return self._labels.get(text[len(q) + 1:].split("\n", 1)[0], "neutral")
        return "neutral"


class TimedScorer:
    """Wraps the scorer the job uses, loading it on first need as the pipeline does, and times its calls."""

    def __init__(self, config, no_model: bool) -> None:
        self.config = config
        self.no_model = no_model
        self._scorer = None
        self.load_s = 0.0
        self.score_s = 0.0
        self.scored = 0

    def score(self, texts: Sequence[str]) -> list:
        if self._scorer is None:
            started = time.perf_counter()
            if self.no_model:
                self._scorer = GoldScorer()
            else:
                from sentiment.backends import build_backend

                self._scorer = build_backend(self.config.sentiment)
            self.load_s += time.perf_counter() - started
        started = time.perf_counter()
        results = self._scorer.score(texts)
        self.score_s += time.perf_counter() - started
        self.scored += len(texts)
        return results


class PeakRss:
    """The most this process and its children (the run's local workers) held at once, in MB.

    `getrusage` gives each process's own peak, not what they held together, so the sum is
    sampled from /proc every `every` seconds (Linux); with no children it is the process's own."""

    def __init__(self, every: float = 0.05) -> None:
        import threading

        self.peak_mb = 0.0
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> PeakRss:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(self._every):
            self.peak_mb = max(self.peak_mb, self.now_mb())

    @staticmethod
    def now_mb() -> float:
        from monitor.workers import rss_mb

        me = os.getpid()
        total = rss_mb(me)
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                if int(fields[1]) == me:  # its parent
                    total += rss_mb(entry.name)
        return total


def run_job(config_path: Path, no_model: bool, workers: int = 1) -> dict[str, object]:
    """One pass of the main job, step by step as `pipeline.run_once` runs them, timed; with
    `workers` above 1, noise and detection run on a local pool of that many processes beside
    scoring (monitor/workers.py), as `earshot run --workers N` does."""
    from monitor import pipeline
    from monitor.config import load_config
    from monitor.store import open_store
    from monitor.workers import LocalPool

    started = time.perf_counter()
    config = load_config(config_path)
    config.scale.workers = workers
    store = open_store(config)
    scorer = TimedScorer(config, no_model)
    seconds: dict[str, float] = {}
    tree = PeakRss().start()
    t = time.perf_counter()
    ingested = [pipeline.ingest(config, store, name) for name in pipeline.active_sources(config)]
    seconds["ingest"] = time.perf_counter() - t
    t = time.perf_counter()
    if workers > 1:
        with LocalPool(config, workers) as pool:
            scored, _, alerts = pipeline.process(config, store, scorer=scorer, pool=pool)
        seconds["model load"] = scorer.load_s
        seconds["sentiment model"] = scorer.score_s
        seconds[f"score | noise, detect ({workers} workers; rest)"] = (time.perf_counter() - t - scorer.score_s
                                                                          - scorer.load_s)
    else:
        scored = pipeline.score(config, store, scorer=scorer)
        score_s = time.perf_counter() - t
        seconds["model load"] = scorer.load_s
        seconds["sentiment model"] = scorer.score_s
        seconds["score (rest: read, language, topics, write)"] = score_s - scorer.score_s - scorer.load_s
        t = time.perf_counter()
        alerts = pipeline.detect(config, store)
        seconds["detect"] = time.perf_counter() - t
    t = time.perf_counter()
    delivery = pipeline.notify(config, store)
    seconds["notify"] = time.perf_counter() - t
    total = time.perf_counter() - started
    result = {
        "seconds": seconds, "total_s": total, "model_s": scorer.score_s + scorer.load_s,
        "new_mentions": sum(s.new_mentions for s in ingested), "scored": scored, "new_alerts": len(alerts),
        "sent": sum(delivery.sent.values()) if isinstance(delivery.sent, dict) else delivery.sent,
        "alerts": sum(store.count_alerts_by_state().values()), "mentions": store.count_mentions(),
        "peak_rss_mb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, tree.peak_mb),
        "workers": workers,
    }
    tree.stop()
    store.close()
    return result


def _child(args: list[str]) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"), TRANSFORMERS_VERBOSITY="error")
    done = subprocess.run([sys.executable, "-m", "benchmarks.pipeline_scale", *args], capture_output=True, text=True,
                          env=env, cwd=REPO)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"child {' '.join(args)} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def scorer_texts(recording: Path, out: Path, n: int = 2000) -> Path:
    """The first `n` posts' texts of the recording, as the pipeline hands them to the scorer."""
    texts = []
    with recording.open(encoding="utf-8") as fh:
        for line in fh:
            event = json.loads(line)
            if event["type"] == "post":
                texts.append(json.dumps(event["text"], ensure_ascii=False))
                if len(texts) == n:
                    break
    out.write_text("\n".join(texts) + "\n", encoding="utf-8")
    return out


def scorer_throughput(texts: Path) -> float | None:
    """The scorer's own posts/s on these posts (`benchmarks.sentiment_throughput`'s Earshot side):
    the same text the pipeline scores, since a post's length sets the model's cost."""
    env = dict(os.environ, HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"), TRANSFORMERS_VERBOSITY="error")
    done = subprocess.run([sys.executable, "-m", "benchmarks.sentiment_throughput", "--side", "earshot",
                           "--texts", str(texts)], capture_output=True, text=True, env=env, cwd=REPO)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-2000:])
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])["posts_per_s"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The main job over N generated posts: per stage, memory, re-run")
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--no-model", action="store_true", help="a constant-cost scorer instead of the model")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", type=Path, help="use (and keep) this data directory instead of a temporary one")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="processes for noise and detection beside scoring (default: the CPUs this may use;"
                             " 1: everything in one process)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # child mode: run the job on this config
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_job(args.child, args.no_model, args.workers)))
        return 0
    if args.posts < 1:
        parser.error("--posts must be at least 1")

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="earshot-scale-") as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        recording = directory / "recording.jsonl"
        t = time.perf_counter()
        made = generate(recording, args.posts)
        config = write_config(directory, recording)
        print(f"{args.posts:,} posts ({made['spreading']:,} spreading negatives, {made['snapshots']:,} snapshots) "
              f"from {made['data']}; generated in {time.perf_counter() - t:.0f} s; {os.cpu_count()} CPUs, "
              f"{args.workers} worker(s), "
              f"load {load_before[0]:.2f}")
        if args.workers < 1:
            parser.error("--workers must be at least 1")
        flag = [*(["--no-model"] if args.no_model else []), "--workers", str(args.workers)]
        first = _child(["--child", str(config), *flag])
        again = _child(["--child", str(config), *flag])
        scorer_rate = None if args.no_model else scorer_throughput(scorer_texts(recording,
                                                                                directory / "scorer_texts.jsonl"))
    load_after = os.getloadavg()

    n = args.posts
    seconds = first["seconds"]
    stages = {name: (n / s if s > 0 else None) for name, s in seconds.items()}
    end_to_end = n / first["total_s"]
    no_model = n / max(first["total_s"] - (0 if args.no_model else first["model_s"]), 1e-9)
    width = max(map(len, seconds)) + 2
    print(f"{'stage':<{width}}{'seconds':>10}{'posts/s':>12}")
    for name, s in seconds.items():
        rate = f"{n / s:,.0f}" if s > 0 else "-"
        print(f"{name:<{width}}{s:>10.1f}{rate:>12}")
    print(f"{'total':<{width}}{first['total_s']:>10.1f}{end_to_end:>12,.0f}")
    print(f"mentions {first['mentions']:,}, scored {first['scored']:,}, alerts {first['alerts']:,}, "
          f"sent {first['sent']}")
    if not args.no_model:
        print(f"end to end: {end_to_end:,.0f} posts/s; without the model's time: {no_model:,.0f} posts/s")
        if scorer_rate:
            print(f"the scorer alone on these posts (benchmarks.sentiment_throughput --side earshot --texts, same run): "
                  f"{scorer_rate:,.0f} posts/s -> end to end is {end_to_end / scorer_rate:.0%} of it")
    else:
        print(f"everything but the model: {no_model:,.0f} posts/s")
    print(f"peak RSS {first['peak_rss_mb']:,.0f} MB; re-run {again['total_s']:.2f} s "
          f"({again['new_mentions']} new, {again['scored']} scored, {again['new_alerts']} alerts); "
          f"load {load_before[0]:.2f} -> {load_after[0]:.2f}")
    if args.json:
        summary = {
            "posts": n, "posts_per_s": None if args.no_model else end_to_end, "posts_per_s_no_model": no_model,
            "peak_rss_mb": first["peak_rss_mb"], "rerun_s": again["total_s"], "stages": stages,
            "seconds": seconds, "total_s": first["total_s"], "scorer_posts_per_s": scorer_rate,
            "alerts": first["alerts"], "model": "constant (gold labels)" if args.no_model else "bundled",
            "data": made["data"], "load": {"before": load_before[0], "after": load_after[0]},
            "cpus": os.cpu_count(), "workers": args.workers,
        }
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
