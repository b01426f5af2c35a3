"""Storm detection: a brand's hourly mention volume or negative share spiking.

A storm is many people talking about the brand at once (an outage, a bad ad, a viral
complaint's echo), which no single post's spread shows. Each complete hour is compared
with what the brand's own recent history predicts for that hour of that weekday:

* expected volume comes from a robust Poisson regression on the last `history_days`
  (log rate = level + trend + hour of day + day of week), so the ordinary lunchtime
  peak and the quiet Sunday are expected, and past storms (down-weighted as outliers)
  do not raise the bar for the next one;
* an hour is unusual when its count is `z_threshold` robust standard deviations above
  expectation (variance-stabilised, with the history's own overdispersion), and also
  big in absolute terms (`min_mentions`, `min_ratio` or `min_share_increase`), so a
  quiet brand's 3-instead-of-1 is not a storm.

Unusual hours closer together than `cooldown_hours` are one storm and raise one alert,
at the storm's first hour, with an id made of the brand, the metric(s) and that hour, so
re-running never duplicates it. The model for a day is fitted on the days before it
only, so the result does not depend on how runs are batched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from monitor.config import StormConfig
from monitor.models import Alert, AlertKind, Severity

HOUR = timedelta(hours=1)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class HourlyCounts:
    """A brand's mentions per hour (by creation time) and how many of them were negative."""

    start: datetime  # the first hour, UTC, on the hour
    total: np.ndarray
    negative: np.ndarray

    def __post_init__(self) -> None:
        if len(self.total) != len(self.negative):
            raise ValueError("total and negative must have one count per hour")

    def hour(self, i: int) -> datetime:
        return self.start + i * HOUR

    def index(self, at: datetime) -> int:
        return int((floor_hour(at) - self.start) / HOUR)

    @classmethod
    def from_counts(cls, counts: Iterable[tuple[datetime, int, int]], start: datetime, end: datetime) -> HourlyCounts:
        """From (hour, mentions, negatives) rows; hours without a row had no mentions. `end` is exclusive."""
        start, end = floor_hour(start), floor_hour(end)
        n = max(int((end - start) / HOUR), 0)
        total, negative = np.zeros(n), np.zeros(n)
        for at, count, neg in counts:
            i = int((floor_hour(at) - start) / HOUR)
            if 0 <= i < n:
                total[i] += count
                negative[i] += neg
        return cls(start, total, negative)


