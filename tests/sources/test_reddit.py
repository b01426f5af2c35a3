"""The Reddit source against a fake Reddit API on loopback: search, comments, cursor, limits, failures."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import BrandConfig, parse_config
from monitor.pipeline import cursor_key, ingest
from monitor.sources import SourceError, create_source
from monitor.sources.reddit.source import RateLimiter, RedditSource, build_queries, time_filter

from .fakes.reddit_api import FakeReddit
from .harness import BRAND
from .harness_reddit import RedditHarness

NOW = datetime.now(UTC).replace(microsecond=0)


class Sleeps:
    """Records waits instead of sleeping; the source's clock stands still but for them."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = time.time()

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[RedditHarness]:
    h = RedditHarness()
    h.start(tmp_path)
    yield h
    h.stop()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def fake(harness: RedditHarness) -> FakeReddit:
    return harness.fake


def make_source(h: RedditHarness, sleeps: Sleeps, **overrides: object) -> RedditSource:
    return RedditSource(h.settings(**overrides), h.client_id, h.secret, sleep=sleeps, clock=sleeps.clock)


def submit_series(fake: FakeReddit, count: int, prefix: str = "p") -> list[str]:
    for i in range(count):
        fake.submit(f"{prefix}{i}", f"acme app {i}", NOW - timedelta(minutes=count - i))
    return [f"t3_{prefix}{i}" for i in range(count)]


def searches(fake: FakeReddit) -> list:
    return [r for r in fake.requests if r.path.endswith("/search/")]


def config_for(**reddit: object):
    # follow_hours 0: no engagement refresh after the fetch, so snapshots are first sights only.
    return parse_config({"brands": [BRAND.model_dump()], "sources": {"reddit": {"follow_hours": 0, **reddit}}})


# --- queries ------------------------------------------------------------------------------------


def test_queries_or_every_brand_term_and_split_at_the_length_limit():
    brands = [BrandConfig(name="Acme", queries=["acme", "Acme App", "ACME"], exclude=["hiring"]),
              BrandConfig(name="Globex", queries=['globex "corp"'])]
    assert build_queries(brands) == ['("acme" OR "Acme App") OR "globex corp"']  # exclusions stay local
    many = BrandConfig(name="Big", queries=[f"brand term number {i:02d}" for i in range(40)])
    queries = build_queries([many])
    assert len(queries) > 1 and all(len(q) <= 512 for q in queries)
    assert sum(q.count('"') for q in queries) == 80


def test_the_search_window_is_the_smallest_that_reaches_the_watermark():
    assert [time_filter(s) for s in (60, 3600, 3601, 6 * 86400, 20 * 86400, 200 * 86400, 10**9)] == [
        "hour", "hour", "day", "week", "month", "year", "all"]


# --- mapping ------------------------------------------------------------------------------------


def test_submissions_and_comments_become_mentions(harness, fake, sleeps):
    fake.submit("abc1", "Acme charged me twice", NOW - timedelta(minutes=5), 42,
                selftext="And support keeps closing my ticket.", num_comments=7, author="bill_2026")
    fake.comment("c9", "acme did the same to me", NOW - timedelta(minutes=4), 3, link_id="t3_abc1")
    fake.submit("abc2", "Acme is hiring", NOW - timedelta(minutes=3))  # excluded
    fake.comment("c10", "unrelated chatter", NOW - timedelta(minutes=2))
    batch = make_source(harness, sleeps).fetch([BRAND], None)
    post, comment = sorted(batch.mentions, key=lambda m: m.native_id, reverse=True)
    assert (post.id, post.native_id, post.author_handle) == ("reddit:t3_abc1", "t3_abc1", "bill_2026")
    assert post.title == "Acme charged me twice"
    assert (post.title, post.text) == ("Acme charged me twice", "And support keeps closing my ticket.")
    assert post.url == "https://www.reddit.com/r/acmefans/comments/abc1/acme_charged_me_twice/"
    assert post.engagement.model_dump() == {"likes": 0, "reposts": 0, "replies": 7, "quotes": 0, "score": 42}
    assert post.created_at == NOW - timedelta(minutes=5) and (post.brand, post.query) == ("Acme", "acme")
    assert (comment.id, comment.title, comment.text, comment.engagement.score) == (
        "reddit:t1_c9", None, "acme did the same to me", 3)
    assert comment.url == "https://www.reddit.com/r/acmefans/comments/abc1/post/c9/"
    assert {s.mention_id for s in batch.snapshots} == {post.id, comment.id}
    assert batch.problems == [] and batch.exhausted


