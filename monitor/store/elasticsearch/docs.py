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

from monitor.models import Alert, AlertEvent, Engagement, EngagementSnapshot, Mention, Reading, Sentiment
from monitor.store.base import REMOVED_AUTHOR, Quarantined, quarantine_digest
from monitor.store.elasticsearch.templates import language_code

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


def language_doc(mention: Any) -> dict[str, Any]:
    """`text_lang`/`title_lang`: the text under the post's own language, for its stemming analyzer.

    A post in a language without an analyzer (or not identified) has only the default field.
    """
    code = language_code(mention.lang)
    if code is None:
        return {}
    return {"text_lang": {code: mention.text}, **({"title_lang": {code: mention.title}} if mention.title else {})}


# A platform's profile page for a handle: what Kibana renders as the author's link.
PROFILE_URLS = {
    "x": "https://x.com/{handle}",
    "reddit": "https://www.reddit.com/user/{handle}",
    "bluesky": "https://bsky.app/profile/{handle}",
}


def author_url(mention: Mention) -> str | None:
    """The author's profile URL, when the platform has one a handle names (Mastodon: user@instance)."""
    handle = mention.author_handle.lstrip("@").strip()
    if not handle or any(c in handle for c in "/ ?#"):
        return None
    if mention.source == "mastodon" and handle.count("@") == 1:
        user, instance = handle.split("@")
        return f"https://{instance}/@{user}" if user and instance else None
    template = PROFILE_URLS.get(mention.source)
    return template.format(handle=handle) if template and "@" not in handle else None


def mention_doc(mention: Mention, first_seen_at: datetime) -> dict[str, Any]:
    if not isinstance(mention, Mention):
        raise TypeError(f"expected a Mention, got {type(mention).__name__}")
    return {
        "@timestamp": iso(mention.created_at),
        "id": mention.id,
        "source": mention.source,
        "native_id": mention.native_id,
        "url": mention.url,
        "author_handle": mention.author_handle,
        "author_url": author_url(mention),
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
        "topic": mention.topic,
        "team": mention.team,
        **language_doc(mention),
        "engagement_known": mention.engagement_known,
        "refers_to": mention.refers_to,
        "author_verified": mention.author_verified,
        "nsfw": mention.nsfw,
        "removed": mention.removed,
        "removed_at": iso(mention.removed_at) if mention.removed_at else None,
    }


def refetch_update(mention: Mention) -> dict[str, Any]:
    """What a re-fetch changes on a stored mention; its sentiment, topic and first-seen time stay."""
    if not isinstance(mention, Mention):
        raise TypeError(f"expected a Mention, got {type(mention).__name__}")
    change: dict[str, Any] = {
        "author_followers": mention.author_followers,
        "url": mention.url,
        "nsfw": mention.nsfw,
    }
    if mention.engagement_known:  # an unknown count never replaces a known one
        change.update(engagement=engagement_doc(mention.engagement), engagement_known=True)
    if mention.author_verified is not None:
        change["author_verified"] = mention.author_verified
    if mention.refers_to is not None:
        change["refers_to"] = mention.refers_to
    return change


def edit_update(mention: Mention) -> dict[str, Any]:
    """An edited post's new text: scored and tagged afresh, so sentiment and topic are cleared."""
    return {"text": mention.text, "title": mention.title, "sentiment": None, "topic": None, "team": None}


def tombstone_update(reason: str, at: datetime) -> dict[str, Any]:
    """What a tombstone keeps: id, source, brand, times, counts, tags and its noise mark; text, author,
    URL and the LSH band keys its text is found by go (a later copy is no copy of a removed post)."""
    return {"text": "", "title": None, "author_handle": REMOVED_AUTHOR, "author_followers": 0, "url": "",
            "refers_to": None, "author_verified": None, "removed": reason, "removed_at": iso(at),
            "noise": {"bands": []}}