def _design(hours: np.ndarray, origin: float) -> np.ndarray:
    """Columns: intercept, trend (per 4 weeks), 23 hour-of-day and 6 day-of-week indicators.

    `hours` counts hours since the Unix epoch (a Thursday at 00:00 UTC).
    """
    hod = hours % 24
    dow = (hours // 24 + 3) % 7  # Monday = 0
    cols = [np.ones(len(hours)), (hours - origin) / (28 * 24)]
    cols += [(hod == h).astype(float) for h in range(1, 24)]
    cols += [(dow == d).astype(float) for d in range(1, 7)]
    return np.column_stack(cols)


def _robust_scale(residuals: np.ndarray) -> float:
    """1.4826 x median absolute deviation: a standard deviation that storms do not inflate."""
    if len(residuals) == 0:
        return 1.0
    return float(1.4826 * np.median(np.abs(residuals - np.median(residuals))))


def fit_seasonal(hours: np.ndarray, counts: np.ndarray, predict_hours: np.ndarray,
                 iterations: int = 30, huber: float = 2.0, ridge: float = 1e-2) -> tuple[np.ndarray, np.ndarray]:
    """Expected counts for `predict_hours` and for the history itself, from a robust Poisson fit.

    Iteratively reweighted least squares for log-linear Poisson regression; observations
    with a Pearson residual beyond `huber` robust standard deviations get less weight,
    which keeps yesterday's storm out of today's expectation. A small ridge keeps the
    fit finite for hours that never have mentions.
    """
    origin = float(hours[-1]) if len(hours) else 0.0
    x = _design(hours.astype(float), origin)
    y = counts.astype(float)
    beta = np.zeros(x.shape[1])
    beta[0] = np.log(y.mean() + 0.1)
    penalty = ridge * np.eye(x.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(iterations):
        eta = np.clip(x @ beta, -20, 20)
        mu = np.exp(eta)
        pearson = (y - mu) / np.sqrt(mu)
        scale = max(_robust_scale(pearson), 1.0)
        weight = mu * np.minimum(1.0, huber * scale / np.maximum(np.abs(pearson), 1e-9))
        z = eta + (y - mu) / mu
        xtw = x.T * weight
        new = np.linalg.solve(xtw @ x + penalty, xtw @ z)
        if np.max(np.abs(new - beta)) < 1e-6:
            beta = new
            break
        beta = new
    fitted = np.exp(np.clip(x @ beta, -20, 20))
    predicted = np.exp(np.clip(_design(predict_hours.astype(float), origin) @ beta, -20, 20))
    return predicted, fitted


def _anscombe(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Variance-stabilised Poisson residual: about N(0, 1) even for small counts."""
    return 2 * (np.sqrt(observed + 0.375) - np.sqrt(expected + 0.375))


def _share_residual(negative: np.ndarray, total: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Binomial residual of the negative count given the hour's total and the expected share."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (negative - total * share) / np.sqrt(total * share * (1 - share))
    return np.where(total > 0, r, 0.0)


@dataclass(frozen=True)
class HourScore:
    """One complete hour of one brand, against its expectation."""

    hour: datetime
    total: int
    expected_total: float
    volume_z: float
    negative: int
    expected_share: float
    share_z: float
    volume_storm: bool
    share_storm: bool

    @property
    def anomalous(self) -> bool:
        return self.volume_storm or self.share_storm

    @property
    def share(self) -> float:
        return self.negative / self.total if self.total else 0.0


def score_day(counts: HourlyCounts, day_start: int, cfg: StormConfig) -> list[HourScore]:
    """Scores for the 24 hours from index `day_start` (a UTC midnight), fitted on the days before.

    Empty when the brand has less than `min_history_days` of data before that day: the
    minimum-data rule, because a seasonal profile needs at least a week to be seen.
    """
    if day_start < 0:
        return []  # the series starts mid-day: nothing before it to compare with
    lo = max(day_start - cfg.history_days * 24, 0)
    total, negative = counts.total[lo:day_start], counts.negative[lo:day_start]
    seen = np.flatnonzero(total > 0)
    if len(seen) == 0 or day_start - (lo + seen[0]) < cfg.min_history_days * 24:
        return []
    first = lo + int(seen[0])
    total, negative = counts.total[first:day_start], counts.negative[first:day_start]
    hi = min(day_start + 24, len(counts.total))
    if hi <= day_start:
        return []
    epoch_hour = int(counts.start.timestamp() // 3600)
    history_hours = epoch_hour + np.arange(first, day_start)
    day_hours = epoch_hour + np.arange(day_start, hi)

    expected_total, fitted_total = fit_seasonal(history_hours, total, day_hours)
    expected_negative, fitted_negative = fit_seasonal(history_hours, negative, day_hours)
    volume_scale = max(_robust_scale(_anscombe(total, fitted_total)), 1.0)
    past_share = np.clip(fitted_negative / fitted_total, 1e-3, 1 - 1e-3)
    busy = total > 0
    share_scale = max(_robust_scale(_share_residual(negative, total, past_share)[busy]), 1.0)

    obs_total, obs_negative = counts.total[day_start:hi], counts.negative[day_start:hi]
    share = np.clip(expected_negative / expected_total, 1e-3, 1 - 1e-3)
    volume_z = _anscombe(obs_total, expected_total) / volume_scale
    share_z = _share_residual(obs_negative, obs_total, share) / share_scale
    with np.errstate(divide="ignore", invalid="ignore"):
        observed_share = np.where(obs_total > 0, obs_negative / obs_total, 0.0)
    volume_storm = (volume_z >= cfg.z_threshold) & (obs_total >= cfg.min_mentions) & (
        obs_total >= cfg.min_ratio * expected_total)
    share_storm = (share_z >= cfg.z_threshold) & (obs_negative >= cfg.min_mentions) & (
        observed_share >= share + cfg.min_share_increase)
    return [
        HourScore(counts.hour(day_start + i), int(obs_total[i]), float(expected_total[i]), float(volume_z[i]),
                  int(obs_negative[i]), float(share[i]), float(share_z[i]), bool(volume_storm[i]),
                  bool(share_storm[i]))
        for i in range(hi - day_start)
    ]


def score_hours(counts: HourlyCounts, first: int, last: int, cfg: StormConfig) -> list[HourScore]:
    """Scores for hour indices [first, last), day by day."""
    out: list[HourScore] = []
    offset = counts.start.hour  # hours from a UTC midnight to the series' start
    day = ((first + offset) // 24) * 24 - offset
    while day < last:
        out += [s for s in score_day(counts, day, cfg) if first <= counts.index(s.hour) < last]
        day += 24
    return out


def _metric(score: HourScore) -> str:
    return "+".join(m for m, hit in (("volume", score.volume_storm), ("negative_share", score.share_storm)) if hit)


def storm_severity(score: HourScore) -> Severity:
    """Both measures spiking (a surge of complaints) is critical; a sour turn without more
    volume is a warning; more volume at the usual tone (a campaign, news) is for information."""
    if score.volume_storm and score.share_storm:
        return Severity.critical
    if score.share_storm:
        return Severity.warning
    return Severity.info


def explain_storm(brand: str, score: HourScore) -> str:
    """One sentence: how many mentions vs expected for that hour and weekday, and how negative."""
    day = WEEKDAYS[score.hour.weekday()]
    ratio = score.total / score.expected_total if score.expected_total > 0 else float("inf")
    return (
        f"{storm_severity(score).value.capitalize()}: {brand} had {score.total:,} mentions in the hour from "
        f"{score.hour:%Y-%m-%d %H:00} UTC, {ratio:,.1f}x the {score.expected_total:,.1f} expected for a {day} at "
        f"that hour (z {score.volume_z:+.1f}), and {score.share:.0%} of them were negative against "
        f"{score.expected_share:.0%} usually (z {score.share_z:+.1f})."
    )


def storm_alert_id(brand: str, score: HourScore) -> str:
    return f"storm:{brand}:{_metric(score)}:{score.hour:%Y-%m-%dT%H}"


def find_storms(counts: HourlyCounts, cfg: StormConfig, first: int, last: int) -> list[HourScore]:
    """The first hour of each storm starting in hour indices [first, last).

    An unusual hour starts a storm when no unusual hour precedes it within
    `cooldown_hours`; that only looks back a fixed distance, so a storm is found at
    the same hour whichever range a run covers.
    """
    lookback = max(first - cfg.cooldown_hours, 0)
    scores = score_hours(counts, lookback, last, cfg)
    flagged = [counts.index(s.hour) for s in scores if s.anomalous]
    starts = []
    for s in scores:
        i = counts.index(s.hour)
        if i < first or not s.anomalous:
            continue
        if not any(i - cfg.cooldown_hours <= j < i for j in flagged):
            starts.append(s)
    return starts


def storm_alerts(brand: str, counts: HourlyCounts, cfg: StormConfig, since: datetime | None,
                 now: datetime) -> list[Alert]:
    """Alerts for storms whose first hour completed after `since` and by `now`."""
    # An hour is judged once it is complete: the hour containing `now` is not; hours that
    # ended by `since` were judged by an earlier run.
    last = min(counts.index(now), len(counts.total))
    first = 0 if since is None else max(counts.index(since), 0)
    alerts = []
    for s in find_storms(counts, cfg, first, last):
        alerts.append(Alert(
            id=storm_alert_id(brand, s),
            kind=AlertKind.storm,
            mention_id=None,
            brand=brand,
            severity=storm_severity(s),
            created_at=s.hour + HOUR,
            reason=explain_storm(brand, s),
            velocity_per_min=round(s.total / 60, 3),
            baseline_per_min=round(s.expected_total / 60, 3),
        ))
    return alerts


def window_start(now: datetime, since: datetime | None, cfg: StormConfig) -> datetime:
    """Earliest hour a run must load: the history behind the first day it scores, and the cool-down."""
    first = floor_hour(since if since is not None else now)
    day = first.replace(hour=0) - timedelta(hours=cfg.cooldown_hours)
    return day.replace(hour=0) - timedelta(days=cfg.history_days)


def hourly_totals(rows: Sequence[tuple[datetime, str, int]]) -> list[tuple[datetime, int, int]]:
    """(hour, label, count) rows, as `Store.trend` gives them, to (hour, mentions, negatives)."""
    return [(at, count, count if label == "negative" else 0) for at, label, count in rows]
