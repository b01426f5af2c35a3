"""benchmarks/nab.py against NAB's own numbers: its unit and integration tests, ported case by case.

Each ported test names its source in numenta/NAB; the inputs and expected values are NAB's.
NAB's older `Scorer` tests (tests/unit/scorer_test.py, tests/integration/scorer_test.py)
pass a probationary period in rows; the sweeper that replaced `Scorer` takes a percentage,
so those cases use the percentage that gives the same rows (e.g. 0.6 of 5 rows = 3).
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from benchmarks.nab import (
    GAUSSIAN_STEP_SIZE,
    GAUSSIAN_WINDOW_SIZE,
    PROBATION,
    PROFILES,
    Point,
    ThresholdScore,
    load_corpus,
    load_series,
    load_windows,
    normalised_score,
    null_score,
    optimise_and_score,
    optimise_threshold,
    probation_rows,
    scaled_sigmoid,
    score_corpus,
    score_file,
    scores_by_threshold,
    sweep_points,
    windowed_gaussian_scores,
)

ONES = {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 1.0, "tnWeight": 1.0}  # NAB's integration tests
UNIT = {"tpWeight": 1.1, "tnWeight": 1.0, "fpWeight": 0.11, "fnWeight": 1.2}  # tests/unit/scorer_test.py


def timestamps(length: int) -> list[datetime]:
    """nab/test_helpers.py::generateTimestamps (5-minute steps)."""
    start = datetime(2015, 1, 1)
    return [start + i * timedelta(minutes=5) for i in range(length)]


def windows_for(ts: list[datetime], num_windows: int, window_size: int) -> list[tuple[datetime, datetime]]:
    """nab/test_helpers.py::generateWindows: evenly spaced windows of window_size rows (Python 2 rounding)."""
    delta = ts[1] - ts[0]
    diff = int(math.floor((len(ts) - num_windows * window_size) / float(num_windows + 1) + 0.5))
    out = []
    for i in range(num_windows):
        t1 = ts[0] + delta * diff * (i + 1) + delta * window_size * i
        out.append((t1, t1 + delta * (window_size - 1)))
    return out


def alarms_at(length: int, *rows: int) -> np.ndarray:
    out = np.zeros(length, dtype=bool)
    out[list(rows)] = True
    return out


def counts(score, tn, tp, fp, fn):
    c = score.counts
    return (c.tn, c.tp, c.fp, c.fn) == (tn, tp, fp, fn)


# --- tests/integration/sweeper_test.py ---------------------------------------------------------

@pytest.mark.parametrize("num_rows,percent,expected", [
    (100, 0.0, 0), (100, 1.0, 100), (100, 0.1, 10), (100, 0.15, 15), (5000, 0.1, 500), (6000, 0.1, 500),
])
def test_probationary_length(num_rows, percent, expected):
    assert probation_rows(num_rows, percent) == expected


def test_probation_is_capped_at_fifteen_percent_of_5000_rows():
    assert probation_rows(15902) == 750  # a realTweets file: not floor(0.15 * 15902) = 2385


def test_calc_sweep_score_window_score_interaction():
    """Scores inside a window are positive; all others negative."""
    windows = [(30, 39), (75, 95)]
    points = sweep_points(list(range(100)), [1] * 100, windows, "TestDataSet",
                          {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11}, 0.1)
    assert len(points) == 100
    assert len([p for p in points if p.window == PROBATION]) == probation_rows(100, 0.1)
    in_window = [p for p in points if p.window not in (PROBATION, None)]
    assert len(in_window) == 10 + 21
    for p in points:
        assert (p.sweep > 0) if p.window not in (PROBATION, None) else (p.sweep < 0)


def test_calc_score_by_threshold_returns_expected_scores():
    fn = 5.0
    rows = [
        Point(0.5, -1000, PROBATION),  # never contributes (probationary)
        Point(0.5, -1000, PROBATION),
        Point(0.0, -3, None),  # anomaly score 0.0: only at the lowest threshold
        Point(0.2, 20, "windowA"),  # replaces the next row once threshold <= 0.2
        Point(0.3, 10, "windowA"),
        Point(0.5, 5, "windowB"),
        Point(0.5, -3, None),
    ]
    assert scores_by_threshold(rows, {"tpWeight": 0, "fpWeight": 0, "fnWeight": fn}) == [
        ThresholdScore(1.1, -2 * fn, 0, 2, 0, 3, 5),
        ThresholdScore(0.5, 5 - 3 - fn, 1, 1, 1, 2, 5),
        ThresholdScore(0.3, 5 - 3 + 10, 2, 1, 1, 1, 5),
        ThresholdScore(0.2, 5 - 3 + 20, 3, 1, 1, 0, 5),
        ThresholdScore(0.0, 5 - 3 + 20 - 3, 3, 0, 2, 0, 5),
    ]


# --- tests/unit/scorer_test.py (cost matrix tp 1.1, fp 0.11, fn 1.2) -----------------------------

def _unit(predictions, window_rows=(), probation=0.0):
    ts = timestamps(len(predictions))
    windows = [(ts[a], ts[b]) for a, b in window_rows]
    return score_file(ts, np.array(predictions, dtype=bool), windows, UNIT, probation).raw


FIRST_HALF = 0.8482836399575131 * UNIT["tpWeight"] / 0.9866142981514305  # NAB's hard-coded S(-0.5)/S(-1)


@pytest.mark.parametrize("predictions,windows,probation,expected", [
    ([0] * 5, [], 0.0, 0.0),  # testNull
    ([0, 1, 0, 1, 0], [], 0.0, -2.0 * UNIT["fpWeight"]),  # testFalsePositives
    ([0] * 7, [(1, 2), (4, 5)], 0.0, -2.0 * UNIT["fnWeight"]),  # testFalseNegatives
    ([0, 1, 0, 1, 0], [], 0.8, 0.0),  # testFalsePositivesInProbationary (4 rows)
    ([0, 1, 0, 1, 0], [], 0.6, -1.0 * UNIT["fpWeight"]),  # testFalsePositivesBeforeAndAfterProbationary
    ([0, 0, 1, 0, 0, 0, 0], [(1, 2)], 0.0, FIRST_HALF),  # testTruePositives1
    ([0, 0, 1, 0, 0, 0, 0], [(1, 2), (4, 5)], 0.0, FIRST_HALF - UNIT["fnWeight"]),  # testTruePositives1WithFN
    ([0, 0, 0, 0, 1, 0, 0], [(4, 5)], 0.0, UNIT["tpWeight"]),  # testTruePositives2
    ([0, 0, 0, 0, 1, 1, 0], [(4, 5)], 0.0, UNIT["tpWeight"]),  # testTruePositives3
    ([0, 0, 1, 0, 1, 0, 0], [(1, 2), (4, 5)], 0.0, FIRST_HALF + UNIT["tpWeight"]),  # testTruePositivesMultiple
    ([0, 0, 0, 0, 1], [(1, 2)], 0.0, -UNIT["fnWeight"] - 0.9999092042625951 * UNIT["fpWeight"]),  # ...AfterWindow1
    ([0, 0, 0, 1, 0], [(1, 2)], 0.0, -UNIT["fnWeight"] - 0.9866142981514303 * UNIT["fpWeight"]),  # ...AfterWindow2
])
def test_unit_scorer_cases(predictions, windows, probation, expected):
    assert _unit(predictions, windows, probation) == pytest.approx(expected, abs=1e-7)


# --- tests/integration/{scorer,true_positive,false_positive,false_negative}_test.py ---------------

def test_scoring_all_metrics():
    ts = timestamps(100)
    windows = windows_for(ts, 2, 5)
    start = ts.index(windows[0][0])
    score = score_file(ts, alarms_at(100, start, start + 1, start + 7), windows, ONES, 0.0)
    assert round(score.raw, 4) == -0.9540
    assert counts(score, 100 - 10 - 1, 2, 1, 8)


def test_null_case_and_reward_low_profiles():
    ts = timestamps(10)
    assert score_file(ts, alarms_at(10), [], ONES, 0.0).raw == 0.0
    assert counts(score_file(ts, alarms_at(10), [], ONES, 0.0), 10, 0, 0, 0)
    ts = timestamps(100)
    windows = windows_for(ts, 1, 10)
    fn_profile = {**ONES, "fnWeight": 2.0, "fpWeight": 0.055}
    s1, s2 = (score_file(ts, alarms_at(100), windows, p, 0.0) for p in (ONES, fn_profile))
    assert s1.raw == 0.5 * s2.raw and counts(s1, 90, 0, 0, 10) and counts(s2, 90, 0, 0, 10)
    fp_profile = {**ONES, "fpWeight": 2.0, "fnWeight": 0.5}
    s1, s2 = (score_file(ts, alarms_at(100, 0), [], p, 0.0) for p in (ONES, fp_profile))
    assert s1.raw == 0.5 * s2.raw and counts(s1, 99, 0, 1, 0)


def test_true_positives():
    ts = timestamps(10)
    windows = windows_for(ts, 1, 2)
    t1, t2 = (ts.index(t) for t in windows[0])
    first = score_file(ts, alarms_at(10, t1), windows, ONES, 0.0)
    assert first.raw == ONES["tpWeight"] and counts(first, 8, 1, 0, 1)  # testFirstTruePositiveWithinWindow
    last = score_file(ts, alarms_at(10, t2), windows, ONES, 0.0)
    assert first.raw > last.raw  # testEarlierTruePositiveIsBetter
    both = score_file(ts, alarms_at(10, t1, t2), windows, ONES, 0.0)
    assert both.raw == first.raw and counts(both, 8, 2, 0, 0)  # testOnlyScoreFirstTruePositiveWithinWindow
    wider = windows_for(ts, 1, 3)
    assert score_file(ts, alarms_at(10, ts.index(wider[0][0])), wider, ONES, 0.0).raw == first.raw
    ts = timestamps(1000)
    windows = windows_for(ts, 1, 100)
    end = ts.index(windows[0][1])  # testTruePositiveAtRightEdgeOfWindow: S crosses zero at the edge
    at_edge = score_file(ts, alarms_at(1000, end), windows, ONES, 0.0)
    after = score_file(ts, alarms_at(1000, end + 1), windows, ONES, 0.0)
    assert at_edge.raw + after.raw + 1 == pytest.approx(0.0, abs=5e-4)
    assert counts(at_edge, 900, 1, 0, 99) and counts(after, 899, 0, 1, 100)


def test_false_positives_and_negatives():
    ts = timestamps(1000)
    windows = windows_for(ts, 1, 10)
    one = score_file(ts, alarms_at(1000, 0), windows, ONES, 0.0)
    two = score_file(ts, alarms_at(1000, 0, 1), windows, ONES, 0.0)
    assert one.raw < 0 and two.raw < one.raw and counts(two, 988, 0, 2, 10)
    assert score_file(ts, alarms_at(1000, 0), [], ONES, 0.0).raw == -ONES["fpWeight"]  # testOneFalsePositiveNoWindow
    assert abs(score_file(ts, alarms_at(1000), windows, ONES, 0.0).raw + 1) < 0.1
    ts = timestamps(2000)
    assert abs(score_file(ts, alarms_at(2000), windows_for(ts, 4, 10), ONES, 0.0).raw + 4) < 0.01
    ts = timestamps(10)  # testEarlierFalsePositiveAfterWindowIsBetter
    windows = windows_for(ts, 1, 2)
    after = ts.index(windows[0][1]) + 1
    assert score_file(ts, alarms_at(10, after), windows, ONES, 0.0).raw > \
        score_file(ts, alarms_at(10, after + 1), windows, ONES, 0.0).raw


def test_score_normalization():
    """tests/unit/normalize_test.py: null -5, detector 2, five windows at tpWeight 1 -> 70."""
    assert normalised_score(2.0, -5.0, 5 * 1.0) == 70.0


# --- behaviour the storm benchmark relies on -----------------------------------------------------

def test_profiles_are_nab_config_profiles_json():
    assert PROFILES == {
        "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0},
        "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0},
        "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0},
    }


def test_detection_at_window_start_earns_full_tp_weight():
    """S(-1) = 0.98661 is the raw sigmoid at a window's start; NAB's sweeper divides it back out."""
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0 and scaled_sigmoid(3.5) == -1.0
    ts = timestamps(100)
    windows = windows_for(ts, 1, 10)
    start = ts.index(windows[0][0])
    for profile in PROFILES.values():
        assert score_file(ts, alarms_at(100, start), windows, profile, 0.0).raw == profile["tpWeight"]
    second = score_file(ts, alarms_at(100, start + 1), windows, PROFILES["standard"], 0.0).raw
    assert second == pytest.approx(scaled_sigmoid(-0.9) / scaled_sigmoid(-1.0))


def test_only_the_first_detection_in_a_window_counts():
    ts = timestamps(100)
    windows = windows_for(ts, 1, 10)
    start = ts.index(windows[0][0])
    once = score_file(ts, alarms_at(100, start + 2), windows, PROFILES["standard"], 0.0)
    many = score_file(ts, alarms_at(100, start + 2, start + 3, start + 9), windows, PROFILES["standard"], 0.0)
    assert many.raw == once.raw and (many.tp_windows, many.fn_windows, many.fp_rows) == (1, 0, 0)


def test_a_false_positive_just_after_a_window_costs_less_than_one_far_after():
    ts = timestamps(200)
    windows = windows_for(ts, 1, 10)
    end = ts.index(windows[0][1])
    near, far = (score_file(ts, alarms_at(200, end + k), windows, PROFILES["standard"], 0.0) for k in (1, 40))
    assert -0.11 - 1e-12 <= far.raw + 1 < near.raw + 1 < 0  # +1: the missed window's fnWeight
    assert far.raw + 1 == pytest.approx(-0.11)  # > 3 widths past the window: the full fpWeight
    before = score_file(ts, alarms_at(200, 5), windows, PROFILES["standard"], 0.0)
    assert before.raw + 1 == pytest.approx(-0.11) and before.fp_rows == 1  # no window precedes it


def test_detections_in_the_probationary_period_are_ignored():
    ts = timestamps(100)
    windows = windows_for(ts, 1, 10)  # rows 45..54; probation is rows 0..14
    quiet = score_file(ts, alarms_at(100), windows, PROFILES["standard"])
    noisy = score_file(ts, alarms_at(100, 0, 3, 14), windows, PROFILES["standard"])
    assert noisy.raw == quiet.raw == -1.0 and noisy.fp_rows == 0
    assert score_file(ts, alarms_at(100, 15), windows, PROFILES["standard"]).fp_rows == 1


def test_perfect_detector_normalises_to_100_and_null_to_0():
    series, windows = {}, {}
    for name, (n, w) in {"a.csv": (300, 2), "b.csv": (500, 3)}.items():
        ts = timestamps(n)
        windows[name] = windows_for(ts, w, 12)
        series[name] = (ts, alarms_at(n, *(ts.index(a) for a, _ in windows[name])))
    for profile in PROFILES.values():
        perfect = score_corpus(series, windows, profile)
        assert perfect.normalised == pytest.approx(100.0) and perfect.perfect == 5 * profile["tpWeight"]
        assert perfect.null == -5 * profile["fnWeight"]
        silent = {k: (ts, np.zeros(len(ts), dtype=bool)) for k, (ts, _) in series.items()}
        assert score_corpus(silent, windows, profile).normalised == 0.0
        assert sum(f.null for f in perfect.files.values()) == perfect.null


def test_optimiser_finds_the_best_single_threshold_over_the_corpus():
    """The sweep over every score must agree with alarming at score >= t, file by file, for each t."""
    rng = np.random.default_rng(5)
    series, windows = {}, {}
    for name in ("a.csv", "b.csv", "c.csv"):
        ts = timestamps(300)
        windows[name] = windows_for(ts, 2, 20)
        scores = np.round(rng.uniform(0.0, 0.9, 300), 2)
        for a, _ in windows[name]:
            scores[ts.index(a) + int(rng.integers(0, 20))] = round(float(rng.uniform(0.6, 1.0)), 2)
        series[name] = (ts, scores)
    candidates = sorted({float(s) for _, sc in series.values() for s in sc} | {1.1})
    for profile in PROFILES.values():
        threshold, raw = optimise_threshold(series, windows, profile)
        brute = {t: sum(score_file(ts, sc >= t, windows[k], profile).raw for k, (ts, sc) in series.items())
                 for t in candidates}
        assert raw == pytest.approx(max(brute.values())) and brute[threshold] == pytest.approx(raw)
        result = optimise_and_score(series, windows, profile)
        assert result.threshold == threshold and result.raw == pytest.approx(raw)


def test_null_detector_baseline_is_one_missed_window_each():
    ts = timestamps(400)
    series = {"a.csv": (ts, np.zeros(400))}
    windows = {"a.csv": windows_for(ts, 3, 10)}
    assert null_score(series, windows, PROFILES["reward_low_FN_rate"]) == -6.0


def test_windowed_gaussian_matches_hand_computed_tail_probabilities():
    q1, q3, q5 = 0.15865525393145707, 0.0013498980316301035, 2.866515718791939e-07  # Q(1), Q(3), Q(5)
    assert GAUSSIAN_WINDOW_SIZE == 6400 and GAUSSIAN_STEP_SIZE == 100
    s = windowed_gaussian_scores([0, 2, 4, 6, 8, 5], window_size=2, step_size=2)
    # row 0: nothing seen -> 0.0; row 1: window [0], std 0 -> 1e-6 -> far tail; then window [0, 2]
    # (mean 1, std 1) stays until a full step [4, 6] is buffered; then window [4, 6] (mean 5, std 1).
    assert s[0] == 0.0 and s[1] == 1.0
    assert s[2] == pytest.approx(1 - q3) and s[3] == pytest.approx(1 - q5)
    assert s[4] == pytest.approx(1 - q3) and s[5] == pytest.approx(0.5)
    below = windowed_gaussian_scores([0, 2, 0], window_size=10, step_size=1)
    assert below[2] == pytest.approx(1 - q1)  # mirrored: 1 sd below the mean of [0, 2]
    assert windowed_gaussian_scores([7, 7, 7])[1:].tolist() == [0.5, 0.5]


def test_loaders_read_nab_formats(tmp_path):
    (tmp_path / "x.csv").write_text("timestamp,value\n2015-02-26 21:42:53,104\n2015-02-26 21:47:53,100\n")
    (tmp_path / "w.json").write_text(
        '{"realTweets/x.csv": [["2015-02-26 21:47:53.000000", "2015-02-26 21:47:53.000000"]]}')
    ts, values = load_series(tmp_path / "x.csv")
    assert ts == [datetime(2015, 2, 26, 21, 42, 53), datetime(2015, 2, 26, 21, 47, 53)]
    assert values.tolist() == [104.0, 100.0]
    assert load_windows(tmp_path / "w.json") == {"realTweets/x.csv": [(ts[1], ts[1])]}
    with pytest.raises(ValueError, match="does not match"):
        score_file(ts, [False, False], [(ts[0], datetime(2015, 2, 26, 21, 45))], PROFILES["standard"])


# --- the shared realTweets series ----------------------------------------------------------------

def shared_storms() -> Path:
    env = os.environ.get("EARSHOT_SHARED_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return root / "storms"


def test_windowed_gaussian_on_the_shared_twitter_series():
    data = shared_storms()
    if not (data / "windows.json").exists():
        pytest.skip(f"shared NAB realTweets data not found at {data} (set EARSHOT_SHARED_DATA to a shared/data dir)")
    values, windows = load_corpus(data)
    assert len(values) == 5 and sum(map(len, windows.values())) == 16
    series = {k: (ts, windowed_gaussian_scores(v)) for k, (ts, v) in values.items()}
    assert all(s[0] == 0.0 and 0.5 <= s[1:].min() and s.max() <= 1.0 for _, s in series.values())
    expected = {"standard": 66.99, "reward_low_FP_rate": 49.41, "reward_low_FN_rate": 75.91}
    for name, profile in PROFILES.items():
        result = optimise_and_score(series, windows, profile)
        assert result.null == -16 * profile["fnWeight"] and result.perfect == 16.0
        assert result.normalised == pytest.approx(expected[name], abs=0.005)
