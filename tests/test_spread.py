"""Spread detection: negative posts taking off, against the brand's own normal."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import DetectionConfig
from monitor.models import Engagement, EngagementSnapshot, Mention, Sentiment, SentimentLabel, Severity
from monitor.spread import SpreadDetector, history_needed, readings

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
NEVER = 1e18  # a threshold nothing reaches: isolates one of the two measures
VELOCITY_ONLY = DetectionConfig(min_velocity_per_min=2, baseline_multiplier=5, warning_factor=3, critical_factor=10,
                                window_minutes=30, min_predicted_reach=NEVER)
REACH_ONLY = DetectionConfig(min_velocity_per_min=NEVER, min_predicted_reach=200, warning_factor=3,
                             critical_factor=10, min_baseline_posts=20, reach_quantile=0.9)


def mention(native_id: str, label: SentimentLabel = SentimentLabel.negative, rating: int | None = None,
            followers: int = 5000, created: datetime = T0, source: str = "x") -> Mention:
    return Mention(id=f"{source}:{native_id}", source=source, native_id=native_id, url="https://x.com/a/1",
                   author_handle="ana", author_followers=followers, text="text", created_at=created, brand="Acme",
                   query="acme", rating=rating,
                   sentiment=Sentiment(label=label, score=-0.9 if label == "negative" else 0.5, model="m"))


def series(mention_id: str, likes: list[int], every: int = 10, start: datetime = T0,
           reposts: list[int] | None = None) -> list[EngagementSnapshot]:
    reposts = reposts or [0] * len(likes)
    return [EngagementSnapshot(mention_id=mention_id, observed_at=start + timedelta(minutes=i * every),
                               engagement=Engagement(likes=n, reposts=r)) for i, (n, r) in enumerate(zip(likes, reposts))]


def quiet(n: int, start: datetime = T0) -> tuple[dict[str, Mention], list[EngagementSnapshot]]:
    """n ordinary posts gaining a like every ten minutes: the brand's normal."""
    mentions = {f"x:q{i}": mention(f"q{i}", SentimentLabel.neutral, created=start) for i in range(n)}
    snaps = [s for mid in mentions for s in series(mid, list(range(0, 13)), start=start)]
    return mentions, snaps


def levels(alerts) -> list[tuple[str, Severity]]:
    return [(a.mention_id, a.severity) for a in alerts]


def test_velocity_is_engagement_gained_per_minute_over_the_window():
    r = readings(series("x:1", [0, 10, 40, 100]), timedelta(minutes=30))
    assert [round(x.velocity_per_min, 2) for x in r] == [1.0, 2.0, 3.33]


def test_a_negative_post_taking_off_escalates_once_per_level():
    mentions, snaps = quiet(10)
    mentions["x:v"] = mention("v")
    snaps += series("x:v", [0, 30, 100, 300, 900, 2000, 2100, 2150])
    alerts = SpreadDetector(VELOCITY_ONLY).detect(mentions, snaps, since=None, already={})
    assert levels(alerts) == [("x:v", Severity.info), ("x:v", Severity.warning), ("x:v", Severity.critical)]
    assert alerts[0].created_at == T0 + timedelta(minutes=10)  # early: the first reading that crossed
    assert "engagements/min" in alerts[0].reason and "5,000 followers" in alerts[0].reason


def test_a_post_that_re_accelerates_escalates_again_but_never_repeats_a_level():
    mentions, snaps = quiet(3)
    mentions["x:v"] = mention("v")
    # 3/min (info), quiet for an hour, back at info level (silent), then 6.3/min (warning).
    snaps += series("x:v", [0, 30, 60, 60, 60, 60, 60, 60, 90, 120, 200, 280])
    alerts = SpreadDetector(VELOCITY_ONLY).detect(mentions, snaps, since=None, already={})
    assert levels(alerts) == [("x:v", Severity.info), ("x:v", Severity.warning)]
    assert alerts[0].created_at == T0 + timedelta(minutes=10)
    assert alerts[1].created_at == T0 + timedelta(minutes=110)


