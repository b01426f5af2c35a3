"""Mastodon, Bluesky and RSS read as the platforms document their responses (issue 17's review).

One real documented shape each (fixtures/mastodon, fixtures/bluesky; the RSS case goes through
the fake feed server): boosts, sensitive/adult labels, quotes, right-to-left text, emoji, and
entities escaped once too often.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import BrandConfig
from monitor.sources.base import first_match
from monitor.sources.bluesky.source import parse_post, post_to_mention
from monitor.sources.mastodon.source import parse_status, status_to_mention

from .fakes.rss_feed import FakeEntry
from .harness_rss import RSSHarness

FIXTURES = Path(__file__).parent / "fixtures"
ACME = BrandConfig(name="Acme", queries=["acme"])
NO_NSFW = BrandConfig(name="Acme", queries=["acme"], exclude_nsfw=True)


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_mastodon_a_boost_is_its_original_with_the_sensitive_flag_and_rtl_text_kept():
    status = parse_status(load("mastodon/status_boost_sensitive.json"))
    assert status.id == "113571010000000001"  # the boosted post, not the boost
    assert status.sensitive is True and status.spoiler == "تحذير: شكوى" and status.lang == "ar"
    assert status.text == "خدمة #Acme لا ترد منذ أسبوع & الفاتورة مضاعفة 😡"
    mention = status_to_mention(status, ACME, "acme")
    assert mention.nsfw is True and mention.engagement.reposts == 12
    assert first_match([NO_NSFW], status.text, nsfw=status.sensitive) is None
    assert first_match([ACME], status.text, nsfw=status.sensitive) is not None


def test_bluesky_adult_labels_are_the_nsfw_flag_and_a_quote_refers_to_its_original():
    post = parse_post(load("bluesky/post_labels_quote.json"))
    assert post.nsfw is True
    assert post.quotes == "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3lbzpx7ab2c2k"
    mention = post_to_mention(post, ACME, "acme")
    assert (mention.nsfw, mention.refers_to, mention.lang) == (True, "bluesky:3lbzpx7ab2c2k", "he")
    assert mention.text == "שירות הלקוחות של Acme לא עונה 🙄 ראו את זה"
    assert first_match([NO_NSFW], post.text, nsfw=post.nsfw) is None


def test_bluesky_an_unlabelled_post_without_embed_is_not_nsfw_and_refers_to_nothing():
    raw = load("bluesky/post_labels_quote.json")
    raw["labels"], raw["record"]["labels"] = [], {"values": [{"val": "!no-unauthenticated"}]}
    del raw["record"]["embed"]
    post = parse_post(raw)
    assert (post.nsfw, post.quotes) == (False, None)


@pytest.fixture
def rss(tmp_path: Path) -> Iterator[RSSHarness]:
    h = RSSHarness()
    h.start(tmp_path)
    yield h
    h.stop()


def test_rss_html_entities_are_unescaped_once_not_twice(rss):
    # A post about HTML: its author wrote the text "&lt;br&gt;", which the post's HTML carries as
    # "&amp;lt;br&amp;gt;" (and the feed escapes once more for XML). Its reader sees "&lt;br&gt;".
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    rss.server.publish("/news.rss", FakeEntry(
        id="post-8", title="Acme docs", published=when, link="https://news.example/posts/8",
        summary_html="<p>Acme's editor shows &amp;lt;br&amp;gt; as text &amp; keeps <b>bold</b></p>"))
    (m,) = rss.source().fetch([ACME], None).mentions
    assert "shows &lt;br&gt; as text & keeps bold" in m.text
