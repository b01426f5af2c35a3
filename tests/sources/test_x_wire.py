"""The X source reads X API v2 as X actually sends it (issue 17), one fixture per case.

Each fixture in fixtures/x/ is a response shaped as the API reference and tweepy's recorded
cassettes show it; the fake X answers the next request with it, so the source reads it over
HTTP through tweepy exactly as in production.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import BrandConfig
from monitor.models import Mention
from monitor.sources.x.source import XSource

from .harness_x import XHarness

FIXTURES = Path(__file__).parent / "fixtures" / "x"
BRAND = BrandConfig(name="Acme", queries=["acme"])
NOW = datetime.now(UTC)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[XHarness]:
    h = XHarness()
    h.start(tmp_path)
    yield h
    h.stop()


def fetch_fixture(harness: XHarness, name: str):
    harness.fake.answer_next((FIXTURES / name).read_text())
    return harness.source().fetch([BRAND], None)


def test_text_is_html_unescaped_once(harness):
    (m,) = fetch_fixture(harness, "search_html_escaped.json").mentions
    assert m.text == "Acme & Co billed me twice >:( <3 to support though"


def test_a_long_post_is_read_from_note_tweet_and_matched_on_its_full_text(harness):
    batch = fetch_fixture(harness, "search_note_tweet.json")
    (m,) = batch.mentions  # "Acme" only appears after the 280 characters `text` carries
    full = json.loads((FIXTURES / "search_note_tweet.json").read_text())["data"][0]["note_tweet"]["text"]
    assert m.text == full.replace("&amp;", "&") and len(m.text) > 280 and not m.text.endswith("…")


def test_an_edit_is_keyed_by_the_first_id_of_its_history(harness):
    (m,) = fetch_fixture(harness, "search_edited.json").mentions
    assert (m.id, m.native_id) == ("x:1862540015930269702", "1862540015930269702")
    assert m.url.endswith("/status/1862540015930269702") and "only half" in m.text


def test_an_edit_updates_the_stored_mention_in_place(harness, store):
    harness.fake.add_user("7", "mariela")
    harness.fake.publish("1001", "acme refunded me", NOW - timedelta(minutes=3), author_id="7")
    source = harness.source()
    first = source.fetch([BRAND], None)
    store.ingest(first.mentions, first.snapshots, "x", first.cursor)
    harness.fake.edit("1001", "1002", "acme refunded me (edit: only half)")
    second = source.fetch([BRAND], None)  # from the start again: both ids in one window
    store.ingest(second.mentions, second.snapshots)
    assert [m.id for m in second.mentions] == ["x:1001"]
    assert store.count_mentions() == 1
    assert store.get_mention("x:1001").text == "acme refunded me (edit: only half)"


def test_a_retweet_is_engagement_of_its_original_not_a_new_mention(harness):
    batch = fetch_fixture(harness, "search_retweet.json")
    (m,) = batch.mentions
    assert m.id == "x:1862540015930269600" and not m.text.startswith("RT @")
    assert (m.author_handle, m.engagement.reposts) == ("mariela_rz", 95)


def test_a_retweet_without_its_original_included_is_not_stored(harness):
    body = json.loads((FIXTURES / "search_retweet.json").read_text())
    del body["includes"]["tweets"]
    harness.fake.answer_next(json.dumps(body))
    batch = harness.source().fetch([BRAND], None)
    assert batch.mentions == [] and batch.problems == []


def test_a_quote_is_a_mention_that_refers_to_its_original(harness):
    (m,) = fetch_fixture(harness, "search_quote.json").mentions
    assert m.id == "x:1862540015930269704" and m.refers_to == "x:1862540015930269600"


def test_missing_public_metrics_is_unknown_engagement_and_no_snapshot(harness):
    batch = fetch_fixture(harness, "search_no_public_metrics.json")
    (m,) = batch.mentions
    assert m.engagement_known is False and batch.snapshots == []


def test_author_verified_and_language_come_from_the_expansions(harness):
    (m,) = fetch_fixture(harness, "search_html_escaped.json").mentions
    assert (m.author_handle, m.author_followers, m.author_verified, m.lang) == ("mariela_rz", 5400, True, "en")
    params = harness.fake.searches()[0].params
    assert "verified" in params["user.fields"].split(",")
    assert {"author_id", "referenced_tweets.id"} <= set(params["expansions"].split(","))
    assert {"note_tweet", "edit_history_tweet_ids"} <= set(params["tweet.fields"].split(","))


def test_without_expansions_the_author_and_language_are_unknown_not_invented(harness):
    (m,) = fetch_fixture(harness, "search_no_expansions.json").mentions
    assert (m.author_handle, m.author_followers, m.author_verified, m.lang) == ("[unavailable]", 0, None, None)


def _mention(native_id: str) -> Mention:
    return Mention(id=f"x:{native_id}", source="x", native_id=native_id, url="https://x.com/i/web/status/1",
                   author_handle="a", text="acme", created_at=NOW, brand="Acme", query="acme")


def test_refresh_reports_deleted_suspended_and_protected_posts_as_removals(harness):
    harness.fake.answer_next((FIXTURES / "lookup_gone.json").read_text())
    source = harness.source()
    ids = ["1862540015930269707", "1862540015930269708", "1862540015930269709", "1862540015930269710"]
    snapshots = source.refresh([_mention(i) for i in ids])
    assert [s.mention_id for s in snapshots] == ["x:1862540015930269707"]
    assert [(r.mention_id, r.reason) for r in source.removals] == [
        ("x:1862540015930269708", "deleted"), ("x:1862540015930269709", "protected"),
        ("x:1862540015930269710", "suspended")]


def test_refresh_of_a_suspended_author_through_the_fake(harness):
    harness.fake.publish("1001", "acme", NOW - timedelta(minutes=3))
    harness.fake.publish("1002", "acme", NOW - timedelta(minutes=2))
    harness.fake.withhold("1002")
    source = harness.source()
    source.refresh([_mention("1001"), _mention("1002")])
    assert [(r.mention_id, r.reason) for r in source.removals] == [("x:1002", "protected")]


def test_a_refresh_without_public_metrics_adds_no_zero_point_to_the_curve(harness):
    harness.fake.publish("1001", "acme outage", NOW - timedelta(minutes=3), 40, retweets=6)
    source = harness.source()
    mentions = source.fetch([BRAND], None).mentions
    harness.fake.tweets["1001"].metrics_hidden = True
    assert source.refresh(mentions) == []  # not a snapshot of 0 likes: the post did not stop growing
