"""Records: what one store exports and another imports, so a copy goes through the protocol.

`earshot reindex` copies a SQLite store into Elasticsearch. It used to read SQLite's
tables and write Elasticsearch's documents itself, reaching into both stores' private
parts. Now each store says what it holds in these plain records (`Store.export_records`)
and stores what another one exported (`Store.import_records`); neither knows the other.

A record is a model (`Mention`, `Alert`, ...) plus what a store keeps beside it that the
model does not say but a faithful copy needs: when a mention was first seen, which
channels have an alert, the order events were recorded in. Records are copied as they are,
never re-derived, so an import is idempotent (the same record twice changes nothing) and
the copy reads back like the original.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from monitor.models import Alert, AlertEvent, EngagementSnapshot, Mention


class RecordKind(StrEnum):
    mentions = "mentions"
    snapshots = "snapshots"
    alerts = "alerts"
    deliveries = "deliveries"
    cursors = "cursors"
    alert_events = "alert_events"


# The order to copy in: what a record refers to comes before it (a snapshot's mention, an event's alert).
# Delivery claims (a sender's lease for a few minutes) and quarantined records are not copied.
RECORD_KINDS: tuple[RecordKind, ...] = tuple(RecordKind)


@dataclass(frozen=True)
class MentionRecord:
    mention: Mention
    first_seen_at: datetime
    engagement_observed_at: datetime | None = None  # when `mention.engagement` was observed (its newest snapshot)

    @property
    def key(self) -> str:
        return self.mention.id


@dataclass(frozen=True)
class SnapshotRecord:
    snapshot: EngagementSnapshot
    brand: str | None = None  # of its mention (None: a snapshot of a mention the store does not have)
    source: str | None = None

    @property
    def key(self) -> str:
        return f"{self.snapshot.mention_id}@{self.snapshot.observed_at.isoformat()}"


@dataclass(frozen=True)
class AlertRecord:
    alert: Alert  # with its state, assignee and handling times
    delivered_to: tuple[str, ...] = ()  # channels that have it (each also has a DeliveryRecord)

    @property
    def key(self) -> str:
        return self.alert.id


@dataclass(frozen=True)
class DeliveryRecord:
    alert_id: str
    channel: str
    delivered_at: datetime

    @property
    def key(self) -> str:
        return f"{self.channel}/{self.alert_id}"


@dataclass(frozen=True)
class CursorRecord:
    key: str
    value: str
    updated_at: datetime


@dataclass(frozen=True)
class EventRecord:
    """An entry of the append-only audit trail: imported only if absent, never overwritten."""

    event: AlertEvent
    brand: str | None = None  # the alert's
    seq: int | None = None  # the order of recording among events at the same time, in the exporting store

    @property
    def key(self) -> str:
        return self.event.id


Record = MentionRecord | SnapshotRecord | AlertRecord | DeliveryRecord | CursorRecord | EventRecord

RECORD_TYPES: dict[RecordKind, type] = {
    RecordKind.mentions: MentionRecord,
    RecordKind.snapshots: SnapshotRecord,
    RecordKind.alerts: AlertRecord,
    RecordKind.deliveries: DeliveryRecord,
    RecordKind.cursors: CursorRecord,
    RecordKind.alert_events: EventRecord,
}

EXPORT_PAGE = 1000  # records per page, unless the caller asks otherwise


@dataclass(frozen=True)
class RecordExport:
    """The records of one kind, page by page; read lazily, so a large store is never in memory at once."""

    kind: RecordKind
    total: int  # how many there were when the export began: a progress bar's end
    pages: Iterator[list[Record]]

    def records(self) -> Iterator[Record]:
        for page in self.pages:
            yield from page


@dataclass(frozen=True)
class ImportResult:
    stored: int  # records written, or found already there (the audit trail's are never overwritten)
    failures: list[str] = field(default_factory=list)  # one line per record that could not be stored, naming it


def checked(kind: RecordKind, records: Iterable[Record]) -> Iterator[Record]:
    """`records`, refusing one of another kind: a wrong record must fail before it is half-copied."""
    expected = RECORD_TYPES[kind]
    for record in records:
        if not isinstance(record, expected):
            raise TypeError(f"{kind} takes {expected.__name__} records, not {type(record).__name__}")
        yield record


def pages_of(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    page: list[Record] = []
    for record in records:
        page.append(record)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page
