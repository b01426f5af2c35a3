"""The stores' noise records: what `set_noise` writes, `noise_candidates` and `noise_of` read back
exactly, however many marks and band keys one call carries (the SQLite store writes band keys
many rows a statement, so counts that are not a multiple of that are pinned here)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.models import Engagement, EngagementSnapshot, Mention, Reading
from monitor.noise.marks import NoiseMark, NoisePost
from tests.test_noise import store  # noqa: F401  (the fixture: SQLite, and Elasticsearch through the fake)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def mention(i: int) -> Mention:
    return Mention(id=Mention.make_id("x", str(i)), source="x", native_id=str(i), url=f"https://example.com/{i}",
                   author_handle=f"user_{i}", author_followers=i, text=f"post number {i}",
                   created_at=T0 + timedelta(minutes=i), brand="Brisa", query="brisa", engagement=Engagement())


def mark(i: int, bands: int) -> NoiseMark:
    m = mention(i)
    return NoiseMark(mention_id=m.id, brand=m.brand, author_handle=m.author_handle, author_followers=i,
                     created_at=m.created_at, duplicate_of=mention(0).id if i % 3 else None,
                     bands=tuple(f"{b:02d}{(i * 7919 + b) % 2**32:08x}" for b in range(bands)),
                     signature=bytes(range(i % 200, i % 200 + 16)), spam_score=round(0.1 * (i % 12), 3),
                     spam_reasons=(f"reason {i}",) if i % 5 == 0 else (), spam=i % 5 == 0)


@pytest.mark.parametrize("count, bands", [(1, 16), (4, 16), (5, 16), (7, 13), (3, 0)])
def test_marks_and_their_band_keys_read_back_exactly(store, count, bands):
    mentions = [mention(i) for i in range(count)]
    store.ingest(mentions, [])
    marks = [mark(i, bands) for i in range(count)]
    store.set_noise(marks)
    read = store.noise_of([m.id for m in mentions])
    assert {mid: replace(m, bands=()) for mid, m in read.items()} == {m.mention_id: replace(m, bands=()) for m in marks}
    found = {m.mention_id: m for m in store.noise_candidates([b for m in marks for b in m.bands], T0)}
    assert {mid: set(m.bands) for mid, m in found.items()} == {m.mention_id: set(m.bands) for m in marks if m.bands}
    for m in marks:
        if m.bands:
            got = found[m.mention_id]
            assert (got.duplicate_of, got.signature, got.spam_score, got.spam_reasons, got.spam) == \
                (m.duplicate_of, m.signature, m.spam_score, m.spam_reasons, m.spam)


def test_posts_taken_down_are_no_ones_candidates_however_many_go_at_once(store):
    """A tombstone keeps its mark but not its band keys, for every post of a large take-down (the
    SQLite store deletes them a few hundred posts a statement: counts across that are pinned)."""
    mentions = [mention(i) for i in range(1201)]
    store.ingest(mentions, [])
    marks = [mark(i, 2) for i in range(1201)]
    store.set_noise(marks)
    assert store.tombstone([(m.id, "deleted") for m in mentions[:1200]], T0) == 1200
    found = store.noise_candidates([b for m in marks for b in m.bands], T0)
    assert [m.mention_id for m in found] == [mentions[1200].id]
    assert len(store.noise_of([m.id for m in mentions])) == 1201


def test_candidates_are_only_posts_sharing_a_key_since_the_given_time(store):
    mentions = [mention(i) for i in range(6)]
    store.ingest(mentions, [])
    store.set_noise([mark(i, 16) for i in range(6)])
    wanted = [mark(1, 16).bands[3], mark(4, 16).bands[0], "99ffffffff"]
    assert {m.mention_id for m in store.noise_candidates(wanted, T0)} == {mentions[1].id, mentions[4].id}
    assert {m.mention_id for m in store.noise_candidates(wanted, T0 + timedelta(minutes=2))} == {mentions[4].id}
    assert [m.bands for m in store.noise_candidates(wanted[:1], T0)] == [(wanted[0],)]


def test_unjudged_posts_are_the_unmarked_mentions_in_their_order_as_judging_reads_them(store):
    mentions = [mention(i) for i in (5, 2, 9, 1, 7)]
    mentions[1] = mentions[1].model_copy(update={"title": "A title", "text": "Telefónica 😀 body"})
    store.ingest(mentions, [])
    store.set_noise([mark(9, 16)])
    expected = [NoisePost.of(m) for m in store.unmarked_mentions(limit=10)]
    assert [p.id for p in expected] == [mention(i).id for i in (1, 2, 5, 7)]
    assert store.unjudged_posts(limit=10) == expected
    assert store.unjudged_posts(limit=2) == expected[:2]
    assert expected[1].title == "A title" and expected[1].text == "Telefónica 😀 body"
    assert expected[0].created_at == T0 + timedelta(minutes=1) and expected[0].created_at.tzinfo is not None


def test_unjudged_posts_since_a_time_are_those_created_at_or_after_it(store):
    """What a noise run reads after its first chunk: from the newest post it judged on, so posts
    sharing that time and not judged yet are read again, and the run never walks back over the
    posts it judged."""
    mentions = [mention(i) for i in range(6)]
    same_time = mentions[3].model_copy(update={"id": "x:3b", "native_id": "3b"})  # created with x:3
    store.ingest([*mentions, same_time], [])
    store.set_noise([mark(i, 16) for i in (0, 1, 2, 3, 5)])
    assert [p.id for p in store.unjudged_posts(limit=10, since=mentions[3].created_at)] == ["x:3b", "x:4"]
    assert [p.id for p in store.unjudged_posts(limit=1, since=mentions[3].created_at)] == ["x:3b"]
    assert [p.id for p in store.unjudged_posts(limit=10, since=mentions[4].created_at + timedelta(seconds=1))] == []
    assert [p.id for p in store.unjudged_posts(limit=10, since=T0 - timedelta(days=1))] == \
        [p.id for p in store.unjudged_posts(limit=10)] == ["x:3b", "x:4"]


def test_readings_of_posts_are_their_snapshots_as_counts_oldest_first(store):
    """What spread detection reads of every copy cluster it merges (`Store.readings_of`): each
    post's snapshots, in the order `snapshots_of` gives them, as their time and five counts."""
    mentions = [mention(i) for i in range(3)]
    store.ingest(mentions, [
        EngagementSnapshot(mention_id=mentions[0].id, observed_at=T0 + timedelta(minutes=30),
                           engagement=Engagement(likes=9, reposts=2, replies=1, quotes=3, score=-4)),
        EngagementSnapshot(mention_id=mentions[0].id, observed_at=T0 + timedelta(minutes=10),
                           engagement=Engagement(likes=1)),
        EngagementSnapshot(mention_id=mentions[2].id, observed_at=T0 + timedelta(minutes=20),
                           engagement=Engagement(score=7, replies=5)),
    ])
    ids = [m.id for m in mentions] + ["x:nobody"]
    expected = {mid: [Reading.of(s) for s in snaps] for mid, snaps in store.snapshots_of(ids).items()}
    assert store.readings_of(ids) == expected
    assert expected == {
        mentions[0].id: [Reading(T0 + timedelta(minutes=10), 1), Reading(T0 + timedelta(minutes=30), 9, 2, 1, 3, -4)],
        mentions[2].id: [Reading(T0 + timedelta(minutes=20), replies=5, score=7)],
    }
    assert [r.total for r in expected[mentions[0].id]] == [1, 9 + 2 * (2 + 3) + 1]
    assert store.readings_of([]) == {}


