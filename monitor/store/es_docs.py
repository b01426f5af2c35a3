"""Earshot's records as Elasticsearch documents, and back.

Pure functions: no client here. Timestamps are written as fixed-width UTC ISO strings
with microseconds, so `_source` round-trips a datetime exactly (the `date` fields index
them at millisecond precision, which is what ranges and sorts use).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from monitor.models import Alert, AlertState, Engagement, EngagementSnapshot, Mention, Sentiment

MAX_ID_BYTES = 512  # Elasticsearch's limit on `_id`


def iso(value: datetime) -> str:
    """`2026-01-01T10:00:00.000000Z`; isoformat pads the year, so datetime.min works too."""
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def safe_id(value: str) -> str:
    """A deterministic `_id`; the rare one longer than Elasticsearch allows is hashed."""
    if len(value.encode("utf-8")) <= MAX_ID_BYTES:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()


def engagement_doc(engagement: Engagement) -> dict[str, int]:
    return {**engagement.model_dump(), "total": engagement.total}


def engagement_from_doc(doc: Mapping[str, Any]) -> Engagement:
    return Engagement.model_validate({k: v for k, v in doc.items() if k != "total"})


def sentiment_doc(sentiment: Sentiment | None) -> dict[str, Any] | None:
    if sentiment is None:
        return None
    return {"label": sentiment.label.value, "score": sentiment.score, "model": sentiment.model}


# -- mentions -----------------------------------------------------------------


def mention_doc(mention: Mention, first_seen_at: datetime) -> dict[str, Any]:
    if not isinstance(mention, Mention):
        raise TypeError(f"expected a Mention, got {type(mention).__name__}")
    return {
        "id": mention.id,
        "source": mention.source,
        "native_id": mention.native_id,
        "url": mention.url,
        "author_handle": mention.author_handle,
        "author_followers": mention.author_followers,
        "text": mention.text,
        "title": mention.title,
        "lang": mention.lang,
        "created_at": iso(mention.created_at),
        "brand": mention.brand,
        "query": mention.query,
        "engagement": engagement_doc(mention.engagement),
        "engagement_observed_at": None,
        "rating": mention.rating,
        "app_version": mention.app_version,
        "sentiment": sentiment_doc(mention.sentiment),
        "first_seen_at": iso(first_seen_at),
    }


def refetch_update(mention: Mention) -> dict[str, Any]:
    """What a re-fetch changes on a stored mention; its sentiment and first-seen time stay."""
    if not isinstance(mention, Mention):
        raise TypeError(f"expected a Mention, got {type(mention).__name__}")
    return {
        "engagement": engagement_doc(mention.engagement),
        "author_followers": mention.author_followers,
        "url": mention.url,
    }


def mention_from_doc(doc: Mapping[str, Any]) -> Mention:
    sentiment = doc.get("sentiment")
    return Mention(
        id=doc["id"], source=doc["source"], native_id=doc["native_id"], url=doc["url"],
        author_handle=doc["author_handle"], author_followers=doc["author_followers"], text=doc["text"],
        title=doc.get("title"), lang=doc.get("lang"), created_at=parse_iso(doc["created_at"]),
        brand=doc["brand"], query=doc["query"], engagement=engagement_from_doc(doc["engagement"]),
        rating=doc.get("rating"), app_version=doc.get("app_version"),
        sentiment=Sentiment.model_validate(sentiment) if sentiment and sentiment.get("label") else None,
    )


# -- snapshots ----------------------------------------------------------------


def snapshot_id(snapshot: EngagementSnapshot) -> str:
    """(mention_id, observed_at) is the snapshot's identity, as in SQLite's primary key."""
    return safe_id(f"{snapshot.mention_id}@{iso(snapshot.observed_at)}")


def snapshot_doc(snapshot: EngagementSnapshot, brand: str | None = None, source: str | None = None) -> dict[str, Any]:
    if not isinstance(snapshot, EngagementSnapshot):
        raise TypeError(f"expected an EngagementSnapshot, got {type(snapshot).__name__}")
    return {
        "mention_id": snapshot.mention_id,
        "observed_at": iso(snapshot.observed_at),
        "engagement": engagement_doc(snapshot.engagement),
        "brand": brand,
        "source": source,
    }


def snapshot_from_doc(doc: Mapping[str, Any]) -> EngagementSnapshot:
    return EngagementSnapshot(
        mention_id=doc["mention_id"], observed_at=parse_iso(doc["observed_at"]),
        engagement=engagement_from_doc(doc["engagement"]),
    )


# -- alerts -------------------------------------------------------------------

ALERT_FIELDS = tuple(Alert.model_fields)


def alert_doc(alert: Alert) -> dict[str, Any]:
    if not isinstance(alert, Alert):
        raise TypeError(f"expected an Alert, got {type(alert).__name__}")
    doc: dict[str, Any] = alert.model_dump(mode="json")
    doc["created_at"] = iso(alert.created_at)
    doc.update(
        updated_at=doc["created_at"], first_response_at=None, acknowledged_at=None, resolved_at=None,
        dismissed_at=None, time_to_first_response_minutes=None, time_to_resolve_minutes=None, delivered_to=[],
    )
    # An alert copied already handled (earshot reindex) keeps its state; when it was
    # handled is unknown, so its handling timestamps stay empty rather than made up.
    return doc


def alert_from_doc(doc: Mapping[str, Any]) -> Alert:
    return Alert.model_validate({name: doc.get(name) for name in ALERT_FIELDS if name in doc})


def _minutes_between(start: str, end: datetime) -> float:
    return round((end - parse_iso(start)).total_seconds() / 60, 3)


def state_change(doc: Mapping[str, Any], state: AlertState, now: datetime) -> dict[str, Any]:
    """The partial update that moves an alert to `state` at `now`, with its handling timestamps.

    First response = the first time the alert leaves `open` (acknowledged, resolved or
    dismissed); time to resolve = created to resolved. Re-opening clears the resolution,
    keeping the first response: it did happen.
    """
    stamp = iso(now)
    change: dict[str, Any] = {"state": state.value, "updated_at": stamp}
    if state != AlertState.open and not doc.get("first_response_at"):
        change["first_response_at"] = stamp
        change["time_to_first_response_minutes"] = _minutes_between(doc["created_at"], now)
    if state == AlertState.acknowledged and not doc.get("acknowledged_at"):
        change["acknowledged_at"] = stamp
    if state == AlertState.resolved:
        change["resolved_at"] = stamp
        change["time_to_resolve_minutes"] = _minutes_between(doc["created_at"], now)
    if state == AlertState.dismissed:
        change["dismissed_at"] = stamp
    if state == AlertState.open:
        change.update(resolved_at=None, dismissed_at=None, time_to_resolve_minutes=None)
    return change


def add_delivery(doc: Mapping[str, Any], channel: str) -> dict[str, Any] | None:
    """The partial update recording that `channel` has the alert; None if it already had it."""
    delivered = list(doc.get("delivered_to") or [])
    if channel in delivered:
        return None
    return {"delivered_to": [*delivered, channel]}


# -- outbox log and cursors ----------------------------------------------------


def delivery_id(alert_id: str, channel: str) -> str:
    return safe_id(f"{channel}\u241f{alert_id}")  # U+241F SYMBOL FOR UNIT SEPARATOR: in no channel name


def delivery_doc(alert_id: str, channel: str, now: datetime) -> dict[str, Any]:
    return {"alert_id": alert_id, "channel": channel, "delivered_at": iso(now)}


def cursor_doc(key: str, value: str, now: datetime) -> dict[str, Any]:
    if not isinstance(key, str) or not isinstance(value, str):
        raise TypeError("a cursor key and value are strings")
    return {"key": key, "value": value, "updated_at": iso(now)}
