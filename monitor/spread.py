"""Spread detection: which negative posts are taking off, measured against the brand's normal.

Every snapshot of a post is scored on two measures, each against its brand's baseline:

* velocity, weighted engagement gained per minute over a sliding window, against a
  multiple of the brand's median velocity — what is happening now;
* predicted final engagement (`monitor.forecast`, a Hawkes/SEISMIC estimate that weighs
  the author's followers and the platform), against the brand's usual top reach — where
  it is heading. This is what flags a post early, before its velocity peaks.

The higher ratio sets the severity; a post is alerted again only when it climbs to a
higher level (re-acceleration), never twice at the same one.

The baseline for a reading is computed from the brand's readings in the `baseline_hours`
before the start of the reading's hour, and each forecast uses only the post's own
snapshots up to it, so the alerts are the same whether snapshots arrive one at a time or
a day at once (given the pipeline loads `history_needed` of snapshots before its watermark).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from monitor.config import DetectionConfig
from monitor.forecast import HORIZON_MINUTES, forecast_counts, profile_for, propagating
from monitor.models import Alert, Engagement, EngagementSnapshot, Mention, Severity


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


@dataclass(frozen=True)
class Evaluation:
    """Everything known about one post at one snapshot."""

    reading: Reading
    engagement: float  # weighted engagement so far
    predicted_final: float | None  # None once the post is older than max_post_age_hours
    branching: float


@dataclass(frozen=True)
class Baseline:
    """A brand's normal, from its readings in the hours before one hour."""

    velocity_per_min: float  # median velocity of the brand's readings
    velocity_threshold: float
    reach_level: float | None  # the brand's reach_quantile of predicted reach; None: too few posts
    reach_threshold: float
    posts: int  # posts the reach level was computed from


def history_needed(cfg: DetectionConfig) -> timedelta:
    """Snapshots before the watermark a run must load to reproduce an all-at-once run exactly.

    Baselines reach back `baseline_hours` from the start of an hour; forecasts need a
    post's snapshots since it was created, for posts up to `max_post_age_hours` old.
    """
    return timedelta(hours=cfg.baseline_hours + cfg.max_post_age_hours + 1, minutes=cfg.window_minutes)


def evaluate(mention: Mention, snapshots: Sequence[EngagementSnapshot], cfg: DetectionConfig) -> list[Evaluation]:
    """Velocity and forecast at each snapshot of ONE mention (snapshots oldest first, unique times).

    A post is taken to have had no engagement when it was created, so its first snapshot
    already has a velocity and a forecast even when the source first saw it late.
    """
    series = list(snapshots)
    if series and series[0].observed_at > mention.created_at:
        series.insert(0, EngagementSnapshot(mention_id=mention.id, observed_at=mention.created_at,
                                            engagement=Engagement()))
    found = readings(series, timedelta(minutes=cfg.window_minutes))
    if not found:
        return []
    minutes = np.array([(s.observed_at - mention.created_at).total_seconds() / 60 for s in series])
    arrays = forecast_counts(minutes, [propagating(s.engagement) for s in series],
                             [s.engagement.total for s in series], mention.author_followers,
                             profile_for(mention.source), HORIZON_MINUTES)
    index = {s.observed_at: i for i, s in enumerate(series)}
    max_age = cfg.max_post_age_hours * 60
    out = []
    for r in found:
        i = index[r.at]
        predicted = float(arrays.predicted_final[i]) if minutes[i] <= max_age else None
        out.append(Evaluation(r, float(arrays.engagement[i]), predicted, float(arrays.branching[i])))
    return out


def baseline(velocities: np.ndarray, latest_predictions: np.ndarray, cfg: DetectionConfig) -> Baseline:
    """The brand's thresholds from its recent readings and its posts' latest predicted reach.

    Reach is judged against the brand's own distribution (a quantile) because what is
    "a lot" differs by orders of magnitude between brands; with fewer than
    `min_baseline_posts` posts there is no distribution yet and only the floor applies.
    """
    median_velocity = float(np.median(velocities)) if len(velocities) else 0.0
    level = None
    if len(latest_predictions) >= cfg.min_baseline_posts:
        level = float(np.quantile(latest_predictions, cfg.reach_quantile))
    return Baseline(
        velocity_per_min=median_velocity,
        velocity_threshold=max(cfg.min_velocity_per_min, cfg.baseline_multiplier * median_velocity),
        reach_level=level,
        reach_threshold=max(cfg.min_predicted_reach, level or 0.0),
        posts=len(latest_predictions),
    )


def severity_for(ratio: float, cfg: DetectionConfig) -> Severity | None:
    """info at the threshold, warning at `warning_factor` x it, critical at `critical_factor` x it."""
    if ratio >= cfg.critical_factor:
        return Severity.critical
    if ratio >= cfg.warning_factor:
        return Severity.warning
    if ratio >= 1:
        return Severity.info
    return None


def _ratios(ev: Evaluation, base: Baseline) -> tuple[float, float]:
    reach = (ev.predicted_final or 0.0) / base.reach_threshold
    return ev.reading.velocity_per_min / base.velocity_threshold, reach


