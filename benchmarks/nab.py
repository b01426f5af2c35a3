"""NAB's scoring rules and its windowedGaussian baseline, re-implemented with numpy + stdlib only.

    python benchmarks/nab.py [DATA_DIR]     # DATA_DIR defaults to ../shared/data/storms

Why a port: the storm detector is judged on NAB's realTweets series side by side with NAB's
own windowed Gaussian detector, so both must be scored by NAB's rules, not by something
resembling them, and installing NAB (pandas, Python 2-era code) is not wanted here.
Ported from numenta/NAB master: `nab/sweeper.py` (per-row scores, the sweep over thresholds,
the matching of one threshold), `nab/optimizer.py` (one threshold per profile, over the
whole corpus), `nab/scorer.py` + `nab/runner.py::normalize` (per-file scores summed, then
100 * (raw - null) / (perfect - null)), `nab/util.py::getProbationPeriod`,
`config/profiles.json`, `nab/detectors/null/null_detector.py` (constant 0.5) and
`nab/detectors/gaussian/windowedGaussian_detector.py`. Where this differs from NAB:
a threshold below every score of a file crashes NAB's `scoreDataSet` (it matches no row);
here it scores as "every row detected", which is what the threshold means. `perfect` counts
the windows of the files scored, where NAB counts every window in its label file.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np

# config/profiles.json, verbatim. tnWeight is unused by NAB's scoring and kept for fidelity.
PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0},
}
PROBATIONARY_PERCENT = 0.15  # nab/runner.py default
PROBATION = "probationary"  # NAB's window name for rows that are never scored
GAUSSIAN_WINDOW_SIZE = 6400  # windowedGaussian_detector.py: "tuned to give best performance on NAB"
GAUSSIAN_STEP_SIZE = 100

Window = tuple[datetime, datetime]  # first and last row of an anomaly window, both inclusive
Windows = Mapping[str, Sequence[Window]]  # label-file path (e.g. realTweets/Twitter_volume_FB.csv) -> its windows
Profile = Mapping[str, float]  # a cost matrix, as in PROFILES
Scored = tuple[Sequence[datetime], Sequence[float]]  # a file's timestamps and per-row anomaly scores (or 0/1)


class Point(NamedTuple):
    """One row as NAB's sweeper sees it (its AnomalyPoint, less the timestamp)."""

    score: float  # the detector's anomaly score
    sweep: float  # the row's NAB score if it were the detection that counts
    window: str | None  # window name, None outside windows, PROBATION during probation


# NAB's ThresholdScore: the raw score and row counts when every row scoring >= threshold alarms.
ThresholdScore = NamedTuple("ThresholdScore", [("threshold", float), ("score", float), ("tp", int), ("tn", int),
                                               ("fp", int), ("fn", int), ("total", int)])


@dataclass(frozen=True)
class FileScore:
    """One file at one threshold. tp/tn/fp/fn are NAB's row counts (what its results CSVs show)."""

    raw: float
    tp_windows: int  # windows with at least one scored detection (only the earliest counts)
    fn_windows: int  # scored windows without one: each costs fnWeight
    fp_rows: int  # scored detections outside every window
    counts: ThresholdScore
    null: float  # NAB's null detector on this file (no detections: -fnWeight per scored window)
    perfect: float  # tpWeight per window, as in runner.normalize


@dataclass(frozen=True)
class CorpusScore:
    """A corpus at one threshold; raw, null and perfect are sums over files, as NAB sums them."""

    threshold: float
    raw: float
    null: float
    perfect: float
    normalised: float
    files: dict[str, FileScore]


def load_series(path: str | Path) -> tuple[list[datetime], np.ndarray]:
    """A NAB data file (`timestamp,value`) as timestamps and float values."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [datetime.fromisoformat(r["timestamp"]) for r in rows], np.array([float(r["value"]) for r in rows])


def load_windows(path: str | Path) -> dict[str, list[Window]]:
    """NAB's combined_windows.json: relative data path -> [(start, end)], both ends inclusive rows."""
    with open(path) as f:
        raw = json.load(f)
    return {k: [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in v] for k, v in raw.items()}