def mention_from_doc(doc: Mapping[str, Any]) -> Mention:
    sentiment = doc.get("sentiment")
    return Mention(
        id=doc["id"], source=doc["source"], native_id=doc["native_id"], url=doc["url"],
        author_handle=doc["author_handle"], author_followers=doc["author_followers"], text=doc["text"],
        title=doc.get("title"), lang=doc.get("lang"), created_at=parse_iso(doc["created_at"]),
        brand=doc["brand"], query=doc["query"], engagement=engagement_from_doc(doc["engagement"]),
        rating=doc.get("rating"), app_version=doc.get("app_version"),
        sentiment=Sentiment.model_validate(sentiment) if sentiment and sentiment.get("label") else None,
        topic=doc.get("topic"), team=doc.get("team"),
        engagement_known=doc.get("engagement_known", True) is not False, refers_to=doc.get("refers_to"),
        author_verified=doc.get("author_verified"), nsfw=bool(doc.get("nsfw")), removed=doc.get("removed"),
        removed_at=parse_iso(doc["removed_at"]) if doc.get("removed_at") else None,
    )


def topic_update(topic: str, team: str | None) -> dict[str, Any]:
    return {"topic": topic, "team": team}


# -- snapshots ----------------------------------------------------------------


def snapshot_id(snapshot: EngagementSnapshot) -> str:
    """(mention_id, observed_at) is the snapshot's identity, as in SQLite's primary key."""
    return safe_id(f"{snapshot.mention_id}@{iso(snapshot.observed_at)}")


