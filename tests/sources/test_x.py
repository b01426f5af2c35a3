"""The X source against a fake X API v2 on loopback: queries, paging, cursors, failures, refresh."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import BrandConfig, parse_config
from monitor.models import Mention
from monitor.pipeline import cursor_key, ingest
from monitor.sources import SourceError, create_source
from monitor.sources.x.source import XSettings, XSource, build_queries

from .fakes.x_api import FakeX, parse_query, snowflake
from .harness import BRAND
from .harness_x import XHarness

NOW = datetime.now(UTC)


class Sleeps:
    """Records waits instead of sleeping, and moves the source's clock forward by them."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.offset = 0.0

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.offset += seconds

    def clock(self) -> float:
        return datetime.now(UTC).timestamp() + self.offset


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[XHarness]:
    h = XHarness()
    h.start(tmp_path)
    yield h
    h.stop()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_source(h: XHarness, sleeps: Sleeps, **overrides: object) -> XSource:
    return XSource(h.settings(**overrides), bearer_token=h.secret, sleep=sleeps, clock=sleeps.clock)


def publish_series(h: XHarness, count: int, start: int = 1000, text: str = "acme app {}") -> list[str]:
    ids = [str(start + i) for i in range(count)]
    for i, native_id in enumerate(ids):
        h.publish(native_id, text.format(i), NOW - timedelta(minutes=count - i))
    return ids


def fetch_all(source: XSource, cursor: str | None = None, brands=(BRAND,)) -> tuple[list[str], str | None]:
    seen: list[str] = []
    while True:
        batch = source.fetch(list(brands), cursor)
        seen += [m.native_id for m in batch.mentions]
        cursor = batch.cursor
        if batch.exhausted:
            return seen, cursor


def state(cursor: str | None) -> dict:
    assert cursor is not None
    (only,) = json.loads(cursor)["queries"].values()
    return only


# --- queries ------------------------------------------------------------------------------------


def test_one_query_ors_quoted_terms_excludes_retweets_and_keeps_exclusions_per_brand():
    brands = [
        BrandConfig(name="Acme", queries=["acme", "Acme App", "ACME"], exclude=["hiring"]),
        BrandConfig(name="Globex", queries=['globex "corp"']),
    ]
    # A phrase is also searched as its hashtag (#acmeapp), which the local matcher counts as the phrase.
    assert build_queries(brands) == [
        '((("acme" OR "Acme App" OR #acmeapp) -"hiring") OR ("globex corp" OR #globexcorp)) -is:retweet']
    assert build_queries(brands[1:], languages=["en", "es"]) == [
        '("globex corp" OR #globexcorp) -is:retweet (lang:en OR lang:es)']


def test_queries_longer_than_the_limit_are_split_and_every_part_keeps_the_exclusions():
    terms = [f"brand term number {i:02d}" for i in range(40)]
    brand = BrandConfig(name="Big", queries=terms, exclude=["hiring", "job opening"])
    queries = build_queries([brand, BrandConfig(name="Small", queries=["tiny"])])
    assert len(queries) > 1 and all(len(q) <= 512 for q in queries)
    assert all(any(f'"{t}"' in q for q in queries) for t in [*terms, "tiny"])
    assert all('-("hiring" OR "job opening" OR #jobopening)' in q for q in queries if "brand term" in q)
    for q in queries:  # the fake parses what X would
        parse_query(q)


def test_exclusions_too_long_for_any_query_are_left_to_the_local_matcher():
    brand = BrandConfig(name="Acme", queries=["acme"], exclude=[f"excluded phrase {i}" for i in range(40)])
    assert build_queries([brand]) == ['"acme" -is:retweet']  # a looser search; the matcher still excludes
    assert brand.match("acme: excluded phrase 7") is None and brand.match("acme is down") == "acme"


def test_a_query_x_cannot_search_is_a_clear_error():
    with pytest.raises(ValueError, match="'Acme'.*nothing x can search for"):
        build_queries([BrandConfig(name="Acme", query="ac* lang:en")])


