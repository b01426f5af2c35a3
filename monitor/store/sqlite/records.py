"""The SQLite store's side of a copy between stores: records out, records in.

Export reads in keyset pages on rowid, each page one short read, so a large file is never
held or loaded at once; it works on a file opened read-only (`SQLiteStore.read_only`), even
one written by an older Earshot: a table it lacks has no records, a column it lacks reads
as empty. Import replaces what has the same key, so importing twice changes nothing; the
audit trail only ever gains (`INSERT OR IGNORE`, and the triggers forbid the rest).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any

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
from monitor.store.sqlite.connection import Connection
from monitor.store.sqlite.schema import count_added
from monitor.store.sqlite.search import forget_mention, index_new_mentions
from monitor.store.sqlite.rows import (
    ALERT_COLUMNS,
    MENTION_COLUMNS,
    RECORD_ERRORS,
    OldRow,
    alert_from_row,
    alert_values,
    event_from_row,
    insert_event,
    mention_from_row,
    mention_values,
    parse_ts,
    reason,
    snapshot_from_row,
    ts,
)

# What each kind is read from, in keyset pages on rowid (`rid`): `WHERE <table>.rowid > ?`.
EXPORTS: dict[RecordKind, tuple[str, str]] = {
    RecordKind.mentions: ("mentions", "SELECT rowid AS rid, * FROM mentions WHERE rowid > ? ORDER BY rowid"),
    RecordKind.snapshots: (
        "snapshots",
        "SELECT s.rowid AS rid, s.*, m.brand AS m_brand, m.source AS m_source FROM snapshots s"
        " LEFT JOIN mentions m ON m.id = s.mention_id WHERE s.rowid > ? ORDER BY s.rowid",
    ),
    RecordKind.alerts: ("alerts", "SELECT rowid AS rid, * FROM alerts WHERE rowid > ? ORDER BY rowid"),
    RecordKind.deliveries: ("deliveries", "SELECT rowid AS rid, * FROM deliveries WHERE rowid > ? ORDER BY rowid"),
    RecordKind.cursors: ("cursors", "SELECT rowid AS rid, * FROM cursors WHERE rowid > ? ORDER BY rowid"),
    RecordKind.alert_events: (
        "alert_events",
        "SELECT e.rowid AS rid, e.*, a.brand AS a_brand FROM alert_events e"
        " LEFT JOIN alerts a ON a.id = e.alert_id WHERE e.rowid > ? ORDER BY e.rowid",
    ),
}


class Records(Connection):
    """`export_records` / `import_records`: how `earshot reindex` copies this store into another."""

    def export_records(self, kind: RecordKind, page_size: int = EXPORT_PAGE) -> RecordExport:
        kind = RecordKind(kind)
        table, sql = EXPORTS[kind]
        if not self._has_table(table):  # a file from before the table existed: nothing to copy
            return RecordExport(kind, 0, iter(()))
        total = self._query(f"SELECT COUNT(*) FROM {table}")[0][0]
        return RecordExport(kind, total, self._export_pages(kind, sql, page_size))

    def _export_pages(self, kind: RecordKind, sql: str, page_size: int) -> Iterator[list[Record]]:
        last = 0
        while rows := self._query(f"{sql} LIMIT {int(page_size)}", (last,)):
            yield self._records(kind, [OldRow(zip(row.keys(), row, strict=True)) for row in rows])
            last = rows[-1]["rid"]

    def _records(self, kind: RecordKind, rows: list[OldRow]) -> list[Record]:
        if kind == RecordKind.mentions:
            observed = self._latest_observations([row["id"] for row in rows])
            return [MentionRecord(mention_from_row(row), parse_ts(row["first_seen_at"]),
                                  parse_ts(observed[row["id"]]) if row["id"] in observed else None) for row in rows]
        if kind == RecordKind.snapshots:
            return [SnapshotRecord(snapshot_from_row(row), row["m_brand"], row["m_source"]) for row in rows]
        if kind == RecordKind.alerts:
            delivered = self._delivered_to([row["id"] for row in rows])
            return [AlertRecord(alert_from_row(row), tuple(sorted(delivered.get(row["id"], ())))) for row in rows]
        if kind == RecordKind.deliveries:
            return [DeliveryRecord(row["alert_id"], row["channel"], parse_ts(row["delivered_at"])) for row in rows]
        if kind == RecordKind.cursors:
            return [CursorRecord(row["key"], row["value"], parse_ts(row["updated_at"])) for row in rows]
        return [EventRecord(event_from_row(row), row["a_brand"], row["seq"]) for row in rows]

    def _latest_observations(self, mention_ids: list[str]) -> dict[str, str]:
        """When each mention's stored engagement was observed: its newest snapshot."""
        if not self._has_table("snapshots"):
            return {}
        marks = ",".join("?" * len(mention_ids))
        rows = self._query(f"SELECT mention_id, MAX(observed_at) FROM snapshots WHERE mention_id IN ({marks})"
                           " GROUP BY mention_id", mention_ids)
        return {row[0]: row[1] for row in rows if row[1]}

    def _delivered_to(self, alert_ids: list[str]) -> dict[str, list[str]]:
        if not self._has_table("deliveries"):
            return {}
        marks = ",".join("?" * len(alert_ids))
        found: dict[str, list[str]] = {}
        for alert_id, channel in self._query(
            f"SELECT alert_id, channel FROM deliveries WHERE alert_id IN ({marks})", alert_ids
        ):
            found.setdefault(alert_id, []).append(channel)
        return found

    def import_records(self, kind: RecordKind, records: Iterable[Record]) -> ImportResult:
        """A page per transaction; a page with a record SQLite cannot hold is redone record by
        record, reporting those (as `ingest` quarantines them) and storing the rest."""
        kind = RecordKind(kind)
        write = IMPORTS[kind]
        stored = 0
        failures: list[str] = []
        for page in pages_of(checked(kind, records), EXPORT_PAGE):
            with self._tx() as db:
                db.execute("SAVEPOINT page")
                try:
                    for record in page:
                        write(db, record)
                    stored += len(page)
                except RECORD_ERRORS:
                    db.execute("ROLLBACK TO page")
                    for record in page:
                        db.execute("SAVEPOINT row")
                        try:
                            write(db, record)
                            stored += 1
                        except RECORD_ERRORS as exc:
                            db.execute("ROLLBACK TO row")
                            failures.append(f"{kind} {record.key}: {reason(exc)}")
                        db.execute("RELEASE row")
                db.execute("RELEASE page")
                if kind == RecordKind.mentions:
                    index_new_mentions(db)  # searchable in the same transaction as stored
        return ImportResult(stored, failures)


