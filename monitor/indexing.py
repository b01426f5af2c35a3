"""`earshot index setup` and `earshot reindex`: preparing Elasticsearch and copying SQLite into it.

`reindex` reads the SQLite file read-only, page by page, and bulk-writes every record
with its deterministic `_id` (`index` operations, so SQLite's version wins and running it
twice changes nothing). The triage audit trail is append-only in Elasticsearch too, so its
events are written with `create`: one already copied is left as it is. The indices are
refreshed once at the end rather than per page, which is what makes a large copy fast.

A file written by an older Earshot (columns added since missing) is read as the SQLite
store would read it after its migration: the missing columns are empty.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.models import AlertEvent
from monitor.store import es_docs as docs
from monitor.store.es_bulk import ItemResult, bulk_write
from monitor.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from monitor.config import Config
    from monitor.store.elasticsearch import ElasticsearchStore, SetupReport

Progress = Callable[[int, int | None], None]
ProgressFactory = Callable[[str], Progress]

PAGE = 1000


def setup_from_config(config: Config) -> SetupReport:
    """Create or update the templates, the ILM policy and the small indices `store.elasticsearch` names."""
    from monitor.store.elasticsearch import ElasticsearchStore

    store = ElasticsearchStore.from_config(config, ensure_setup=False)
    try:
        return store.setup()
    finally:
        store.close()


@dataclass
class ReindexReport:
    copied: dict[str, int] = field(default_factory=dict)
    failures: list[ItemResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        out = [f"{kind}: {count} copied" for kind, count in self.copied.items()]
        out += [f"failed: {item.describe()}" for item in self.failures[:20]]
        if len(self.failures) > 20:
            out.append(f"... and {len(self.failures) - 20} more failures")
        return out


def _connect_read_only(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise FileNotFoundError(f"no SQLite store at {path}")
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    return db


class _Row(dict):
    """A row as a mapping where a column the file does not have yet reads as its default."""

    DEFAULTS: dict[str, Any] = {"kind": "spread"}  # alerts.kind: NOT NULL DEFAULT 'spread'

    def __missing__(self, key: str) -> Any:
        return self.DEFAULTS.get(key)


def _pages(db: sqlite3.Connection, sql: str) -> Iterator[list[_Row]]:
    """Keyset paging on rowid; `sql` selects `rowid AS rid` and has `WHERE <alias>.rowid > ?`."""
    last = 0
    while rows := db.execute(f"{sql} LIMIT {PAGE}", (last,)).fetchall():
        yield [_Row(zip(row.keys(), row, strict=True)) for row in rows]
        last = rows[-1]["rid"]


def _has_table(db: sqlite3.Connection, table: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None


def _in(values: list[str]) -> str:
    return ",".join("?" * len(values))


Action = dict[str, Any]


def _mention_actions(store: ElasticsearchStore, db: sqlite3.Connection, rows: list[_Row]) -> list[Action]:
    ids = [row["id"] for row in rows]
    sql = f"SELECT mention_id, MAX(observed_at) FROM snapshots WHERE mention_id IN ({_in(ids)}) GROUP BY mention_id"
    observed = dict(db.execute(sql, ids))
    actions = []
    for row in rows:
        mention = SQLiteStore._mention(row)
        doc = docs.mention_doc(mention, docs.parse_iso(row["first_seen_at"]))
        if observed.get(mention.id):
            doc["engagement_observed_at"] = docs.iso(docs.parse_iso(observed[mention.id]))
        index = store._ensure_monthly("mentions", mention.created_at)
        actions.append({"_op_type": "index", "_index": index, "_id": mention.id, "_source": doc})
    return actions


def _snapshot_actions(store: ElasticsearchStore, rows: list[_Row]) -> list[dict[str, Any]]:
    actions = []
    for row in rows:
        snapshot = SQLiteStore._snapshot(row)
        doc = docs.snapshot_doc(snapshot, brand=row["m_brand"], source=row["m_source"])
        index = store._ensure_monthly("snapshots", snapshot.observed_at)
        actions.append({"_op_type": "index", "_index": index, "_id": docs.snapshot_id(snapshot), "_source": doc})
    return actions


def _alert_actions(store: ElasticsearchStore, db: sqlite3.Connection, rows: list[_Row]) -> list[dict[str, Any]]:
    ids = [row["id"] for row in rows]
    delivered: dict[str, list[str]] = {}
    sql = f"SELECT alert_id, channel FROM deliveries WHERE alert_id IN ({_in(ids)})"
    for alert_id, channel in db.execute(sql, ids):
        delivered.setdefault(alert_id, []).append(channel)
    actions = []
    for row in rows:
        alert = SQLiteStore._alert(row)
        doc = docs.alert_doc(alert)
        doc["delivered_to"] = sorted(delivered.get(alert.id, []))
        index = store.names.index("alerts")
        actions.append({"_op_type": "index", "_index": index, "_id": docs.safe_id(alert.id), "_source": doc})
    return actions


def _delivery_actions(store: ElasticsearchStore, rows: list[_Row]) -> list[dict[str, Any]]:
    return [
        {
            "_op_type": "index", "_index": store.names.index("deliveries"),
            "_id": docs.delivery_id(row["alert_id"], row["channel"]),
            "_source": docs.delivery_doc(row["alert_id"], row["channel"], docs.parse_iso(row["delivered_at"])),
        }
        for row in rows
    ]


def _cursor_actions(store: ElasticsearchStore, rows: list[_Row]) -> list[dict[str, Any]]:
    return [
        {
            "_op_type": "index", "_index": store.names.index("cursors"), "_id": docs.safe_id(row["key"]),
            "_source": docs.cursor_doc(row["key"], row["value"], docs.parse_iso(row["updated_at"])),
        }
        for row in rows
    ]


def _event_actions(store: ElasticsearchStore, rows: list[_Row]) -> list[dict[str, Any]]:
    """`create`, never `index`: the trail is append-only (a 409 is an event copied before).

    `seq` is SQLite's, which orders the events recorded at the same time as SQLite did.
    """
    actions = []
    for row in rows:
        event = AlertEvent(
            id=row["id"], alert_id=row["alert_id"], at=docs.parse_iso(row["at"]), actor=row["actor"], kind=row["kind"],
            from_state=row["from_state"], to_state=row["to_state"], assignee=row["assignee"], text=row["text"],
        )
        doc = {**docs.event_doc(event, brand=row["a_brand"], recorded_at=None), "seq": row["seq"]}
        actions.append({"_op_type": "create", "_index": store.names.index("alert_events"),
                        "_id": docs.safe_id(event.id), "_source": doc})
    return actions


def reindex_sqlite(
    sqlite_path: Path | str, store: ElasticsearchStore, progress: ProgressFactory | None = None
) -> ReindexReport:
    """Copy everything in a SQLite store into `store`; per-document failures are reported, not raised."""
    db = _connect_read_only(Path(sqlite_path))
    report = ReindexReport()
    phases: list[tuple[str, str, str, Callable[[list[_Row]], list[dict[str, Any]]]]] = [
        ("mentions", "mentions", "SELECT rowid AS rid, * FROM mentions WHERE rowid > ? ORDER BY rowid",
         lambda rows: _mention_actions(store, db, rows)),
        ("snapshots", "snapshots",
         "SELECT s.rowid AS rid, s.*, m.brand AS m_brand, m.source AS m_source FROM snapshots s"
         " LEFT JOIN mentions m ON m.id = s.mention_id WHERE s.rowid > ? ORDER BY s.rowid",
         lambda rows: _snapshot_actions(store, rows)),
        ("alerts", "alerts", "SELECT rowid AS rid, * FROM alerts WHERE rowid > ? ORDER BY rowid",
         lambda rows: _alert_actions(store, db, rows)),
        ("deliveries", "deliveries", "SELECT rowid AS rid, * FROM deliveries WHERE rowid > ? ORDER BY rowid",
         lambda rows: _delivery_actions(store, rows)),
        ("cursors", "cursors", "SELECT rowid AS rid, * FROM cursors WHERE rowid > ? ORDER BY rowid",
         lambda rows: _cursor_actions(store, rows)),
        ("alert_events", "alert_events",
         "SELECT e.rowid AS rid, e.*, a.brand AS a_brand FROM alert_events e"
         " LEFT JOIN alerts a ON a.id = e.alert_id WHERE e.rowid > ? ORDER BY e.rowid",
         lambda rows: _event_actions(store, rows)),
    ]
    try:
        for kind, table, sql, build in phases:
            if not _has_table(db, table):  # a file from before the table existed: nothing to copy
                report.copied[kind] = 0
                continue
            total = db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            tick = progress(f"copy {kind}") if progress else None
            done = 0
            if tick:
                tick(0, total)
            for rows in _pages(db, sql):
                outcome = bulk_write(store.client, build(rows), refresh=False, retry=store.retry)
                report.failures += outcome.failed
                if kind != "alert_events":  # there a conflict is an event already copied
                    report.failures += outcome.conflicts
                done += len(rows)
                if tick:
                    tick(done, total)
            report.copied[kind] = done - sum(1 for f in report.failures if _kind_of(store, f.index) == kind)
        store.client.indices.refresh(
            index=",".join(store.names.managed_indices), allow_no_indices=True, ignore_unavailable=True
        )
    finally:
        db.close()
    return report


def _kind_of(store: ElasticsearchStore, index: str) -> str:
    for kind in ("mentions", "snapshots", "alerts", "deliveries", "cursors", "alert_events"):
        if index == store.names.index(kind) or index.startswith(f"{store.names.alias(kind)}-"):
            return kind
    return "?"


def reindex_from_config(
    config: Config, sqlite_path: Path | None = None, progress: ProgressFactory | None = None
) -> ReindexReport:
    """`earshot reindex`: copy the SQLite file (default: `store.path`) into `store.elasticsearch`."""
    from monitor.store.elasticsearch import ElasticsearchStore

    path = sqlite_path or config.resolve(config.store.path)
    store = ElasticsearchStore.from_config(config)
    try:
        return reindex_sqlite(path, store, progress)
    finally:
        store.close()


# -- users for a fresh cluster (the Docker Compose init service) ---------------------

WRITER_ROLE = "earshot_writer"


def writer_role(index_prefix: str) -> dict[str, Any]:
    """What Earshot needs and no more: its own indices, their templates and the ILM policy."""
    return {
        "cluster": ["monitor", "manage_ilm", "manage_index_templates"],
        "indices": [{"names": [f"{index_prefix}-*"], "privileges": ["manage", "read", "write", "view_index_metadata"]}],
    }


def bootstrap_security(
    client: Elasticsearch, *, kibana_password: str, earshot_user: str, earshot_password: str, index_prefix: str
) -> None:
    """Set the built-in `kibana_system` password and create Earshot's least-privilege user. Idempotent."""
    client.security.change_password(username="kibana_system", password=kibana_password)
    role = writer_role(index_prefix)
    client.security.put_role(name=WRITER_ROLE, cluster=role["cluster"], indices=role["indices"])
    client.security.put_user(username=earshot_user, password=earshot_password, roles=[WRITER_ROLE])


