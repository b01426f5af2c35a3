"""The Elasticsearch store's side of a copy between stores: records out, records in.

Import writes every document with its deterministic `_id` as an `index` operation, so the
exporting store's version wins and importing twice changes nothing, except the audit trail,
which is append-only here too: its events are written with `create`, and one already there
(a 409) is left as it is. Documents are bulk-written without a refresh, and the kind's
indices are refreshed once when its import ends, which is what makes a large copy fast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from monitor.store.elasticsearch import docs
from monitor.store.elasticsearch import queries as q
from monitor.store.elasticsearch.bulk import bulk_write
from monitor.store.elasticsearch.indices import IndexClient
from monitor.store.records import (
    EXPORT_PAGE,
    AlertRecord,
    CursorRecord,
    DeliveryRecord,
    EventRecord,
    ImportResult,
    MentionRecord,
    Record,
    RecordExport,
    RecordKind,
    SnapshotRecord,
    checked,
    pages_of,
)

Action = dict[str, Any]

# How each kind is read back in a stable order, for paging with search_after.
DELIVERIES_IN_ORDER: list[dict[str, Any]] = [
    {"delivered_at": {"order": "asc"}}, {"alert_id": {"order": "asc"}}, {"channel": {"order": "asc"}},
]
CURSORS_IN_ORDER: list[dict[str, Any]] = [{"key": {"order": "asc"}}]


class Records(IndexClient):
    """`export_records` / `import_records`: how `earshot reindex` copies a store into this one."""

    def export_records(self, kind: RecordKind, page_size: int = EXPORT_PAGE) -> RecordExport:
        kind = RecordKind(kind)
        total = self._count(kind.value)
        return RecordExport(kind, total, pages_of(self._export(kind), page_size))

    def _export(self, kind: RecordKind) -> Iterator[Record]:
        if kind == RecordKind.alert_events:
            yield from self._export_events()
            return
        index, sort, record = {
            RecordKind.mentions: (self.names.pattern("mentions"), q.MENTIONS_BY_TIME, _mention_record),
            RecordKind.snapshots: (self.names.pattern("snapshots"), q.SNAPSHOTS_BY_TIME, _snapshot_record),
            RecordKind.alerts: (self.names.index("alerts"), q.ALERTS_OLDEST_FIRST, _alert_record),
            RecordKind.deliveries: (self.names.index("deliveries"), DELIVERIES_IN_ORDER, _delivery_record),
            RecordKind.cursors: (self.names.index("cursors"), CURSORS_IN_ORDER, _cursor_record),
        }[kind]
        for hit in self._hits(index, q.match_all(), sort):
            yield record(hit["_source"])

    def _export_events(self) -> Iterator[EventRecord]:
        """The trail index, then the events applied but not copied into it yet (in their alert's
        `last_event`, as `alert_events` reads them), so a copy loses none."""
        seen: set[str] = set()
        for hit in self._hits(self.names.index("alert_events"), q.match_all(), q.EVENTS_OLDEST_FIRST):
            seen.add(hit["_source"]["id"])
            yield _event_record(hit["_source"])
        alerts = self._hits(self.names.index("alerts"), q.match_all(), q.ALERTS_OLDEST_FIRST,
                            seq_no_primary_term=True, source_includes=["last_event"])
        for hit in alerts:
            pending = hit["_source"].get("last_event")
            if pending and pending["id"] not in seen:
                yield _event_record({**pending, "seq": hit["_seq_no"]})

    def import_records(self, kind: RecordKind, records: Iterable[Record]) -> ImportResult:
        kind = RecordKind(kind)
        action: Callable[[Any], Action] = {
            RecordKind.mentions: self._copy_mention,
            RecordKind.snapshots: self._copy_snapshot,
            RecordKind.alerts: self._copy_alert,
            RecordKind.deliveries: self._copy_delivery,
            RecordKind.cursors: self._copy_cursor,
            RecordKind.alert_events: self._copy_event,
        }[kind]
        count = 0

        def actions() -> Iterator[Action]:
            nonlocal count
            for record in checked(kind, records):
                count += 1
                yield action(record)

        outcome = bulk_write(self.client, actions(), refresh=False, retry=self.retry)
        failed = list(outcome.failed)
        if kind != RecordKind.alert_events:  # there a conflict is an event imported before
            failed += outcome.conflicts
        self.client.indices.refresh(index=self.names.pattern(kind.value), allow_no_indices=True,
                                    ignore_unavailable=True)
        return ImportResult(count - len(failed), [item.describe() for item in failed])

    def _copy_mention(self, record: MentionRecord) -> Action:
        doc = docs.mention_doc(record.mention, record.first_seen_at)
        if record.engagement_observed_at is not None:
            doc["engagement_observed_at"] = docs.iso(record.engagement_observed_at)
        index = self._ensure_monthly("mentions", record.mention.created_at)
        return {"_op_type": "index", "_index": index, "_id": record.mention.id, "_source": doc}

    def _copy_snapshot(self, record: SnapshotRecord) -> Action:
        snapshot = record.snapshot
        doc = docs.snapshot_doc(snapshot, brand=record.brand, source=record.source)
        index = self._ensure_monthly("snapshots", snapshot.observed_at)
        return {"_op_type": "index", "_index": index, "_id": docs.snapshot_id(snapshot), "_source": doc}

    def _copy_alert(self, record: AlertRecord) -> Action:
        doc = docs.alert_doc(record.alert)
        doc["delivered_to"] = sorted(record.delivered_to)
        return {"_op_type": "index", "_index": self.names.index("alerts"), "_id": docs.safe_id(record.alert.id),
                "_source": doc}

    def _copy_delivery(self, record: DeliveryRecord) -> Action:
        return {"_op_type": "index", "_index": self.names.index("deliveries"),
                "_id": docs.delivery_id(record.alert_id, record.channel),
                "_source": docs.delivery_doc(record.alert_id, record.channel, record.delivered_at)}

    def _copy_cursor(self, record: CursorRecord) -> Action:
        return {"_op_type": "index", "_index": self.names.index("cursors"), "_id": docs.safe_id(record.key),
                "_source": docs.cursor_doc(record.key, record.value, record.updated_at)}

    def _copy_event(self, record: EventRecord) -> Action:
        """`create`, never `index`: the trail is append-only. `seq` is the exporting store's,
        which orders the events recorded at the same time as it did."""
        doc = {**docs.event_doc(record.event, brand=record.brand, recorded_at=None), "seq": record.seq}
        return {"_op_type": "create", "_index": self.names.index("alert_events"), "_id": docs.safe_id(record.event.id),
                "_source": doc}


def _mention_record(doc: dict[str, Any]) -> MentionRecord:
    observed = doc.get("engagement_observed_at")
    return MentionRecord(docs.mention_from_doc(doc), docs.parse_iso(doc["first_seen_at"]),
                         docs.parse_iso(observed) if observed else None)


def _snapshot_record(doc: dict[str, Any]) -> SnapshotRecord:
    return SnapshotRecord(docs.snapshot_from_doc(doc), brand=doc.get("brand"), source=doc.get("source"))


def _alert_record(doc: dict[str, Any]) -> AlertRecord:
    return AlertRecord(docs.alert_from_doc(doc), tuple(doc.get("delivered_to") or ()))


def _delivery_record(doc: dict[str, Any]) -> DeliveryRecord:
    return DeliveryRecord(doc["alert_id"], doc["channel"], docs.parse_iso(doc["delivered_at"]))


def _cursor_record(doc: dict[str, Any]) -> CursorRecord:
    return CursorRecord(doc["key"], doc["value"], docs.parse_iso(doc["updated_at"]))


def _event_record(doc: dict[str, Any]) -> EventRecord:
    seq = doc.get("seq")
    return EventRecord(docs.event_from_doc(doc), brand=doc.get("brand"), seq=seq if isinstance(seq, int) else None)
