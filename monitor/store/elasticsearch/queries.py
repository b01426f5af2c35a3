"""Search bodies the Elasticsearch store sends, and the parsing of what comes back.

Pure functions, unit-tested without a server. Every list query sorts on a total order
(a time field, then a unique keyword) so `search_after` paging never skips or repeats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from monitor.store.base import TrendPoint
from monitor.store.elasticsearch.docs import iso

UNSCORED = "unscored"

MENTIONS_BY_TIME: list[dict[str, Any]] = [{"created_at": {"order": "asc"}}, {"id": {"order": "asc"}}]
SNAPSHOTS_BY_TIME: list[dict[str, Any]] = [{"observed_at": {"order": "asc"}}, {"mention_id": {"order": "asc"}}]
SNAPSHOTS_NEWEST_FIRST: list[dict[str, Any]] = [{"observed_at": {"order": "desc"}}, {"mention_id": {"order": "desc"}}]
ALERTS_OLDEST_FIRST: list[dict[str, Any]] = [{"created_at": {"order": "asc"}}, {"id": {"order": "asc"}}]
ALERTS_NEWEST_FIRST: list[dict[str, Any]] = [{"created_at": {"order": "desc"}}, {"id": {"order": "asc"}}]
# The audit trail: by time, then in the order recorded (`seq`), then by the unique id.
EVENTS_OLDEST_FIRST: list[dict[str, Any]] = [
    {"at": {"order": "asc"}}, {"seq": {"order": "asc"}}, {"id": {"order": "asc"}},
]


def match_all() -> dict[str, Any]:
    return {"match_all": {}}


def ids(values: Sequence[str]) -> dict[str, Any]:
    return {"ids": {"values": list(values)}}


def terms(field: str, values: Sequence[str]) -> dict[str, Any]:
    return {"terms": {field: list(values)}}


def term(field: str, value: str) -> dict[str, Any]:
    return {"term": {field: value}}


def since(field: str, when: datetime) -> dict[str, Any]:
    return {"range": {field: {"gte": iso(when)}}}


def between(field: str, start: datetime, end: datetime) -> dict[str, Any]:
    """`start` <= field < `end`."""
    return {"range": {field: {"gte": iso(start), "lt": iso(end)}}}


def unscored() -> dict[str, Any]:
    """Mentions the sentiment model has not scored yet."""
    return {"bool": {"must_not": [{"exists": {"field": "sentiment.label"}}]}}


def not_delivered_to(channel: str) -> dict[str, Any]:
    """The outbox of one channel: alerts whose `delivered_to` lacks it."""
    return {"bool": {"must_not": [term("delivered_to", channel)]}}


def alerts_in_states(states: Sequence[str] | None) -> dict[str, Any]:
    return terms("state", states) if states else match_all()


def trend_aggregation(page_size: int = 1000, bucket_minutes: int = 60) -> dict[str, Any]:
    """Mentions per bucket x brand x source x sentiment label: a composite date_histogram + terms aggregation.

    Composite (rather than nested buckets) because it pages with `after`, so a long window
    never trips `search.max_buckets`. `missing_bucket` keeps unscored mentions (label null).
    """
    interval = "1h" if bucket_minutes == 60 else f"{bucket_minutes}m"
    return {
        "trend": {
            "composite": {
                "size": page_size,
                "sources": [
                    {"hour": {"date_histogram": {"field": "created_at", "fixed_interval": interval,
                                                 "time_zone": "UTC"}}},
                    {"brand": {"terms": {"field": "brand"}}},
                    {"source": {"terms": {"field": "source"}}},
                    {"label": {"terms": {"field": "sentiment.label", "missing_bucket": True}}},
                ],
            }
        }
    }


def trend_query(start: datetime | None, brand: str | None = None) -> dict[str, Any]:
    filters = []
    if start is not None:
        filters.append(since("created_at", start))
    if brand is not None:
        filters.append(term("brand", brand))
    return {"bool": {"filter": filters}} if filters else match_all()


def source_since(source: str, start: datetime) -> dict[str, Any]:
    """A source's mentions created at or after `start` (recent_mentions)."""
    return {"bool": {"filter": [term("source", source), since("created_at", start)]}}


MENTIONS_NEWEST_FIRST: list[dict[str, Any]] = [{"created_at": {"order": "desc"}}, {"id": {"order": "asc"}}]


def parse_trend(response: Mapping[str, Any]) -> tuple[list[TrendPoint], dict[str, Any] | None]:
    """The points of one composite page, and the `after` key of the next page (None when done)."""
    agg = (response.get("aggregations") or {}).get("trend") or {}
    points = [
        TrendPoint(
            bucket=datetime.fromtimestamp(bucket["key"]["hour"] / 1000, UTC),
            source=bucket["key"]["source"],
            label=bucket["key"]["label"] or UNSCORED,
            count=bucket["doc_count"],
            brand=bucket["key"]["brand"],
        )
        for bucket in agg.get("buckets", [])
    ]
    after = agg.get("after_key") if agg.get("buckets") else None
    return points, after