def bootstrap_security_from_env(environ: Mapping[str, str] = os.environ) -> None:
    """As `elastic` ($ELASTIC_PASSWORD) at $ELASTICSEARCH_URL: $KIBANA_PASSWORD for kibana_system,
    $EARSHOT_ES_USER (default earshot) / $EARSHOT_ES_PASSWORD for Earshot."""
    from monitor.store.es_client import client_from_url

    required = ("ELASTICSEARCH_URL", "ELASTIC_PASSWORD", "KIBANA_PASSWORD", "EARSHOT_ES_PASSWORD")
    missing = [name for name in required if not environ.get(name)]
    if missing:
        raise SystemExit(f"set {', '.join(missing)} (see .env.example)")
    client = client_from_url(environ["ELASTICSEARCH_URL"], basic_auth=("elastic", environ["ELASTIC_PASSWORD"]))
    try:
        bootstrap_security(
            client,
            kibana_password=environ["KIBANA_PASSWORD"],
            earshot_user=environ.get("EARSHOT_ES_USER", "earshot"),
            earshot_password=environ["EARSHOT_ES_PASSWORD"],
            index_prefix=environ.get("EARSHOT_INDEX_PREFIX", "earshot"),
        )
    finally:
        client.close()


if __name__ == "__main__":  # python -m monitor.indexing bootstrap-security
    import sys

    if sys.argv[1:] != ["bootstrap-security"]:
        raise SystemExit("usage: python -m monitor.indexing bootstrap-security")
    bootstrap_security_from_env()
    print("kibana_system password set; Earshot user and role in place")
