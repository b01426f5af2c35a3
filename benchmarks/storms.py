"""Synthetic hourly mention series with daily and weekly seasonality and labelled storms.

A brand's volume follows a daily profile (whose shape shifts on weekends, when people
wake later), a weekday/weekend level, a slow drift, and overdispersed (gamma-Poisson)
noise. Storms are injected at random hours: volume surges, negative-share shifts without
much extra volume, and complaint surges (both). Each storm's hours are the labels.
The naive comparison is the textbook rule: an hour above the mean + 3 standard
deviations of the previous week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from monitor.config import StormConfig
from monitor.storm import HourlyCounts

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class Storm:
    onset: int  # hour index
    hours: int
    kind: str  # volume | negative_share | complaints

    @property
    def end(self) -> int:
        return self.onset + self.hours


@dataclass
class Series:
    counts: HourlyCounts
    storms: list[Storm]
    level: float  # mean mentions per hour


def simulate_series(rng: np.random.Generator, weeks: int = 10, warmup_weeks: int = 3,
                    storms_per_week: float = 0.7) -> Series:
    n = weeks * 168
    hours = np.arange(n)
    hod, dow = hours % 24, (hours // 24) % 7  # START is a Monday at 00:00
    weekend = dow >= 5
    level = float(np.exp(rng.uniform(np.log(5), np.log(200))))
    phase = rng.uniform(0, 24)
    a1, a2 = rng.uniform(0.5, 0.8), rng.uniform(0.1, 0.3)
    shift = np.where(weekend, rng.uniform(1, 3), 0.0)
    daily = 1 + a1 * np.cos(2 * np.pi * (hod - phase - shift) / 24) + a2 * np.cos(4 * np.pi * (hod - phase - shift) / 24)
    daily = np.maximum(daily, 0.1)
    weekly = np.where(weekend, rng.uniform(0.5, 1.4), rng.uniform(0.9, 1.15, 7)[dow])
    drift = np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    rate = level * daily / daily.mean() * weekly * drift
    share0 = rng.uniform(0.1, 0.35)
    share = np.clip(share0 + 0.05 * np.sin(2 * np.pi * (hod - phase) / 24), 0.02, 0.9)

    extra = np.zeros(n)
    extra_share = np.zeros(n)
    storms: list[Storm] = []
    k = rng.poisson(storms_per_week * (weeks - warmup_weeks))
    onsets = np.sort(rng.choice(np.arange(warmup_weeks * 168, n - 24), size=k, replace=False))
    for onset in onsets:
        if storms and onset < storms[-1].end + 24:
            continue  # storms a day apart at least, so each label is one storm
        hours_long = int(rng.integers(2, 13))
        kind = str(rng.choice(["volume", "negative_share", "complaints"]))
        shape = np.exp(-np.arange(hours_long) / max(hours_long / 2, 1))
        span = slice(onset, onset + hours_long)
        if kind == "negative_share":
            extra[span] += level * rng.uniform(0.0, 0.4) * shape
            extra_share[span] = rng.uniform(0.2, 0.45)
        else:
            extra[span] += level * rng.uniform(1.5, 6) * shape
            if kind == "complaints":
                extra_share[span] = rng.uniform(0.3, 0.6)
        storms.append(Storm(int(onset), hours_long, kind))

    mean = (rate + extra) * rng.gamma(shape=20.0, scale=1 / 20.0, size=n)
    total = rng.poisson(mean)
    p = np.clip(share + extra_share, 0, 0.98)
    negative = rng.binomial(total, p)
    return Series(HourlyCounts(START, total.astype(float), negative.astype(float)), storms, level)


def mean_3sigma_flags(counts: HourlyCounts, cfg: StormConfig, window: int = 168) -> np.ndarray:
    """The naive rule: volume or negative share above mean + 3 sd of the previous week.

    It gets the same minimum counts as Earshot's detector, so the comparison is about
    the baseline, not the floors.
    """
    total, negative = counts.total, counts.negative
    n = len(total)
    flags = np.zeros(n, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, negative / total, np.nan)
    for i in range(window, n):
        past = total[i - window:i]
        volume = total[i] > past.mean() + 3 * past.std() and total[i] >= cfg.min_mentions
        past_share = share[i - window:i]
        past_share = past_share[~np.isnan(past_share)]
        sour = (len(past_share) > 1 and total[i] > 0 and share[i] > past_share.mean() + 3 * past_share.std()
                and negative[i] >= cfg.min_mentions)
        flags[i] = volume or sour
    return flags


def starts_with_cooldown(flags: np.ndarray, cooldown: int) -> list[int]:
    """First hour of each run of flagged hours, runs separated by more than `cooldown` hours."""
    starts, last = [], -10**9
    for i in np.flatnonzero(flags):
        if i - last > cooldown:
            starts.append(int(i))
        last = int(i)
    return starts


def hour_index(at: datetime) -> int:
    return int((at - START) / timedelta(hours=1))
