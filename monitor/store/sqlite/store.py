"""The embedded default store: one SQLite file, standard library only.

Every write that must be all-or-nothing runs in one transaction: a fetched batch and its
cursor; and every change to an alert, with triage's rule run inside it, on the alert as
the transaction reads it (`record_alert_event`, `update_alert`), so of two agents acting
at once only one state change wins. The parts: schema.py (tables, migration), rows.py
(records as rows), connection.py (the file, its lock, transactions), records.py (copying
between stores).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from monitor.models import (
    Alert, AlertEvent, AlertState, EngagementSnapshot, Mention, Reading, Sentiment, UnscoredPost,
)
from monitor.store.base import (
    AlertChange, AlertHandling, ApplyEvent, CasePage, CaseQuery, IngestResult, MentionPage, MentionQuery, PostFacts, Quarantined,
    TrendPoint,
    check_bucket, model_head, quarantine_digest,
)
from monitor.store.sqlite.connection import in_chunks
from monitor.store.sqlite.cases import case_rows
from monitor.store.sqlite.noise import Noise
from monitor.store.sqlite.records import Records
from monitor.store.sqlite.removals import Removals
from monitor.store.sqlite.search import ENGAGEMENT_TOTAL, forget_mention, index_new_mentions, search_rows
from monitor.store.sqlite.packed import mention_rows, reading_posts, reading_rows
from monitor.store.sqlite.rows import (
    MENTION_COLUMNS, MENTION_ROW_FIELDS, RECORD_ERRORS, ROW_ENGAGEMENT, ROW_TEXT, alert_from_row, event_from_row,
    insert_event, mention_from_row, parse_ts, reason, snapshot_from_row, storable_text, ts, write_handling,
)
from monitor.store.sqlite.schema import count_added

# A snapshot's counts as `Reading` lists them, read out of its JSON by SQLite (a field an older
# row lacks is 0, as in `Engagement`).
_COUNTS = ", ".join(f"COALESCE(json_extract(engagement, '$.{f}'), 0)" for f in Reading._fields[1:])


class SQLiteStore(Noise, Records, Removals):
    """The `Store` protocol on one SQLite file (`SQLiteStore(path)`; `SQLiteStore.read_only(path)` to copy from)."""

    @classmethod
    def read_only(cls, path: Path | str) -> SQLiteStore:
        """The file as it is, for `export_records` (what `earshot reindex` copies from): opened
        read-only, no schema created or migrated, so a file written by an older Earshot is read
        as it is (a column it lacks reads as empty) and never changed. FileNotFoundError if absent."""
        return cls(path, read_only=True)

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
            except RECORD_ERRORS:
                db.execute("ROLLBACK TO batch")
                counts, bad = self._write_each(db, mentions, snapshots, now)
            db.execute("RELEASE batch")
            if mentions:
                index_new_mentions(db)  # searchable exactly when stored
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
        # One at a time as slices: a packed batch's slice stays packed, its row written as it came.
        for index in range(len(mentions)):
            one = mentions[index:index + 1]
            db.execute("SAVEPOINT row")
            try:
                n, u, _ = self._write(db, one, [], now)
                new, updated = new + n, updated + u
            except RECORD_ERRORS as exc:
                db.execute("ROLLBACK TO row")
                m = one[0]
                dropped.add(m.id)
                bad.append(Quarantined(m.source, m.id, f"cannot be stored: {reason(exc)}",
                                       model_head(m)))
            db.execute("RELEASE row")
        for index, mention_id in enumerate(reading_posts(snapshots)):
            if mention_id in dropped:
                continue
            db.execute("SAVEPOINT row")
            try:
                new_snaps += self._write(db, [], snapshots[index:index + 1], now)[2]
            except RECORD_ERRORS as exc:
                db.execute("ROLLBACK TO row")
                snap = snapshots[index]
                bad.append(Quarantined(snap.mention_id.split(":", 1)[0], f"{snap.mention_id} snapshot",
                                       f"cannot be stored: {reason(exc)}", model_head(snap)))
            db.execute("RELEASE row")
        return (new, updated, new_snaps), bad

    @staticmethod
    def _write(db: sqlite3.Connection, mentions: Sequence[Mention], snapshots: Sequence[EngagementSnapshot],
               at: datetime) -> tuple[int, int, int]:
        """One batch in a handful of statements: one read of the rows the batch already has, the new
        rows in one insert, the snapshots in one insert and one update per post (not per row).
        A batch packed by the process that fetched it (packed.py) comes as rows already."""
        new = updated = new_snaps = 0
        rows = mention_rows(mentions)
        stored: dict[str, tuple[str, object]] = {}  # id -> (text, removed) of the rows the batch meets
        ids = list(dict.fromkeys(row[0] for row in rows))
        for chunk, marks in in_chunks(ids):
            stored.update((r[0], (r[1], r[2])) for r in db.execute(
                f"SELECT id, text, removed FROM mentions WHERE id IN ({marks})", chunk))
        inserts: list[tuple[object, ...]] = []
        inserted: dict[str, object] = {}  # id -> engagement JSON of the rows this batch inserts
        seen = ts(at)
        for index, row in enumerate(rows):
            mention_id = row[0]
            exists = stored.get(mention_id)
            if exists and exists[1] is not None:
                continue  # a tombstone: the post is gone, and a late copy of it must not bring it back
            if exists:
                f = dict(zip(MENTION_ROW_FIELDS, row, strict=True))  # a re-fetch: its row's values by name
                inserted.pop(mention_id, None)  # updated below: what this batch inserted is no longer what is stored
                if inserts:  # the same post twice in one batch: its first row must be there to update
                    db.executemany(f"INSERT INTO mentions {MENTION_COLUMNS}", inserts)
                    inserts = []
                # A re-fetch refreshes what changes over time; sentiment already computed stays,
                # unless the text itself changed (an edit): then it is scored and indexed afresh.
                if exists[0] != f["text"]:
                    forget_mention(db, mention_id)
                    db.execute(
                        "UPDATE mentions SET text = ?, title = ?, lang = COALESCE(?, lang), search_key = NULL,"
                        " sentiment_label = NULL, sentiment_score = NULL, sentiment_model = NULL, topic = NULL,"
                        " team = NULL WHERE id = ?", (f["text"], f["title"], f["lang"], mention_id))
                    stored[mention_id] = (f["text"], None)
                db.execute(
                    "UPDATE mentions SET engagement = CASE WHEN ? THEN ? ELSE engagement END,"
                    " engagement_known = max(engagement_known, ?), author_followers = ?, url = ?,"
                    " author_verified = COALESCE(?, author_verified), nsfw = ?, refers_to = COALESCE(?, refers_to)"
                    " WHERE id = ?",
                    (f["engagement_known"], f["engagement"], f["engagement_known"], f["author_followers"], f["url"],
                     f["author_verified"], f["nsfw"], f["refers_to"], mention_id),
                )
                updated += 1
            else:
                inserts.append((*row, seen))
                inserted[mention_id] = row[ROW_ENGAGEMENT]
                stored[mention_id] = (row[ROW_TEXT], None)
                new += 1
        if inserts:
            db.executemany(f"INSERT INTO mentions {MENTION_COLUMNS}", inserts)
        if snapshots:
            readings = reading_rows(snapshots)
            new_snaps = db.executemany("INSERT OR IGNORE INTO snapshots VALUES (?,?,?)", readings).rowcount
            # The mention row carries the latest known engagement: the batch's latest reading of each
            # post (the last one given, on a tie), unless a later one was stored before.
            latest: dict[str, tuple[str, str, str]] = {}
            for reading in readings:
                if reading[0] not in latest or reading[1] >= latest[reading[0]][1]:
                    latest[reading[0]] = reading
            # A post inserted by this batch with the engagement of its latest reading (its first sight,
            # mostly) has nothing to update: the statement would write the same value.
            for mid, at_, engagement in list(latest.values()):
                if inserted.get(mid) == engagement:
                    del latest[mid]
            db.executemany(
                "UPDATE mentions SET engagement = ? WHERE id = ? AND NOT EXISTS ("
                " SELECT 1 FROM snapshots WHERE mention_id = ? AND observed_at > ?)",
                [(engagement, mid, mid, at_) for mid, at_, engagement in latest.values()],
            )
        count_added(db, "mentions", new)
        count_added(db, "snapshots", new_snaps)
        return new, updated, new_snaps

    @staticmethod
    def _quarantine(db: sqlite3.Connection, records: Sequence[Quarantined], at: datetime) -> int:
        added = 0
        for q in records:
            cur = db.execute(
                "INSERT OR IGNORE INTO quarantine VALUES (?,?,?,?,?,?)",
                (storable_text(q.source), storable_text(q.where), quarantine_digest(q), storable_text(q.reason),
                 storable_text(q.head), ts(at)),
            )
            added += cur.rowcount
        return added

    def quarantined(self, limit: int = 100) -> list[Quarantined]:
        rows = self._query("SELECT * FROM quarantine ORDER BY at DESC, rowid DESC LIMIT ?", (limit,))
        return [Quarantined(r["source"], r["position"], r["reason"], r["head"], parse_ts(r["at"])) for r in rows]

    def count_quarantined(self) -> int:
        return self._query("SELECT COUNT(*) FROM quarantine")[0][0]

    @staticmethod
    def _write_cursor(db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute(
            "INSERT INTO cursors VALUES (?,?,?) ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            (key, value, ts(datetime.now(UTC))),
        )

    def set_cursor(self, key: str, value: str) -> None:
        with self._tx() as db:
            self._write_cursor(db, key, value)

    def get_cursor(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM cursors WHERE key = ?", (key,))
        return rows[0]["value"] if rows else None

    def get_mention(self, mention_id: str) -> Mention | None:
        return self.get_mentions([mention_id]).get(mention_id)

    def get_mentions(self, mention_ids: Iterable[str]) -> dict[str, Mention]:
        ids = list(dict.fromkeys(mention_ids))
        found: dict[str, Mention] = {}
        for chunk, marks in in_chunks(ids):
            for row in self._query(f"SELECT * FROM mentions WHERE id IN ({marks})", chunk):
                found[row["id"]] = mention_from_row(row)
        return found

    def count_mentions(self) -> int:
        return self._count("mentions")

    def _count(self, table: str) -> int:
        """The triggers' count (schema.COUNTS); COUNT(*) on a file opened read-only from before them."""
        try:
            rows = self._query("SELECT n FROM row_counts WHERE name = ?", (table,))
        except sqlite3.OperationalError:
            rows = []
        return rows[0][0] if rows else self._query(f"SELECT COUNT(*) FROM {table}")[0][0]

    def search_mentions(self, query: MentionQuery) -> MentionPage:
        with self._lock:
            rows, next_cursor = search_rows(self._db, query)
        return MentionPage([mention_from_row(r) for r in rows], next_cursor)

    def recent_mentions(self, source: str, since: datetime, limit: int = 1000) -> list[Mention]:
        rows = self._query(
            "SELECT * FROM mentions WHERE source = ? AND created_at >= ? ORDER BY created_at DESC LIMIT ?",
            (source, ts(since), limit),
        )
        return [mention_from_row(r) for r in rows]

    def count_snapshots(self) -> int:
        return self._count("snapshots")

    def unscored_mentions(self, limit: int = 1000) -> list[Mention]:
        rows = self._query(
            "SELECT * FROM mentions WHERE sentiment_label IS NULL ORDER BY created_at LIMIT ?", (limit,)
        )
        return [mention_from_row(r) for r in rows]

    def unscored_posts(self, limit: int = 1000, brand: str | None = None, since: datetime | None = None,
                       until: datetime | None = None) -> list[UnscoredPost]:
        where, params = ["sentiment_label IS NULL"], []
        if brand is not None:
            where.append("brand = ?")
            params.append(brand)
        if since is not None:
            where.append("created_at >= ?")
            params.append(ts(since))
        if until is not None:
            where.append("created_at < ?")
            params.append(ts(until))
        rows = self._query(f"SELECT id, text, title, lang, rating FROM mentions WHERE {' AND '.join(where)}"
                           " ORDER BY created_at LIMIT ?", [*params, limit])
        return [UnscoredPost(*r) for r in rows]

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

    def snapshots_since(self, since: datetime, until: datetime | None = None,
                        brand: str | None = None) -> list[EngagementSnapshot]:
        return [snapshot_from_row(r) for r in self._snapshots_in("s.*", since, until, brand)]

    def engagement_points(self, since: datetime, until: datetime | None = None,
                          brand: str | None = None) -> list[tuple[str, datetime, int]]:
        total = ENGAGEMENT_TOTAL.replace("engagement", "s.engagement")  # the mention has a column of that name too
        rows = self._snapshots_in(f"s.mention_id, s.observed_at, {total}", since, until, brand)
        return [(r[0], parse_ts(r[1]), r[2]) for r in rows]

    def _snapshots_in(self, columns: str, since: datetime, until: datetime | None,
                      brand: str | None) -> list[sqlite3.Row]:
        """These columns of the snapshots observed in [since, until] (of `brand`'s mentions), oldest first."""
        sql = f"SELECT {columns} FROM snapshots s"
        params: list[object] = [ts(since)]
        if brand is not None:
            sql += " JOIN mentions m ON m.id = s.mention_id AND m.brand = ?"
            params.insert(0, brand)
        sql += " WHERE s.observed_at >= ?"
        if until is not None:
            sql += " AND s.observed_at <= ?"
            params.append(ts(until))
        return self._query(sql + " ORDER BY s.observed_at, s.mention_id", params)

    def post_facts(self, mention_ids: Iterable[str]) -> dict[str, PostFacts]:
        ids = list(dict.fromkeys(mention_ids))
        found: dict[str, PostFacts] = {}
        for chunk, marks in in_chunks(ids):
            # The sign is Mention.is_negative's rule, in SQL (the conformance suite checks they agree).
            for r in self._query("SELECT id, brand, created_at, (rating IS NOT NULL AND rating <= 2)"
                                 f" OR sentiment_label = 'negative' FROM mentions WHERE id IN ({marks})", chunk):
                found[r[0]] = PostFacts(r[1], parse_ts(r[2]), bool(r[3]))
        return found

    def snapshots_for(self, mention_id: str) -> list[EngagementSnapshot]:
        rows = self._query("SELECT * FROM snapshots WHERE mention_id = ? ORDER BY observed_at", (mention_id,))
        return [snapshot_from_row(r) for r in rows]

    def snapshots_of(self, mention_ids: Iterable[str]) -> dict[str, list[EngagementSnapshot]]:
        found: dict[str, list[EngagementSnapshot]] = {}
        for row in self._snapshot_rows_of("*", mention_ids):
            found.setdefault(row["mention_id"], []).append(snapshot_from_row(row))
        return found

    def readings_of(self, mention_ids: Iterable[str]) -> dict[str, list[Reading]]:
        found: dict[str, list[Reading]] = {}
        for row in self._snapshot_rows_of(f"mention_id, observed_at, {_COUNTS}", mention_ids):
            found.setdefault(row[0], []).append(Reading(parse_ts(row[1]), *row[2:]))
        return found

    def _snapshot_rows_of(self, columns: str, mention_ids: Iterable[str]) -> Iterator[sqlite3.Row]:
        """These columns of the snapshots of these mentions, a query per chunk of ids, each's oldest first."""
        ids = list(dict.fromkeys(mention_ids))
        for chunk, marks in in_chunks(ids):
            yield from self._query(f"SELECT {columns} FROM snapshots WHERE mention_id IN ({marks})"
                                   " ORDER BY mention_id, observed_at", chunk)

    def latest_observation(self) -> datetime | None:
        value = self._query("SELECT MAX(observed_at) FROM snapshots")[0][0]
        return parse_ts(value) if value else None

    # -- alerts ---------------------------------------------------------------

    def add_alert(self, alert: Alert) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO alerts (id, mention_id, brand, severity, created_at, reason,"
                " velocity_per_min, baseline_per_min, state, kind, topic, team, assignee)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    alert.id, alert.mention_id, alert.brand, alert.severity.value, ts(alert.created_at),
                    alert.reason, alert.velocity_per_min, alert.baseline_per_min, alert.state.value,
                    alert.kind.value, alert.topic, alert.team, alert.assignee,
                ),
            )
            return cur.rowcount == 1

    def get_alert(self, alert_id: str) -> Alert | None:
        rows = self._query("SELECT * FROM alerts WHERE id = ?", (alert_id,))
        return alert_from_row(rows[0]) if rows else None

    def alerts_for(self, mention_ids: Iterable[str]) -> list[Alert]:
        ids = list(dict.fromkeys(mention_ids))
        found: list[Alert] = []
        for chunk, marks in in_chunks(ids):
            rows = self._query(f"SELECT * FROM alerts WHERE mention_id IN ({marks})", chunk)
            found += [alert_from_row(r) for r in rows]
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
        return [alert_from_row(r) for r in rows]

    def count_alerts_by_state(self) -> dict[AlertState, int]:
        found = dict(self._query("SELECT state, COUNT(*) FROM alerts GROUP BY state"))
        return {state: found.get(state.value, 0) for state in AlertState}

    def alert_cases(self, query: CaseQuery) -> CasePage:
        with self._lock:
            rows, counts, next_cursor = case_rows(self._db, query)
        return CasePage([alert_from_row(r) for r in rows], next_cursor, counts)

    def _read_alert(self, db: sqlite3.Connection, alert_id: str) -> Alert:
        rows = db.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchall()
        if not rows:
            raise KeyError(alert_id)
        return alert_from_row(rows[0])

    def update_alert(self, alert_id: str, change: AlertChange) -> Alert:
        with self._tx() as db:  # BEGIN IMMEDIATE: no other writer between the read and the write
            updated = change(self._read_alert(db, alert_id))
            write_handling(db, updated)
        return updated

    def record_alert_event(self, event: AlertEvent, apply: ApplyEvent) -> Alert:
        with self._tx() as db:  # the read, the rule and both writes in one IMMEDIATE transaction
            alert = self._read_alert(db, event.alert_id)
            if db.execute("SELECT 1 FROM alert_events WHERE id = ?", (event.id,)).fetchone():
                return alert  # already recorded: a retry
            updated = apply(alert, event)  # raises before anything is written
            insert_event(db, event)
            write_handling(db, updated)
        return updated

    def alert_events(self, alert_ids: Iterable[str]) -> list[AlertEvent]:
        ids = list(dict.fromkeys(alert_ids))
        rows: list[sqlite3.Row] = []
        for chunk, marks in in_chunks(ids):
            rows += self._query(f"SELECT * FROM alert_events WHERE alert_id IN ({marks})", chunk)
        rows.sort(key=lambda r: (r["at"], r["seq"]))
        return [event_from_row(r) for r in rows]

    def alerts_created(self, since: datetime, until: datetime) -> list[Alert]:
        rows = self._query(
            "SELECT * FROM alerts WHERE created_at >= ? AND created_at < ? ORDER BY created_at, id",
            (ts(since), ts(until)),
        )
        return [alert_from_row(r) for r in rows]

    def alert_handling(self, since: datetime, until: datetime) -> list[AlertHandling]:
        rows = self._query(  # from the covering index alerts_created alone
            "SELECT state, created_at, first_response_at, resolved_at FROM alerts"
            " WHERE created_at >= ? AND created_at < ?", (ts(since), ts(until)),
        )
        return [AlertHandling(AlertState(state), parse_ts(created), parse_ts(first) if first else None,
                              parse_ts(resolved) if resolved else None) for state, created, first, resolved in rows]

    def undelivered_alerts(self, channel: str) -> list[Alert]:
        rows = self._query(
            "SELECT * FROM alerts WHERE id NOT IN (SELECT alert_id FROM deliveries WHERE channel = ?)"
            " ORDER BY created_at, id",
            (channel,),
        )
        return [alert_from_row(r) for r in rows]

    def claim_delivery(self, alert_id: str, channel: str, owner: str, until: datetime, now: datetime) -> bool:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM deliveries WHERE alert_id = ? AND channel = ?",
                          (alert_id, channel)).fetchone():
                return False
            held = db.execute("SELECT owner, expires_at FROM delivery_claims WHERE alert_id = ? AND channel = ?",
                              (alert_id, channel)).fetchone()
            if held and held["owner"] != owner and held["expires_at"] > ts(now):
                return False
            db.execute("INSERT OR REPLACE INTO delivery_claims VALUES (?,?,?,?)",
                       (alert_id, channel, owner, ts(until)))
            return True

    def release_delivery(self, alert_id: str, channel: str, owner: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM delivery_claims WHERE alert_id = ? AND channel = ? AND owner = ?",
                       (alert_id, channel, owner))

    def mark_delivered(self, alert_id: str, channel: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO deliveries VALUES (?,?,?)", (alert_id, channel, ts(datetime.now(UTC)))
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
        params: list[object] = [ts(since) if since else ""]
        if brand is not None:
            sql += " AND brand = ?"
            params.append(brand)
        rows = self._query(sql + " GROUP BY bucket, brand, source, label ORDER BY bucket", params)
        suffix = ":00:00+00:00" if bucket_minutes == 60 else ":00+00:00"  # fromisoformat: no strptime per row
        return [
            TrendPoint(
                bucket=datetime.fromisoformat(r["bucket"] + suffix),
                source=r["source"], label=r["label"], count=r["n"], brand=r["brand"],
            )
            for r in rows
        ]