def test_fetch_sends_the_split_queries_and_finds_posts_from_each(harness, sleeps):
    terms = [f"brand term number {i:02d}" for i in range(40)]
    brand = BrandConfig(name="Big", queries=terms)
    harness.publish("1001", "I love brand term number 01", NOW - timedelta(minutes=2))
    harness.publish("1002", "brand term number 39 is down", NOW - timedelta(minutes=1))
    batch = make_source(harness, sleeps).fetch([brand], None)
    assert sorted(m.native_id for m in batch.mentions) == ["1001", "1002"]
    assert len(json.loads(batch.cursor)["queries"]) == len({r.params["query"] for r in harness.fake.searches()}) > 1


def test_language_filter_is_applied_by_the_query(harness, sleeps):
    harness.fake.publish("1001", "acme no funciona", NOW - timedelta(minutes=2), lang="es")
    harness.fake.publish("1002", "acme is down", NOW - timedelta(minutes=1), lang="en")
    batch = make_source(harness, sleeps, languages=["es"]).fetch([BRAND], None)
    assert [(m.native_id, m.lang) for m in batch.mentions] == [("1001", "es")]


def test_a_boolean_brand_query_is_sent_in_x_syntax_and_rechecked_locally(harness, sleeps):
    brand = BrandConfig(name="Acme", query='Acme AND (bill OR billing) NOT giveaway lang:es')
    harness.fake.publish("1001", "Acme bill doble", NOW - timedelta(minutes=5), lang="es")
    harness.fake.publish("1002", "Acme bill giveaway", NOW - timedelta(minutes=4), lang="es")
    harness.fake.publish("1003", "Acme billing issue", NOW - timedelta(minutes=3), lang="en")
    harness.fake.publish("1004", "Acmebill outage", NOW - timedelta(minutes=2), lang="es")  # X's fake: substrings
    harness.fake.publish("1005", "ACMÉ billing mal", NOW - timedelta(minutes=1), lang="es")
    batch = make_source(harness, sleeps).fetch([brand], None)
    sent = {r.params["query"] for r in harness.fake.searches()}
    assert sent == {'("Acme" ("bill" OR "billing") -"giveaway" lang:es) -is:retweet'}
    assert sorted(m.native_id for m in batch.mentions) == ["1001"]  # 1004 is no whole word; 1005 X did not send
    assert batch.mentions[0].query == "Acme"


# --- mapping ------------------------------------------------------------------------------------


def test_posts_become_mentions_with_author_metrics_and_a_first_snapshot(harness, sleeps):
    harness.fake.add_user("7", "mariela", followers=5400)
    harness.fake.publish("1001", "Acme charged me twice", NOW - timedelta(minutes=3), 12, author_id="7",
                         retweets=4, replies=2, quotes=1, lang="en")
    harness.fake.publish("1002", "acme is hiring!", NOW - timedelta(minutes=2))  # excluded
    harness.fake.publish("1003", "RT acme charged me twice", NOW - timedelta(minutes=1), is_retweet=True)
    batch = make_source(harness, sleeps).fetch([BRAND], None)
    (m,) = batch.mentions
    assert m.id == Mention.make_id("x", "1001") and m.source == "x"
    assert (m.url, m.author_handle, m.author_followers) == ("https://x.com/mariela/status/1001", "mariela", 5400)
    assert (m.brand, m.query, m.lang, m.text) == ("Acme", "acme", "en", "Acme charged me twice")
    assert m.created_at == (NOW - timedelta(minutes=3)).replace(microsecond=0)
    assert m.engagement.model_dump() == {"likes": 12, "reposts": 4, "replies": 2, "quotes": 1, "score": 0}
    (snap,) = batch.snapshots
    assert snap.mention_id == m.id and snap.engagement == m.engagement
    assert batch.problems == [] and batch.exhausted


def test_deleted_authors_and_a_response_without_includes_still_give_mentions(harness, sleeps):
    harness.publish("1001", "acme lost my order", NOW - timedelta(minutes=1), author_missing=True)
    batch = make_source(harness, sleeps).fetch([BRAND], None)
    (m,) = batch.mentions
    assert (m.author_handle, m.author_followers, m.url) == ("[unavailable]", 0, "https://x.com/i/web/status/1001")
    assert batch.problems == []


