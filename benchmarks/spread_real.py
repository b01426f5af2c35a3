"""Early warning on real retweet cascades: the spread detector at its defaults, as the pipeline runs it.

    python -m benchmarks.spread_real [--cascades FILE] [--json OUT]

Every cascade of FILE (default: the development half in ../shared) becomes a post of one
brand, mixed with ordinary posts (`benchmarks/cascades.py` says how many and how they
spread), all marked negative, polled every 5 minutes for 48 hours from a random first
look, and replayed through `monitor.spread.detect_brand`, the function the pipeline's
`SpreadDetector` calls, at `DetectionConfig()` defaults with the shipped forecast model.

* positives: the real cascades whose final size (all their retweets) is in the top 5% of
  the file's cascades; an ordinary post is never a positive, and an alert on one counts
  against precision;
* a post is alerted when the detector fires at any severity at any time;
* lead: minutes from a positive's first alert to the moment it has half its final size
  (`docs/detection.md`); median over the alerted positives;
* `alert_rate` / `filler_alert_rate`: share of the real cascades / ordinary posts alerted;
* forecast: `auc` of the median forecast for the positives among the real cascades at 30
  and 60 minutes after posting, `mdape` (median absolute percentage error of the median
  forecast against the final size) at 30, 60 and 120 minutes, next to two baselines: the
  size at that moment (`naive`) and Szabo & Huberman's log-linear model (ln N = ln n(t) +
  beta(t), beta fitted on the other folds of the same file, out of fold);
* `calibration`: the real cascades at 60 minutes in deciles of their forecast, with the
  median forecast, the median final size, and the share inside the 10-90% band.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks.cascades import (ORDINARY_PER_CASCADE, Cascade, StreamPost, brand_stream, default_cascades,
                                 load_cascades)
from monitor.config import DetectionConfig
from monitor.forecast import GrowthModel, default_model, forecast
from monitor.spread import Curve, detect_brand, to_minutes

START = to_minutes(datetime(2015, 3, 2, tzinfo=UTC))
HEADLINE = ("precision", "recall", "median_lead_minutes", "alert_rate", "filler_alert_rate", "auc", "mdape")
AT = (30, 60, 120)


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half)."""
    ranks = _ranks(scores)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return float("nan")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def mdape(predicted: np.ndarray, actual: np.ndarray) -> float:
    return float(np.median(np.abs(predicted - actual) / actual))


def half_time(post: StreamPost) -> float:
    """Minutes after posting at which the post has half its final size."""
    return float(post.delays[int(np.ceil(post.final / 2)) - 1])


def szabo_huberman(sizes_at: dict[int, np.ndarray], finals: np.ndarray, folds: int = 5) -> dict[int, np.ndarray]:
    """Out-of-fold Szabo-Huberman predictions: ln(1 + N) = ln(1 + n(t)) + beta(t), beta the mean log ratio."""
    fold = np.random.default_rng(0).permutation(len(finals)) % folds
    out = {}
    for t, n in sizes_at.items():
        ratio = np.log1p(finals) - np.log1p(n)
        beta = np.array([ratio[fold != f].mean() for f in range(folds)])
        out[t] = np.expm1(np.log1p(n) + beta[fold])
    return out


def evaluate(cascades: Sequence[Cascade], cfg: DetectionConfig | None = None, stream: list[StreamPost] | None = None,
             model_for: Callable[[StreamPost], GrowthModel] | None = None, seed: int = 1) -> dict:
    """Replay the brand stream through the detector; every figure of the benchmark, as a dict."""
    cfg = cfg or DetectionConfig()
    stream = stream if stream is not None else brand_stream(cascades)
    rng = np.random.default_rng(seed)
    curves, forecasts, polls = [], [], {}
    for post in stream:
        minutes = post.polls(rng)
        engagement = post.engagement_at(minutes)
        polls[post.id] = (minutes, engagement)
        curves.append(Curve(post.id, START + post.posted, minutes, engagement, negative=True))
        forecasts.append(forecast(minutes, engagement, model_for(post) if model_for else None))
    triggers = detect_brand(curves, cfg, forecasts=forecasts)
    first: dict[str, float] = {}
    for t in triggers:
        first.setdefault(t.mention_id, t.age_minutes)

    real = [p for p in stream if p.real]
    finals = np.array([p.final for p in real], dtype=float)
    cut = float(np.quantile(finals, 0.95))
    positive = finals >= cut
    alerted = np.array([p.id in first for p in real])
    filler_alerts = sum(1 for p in stream if not p.real and p.id in first)
    fillers = len(stream) - len(real)
    true = alerted & positive
    leads = np.array([half_time(p) - first[p.id] for p, hit in zip(real, true, strict=True) if hit])

    index = {p.id: i for i, p in enumerate(stream)}
    sizes_at, median_at, band_at = {}, {}, {}
    for t in AT:
        last = [np.searchsorted(polls[p.id][0], t, side="right") - 1 for p in real]
        sizes_at[t] = np.array([polls[p.id][1][k] / 2 if k >= 0 else 0.0 for p, k in zip(real, last, strict=True)])
        median_at[t] = np.array([forecasts[index[p.id]].median[k] / 2 if k >= 0 else 0.0
                                 for p, k in zip(real, last, strict=True)])
        band_at[t] = [(forecasts[index[p.id]].low[k] / 2, forecasts[index[p.id]].high[k] / 2) if k >= 0 else (0, 0)
                      for p, k in zip(real, last, strict=True)]
    sh = szabo_huberman(sizes_at, finals)
    return {
        "cascades": len(real), "ordinary_posts": fillers, "positives": int(positive.sum()), "positive_cut": cut,
        "alerted": int(alerted.sum() + filler_alerts),
        "precision": float(true.sum() / max(alerted.sum() + filler_alerts, 1)),
        "recall": float(true.sum() / max(positive.sum(), 1)),
        "median_lead_minutes": float(np.median(leads)) if len(leads) else float("nan"),
        "lead_quartiles": [float(np.percentile(leads, 25)), float(np.percentile(leads, 75))] if len(leads) else [],
        "alert_rate": float(alerted.mean()),
        "filler_alert_rate": float(filler_alerts / max(fillers, 1)),
        "auc": {str(t): auc(median_at[t], positive) for t in (30, 60)},
        "mdape": {str(t): mdape(median_at[t], finals) for t in AT},
        "baselines": {
            "naive": {"mdape": {str(t): mdape(np.maximum(sizes_at[t], 1.0), finals) for t in AT}},
            "szabo_huberman": {"mdape": {str(t): mdape(sh[t], finals) for t in AT}},
        },
        "calibration": calibration(median_at[60], band_at[60], finals),
    }


