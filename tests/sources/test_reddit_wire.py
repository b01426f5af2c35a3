"""The Reddit source reads Reddit as Reddit actually sends it (issue 17), one fixture per case.

Each fixture in fixtures/reddit/ is a response shaped as Reddit's API and praw's recorded
cassettes show it; the fake Reddit answers the next API request with it (a listing dated to
now, so the cursor's lookback keeps it), and praw parses it for real.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import BrandConfig
from monitor.sources import SourceError

from .harness_reddit import RedditHarness

FIXTURES = Path(__file__).parent / "fixtures" / "reddit"
BRAND = BrandConfig(name="Acme", queries=["acme"])
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[RedditHarness]:
    h = RedditHarness()
    h.start(tmp_path)
    yield h
    h.stop()


def listing(name: str) -> str:
    """The fixture, its items re-dated to the last minutes in their order (newest first)."""
    body = json.loads((FIXTURES / name).read_text())
    for age, child in enumerate(body["data"]["children"]):
        child["data"]["created_utc"] = child["data"]["created"] = float(int(time.time()) - 60 - 10 * age)
    return json.dumps(body)


def fetch_fixture(harness: RedditHarness, name: str, brands=(BRAND,), **settings: object):
    harness.fake.answer_next(listing(name))
    return harness.source(**settings).fetch(list(brands), None)


def test_comments_without_permalink_are_kept_with_a_link_built_from_link_id_and_subreddit(harness):
    batch = fetch_fixture(harness, "comments_without_permalink.json")
    assert [(m.native_id, m.url) for m in batch.mentions] == [
        ("t1_m1a2b3c", "https://www.reddit.com/r/acmefans/comments/1h2x3y/_/m1a2b3c/"),
        ("t1_m1a2b3d", "https://www.reddit.com/r/acmefans/comments/1h2x3y/_/m1a2b3d/"),
        # An inbox comment (as praw's recorded /message/comments shows): no link_id, only `context`.
        ("t1_m1a2b3e", "https://www.reddit.com/r/acmefans/comments/1h2x3y/acme_billing/m1a2b3e/")]
    assert batch.problems == []


def test_comments_without_permalink_are_refreshed_too(harness):
    harness.fake.answer_next(listing("comments_without_permalink.json"))
    source = harness.source()
    mentions = source.fetch([BRAND], None).mentions
    body = json.loads(listing("comments_without_permalink.json"))
    for child in body["data"]["children"]:
        child["data"]["score"] = 30
    harness.fake.answer_next(json.dumps(body))
    snapshots = source.refresh(mentions)
    assert [(s.mention_id, s.engagement.score) for s in snapshots] == [
        ("reddit:t1_m1a2b3c", 30), ("reddit:t1_m1a2b3d", 30), ("reddit:t1_m1a2b3e", 30)]


def test_removed_and_deleted_bodies_are_no_mentions_but_removals(harness):
    batch = fetch_fixture(harness, "removed_and_deleted.json")
    assert [m.native_id for m in batch.mentions] == ["t1_m2a2b3e"]
    assert all("[removed]" not in m.text and "[deleted]" not in m.text for m in batch.mentions)
    assert [(r.mention_id, r.reason) for r in batch.removals] == [
        ("reddit:t1_m2a2b3c", "removed"), ("reddit:t1_m2a2b3d", "deleted"), ("reddit:t3_1h2x40", "removed")]


def test_a_refresh_that_finds_an_item_removed_reports_it(harness):
    harness.fake.submit("p1", "acme billing", NOW - timedelta(minutes=3))
    harness.fake.submit("p2", "acme outage", NOW - timedelta(minutes=2))
    harness.fake.submit("p3", "acme roaming", NOW - timedelta(minutes=1))
    source = harness.source()
    mentions = source.fetch([BRAND], None).mentions
    harness.fake.take_down("t3_p1", "[removed]")
    harness.fake.take_down("t3_p2", "[deleted]")
    harness.fake.remove("t3_p3")
    assert source.refresh(mentions) == []
    assert sorted((r.mention_id, r.reason) for r in source.removals) == [
        ("reddit:t3_p1", "removed"), ("reddit:t3_p2", "deleted"), ("reddit:t3_p3", "not_found")]


def test_a_hidden_score_is_unknown_not_1_and_makes_no_snapshot(harness):
    batch = fetch_fixture(harness, "score_hidden_and_nsfw.json")
    hidden = next(m for m in batch.mentions if m.native_id == "t1_m3a2b3c")
    assert hidden.engagement_known is False
    assert "reddit:t1_m3a2b3c" not in {s.mention_id for s in batch.snapshots}


def test_nsfw_is_kept_as_a_flag_and_a_brand_can_exclude_it(harness):
    batch = fetch_fixture(harness, "score_hidden_and_nsfw.json")
    assert {m.native_id: m.nsfw for m in batch.mentions} == {"t1_m3a2b3c": False, "t3_1h2x41": True}
    strict = BrandConfig(name="Acme", queries=["acme"], exclude_nsfw=True)
    batch = fetch_fixture(harness, "score_hidden_and_nsfw.json", brands=(strict,))
    assert [m.native_id for m in batch.mentions] == ["t1_m3a2b3c"]


def test_non_ascii_permalinks_become_percent_encoded_urls(harness):
    batch = fetch_fixture(harness, "non_ascii_permalink.json")
    urls = {m.native_id: m.url for m in batch.mentions}
    assert urls["t3_1h2x42"] == "https://www.reddit.com/r/de/comments/1h2x42/acme_st%C3%B6rung_in_k%C3%B6ln/"
    assert all(u.isascii() for u in urls.values())
    assert "%D7%9C%D7%90" in urls["t1_m4a2b3c"]


def test_no_request_asks_for_more_than_reddits_100_items(harness):
    for i in range(5):
        harness.fake.submit(f"p{i}", f"acme {i}", NOW - timedelta(minutes=5 - i))
    harness.source(limit=100).fetch([BRAND], None)
    limits = [int(r.params["limit"]) for r in harness.fake.listing_requests() if "limit" in r.params]
    assert limits and max(limits) <= 100


@pytest.mark.parametrize(("fixture", "status", "cause"), [
    ("error_private.json", 403, "is private"),
    ("error_banned.json", 404, "is banned"),
    ("error_quarantined.json", 403, "is quarantined"),
    ("error_bad_query.json", 400, "bad query"),
])
def test_a_refused_listing_says_which_cause(harness, fixture, status, cause):
    harness.fake.answer_next((FIXTURES / fixture).read_text(), status)
    with pytest.raises(SourceError, match=cause) as err:
        harness.source(subreddits=["acmefans"]).fetch([BRAND], None)
    assert f"HTTP {status}" in str(err.value)


def test_a_closed_subreddit_through_the_fake(harness):
    harness.fake.close("acmefans", "private")
    with pytest.raises(SourceError, match="r/acmefans is private"):
        harness.source(subreddits=["acmefans"]).fetch([BRAND], None)


