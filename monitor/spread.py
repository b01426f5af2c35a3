"""Spread detection: which negative posts are taking off, measured against the brand's own posts.

At every snapshot of a post, `monitor.forecast` gives its final size as a band and as
the probability of passing any level. The level that matters is the brand's own: the
reach of its top `reach_top_share` of posts (0.5% by default), taken over the posts it
had in the `baseline_hours` before the hour of the reading. A negative post alerts
when it is at least `alert_probability` likely to end above that level (info), above
`warning_factor` times it (warning) or above `critical_factor` times it (critical). There
is no absolute floor: a brand whose posts travel far needs a far bigger forecast than a
quiet one, and both were measured on real cascades (`benchmarks/spread_real.py`).

Cold start: with too few posts to read the top share off directly (fewer than
`MIN_TAIL_POSTS / reach_top_share`), the level is extrapolated from the brand's top
posts along the heaviest power-law tail popularity usually shows (Zipf's, index 1), an
upper estimate; with no post at all there is no level and no alert. So a new brand
starts cautious, not noisy, and the level comes down to its real value as posts arrive.

A reading's level uses only what was known before the start of its hour, and each
forecast only the post's own snapshots up to it, so the alerts are the same whether
snapshots arrive one at a time or a day at once (given `SpreadDetector.detect` loads
`history_needed` of snapshots before its watermark). A post is alerted again only when it
climbs to a higher level, never twice at the same one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from monitor.config import SpreadSettings
from monitor.forecast import Forecast, Forecasts, GrowthModel, default_model, forecast_flat, probability_at_least
from monitor.models import Alert, EngagementSnapshot, Mention, Severity

if TYPE_CHECKING:
    from monitor.detection import DetectorContext
    from monitor.noise.marks import NoiseMark
    from monitor.store import Store
    from monitor.store.base import PostFacts

MIN_TAIL_POSTS = 5  # posts above the level needed to read it off the brand's own distribution
FOLD_POSTS_PER_READ = 5000  # posts of copy clusters read at once by SpreadDetector._fold_copies
COLD_TAIL_INDEX = 1.0  # Zipf: the heaviest tail commonly seen in popularity, so the cold level errs high
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_minutes(at: datetime) -> float:
    """Minutes since the Unix epoch: the detector's clock, as plain floats for numpy."""
    return (at - _EPOCH).total_seconds() / 60


def from_minutes(minutes: float) -> datetime:
    """Back to a datetime, to the microsecond (a float minute count is exact to well under that)."""
    return _EPOCH + timedelta(microseconds=round(float(minutes) * 60e6))


@dataclass(frozen=True, slots=True)
class Curve:
    """One post's engagement over time: weighted engagement at minutes since posting (ascending, > 0)."""

    mention_id: str
    created: float  # minutes since the epoch
    minutes: np.ndarray
    engagement: np.ndarray
    negative: bool  # only negative posts alert; every post shapes the brand's baseline


def _curve(mention_id: str, post: PostFacts, points: Mapping[float, float]) -> Curve:
    """`curve_of` from (observed minutes since the epoch -> engagement total), as `detect` reads them."""
    created = to_minutes(post.created_at)
    by_time = {t - created: e for t, e in points.items()}
    minutes = np.array(sorted(t for t in by_time if t > 0), dtype=float)
    return Curve(mention_id, created, minutes, np.array([by_time[t] for t in minutes], dtype=float), post.negative)


def _slices(start: datetime, end: datetime, width: timedelta, most: int = 60) -> list[tuple[datetime, datetime]]:
    """[start, end] as consecutive closed slices of `width` ending at `end` (the first takes what is older)."""
    bounds = [end]
    while len(bounds) < most and bounds[-1] - width > start:
        bounds.append(bounds[-1] - width)
    bounds.append(start)
    bounds.reverse()
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def curve_of(mention: Mention, snapshots: Iterable[EngagementSnapshot]) -> Curve:
    """A mention's snapshots as a curve; one taken at the moment of posting is left out (it is the origin)."""
    created = to_minutes(mention.created_at)
    by_time = {to_minutes(s.observed_at) - created: s.engagement.total for s in snapshots}
    minutes = np.array(sorted(t for t in by_time if t > 0), dtype=float)
    return Curve(mention.id, created, minutes, np.array([by_time[t] for t in minutes], dtype=float),
                 mention.is_negative)


