"""Storm detection: a brand's mention volume, its complaints or its negative share spiking.

A storm is many people talking about the brand at once (an outage, a bad ad, a viral
complaint's echo), which no single post's spread shows. Mentions are counted in short
buckets (5 minutes by default) and judged at several time scales at once (`scales`:
5 minutes, 1 hour, 6 hours), because a storm is either a sudden burst or a swell that
lasts all afternoon:

* the expected count at a scale is the median of the counts at the same time of day
  (within `neighbour_minutes`) over the previous `history_days` days, so the lunchtime
  peak is expected at lunchtime; with two weeks of history, each weekday's own level
  is taken into account too (the quiet Sunday);
* how far a count is from that is measured as a variance-stabilised Poisson residual
  (Anscombe), divided by the robust spread (1.4826 x MAD) of the same residuals over the
  history: a count is unusual when it is `z` of those spreads above expectation. The
  spread is re-read every `SCALE_BLOCK_HOURS` from the history before, so a brand with
  noisy counts needs a bigger burst than a steady one, and a storm does not widen the
  yardstick it is measured with until it is history;
* the hourly negative share is tested against the share of the history (a binomial
  residual, robust-scaled the same way), with `min_share_increase` as the smallest change
  worth an alert: more volume at the usual tone is news; a higher share is complaints.

It works from `min_history_days` (2) of data. Unusual buckets closer together than
`cooldown_hours` are one storm and raise one alert, at its first bucket, with an id made
of the brand and that bucket, so re-running never duplicates it; a storm that turns into
a complaint storm is escalated once (a second alert, at the higher severity). Each bucket is judged only on what came before
it, so the result does not depend on how runs are batched. Defaults are the ones
`benchmarks/storms_nab.py` measures on NAB's real Twitter series (chosen out of fold by
`benchmarks/fit_storms.py`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from monitor.config import StormConfig
from monitor.models import Alert, AlertKind, Severity

if TYPE_CHECKING:
    from monitor.detection import DetectorContext
    from monitor.store import Store

SCALE_BLOCK_HOURS = 6  # the residual spread is re-read this often, from the history before
WEEKLY_AFTER_DAYS = 14  # history needed before each weekday gets its own level
WEEKLY_HISTORY_DAYS = 28  # ... read off this many days before it
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def floor_bucket(at: datetime, minutes: int) -> datetime:
    """The start of the bucket holding `at`, buckets aligned on the Unix epoch (UTC)."""
    seconds = int((at.astimezone(UTC) - _EPOCH).total_seconds())
    return _EPOCH + timedelta(seconds=seconds - seconds % (minutes * 60))


@dataclass(frozen=True)
class BucketCounts:
    """A brand's mentions per bucket (by creation time) and how many of them were negative."""

    start: datetime  # the first bucket, aligned
    minutes: int  # bucket width
    total: np.ndarray
    negative: np.ndarray

    def __post_init__(self) -> None:
        if len(self.total) != len(self.negative):
            raise ValueError("total and negative must have one count per bucket")
        if floor_bucket(self.start, self.minutes) != self.start:
            raise ValueError(f"start {self.start} is not on a {self.minutes}-minute boundary")

    @property
    def per_day(self) -> int:
        return 24 * 60 // self.minutes

    def at(self, i: int) -> datetime:
        return self.start + timedelta(minutes=i * self.minutes)

    def index(self, at: datetime) -> int:
        return int((floor_bucket(at, self.minutes) - self.start) / timedelta(minutes=self.minutes))

    @classmethod
    def from_counts(cls, counts: Iterable[tuple[datetime, int, int]], start: datetime, end: datetime,
                    minutes: int) -> BucketCounts:
        """From (time, mentions, negatives) rows; buckets without a row had none. `end` is exclusive."""
        start, end = floor_bucket(start, minutes), floor_bucket(end, minutes)
        n = max(int((end - start) / timedelta(minutes=minutes)), 0)
        total, negative = np.zeros(n), np.zeros(n)
        width = timedelta(minutes=minutes)
        for at, count, neg in counts:
            i = int((floor_bucket(at, minutes) - start) / width)
            if 0 <= i < n:
                total[i] += count
                negative[i] += neg
        return cls(start, minutes, total, negative)