def explain(mention: Mention, ev: Evaluation, base: Baseline, severity: Severity, cfg: DetectionConfig) -> str:
    """One sentence a care agent can act on: how fast vs normal, where it is heading, who, how negative."""
    who = f"@{mention.author_handle.lstrip('@')} ({mention.author_followers:,} followers)"
    r = ev.reading
    velocity_ratio, reach_ratio = _ratios(ev, base)
    text = (
        f"{severity.value.capitalize()}: negative {mention.source} post by {who} is gaining "
        f"{r.velocity_per_min:,.1f} engagements/min over the last {r.window_minutes:.0f} min "
        f"({velocity_ratio:,.1f}x the alert threshold of {base.velocity_threshold:,.1f}/min; "
        f"brand baseline {base.velocity_per_min:,.1f}/min)"
    )
    if ev.predicted_final is not None:
        if base.reach_level is not None and base.reach_threshold == base.reach_level:
            level = f"the brand's top-{(1 - cfg.reach_quantile) * 100:.0f}% level of {base.reach_threshold:,.0f}"
        else:
            level = f"the minimum of {base.reach_threshold:,.0f}"
        text += (
            f" and is predicted to reach about {ev.predicted_final:,.0f} engagements from "
            f"{ev.engagement:,.0f} now ({reach_ratio:,.1f}x {level})"
        )
    if mention.sentiment is not None:
        text += f"; sentiment {mention.sentiment.score:+.2f}"
    if mention.rating is not None:
        text += f"; {mention.rating}-star review"
    return text + "."


def _hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class _BrandSeries:
    """A brand's evaluations in time order, with arrays for fast baseline slices."""

    evaluations: list[Evaluation]
    times: list[datetime]
    velocity: np.ndarray
    predicted: np.ndarray  # nan where there is no forecast
    post: np.ndarray  # index of the post, for "latest prediction per post"

    @classmethod
    def build(cls, evaluations: list[Evaluation]) -> _BrandSeries:
        evaluations.sort(key=lambda e: (e.reading.at, e.reading.mention_id))
        ids: dict[str, int] = {}
        return cls(
            evaluations,
            [e.reading.at for e in evaluations],
            np.array([e.reading.velocity_per_min for e in evaluations], dtype=float),
            np.array([np.nan if e.predicted_final is None else e.predicted_final for e in evaluations], dtype=float),
            np.array([ids.setdefault(e.reading.mention_id, len(ids)) for e in evaluations], dtype=np.int64),
        )

    def baseline_before(self, hour: datetime, cfg: DetectionConfig) -> Baseline:
        lo = bisect_left(self.times, hour - timedelta(hours=cfg.baseline_hours))
        hi = bisect_left(self.times, hour)
        predicted, post = self.predicted[lo:hi], self.post[lo:hi]
        known = ~np.isnan(predicted)
        predicted, post = predicted[known], post[known]
        # The latest prediction of each post: first occurrence in the reversed slice.
        _, last = np.unique(post[::-1], return_index=True)
        return baseline(self.velocity[lo:hi], predicted[::-1][last], cfg)


class SpreadDetector:
    def __init__(self, config: DetectionConfig) -> None:
        self.config = config

    def history_needed(self) -> timedelta:
        return history_needed(self.config)

    def evaluations(self, mentions: Mapping[str, Mention],
                    snapshots: Iterable[EngagementSnapshot]) -> dict[str, list[Evaluation]]:
        """Every mention's evaluations, grouped by brand."""
        series: dict[str, dict[datetime, EngagementSnapshot]] = defaultdict(dict)
        for snap in snapshots:
            if snap.mention_id in mentions:
                series[snap.mention_id][snap.observed_at] = snap
        by_brand: dict[str, list[Evaluation]] = defaultdict(list)
        for mention_id, snaps in series.items():
            mention = mentions[mention_id]
            ordered = [snaps[t] for t in sorted(snaps)]
            by_brand[mention.brand].extend(evaluate(mention, ordered, self.config))
        return by_brand

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
        highest = dict(already)
        alerts: list[Alert] = []
        for brand_evaluations in self.evaluations(mentions, snapshots).values():
            brand = _BrandSeries.build(brand_evaluations)
            baselines: dict[datetime, Baseline] = {}
            for ev in brand.evaluations:
                reading = ev.reading
                if since is not None and reading.at <= since:
                    continue
                mention = mentions[reading.mention_id]
                if not mention.is_negative:
                    continue
                hour = _hour(reading.at)
                if hour not in baselines:
                    baselines[hour] = brand.baseline_before(hour, cfg)
                base = baselines[hour]
                severity = severity_for(max(_ratios(ev, base)), cfg)
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
                        reason=explain(mention, ev, base, severity, cfg),
                        velocity_per_min=round(reading.velocity_per_min, 3),
                        baseline_per_min=round(base.velocity_per_min, 3),
                    )
                )
        alerts.sort(key=lambda a: (a.created_at, a.id))
        return alerts