def test_deleted_authors_and_missing_optional_fields_still_give_mentions(harness, fake, sleeps):
    fake.omit_fields = {"selftext", "num_comments", "score", "upvote_ratio"}
    fake.submit("d1", "acme deleted my account", NOW - timedelta(minutes=1), author=None)
    (m,) = make_source(harness, sleeps, include_comments=False).fetch([BRAND], None).mentions
    assert (m.author_handle, m.title, m.text, m.engagement.total) == ("[deleted]", "acme deleted my account", "", 0)


def test_only_the_configured_subreddits_are_searched(harness, fake, sleeps):
    fake.submit("s1", "acme in fans", NOW - timedelta(minutes=3), subreddit="acmefans")
    fake.submit("s2", "acme in help", NOW - timedelta(minutes=2), subreddit="Help")
    fake.submit("s3", "acme elsewhere", NOW - timedelta(minutes=1), subreddit="news")
    source = make_source(harness, sleeps, subreddits=["acmefans", "r/Help"])
    assert sorted(m.native_id for m in source.fetch([BRAND], None).mentions) == ["t3_s1", "t3_s2"]
    (search,) = searches(fake)
    assert search.path == "/r/acmefans+Help/search/" and search.params["restrict_sr"] == "True"
    assert search.params["sort"] == "new" and search.params["q"] == '"acme"'


def test_comments_are_read_only_when_enabled(harness, fake, sleeps):
    fake.comment("c1", "acme rocks", NOW)
    assert make_source(harness, sleeps, include_comments=False).fetch([BRAND], None).mentions == []
    assert not any(r.path.endswith("/comments/") for r in fake.requests)


def test_the_first_run_looks_back_only_as_far_as_configured(harness, fake, sleeps):
    fake.submit("old", "acme long ago", NOW - timedelta(hours=3))
    fake.submit("new", "acme just now", NOW - timedelta(minutes=10))
    batch = make_source(harness, sleeps, lookback_minutes=60).fetch([BRAND], None)
    assert [m.native_id for m in batch.mentions] == ["t3_new"]
    assert searches(fake)[0].params["t"] == "hour"


# --- paging and cursor --------------------------------------------------------------------------


def test_pages_are_followed_and_the_next_fetch_only_returns_newer_items(harness, fake, sleeps):
    names = submit_series(fake, 7)
    source = make_source(harness, sleeps)
    first = source.fetch([BRAND], None)
    assert [m.native_id for m in first.mentions] == names[::-1]
    assert [r.params.get("after") for r in searches(fake)] == [None, "t3_p4", "t3_p1"]
    fake.submit("q1", "acme again", NOW)
    second = source.fetch([BRAND], first.cursor)
    assert [m.native_id for m in second.mentions] == ["t3_q1"]
    assert source.fetch([BRAND], second.cursor).mentions == []


def test_items_in_the_same_second_as_the_watermark_are_not_lost_nor_repeated(harness, fake, sleeps):
    fake.submit("a1", "acme one", NOW)
    source = make_source(harness, sleeps)
    first = source.fetch([BRAND], None)
    fake.submit("a2", "acme two, same second", NOW)
    second = source.fetch([BRAND], first.cursor)
    assert [m.native_id for m in second.mentions] == ["t3_a2"]
    mark = json.loads(second.cursor)["listings"]['search:"acme"']["mark"]
    assert sorted(mark["ids"]) == ["t3_a1", "t3_a2"]


def test_a_budget_leaves_a_hole_the_next_fetch_fills_before_moving_on(harness, fake, sleeps, store):
    names = submit_series(fake, 7)
    source = make_source(harness, sleeps, limit=4, include_comments=False)
    first = source.fetch([BRAND], None)
    assert [m.native_id for m in first.mentions] == names[:2:-1] and not first.exhausted
    assert json.loads(first.cursor)["listings"]['search:"acme"']["after"] == names[3]
    fake.submit("q1", "acme newer than the hole", NOW)
    second = source.fetch([BRAND], first.cursor)
    assert [m.native_id for m in second.mentions] == names[2::-1] and second.exhausted
    assert [m.native_id for m in source.fetch([BRAND], second.cursor).mentions] == ["t3_q1"]
    # Through the pipeline: every item stored exactly once.
    fake.things.clear()
    names = submit_series(fake, 9, prefix="z")
    stats = ingest(config_for(), store, "reddit", source=source)
    assert (stats.new_mentions, stats.updated_mentions) == (9, 0) and store.count_snapshots() == 9


