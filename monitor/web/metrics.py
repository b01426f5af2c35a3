"""How well the care team handles alerts: response and resolution times, noise, volume.

Computed from the handling times the store keeps on each alert (`first_response_at`,
`resolved_at`, `dismissed_at`), over the alerts *created* in the window, so a number
never changes meaning with the day it is looked at: "of last week's alerts, how fast
did we respond, how many did we resolve, how many were noise".
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from monitor.models import AlertState
from monitor.store import Store
from monitor.web.schemas import DayCount, MetricsOut


def _minutes(start: datetime, end: datetime | None) -> float | None:
    # A clock that runs behind the data (a replay from the future) must not give negative times.
    return None if end is None else max((end - start).total_seconds() / 60, 0.0)


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 1) if values else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class Handled(Protocol):
    """What the metrics read of an alert: an `Alert`, or the store's `AlertHandling` of one."""

    @property
    def state(self) -> AlertState: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def first_response_at(self) -> datetime | None: ...
    @property
    def resolved_at(self) -> datetime | None: ...


def compute_metrics(alerts: Sequence[Handled], since: datetime, until: datetime) -> MetricsOut:
    """Metrics over `alerts` (those created in [since, until)).

    * time to first response: created -> the first action by a person (acknowledge,
      assign, note, resolve or dismiss), over the alerts that got one;
    * time to resolve: created -> resolved, over the alerts resolved now;
    * resolution rate: resolved / the alerts that were not dismissed (noise is not a
      problem to solve); dismissed share: dismissed / all alerts;
    * alerts per day: all alerts / the window's days, and the count for each UTC day.
    """
    states = Counter(a.state for a in alerts)
    responses = [m for a in alerts if (m := _minutes(a.created_at, a.first_response_at)) is not None]
    resolves = [
        m for a in alerts
        if a.state == AlertState.resolved and (m := _minutes(a.created_at, a.resolved_at)) is not None
    ]
    days = max((until - since).total_seconds() / 86400, 1e-9)
    per_day = Counter(a.created_at.astimezone(UTC).date() for a in alerts)
    first, last = since.astimezone(UTC).date(), (until - timedelta(microseconds=1)).astimezone(UTC).date()
    series = [DayCount(day=first + timedelta(days=i), alerts=per_day.get(first + timedelta(days=i), 0))
              for i in range((last - first).days + 1)]
    total, dismissed, resolved = len(alerts), states[AlertState.dismissed], states[AlertState.resolved]
    return MetricsOut(
        days=round(days, 3), since=since, until=until, alerts=total,
        alerts_per_day=round(total / days, 2),
        open=states[AlertState.open], acknowledged=states[AlertState.acknowledged],
        resolved=resolved, dismissed=dismissed, responded=len(responses),
        median_first_response_minutes=_median(responses), mean_first_response_minutes=_mean(responses),
        median_resolve_minutes=_median(resolves), mean_resolve_minutes=_mean(resolves),
        resolution_rate=_share(resolved, total - dismissed), dismissed_share=_share(dismissed, total),
        per_day=series,
    )


def metrics_window(store: Store, days: int, now: datetime) -> MetricsOut:
    """The last `days` days up to `now`, or to the newest data if a replay runs ahead of the clock."""
    latest = store.latest_observation()
    until = max(now, latest + timedelta(microseconds=1)) if latest else now
    since = until - timedelta(days=days)
    return compute_metrics(store.alert_handling(since, until), since, until)


def duration(minutes: float | None) -> str:
    """`42 min`, `3 h 5 min`, `2 d 4 h`: how the page shows a duration."""
    if minutes is None:
        return "—"
    if minutes < 1:
        return "< 1 min"
    if minutes < 60:
        return f"{minutes:.0f} min"
    hours, mins = divmod(round(minutes), 60)
    if hours < 24:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
