"""Spread detection: negative posts taking off, against the brand's own normal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.config import DetectionConfig
from monitor.models import Engagement, EngagementSnapshot, Mention, Sentiment, SentimentLabel, Severity
from monitor.spread import SpreadDetector, readings

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
CFG = DetectionConfig(min_velocity_per_min=2, baseline_multiplier=5, warning_factor=3, critical_factor=10,
                      window_minutes=30)


def mention(native_id: str, label: SentimentLabel = SentimentLabel.negative, rating: int | None = None) -> Mention:
    return Mention(id=f"x:{native_id}", source="x", native_id=native_id, url="https://x.com/a/1",
                   author_handle="ana", author_followers=5000, text="text", created_at=T0, brand="Acme", query="acme",
                   rating=rating, sentiment=Sentiment(label=label, score=-0.9 if label == "negative" else 0.5, model="m"))


def series(mention_id: str, likes: list[int], every: int = 10) -> list[EngagementSnapshot]:
    return [EngagementSnapshot(mention_id=mention_id, observed_at=T0 + timedelta(minutes=i * every),
                               engagement=Engagement(likes=n)) for i, n in enumerate(likes)]


def quiet(n: int) -> tuple[dict[str, Mention], list[EngagementSnapshot]]:
    """n ordinary posts gaining a like every ten minutes: the brand's normal."""
    mentions = {f"x:q{i}": mention(f"q{i}", SentimentLabel.neutral) for i in range(n)}
    snaps = [s for mid in mentions for s in series(mid, list(range(0, 13)))]
    return mentions, snaps


def test_velocity_is_engagement_gained_per_minute_over_the_window():
    r = readings(series("x:1", [0, 10, 40, 100]), timedelta(minutes=30))
    assert [round(x.velocity_per_min, 2) for x in r] == [1.0, 2.0, 3.33]


def test_a_negative_post_taking_off_escalates_once_per_level():
    mentions, snaps = quiet(10)
    mentions["x:v"] = mention("v")
    snaps += series("x:v", [0, 30, 100, 300, 900, 2000, 2100, 2150])
    alerts = SpreadDetector(CFG).detect(mentions, snaps, since=None, already={})
    assert [(a.mention_id, a.severity) for a in alerts] == [
        ("x:v", Severity.info), ("x:v", Severity.warning), ("x:v", Severity.critical)]
    assert alerts[0].created_at == T0 + timedelta(minutes=10)  # early: the first reading that crossed
    assert "engagements/min" in alerts[0].reason and "5,000 followers" in alerts[0].reason


def test_positive_and_slow_posts_never_alert():
    mentions, snaps = quiet(10)
    mentions["x:p"] = mention("p", SentimentLabel.positive)
    snaps += series("x:p", [0, 300, 900, 2000])
    mentions["x:s"] = mention("s")
    snaps += series("x:s", [0, 3, 6, 9, 12])
    assert SpreadDetector(CFG).detect(mentions, snaps, since=None, already={}) == []


def test_a_one_star_review_counts_as_negative_whatever_its_text():
    mentions, snaps = quiet(3)
    mentions["x:r"] = mention("r", SentimentLabel.neutral, rating=1)
    snaps += series("x:r", [0, 70])  # 7/min
    assert [a.severity for a in SpreadDetector(CFG).detect(mentions, snaps, None, {})] == [Severity.warning]


def test_already_alerted_levels_and_old_readings_are_not_repeated():
    mentions, snaps = quiet(3)
    mentions["x:v"] = mention("v")
    snaps += series("x:v", [0, 30, 100, 900])
    detector = SpreadDetector(CFG)
    assert detector.detect(mentions, snaps, None, {"x:v": Severity.critical}) == []
    later = detector.detect(mentions, snaps, since=T0 + timedelta(minutes=20), already={"x:v": Severity.warning})
    assert [a.severity for a in later] == [Severity.critical]


def test_a_busy_brand_needs_a_bigger_jump():
    mentions = {f"x:b{i}": mention(f"b{i}", SentimentLabel.neutral) for i in range(10)}
    snaps = [s for mid in mentions for s in series(mid, [i * 40 for i in range(8)])]  # 4/min is normal here
    mentions["x:v"] = mention("v")
    snaps += series("x:v", [0, 100, 200, 300])  # 10/min: only 2.5x this brand's normal
    assert SpreadDetector(CFG).detect(mentions, snaps, None, {}) == []