def test_an_unreadable_cursor_is_reported_and_the_lookback_window_used(harness, fake, sleeps):
    submit_series(fake, 2)
    batch = make_source(harness, sleeps).fetch([BRAND], "not json")
    assert len(batch.mentions) == 2 and batch.problems[0].where == "reddit cursor"


# --- broken payloads ----------------------------------------------------------------------------


def test_malformed_items_are_problems_and_the_rest_of_the_page_is_kept(harness, fake, sleeps):
    submit_series(fake, 2)
    fake.break_next_payload("items")
    batch = make_source(harness, sleeps, include_comments=False).fetch([BRAND], None)
    assert sorted(m.native_id for m in batch.mentions) == ["t3_p0", "t3_p1"]
    assert [p.message.split(":")[0] for p in batch.problems] == ["skipped t3_bad1", "skipped t1_bad2"]


@pytest.mark.parametrize("mode", ["html", "shape"])
def test_a_page_not_shaped_as_documented_is_a_problem_and_is_fetched_again(harness, fake, sleeps, mode):
    names = submit_series(fake, 5)
    source = make_source(harness, sleeps, include_comments=False)
    fake.break_next_payload(mode, after=1)  # the second page
    batch = source.fetch([BRAND], None)
    assert [m.native_id for m in batch.mentions] == names[:1:-1]
    assert len(batch.problems) == 1 and batch.exhausted
    again = source.fetch([BRAND], batch.cursor)
    assert [m.native_id for m in again.mentions] == names[1::-1]


def test_a_persistently_broken_api_does_not_keep_the_pipeline_fetching(harness, fake, sleeps, store):
    submit_series(fake, 2)
    for _ in range(5):
        fake.break_next_payload("shape")
    stats = ingest(config_for(), store, "reddit", source=make_source(harness, sleeps))
    assert stats.new_mentions == 0 and stats.exhausted and len(stats.problems) == 2  # search and comments


# --- rate limits --------------------------------------------------------------------------------


def test_the_client_side_limiter_spreads_requests_over_minutes():
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(3, clock=lambda: now[0], sleep=sleep)
    sent = []
    for _ in range(7):
        limiter.acquire()
        sent.append(now[0])
        now[0] += 1
    assert sent == [0, 1, 2, 60, 61, 62, 120]
    assert all(sum(1 for t in sent if start <= t < start + 60) <= 3 for start in sent)


def test_a_fetch_stays_under_requests_per_minute(harness, fake, sleeps):
    submit_series(fake, 7)  # token + 3 search pages + comments: 5 requests
    batch = make_source(harness, sleeps, requests_per_minute=2).fetch([BRAND], None)
    assert len(batch.mentions) == 7 and len(fake.requests) == 5
    assert sleeps.waits == [60, 60]


def test_a_429_is_waited_out_and_the_fetch_resumes(harness, fake, sleeps):
    names = submit_series(fake, 7)
    fake.fail_next(429, after=1)
    batch = make_source(harness, sleeps, include_comments=False).fetch([BRAND], None)
    assert [m.native_id for m in batch.mentions] == names[::-1]
    assert sleeps.waits == [pytest.approx(1.2)]


def test_a_rate_limit_beyond_the_cap_is_a_source_error_and_nothing_is_stored(harness, fake, sleeps, store):
    submit_series(fake, 7)
    fake.fail_next(429, after=1)
    with pytest.raises(SourceError, match="rate limit.*max_rate_limit_wait_seconds"):
        ingest(config_for(), store, "reddit", source=make_source(harness, sleeps, max_rate_limit_wait_seconds=0))
    assert store.count_mentions() == 0 and store.get_cursor(cursor_key("reddit")) is None


# --- failures -----------------------------------------------------------------------------------