def test_missing_optional_fields_fall_back_instead_of_failing(harness, sleeps):
    harness.fake.omit_fields = {"created_at", "public_metrics", "lang", "author_id"}
    created = NOW - timedelta(minutes=5)
    native_id = snowflake(created)
    harness.publish(native_id, "acme outage again", created)
    (m,) = make_source(harness, sleeps).fetch([BRAND], None).mentions
    assert m.author_handle == "[unavailable]" and m.lang is None and m.engagement.total == 0
    assert abs((m.created_at - created).total_seconds()) < 1  # read back from the snowflake id


def test_malformed_posts_are_problems_and_the_rest_of_the_page_is_kept(harness, sleeps):
    publish_series(harness, 2)
    harness.fake.break_next_payload("items")
    batch = make_source(harness, sleeps).fetch([BRAND], None)
    assert sorted(m.native_id for m in batch.mentions) == ["1000", "1001"]
    assert [p.where for p in batch.problems] == ["x search page 1", "x search page 1"]
    assert "post 12ab" in batch.problems[0].message and "id" in batch.problems[0].message


@pytest.mark.parametrize("mode", ["html", "shape"])
def test_a_page_not_shaped_as_documented_is_a_problem_and_is_fetched_again(harness, sleeps, mode):
    ids = publish_series(harness, 5)
    source = make_source(harness, sleeps)
    harness.fake.break_next_payload(mode, after=1)  # the second page
    batch = source.fetch([BRAND], None)
    assert [m.native_id for m in batch.mentions] == ids[:1:-1]  # the first page: the three newest
    assert [p.where for p in batch.problems] == ["x search page 2"]
    rest, _ = fetch_all(source, batch.cursor)
    assert rest == ids[1::-1]


# --- paging and cursor --------------------------------------------------------------------------


def test_pages_are_followed_and_since_id_asks_only_for_newer_posts(harness, sleeps):
    ids = publish_series(harness, 7)  # three pages of three
    source = make_source(harness, sleeps)
    first = source.fetch([BRAND], None)
    assert [m.native_id for m in first.mentions] == ids[::-1]
    searches = harness.fake.searches()
    assert len(searches) == 3 and "next_token" in searches[1].params and "start_time" in searches[0].params
    assert state(first.cursor)["since_id"] == ids[-1]

    harness.publish("2000", "acme again", NOW)
    second = source.fetch([BRAND], first.cursor)
    assert [m.native_id for m in second.mentions] == ["2000"]
    assert harness.fake.searches()[-1].params["since_id"] == ids[-1]
    assert source.fetch([BRAND], second.cursor).mentions == []


def test_a_page_budget_leaves_a_hole_the_next_fetch_fills_before_moving_on(harness, sleeps):
    ids = publish_series(harness, 8)
    source = make_source(harness, sleeps, max_pages=2)
    first = source.fetch([BRAND], None)
    assert [m.native_id for m in first.mentions] == ids[:1:-1] and not first.exhausted
    assert state(first.cursor) | {"start_time": None} == {
        "since_id": None, "start_time": None, "until_id": ids[2], "newest_id": ids[-1]}
    harness.publish("2000", "acme newer than the hole", NOW)
    second = source.fetch([BRAND], first.cursor)
    assert [m.native_id for m in second.mentions] == ids[1::-1] and second.exhausted
    assert state(second.cursor)["since_id"] == ids[-1]  # the hole is filled; 2000 comes next
    assert [m.native_id for m in source.fetch([BRAND], second.cursor).mentions] == ["2000"]


def test_a_bare_post_id_cursor_is_read_as_since_id(harness, sleeps):
    publish_series(harness, 3)
    batch = make_source(harness, sleeps).fetch([BRAND], "1001")
    assert [m.native_id for m in batch.mentions] == ["1002"]


def test_an_unreadable_cursor_is_reported_and_the_lookback_window_used(harness, sleeps):
    publish_series(harness, 2)
    for cursor in ('{"queries": {"q": {"since_id": "abc"}}}', '{"queries": {"q": {"start_time": "soon"}}}', "[1]"):
        batch = make_source(harness, sleeps).fetch([BRAND], cursor)
        assert len(batch.mentions) == 2 and batch.problems[0].where == "x cursor"