def probation_rows(n_rows: int, probationary_percent: float = PROBATIONARY_PERCENT) -> int:
    """How many leading rows NAB never scores: 15% of the file, but at most 15% of 5000 rows.

    util.getProbationPeriod, rounded up: NAB skips rows i < period, i.e. the first ceil(period).
    """
    return math.ceil(min(math.floor(probationary_percent * n_rows), probationary_percent * 5000))


def scaled_sigmoid(position: float) -> float:
    """NAB's weighting of a detection by its position: -1 = window start (0.98661), 0 = window end."""
    return -1.0 if position > 3.0 else 2 * (1 / (1 + math.exp(-(-5 * position)))) - 1.0  # 2 sigmoid(-5x) - 1


def sweep_points(timestamps: Sequence[datetime], scores: Sequence[float], windows: Sequence[Window], name: str,
                 profile: Profile, probationary_percent: float = PROBATIONARY_PERCENT) -> list[Point]:
    """Sweeper.calcSweepScore: each row's NAB score as the detection that counts.

    Inside a window a row scores tpWeight * S(pos)/S(-1), pos = -(rows to the window's end + 1)
    / width, so the window's first row earns exactly tpWeight. Outside, a row costs
    fpWeight * S(distance after the previous window's end / (its width - 1)), or the full
    fpWeight if no window came before.
    """
    timestamps = list(timestamps)
    index: dict[datetime, int] = {}
    for i, t in enumerate(timestamps):
        index.setdefault(t, i)
    for start, end in windows:
        if start not in index or end not in index:  # nab/labeler.py refuses such label files
            raise ValueError(f"{name}: window {start}..{end} does not match rows of the file")
    pending = list(windows)
    tp_w, fp_w = profile["tpWeight"], profile["fpWeight"]
    max_tp = scaled_sigmoid(-1.0)
    period = probation_rows(len(timestamps), probationary_percent)
    cur, cur_name, cur_width, cur_right, prev_width, prev_right = None, None, None, None, None, None
    points = []
    for i, (t, s) in enumerate(zip(timestamps, scores, strict=True)):
        if pending and t == pending[0][0]:
            cur = pending.pop(0)
            cur_name = f"{name}|{cur[0]}"
            cur_right = index[cur[1]]
            cur_width = float(cur_right - index[cur[0]] + 1)
        if cur is not None:
            weighted = scaled_sigmoid(-(cur_right - i + 1) / cur_width) * tp_w / max_tp
        elif prev_right is None:
            weighted = -1.0 * fp_w
        else:
            weighted = scaled_sigmoid(abs(prev_right - i) / float(prev_width - 1)) * fp_w
        points.append(Point(float(s), weighted, cur_name if i >= period else PROBATION))
        if cur is not None and t == cur[1]:
            prev_right, prev_width = i, cur_width
            cur = cur_name = cur_width = cur_right = None
    return points


def scores_by_threshold(points: Sequence[Point], profile: Profile) -> list[ThresholdScore]:
    """Sweeper.calcScoreByThreshold: the raw score at every distinct anomaly score, highest first.

    A window is worth -fnWeight until a row in it alarms, then its best (earliest) row's score;
    later detections in the same window add nothing. Every alarming row outside windows adds
    its (negative) score. The first entry, threshold 1.1, is "no detections".
    """
    scorable = sorted((p for p in points if p.window != PROBATION), key=lambda p: p.score, reverse=True)
    parts: dict[str, float] = {"fp": 0}
    for p in scorable:
        if p.window is not None:
            parts[p.window] = -profile["fnWeight"]
    tn = sum(1 for p in scorable if p.window is None)
    fn, tp, fp = len(scorable) - tn, 0, 0
    threshold, out = 1.1, []
    for p in scorable:
        if p.score != threshold:
            out.append(ThresholdScore(threshold, sum(parts.values()), tp, tn, fp, fn, tp + tn + fp + fn))
            threshold = p.score
        if p.window is None:
            fp, tn = fp + 1, tn - 1
            parts["fp"] += p.sweep
        else:
            tp, fn = tp + 1, fn - 1
            parts[p.window] = max(parts[p.window], p.sweep)
    out.append(ThresholdScore(threshold, sum(parts.values()), tp, tn, fp, fn, tp + tn + fp + fn))
    return out


