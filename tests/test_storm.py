"""Storm detection: a brand's volume, complaints or negative share spiking against its seasonal normal."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from monitor import pipeline
from monitor.config import BrandConfig, StormConfig
from monitor.models import AlertKind, Engagement, EngagementSnapshot, Mention, Sentiment, SentimentLabel, Severity
from monitor.storm import BucketCounts, storm_alerts, window_start

MONDAY = datetime(2026, 1, 5, tzinfo=UTC)
CFG = StormConfig()
STEP = timedelta(minutes=5)
PER_HOUR = 12


def seasonal(days: int = 21, level: float = 30.0, share: float = 0.2, seed: int = 0,
             busy_weekday: int | None = None) -> BucketCounts:
    """A brand's ordinary days in 5-minute buckets: busy afternoons, quiet nights, half as much at weekends
    (and, if `busy_weekday` is given, twice as much on that weekday). `level` is mentions per hour."""
    rng = np.random.default_rng(seed)
    buckets = np.arange(days * 24 * PER_HOUR)
    hour = buckets / PER_HOUR
    day = (hour // 24).astype(int) % 7
    daily = 1 + 0.7 * np.cos(2 * np.pi * (hour % 24 - 14) / 24)
    weekly = np.where(day >= 5, 0.5, 1.0)
    if busy_weekday is not None:
        weekly = np.where(day == busy_weekday, 2.0, weekly)
    total = rng.poisson(level / PER_HOUR * daily * weekly)
    return BucketCounts(MONDAY, 5, total.astype(float), rng.binomial(total, share).astype(float))


def surge(counts: BucketCounts, at: datetime, minutes: int, per_hour: float, negative_share: float = 0.2,
          share_to: float | None = None) -> BucketCounts:
    """Add `per_hour` mentions an hour for `minutes` from `at` (a share of them negative), or turn the share sour."""
    total, negative = counts.total.copy(), counts.negative.copy()
    i = counts.index(at)
    rng = np.random.default_rng(99)
    for k in range(i, i + minutes // 5):
        extra = rng.poisson(per_hour / PER_HOUR)
        if share_to is not None:
            negative[k] = round(total[k] * share_to)
        total[k] += extra
        negative[k] += round(extra * negative_share)
    return BucketCounts(counts.start, 5, total, negative)


def run(counts: BucketCounts, cfg: StormConfig = CFG, since: datetime | None = None):
    return storm_alerts("Acme", counts, cfg, since, counts.at(len(counts.total)))


TUESDAY_3AM = MONDAY + timedelta(weeks=2, days=1, hours=3)


def test_ordinary_daily_and_weekly_peaks_are_not_storms():
    counts = seasonal(days=28)
    hourly = counts.total.reshape(-1, PER_HOUR).sum(axis=1)
    assert hourly.max() > 3 * np.percentile(hourly, 10)  # the peaks are real
    assert run(counts) == []


def test_a_sudden_burst_raises_one_alert_at_its_first_bucket():
    counts = surge(seasonal(), TUESDAY_3AM, minutes=30, per_hour=1200)  # ~100 in five minutes instead of ~1
    alerts = run(counts)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.kind == AlertKind.storm and alert.mention_id is None and alert.brand == "Acme"
    assert alert.id == "storm:Acme:2026-01-20T03:00:info"
    assert alert.created_at == TUESDAY_3AM + STEP  # known once its first bucket is complete
    assert alert.severity == Severity.info  # more volume at the usual tone


def test_a_swell_that_lasts_the_afternoon_is_found_at_a_longer_scale():
    afternoon = TUESDAY_3AM + timedelta(hours=10)
    counts = surge(seasonal(), afternoon, minutes=6 * 60, per_hour=40)  # +~90% for six hours, no burst
    alerts = run(counts)
    assert len(alerts) == 1 and afternoon < alerts[0].created_at <= afternoon + timedelta(hours=6)
    assert re.search(r"mentions in the (1|6) h to", alerts[0].reason)


def test_a_surge_of_complaints_is_critical():
    counts = surge(seasonal(), TUESDAY_3AM, minutes=60, per_hour=1200, negative_share=0.9)
    assert [(a.id, a.severity) for a in run(counts)] == [("storm:Acme:2026-01-20T03:00:critical", Severity.critical)]


def test_a_sour_turn_without_more_volume_is_a_warning():
    afternoon = TUESDAY_3AM + timedelta(hours=11)
    counts = surge(seasonal(), afternoon, minutes=180, per_hour=0, share_to=0.7)
    alerts = run(counts)
    assert [a.severity for a in alerts] == [Severity.warning]
    assert re.search(r"in the last hour \d+ negative, a share of \d+% against (19|20|21)% usually", alerts[0].reason)


def test_unusual_buckets_within_the_cool_down_are_one_storm():
    close = surge(surge(seasonal(), TUESDAY_3AM, 30, 1200), TUESDAY_3AM + timedelta(hours=8), 30, 1200)
    assert len(run(close)) == 1
    # A storm lasts while any scale still finds it unusual (the 6-hour window, for six hours after a burst).
    apart = surge(surge(seasonal(), TUESDAY_3AM, 30, 1200), TUESDAY_3AM + timedelta(hours=36), 30, 1200)
    assert [a.created_at - STEP for a in run(apart)] == [TUESDAY_3AM, TUESDAY_3AM + timedelta(hours=36)]


def test_a_storm_that_turns_into_complaints_is_escalated_once():
    counts = surge(surge(seasonal(), TUESDAY_3AM, 30, 1200, negative_share=0.0), TUESDAY_3AM + timedelta(hours=2), 60,
                   1200, negative_share=0.9)
    assert [a.severity for a in run(counts)] == [Severity.info, Severity.critical]
    assert len({a.id.rsplit(":", 1)[0] for a in run(counts)}) == 1  # the same storm


def test_a_storm_last_week_does_not_hide_this_weeks():
    counts = surge(surge(seasonal(days=28), TUESDAY_3AM, 8 * 60, 1200), TUESDAY_3AM + timedelta(weeks=1), 30, 1200)
    assert [a.created_at - STEP for a in run(counts)] == [TUESDAY_3AM, TUESDAY_3AM + timedelta(weeks=1)]


def test_it_works_from_two_days_of_history():
    young = seasonal(days=5)
    assert run(surge(young, MONDAY + timedelta(days=1, hours=15), 30, 1200)) == []  # a day and a half: too soon
    assert len(run(surge(young, MONDAY + timedelta(days=2, hours=15), 30, 1200))) == 1


def test_a_weekday_that_is_always_busy_is_expected_once_there_are_two_weeks():
    counts = seasonal(days=35, busy_weekday=2)  # Wednesdays twice as busy
    late = [a for a in run(counts) if a.created_at >= MONDAY + timedelta(weeks=3)]
    assert late == []


def test_a_quiet_brand_needs_a_minimum_number_of_mentions():
    counts = surge(seasonal(level=0.1), TUESDAY_3AM, 30, 6)  # 3 instead of ~0.05: unusual, but only a handful
    assert run(counts) == []


def test_the_explanation_gives_the_numbers():
    counts = surge(seasonal(), TUESDAY_3AM, minutes=60, per_hour=1200, negative_share=0.9)
    reason = run(counts)[0].reason
    assert re.match(r"Critical: Acme had [\d,]+ mentions in the (5 min|1 h|6 h) to 2026-01-20 03:00 UTC, "
                    r"[\d.,]+x the [\d.,]+ usual for a Tue at that time \(z \+[\d.]+\); in the last hour [\d,]+ "
                    r"negative, a share of \d+% against \d+% usually \(z \+[\d.]+\)\.$", reason), reason
    assert reason.count(". ") == 0 and reason.endswith(".")


def test_runs_every_few_hours_raise_the_same_alerts_as_one_run():
    counts = surge(surge(seasonal(), TUESDAY_3AM, 60, 1200, negative_share=0.9), TUESDAY_3AM + timedelta(days=2),
                   30, 1200)
    once = run(counts)
    assert len(once) == 2
    stepwise, since = [], None
    for now in [MONDAY + timedelta(days=9, minutes=7 + 190 * k) for k in range(100)]:
        if now > counts.at(len(counts.total)):
            break
        start = window_start(now, since, CFG) if since else counts.start
        lo, hi = max(counts.index(start), 0), counts.index(now)
        visible = BucketCounts(counts.at(lo), 5, counts.total[lo:hi], counts.negative[lo:hi])
        stepwise += storm_alerts("Acme", visible, CFG, since, now)
        since = now
    assert [(a.id, a.created_at, a.reason) for a in stepwise] == [(a.id, a.created_at, a.reason) for a in once]


@pytest.mark.parametrize("bad, message", [
    ({"min_history_days": 10, "history_days": 7}, "min_history_days must not exceed history_days"),
    ({"scales": [{"minutes": 7, "z": 5}]}, "not a whole number of 5-minute buckets"),
    ({"z_threshold": 4}, "z_threshold: retired"),
])
def test_config_validation_names_the_problem(bad, message):
    with pytest.raises(ValueError, match=message):
        StormConfig(**bad)


def test_the_pipeline_raises_a_storm_from_the_store_once(config, store):
    """Ten days of mentions in the store, a complaint surge on the last morning: one storm alert, ever,
    for the brand it happened to (a second, quiet brand gets none)."""
    brand = config.brands[0].name
    config.brands.append(BrandConfig(name="Otra Marca", queries=["otra marca"]))
    surge_at = MONDAY + timedelta(days=9, hours=8)
    counts = surge(seasonal(days=10, level=6.0, seed=4), surge_at, 60, 300, negative_share=0.9)
    mentions, snapshots = [], []
    for i in range(len(counts.total)):
        for k in range(int(counts.total[i])):
            label = SentimentLabel.negative if k < counts.negative[i] else SentimentLabel.neutral
            at = counts.at(i) + timedelta(seconds=7 * k)
            m = Mention(id=f"x:{i}-{k}", source="x", native_id=f"{i}-{k}", url="https://x.com/a/1", author_handle="a",
                        text="brisa mobile", created_at=at, brand=brand, query="brisa mobile",
                        sentiment=Sentiment(label=label, score=-0.5 if label == "negative" else 0.0, model="t"))
            mentions.append(m)
            snapshots.append(EngagementSnapshot(mention_id=m.id, observed_at=at, engagement=Engagement()))
    store.ingest(mentions, snapshots)
    alerts = pipeline.detect(config, store)
    assert [(a.kind, a.id, a.severity) for a in alerts] == [
        (AlertKind.storm, f"storm:{brand}:2026-01-14T08:00:critical", Severity.critical)]
    late = MONDAY + timedelta(days=10, hours=1)
    store.ingest([], [EngagementSnapshot(mention_id=mentions[-1].id, observed_at=late, engagement=Engagement(likes=1))])
    assert pipeline.detect(config, store) == []
    store.set_cursor(pipeline.DETECT_WATERMARK, "2000-01-01T00:00:00+00:00")
    assert pipeline.detect(config, store) == []  # re-running from scratch finds the same storm, already stored


@pytest.mark.slow
def test_on_nab_real_tweets_it_beats_the_windowed_gaussian_on_every_profile():
    """The benchmark of record (benchmarks/storms_nab.py) on the development half of NAB realTweets."""
    from benchmarks import nab, storms_nab

    data = nab.shared_storms_dir()
    if not (data / "windows.json").is_file():
        pytest.skip(f"NAB realTweets not found at {data} (set EARSHOT_SHARED_DATA to a shared/data dir)")
    series, windows = nab.load_corpus(data)
    r = storms_nab.evaluate(series, windows)
    assert set(r) >= {"standard", "low_fp", "low_fn", "windows_detected", "windows_total", "false_positives", "baselines"}
    gaussian = r["baselines"]["windowed_gaussian"]
    assert r["standard"] >= 70
    assert all(r[k] > gaussian[k] for k in ("standard", "low_fp", "low_fn"))
