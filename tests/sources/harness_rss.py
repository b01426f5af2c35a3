"""Contract harness for the RSS source: a private RSS 2.0 feed and a private Atom feed on loopback.

Posts alternate between the two feeds, so every contract case exercises both formats,
pagination (`<link rel="next">`) and the bearer token read from the environment. The
source is built the production way: a config validated by the plugin's settings model,
then `create_source("rss", config)` through the entry point. Feeds carry no engagement
(`engagement = "none"`), so `set_likes` changes nothing.
"""

from __future__ import annotations

import html

import os
from datetime import datetime
from pathlib import Path

from monitor.config import parse_config
from monitor.sources import Source, create_source
from tests.sources.fakes.rss_feed import FakeEntry, FakeFeedServer
from tests.sources.harness import BRAND

TOKEN_ENV = "EARSHOT_TEST_RSS_TOKEN"
FEEDS = ("/news.rss", "/blog.atom")


class RSSHarness:
    name = "rss"
    page_size = 4
    secret = "rss-contract-secret-5b7d20"
    engagement = "none"

    def __init__(self) -> None:
        self.server = FakeFeedServer(page_size=self.page_size, token=self.secret, retry_after_s=0.5)
        self.server.add_feed(FEEDS[0], "rss", title="Acme Watch News")
        self.server.add_feed(FEEDS[1], "atom", title="Industry Blog")
        self._feed_of: dict[str, str] = {}  # native id -> feed path
        self._saved_env: str | None = None

    def start(self, tmp_path: Path) -> None:
        self.server.start()
        self._saved_env = os.environ.get(TOKEN_ENV)
        os.environ[TOKEN_ENV] = self.secret

    def stop(self) -> None:
        self.server.stop()
        if self._saved_env is None:
            os.environ.pop(TOKEN_ENV, None)
        else:
            os.environ[TOKEN_ENV] = self._saved_env

    def source(self) -> Source:
        config = parse_config({
            "brands": [BRAND.model_dump()],
            "sources": {"rss": {
                "feeds": [{"url": self.server.url(path), "token_env": TOKEN_ENV} for path in FEEDS],
                "backoff_seconds": 0.01,
                "max_rate_limit_wait_seconds": 5,
            }},
        }, source="harness_rss")
        return create_source("rss", config)

    def publish(self, native_id: str, text: str, created_at: datetime, likes: int = 0, *,
                author_missing: bool = False) -> None:
        path = FEEDS[len(self._feed_of) % len(FEEDS)]
        self._feed_of[native_id] = path
        self.server.publish(path, FakeEntry(
            id=self.native_id_for(native_id), title=f"Post {native_id}", summary_html=f"<p>{html.escape(text, quote=False)}</p>", published=created_at,
            author=None if author_missing else f"Writer {native_id}",
            link=f"https://news.example/posts/{native_id}",
        ))

    def native_id_for(self, native_id: str) -> str:
        """RSS guids are opaque strings; Atom ids are IRIs, so the Atom feed uses a tag: URI."""
        if self._feed_of.get(native_id) == FEEDS[1]:
            return f"tag:blog.example,2026:post-{native_id}"
        return native_id

    def set_likes(self, native_id: str, likes: int) -> None:
        pass  # a feed has no engagement counts

    def fail_next(self, status: int, times: int = 1) -> None:
        self.server.fail_next(status, times)

    def break_next_payload(self) -> None:
        self.server.break_next_payload()


def make_harness() -> RSSHarness:
    return RSSHarness()