def row_at_threshold(rows: Sequence[ThresholdScore], threshold: float) -> ThresholdScore:
    """Sweeper.scoreDataSet's pick: the row whose detections are exactly the scores >= threshold."""
    prev = rows[0]
    for row in rows:
        if row.threshold == threshold:
            return row
        if row.threshold < threshold:
            return prev
        prev = row
    return prev  # every score >= threshold (NAB crashes here: see the module docstring)


def _file_score(points: list[Point], windows: Sequence[Window], threshold: float, profile: Profile) -> FileScore:
    rows = scores_by_threshold(points, profile)
    row = row_at_threshold(rows, threshold)
    scored = {p.window for p in points if p.window not in (None, PROBATION)}
    hit = {p.window for p in points if p.window not in (None, PROBATION) and p.score >= threshold}
    perfect = len(windows) * profile["tpWeight"]
    return FileScore(row.score, len(hit), len(scored - hit), row.fp, row, rows[0].score, perfect)


def score_file(timestamps: Sequence[datetime], alarms: Sequence[bool], windows: Sequence[Window], profile: Profile,
               probationary_percent: float = PROBATIONARY_PERCENT, name: str = "file") -> FileScore:
    """One file of binary alarms, scored as NAB scores a detector whose scores are 0/1 at threshold 0.5."""
    points = sweep_points(timestamps, np.asarray(alarms, dtype=bool).astype(float), windows, name, profile,
                          probationary_percent)
    return _file_score(points, windows, 0.5, profile)


def normalised_score(raw: float, null: float, perfect: float) -> float:
    """runner.normalize: 0 is the null detector, 100 a detection at the start of every window."""
    return 100 * (raw - null) / (perfect - null)


def _sweep_corpus(series: Mapping[str, Scored], windows: Windows, profile: Profile, pp: float) -> dict[str, list[Point]]:
    return {k: sweep_points(ts, s, windows.get(k, []), k, profile, pp) for k, (ts, s) in series.items()}


def optimise_threshold(series: Mapping[str, Scored], windows: Windows, profile: Profile,
                       probationary_percent: float = PROBATIONARY_PERCENT) -> tuple[float, float]:
    """optimizer.optimizeThreshold: pool every row of every file, sweep all thresholds, keep the best.

    Returns (threshold, corpus raw score); ties go to the higher threshold, as NAB's stable sort does.
    """
    pooled = [p for pts in _sweep_corpus(series, windows, profile, probationary_percent).values() for p in pts]
    best = max(scores_by_threshold(pooled, profile), key=lambda r: r.score)
    return best.threshold, best.score


def null_score(series: Mapping[str, Scored], windows: Windows, profile: Profile,
               probationary_percent: float = PROBATIONARY_PERCENT) -> float:
    """NAB's baseline: the null detector (a constant 0.5) at its own optimised threshold."""
    constant = {k: (ts, [0.5] * len(ts)) for k, (ts, _) in series.items()}
    return optimise_threshold(constant, windows, profile, probationary_percent)[1]


def score_corpus(series: Mapping[str, Scored], windows: Windows, profile: Profile, threshold: float = 0.5,
                 probationary_percent: float = PROBATIONARY_PERCENT) -> CorpusScore:
    """NAB's score + normalize steps at one threshold (0.5 suits 0/1 alarms). Keys are label-file paths."""
    points = _sweep_corpus(series, windows, profile, probationary_percent)
    files = {k: _file_score(pts, windows.get(k, []), threshold, profile) for k, pts in points.items()}
    raw = sum(f.raw for f in files.values())
    null = null_score(series, windows, profile, probationary_percent)
    perfect = sum(f.perfect for f in files.values())
    return CorpusScore(threshold, raw, null, perfect, normalised_score(raw, null, perfect), files)


