"""A batch packed as the rows SQLite writes (`pack_batch`, applied in the process that fetches
ahead, monitor/fetch_ahead.py): the same mentions and snapshots to whoever reads it, and stored
exactly as the batch itself would be, whichever way its rows go into the store."""

from __future__ import annotations

import dataclasses
import pickle
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitor.config import Config
from monitor.models import Engagement, EngagementSnapshot, Mention, Sentiment
from monitor.sources.base import Batch
from monitor.store import SQLiteStore, StoreDescriptor, batch_packer, find_store
from monitor.store.sqlite import SQLiteStoreSettings
from monitor.store.sqlite.packed import MentionRows, ReadingRows, pack_batch

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def mention(native_id: str, minutes: int = 0, likes: int = 0, **extra: object) -> Mention:
    fields: dict[str, object] = {
        "id": Mention.make_id("x", native_id), "source": "x", "native_id": native_id,
        "url": f"https://x.com/a/{native_id}", "author_handle": "ana", "author_followers": 10,
        "text": f"post {native_id} sobre la factura", "created_at": T0 + timedelta(minutes=minutes),
        "brand": "Acme", "query": "acme", "engagement": Engagement(likes=likes),
    }
    return Mention.model_validate({**fields, **extra})


def snapshot(mention_id: str, minutes: int, likes: int) -> EngagementSnapshot:
    return EngagementSnapshot(mention_id=mention_id, observed_at=T0 + timedelta(minutes=minutes),
                              engagement=Engagement(likes=likes))


# Every field a row holds, set and unset.
VARIED = [
    mention("1"),
    mention("2", 1, likes=4, title="Factura doble", lang="es", rating=2, app_version="7.1",
            sentiment=Sentiment(label="negative", score=-0.8125, model="bundled"), topic="billing", team="care",
            engagement=Engagement(likes=3, reposts=2, quotes=1, replies=5, score=-4), engagement_known=False,
            refers_to="x:1", author_verified=True, nsfw=True),
    mention("3", 2, author_verified=False, created_at=datetime(2026, 3, 2, 12, 30, 0, 123456,
                                                               tzinfo=timezone(timedelta(hours=3)))),
    mention("4", 3, removed="deleted", removed_at=T0 + timedelta(hours=2), text="", author_followers=0),
]


