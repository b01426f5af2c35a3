"""Searching the SQLite store: accent folding, the index kept with ingest and import, the migration
of files written before it, and the query plans that keep a page cheap on a large store.

The behaviour every store shares is in tests/test_store_conformance.py; this is what only the
embedded store promises (Elasticsearch's analyzers are configured per language elsewhere).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.models import Engagement, Mention
from monitor.store import RecordKind, SQLiteStore
from monitor.store.base import MentionQuery, MentionSort
from monitor.store.records import MentionRecord

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def post(native_id: str, text: str, at: datetime, likes: int = 0) -> Mention:
    return Mention(id=f"x:{native_id}", source="x", native_id=native_id, url=f"https://x.com/a/{native_id}",
                   author_handle="ana", text=text, created_at=at, brand="Acme", query="acme",
                   engagement=Engagement(likes=likes))


@pytest.fixture
def store(tmp_path: Path):
    s = SQLiteStore(tmp_path / "earshot.db")
    yield s
    s.close()


def ids(store: SQLiteStore, **query) -> list[str]:
    out: list[str] = []
    cursor = None
    while True:
        page = store.search_mentions(MentionQuery(cursor=cursor, **query))
        out += [m.id for m in page.mentions]
        if page.next_cursor is None:
            return out
        cursor = page.next_cursor


def test_factura_finds_every_case_and_accent_variant(store):
    store.ingest([post("1", "Factura duplicada", T0), post("2", "la fáctura otra vez", T0 + timedelta(seconds=1)),
                  post("3", "FÁCTURA!!!", T0 + timedelta(seconds=2)),
                  post("4", "fa\u0301ctura (typed with a combining accent)", T0 + timedelta(seconds=3)),
                  post("5", "Facturación caída", T0 + timedelta(seconds=4)),
                  post("6", "nothing to see", T0 + timedelta(seconds=5))], [])
    assert ids(store, text="factura") == ["x:4", "x:3", "x:2", "x:1"]
    assert ids(store, text="FÁCTURA") == ids(store, text="factura")
    assert ids(store, text="facturacion") == ["x:5"]
    assert ids(store, text="fact*") == ["x:5", "x:4", "x:3", "x:2", "x:1"]


def test_mentions_stored_out_of_order_are_found_newest_first_and_ties_page_cleanly(store):
    same = T0 + timedelta(hours=1)
    store.ingest([post("late", "billing", T0 + timedelta(hours=2))], [])
    store.ingest([post(f"tie{i}", "billing", same) for i in range(5)] + [post("early", "billing", T0)], [])
    newest = ids(store, text="billing", limit=2)
    assert newest[0] == "x:late" and newest[-1] == "x:early"
    assert sorted(newest[1:6]) == [f"x:tie{i}" for i in range(5)] and len(set(newest)) == 7
    assert ids(store, text="billing", sort=MentionSort.oldest, limit=3) == newest[::-1]
    assert ids(store, limit=1) == newest  # the same order with no text


def test_a_file_written_before_the_search_index_is_indexed_when_opened(tmp_path: Path):
    old = sqlite3.connect(tmp_path / "old.db")  # the first release's mentions, no index, no added columns
    old.executescript("""
        CREATE TABLE mentions (id TEXT PRIMARY KEY, source TEXT NOT NULL, native_id TEXT NOT NULL, url TEXT NOT NULL,
            author_handle TEXT NOT NULL, author_followers INTEGER NOT NULL, text TEXT NOT NULL, title TEXT, lang TEXT,
            created_at TEXT NOT NULL, brand TEXT NOT NULL, query TEXT NOT NULL, engagement TEXT NOT NULL,
            rating INTEGER, sentiment_label TEXT, sentiment_score REAL, sentiment_model TEXT,
            first_seen_at TEXT NOT NULL);
        CREATE TABLE alerts (id TEXT PRIMARY KEY, mention_id TEXT, brand TEXT NOT NULL, severity TEXT NOT NULL,
            created_at TEXT NOT NULL, reason TEXT NOT NULL, velocity_per_min REAL NOT NULL,
            baseline_per_min REAL NOT NULL, state TEXT NOT NULL);
        INSERT INTO mentions VALUES
            ('x:1', 'x', '1', 'u', 'ana', 0, 'Mi Factura no llega', NULL, 'es', '2026-03-01T08:00:00.000000Z', 'Acme',
             'acme', '{"likes": 3, "reposts": 2, "replies": 0, "quotes": 0, "score": 0}', NULL, NULL, NULL, NULL,
             '2026-03-01T08:01:00.000000Z'),
            ('x:2', 'x', '2', 'u', 'ana', 0, 'otra fáctura', 'Cobro', 'es', '2026-03-01T09:00:00.000000Z', 'Acme',
             'acme', '{"likes": 1, "reposts": 0, "replies": 0, "quotes": 0, "score": 0}', NULL, NULL, NULL, NULL,
             '2026-03-01T09:01:00.000000Z');
    """)
    old.close()
    store = SQLiteStore(tmp_path / "old.db")
    try:
        assert ids(store, text="factura") == ["x:2", "x:1"]
        assert ids(store, text="cobro") == ["x:2"]  # titles too
        assert ids(store, sort=MentionSort.engagement) == ["x:1", "x:2"]  # 3 likes + 2 reposts x 2 = 7 > 1
        assert ids(store, min_engagement=7) == ["x:1"]
        indices = {r[0] for r in store._query("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"alerts_mention", "mentions_search_key", "mentions_engagement"} <= indices
        store.ingest([post("3", "factura nueva", T0 + timedelta(hours=2))], [])
        assert ids(store, text="factura") == ["x:3", "x:2", "x:1"]
    finally:
        store.close()
    again = SQLiteStore(tmp_path / "old.db")  # opening again indexes nothing twice
    try:
        assert again._query("SELECT COUNT(*) FROM mention_text")[0][0] == 3
    finally:
        again.close()


def test_an_imported_mention_replaces_its_index_entry(store):
    store.ingest([post("1", "factura duplicada", T0)], [])
    rewritten = post("1", "reembolso pendiente", T0 + timedelta(minutes=5))
    assert store.import_records(RecordKind.mentions, [MentionRecord(rewritten, T0)]).failures == []
    assert ids(store, text="factura") == [] and ids(store, text="reembolso") == ["x:1"]
    assert store._query("SELECT COUNT(*) FROM mention_text")[0][0] == 1


def _plan(store: SQLiteStore, sql: str, params: tuple[object, ...] = ()) -> str:
    return " | ".join(row[3] for row in store._query(f"EXPLAIN QUERY PLAN {sql}", params))


def test_a_page_of_matches_walks_the_index_in_time_order_instead_of_sorting_every_match(store):
    """What keeps search fast on a million posts: the newest page of a common word reads a page's
    worth of index entries, and no query sorts all matches (no temporary B-tree)."""
    plan = _plan(store, "SELECT m.* FROM mention_text f JOIN mentions m ON m.search_key = f.rowid"
                        " WHERE mention_text MATCH 'factura' AND f.rowid < 10 ORDER BY f.rowid DESC LIMIT 51")
    assert "VIRTUAL TABLE" in plan and "TEMP B-TREE" not in plan
    plan = _plan(store, "SELECT * FROM mentions m WHERE m.brand = 'Acme' AND m.search_key < 10"
                        " ORDER BY m.search_key DESC LIMIT 51")
    assert "mentions_search_key" in plan and "TEMP B-TREE" not in plan
    plan = _plan(store, "SELECT * FROM mentions m WHERE (m.engagement_total, m.search_key) < (5, 10)"
                        " ORDER BY m.engagement_total DESC, m.search_key DESC LIMIT 51")
    assert "mentions_engagement" in plan and "TEMP B-TREE" not in plan
    assert "alerts_mention" in _plan(store, "SELECT * FROM alerts WHERE mention_id IN ('x:1', 'x:2')")


# -- the inbox's cases, kept by the database ------------------------------------------------


def _alert_row(db: sqlite3.Connection, alert_id: str, mention_id: str | None, severity: str, state: str,
               minutes: int) -> None:
    db.execute("INSERT INTO alerts (id, mention_id, brand, severity, created_at, reason, velocity_per_min,"
               " baseline_per_min, state) VALUES (?, ?, 'Acme', ?, ?, 'r', 1, 0, ?)",
               (alert_id, mention_id, severity, f"2026-03-01T08:{minutes:02d}:00.000000Z", state))


def test_cases_follow_alerts_written_by_any_writer_of_the_file(store, tmp_path: Path):
    """Triggers keep the inbox's cases: a row written by another program (an older Earshot, a
    script) is in the inbox at once, with its post's other alerts grouped."""
    from monitor.store.base import CaseQuery
    from monitor.models import AlertState

    other = sqlite3.connect(tmp_path / "earshot.db", isolation_level=None)
    _alert_row(other, "x:1:warning", "x:1", "warning", "open", 1)
    _alert_row(other, "x:1:critical", "x:1", "critical", "acknowledged", 2)
    _alert_row(other, "storm:Acme", None, "info", "open", 3)
    page = store.alert_cases(CaseQuery())
    assert [a.id for a in page.primaries] == ["x:1:critical", "storm:Acme"]
    assert page.counts[AlertState.open] == 2
    other.execute("UPDATE alerts SET state = 'resolved' WHERE mention_id = 'x:1'")
    other.execute("DELETE FROM alerts WHERE id = 'storm:Acme'")
    other.close()
    assert store.alert_cases(CaseQuery()).primaries == []
    assert [a.id for a in store.alert_cases(CaseQuery(states=(AlertState.resolved,))).primaries] == ["x:1:critical"]