def snapshot_doc(snapshot: EngagementSnapshot, brand: str | None = None, source: str | None = None) -> dict[str, Any]:
    if not isinstance(snapshot, EngagementSnapshot):
        raise TypeError(f"expected an EngagementSnapshot, got {type(snapshot).__name__}")
    return {
        "@timestamp": iso(snapshot.observed_at),
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


def reading_from_doc(doc: Mapping[str, Any]) -> Reading:
    """A snapshot document as `Reading` (it was validated as an `EngagementSnapshot` when written)."""
    counts = doc["engagement"]
    return Reading(parse_iso(doc["observed_at"]), *(int(counts.get(f) or 0) for f in Reading._fields[1:]))


# -- alerts -------------------------------------------------------------------

ALERT_FIELDS = tuple(Alert.model_fields)
HANDLING_TIMES = ("first_response_at", "acknowledged_at", "resolved_at", "dismissed_at")


def _minutes_between(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else round((end - start).total_seconds() / 60, 3)


def handling_fields(alert: Alert) -> dict[str, Any]:
    """What an alert's handling looks like as document fields: the model's own (state,
    assignee, handling times) plus the derived durations Kibana charts."""
    return {
        "state": alert.state.value,
        "assignee": alert.assignee,
        **{name: iso(value) if (value := getattr(alert, name)) else None for name in HANDLING_TIMES},
        "time_to_first_response_minutes": _minutes_between(alert.created_at, alert.first_response_at),
        "time_to_resolve_minutes": _minutes_between(alert.created_at, alert.resolved_at),
    }


def alert_doc(alert: Alert) -> dict[str, Any]:
    """The document of an alert as it is (a new one, or one copied handled by `earshot reindex`)."""
    if not isinstance(alert, Alert):
        raise TypeError(f"expected an Alert, got {type(alert).__name__}")
    doc: dict[str, Any] = alert.model_dump(mode="json")
    doc["created_at"] = doc["@timestamp"] = iso(alert.created_at)
    doc.update(handling_fields(alert), updated_at=doc["created_at"], delivered_to=[])
    return doc


def alert_from_doc(doc: Mapping[str, Any]) -> Alert:
    return Alert.model_validate({name: doc.get(name) for name in ALERT_FIELDS if name in doc})


def handling_change(doc: Mapping[str, Any], updated: Alert, now: datetime) -> dict[str, Any]:
    """The partial update that turns the stored alert `doc` into `updated`: the handling
    fields that differ (a cleared time is written as null, a derived duration follows its
    time), plus `state` and `updated_at`. What `updated` should be is triage's decision."""
    change = {name: value for name, value in handling_fields(updated).items() if doc.get(name) != value}
    change.update(state=updated.state.value, updated_at=iso(now))
    return change


def add_delivery(doc: Mapping[str, Any], channel: str) -> dict[str, Any] | None:
    """The partial update recording that `channel` has the alert; None if it already had it."""
    delivered = list(doc.get("delivered_to") or [])
    if channel in delivered:
        return None
    return {"delivered_to": [*delivered, channel]}


# -- the triage audit trail -------------------------------------------------------

# Every key, always: the event is also merged into the alert's `last_event` by a partial
# update, which merges objects key by key, so a key left out would keep the previous value.
EVENT_KEYS = ("id", "alert_id", "at", "actor", "kind", "from_state", "to_state", "assignee", "text",
              "recorded_at", "brand")


def event_doc(event: AlertEvent, *, brand: str | None, recorded_at: datetime | None) -> dict[str, Any]:
    """An event as stored in the alert (`last_event`); the `alert_events` copy adds `seq`."""
    if not isinstance(event, AlertEvent):
        raise TypeError(f"expected an AlertEvent, got {type(event).__name__}")
    return {
        "id": event.id,
        "alert_id": event.alert_id,
        "at": iso(event.at),
        "actor": event.actor,
        "kind": event.kind.value,
        "from_state": event.from_state.value if event.from_state else None,
        "to_state": event.to_state.value if event.to_state else None,
        "assignee": event.assignee,
        "text": event.text,
        "recorded_at": iso(recorded_at) if recorded_at else None,
        "brand": brand,
    }


def event_from_doc(doc: Mapping[str, Any]) -> AlertEvent:
    return AlertEvent.model_validate({
        "id": doc["id"], "alert_id": doc["alert_id"], "at": parse_iso(doc["at"]), "actor": doc["actor"],
        "kind": doc["kind"], "from_state": doc.get("from_state"), "to_state": doc.get("to_state"),
        "assignee": doc.get("assignee"), "text": doc.get("text"),
    })


def event_order(doc: Mapping[str, Any]) -> tuple[datetime, int, str]:
    """Oldest first; the same time: in the order recorded."""
    seq = doc.get("seq")
    return parse_iso(doc["at"]), seq if isinstance(seq, int) else -1, doc["id"]


# -- outbox log and cursors ----------------------------------------------------


def delivery_id(alert_id: str, channel: str) -> str:
    return safe_id(f"{channel}\u241f{alert_id}")  # U+241F SYMBOL FOR UNIT SEPARATOR: in no channel name


def delivery_doc(alert_id: str, channel: str, now: datetime) -> dict[str, Any]:
    return {"alert_id": alert_id, "channel": channel, "delivered_at": iso(now)}


def claim_doc(alert_id: str, channel: str, owner: str, until: datetime) -> dict[str, Any]:
    return {"alert_id": alert_id, "channel": channel, "owner": owner, "expires_at": iso(until)}


def quarantine_id(record: Quarantined) -> str:
    return safe_id(f"{record.source}\u241f{record.where}\u241f{quarantine_digest(record)}")


def quarantine_doc(record: Quarantined, now: datetime) -> dict[str, Any]:
    return {"source": record.source, "where": record.where, "reason": record.reason, "head": record.head,
            "at": iso(now)}


def quarantine_from_doc(doc: Mapping[str, Any]) -> Quarantined:
    return Quarantined(doc["source"], doc["where"], doc["reason"], doc.get("head", ""), parse_iso(doc["at"]))


def cursor_doc(key: str, value: str, now: datetime) -> dict[str, Any]:
    if not isinstance(key, str) or not isinstance(value, str):
        raise TypeError("a cursor key and value are strings")
    return {"key": key, "value": value, "updated_at": iso(now)}