def test_the_forecast_flags_a_post_before_its_velocity_does():
    """A small account's complaint being reshared fast is heading somewhere, even at 4/min."""
    mentions, snaps = quiet(3)
    mentions["x:v"] = mention("v", followers=300)
    snaps += series("x:v", [0, 20, 40], every=5, reposts=[0, 8, 16])  # 36 then 72 weighted engagements
    both = DetectionConfig(min_velocity_per_min=10, min_predicted_reach=200)
    alerts = SpreadDetector(both).detect(mentions, snaps, None, {})
    assert levels(alerts)[0] == ("x:v", Severity.info)
    assert alerts[0].velocity_per_min < 10  # velocity alone would not have fired
    predicted = int(re.search(r"predicted to reach about ([\d,]+) engagements", alerts[0].reason)[1].replace(",", ""))
    assert predicted >= 200


def test_positive_and_slow_posts_never_alert():
    mentions, snaps = quiet(10)
    mentions["x:p"] = mention("p", SentimentLabel.positive)
    snaps += series("x:p", [0, 300, 900, 2000])
    mentions["x:s"] = mention("s")
    snaps += series("x:s", [0, 3, 6, 9, 12])
    assert SpreadDetector(DetectionConfig()).detect(mentions, snaps, since=None, already={}) == []
    assert SpreadDetector(VELOCITY_ONLY).detect(mentions, snaps, since=None, already={}) == []


def test_a_one_star_review_counts_as_negative_whatever_its_text():
    mentions, snaps = quiet(3)
    mentions["x:r"] = mention("r", SentimentLabel.neutral, rating=1)
    snaps += series("x:r", [0, 70])  # 7/min
    assert [a.severity for a in SpreadDetector(VELOCITY_ONLY).detect(mentions, snaps, None, {})] == [Severity.warning]


def test_already_alerted_levels_and_old_readings_are_not_repeated():
    mentions, snaps = quiet(3)
    mentions["x:v"] = mention("v")
    snaps += series("x:v", [0, 30, 100, 900])
    detector = SpreadDetector(VELOCITY_ONLY)
    assert detector.detect(mentions, snaps, None, {"x:v": Severity.critical}) == []
    later = detector.detect(mentions, snaps, since=T0 + timedelta(minutes=20), already={"x:v": Severity.warning})
    assert [a.severity for a in later] == [Severity.critical]


def test_a_busy_brand_needs_a_bigger_jump():
    earlier = T0 - timedelta(hours=2)  # the baseline is the hours before the reading's hour
    mentions = {f"x:b{i}": mention(f"b{i}", SentimentLabel.neutral, created=earlier) for i in range(10)}
    snaps = [s for mid in mentions for s in series(mid, [i * 40 for i in range(13)], start=earlier)]  # 4/min
    mentions["x:v"] = mention("v")
    snaps += series("x:v", [0, 100, 200, 300])  # 10/min: only 2.5x this brand's normal
    assert SpreadDetector(VELOCITY_ONLY).detect(mentions, snaps, None, {}) == []
    quiet_mentions, quiet_snaps = quiet(10, start=earlier)
    quiet_mentions["x:v"] = mentions["x:v"]
    quiet_snaps += [s for s in snaps if s.mention_id == "x:v"]
    assert levels(SpreadDetector(VELOCITY_ONLY).detect(quiet_mentions, quiet_snaps, None, {})) == [
        ("x:v", Severity.warning)]


def test_a_brand_whose_posts_usually_travel_far_needs_a_bigger_forecast():
    """With enough posts, the reach threshold is the brand's own top decile, not the floor."""
    earlier = T0 - timedelta(hours=3)
    busy = {f"x:b{i}": mention(f"b{i}", SentimentLabel.neutral, followers=20_000, created=earlier) for i in range(30)}
    busy_snaps = [s for mid in busy for s in series(mid, [0, 300, 600, 800, 900, 950, 980], start=earlier,
                                                    reposts=[0, 30, 60, 80, 90, 95, 98])]
    complaint = mention("v", followers=2000)
    complaint_snaps = series("x:v", [0, 50, 120], reposts=[0, 5, 12])
    on_busy = SpreadDetector(REACH_ONLY).detect({**busy, "x:v": complaint}, busy_snaps + complaint_snaps, None, {})
    assert on_busy == []
    small = {f"x:s{i}": mention(f"s{i}", SentimentLabel.neutral, followers=200, created=earlier) for i in range(30)}
    small_snaps = [s for mid in small for s in series(mid, [0, 1, 2, 3], start=earlier)]
    on_small = SpreadDetector(REACH_ONLY).detect({**small, "x:v": complaint}, small_snaps + complaint_snaps, None, {})
    assert [a.mention_id for a in on_small][:1] == ["x:v"]
    assert "the minimum of 200" in on_small[0].reason  # a quiet brand's own level is below the floor