@dataclass(frozen=True)
class Level:
    """A brand's normal before one hour."""

    reach: float | None  # the brand's top-share reach; None: no posts yet
    posts: int  # posts it was read from
    extrapolated: bool  # too few posts: extrapolated along a power-law tail
    velocity_per_min: float  # median recent velocity of the brand's posts that had any engagement


def reach_level(values: np.ndarray, top_share: float) -> tuple[float | None, bool]:
    """The reach exceeded by the top `top_share` of `values` (each post's latest median forecast).

    With at least `MIN_TAIL_POSTS` posts expected above it, it is the empirical quantile.
    With fewer, the `MIN_TAIL_POSTS`-th largest post (or the smallest, with fewer posts)
    anchors a Pareto tail of index `COLD_TAIL_INDEX` on 1 + reach, extrapolated out to the
    share: equal to the quantile where the two meet, and higher the less is known.
    """
    n = len(values)
    if n == 0:
        return None, True
    if n * top_share >= MIN_TAIL_POSTS:
        return float(np.quantile(values, 1 - top_share)), False
    k = min(n, MIN_TAIL_POSTS)
    anchor = float(np.sort(values)[n - k]) + 1.0  # the k-th largest
    return anchor * (k / (n * top_share)) ** (1 / COLD_TAIL_INDEX) - 1.0, True


@dataclass(frozen=True)
class Trigger:
    """A negative post crossing a severity at one snapshot, with the numbers that explain it."""

    mention_id: str
    at: float  # minutes since the epoch
    age_minutes: float
    severity: Severity
    engagement: float
    gained: float  # engagement gained over the last `window` minutes
    window: float
    median: float
    low: float
    high: float
    probability: float  # of ending above the severity's level
    level: Level
    factor: float  # the severity's multiple of the brand's level

    @property
    def velocity_per_min(self) -> float:
        return self.gained / self.window if self.window > 0 else 0.0


def gained_over(minutes: np.ndarray, engagement: np.ndarray, window: float) -> tuple[np.ndarray, np.ndarray]:
    """Engagement gained in the last `window` minutes at each snapshot (read off the curve), and the span."""
    curve_t, curve_e = np.concatenate([[0.0], minutes]), np.concatenate([[0.0], engagement])
    start = np.maximum(minutes - window, 0.0)
    return engagement - np.interp(start, curve_t, curve_e), minutes - start


def _severities(cfg: SpreadSettings) -> list[tuple[Severity, float]]:
    return [(Severity.critical, cfg.critical_factor), (Severity.warning, cfg.warning_factor), (Severity.info, 1.0)]