def test_a_cursor_older_than_the_search_window_restarts_from_the_lookback(harness, sleeps):
    publish_series(harness, 2, start=5000)
    harness.fake.min_since_id = 4000
    batch = make_source(harness, sleeps).fetch([BRAND], "10")
    assert len(batch.mentions) == 2
    assert "older than the 7 days" in batch.problems[0].message
    assert state(batch.cursor)["since_id"] == "5001"


# --- rate limits --------------------------------------------------------------------------------


def test_a_429_is_waited_out_until_the_reset_and_the_fetch_resumes(harness, sleeps):
    ids = publish_series(harness, 7)
    harness.fake.fail_next(429, after=1)
    batch = make_source(harness, sleeps).fetch([BRAND], None)
    assert [m.native_id for m in batch.mentions] == ids[::-1]
    assert len(sleeps.waits) == 1 and 0 < sleeps.waits[0] <= 2.5


def test_a_rate_limit_beyond_the_cap_stores_what_was_fetched_and_resumes_later(harness, sleeps, store):
    ids = publish_series(harness, 7)
    # follow_hours 0: no engagement refresh after the fetch, so snapshots are first sights only.
    config = parse_config({"brands": [BRAND.model_dump()], "sources": {"x": {"follow_hours": 0}}})
    source = make_source(harness, sleeps, max_rate_limit_wait_seconds=0)
    harness.fake.fail_next(429, after=1)
    stats = ingest(config, store, "x", source=source)
    assert stats.new_mentions == 3 and stats.exhausted and sleeps.waits == []
    assert state(store.get_cursor(cursor_key("x")))["until_id"] == ids[4]
    stats = ingest(config, store, "x", source=source)
    assert (stats.new_mentions, stats.updated_mentions) == (4, 0)
    assert store.count_mentions() == 7 and store.count_snapshots() == 7


def test_tweepy_never_waits_on_its_own(harness, sleeps):
    assert make_source(harness, sleeps).client.wait_on_rate_limit is False


# --- failures -----------------------------------------------------------------------------------