def test_too_few_posts_means_only_the_floor_applies():
    mentions, snaps = quiet(5, start=T0 - timedelta(hours=2))
    mentions["x:v"] = mention("v", followers=2000)
    snaps += series("x:v", [0, 50, 120], reposts=[0, 5, 12])
    cfg = REACH_ONLY.model_copy(update={"min_baseline_posts": 50, "min_predicted_reach": 1e6})
    assert SpreadDetector(cfg).detect(mentions, snaps, None, {}) == []


def test_the_explanation_gives_the_numbers_behind_the_alert():
    mentions, snaps = quiet(3)
    mentions["x:v"] = mention("v", followers=3200)
    snaps += series("x:v", [0, 100, 400], reposts=[0, 10, 40])
    alert = SpreadDetector(DetectionConfig()).detect(mentions, snaps, None, {})[0]
    reason = alert.reason
    assert reason.startswith(f"{alert.severity.value.capitalize()}: negative x post by @ana (3,200 followers)")
    assert "12.0 engagements/min over the last 10 min" in reason  # (100 likes + 2 x 10 reposts) / 10 min
    assert "alert threshold of 10.0/min" in reason and "brand baseline" in reason
    assert re.search(r"predicted to reach about [\d,]+ engagements from 120 now \([\d.]+x the minimum of 200\)", reason)
    assert reason.endswith("; sentiment -0.90.") and reason.count(". ") == 0  # one sentence


def test_posts_older_than_the_forecast_horizon_are_judged_on_velocity_only():
    created = T0 - timedelta(hours=60)
    m = mention("old", created=created)
    snaps = series("x:old", [0, 0], start=created) + series("x:old", [0, 400, 800], start=T0)
    evaluations = SpreadDetector(DetectionConfig()).evaluations({"x:old": m}, snaps)["Acme"]
    assert evaluations[-1].predicted_final is None


def test_incremental_runs_raise_the_same_alerts_as_one_run():
    cfg = DetectionConfig()
    mentions, snaps = quiet(40, start=T0 - timedelta(hours=3))
    mentions["x:v"] = mention("v", followers=900)
    snaps += series("x:v", [0, 20, 80, 250, 700, 1500, 3000, 3300, 3400], every=5, reposts=[0, 3, 10, 30, 80, 170,
                                                                                               300, 320, 330])
    detector = SpreadDetector(cfg)
    once = detector.detect(mentions, snaps, None, {})
    assert len(once) >= 2
    stepwise, since, already = [], None, {}
    for cut in sorted({s.observed_at for s in snaps}):
        visible = [s for s in snaps if s.observed_at <= cut and (since is None or s.observed_at >= since - history_needed(cfg))]
        new = detector.detect(mentions, visible, since, already)
        for a in new:
            already[a.mention_id] = a.severity
        stepwise += new
        since = cut
    assert [(a.id, a.created_at, a.reason) for a in stepwise] == [(a.id, a.created_at, a.reason) for a in once]


def test_history_needed_covers_the_baseline_and_the_oldest_forecast_post():
    cfg = DetectionConfig(baseline_hours=24, max_post_age_hours=48, window_minutes=30)
    assert history_needed(cfg) == timedelta(hours=73, minutes=30)


@pytest.mark.parametrize("bad, message", [
    ({"critical_factor": 2.0, "warning_factor": 3.0}, "critical_factor must be greater than warning_factor"),
    ({"reach_quantile": 1.5}, "less than 1"),
    ({"min_predicted_reach": 0}, "greater than 0"),
])
def test_config_validation_names_the_problem(bad, message):
    with pytest.raises(ValueError, match=message):
        DetectionConfig(**bad)
