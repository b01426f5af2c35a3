"""Storm detection: a brand's hourly volume or negative share spiking, against its seasonal normal."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from monitor import pipeline
from monitor.config import BrandConfig, StormConfig
from monitor.models import AlertKind, Engagement, EngagementSnapshot, Mention, Sentiment, SentimentLabel, Severity
from monitor.storm import HourlyCounts, storm_alerts, window_start

MONDAY = datetime(2026, 1, 5, tzinfo=UTC)
CFG = StormConfig()
HOUR = timedelta(hours=1)


def seasonal(weeks: int = 5, level: float = 30.0, share: float = 0.2, seed: int = 0) -> HourlyCounts:
    """A brand's ordinary weeks: busy afternoons, quiet nights, half as much at weekends."""
    rng = np.random.default_rng(seed)
    hours = np.arange(weeks * 168)
    daily = 1 + 0.7 * np.cos(2 * np.pi * (hours % 24 - 14) / 24)
    weekly = np.where((hours // 24) % 7 >= 5, 0.5, 1.0)
    total = rng.poisson(level * daily * weekly)
    return HourlyCounts(MONDAY, total.astype(float), rng.binomial(total, share).astype(float))


def surge(counts: HourlyCounts, at: datetime, hours: int, extra: float, negative_share: float | None = None,
          share_to: float | None = None) -> HourlyCounts:
    """Add `extra` mentions an hour for `hours` hours from `at` (some negative), or turn the share sour."""
    total, negative = counts.total.copy(), counts.negative.copy()
    i = counts.index(at)
    for k in range(i, i + hours):
        if share_to is not None:
            negative[k] = round(total[k] * share_to)
        total[k] += extra
        negative[k] += round(extra * (negative_share or 0.2))
    return HourlyCounts(counts.start, total, negative)


def run(counts: HourlyCounts, cfg: StormConfig = CFG, since: datetime | None = None):
    return storm_alerts("Acme", counts, cfg, since, counts.hour(len(counts.total)))


TUESDAY_3AM = MONDAY + timedelta(weeks=4, days=1, hours=3)


def test_ordinary_daily_and_weekly_peaks_are_not_storms():
    counts = seasonal(weeks=6)
    assert counts.total.max() > 3 * np.percentile(counts.total, 10)  # the peaks are real
    assert run(counts) == []


def test_a_surge_raises_one_alert_at_its_first_hour():
    counts = surge(seasonal(), TUESDAY_3AM, hours=6, extra=60)
    alerts = run(counts)
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.kind == AlertKind.storm and alert.mention_id is None and alert.brand == "Acme"
    assert alert.id == "storm:Acme:volume:2026-02-03T03"
    assert alert.created_at == TUESDAY_3AM + HOUR  # known once the hour is complete
    assert alert.severity == Severity.info  # more volume at the usual tone


def test_a_surge_of_complaints_is_critical():
    counts = surge(seasonal(), TUESDAY_3AM, hours=4, extra=60, negative_share=0.9)
    assert [(a.id, a.severity) for a in run(counts)] == [
        ("storm:Acme:volume+negative_share:2026-02-03T03", Severity.critical)]


def test_a_sour_turn_without_more_volume_is_a_warning():
    afternoon = TUESDAY_3AM + timedelta(hours=11)
    counts = surge(seasonal(), afternoon, hours=3, extra=0, share_to=0.6)
    assert [(a.id, a.severity) for a in run(counts)] == [("storm:Acme:negative_share:2026-02-03T14", Severity.warning)]


def test_unusual_hours_within_the_cool_down_are_one_storm():
    close = surge(surge(seasonal(), TUESDAY_3AM, 3, 60), TUESDAY_3AM + timedelta(hours=8), 3, 60)
    assert len(run(close)) == 1
    apart = surge(surge(seasonal(), TUESDAY_3AM, 3, 60), TUESDAY_3AM + timedelta(hours=24), 3, 60)
    assert [a.created_at - HOUR for a in run(apart)] == [TUESDAY_3AM, TUESDAY_3AM + timedelta(hours=24)]


def test_a_storm_last_week_does_not_hide_this_weeks():
    counts = surge(surge(seasonal(weeks=6), TUESDAY_3AM, 8, 80), TUESDAY_3AM + timedelta(weeks=1), 3, 60)
    assert [a.created_at - HOUR for a in run(counts)] == [TUESDAY_3AM, TUESDAY_3AM + timedelta(weeks=1)]


def test_no_alert_without_a_week_of_history():
    young = seasonal(weeks=2)
    day_six = MONDAY + timedelta(days=5, hours=3)
    assert run(surge(young, day_six, 6, 60)) == []
    assert len(run(surge(young, day_six + timedelta(days=3), 6, 60))) == 1  # the same surge once there is a week


def test_a_quiet_brand_needs_a_minimum_number_of_mentions():
    counts = surge(seasonal(level=1.0), TUESDAY_3AM, 3, 6)  # 6 instead of ~0.3: unusual, but only a handful
    assert run(counts) == []


def test_the_explanation_gives_the_numbers():
    counts = surge(seasonal(), TUESDAY_3AM, hours=6, extra=60, negative_share=0.9)
    reason = run(counts)[0].reason
    observed = int(counts.total[counts.index(TUESDAY_3AM)])
    assert reason.startswith(f"Critical: Acme had {observed:,} mentions in the hour from 2026-02-03 03:00 UTC, ")
    assert "expected for a Tue at that hour (z +" in reason
    assert re.search(r"and \d+% of them were negative against (19|20|21|22)% usually \(z \+[\d.]+\)", reason)
    assert reason.count(". ") == 0 and reason.endswith(").")


def test_hour_by_hour_runs_raise_the_same_alerts_as_one_run():
    counts = surge(surge(seasonal(), TUESDAY_3AM, 4, 60, negative_share=0.9), TUESDAY_3AM + timedelta(days=2), 2, 70)
    once = run(counts)
    assert len(once) == 2
    stepwise, since = [], None
    for now in [counts.hour(i) + timedelta(minutes=20) for i in range(24 * 27, len(counts.total), 5)]:
        start = window_start(now, since, CFG) if since else counts.start
        lo = counts.index(start)
        visible = HourlyCounts(start, counts.total[lo:counts.index(now) + 1], counts.negative[lo:counts.index(now) + 1])
        stepwise += storm_alerts("Acme", visible, CFG, since, now)
        since = now
    assert [(a.id, a.created_at, a.reason) for a in stepwise] == [(a.id, a.created_at, a.reason) for a in once]


@pytest.mark.parametrize("bad, message", [
    ({"min_history_days": 30, "history_days": 28}, "min_history_days must not exceed history_days"),
    ({"min_ratio": 1.0}, "greater than 1"),
])
def test_config_validation_names_the_problem(bad, message):
    with pytest.raises(ValueError, match=message):
        StormConfig(**bad)


def test_the_pipeline_raises_a_storm_from_the_store_once(config, store):
    """Ten days of mentions in the store, a complaint surge on the last morning: one storm alert, ever,
    for the brand it happened to (a second, quiet brand gets none)."""
    brand = config.brands[0].name
    config.brands.append(BrandConfig(name="Otra Marca", queries=["otra marca"]))
    counts = surge(seasonal(weeks=2, level=6.0, seed=4), MONDAY + timedelta(days=9, hours=8), 2, 40, negative_share=0.9)
    end = counts.index(MONDAY + timedelta(days=10))
    mentions, snapshots = [], []
    for i in range(end):
        for k in range(int(counts.total[i])):
            label = SentimentLabel.negative if k < counts.negative[i] else SentimentLabel.neutral
            at = counts.hour(i) + timedelta(minutes=k % 60, seconds=k)
            m = Mention(id=f"x:{i}-{k}", source="x", native_id=f"{i}-{k}", url="https://x.com/a/1", author_handle="a",
                        text="brisa mobile", created_at=at, brand=brand, query="brisa mobile",
                        sentiment=Sentiment(label=label, score=-0.5 if label == "negative" else 0.0, model="t"))
            mentions.append(m)
            snapshots.append(EngagementSnapshot(mention_id=m.id, observed_at=at, engagement=Engagement()))
    store.ingest(mentions, snapshots)
    alerts = pipeline.detect(config, store)
    assert [(a.kind, a.id, a.severity) for a in alerts] == [
        (AlertKind.storm, f"storm:{brand}:volume+negative_share:2026-01-14T08", Severity.critical)]
    late = MONDAY + timedelta(days=10, hours=1)
    store.ingest([], [EngagementSnapshot(mention_id=mentions[-1].id, observed_at=late, engagement=Engagement(likes=1))])
    assert pipeline.detect(config, store) == []
    store.set_cursor(pipeline.DETECT_WATERMARK, "2000-01-01T00:00:00+00:00")
    assert pipeline.detect(config, store) == []  # re-running from scratch finds the same storm, already stored