def test_a_rejected_token_names_the_variable_and_never_shows_the_token(harness, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    source = XSource(harness.settings(), bearer_token="wrong-token-value", sleep=sleeps)
    harness.publish("1001", "acme", NOW)
    with pytest.raises(SourceError, match="EARSHOT_X_BEARER_TOKEN.*401") as err:
        source.fetch([BRAND], None)
    assert "wrong-token-value" not in str(err.value)
    assert "wrong-token-value" not in caplog.text and "Bearer ***" in caplog.text


def test_a_forbidden_app_names_the_variable(harness, sleeps):
    harness.fail_next(403)
    with pytest.raises(SourceError, match="403.*EARSHOT_X_BEARER_TOKEN") as err:
        make_source(harness, sleeps).fetch([BRAND], None)
    assert harness.secret not in str(err.value)


@pytest.mark.parametrize("deny", ["error code in a 403", "HTTP status"])
def test_a_too_low_access_level_says_so(harness, sleeps, deny):
    if deny == "HTTP status":
        harness.fail_next(453)
    else:
        harness.fake.deny_access_level()
    with pytest.raises(SourceError, match="453.*access level.*Basic tier"):
        make_source(harness, sleeps).fetch([BRAND], None)


def test_a_brief_outage_is_retried_with_backoff(harness, sleeps):
    publish_series(harness, 2)
    harness.fail_next(503, times=2)
    batch = make_source(harness, sleeps, retry_backoff_seconds=1).fetch([BRAND], None)
    assert len(batch.mentions) == 2 and sleeps.waits == [1, 2]


def test_a_lasting_outage_raises_and_stores_nothing_nor_moves_the_cursor(harness, sleeps, store):
    publish_series(harness, 2)
    config = parse_config({"brands": [BRAND.model_dump()], "sources": {"x": {}}})
    store.set_cursor(cursor_key("x"), "999")
    harness.fail_next(500, times=10)
    with pytest.raises(SourceError, match="X API unavailable.*HTTP 500.*Airflow will retry"):
        ingest(config, store, "x", source=make_source(harness, sleeps))
    assert store.count_mentions() == 0 and store.get_cursor(cursor_key("x")) == "999"
    assert len(sleeps.waits) == 2  # server_error_retries in the harness


def test_an_unreachable_api_is_a_source_error(sleeps):
    source = XSource(XSettings(api_base_url="http://127.0.0.1:9", server_error_retries=1, timeout_seconds=2),
                     bearer_token="t", sleep=sleeps)
    with pytest.raises(SourceError, match="unreachable.*Airflow will retry"):
        source.fetch([BRAND], None)


# --- refresh ------------------------------------------------------------------------------------


def test_refresh_looks_up_100_posts_per_request_and_skips_deleted_posts(harness, sleeps):
    ids = publish_series(harness, 250, start=10_000)
    source = make_source(harness, sleeps)
    batch = source.fetch([BRAND], None)
    assert len(batch.mentions) == 250
    harness.set_likes(ids[0], 99)
    harness.fake.delete(ids[1])
    other = batch.mentions[0].model_copy(update={"source": "reddit", "id": "reddit:t3_x"})
    snapshots = source.refresh([*batch.mentions, other])
    lookups = [r for r in harness.fake.requests if r.path == "/2/tweets"]
    assert [len(r.params["ids"].split(",")) for r in lookups] == [100, 100, 50]
    by_id = {s.mention_id: s for s in snapshots}
    assert len(snapshots) == 249 and f"x:{ids[1]}" not in by_id
    assert by_id[f"x:{ids[0]}"].engagement.likes == 99


def test_the_pipeline_follows_engagement_through_refresh(harness, sleeps, store):
    (native_id,) = publish_series(harness, 1)
    config = parse_config({"brands": [BRAND.model_dump()], "sources": {"x": {}}})
    source = make_source(harness, sleeps)
    ingest(config, store, "x", source=source)
    harness.set_likes(native_id, 250)
    sleeps(60)  # a minute later
    ingest(config, store, "x", source=source)
    assert [s.engagement.likes for s in store.snapshots_for(f"x:{native_id}")][-1] == 250


def test_refresh_stops_quietly_when_rate_limited(harness, sleeps):
    ids = publish_series(harness, 2)
    source = make_source(harness, sleeps, max_rate_limit_wait_seconds=0)
    mentions = source.fetch([BRAND], None).mentions
    harness.fail_next(429)
    assert source.refresh(mentions) == []
    assert {s.mention_id for s in source.refresh(mentions)} == {f"x:{i}" for i in ids}


# --- configuration ------------------------------------------------------------------------------


def test_the_plugin_reads_its_settings_and_token_from_the_config_and_environment(harness, monkeypatch):
    harness.publish("1001", "acme", NOW)
    config = parse_config({"brands": [BRAND.model_dump()],
                           "sources": {"x": {"api_base_url": harness.fake.base_url, "max_results": 10}}})
    monkeypatch.setenv("EARSHOT_X_BEARER_TOKEN", harness.secret)
    source = create_source("x", config)
    assert isinstance(source, XSource) and source.settings.max_results == 10
    assert [m.native_id for m in source.fetch(config.brands, None).mentions] == ["1001"]


def test_a_missing_token_names_the_variable(monkeypatch):
    monkeypatch.delenv("EARSHOT_X_BEARER_TOKEN", raising=False)
    config = parse_config({"brands": [BRAND.model_dump()], "sources": {"x": {}}})
    with pytest.raises(SourceError, match="EARSHOT_X_BEARER_TOKEN"):
        create_source("x", config)


def test_the_fake_refuses_what_x_refuses(harness):
    fake: FakeX = harness.fake
    status, _, body = fake.handle("GET", "/2/tweets/search/recent", {"query": "x" * 513}, f"Bearer {fake.token}")
    assert status == 400 and b"512" in body
    status, _, _ = fake.handle("GET", "/2/tweets/search/recent", {"query": "acme", "max_results": "5"},
                               f"Bearer {fake.token}")
    assert status == 400


def test_a_persistently_broken_api_does_not_keep_the_pipeline_fetching(harness, sleeps, store):
    publish_series(harness, 2)
    for _ in range(5):
        harness.fake.break_next_payload("shape")
    config = parse_config({"brands": [BRAND.model_dump()], "sources": {"x": {}}})
    stats = ingest(config, store, "x", source=make_source(harness, sleeps))
    assert (stats.new_mentions, len(stats.problems), stats.exhausted) == (0, 1, True)