def calibration(predicted: np.ndarray, bands: list[tuple[float, float]], finals: np.ndarray) -> list[dict]:
    """Deciles of the forecast at 60 minutes: is a forecast of X followed by a final size of X?"""
    order = np.argsort(predicted, kind="stable")
    rows = []
    for d, part in enumerate(np.array_split(order, 10), start=1):
        inside = [bands[i][0] <= finals[i] <= bands[i][1] for i in part]
        rows.append({"decile": d, "posts": len(part), "forecast_median": float(np.median(predicted[part])),
                     "actual_median": float(np.median(finals[part])), "in_band": float(np.mean(inside))})
    return rows


def report(r: dict, cfg: DetectionConfig, seconds: float, source: Path) -> str:
    b = r["baselines"]
    lines = [
        f"Spread on real cascades: {source} ({r['cascades']:,} cascades + {r['ordinary_posts']:,} ordinary posts, "
        f"{r['ordinary_posts'] // max(r['cascades'], 1)} per cascade), 5-min polls for 48 h",
        f"   defaults: reach_top_share={cfg.reach_top_share:g} alert_probability={cfg.alert_probability:g} "
        f"baseline_hours={cfg.baseline_hours} model={default_model().provenance.get('fitted_by', '?')}",
        f"   positives: top 5% of the cascades = {r['positives']} with >= {r['positive_cut']:,.0f} retweets",
        "",
        f"{'alerted':>8} {'precision':>9} {'recall':>7} {'lead':>7} {'p25':>7} {'p75':>7} {'alert rate':>11} "
        f"{'filler rate':>12}",
        f"{r['alerted']:>8} {r['precision']:>9.3f} {r['recall']:>7.3f} {r['median_lead_minutes']:>7.1f} "
        + " ".join(f"{q:>7.1f}" for q in (r["lead_quartiles"] or [float('nan')] * 2))
        + f" {r['alert_rate']:>11.3f} {r['filler_alert_rate']:>12.4f}",
        "",
        "Forecast of final size (median absolute percentage error; AUC for the top 5%):",
        f"   {'minutes after posting':<28}" + "".join(f"{t:>8}" for t in AT),
        f"   {'Earshot forecast':<28}" + "".join(f"{r['mdape'][str(t)]:>8.0%}" for t in AT)
        + f"    AUC 30 min {r['auc']['30']:.3f}, 60 min {r['auc']['60']:.3f}",
        f"   {'size so far (naive)':<28}" + "".join(f"{b['naive']['mdape'][str(t)]:>8.0%}" for t in AT),
        f"   {'Szabo-Huberman (out of fold)':<28}" + "".join(f"{b['szabo_huberman']['mdape'][str(t)]:>8.0%}" for t in AT),
        "",
        "Calibration at 60 min (deciles of the forecast):",
        f"   {'decile':>6} {'posts':>6} {'forecast':>9} {'actual':>9} {'in 10-90% band':>15}",
    ]
    lines += [f"   {c['decile']:>6} {c['posts']:>6} {c['forecast_median']:>9,.0f} {c['actual_median']:>9,.0f} "
              f"{c['in_band']:>15.0%}" for c in r["calibration"]]
    lines += ["", f"{seconds:.0f} s"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description="Spread detection on real retweet cascades, default config.")
    ap.add_argument("--cascades", type=Path, default=None, help="JSONL cascades (default: ../shared dev half)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--ordinary", type=int, default=ORDINARY_PER_CASCADE,
                    help=f"ordinary posts mixed in per cascade (default {ORDINARY_PER_CASCADE}; see benchmarks/cascades.py)")
    args = ap.parse_args(argv)
    path = args.cascades or default_cascades()
    if not path.is_file():
        sys.exit(f"no cascades at {path}: pass --cascades FILE or set EARSHOT_SHARED_DATA to a shared/data dir")
    started = time.time()
    cfg = DetectionConfig()
    cascades = load_cascades(path)
    result = evaluate(cascades, cfg, stream=brand_stream(cascades, ordinary_per_cascade=args.ordinary))
    seconds = time.time() - started
    print(report(result, cfg, seconds, path))
    if args.json:
        args.json.write_text(json.dumps({**result, "seconds": round(seconds, 1)}, indent=1) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
