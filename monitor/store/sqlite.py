"""The embedded default store: one SQLite file, standard library only.

WAL mode lets the web UI read while a pipeline run writes; every write that must be
all-or-nothing (a fetched batch and its cursor) runs in one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from monitor.models import (
    Alert, AlertEvent, AlertState, Engagement, EngagementSnapshot, Mention, Sentiment,
)
from monitor.store.base import (
    IngestResult, Quarantined, TrendPoint, check_bucket, model_head, quarantine_digest, record_head,
)
from monitor.triage import apply_event, state_stamps

SCHEMA = """
CREATE TABLE IF NOT EXISTS mentions (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    native_id TEXT NOT NULL,
    url TEXT NOT NULL,
    author_handle TEXT NOT NULL,
    author_followers INTEGER NOT NULL,
    text TEXT NOT NULL,
    title TEXT,
    lang TEXT,
    created_at TEXT NOT NULL,
    brand TEXT NOT NULL,
    query TEXT NOT NULL,
    engagement TEXT NOT NULL,
    rating INTEGER,
    app_version TEXT,
    sentiment_label TEXT,
    sentiment_score REAL,
    sentiment_model TEXT,
    first_seen_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mentions_created ON mentions(created_at);
CREATE INDEX IF NOT EXISTS mentions_unscored ON mentions(sentiment_label) WHERE sentiment_label IS NULL;

CREATE TABLE IF NOT EXISTS snapshots (
    mention_id TEXT NOT NULL,
    observed_at TEXT NOT NULL,
    engagement TEXT NOT NULL,
    PRIMARY KEY (mention_id, observed_at)
);
CREATE INDEX IF NOT EXISTS snapshots_observed ON snapshots(observed_at);

CREATE TABLE IF NOT EXISTS cursors (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    mention_id TEXT,
    brand TEXT NOT NULL,
    severity TEXT NOT NULL,
    created_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    velocity_per_min REAL NOT NULL,
    baseline_per_min REAL NOT NULL,
    state TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'spread',
    topic TEXT,
    team TEXT,
    assignee TEXT
);
CREATE INDEX IF NOT EXISTS alerts_state ON alerts(state, created_at);

CREATE TABLE IF NOT EXISTS deliveries (
    alert_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    delivered_at TEXT NOT NULL,
    PRIMARY KEY (alert_id, channel)
);

-- A sender's claim on one (alert, channel) delivery while it sends; a crashed sender's
-- claim expires and a successor takes it over.
CREATE TABLE IF NOT EXISTS delivery_claims (
    alert_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    owner TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (alert_id, channel)
);

-- Records that could not be normalised or stored, kept for an operator (monitor/store/base.py).
CREATE TABLE IF NOT EXISTS quarantine (
    source TEXT NOT NULL,
    position TEXT NOT NULL,
    digest TEXT NOT NULL,
    reason TEXT NOT NULL,
    head TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (source, position, digest)
);
CREATE INDEX IF NOT EXISTS quarantine_at ON quarantine(at);

-- The triage audit trail: append-only, enforced by the database itself.
CREATE TABLE IF NOT EXISTS alert_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    alert_id TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT,
    assignee TEXT,
    text TEXT
);
CREATE INDEX IF NOT EXISTS alert_events_alert ON alert_events(alert_id, at);
CREATE TRIGGER IF NOT EXISTS alert_events_no_update BEFORE UPDATE ON alert_events
BEGIN SELECT RAISE(ABORT, 'alert_events is append-only'); END;
CREATE TRIGGER IF NOT EXISTS alert_events_no_delete BEFORE DELETE ON alert_events
BEGIN SELECT RAISE(ABORT, 'alert_events is append-only'); END;
"""


# What one bad row raises, as opposed to a failing database (disk full, locked), which must
# fail the batch rather than quarantine every row of it.
_RECORD_ERRORS = (UnicodeEncodeError, OverflowError, ValueError, sqlite3.IntegrityError, sqlite3.InterfaceError)


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {record_head(str(exc), 160)}"


def _text(value: str) -> str:
    """Quarantine fields as storable text even when they quote the undecodable input."""
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _ts(value: datetime) -> str:
    # One fixed-width UTC format, so text order is time order in SQL.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


# When the care team responded to, acknowledged, resolved and dismissed an alert.
_HANDLING_TIMES = ("first_response_at", "acknowledged_at", "resolved_at", "dismissed_at")


class SQLiteStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.executescript(SCHEMA)
        self._migrate()

    # Columns added after the first release, for databases created before them.
    _ADDED_COLUMNS = {
        "mentions": {"app_version": "TEXT", "topic": "TEXT", "team": "TEXT"},
        "alerts": {
            "kind": "TEXT NOT NULL DEFAULT 'spread'", "topic": "TEXT", "team": "TEXT", "assignee": "TEXT",
            "first_response_at": "TEXT", "acknowledged_at": "TEXT", "resolved_at": "TEXT", "dismissed_at": "TEXT",
        },
    }

    def _migrate(self) -> None:
        for table, columns in self._ADDED_COLUMNS.items():
            present = {row["name"] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, ddl in columns.items():
                if name not in present:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")

    @contextmanager
    def _tx(self):
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- mentions -------------------------------------------------------------

    def ingest(
        self,
        mentions: Sequence[Mention],
        snapshots: Sequence[EngagementSnapshot],
        cursor_key: str | None = None,
        cursor: str | None = None,
        quarantine: Sequence[Quarantined] = (),
    ) -> IngestResult:
        now = datetime.now(UTC)
        with self._tx() as db:
            # The whole batch in one go; only if some row cannot be stored (a lone surrogate,
            # an integer SQLite cannot hold) is it redone row by row, setting those rows aside.
            db.execute("SAVEPOINT batch")
            try:
                counts = self._write(db, mentions, snapshots, now)
                bad: list[Quarantined] = []
            except _RECORD_ERRORS:
                db.execute("ROLLBACK TO batch")
                counts, bad = self._write_each(db, mentions, snapshots, now)
            db.execute("RELEASE batch")
            set_aside = self._quarantine(db, [*quarantine, *bad], now)
            if cursor_key is not None and cursor is not None:
                self._write_cursor(db, cursor_key, cursor)
        return IngestResult(*counts, quarantined=set_aside)

    def _write_each(
        self, db: sqlite3.Connection, mentions: Sequence[Mention], snapshots: Sequence[EngagementSnapshot],
        now: datetime,
    ) -> tuple[tuple[int, int, int], list[Quarantined]]:
        new = updated = new_snaps = 0
        bad: list[Quarantined] = []
        dropped: set[str] = set()
        for m in mentions:
            db.execute("SAVEPOINT row")
            try:
                n, u, _ = self._write(db, [m], [], now)
                new, updated = new + n, updated + u
            except _RECORD_ERRORS as exc:
                db.execute("ROLLBACK TO row")
                dropped.add(m.id)
                bad.append(Quarantined(m.source, m.id, f"cannot be stored: {_reason(exc)}",
                                       model_head(m)))
            db.execute("RELEASE row")
        for snap in snapshots:
            if snap.mention_id in dropped:
                continue
            db.execute("SAVEPOINT row")
            try:
                new_snaps += self._write(db, [], [snap], now)[2]
            except _RECORD_ERRORS as exc:
                db.execute("ROLLBACK TO row")
                bad.append(Quarantined(snap.mention_id.split(":", 1)[0], f"{snap.mention_id} snapshot",
                                       f"cannot be stored: {_reason(exc)}", model_head(snap)))
            db.execute("RELEASE row")
        return (new, updated, new_snaps), bad

    @staticmethod
    def _write(db: sqlite3.Connection, mentions: Sequence[Mention], snapshots: Sequence[EngagementSnapshot],
               at: datetime) -> tuple[int, int, int]:
        new = updated = new_snaps = 0
        now = _ts(at)
        for m in mentions:
            exists = db.execute("SELECT 1 FROM mentions WHERE id = ?", (m.id,)).fetchone()
            if exists:
                # A re-fetch refreshes what changes over time; sentiment already computed stays.
                db.execute(
                    "UPDATE mentions SET engagement = ?, author_followers = ?, url = ? WHERE id = ?",
                    (m.engagement.model_dump_json(), m.author_followers, m.url, m.id),
                )
                updated += 1
            else:
                db.execute(
                    "INSERT INTO mentions (id, source, native_id, url, author_handle, author_followers, text,"
                    " title, lang, created_at, brand, query, engagement, rating, app_version, sentiment_label,"
                    " sentiment_score, sentiment_model, first_seen_at, topic, team)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        m.id, m.source, m.native_id, m.url, m.author_handle, m.author_followers,
                        m.text, m.title, m.lang, _ts(m.created_at), m.brand, m.query,
                        m.engagement.model_dump_json(), m.rating, m.app_version,
                        m.sentiment.label.value if m.sentiment else None,
                        m.sentiment.score if m.sentiment else None,
                        m.sentiment.model if m.sentiment else None,
                        now, m.topic, m.team,
                    ),
                )
                new += 1
        for s in snapshots:
            cur = db.execute(
                "INSERT OR IGNORE INTO snapshots VALUES (?,?,?)",
                (s.mention_id, _ts(s.observed_at), s.engagement.model_dump_json()),
            )
            new_snaps += cur.rowcount
            # The mention row carries the latest known engagement.
            db.execute(
                "UPDATE mentions SET engagement = ? WHERE id = ? AND NOT EXISTS ("
                " SELECT 1 FROM snapshots WHERE mention_id = ? AND observed_at > ?)",
                (s.engagement.model_dump_json(), s.mention_id, s.mention_id, _ts(s.observed_at)),
            )
        return new, updated, new_snaps

    @staticmethod
    def _quarantine(db: sqlite3.Connection, records: Sequence[Quarantined], at: datetime) -> int:
        added = 0
        for q in records:
            cur = db.execute(
                "INSERT OR IGNORE INTO quarantine VALUES (?,?,?,?,?,?)",
                (_text(q.source), _text(q.where), quarantine_digest(q), _text(q.reason), _text(q.head), _ts(at)),
            )
            added += cur.rowcount
        return added

    def quarantined(self, limit: int = 100) -> list[Quarantined]:
        rows = self._query("SELECT * FROM quarantine ORDER BY at DESC, rowid DESC LIMIT ?", (limit,))
        return [Quarantined(r["source"], r["position"], r["reason"], r["head"], _parse_ts(r["at"])) for r in rows]

    def count_quarantined(self) -> int:
        return self._query("SELECT COUNT(*) FROM quarantine")[0][0]

    @staticmethod
    def _write_cursor(db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute(
            "INSERT INTO cursors VALUES (?,?,?) ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (key, value, _ts(datetime.now(UTC))),
        )

    def set_cursor(self, key: str, value: str) -> None:
        with self._tx() as db:
            self._write_cursor(db, key, value)

    def get_cursor(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM cursors WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    @staticmethod
    def _mention(row: sqlite3.Row) -> Mention:
        sentiment = None
        if row["sentiment_label"] is not None:
            sentiment = Sentiment(
                label=row["sentiment_label"], score=row["sentiment_score"], model=row["sentiment_model"]
            )
        return Mention(
            id=row["id"], source=row["source"], native_id=row["native_id"], url=row["url"],
            author_handle=row["author_handle"], author_followers=row["author_followers"],
            text=row["text"], title=row["title"], lang=row["lang"],
            created_at=_parse_ts(row["created_at"]), brand=row["brand"], query=row["query"],
            engagement=Engagement.model_validate_json(row["engagement"]), rating=row["rating"],
            app_version=row["app_version"], sentiment=sentiment, topic=row["topic"], team=row["team"],
        )

    def get_mention(self, mention_id: str) -> Mention | None:
        return self.get_mentions([mention_id]).get(mention_id)

    def get_mentions(self, mention_ids: Iterable[str]) -> dict[str, Mention]:
        ids = list(dict.fromkeys(mention_ids))
        found: dict[str, Mention] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._query(f"SELECT * FROM mentions WHERE id IN ({marks})", chunk):
                found[row["id"]] = self._mention(row)
        return found

    def count_mentions(self) -> int:
        return self._query("SELECT COUNT(*) FROM mentions")[0][0]

    def recent_mentions(self, source: str, since: datetime, limit: int = 1000) -> list[Mention]:
        rows = self._query(
            "SELECT * FROM mentions WHERE source = ? AND created_at >= ? ORDER BY created_at DESC LIMIT ?",
            (source, _ts(since), limit),
        )
        return [self._mention(r) for r in rows]

    def count_snapshots(self) -> int:
        return self._query("SELECT COUNT(*) FROM snapshots")[0][0]

    def unscored_mentions(self, limit: int = 1000) -> list[Mention]:
        rows = self._query(
            "SELECT * FROM mentions WHERE sentiment_label IS NULL ORDER BY created_at LIMIT ?", (limit,)
        )
        return [self._mention(r) for r in rows]

    def set_sentiments(self, results: Sequence[tuple[str, Sentiment]]) -> None:
        with self._tx() as db:
            db.executemany(
                "UPDATE mentions SET sentiment_label = ?, sentiment_score = ?, sentiment_model = ? WHERE id = ?",
                [(s.label.value, s.score, s.model, mid) for mid, s in results],
            )

    def set_languages(self, results: Sequence[tuple[str, str]]) -> None:
        with self._tx() as db:
            db.executemany("UPDATE mentions SET lang = ? WHERE id = ?", [(lang, mid) for mid, lang in results])

    def set_topics(self, results: Sequence[tuple[str, str, str | None]]) -> None:
        with self._tx() as db:
            db.executemany("UPDATE mentions SET topic = ?, team = ? WHERE id = ?",
                           [(topic, team, mid) for mid, topic, team in results])

    # -- snapshots ------------------------------------------------------------

    @staticmethod
    def _snapshot(row: sqlite3.Row) -> EngagementSnapshot:
        return EngagementSnapshot(
            mention_id=row["mention_id"],
            observed_at=_parse_ts(row["observed_at"]),
            engagement=Engagement.model_validate_json(row["engagement"]),
        )

    def snapshots_since(self, since: datetime) -> list[EngagementSnapshot]:
        rows = self._query(
            "SELECT * FROM snapshots WHERE observed_at >= ? ORDER BY observed_at, mention_id", (_ts(since),)
        )
        return [self._snapshot(r) for r in rows]

    def snapshots_for(self, mention_id: str) -> list[EngagementSnapshot]:
        rows = self._query("SELECT * FROM snapshots WHERE mention_id = ? ORDER BY observed_at", (mention_id,))
        return [self._snapshot(r) for r in rows]

    def latest_observation(self) -> datetime | None:
        value = self._query("SELECT MAX(observed_at) FROM snapshots")[0][0]
        return _parse_ts(value) if value else None

    # -- alerts ---------------------------------------------------------------

    @staticmethod
    def _alert(row: sqlite3.Row) -> Alert:
        return Alert(
            id=row["id"], kind=row["kind"], mention_id=row["mention_id"], brand=row["brand"],
            severity=row["severity"], created_at=_parse_ts(row["created_at"]), reason=row["reason"],
            velocity_per_min=row["velocity_per_min"], baseline_per_min=row["baseline_per_min"],
            state=row["state"], topic=row["topic"], team=row["team"], assignee=row["assignee"],
            **{name: _parse_ts(row[name]) if row[name] else None for name in _HANDLING_TIMES},
        )

    def add_alert(self, alert: Alert) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO alerts (id, mention_id, brand, severity, created_at, reason,"
                " velocity_per_min, baseline_per_min, state, kind, topic, team, assignee)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    alert.id, alert.mention_id, alert.brand, alert.severity.value, _ts(alert.created_at),
                    alert.reason, alert.velocity_per_min, alert.baseline_per_min, alert.state.value,
                    alert.kind.value, alert.topic, alert.team, alert.assignee,
                ),
            )
            return cur.rowcount == 1

    def get_alert(self, alert_id: str) -> Alert | None:
        rows = self._query("SELECT * FROM alerts WHERE id = ?", (alert_id,))
        return self._alert(rows[0]) if rows else None

    def alerts_for(self, mention_ids: Iterable[str]) -> list[Alert]:
        ids = list(dict.fromkeys(mention_ids))
        found: list[Alert] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found += [self._alert(r) for r in self._query(f"SELECT * FROM alerts WHERE mention_id IN ({marks})", chunk)]
        return found

    def alerts(self, states: Sequence[AlertState] | None = None, limit: int = 200) -> list[Alert]:
        if states:
            marks = ",".join("?" * len(states))
            rows = self._query(
                f"SELECT * FROM alerts WHERE state IN ({marks}) ORDER BY created_at DESC, id LIMIT ?",
                [s.value for s in states] + [limit],
            )
        else:
            rows = self._query("SELECT * FROM alerts ORDER BY created_at DESC, id LIMIT ?", (limit,))
        return [self._alert(r) for r in rows]

    def set_alert_state(self, alert_id: str, state: AlertState) -> Alert:
        with self._tx() as db:
            rows = db.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchall()
            if not rows:
                raise KeyError(alert_id)
            alert = self._alert(rows[0])
            updated = alert.model_copy(update=state_stamps(alert, state, datetime.now(UTC)))
            self._write_handling(db, updated)
        return updated

    @staticmethod
    def _write_handling(db: sqlite3.Connection, alert: Alert) -> None:
        db.execute(
            "UPDATE alerts SET state = ?, assignee = ?, " + ", ".join(f"{n} = ?" for n in _HANDLING_TIMES)
            + " WHERE id = ?",
            (alert.state.value, alert.assignee,
             *(_ts(v) if (v := getattr(alert, n)) else None for n in _HANDLING_TIMES), alert.id),
        )

    def record_alert_event(self, event: AlertEvent) -> Alert:
        with self._tx() as db:
            rows = db.execute("SELECT * FROM alerts WHERE id = ?", (event.alert_id,)).fetchall()
            if not rows:
                raise KeyError(event.alert_id)
            alert = self._alert(rows[0])
            if db.execute("SELECT 1 FROM alert_events WHERE id = ?", (event.id,)).fetchone():
                return alert  # already recorded: a retry
            updated = apply_event(alert, event)  # raises before anything is written
            db.execute(
                "INSERT INTO alert_events (id, alert_id, at, actor, kind, from_state, to_state, assignee, text)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                (event.id, event.alert_id, _ts(event.at), event.actor, event.kind.value,
                 event.from_state.value if event.from_state else None,
                 event.to_state.value if event.to_state else None, event.assignee, event.text),
            )
            self._write_handling(db, updated)
        return updated

    def alert_events(self, alert_ids: Iterable[str]) -> list[AlertEvent]:
        ids = list(dict.fromkeys(alert_ids))
        rows: list[sqlite3.Row] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows += self._query(f"SELECT * FROM alert_events WHERE alert_id IN ({marks})", chunk)
        rows.sort(key=lambda r: (r["at"], r["seq"]))
        return [
            AlertEvent(
                id=r["id"], alert_id=r["alert_id"], at=_parse_ts(r["at"]), actor=r["actor"], kind=r["kind"],
                from_state=r["from_state"], to_state=r["to_state"], assignee=r["assignee"], text=r["text"],
            )
            for r in rows
        ]

    def alerts_created(self, since: datetime, until: datetime) -> list[Alert]:
        rows = self._query(
            "SELECT * FROM alerts WHERE created_at >= ? AND created_at < ? ORDER BY created_at, id",
            (_ts(since), _ts(until)),
        )
        return [self._alert(r) for r in rows]

    def undelivered_alerts(self, channel: str) -> list[Alert]:
        rows = self._query(
            "SELECT * FROM alerts WHERE id NOT IN (SELECT alert_id FROM deliveries WHERE channel = ?)"
            " ORDER BY created_at, id",
            (channel,),
        )
        return [self._alert(r) for r in rows]

    def claim_delivery(self, alert_id: str, channel: str, owner: str, until: datetime, now: datetime) -> bool:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM deliveries WHERE alert_id = ? AND channel = ?",
                          (alert_id, channel)).fetchone():
                return False
            held = db.execute("SELECT owner, expires_at FROM delivery_claims WHERE alert_id = ? AND channel = ?",
                              (alert_id, channel)).fetchone()
            if held and held["owner"] != owner and held["expires_at"] > _ts(now):
                return False
            db.execute("INSERT OR REPLACE INTO delivery_claims VALUES (?,?,?,?)",
                       (alert_id, channel, owner, _ts(until)))
            return True

    def release_delivery(self, alert_id: str, channel: str, owner: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM delivery_claims WHERE alert_id = ? AND channel = ? AND owner = ?",
                       (alert_id, channel, owner))

    def mark_delivered(self, alert_id: str, channel: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO deliveries VALUES (?,?,?)", (alert_id, channel, _ts(datetime.now(UTC)))
            )
            db.execute("DELETE FROM delivery_claims WHERE alert_id = ? AND channel = ?", (alert_id, channel))

    # -- dashboards -----------------------------------------------------------

    def trend(self, since: datetime | None = None, brand: str | None = None,
              bucket_minutes: int = 60) -> list[TrendPoint]:
        check_bucket(bucket_minutes)
        # created_at is fixed-width text: minutes since the hour are characters 15-16.
        bucket = ("substr(created_at, 1, 13)" if bucket_minutes == 60 else
                  f"substr(created_at, 1, 14) || printf('%02d', CAST(substr(created_at, 15, 2) AS INTEGER)"
                  f" / {bucket_minutes} * {bucket_minutes})")
        sql = (
            f"SELECT {bucket} AS bucket, brand, source, COALESCE(sentiment_label, 'unscored') AS label,"
            " COUNT(*) AS n FROM mentions WHERE created_at >= ?"
        )
        params: list[object] = [_ts(since) if since else ""]
        if brand is not None:
            sql += " AND brand = ?"
            params.append(brand)
        rows = self._query(sql + " GROUP BY bucket, brand, source, label ORDER BY bucket", params)
        fmt = "%Y-%m-%dT%H" if bucket_minutes == 60 else "%Y-%m-%dT%H:%M"
        return [
            TrendPoint(
                bucket=datetime.strptime(r["bucket"], fmt).replace(tzinfo=UTC),
                source=r["source"], label=r["label"], count=r["n"], brand=r["brand"],
            )
            for r in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()