def rolling_sum(x: np.ndarray, width: int) -> np.ndarray:
    """Sum of the last `width` buckets at each bucket (fewer at the start)."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(1, len(x) + 1)
    return c[i] - c[np.maximum(i - width, 0)]


def anscombe(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Variance-stabilised Poisson residual: about N(0, 1) even for small counts."""
    return 2 * (np.sqrt(observed + 0.375) - np.sqrt(expected + 0.375))


def robust_scale(residuals: np.ndarray, floor: float) -> float:
    """1.4826 x median absolute deviation: a standard deviation that storms do not inflate."""
    r = residuals[~np.isnan(residuals)]
    if len(r) == 0:
        return np.nan
    return max(float(1.4826 * np.median(np.abs(r - np.median(r)))), floor)


@dataclass(frozen=True)
class _Context:
    """Where the series stands in absolute time: for the daily profile, weekdays and the spread blocks."""

    counts: BucketCounts
    first: int  # first bucket with any mention: the brand's history starts there
    cfg: StormConfig

    @property
    def per_day(self) -> int:
        return self.counts.per_day

    @property
    def offset(self) -> int:
        """Absolute bucket number of index 0 (buckets since the epoch)."""
        return int((self.counts.start - _EPOCH) / timedelta(minutes=self.counts.minutes))


def expected(x: np.ndarray, width: int, ctx: _Context, lo: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rolling sum, expected rolling sum) at each bucket; expected from `lo` on, nan before and without history.

    Expected is the median of the same window at the same time of day (within
    `neighbour_minutes`) on the previous `history_days` days. A week of days mixes
    weekdays, so the median reads a typical day; it is scaled by how busy the window's
    weekdays usually are against a typical day (`weekday_factor`, averaged over the
    buckets of the window, so one spanning Friday night and Saturday morning expects a bit
    of each).
    """
    n, per_day = len(x), ctx.per_day
    factor = weekday_factor(ctx)
    sums = rolling_sum(x, width)
    near = ctx.cfg.neighbour_minutes // ctx.counts.minutes
    idx = np.arange(lo, n)
    cols = []
    for k in range(1, ctx.cfg.history_days + 1):
        for o in range(-near, near + 1):
            j = idx - k * per_day + o
            cols.append(np.where((j >= ctx.first) & (j < idx), sums[np.clip(j, 0, max(n - 1, 0))], np.nan))
    out = np.full(n, np.nan)
    if len(idx) and cols:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a bucket with no history yet: nan, as meant
            out[lo:] = np.nanmedian(np.stack(cols, axis=1), axis=1)
    return sums, out * rolling_sum(factor, width) / np.minimum(np.arange(1, n + 1), width)


def weekday_factor(ctx: _Context) -> np.ndarray:
    """Each bucket's weekday level relative to the week's, from the whole weeks before its day; 1 before two weeks."""
    counts, per_day = ctx.counts, ctx.per_day
    n = len(counts.total)
    factor = np.ones(n)
    first_day = (ctx.offset + ctx.first) // per_day
    days = (ctx.offset + np.arange(n)) // per_day
    daily: dict[int, float] = {}
    for d in np.unique(days):
        lo, hi = max(int(d * per_day - ctx.offset), 0), min(int((d + 1) * per_day - ctx.offset), n)
        daily[int(d)] = float(counts.total[lo:hi].sum())
    for d in np.unique(days):
        history = [x for x in range(int(d) - WEEKLY_HISTORY_DAYS, int(d)) if x >= first_day and x in daily]
        if int(d) - first_day < WEEKLY_AFTER_DAYS or len(history) < WEEKLY_AFTER_DAYS:
            continue
        same = [daily[x] for x in history if (x - int(d)) % 7 == 0]
        typical = float(np.median([daily[x] for x in history]))
        if same and typical > 0:
            factor[days == d] = max(float(np.median(same)) / typical, 0.05)
    return factor


def zscores(x: np.ndarray, width: int, ctx: _Context, lo: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rolling sum, expected, z) at one scale for buckets from `lo` on; z is nan until
    `min_history_days` of history (and before `lo`)."""
    z = np.full(len(x), np.nan)
    block = SCALE_BLOCK_HOURS * 60 // ctx.counts.minutes
    history = ctx.cfg.history_days * ctx.per_day
    start = max(ctx.first + int(ctx.cfg.min_history_days * ctx.per_day), lo, 0)
    if start >= len(x):
        return rolling_sum(x, width), np.full(len(x), np.nan), z
    # Blocks aligned on the epoch, so the same bucket gets the same spread whatever the run's window.
    b0 = (ctx.offset + start) // block * block - ctx.offset
    sums, exp = expected(x, width, ctx, max(b0 - history, 0))
    resid = anscombe(sums, exp)
    for lo_block in range(b0, len(x), block):
        a, b = max(lo_block, start), min(lo_block + block, len(x))
        if a >= b:
            continue
        past = resid[max(lo_block - history, ctx.first, 0):max(lo_block - width, 0)]
        scale = robust_scale(past, ANSCOMBE_FLOOR)
        if np.isnan(scale):
            continue
        z[a:b] = (resid[a:b] - float(np.nanmedian(past))) / scale
    return sums, exp, z


