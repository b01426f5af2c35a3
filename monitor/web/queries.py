"""Read-side helpers shared by the HTML pages and the JSON API.

Both surfaces must agree on what "the inbox", "the trend window" and "the stats"
mean; keeping those definitions here means the page and the API can never drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from monitor.models import Alert, AlertState, EngagementSnapshot
from monitor.store import Store, TrendPoint
from monitor.web.schemas import AlertOut, StatsOut

# `/api/alerts` filters the alerts it reads in Python (per alert, not per case); this bounds that read.
COUNT_LIMIT = 100_000


def with_mentions(store: Store, alerts: Sequence[Alert]) -> list[AlertOut]:
    """Attach each alert's mention, fetched in one store call instead of one per alert."""
    mentions = store.get_mentions(a.mention_id for a in alerts if a.mention_id)
    return [AlertOut(**a.model_dump(), mention=mentions.get(a.mention_id)) for a in alerts]


def count_by_state(store: Store) -> dict[AlertState, int]:
    """Counted by the store (it used to load every alert to count them, on every page)."""
    return store.count_alerts_by_state()


def now_for(store: Store) -> datetime:
    """The pipeline's notion of now (newest snapshot), so replayed demo data is not "days ago"."""
    return store.latest_observation() or datetime.now(UTC)


def stats(store: Store) -> StatsOut:
    counts = count_by_state(store)
    return StatsOut(
        mentions=store.count_mentions(),
        snapshots=store.count_snapshots(),
        alerts=counts,
        open_alerts=counts[AlertState.open],
        latest_observation=store.latest_observation(),
    )


@dataclass(frozen=True)
class TrendWindow:
    hours: int
    since: datetime
    until: datetime
    points: list[TrendPoint]


def trend_window(store: Store, hours: int) -> TrendWindow:
    until = now_for(store)
    since = (until - timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return TrendWindow(hours, since, until, store.trend(since))


def engagement_series(snapshots: Sequence[EngagementSnapshot]) -> list[tuple[datetime, int]]:
    return [(s.observed_at, s.engagement.total) for s in snapshots]