def test_rejected_credentials_name_both_variables_and_never_show_the_secret(harness, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    source = RedditSource(harness.settings(), harness.client_id, "wrong-secret-value", sleep=sleeps)
    with pytest.raises(SourceError, match="401.*EARSHOT_REDDIT_CLIENT_ID and EARSHOT_REDDIT_CLIENT_SECRET") as err:
        source.fetch([BRAND], None)
    assert "wrong-secret-value" not in str(err.value) and "wrong-secret-value" not in caplog.text
    assert harness.secret not in caplog.text


@pytest.mark.parametrize("status", [401, 403])
def test_revoked_or_forbidden_access_on_a_working_source_is_a_source_error(harness, fake, sleeps, status):
    source = make_source(harness, sleeps)
    source.fetch([BRAND], None)  # the token is fetched and cached
    fake.fail_next(status)
    with pytest.raises(SourceError, match=f"{status}.*EARSHOT_REDDIT_CLIENT_ID") as err:
        source.fetch([BRAND], None)
    assert harness.secret not in str(err.value)


def test_a_brief_outage_is_retried_with_backoff(harness, fake, sleeps):
    submit_series(fake, 2)
    fake.fail_next(503, times=2, after=1)
    batch = make_source(harness, sleeps, retry_backoff_seconds=1).fetch([BRAND], None)
    assert len(batch.mentions) == 2 and sleeps.waits == [1, 2]


def test_a_lasting_outage_raises_stores_nothing_and_never_sleeps_in_prawcore(harness, fake, sleeps, store):
    submit_series(fake, 2)
    store.set_cursor(cursor_key("reddit"), "{}")
    fake.fail_next(502, times=20)
    started = time.monotonic()
    with pytest.raises(SourceError, match="unavailable \\(HTTP 502\\) after 3 attempts.*Airflow will retry"):
        ingest(config_for(), store, "reddit", source=make_source(harness, sleeps))
    assert time.monotonic() - started < 1.5  # prawcore's own retry sleeps (up to 6 s) are bypassed
    assert store.count_mentions() == 0 and store.get_cursor(cursor_key("reddit")) == "{}"
    assert len(sleeps.waits) == 2


# --- refresh ------------------------------------------------------------------------------------


def test_refresh_asks_for_100_items_per_request_and_skips_removed_ones(harness, fake, sleeps):
    fake.page_size = 100
    names = submit_series(fake, 250)
    source = make_source(harness, sleeps)
    batch = source.fetch([BRAND], None)
    assert len(batch.mentions) == 250
    harness.set_likes(names[0], 99)
    fake.remove(names[1])
    snapshots = source.refresh(batch.mentions)
    infos = [r for r in fake.requests if r.path == "/api/info/"]
    assert [len(r.params["id"].split(",")) for r in infos] == [100, 100, 50]
    by_id = {s.mention_id: s.engagement for s in snapshots}
    assert len(by_id) == 249 and f"reddit:{names[1]}" not in by_id
    assert by_id[f"reddit:{names[0]}"].score == 99


def test_the_pipeline_follows_engagement_through_refresh(harness, fake, sleeps, store):
    (name,) = submit_series(fake, 1)
    config = config_for(follow_hours=24)
    source = make_source(harness, sleeps)
    ingest(config, store, "reddit", source=source)
    fake.set_score(name, 250)
    sleeps(60)  # a minute later
    ingest(config, store, "reddit", source=source)
    assert [s.engagement.score for s in store.snapshots_for(f"reddit:{name}")][-1] == 250


# --- configuration ------------------------------------------------------------------------------


def test_the_plugin_reads_its_settings_and_credentials_from_the_config_and_environment(harness, fake, monkeypatch):
    fake.submit("e1", "acme", NOW)
    monkeypatch.setenv("EARSHOT_REDDIT_CLIENT_ID", harness.client_id)
    monkeypatch.setenv("EARSHOT_REDDIT_CLIENT_SECRET", harness.secret)
    config = config_for(oauth_url=fake.base_url, reddit_url=fake.base_url, subreddits=["acmefans"])
    source = create_source("reddit", config)
    assert isinstance(source, RedditSource)
    assert [m.native_id for m in source.fetch(config.brands, None).mentions] == ["t3_e1"]


def test_missing_credentials_name_the_variable(monkeypatch):
    monkeypatch.setenv("EARSHOT_REDDIT_CLIENT_ID", "someone")
    monkeypatch.delenv("EARSHOT_REDDIT_CLIENT_SECRET", raising=False)
    with pytest.raises(SourceError, match="EARSHOT_REDDIT_CLIENT_SECRET"):
        create_source("reddit", config_for())


def test_subreddit_names_are_validated():
    with pytest.raises(Exception, match="not a subreddit name"):
        config_for(subreddits=["fine", "../../api"])