def optimise_and_score(series: Mapping[str, Scored], windows: Windows, profile: Profile,
                       probationary_percent: float = PROBATIONARY_PERCENT) -> CorpusScore:
    """What NAB reports for a detector of continuous scores: optimise the threshold, then score with it."""
    threshold, _ = optimise_threshold(series, windows, profile, probationary_percent)
    return score_corpus(series, windows, profile, threshold, probationary_percent)


def _normal_tail(x: float, mean: float, std: float) -> float:
    """windowedGaussian_detector.normalProbability: the Q-function, mirrored below the mean."""
    if x < mean:
        return _normal_tail(2 * mean - x, mean, std)
    return 0.5 * math.erfc(((x - mean) / std) / math.sqrt(2))


def windowed_gaussian_scores(values: Sequence[float], window_size: int = GAUSSIAN_WINDOW_SIZE,
                             step_size: int = GAUSSIAN_STEP_SIZE) -> np.ndarray:
    """NAB's windowedGaussian: 1 - tail probability of each value under the previous values' Gaussian.

    The first row scores 0.0 (nothing seen yet). The window grows row by row (mean and std
    refreshed each time) up to window_size values, then slides by step_size values at a time,
    the statistics refreshed only when a full step has been buffered. A zero std becomes 1e-6.
    """
    buf = np.empty(window_size + step_size)  # the window, then the pending step
    n, pending, mean, std = 0, 0, 0.0, 1.0
    out = np.zeros(len(values))
    for i, raw in enumerate(values):
        x = float(raw)
        if n > 0:
            out[i] = 1 - _normal_tail(x, mean, std)
        if n < window_size:
            buf[n] = x
            n += 1
        else:
            buf[n + pending] = x
            pending += 1
            if pending < step_size:
                continue
            buf[:window_size] = buf[step_size : window_size + step_size].copy()
            pending = 0
        mean, std = float(np.mean(buf[:n])), float(np.std(buf[:n]))
        std = 0.000001 if std == 0.0 else std
    return out


def shared_storms_dir() -> Path:
    """../shared/data/storms beside the repo, or $EARSHOT_SHARED_DATA/storms."""
    env = os.environ.get("EARSHOT_SHARED_DATA")
    return Path(env) / "storms" if env else Path(__file__).resolve().parents[1].parent / "shared" / "data" / "storms"


def load_corpus(data_dir: str | Path) -> tuple[dict[str, tuple[list[datetime], np.ndarray]], dict[str, list[Window]]]:
    """Every labelled CSV present in data_dir (files sit flat; windows.json keys carry NAB's folder)."""
    windows = load_windows(Path(data_dir) / "windows.json")
    paths = {k: Path(data_dir) / Path(k).name for k in windows}
    series = {k: load_series(path) for k, path in paths.items() if path.exists()}
    return series, {k: windows[k] for k in series}


def main(argv: Sequence[str] = ()) -> dict[str, CorpusScore]:
    """Print the windowed Gaussian's NAB scores (each profile's own optimised threshold)."""
    data_dir = Path(argv[0]) if argv else shared_storms_dir()
    values, windows = load_corpus(data_dir)
    series = {k: (ts, windowed_gaussian_scores(v)) for k, (ts, v) in values.items()}
    print(f"NAB windowedGaussian on {len(series)} files, {sum(map(len, windows.values()))} windows ({data_dir})")
    results = {}
    for name, profile in PROFILES.items():
        r = results[name] = optimise_and_score(series, windows, profile)
        tp, fn, fp = (sum(getattr(f, a) for f in r.files.values()) for a in ("tp_windows", "fn_windows", "fp_rows"))
        print(f"  {name:<19} {r.normalised:8.2f}  threshold {r.threshold!r}  raw {r.raw:.4f}"
              f"  null {r.null:.1f}  perfect {r.perfect:.1f}  windows hit {tp}, missed {fn}, fp rows {fp}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