def test_unjudged_posts_and_the_newest_judged_of_one_brand_are_that_brands_alone(store):
    """What a brand's own noise task reads (the DAG judges each brand in a task instance of its
    own): its brand's unjudged posts, in order and from `since`, and its brand's newest mark."""
    mentions = [mention(i) if i % 2 else mention(i).model_copy(update={"brand": "Other"}) for i in range(8)]
    store.ingest(mentions, [])
    assert store.newest_judged("Brisa") is None and store.newest_judged("Other") is None
    store.set_noise([mark(1, 4), mark(5, 4), replace(mark(6, 4), brand="Other")])
    assert [p.id for p in store.unjudged_posts(limit=10, brand="Brisa")] == [mentions[i].id for i in (3, 7)]
    assert [p.id for p in store.unjudged_posts(limit=10, brand="Other")] == [mentions[i].id for i in (0, 2, 4)]
    assert [p.brand for p in store.unjudged_posts(limit=10, brand="Other")] == ["Other"] * 3
    assert [p.id for p in store.unjudged_posts(limit=1, brand="Other", since=mentions[1].created_at)] == \
        [mentions[2].id]
    assert store.unjudged_posts(limit=10, brand="Nobody") == []
    assert [p.id for p in store.unjudged_posts(limit=10)] == [mentions[i].id for i in (0, 2, 3, 4, 7)]
    assert store.newest_judged("Brisa") == mentions[5].created_at
    assert store.newest_judged("Other") == mentions[6].created_at == store.newest_judged()
    assert store.newest_judged("Nobody") is None


