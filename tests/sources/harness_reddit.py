"""The Reddit source against the fake Reddit API, for the shared source contract suite.

Reddit identifies items by fullname, and the source uses it as the native id:
`publish("t3_abc", ...)` makes submission abc (its mention is `reddit:t3_abc`),
`publish("t1_abc", ...)` a comment. A bare base36 id ("1001", "abc") is published as a
submission, so its mention's native id is "t3_1001", not "1001": use `native_id_for()` to
turn a bare id into what the mention will carry. A submission's title is the published
text and its selftext empty, so the mention's text is exactly the published text.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

from monitor.models import Engagement
from monitor.sources.reddit.source import RedditSettings, RedditSource

from .fakes.reddit_api import FakeReddit


class RedditHarness:
    name = "reddit"
    page_size = 3

    def __init__(self) -> None:
        self.secret = f"reddit-secret-{secrets.token_hex(12)}"
        self.client_id = f"reddit-client-{secrets.token_hex(4)}"
        self.fake = FakeReddit(client_id=self.client_id, client_secret=self.secret, page_size=self.page_size,
                               ratelimit_allowance=1_000_000)  # prawcore then never paces the tests

    def start(self, tmp_path: Path) -> None:
        self.fake.start()

    def stop(self) -> None:
        self.fake.stop()

    def settings(self, **overrides: object) -> RedditSettings:
        values: dict[str, object] = {
            "oauth_url": self.fake.base_url,
            "reddit_url": self.fake.base_url,
            "user_agent": "python:earshot-contract-tests:v0 (by /u/earshot)",
            "include_comments": True,
            "limit": 500,  # one fetch drains what a test publishes
            "lookback_minutes": 7 * 24 * 60,
            "requests_per_minute": 100,
            "max_rate_limit_wait_seconds": 10,  # the fake's 429 resets within about a second
            "retry_backoff_seconds": 0.01,
            "server_error_retries": 2,
            "timeout_seconds": 5,
        }
        return RedditSettings.model_validate({**values, **overrides})

    def source(self, **overrides: object) -> RedditSource:
        return RedditSource(self.settings(**overrides), self.client_id, self.secret)

    @staticmethod
    def native_id_for(bare: str) -> str:
        """The native id of the mention that `publish(bare, ...)` produces."""
        return bare if bare.startswith(("t1_", "t3_")) else f"t3_{bare}"

    def publish(self, native_id: str, text: str, created_at: datetime, likes: int = 0, *,
                author_missing: bool = False) -> None:
        author = None if author_missing else "ana_sousa"
        if native_id.startswith("t1_"):
            self.fake.comment(native_id, text, created_at, likes, author=author)
        else:
            self.fake.submit(native_id, text, created_at, likes, author=author)

    def set_likes(self, native_id: str, likes: int) -> None:
        self.fake.set_score(self.native_id_for(native_id), likes)

    # -- issue 17's platform behaviours (tests/sources/test_contract.py)

    def remove(self, native_id: str) -> None:
        self.fake.take_down(self.native_id_for(native_id), "[removed]")

    def hide_engagement(self, native_id: str) -> None:
        self.fake.things[self.native_id_for(native_id)].score_hidden = True

    def fail_next(self, status: int, times: int = 1) -> None:
        self.fake.fail_next(status, times)

    def break_next_payload(self) -> None:
        self.fake.break_next_payload("html")

    @staticmethod
    def main_count(engagement: Engagement) -> int:
        """The count `set_likes` changes, as this source maps it: the score."""
        return engagement.score


def make_harness() -> RedditHarness:
    return RedditHarness()
