"""RSS behaviour beyond the shared contract: conditional GETs, brand-scoped feeds, one feed down.

The contract suite (test_contract.py, via harness_rss.py) covers mentions, paging, cursors,
outages and secrets; these cases cover what only a feed reader has.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import BrandConfig, ConfigError, parse_config
from monitor.sources import SourceError, create_source
from monitor.sources.rss.source import Feed, RSSSettings, RSSSource
from tests.sources.fakes.rss_feed import FakeEntry, FakeFeedServer

ACME = BrandConfig(name="Acme", queries=["acme"], exclude=["hiring"])
GLOBEX = BrandConfig(name="Globex", queries=["globex"])
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def server() -> Iterator[FakeFeedServer]:
    fake = FakeFeedServer(page_size=10)
    fake.add_feed("/news.rss", "rss", title="Daily News", lang="en-gb")
    fake.add_feed("/status.atom", "atom", title="Globex Status", lang="es")
    fake.start()
    yield fake
    fake.stop()


def entry(native_id: str, html: str, minutes_ago: int = 5, **extra) -> FakeEntry:
    return FakeEntry(id=native_id, title=f"Story {native_id}", summary_html=html,
                     published=NOW - timedelta(minutes=minutes_ago), **extra)


def source(server: FakeFeedServer, *feeds: Feed) -> RSSSource:
    return RSSSource(feeds or [Feed(server.url("/news.rss"))], backoff_seconds=0.01, retries=2)


def test_entries_are_matched_over_title_and_summary_with_html_stripped(server: FakeFeedServer) -> None:
    server.publish("/news.rss", entry("1", "<p>Their <b>ACME</b> router &amp; modem died</p>", author="Ana"))
    server.publish("/news.rss", entry("2", "<p>nothing here</p>"))
    server.publish("/news.rss", entry("3", "<p>Acme is hiring</p>"))  # an exclusion
    batch = source(server).fetch([ACME], None)
    assert [m.id for m in batch.mentions] == ["rss:1"]
    m = batch.mentions[0]
    assert m.text == "Their ACME router & modem died" and m.title == "Story 1"
    assert (m.author_handle, m.lang, m.query, m.engagement.likes) == ("Ana", "en", "acme", 0)
    assert batch.problems == [] and batch.snapshots == []


def test_an_unchanged_feed_is_a_304_and_nothing_new(server: FakeFeedServer) -> None:
    server.publish("/news.rss", entry("1", "acme outage"))
    first = source(server).fetch([ACME], None)
    second = source(server).fetch([ACME], first.cursor)
    assert second.mentions == [] and second.cursor == first.cursor
    assert server.requests[-1].headers.get("if-none-match"), "the second request was not conditional"

    server.publish("/news.rss", entry("2", "acme again", minutes_ago=1))
    third = source(server).fetch([ACME], second.cursor)
    assert [m.id for m in third.mentions] == ["rss:2"]


def test_a_feed_scoped_to_a_brand_only_yields_that_brand(server: FakeFeedServer) -> None:
    server.publish("/status.atom", entry("tag:status,2026:1", "Globex and Acme APIs degraded"))
    scoped = source(server, Feed(server.url("/status.atom"), brand="Globex"))
    [mention] = scoped.fetch([ACME, GLOBEX], None).mentions
    assert (mention.brand, mention.native_id, mention.lang) == ("Globex", "tag:status,2026:1", "es")
    assert mention.author_handle == "Globex Status"  # no author: the feed's title stands in


def test_one_feed_down_is_a_problem_and_the_others_are_read(server: FakeFeedServer) -> None:
    server.publish("/news.rss", entry("1", "acme outage"))
    both = source(server, Feed(server.url("/gone.rss")), Feed(server.url("/news.rss")))
    batch = both.fetch([ACME], None)
    assert [m.id for m in batch.mentions] == ["rss:1"]
    assert [p.where for p in batch.problems] == [server.url("/gone.rss")]
    assert "404" in batch.problems[0].message


def test_a_refused_token_names_the_variable_never_the_value(server: FakeFeedServer) -> None:
    server.token = "the-real-token"
    wrong = RSSSource([Feed(server.url("/news.rss"), token="stale-token", token_env="NEWS_TOKEN")], retries=1)
    with pytest.raises(SourceError) as raised:
        wrong.fetch([ACME], None)
    assert "401" in str(raised.value) and "NEWS_TOKEN" in str(raised.value)
    assert "stale-token" not in str(raised.value) and "stale-token" not in repr(wrong)


def test_old_entries_are_not_news(server: FakeFeedServer) -> None:
    server.publish("/news.rss", entry("old", "acme in 2019", minutes_ago=60 * 24 * 400))
    server.publish("/news.rss", entry("new", "acme today"))
    assert [m.id for m in source(server).fetch([ACME], None).mentions] == ["rss:new"]


def test_settings_accept_plain_urls_and_report_missing_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRIVATE_FEED_TOKEN", raising=False)
    settings = RSSSettings.model_validate({
        "feeds": ["https://a.example/feed", {"url": "https://b.example/atom", "token_env": "PRIVATE_FEED_TOKEN"}],
    })
    assert [f.url for f in settings.feeds] == ["https://a.example/feed", "https://b.example/atom"]
    assert settings.missing_credentials() == ["PRIVATE_FEED_TOKEN"]
    with pytest.raises(ValueError, match="http"):
        RSSSettings.model_validate({"feeds": ["ftp://a.example/feed"]})


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="sources.rss.feeds"):
        parse_config({"brands": [ACME.model_dump()], "sources": {"rss": {"feeds": []}}})
    config = parse_config({"brands": [ACME.model_dump()],
                           "sources": {"rss": {"feeds": [{"url": "https://a.example/f", "brand": "Initech"}]}}})
    with pytest.raises(SourceError, match=r"sources.rss.feeds.0.brand: no brand named 'Initech'"):
        create_source("rss", config)


def test_the_old_retry_option_names_are_refused_with_the_new_ones() -> None:
    """Every source's retry options have the same names (`RetrySettings`); the old RSS ones say what they became."""
    from monitor.config import ConfigError, parse_config

    with pytest.raises(ConfigError) as raised:
        parse_config({"brands": [{"name": "Acme", "queries": ["acme"]}],
                      "sources": {"rss": {"feeds": ["https://status.example.com/history.rss"], "max_attempts": 2,
                                          "max_wait_seconds": 30}}})
    message = str(raised.value)
    assert "max_attempts: renamed to retries" in message
    assert "max_wait_seconds: renamed to max_rate_limit_wait_seconds" in message