def test_a_file_with_the_older_text_band_index_is_migrated_and_still_finds_its_copies(tmp_path):
    """Before the band index held numbers it held text (`noise_bands`); opening such a file moves
    every row over, so a copy posted after the upgrade still finds a first post judged before it."""
    import sqlite3

    from monitor.store import SQLiteStore
    from monitor.store.sqlite.rows import ts

    path = tmp_path / "old.db"
    old = SQLiteStore(path)
    mentions = [mention(i) for i in range(5)]
    old.ingest(mentions, [])
    marks = [mark(i, 16) for i in range(5)]
    old.set_noise(marks)
    old.close()
    db = sqlite3.connect(path, isolation_level=None)  # as an older Earshot left it
    db.execute("DROP TABLE noise_band_keys")
    db.execute("CREATE TABLE noise_bands (band TEXT NOT NULL, created_at TEXT NOT NULL, mention_id TEXT NOT NULL,"
               " PRIMARY KEY (band, created_at, mention_id)) WITHOUT ROWID")
    db.executemany("INSERT INTO noise_bands VALUES (?,?,?)",
                   [(b, ts(m.created_at), m.mention_id) for m in marks for b in m.bands])
    db.close()

    store = SQLiteStore(path)
    try:
        found = {m.mention_id: set(m.bands) for m in store.noise_candidates([b for m in marks for b in m.bands], T0)}
        assert found == {m.mention_id: set(m.bands) for m in marks}
        later = {m.mention_id for m in store.noise_candidates(marks[3].bands, T0 + timedelta(minutes=3))}
        assert later == {marks[3].mention_id}
        tables = {r[0] for r in store._query("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "noise_bands" not in tables
    finally:
        store.close()


def test_asking_for_copies_only_leaves_out_the_first_posts_and_the_unjudged(store):
    mentions = [mention(i) for i in range(7)]
    store.ingest(mentions, [])
    store.set_noise([mark(i, 4) for i in range(6)])  # the seventh is not judged yet
    ids = [m.id for m in mentions]
    assert set(store.noise_of(ids, copies_only=True)) == {mentions[i].id for i in range(6) if i % 3}
    assert set(store.noise_of(ids)) == {mentions[i].id for i in range(6)}


def test_the_newest_judged_post_is_the_newest_with_a_mark_whatever_was_ingested_after_it(store):
    assert store.newest_judged() is None
    mentions = [mention(i) for i in range(6)]
    store.ingest(mentions, [])
    assert store.newest_judged() is None  # stored, none judged yet
    store.set_noise([mark(i, 4) for i in (0, 3, 1)])
    assert store.newest_judged() == mentions[3].created_at
    store.set_noise([mark(5, 0)])  # a post with no band keys is judged all the same
    assert store.newest_judged() == mentions[5].created_at


def test_candidates_can_be_bounded_above_too(store):
    """A run holding its own recent marks asks the store only for the older ones (`until`, inclusive)."""
    mentions = [mention(i) for i in range(6)]
    store.ingest(mentions, [])
    marks = [mark(i, 16) for i in range(6)]
    store.set_noise(marks)
    wanted = [b for m in marks for b in m.bands[:2]]
    assert {m.mention_id for m in store.noise_candidates(wanted, T0 + timedelta(minutes=1),
                                                         T0 + timedelta(minutes=3))} == \
        {mentions[i].id for i in (1, 2, 3)}
    assert store.noise_candidates(wanted, T0 + timedelta(minutes=4), T0 + timedelta(minutes=3)) == []