def detect_brand(curves: Sequence[Curve], cfg: SpreadSettings, since: float | None = None,
                 already: Mapping[str, Severity] | None = None, model: GrowthModel | None = None,
                 forecasts: Sequence[Forecast] | None = None, until: float | None = None) -> list[Trigger]:
    """Triggers for one brand's negative posts at snapshots after `since` and by `until` (minutes since
    the epoch; both compared in that one float form, so consecutive partitions never share or skip a
    snapshot), oldest first.

    Every curve (negative or not) shapes the brand's level; `already` is the highest
    severity each post was alerted at before. `forecasts` (one per curve) replace the
    model's, for benchmarks that score models fitted without the post.
    """
    highest = dict(already or {})
    n = len(curves)
    if n == 0:
        return []
    fc = Forecasts.of(forecasts) if forecasts is not None else forecast_flat(
        [(c.minutes, c.engagement) for c in curves], model)
    lengths = np.diff(fc.offsets)
    post = np.repeat(np.arange(n), lengths)
    times = np.concatenate([c.created + c.minutes for c in curves])
    age = np.concatenate([c.minutes for c in curves])
    median = fc.median
    window = float(cfg.window_minutes)
    bounds = fc.offsets.tolist()
    gained, span = (np.concatenate(parts) for parts in zip(
        *(gained_over(c.minutes, fc.engagement[bounds[k]:bounds[k + 1]], window) for k, c in enumerate(curves)),
        strict=True))
    velocity = np.where(span > 0, gained / np.maximum(span, 1e-9), 0.0)
    created = np.array([c.created for c in curves])
    negative = np.array([c.negative for c in curves])

    candidate = negative[post] & (age <= cfg.max_post_age_hours * 60)
    if since is not None:
        candidate &= times > since
    if until is not None:
        candidate &= times <= until
    if not candidate.any():
        return []
    levels = _hourly_levels(times, post, median, velocity, created, np.floor(times[candidate] / 60), cfg)

    rows = np.flatnonzero(candidate)
    rows = rows[np.lexsort((post[rows], times[rows]))]
    log_now = fc.log_now[rows]
    growth = {q: fc.log_growth[q][rows] for q in (0.1, 0.5, 0.9)}
    reach = np.array([levels[h].reach if levels[h].reach is not None else np.nan
                      for h in np.floor(times[rows] / 60)])
    probabilities = {sev: probability_at_least(log_now, growth, reach * factor) for sev, factor in _severities(cfg)}
    low = fc.low[rows]
    high = fc.high[rows]
    engagement = fc.engagement[rows]

    triggers: list[Trigger] = []
    for j, i in enumerate(rows):
        if np.isnan(reach[j]):
            continue
        found = next(((sev, f) for sev, f in _severities(cfg) if probabilities[sev][j] >= cfg.alert_probability), None)
        if found is None:
            continue
        severity, factor = found
        curve = curves[post[i]]
        previous = highest.get(curve.mention_id)
        if previous is not None and previous.rank >= severity.rank:
            continue
        highest[curve.mention_id] = severity
        triggers.append(Trigger(
            curve.mention_id, float(times[i]), float(age[i]), severity, float(engagement[j]), float(gained[i]),
            float(span[i]), float(median[i]), float(low[j]), float(high[j]), float(probabilities[severity][j]),
            levels[np.floor(times[i] / 60)], factor,
        ))
    return triggers


def _hourly_levels(times: np.ndarray, post: np.ndarray, median: np.ndarray, velocity: np.ndarray,
                   created: np.ndarray, hours: np.ndarray, cfg: SpreadSettings) -> dict[float, Level]:
    """The brand's level before each of `hours`: every post created in the `baseline_hours` before
    it, at its latest median forecast before it."""
    order = np.argsort(times, kind="stable")
    sorted_times = times[order]
    latest = np.full(len(created), np.nan)
    latest_velocity = np.zeros(len(created))
    done = 0
    out: dict[float, Level] = {}
    for hour in np.unique(hours):
        start = hour * 60
        upto = int(np.searchsorted(sorted_times, start, side="left"))
        if upto > done:
            seg = order[done:upto][::-1]
            _, last = np.unique(post[seg], return_index=True)  # each post's latest row in the segment
            latest[post[seg][last]] = median[seg][last]
            latest_velocity[post[seg][last]] = velocity[seg][last]
            done = upto
        active = (created >= start - cfg.baseline_hours * 60) & (created < start) & ~np.isnan(latest)
        reach, extrapolated = reach_level(latest[active], cfg.reach_top_share)
        engaged = latest_velocity[active & (latest > 0)]
        out[hour] = Level(reach, int(active.sum()), extrapolated, float(np.median(engaged)) if len(engaged) else 0.0)
    return out


def history_needed(cfg: SpreadSettings) -> timedelta:
    """Snapshots before the watermark a run must load to reproduce an all-at-once run exactly.

    Levels reach back `baseline_hours` of posts from the start of an hour, and read those
    posts' forecasts, which need their snapshots since they were created.
    """
    return timedelta(hours=cfg.baseline_hours + cfg.max_post_age_hours + 1)


