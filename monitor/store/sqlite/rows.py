"""Earshot's records as SQLite rows, and back: timestamps, column lists, row converters.

Timestamps are one fixed-width UTC text format, so text order is time order in SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from monitor.models import Alert, AlertEvent, Engagement, EngagementSnapshot, Mention, Sentiment
from monitor.store.base import record_head

Row = Mapping[str, Any]  # a sqlite3.Row, or an OldRow

# What one bad row raises, as opposed to a failing database (disk full, locked), which must
# fail the batch rather than set every row of it aside.
RECORD_ERRORS = (UnicodeEncodeError, OverflowError, ValueError, sqlite3.IntegrityError, sqlite3.InterfaceError)

# When the care team responded to, acknowledged, resolved and dismissed an alert.
HANDLING_TIMES = ("first_response_at", "acknowledged_at", "resolved_at", "dismissed_at")

# A mention's row but for `first_seen_at`, which the store sets as it stores the row: what
# `mention_row` gives and a packed batch carries (packed.py).
MENTION_ROW_FIELDS = (
    "id", "source", "native_id", "url", "author_handle", "author_followers", "text", "title", "lang", "created_at",
    "brand", "query", "engagement", "rating", "app_version", "sentiment_label", "sentiment_score", "sentiment_model",
    "topic", "team", "engagement_known", "refers_to", "author_verified", "nsfw", "removed", "removed_at",
)
# A `mention_row` and then its first_seen_at (`mention_values`).
MENTION_COLUMNS = (f"({', '.join(MENTION_ROW_FIELDS)}, first_seen_at)"
                   f" VALUES ({','.join('?' * (len(MENTION_ROW_FIELDS) + 1))})")
ALERT_COLUMNS = (
    "(id, mention_id, brand, severity, created_at, reason, velocity_per_min, baseline_per_min, state, kind, topic,"
    " team, assignee, " + ", ".join(HANDLING_TIMES) + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


def ts(value: datetime) -> str:
    """Fixed-width UTC text (`2026-03-02T09:00:00.000000Z`); isoformat, several times faster than strftime."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" off: written a million times a run


def parse_ts(value: str) -> datetime:
    """The inverse of `ts`. fromisoformat, not strptime: it is some 40 times faster, and reading a
    week of alerts for the metrics parses tens of thousands of these on every page."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {record_head(str(exc), 160)}"


def storable_text(value: str) -> str:
    """Quarantine fields as storable text even when they quote the undecodable input."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


class OldRow(dict):
    """A row read for export, where a column the file does not have yet (a file written by an
    older Earshot) reads as its default, as the store would read it after its migration."""

    DEFAULTS: dict[str, Any] = {"kind": "spread", "engagement_known": 1, "nsfw": 0}  # the columns' defaults

    def __missing__(self, key: str) -> Any:
        return self.DEFAULTS.get(key)


ROW_TEXT = MENTION_ROW_FIELDS.index("text")
ROW_ENGAGEMENT = MENTION_ROW_FIELDS.index("engagement")


def mention_row(m: Mention) -> tuple[Any, ...]:
    """The values of MENTION_ROW_FIELDS: everything the row holds but when the store first saw it."""
    return (
        m.id, m.source, m.native_id, m.url, m.author_handle, m.author_followers,
        m.text, m.title, m.lang, ts(m.created_at), m.brand, m.query,
        m.engagement.model_dump_json(), m.rating, m.app_version,
        m.sentiment.label.value if m.sentiment else None,
        m.sentiment.score if m.sentiment else None,
        m.sentiment.model if m.sentiment else None,
        m.topic, m.team, int(m.engagement_known), m.refers_to,
        None if m.author_verified is None else int(m.author_verified),
        int(m.nsfw), m.removed, ts(m.removed_at) if m.removed_at else None,
    )


def mention_values(m: Mention, first_seen_at: datetime) -> tuple[Any, ...]:
    """The values of MENTION_COLUMNS: the mention's row with the time the store first saw it (an
    import keeps the exported one)."""
    return (*mention_row(m), ts(first_seen_at))


def reading_row(s: EngagementSnapshot) -> tuple[str, str, str]:
    """A snapshot as the values of its row: post, time, engagement JSON."""
    return (s.mention_id, ts(s.observed_at), s.engagement.model_dump_json())