ANSCOMBE_FLOOR = 0.5  # a Poisson residual's spread is about 1; never trust one read as much tighter


def share_zscores(counts: BucketCounts, ctx: _Context) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hourly negative share against the share of the history: (share, expected share, z)."""
    width = max(60 // counts.minutes, 1)
    total, negative = rolling_sum(counts.total, width), rolling_sum(counts.negative, width)
    n = len(total)
    history = ctx.cfg.history_days * ctx.per_day
    ctot, cneg = np.concatenate([[0.0], np.cumsum(counts.total)]), np.concatenate([[0.0], np.cumsum(counts.negative)])
    lo = np.maximum(np.arange(n) - history, ctx.first)
    hi = np.maximum(np.arange(n) - width + 1, lo)
    past_total, past_negative = ctot[hi] - ctot[lo], cneg[hi] - cneg[lo]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(past_total > 0, past_negative / past_total, np.nan)
        p = np.clip(share, 1e-3, 1 - 1e-3)
        resid = np.where(total > 0, (negative - total * p) / np.sqrt(total * p * (1 - p)), 0.0)
        observed = np.where(total > 0, negative / total, 0.0)
    z = np.full(n, np.nan)
    ready = ctx.first + int(ctx.cfg.min_history_days * ctx.per_day)
    block = SCALE_BLOCK_HOURS * 60 // counts.minutes
    b0 = (ctx.offset + max(ready, 0)) // block * block - ctx.offset
    for start in range(b0, n, block):
        a, b = max(start, ready), min(start + block, n)
        if a >= b:
            continue
        past = resid[max(start - history, ctx.first, 0):max(start - width, 0)]
        past = past[total[max(start - history, ctx.first, 0):max(start - width, 0)] > 0]
        scale = robust_scale(past, 1.0)
        if not np.isnan(scale):
            z[a:b] = resid[a:b] / scale
    return observed, share, z


@dataclass(frozen=True)
class BucketScore:
    """One bucket of one brand against its expectation, at the scale that stood out most."""

    at: datetime  # the bucket's start
    minutes: int  # the scale (window) that stood out, in minutes
    total: int  # mentions in that window
    expected_total: float
    volume_z: float
    negative: int  # negative mentions in the last hour
    share: float  # hourly negative share
    expected_share: float
    share_z: float
    volume_storm: bool
    share_storm: bool
    copies: int = 0  # copies of earlier posts in the window, left out of `total` (monitor/noise)

    @property
    def anomalous(self) -> bool:
        return self.volume_storm or self.share_storm


def score_buckets(counts: BucketCounts, cfg: StormConfig, lo: int = 0) -> list[BucketScore | None]:
    """Every bucket's score from `lo` on (None before it, and where there is not yet enough history)."""
    n = len(counts.total)
    seen = np.flatnonzero(counts.total > 0)
    if len(seen) == 0:
        return [None] * n
    ctx = _Context(counts, int(seen[0]), cfg)
    per_scale = [zscores(counts.total, max(scale.minutes // counts.minutes, 1), ctx, lo) for scale in cfg.scales]
    ratios = np.stack([np.nan_to_num(z / scale.z, nan=-np.inf) for (_, _, z), scale in zip(per_scale, cfg.scales,
                                                                                            strict=True)])
    volume = np.zeros(n, dtype=bool)
    for (sums, _, z), scale in zip(per_scale, cfg.scales, strict=True):
        volume |= (np.nan_to_num(z, nan=-np.inf) >= scale.z) & (sums >= cfg.min_mentions)
    best = np.argmax(ratios, axis=0)
    share, expected_share, share_z = share_zscores(counts, ctx)
    negative = rolling_sum(counts.negative, max(60 // counts.minutes, 1))
    sour = ((np.nan_to_num(share_z, nan=-np.inf) >= cfg.share_z) & (negative >= cfg.min_mentions)
            & (share >= np.nan_to_num(expected_share) + cfg.min_share_increase))
    out: list[BucketScore | None] = []
    for i in range(n):
        if ratios[best[i], i] == -np.inf:
            out.append(None)
            continue
        sums, exp, z = per_scale[best[i]]
        out.append(BucketScore(
            counts.at(i), cfg.scales[best[i]].minutes, int(sums[i]), float(exp[i]), float(z[i]), int(negative[i]),
            float(share[i]), float(np.nan_to_num(expected_share[i])), float(np.nan_to_num(share_z[i])),
            bool(volume[i]), bool(sour[i]),
        ))
    return out


def storm_severity(score: BucketScore) -> Severity:
    """A surge of complaints (more mentions, and more of them negative) is critical; a sour turn
    without more volume is a warning; more volume at the usual tone (a campaign, news) is for information."""
    if score.volume_storm and score.share_storm:
        return Severity.critical
    if score.share_storm:
        return Severity.warning
    return Severity.info


def explain_storm(brand: str, score: BucketScore) -> str:
    """One sentence: how many mentions vs expected for that time and weekday, how unusual, and how negative."""
    day = WEEKDAYS[score.at.weekday()]
    ratio = score.total / score.expected_total if score.expected_total > 0 else float("inf")
    window = f"{score.minutes} min" if score.minutes < 60 else f"{score.minutes // 60} h"
    voices = f"{score.total:,} mentions" if not score.copies else f"{score.total:,} distinct mentions"
    text = (
        f"{storm_severity(score).value.capitalize()}: {brand} had {voices} in the {window} to "
        f"{score.at:%Y-%m-%d %H:%M} UTC, {ratio:,.1f}x the {score.expected_total:,.1f} usual for a {day} at that time "
        f"(z {score.volume_z:+.1f}); in the last hour {score.negative:,} negative, a share of {score.share:.0%} "
        f"against {score.expected_share:.0%} usually (z {score.share_z:+.1f})"
    )
    if score.copies:
        raw = score.total + score.copies
        text += (f"; besides, {score.copies:,} copies of earlier posts ({score.copies / raw:.0%} of the "
                 f"{raw:,} posts in the window) were not counted as voices")
    return text + "."


def storm_alert_id(brand: str, at: datetime, severity: Severity) -> str:
    return f"storm:{brand}:{at:%Y-%m-%dT%H:%M}:{severity.value}"


def find_storms(scores: Sequence[BucketScore | None], cfg: StormConfig, first: int, last: int,
                minutes: int) -> list[int]:
    """Bucket indices in [first, last) that start a storm or escalate one.

    A bucket starts a storm when no unusual bucket precedes it within `cooldown_hours`, and
    escalates one when it is more severe than every unusual bucket in that span. Both look
    back a fixed distance, so a storm is found at the same bucket whichever range a run
    covers (a chain of unusual buckets each within the cool-down of the last is one storm).
    """
    cooldown = cfg.cooldown_hours * 60 // minutes
    out = []
    for i in range(first, min(last, len(scores))):
        s = scores[i]
        if s is None or not s.anomalous:
            continue
        before = [storm_severity(p).rank for p in scores[max(i - cooldown, 0):i] if p is not None and p.anomalous]
        if not before or storm_severity(s).rank > max(before):
            out.append(i)
    return out


def storm_alerts(brand: str, counts: BucketCounts, cfg: StormConfig, since: datetime | None,
                 now: datetime, copies: np.ndarray | None = None) -> list[Alert]:
    """Alerts for storms that start (or escalate) in buckets that completed after `since` and by `now`.

    `counts` are voices (copies of earlier posts already taken out); `copies`, per bucket, how
    many copies were taken out, which the alert reports."""
    # A bucket is judged once complete: the one containing `now` is not; those that ended
    # by `since` were judged by an earlier run.
    last = min(counts.index(now), len(counts.total))
    first = 0 if since is None else max(counts.index(since), 0)
    lookback = first - cfg.cooldown_hours * 60 // counts.minutes
    scores = score_buckets(counts, cfg, max(lookback, 0))
    alerts = []
    cooldown = cfg.cooldown_hours * 60 // counts.minutes
    for i in find_storms(scores, cfg, first, last, counts.minutes):
        s = scores[i]
        assert s is not None
        if copies is not None:
            s = replace(s, copies=int(rolling_sum(copies, max(s.minutes // counts.minutes, 1))[i]))
        severity = storm_severity(s)
        # An escalation is keyed by the storm it escalates (its first unusual bucket within the
        # cool-down), so the inbox shows one storm at two severities. A fixed look-back keeps the
        # id the same whichever range a run covers.
        start = next(p.at for p in scores[max(i - cooldown, 0):i + 1] if p is not None and p.anomalous)
        alerts.append(Alert(
            id=storm_alert_id(brand, start, severity), kind=AlertKind.storm, mention_id=None, brand=brand,
            severity=severity, created_at=counts.at(i + 1), reason=explain_storm(brand, s),
            velocity_per_min=round(s.total / s.minutes, 3), baseline_per_min=round(s.expected_total / s.minutes, 3),
        ))
    return alerts


def history_needed(cfg: StormConfig) -> timedelta:
    """How far behind the first bucket judged a run must read (before flooring to a day).

    The cool-down it looks back over, the residual history its spread is read from
    (`history_days`, plus a spread block), and behind each of those residuals the days its
    expectation and weekday factor are read from.
    """
    longest = max((s.minutes for s in cfg.scales), default=60)
    return timedelta(days=cfg.history_days + max(cfg.history_days, WEEKLY_HISTORY_DAYS) + 1,
                     hours=cfg.cooldown_hours + SCALE_BLOCK_HOURS, minutes=longest + cfg.neighbour_minutes)


def window_start(now: datetime, since: datetime | None, cfg: StormConfig) -> datetime:
    """Earliest bucket a run must load to judge the buckets after `since` exactly as one run over everything would."""
    first = since if since is not None else now
    return floor_bucket(first - history_needed(cfg), 24 * 60)


def bucket_totals(rows: Sequence[tuple[datetime, str, int]]) -> list[tuple[datetime, int, int]]:
    """(bucket, label, count) rows, as `Store.trend` gives them, to (bucket, mentions, negatives)."""
    return [(at, count, count if label == "negative" else 0) for at, label, count in rows]


class StormDetector:
    """The `storm` detector (monitor/detection.py): each brand's buckets, judged as they complete."""

    name = "storm"

    def __init__(self, config: StormConfig, brands: Sequence[str]) -> None:
        self.config = config
        self.brands = list(brands)

    @classmethod
    def from_settings(cls, settings: StormConfig, context: DetectorContext) -> StormDetector:
        return cls(settings, context.brands)

    def history_needed(self) -> timedelta:
        return history_needed(self.config) + timedelta(days=1)  # window_start floors to the day

    def detect(self, store: Store, since: datetime | None, now: datetime) -> list[Alert]:
        """Storm alerts for each brand's buckets that completed after `since` and by `now`.

        Counts come from `Store.trend(since, brand, bucket_minutes)` less `Store.duplicate_trend`
        (copies of earlier posts, monitor/noise): a storm is many voices, not one text posted by
        many accounts. Negative means a negative sentiment label there (a neutral-text 1-star
        review is not counted as negative).
        """
        cfg = self.config
        if not cfg.enabled:
            return []
        alerts: list[Alert] = []
        width = timedelta(minutes=cfg.bucket_minutes)
        for brand in self.brands:
            begin = window_start(now, since, cfg) if since is not None else None
            points = store.trend(begin, brand=brand, bucket_minutes=cfg.bucket_minutes)
            if not points:
                continue
            start = floor_bucket(min(p.bucket for p in points), 24 * 60)
            end = floor_bucket(now, cfg.bucket_minutes) + width
            counts = BucketCounts.from_counts(bucket_totals([(p.bucket, p.label, p.count) for p in points]),
                                              start, end, cfg.bucket_minutes)
            # Unique voices: copies of an earlier post (a bot ring, a copypasta) are one voice, the
            # first post's; they are taken out of the counts, and the alert says how many there were.
            dupes = store.duplicate_trend(begin, brand=brand, bucket_minutes=cfg.bucket_minutes)
            copies = BucketCounts.from_counts(bucket_totals([(p.bucket, p.label, p.count) for p in dupes]),
                                              start, end, cfg.bucket_minutes)
            voices = BucketCounts(start, cfg.bucket_minutes, np.maximum(counts.total - copies.total, 0),
                                  np.maximum(counts.negative - copies.negative, 0))
            alerts += storm_alerts(brand, voices, cfg, since, now, copies.total)
        return alerts