def explain(mention: Mention, trigger: Trigger, cfg: SpreadSettings) -> str:
    """One sentence a care agent can act on: how fast now, where it is heading, against what normal."""
    who = f"@{mention.author_handle.lstrip('@')} ({mention.author_followers:,} followers)"
    t = trigger
    level = t.level
    share = f"{cfg.reach_top_share * 100:g}%"
    basis = (f"extrapolated from its {level.posts:,} posts so far" if level.extrapolated
             else f"from its {level.posts:,} posts in the last {cfg.baseline_hours / 24:g} days")
    target = f"{t.factor:g}x that" if t.factor != 1 else "that"
    text = (
        f"{t.severity.value.capitalize()}: negative {mention.source} post by {who}: engagement {t.engagement:,.0f} "
        f"{_age(t.age_minutes)} after posting, +{t.gained:,.0f} in the last {t.window:.0f} min; forecast "
        f"{t.median:,.0f} ({t.low:,.0f}–{t.high:,.0f}) by {cfg.max_post_age_hours} h; this brand's top {share} "
        f"reach {level.reach:,.0f} ({basis}), {t.probability:.0%} likely to pass {target}"
    )
    if mention.sentiment is not None:
        text += f"; sentiment {mention.sentiment.score:+.2f}"
    if mention.rating is not None:
        text += f"; {mention.rating}-star review"
    return text + "."


def _age(minutes: float) -> str:
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