def alert_values(a: Alert) -> tuple[object, ...]:
    """The values of ALERT_COLUMNS: the alert with its handling."""
    return (
        a.id, a.mention_id, a.brand, a.severity.value, ts(a.created_at), a.reason, a.velocity_per_min,
        a.baseline_per_min, a.state.value, a.kind.value, a.topic, a.team, a.assignee,
        *(ts(v) if (v := getattr(a, name)) else None for name in HANDLING_TIMES),
    )


def mention_from_row(row: Row) -> Mention:
    sentiment = None
    if row["sentiment_label"] is not None:
        sentiment = Sentiment(label=row["sentiment_label"], score=row["sentiment_score"], model=row["sentiment_model"])
    return Mention(
        id=row["id"], source=row["source"], native_id=row["native_id"], url=row["url"],
        author_handle=row["author_handle"], author_followers=row["author_followers"],
        text=row["text"], title=row["title"], lang=row["lang"],
        created_at=parse_ts(row["created_at"]), brand=row["brand"], query=row["query"],
        engagement=Engagement.model_validate_json(row["engagement"]), rating=row["rating"],
        app_version=row["app_version"], sentiment=sentiment, topic=row["topic"], team=row["team"],
        engagement_known=bool(_column(row, "engagement_known", 1)), refers_to=_column(row, "refers_to"),
        author_verified=None if (v := _column(row, "author_verified")) is None else bool(v),
        nsfw=bool(_column(row, "nsfw", 0)), removed=_column(row, "removed"),
        removed_at=parse_ts(r) if (r := _column(row, "removed_at")) else None,
    )


def _column(row: Row, name: str, default: Any = None) -> Any:
    """A column added by issue 17; a row read with an explicit column list may lack it."""
    try:
        value = row[name]
    except (KeyError, IndexError):
        return default
    return default if value is None and default is not None else value


def snapshot_from_row(row: Row) -> EngagementSnapshot:
    return EngagementSnapshot(
        mention_id=row["mention_id"],
        observed_at=parse_ts(row["observed_at"]),
        engagement=Engagement.model_validate_json(row["engagement"]),
    )


def alert_from_row(row: Row) -> Alert:
    return Alert(
        id=row["id"], kind=row["kind"], mention_id=row["mention_id"], brand=row["brand"],
        severity=row["severity"], created_at=parse_ts(row["created_at"]), reason=row["reason"],
        velocity_per_min=row["velocity_per_min"], baseline_per_min=row["baseline_per_min"],
        state=row["state"], topic=row["topic"], team=row["team"], assignee=row["assignee"],
        **{name: parse_ts(row[name]) if row[name] else None for name in HANDLING_TIMES},
    )


def event_from_row(row: Row) -> AlertEvent:
    return AlertEvent(
        id=row["id"], alert_id=row["alert_id"], at=parse_ts(row["at"]), actor=row["actor"], kind=row["kind"],
        from_state=row["from_state"], to_state=row["to_state"], assignee=row["assignee"], text=row["text"],
    )


def insert_event(db: sqlite3.Connection, event: AlertEvent, verb: str = "INSERT") -> int:
    """Append `event` to the trail (`INSERT OR IGNORE`: unless it is there); the rows added."""
    cur = db.execute(
        f"{verb} INTO alert_events (id, alert_id, at, actor, kind, from_state, to_state, assignee, text)"
        " VALUES (?,?,?,?,?,?,?,?,?)",
        (event.id, event.alert_id, ts(event.at), event.actor, event.kind.value,
         event.from_state.value if event.from_state else None,
         event.to_state.value if event.to_state else None, event.assignee, event.text),
    )
    return cur.rowcount


def write_handling(db: sqlite3.Connection, alert: Alert) -> None:
    """Persist an alert's handling: state, assignee and handling times (the rest is the detector's)."""
    db.execute(
        "UPDATE alerts SET state = ?, assignee = ?, " + ", ".join(f"{n} = ?" for n in HANDLING_TIMES) + " WHERE id = ?",
        (alert.state.value, alert.assignee, *(ts(v) if (v := getattr(alert, n)) else None for n in HANDLING_TIMES),
         alert.id),
    )