def test_a_packed_batch_reads_as_the_mentions_and_snapshots_it_was_packed_from() -> None:
    snapshots = [snapshot("x:1", 5, 2), snapshot("x:2", 0, 4), snapshot("x:1", 9, 3)]
    batch = Batch(mentions=VARIED, snapshots=snapshots, cursor="c1", exhausted=False)
    packed = pack_batch(batch)
    assert isinstance(packed.mentions, MentionRows) and isinstance(packed.snapshots, ReadingRows)
    assert (packed.cursor, packed.exhausted) == ("c1", False)
    assert len(packed.mentions) == 4 and list(packed.mentions) == VARIED
    assert packed.mentions[1] == VARIED[1] and packed.mentions[-1] == VARIED[-1]
    assert isinstance(packed.mentions[1:3], MentionRows) and list(packed.mentions[1:3]) == VARIED[1:3]
    assert list(packed.snapshots) == snapshots and packed.snapshots[2] == snapshots[2]
    crossed = pickle.loads(pickle.dumps(packed))  # what the trip between processes does
    assert list(crossed.mentions) == VARIED and list(crossed.snapshots) == snapshots
    assert crossed.mentions.rows == packed.mentions.rows


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Everything ingest writes, but the time each row was first seen (the clock's)."""
    db = sqlite3.connect(path)
    columns = [r[1] for r in db.execute("PRAGMA table_info(mentions)") if r[1] != "first_seen_at"]
    tables = {
        "mentions": f"SELECT {', '.join(columns)} FROM mentions ORDER BY id",
        "snapshots": "SELECT * FROM snapshots ORDER BY mention_id, observed_at",
        "text index": "SELECT rowid, text, title FROM mention_text ORDER BY rowid",
        "quarantine": "SELECT source, position, reason, head FROM quarantine ORDER BY position",
        "counts": "SELECT * FROM row_counts ORDER BY name",
        "cursors": "SELECT key, value FROM cursors ORDER BY key",
    }
    try:
        return {name: db.execute(sql).fetchall() for name, sql in tables.items()}
    finally:
        db.close()


def batches() -> list[Batch]:
    """New posts, re-fetches, edits, the same post twice in a batch, later readings, a post gone
    and a row SQLite cannot hold (the batch is then written row by row, that row set aside)."""
    edited = mention("2", 1, likes=9).model_copy(update={"text": "post 2, edited: la factura otra vez"})
    return [
        Batch(mentions=VARIED, snapshots=[snapshot(m.id, 0, m.engagement.likes) for m in VARIED]
              + [snapshot("x:1", 20, 6), snapshot("x:9", 3, 1)], cursor="1"),
        Batch(mentions=[mention("1", likes=7, author_verified=True, refers_to="x:3", engagement_known=False,
                                author_followers=99, url="https://x.com/b/1", nsfw=True),
                        mention("5", 4), mention("5", 4, likes=2), edited, mention("4")],
              snapshots=[snapshot("x:1", 10, 5), snapshot("x:1", 30, 8), snapshot("x:5", 4, 0),
                         snapshot("x:2", 40, 11)], cursor="2"),
        Batch(mentions=[mention("6", 6), mention("7", 7, text="bad \ud800 surrogate"), mention("1", likes=1),
                        mention("5", 4, likes=50)],
              snapshots=[snapshot("x:6", 6, 0), snapshot("x:7", 7, 0), snapshot("x:1", 25, 99),
                         snapshot("x:\udfff", 8, 1)], cursor="3"),
    ]


def test_a_packed_batch_is_stored_exactly_as_the_batch_itself(tmp_path: Path) -> None:
    results = {}
    for packed in (False, True):
        path = tmp_path / f"{packed}.db"
        store = SQLiteStore(path)
        outcome = []
        for batch in batches():
            if batch.cursor == "3":
                store.tombstone([("x:5", "deleted")], T0 + timedelta(hours=1))
            given = pickle.loads(pickle.dumps(pack_batch(batch))) if packed else batch  # as the pipe carries it
            outcome.append(store.ingest(given.mentions, given.snapshots, "source:x", given.cursor))
        store.close()
        results[packed] = outcome, dump(path)
    assert results[True] == results[False]
    outcome, tables = results[True]
    assert [(r.new_mentions, r.updated_mentions) for r in outcome] == [(4, 0), (1, 3), (1, 1)]
    assert outcome[2].quarantined == 2  # the post and the reading SQLite cannot hold
    assert [row[1] for row in tables["quarantine"]] == ["x:7", "x:\\udfff snapshot"]
    assert dict(tables["counts"]) == {"mentions": 6, "snapshots": 12}


def test_a_batch_with_a_record_that_cannot_be_a_row_goes_as_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.store.sqlite import packed

    def overflow(m: Mention) -> tuple[object, ...]:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(packed, "mention_row", overflow)
    batch = Batch(mentions=VARIED, snapshots=[snapshot("x:1", 5, 2)], cursor="c1")
    assert pack_batch(batch) is batch


def test_the_sqlite_store_packs_batches_and_a_store_without_a_packer_gets_them_as_fetched() -> None:
    sqlite_config = Config.model_validate({"brands": [{"name": "Acme", "queries": ["acme"]}]})
    assert batch_packer(sqlite_config) is pack_batch
    assert find_store("elasticsearch").pack is None


def test_a_store_descriptor_subclass_may_add_fields_of_its_own() -> None:
    @dataclasses.dataclass(frozen=True)
    class Described(StoreDescriptor):
        region: str

    described = Described("mine", SQLiteStoreSettings, lambda s, d: None, lambda s, d: "mine", region="eu")
    assert described.region == "eu" and described.pack is None


@pytest.mark.parametrize("kind", [MentionRows, ReadingRows])
def test_an_empty_packed_sequence_is_empty(kind: type) -> None:
    assert len(kind([])) == 0 and list(kind([])) == []
