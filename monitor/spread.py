"""Spread detection: which negative posts are taking off, measured against the brand's normal.

Velocity is weighted engagement gained per minute over a sliding window, read at every
snapshot. A brand's baseline is the median velocity of all its posts over the last
hours, so a brand that always gets attention needs a bigger jump. Evaluating every
snapshot (not only the latest) makes the result the same whether snapshots arrive one
at a time or a day at once.
"""

from __future__ import annotations

import statistics
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.config import DetectionConfig
from monitor.models import Alert, EngagementSnapshot, Mention, Severity


@dataclass(frozen=True)
class Reading:
    """Velocity of one mention at one snapshot."""

    mention_id: str
    at: datetime
    velocity_per_min: float
    window_minutes: float


def readings(snapshots: Sequence[EngagementSnapshot], window: timedelta) -> list[Reading]:
    """Velocity at each snapshot of ONE mention (snapshots oldest first).

    The window's start is the oldest snapshot inside it, or the previous snapshot when
    the gap between two observations is longer than the window.
    """
    out: list[Reading] = []
    times = [s.observed_at for s in snapshots]
    for i in range(1, len(snapshots)):
        start = min(bisect_left(times, times[i] - window), i - 1)
        minutes = (times[i] - times[start]).total_seconds() / 60
        if minutes <= 0:
            continue
        gained = snapshots[i].engagement.total - snapshots[start].engagement.total
        out.append(Reading(snapshots[i].mention_id, times[i], max(gained, 0) / minutes, minutes))
    return out


def _severity(velocity: float, threshold: float, cfg: DetectionConfig) -> Severity | None:
    if velocity >= threshold * cfg.critical_factor:
        return Severity.critical
    if velocity >= threshold * cfg.warning_factor:
        return Severity.warning
    if velocity >= threshold:
        return Severity.info
    return None


def explain(mention: Mention, reading: Reading, baseline: float, threshold: float, severity: Severity) -> str:
    """One sentence a care agent can act on: how fast, compared with what, who, how negative."""
    who = f"@{mention.author_handle.lstrip('@')} ({mention.author_followers:,} followers)"
    tone = ""
    if mention.sentiment is not None:
        tone = f"; sentiment {mention.sentiment.score:+.2f}"
    if mention.rating is not None:
        tone += f"; {mention.rating}-star review"
    return (
        f"{severity.value.capitalize()}: negative {mention.source} post by {who} is gaining "
        f"{reading.velocity_per_min:,.1f} engagements/min over the last {reading.window_minutes:.0f} min, "
        f"{reading.velocity_per_min / threshold:,.1f}x the alert threshold of {threshold:,.1f}/min "
        f"(brand baseline {baseline:,.1f}/min){tone}."
    )


class SpreadDetector:
    def __init__(self, config: DetectionConfig) -> None:
        self.config = config

    def detect(
        self,
        mentions: Mapping[str, Mention],
        snapshots: Iterable[EngagementSnapshot],
        since: datetime | None,
        already: Mapping[str, Severity],
    ) -> list[Alert]:
        """Alerts for readings newer than `since`, oldest first.

        `already` is the highest severity each mention has been alerted at; a mention
        is only alerted again when it climbs to a higher level (escalation), never at
        the same or a lower one.
        """
        cfg = self.config
        window = timedelta(minutes=cfg.window_minutes)
        lookback = timedelta(hours=cfg.baseline_hours)

        series: dict[str, list[EngagementSnapshot]] = defaultdict(list)
        for snap in snapshots:
            if snap.mention_id in mentions:
                series[snap.mention_id].append(snap)

        by_brand: dict[str, list[Reading]] = defaultdict(list)
        for mention_id, snaps in series.items():
            snaps.sort(key=lambda s: s.observed_at)
            by_brand[mentions[mention_id].brand].extend(readings(snaps, window))

        highest = dict(already)
        alerts: list[Alert] = []
        for brand_readings in by_brand.values():
            brand_readings.sort(key=lambda r: (r.at, r.mention_id))
            times = [r.at for r in brand_readings]
            for i, reading in enumerate(brand_readings):
                if since is not None and reading.at <= since:
                    continue
                mention = mentions[reading.mention_id]
                if not mention.is_negative:
                    continue
                recent = brand_readings[bisect_left(times, reading.at - lookback) : i + 1]
                baseline = statistics.median(r.velocity_per_min for r in recent)
                threshold = max(cfg.min_velocity_per_min, cfg.baseline_multiplier * baseline)
                severity = _severity(reading.velocity_per_min, threshold, cfg)
                if severity is None:
                    continue
                previous = highest.get(mention.id)
                if previous is not None and previous.rank >= severity.rank:
                    continue
                highest[mention.id] = severity
                alerts.append(
                    Alert(
                        id=Alert.make_id(mention.id, severity),
                        mention_id=mention.id,
                        brand=mention.brand,
                        severity=severity,
                        created_at=reading.at,
                        reason=explain(mention, reading, baseline, threshold, severity),
                        velocity_per_min=round(reading.velocity_per_min, 3),
                        baseline_per_min=round(baseline, 3),
                    )
                )
        alerts.sort(key=lambda a: (a.created_at, a.id))
        return alerts
