"""Brand storms on real Twitter mention volume: the storm detector at its defaults, scored by NAB's rules.

    python -m benchmarks.storms_nab [--data DIR] [--windows FILE] [--json OUT]

DIR (default ../shared/data/storms) holds NAB realTweets series (`timestamp,value`, mentions
every 5 minutes) and FILE (default DIR/windows.json) NAB's labelled anomaly windows. Each
series is one brand's mention counts. It is streamed through `monitor.storm.storm_alerts`,
the function the pipeline calls, the way the pipeline runs it: every `--step-hours` (6) a
run sees only the data up to that moment (no look-ahead) and judges the buckets completed
since the previous run. An alert marks the row of the bucket that raised it.

Scoring is NAB's (`benchmarks/nab.py`, a port of numenta/NAB's scorer): window-scaled
sigmoid, the first detection in a window counts, false positives weighted by their
distance after a window, probation = the first 15% of each file (at most 750 rows),
normalised so 0 is the null detector and 100 a detection at the start of every window,
for the standard, reward_low_FP_rate and reward_low_FN_rate profiles. NAB's
windowedGaussian detector runs beside it as NAB runs it (its threshold optimised by NAB's
optimiser per profile over the same files).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from benchmarks import nab
from monitor.config import StormConfig
from monitor.storm import BucketCounts, floor_bucket, storm_alerts, window_start

PROFILE_KEYS = {"standard": "standard", "reward_low_FP_rate": "low_fp", "reward_low_FN_rate": "low_fn"}


@dataclass(frozen=True)
class Streamed:
    alarms: np.ndarray  # per row: an alert was raised at this row
    alerts: int
    reasons: list[str]


def as_buckets(timestamps: Sequence[datetime], values: np.ndarray, minutes: int) -> tuple[BucketCounts, np.ndarray]:
    """The series as a brand's bucket counts (UTC), and each row's bucket index."""
    stamps = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in timestamps]
    start = floor_bucket(stamps[0], minutes)
    end = floor_bucket(stamps[-1], minutes) + timedelta(minutes=minutes)
    counts = BucketCounts.from_counts(((t, int(v), 0) for t, v in zip(stamps, values, strict=True)), start, end,
                                      minutes)
    return counts, np.array([counts.index(t) for t in stamps])


def stream(timestamps: Sequence[datetime], values: np.ndarray, cfg: StormConfig, brand: str = "brand",
           step_hours: float = 6) -> Streamed:
    """Run the storm detector as the pipeline would, every `step_hours`, on the data so far."""
    counts, rows = as_buckets(timestamps, values, cfg.bucket_minutes)
    row_of = {int(b): i for i, b in enumerate(rows)}
    alarms = np.zeros(len(values), dtype=bool)
    reasons: list[str] = []
    since: datetime | None = None
    now = counts.start
    end = counts.at(len(counts.total))
    while now < end:
        now = min(now + timedelta(hours=step_hours), end)
        lo = max(counts.index(window_start(now, since, cfg)), 0) if since is not None else 0
        hi = counts.index(now)
        window = BucketCounts(counts.at(lo), counts.minutes, counts.total[lo:hi], counts.negative[lo:hi])
        for alert in storm_alerts(brand, window, cfg, since, now):
            bucket = counts.index(alert.created_at) - 1  # the bucket that completed the storm's evidence
            if bucket in row_of:
                alarms[row_of[bucket]] = True
                reasons.append(alert.reason)
        since = now
    return Streamed(alarms, len(reasons), reasons)


def evaluate(series: Mapping[str, tuple[list[datetime], np.ndarray]], windows: Mapping[str, list[nab.Window]],
             cfg: StormConfig | None = None, baseline: bool = True) -> dict:
    cfg = cfg or StormConfig()
    streamed = {k: stream(ts, v, cfg, brand=Path(k).stem) for k, (ts, v) in series.items()}
    scored = {k: (series[k][0], streamed[k].alarms.astype(float)) for k in series}
    out: dict = {}
    for name, profile in nab.PROFILES.items():
        result = nab.score_corpus(scored, windows, profile, 0.5)
        out[PROFILE_KEYS[name]] = round(result.normalised, 2)
        if name == "standard":
            out["windows_detected"] = sum(f.tp_windows for f in result.files.values())
            out["windows_total"] = sum(len(windows[k]) for k in series)
            out["false_positives"] = sum(f.fp_rows for f in result.files.values())
            out["files"] = {Path(k).stem: {"windows_detected": f.tp_windows, "windows": len(windows[k]),
                                           "false_positives": f.fp_rows, "alerts": streamed[k].alerts}
                            for k, f in result.files.items()}
    if baseline:
        gaussian = {k: (ts, nab.windowed_gaussian_scores(v)) for k, (ts, v) in series.items()}
        out["baselines"] = {"windowed_gaussian": {
            PROFILE_KEYS[name]: round(nab.optimise_and_score(gaussian, windows, profile).normalised, 2)
            for name, profile in nab.PROFILES.items()}}
    return out


def report(r: dict, cfg: StormConfig, seconds: float, data: Path) -> str:
    g = r.get("baselines", {}).get("windowed_gaussian", {})
    scales = ", ".join(f"{s.minutes} min z {s.z:g}" for s in cfg.scales)
    lines = [
        f"Storms on NAB realTweets: {data} ({len(r['files'])} series, {r['windows_total']} labelled windows)",
        f"   defaults: scales [{scales}] history_days={cfg.history_days} min_history_days={cfg.min_history_days:g} "
        f"cooldown_hours={cfg.cooldown_hours} min_mentions={cfg.min_mentions}",
        "",
        f"{'detector':<34}{'standard':>9}{'low FP':>9}{'low FN':>9}   windows  false pos.",
        f"{'Earshot storm detector':<34}{r['standard']:>9.1f}{r['low_fp']:>9.1f}{r['low_fn']:>9.1f}"
        f"   {r['windows_detected']:>3}/{r['windows_total']:<3}  {r['false_positives']:>9}",
    ]
    if g:
        lines.append(f"{'NAB windowed Gaussian (optimised)':<34}{g['standard']:>9.1f}{g['low_fp']:>9.1f}{g['low_fn']:>9.1f}")
    lines += ["", f"{'series':<24}{'windows':>9}{'false pos.':>12}{'alerts':>8}"]
    lines += [f"{k:<24}{f['windows_detected']:>5}/{f['windows']:<3}{f['false_positives']:>12}{f['alerts']:>8}"
              for k, f in r["files"].items()]
    lines += ["", f"{seconds:.0f} s"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="Storm detection on NAB realTweets, scored by NAB's rules.")
    ap.add_argument("--data", type=Path, default=None, help="directory of NAB series (default ../shared/data/storms)")
    ap.add_argument("--windows", type=Path, default=None, help="NAB windows JSON (default DATA/windows.json)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    data = args.data or nab.shared_storms_dir()
    windows_path = args.windows or data / "windows.json"
    if not windows_path.is_file():
        sys.exit(f"no NAB windows at {windows_path}: pass --data DIR / --windows FILE, or set EARSHOT_SHARED_DATA")
    windows = nab.load_windows(windows_path)
    series = {k: nab.load_series(data / Path(k).name) for k in windows if (data / Path(k).name).is_file()}
    if not series:
        sys.exit(f"none of the series named in {windows_path} is in {data}")
    windows = {k: windows[k] for k in series}
    started = time.time()
    cfg = StormConfig()
    result = evaluate(series, windows, cfg)
    seconds = time.time() - started
    print(report(result, cfg, seconds, data))
    if args.json:
        args.json.write_text(json.dumps({**result, "seconds": round(seconds, 1)}, indent=1) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