def test_a_file_with_alerts_from_before_the_cases_table_gets_its_cases_when_opened(tmp_path: Path):
    from monitor.store.base import CaseQuery
    from monitor.store.sqlite.schema import SCHEMA

    old = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    old.executescript(SCHEMA.replace("mentions_time ON mentions(created_at, brand, source, sentiment_label)",
                                     "mentions_created ON mentions(created_at)"))
    _alert_row(old, "x:1:info", "x:1", "info", "open", 1)
    _alert_row(old, "x:1:warning", "x:1", "warning", "open", 2)
    _alert_row(old, "x:2:info", "x:2", "info", "dismissed", 3)
    old.close()
    store = SQLiteStore(tmp_path / "old.db")
    try:
        assert [a.id for a in store.alert_cases(CaseQuery()).primaries] == ["x:1:warning"]
        indices = {r[0] for r in store._query("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "mentions_time" in indices and "mentions_created" not in indices
    finally:
        store.close()


def test_a_page_of_the_inbox_is_an_index_range_not_a_sort_of_every_alert(store):
    plan = _plan(store, "SELECT a.* FROM inbox_cases c JOIN alerts a ON a.id = c.alert_id WHERE c.active = 1"
                        " AND (c.any_open, c.rank, c.created_at, c.alert_id) < (1, 2, 'x', 'y')"
                        " ORDER BY c.any_open DESC, c.rank DESC, c.created_at DESC, c.alert_id DESC LIMIT 26")
    assert "inbox_cases_order" in plan and "TEMP B-TREE" not in plan
    assert "COVERING INDEX mentions_time" in _plan(
        store, "SELECT substr(created_at, 1, 13), brand, source, sentiment_label, COUNT(*) FROM mentions"
               " WHERE created_at >= '2026' GROUP BY 1, 2, 3, 4")


def test_one_brands_engagement_readings_find_each_posts_brand_in_an_index_not_its_row(store, monkeypatch):
    """Detection reads a brand's readings over its whole history window every run; the brand of
    each reading's post comes from the (id, brand) index, not from the post's row."""
    asked: list[tuple[str, tuple[object, ...]]] = []
    query = store._query
    monkeypatch.setattr(store, "_query",
                        lambda sql, params=(): asked.append((sql, tuple(params))) or query(sql, params))
    store.engagement_points(datetime(2026, 1, 1, tzinfo=UTC), brand="Acme")
    (sql, params), = asked
    monkeypatch.undo()
    assert "COVERING INDEX mentions_brand" in _plan(store, sql, params)


def test_a_common_word_by_engagement_pages_the_same_whichever_index_leads(store, monkeypatch):
    """Few matches are sorted; many are found along the engagement index (search.DENSE_MATCHES):
    the same results in the same order either way."""
    from monitor.store.sqlite import search

    store.ingest([post(str(i), "factura" + (" doble" if i % 3 == 0 else ""), T0 + timedelta(minutes=i), likes=i % 7)
                  for i in range(30)], [])
    queries = [dict(text="factura"), dict(text="factura doble", min_engagement=2),
               dict(text="factura -doble", since=T0 + timedelta(minutes=10))]
    sorted_few = [ids(store, sort=MentionSort.engagement, limit=4, **q) for q in queries]
    monkeypatch.setattr(search, "DENSE_MATCHES", 3)
    assert [ids(store, sort=MentionSort.engagement, limit=4, **q) for q in queries] == sorted_few
    assert len(sorted_few[0]) == 30 and sorted_few[0][:2] == ["x:27", "x:20"]  # 6 likes: the newest first


def test_mention_and_snapshot_totals_are_kept_by_the_database(store, tmp_path: Path):
    """Every page shows both totals: triggers keep them instead of counting a million rows each
    time, a replaced row is not counted twice, and opening the file counts afresh."""
    from monitor.models import EngagementSnapshot

    snap = EngagementSnapshot(mention_id="x:1", observed_at=T0, engagement=Engagement(likes=1))
    store.ingest([post("1", "a", T0), post("2", "b", T0)], [snap])
    assert (store.count_mentions(), store.count_snapshots()) == (2, 1)
    store.import_records(RecordKind.mentions, [MentionRecord(post("1", "again", T0), T0)])  # replaced
    assert store.count_mentions() == 2
    other = sqlite3.connect(tmp_path / "earshot.db", isolation_level=None)  # a writer without recursive triggers
    other.execute("INSERT OR REPLACE INTO snapshots VALUES ('x:1', ?, '{}')", (snap.observed_at.strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ"),))
    other.close()
    reopened = SQLiteStore(tmp_path / "earshot.db")
    try:
        assert (reopened.count_mentions(), reopened.count_snapshots()) == (2, 1)
    finally:
        reopened.close()
