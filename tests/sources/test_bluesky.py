"""Bluesky: the real atproto SDK against a loopback XRPC fake (createSession, searchPosts, getPosts)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor import pipeline
from monitor.config import BrandConfig, parse_config
from monitor.sources import SourceError, create_source
from monitor.sources.bluesky.source import HANDLE_ENV, PASSWORD_ENV, BlueskySettings, BlueskySource
from monitor.store import SQLiteStore
from tests.sources.fakes.bluesky_api import Author, FakeBluesky, Post
from tests.sources.harness import BRAND, ingest
from tests.sources.sleeps import Sleeps

PASSWORD = "app-pass-abcd-efgh"
BRANDS = [BRAND]
ANA = Author("did:plc:ana0000000000000000000000", "ana.bsky.social", "Ana")
GONE = Author("did:plc:gone000000000000000000000", "handle.invalid")
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def fake() -> Iterator[FakeBluesky]:
    server = FakeBluesky(handle="earshot.test", password=PASSWORD, page_size=3)
    server.start()
    yield server
    server.stop()


def make_source(fake: FakeBluesky, sleeps: Sleeps | None = None, password: str = PASSWORD,
                **overrides: Any) -> BlueskySource:
    settings = BlueskySettings(**{"base_url": fake.url, "page_size": 3, "backoff_seconds": 0.5, "retries": 3,
                                  **overrides})
    return BlueskySource(settings, "earshot.test", password, sleep=sleeps if sleeps is not None else Sleeps())



def post(rkey: str, text: str = "acme support is slow", minutes_ago: float = 60, author: Author = ANA,
         **counts: Any) -> Post:
    at = NOW - timedelta(minutes=minutes_ago)
    return Post(rkey, author, text, at, at + timedelta(seconds=2), **counts)


def publish(fake: FakeBluesky, n: int, start_minutes_ago: float = 120) -> list[str]:
    rkeys = [f"3k{i:011d}" for i in range(n)]
    for i, rkey in enumerate(rkeys):
        fake.publish(post(rkey, f"acme post {i}", start_minutes_ago - i))
    return rkeys


# --- mapping ---------------------------------------------------------------------------------


def test_a_post_maps_counts_author_link_and_language(fake: FakeBluesky) -> None:
    fake.publish(post("3kabc", "Acme charged me twice!", 30, likes=40, reposts=7, replies=3, quotes=2,
                      langs=["pt", "en"]))
    [m] = make_source(fake).fetch(BRANDS, None).mentions
    assert (m.id, m.native_id, m.brand, m.query) == ("bluesky:3kabc", "3kabc", "Acme", "acme")
    assert (m.engagement.likes, m.engagement.reposts, m.engagement.replies, m.engagement.quotes) == (40, 7, 3, 2)
    assert (m.author_handle, m.lang, m.text) == ("ana.bsky.social", "pt", "Acme charged me twice!")
    assert m.url == f"https://bsky.app/profile/{ANA.did}/post/3kabc"
    assert m.created_at == NOW - timedelta(minutes=30)


def test_missing_counts_and_a_deactivated_author_still_make_a_mention(fake: FakeBluesky) -> None:
    fake.publish(post("3kgone", "acme logs me out", author=GONE, likes=None, reposts=None, replies=None, quotes=None,
                      langs=None))
    [m] = make_source(fake).fetch(BRANDS, None).mentions
    assert (m.author_handle, m.lang, m.engagement.total) == (GONE.did, None, 0)


def test_only_posts_that_match_a_brand_and_no_exclusion_are_mentions(fake: FakeBluesky) -> None:
    fake.publish(post("1", "acme is hiring engineers", 3))
    fake.publish(post("2", "acmeville has nice weather", 2))  # the fake's search is a substring match...
    fake.publish(post("3", "ACME fixed it, thanks", 1))
    # ... but the brand's query matches whole words only
    assert [m.native_id for m in make_source(fake).fetch(BRANDS, None).mentions] == ["3"]


def test_a_post_dated_in_the_future_counts_from_when_it_was_indexed(fake: FakeBluesky) -> None:
    indexed = NOW - timedelta(minutes=5)
    fake.publish(Post("3kfut", ANA, "acme from the future", NOW + timedelta(days=300), indexed))
    [m] = make_source(fake).fetch(BRANDS, None).mentions
    assert m.created_at == indexed


def test_a_malformed_post_is_a_problem_and_its_page_neighbours_are_kept(fake: FakeBluesky) -> None:
    fake.publish(post("ok", "acme ok", 2))
    bad = post("bad", "acme bad", 1)
    bad.author = Author("not-a-did", "x.test")
    fake.publish(bad)
    batch = make_source(fake).fetch(BRANDS, None)
    assert [m.native_id for m in batch.mentions] == ["ok"]
    assert "is not an app.bsky.feed.post AT-URI" in batch.problems[0].message


def test_multi_word_queries_are_searched_as_phrases(fake: FakeBluesky) -> None:
    make_source(fake).fetch([BrandConfig(name="Acme", queries=["acme bank"])], None)
    assert fake.calls("app.bsky.feed.searchPosts")[0]["q"] == ['"acme bank"']


def test_create_source_takes_the_credentials_from_the_environment(fake: FakeBluesky,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = parse_config({"brands": [BRANDS[0].model_dump()], "sources": {"bluesky": {"base_url": fake.url}}})
    monkeypatch.delenv(HANDLE_ENV, raising=False)
    with pytest.raises(SourceError, match=HANDLE_ENV):
        create_source("bluesky", cfg)
    monkeypatch.setenv(HANDLE_ENV, "earshot.test")
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    fake.publish(post("1"))
    source = create_source("bluesky", cfg)
    assert PASSWORD not in repr(source)
    assert len(source.fetch(BRANDS, None).mentions) == 1
    assert cfg.sources["bluesky"].credentials_env == [HANDLE_ENV, PASSWORD_ENV]


# --- pagination and cursors ------------------------------------------------------------------


def test_a_long_result_is_read_over_several_batches_without_gaps(fake: FakeBluesky, store: SQLiteStore) -> None:
    rkeys = publish(fake, 10)
    first = make_source(fake, pages_per_fetch=2).fetch(BRANDS, None)
    assert len(first.mentions) == 6 and not first.exhausted
    assert ingest(make_source(fake, pages_per_fetch=2), store).new_mentions == 10
    assert set(store.get_mentions(f"bluesky:{r}" for r in rkeys)) == {f"bluesky:{r}" for r in rkeys}
    assert any(c.get("cursor") for c in fake.calls("app.bsky.feed.searchPosts"))


def test_later_runs_search_since_the_cursor_and_add_only_new_posts(fake: FakeBluesky, store: SQLiteStore) -> None:
    publish(fake, 4)  # the newest is 117 minutes old
    ingest(make_source(fake), store)
    assert ingest(make_source(fake), store).new_mentions == 0
    since = fake.calls("app.bsky.feed.searchPosts")[-1]["since"][0]
    assert datetime.fromisoformat(since) == NOW - timedelta(minutes=117) - timedelta(minutes=10), "mark - overlap"
    fake.publish(post("late", "acme again", 5))
    stats = ingest(make_source(fake), store)
    assert (stats.new_mentions, stats.updated_mentions, store.count_mentions()) == (1, 0, 5)


def test_a_post_indexed_late_within_the_overlap_is_still_found(fake: FakeBluesky, store: SQLiteStore) -> None:
    fake.publish(post("first", "acme one", 10))
    ingest(make_source(fake), store)
    fake.publish(post("slow", "acme written earlier, indexed later", 12))  # sorts before the mark
    assert ingest(make_source(fake), store).new_mentions == 1
    fake.publish(post("ancient", "acme from long ago", 60 * 24))  # beyond the overlap: the search skips it
    assert ingest(make_source(fake), store).new_mentions == 0


# --- failures ----------------------------------------------------------------------------------


def test_a_429_waits_until_ratelimit_reset_then_resumes(fake: FakeBluesky) -> None:
    publish(fake, 2)
    sleeps = Sleeps()
    fake.fail_next(429)
    assert len(make_source(fake, sleeps).fetch(BRANDS, None).mentions) == 2
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 2.0


def test_a_rejected_login_names_the_environment_variables_and_never_the_password(fake: FakeBluesky) -> None:
    wrong = "wrong-password-1234"
    with pytest.raises(SourceError) as raised:
        make_source(fake, password=wrong).fetch(BRANDS, None)
    message = str(raised.value)
    assert HANDLE_ENV in message and PASSWORD_ENV in message and "HTTP 401" in message
    assert wrong not in message and PASSWORD not in message
    assert len(fake.calls("com.atproto.server.createSession")) == 1, "a rejected login is not retried"


def test_a_401_on_search_is_a_credentials_error(fake: FakeBluesky) -> None:
    source = make_source(fake)
    source.fetch(BRANDS, None)
    fake.fail_next(401)
    with pytest.raises(SourceError, match=PASSWORD_ENV):
        source.fetch(BRANDS, None)


def test_an_expired_session_logs_in_again_and_goes_on(fake: FakeBluesky) -> None:
    source = make_source(fake)
    source.fetch(BRANDS, None)
    fake.expire_tokens()
    fake.publish(post("1"))
    assert len(source.fetch(BRANDS, None).mentions) == 1
    assert len(fake.calls("com.atproto.server.createSession")) == 2


def test_an_outage_raises_after_backing_off_and_stores_nothing(fake: FakeBluesky, store: SQLiteStore) -> None:
    publish(fake, 2)
    ingest(make_source(fake), store)
    before = store.get_cursor(pipeline.cursor_key("bluesky"))
    publish(fake, 5, start_minutes_ago=30)
    fake.fail_next(502, times=100)
    sleeps = Sleeps()
    with pytest.raises(SourceError, match=r"Bluesky is failing \(HTTP 502\); gave up after 3 attempts"):
        ingest(make_source(fake, sleeps), store)
    assert sleeps == [0.5, 1.0]
    assert (store.count_mentions(), store.get_cursor(pipeline.cursor_key("bluesky"))) == (2, before)


@pytest.mark.parametrize("kind", ["truncated", "shape", "html"])
def test_a_broken_search_reply_is_a_problem_and_is_read_again(fake: FakeBluesky, store: SQLiteStore, kind: str) -> None:
    publish(fake, 2)
    source = make_source(fake)
    source.fetch(BRANDS, None)  # logged in: the broken reply lands on the search
    fake.break_next_payload(kind)
    stats = ingest(source, store)
    assert store.count_mentions() == 0 and "search 'acme'" in stats.problems[0].where
    ingest(source, store)
    assert store.count_mentions() == 2


def test_a_broken_login_reply_is_a_problem_too(fake: FakeBluesky) -> None:
    fake.break_next_payload()
    batch = make_source(fake).fetch(BRANDS, None)
    assert batch.problems and batch.mentions == []


# --- refresh ----------------------------------------------------------------------------------


def test_refresh_asks_getposts_25_uris_at_a_time_and_skips_deleted_posts(fake: FakeBluesky) -> None:
    rkeys = publish(fake, 30)
    mentions = make_source(fake, pages_per_fetch=20, backfill_pages=20).fetch(BRANDS, None).mentions
    assert len(mentions) == 30
    fake.find(rkeys[0]).likes = 99
    fake.delete(rkeys[1])
    source = make_source(fake)
    snaps = {s.mention_id: s.engagement.likes for s in source.refresh(mentions)}
    assert [len(c["uris"]) for c in fake.calls("app.bsky.feed.getPosts")] == [25, 5]
    assert len(snaps) == 29 and snaps[f"bluesky:{rkeys[0]}"] == 99 and f"bluesky:{rkeys[1]}" not in snaps


def test_a_boolean_query_becomes_one_search_per_alternative_and_is_rechecked_locally(fake: FakeBluesky) -> None:
    brand = BrandConfig(name="Acme", query='acme AND (bill OR outage) lang:en')
    fake.publish(post("1", "acme bill doubled", 4))
    fake.publish(post("2", "acme outage downtown", 3))
    fake.publish(post("3", "acme bill doble", 2, langs=["es"]))
    fake.publish(post("4", "acmeville outage and bills", 1))  # the fake matches substrings; Earshot words
    batch = make_source(fake).fetch([brand], None)
    assert sorted(m.native_id for m in batch.mentions) == ["1", "2"]
    sent = [params["q"][0] for nsid, params in fake.requests if nsid == "app.bsky.feed.searchPosts"]
    assert sorted(set(sent)) == ["acme bill lang:en", "acme outage lang:en"]