def _import_mention(db: sqlite3.Connection, record: MentionRecord) -> None:
    forget_mention(db, record.mention.id)  # the row is replaced: its index entry goes with it
    # A replaced row's delete trigger took it off the count: the new one goes back on.
    db.execute(f"INSERT OR REPLACE INTO mentions {MENTION_COLUMNS}",
               mention_values(record.mention, record.first_seen_at))
    count_added(db, "mentions", 1)


def _import_snapshot(db: sqlite3.Connection, record: SnapshotRecord) -> None:
    s = record.snapshot
    db.execute("INSERT OR REPLACE INTO snapshots VALUES (?,?,?)",
               (s.mention_id, ts(s.observed_at), s.engagement.model_dump_json()))
    count_added(db, "snapshots", 1)


def _import_alert(db: sqlite3.Connection, record: AlertRecord) -> None:
    # Its channels come as DeliveryRecords (`delivered_to` is what Elasticsearch keeps in the alert).
    db.execute(f"INSERT OR REPLACE INTO alerts {ALERT_COLUMNS}", alert_values(record.alert))


def _import_delivery(db: sqlite3.Connection, record: DeliveryRecord) -> None:
    db.execute("INSERT OR REPLACE INTO deliveries VALUES (?,?,?)",
               (record.alert_id, record.channel, ts(record.delivered_at)))


def _import_cursor(db: sqlite3.Connection, record: CursorRecord) -> None:
    db.execute("INSERT OR REPLACE INTO cursors VALUES (?,?,?)", (record.key, record.value, ts(record.updated_at)))


def _import_event(db: sqlite3.Connection, record: EventRecord) -> None:
    insert_event(db, record.event, "INSERT OR IGNORE")  # already there: left as it is


IMPORTS: dict[RecordKind, Callable[[sqlite3.Connection, Any], None]] = {
    RecordKind.mentions: _import_mention,
    RecordKind.snapshots: _import_snapshot,
    RecordKind.alerts: _import_alert,
    RecordKind.deliveries: _import_delivery,
    RecordKind.cursors: _import_cursor,
    RecordKind.alert_events: _import_event,
}