class SpreadDetector:
    """The `spread` detector (monitor/detection.py): negative posts forecast to outgrow the brand's normal."""

    name = "spread"

    def __init__(self, config: SpreadSettings, model: GrowthModel | None = None,
                 brands: Sequence[str] = (), copy_as_reposts: int = 1) -> None:
        self.config = config
        self.model = model
        self.brands = frozenset(brands)  # only these brands' posts (a partition of the work); empty: all
        self.copy_as_reposts = copy_as_reposts  # what each copy of a post adds to it (NoiseConfig)

    @classmethod
    def from_settings(cls, settings: SpreadSettings, context: DetectorContext) -> SpreadDetector:
        return cls(settings, brands=context.only_brands, copy_as_reposts=context.copy_as_reposts)

    def history_needed(self) -> timedelta:
        return history_needed(self.config)

    def detect(self, store: Store, since: datetime | None, now: datetime) -> list[Alert]:
        """Alerts for the snapshots stored after `since`, each tagged with its post's topic and team.

        Loads `history_needed` of snapshots before `since`, so that each run computes exactly
        what one run over everything would; a post already alerted at a level is not
        alerted again at it.
        """
        from monitor.noise.clusters import copies_by
        from monitor.topics import tag_alerts

        start = since - self.history_needed() if since else datetime.min.replace(tzinfo=now.tzinfo)
        # A brand's levels are its own posts', so one brand's partition reads only that brand.
        brand = next(iter(self.brands)) if len(self.brands) == 1 else None
        # Read a day at a time, keeping of each snapshot only what a curve needs (its time and
        # engagement), and of each post only its brand, age and sign: the snapshots and posts of
        # a whole window held as objects were most of a large run's memory.
        points: dict[str, dict[float, float]] = defaultdict(dict)
        for lo, hi in _slices(start, now, timedelta(days=1)):
            for mention_id, observed, total in store.engagement_points(lo, until=hi, brand=brand):
                points[mention_id][to_minutes(observed)] = total
        # Copies of an earlier post raise no alert of their own: their engagement counts towards
        # the first post's (monitor/noise/clusters.py), whose alert says how often it was posted.
        copies = self._fold_copies(store, points, now)
        by_brand: dict[str, list[Curve]] = defaultdict(list)
        ids = list(points)
        for first in range(0, len(ids), 2000):
            for mention_id, post in store.post_facts(ids[first : first + 2000]).items():
                if self.brands and post.brand not in self.brands:
                    continue
                by_brand[post.brand].append(_curve(mention_id, post, points[mention_id]))
            for mention_id in ids[first : first + 2000]:
                points.pop(mention_id, None)
        already: dict[str, Severity] = {}
        for alert in store.alerts_for(c.mention_id for curves in by_brand.values() for c in curves):
            if alert.mention_id not in already or alert.severity.rank > already[alert.mention_id].rank:
                already[alert.mention_id] = alert.severity
        triggers = {b: detect_brand(curves, self.config, to_minutes(since) if since else None, already, self.model,
                                    until=to_minutes(now)) for b, curves in by_brand.items()}
        mentions = store.get_mentions({t.mention_id for found in triggers.values() for t in found})
        alerts = [self._alert(mentions[t.mention_id], t) for found in triggers.values() for t in found]
        for i, alert in enumerate(alerts):
            members = copies.get(alert.mention_id or "")
            if members:
                posted, accounts = copies_by(members, alert.created_at, mentions[alert.mention_id].author_handle)
                if posted:
                    alerts[i] = alert.model_copy(update={
                        "reason": f"{alert.reason} Posted {posted + 1} times by {accounts} accounts so far."})
        alerts.sort(key=lambda a: (a.created_at, a.id))
        # Each alert carries its post's topic and owning team, so routing and the inbox can use them.
        return tag_alerts(alerts, mentions)

    def _fold_copies(self, store: Store, points: dict[str, dict[float, float]],
                     now: datetime) -> dict[str, list[NoiseMark]]:
        """Take the copies among `points` out, and give each first post the merged series of its
        cluster (its own and its copies' engagement, each copy as `copy_as_reposts` reposts), loading
        a first post older than the window. Returns first post id -> its copies, oldest first."""
        marks: dict[str, NoiseMark] = {}
        ids = list(points)
        for first in range(0, len(ids), 2000):
            marks.update(store.noise_of(ids[first : first + 2000], copies_only=True))
        if not marks:
            return {}
        for mid in marks:
            points.pop(mid, None)
        clusters: dict[str, dict[str, NoiseMark]] = defaultdict(dict)
        for mid, mark in marks.items():
            clusters[mark.duplicate_of or ""][mid] = mark
        # A few thousand posts' rows and snapshots at a time, whole clusters each (a cluster's merge
        # needs all of it): read all at once, the copies of a big brand's week were most of the
        # memory a run held.
        copies: dict[str, list[NoiseMark]] = {}
        part: dict[str, NoiseMark] = {}
        roots: list[str] = []
        for root, members in clusters.items():
            roots.append(root)
            part.update(members)
            if len(part) + len(roots) >= FOLD_POSTS_PER_READ:
                copies.update(self._fold_part(store, points, now, roots, part))
                part, roots = {}, []
        if roots:
            copies.update(self._fold_part(store, points, now, roots, part))
        return copies

    def _fold_part(self, store: Store, points: dict[str, dict[float, float]], now: datetime, roots: list[str],
                   marks: dict[str, NoiseMark]) -> dict[str, list[NoiseMark]]:
        from monitor.noise.clusters import merge_copies

        members = set(marks) | set(roots)
        mentions = store.post_facts(members)  # which exist: a copy or first post may have been erased
        readings = {mid: [r for r in found if r.observed_at <= now]
                    for mid, found in store.readings_of(members).items()}
        merged = merge_copies(mentions, readings, marks, self.copy_as_reposts)
        for root, series in merged.series.items():  # the cluster's readings replace the first post's own
            points[root] = {to_minutes(r.observed_at): r.total for r in series}
        return merged.copies

    def _alert(self, mention: Mention, t: Trigger) -> Alert:
        return Alert(
            id=Alert.make_id(mention.id, t.severity), mention_id=mention.id, brand=mention.brand,
            severity=t.severity, created_at=from_minutes(t.at), reason=explain(mention, t, self.config),
            velocity_per_min=round(t.velocity_per_min, 3), baseline_per_min=round(t.level.velocity_per_min, 3),
        )

    def evaluate(
        self,
        mentions: Mapping[str, Mention],
        snapshots: Iterable[EngagementSnapshot],
        since: datetime | None,
        already: Mapping[str, Severity],
        until: datetime | None = None,
    ) -> list[Alert]:
        """Alerts for snapshots newer than `since` (and by `until`), oldest first; `already` as in `detect_brand`."""
        cfg = self.config
        series: dict[str, list[EngagementSnapshot]] = defaultdict(list)
        for snap in snapshots:
            if snap.mention_id in mentions:
                series[snap.mention_id].append(snap)
        by_brand: dict[str, list[Curve]] = defaultdict(list)
        for mention_id, snaps in series.items():
            mention = mentions[mention_id]
            by_brand[mention.brand].append(curve_of(mention, snaps))
        alerts = []
        for curves in by_brand.values():
            for t in detect_brand(curves, cfg, to_minutes(since) if since else None, already, self.model,
                                  until=to_minutes(until) if until else None):
                alerts.append(self._alert(mentions[t.mention_id], t))
        alerts.sort(key=lambda a: (a.created_at, a.id))
        return alerts

