"""Choose the storm detector's thresholds on real series, leave-one-series-out.

    python -m benchmarks.fit_storms [--data DIR] [--windows FILE]

The storm detector has one number per time scale (how many robust spreads above the
usual count is unusual) and a cool-down. They are chosen over a small grid by NAB's
standard score (`benchmarks/nab.py`) on NAB realTweets series, and judged the way
`benchmarks/storms_nab.py` judges the defaults, with one difference: each series is
scored with the thresholds that did best on the *other* series, never on itself. The
out-of-fold score that prints is what to expect on series the thresholds never saw; the
in-sample score of the thresholds chosen on all series is printed beside it. The robust
z-scores come from `monitor.storm.zscores`, the detector's own function, computed once
per series and scale; a grid point only changes which of them count as unusual.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks import nab
from benchmarks.storms_nab import as_buckets
from monitor.config import StormConfig, StormScale
from monitor.storm import _Context, zscores

GRID = {"z5": (9.0, 11.0, 13.0, 15.0), "z60": (5.0, 6.0, 7.0, 8.0), "z360": (4.0, 4.5, 5.0, None),
        "cooldown_hours": (12, 24)}


def config_for(point: dict) -> StormConfig:
    scales = [StormScale(minutes=5, z=point["z5"]), StormScale(minutes=60, z=point["z60"])]
    if point["z360"] is not None:
        scales.append(StormScale(minutes=360, z=point["z360"]))
    return StormConfig(scales=scales, cooldown_hours=point["cooldown_hours"])


def alarms(z: dict[int, tuple[np.ndarray, np.ndarray]], rows: np.ndarray, cfg: StormConfig) -> np.ndarray:
    """Per NAB row: the first bucket of each storm (unusual buckets within the cool-down are one storm)."""
    n = len(next(iter(z.values()))[0])
    hit = np.zeros(n, dtype=bool)
    for scale in cfg.scales:
        sums, zs = z[scale.minutes]
        hit |= (np.nan_to_num(zs, nan=-np.inf) >= scale.z) & (sums >= cfg.min_mentions)
    starts = np.zeros(n, dtype=bool)
    last = -(10**12)
    cooldown = cfg.cooldown_hours * 60 // cfg.bucket_minutes
    for i in np.flatnonzero(hit):
        if i - last > cooldown:
            starts[i] = True
        last = i
    return starts[rows]


def main(argv: Sequence[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--windows", type=Path, default=None)
    args = ap.parse_args(argv)
    data = args.data or nab.shared_storms_dir()
    windows = nab.load_windows(args.windows or data / "windows.json")
    series = {k: nab.load_series(data / Path(k).name) for k in windows if (data / Path(k).name).is_file()}
    keys = sorted(series)
    base = StormConfig()
    zs, rows = {}, {}
    for k in keys:
        counts, rows[k] = as_buckets(*series[k], base.bucket_minutes)
        ctx = _Context(counts, int(np.flatnonzero(counts.total > 0)[0]), base)
        zs[k] = {m: (s, z) for m in (5, 60, 360) for s, _, z in [zscores(counts.total, m // base.bucket_minutes, ctx)]}
    points = [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]
    raw: dict[tuple[int, str, str], float] = {}
    for p, point in enumerate(points):
        cfg = config_for(point)
        for k in keys:
            found = alarms(zs[k], rows[k], cfg)
            for name, profile in nab.PROFILES.items():
                raw[(p, k, name)] = nab.score_file(series[k][0], found, windows[k], profile, name=k).raw

    def normalised(name: str, raws: list[float]) -> float:
        profile, count = nab.PROFILES[name], sum(len(windows[k]) for k in keys)
        null, perfect = -profile["fnWeight"] * count, profile["tpWeight"] * count
        return nab.normalised_score(sum(raws), null, perfect)

    def best(exclude: str | None) -> int:
        return max(range(len(points)), key=lambda p: (sum(raw[(p, k, "standard")] for k in keys if k != exclude), -p))

    chosen = {k: best(k) for k in keys}
    overall = best(None)
    print(f"{len(points)} grid points, {len(keys)} series ({data})")
    for k in keys:
        print(f"  held out {Path(k).stem:<22} chosen on the others: {points[chosen[k]]}")
    result = {"chosen": points[overall], "out_of_fold": {}, "in_sample": {}}
    for name in nab.PROFILES:
        result["out_of_fold"][name] = round(normalised(name, [raw[(chosen[k], k, name)] for k in keys]), 2)
        result["in_sample"][name] = round(normalised(name, [raw[(overall, k, name)] for k in keys]), 2)
    print(f"chosen on all series: {points[overall]}")
    for name in nab.PROFILES:
        print(f"  {name:<20} out of fold {result['out_of_fold'][name]:6.1f}   in sample {result['in_sample'][name]:6.1f}")
    return result


if __name__ == "__main__":
    main()
