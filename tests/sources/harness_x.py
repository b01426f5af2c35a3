"""The X source against the fake X API v2, for the shared source contract suite.

X post ids are numeric strings that grow with time (snowflakes): `publish` takes such
ids ("1001", "1002", ...), increasing in the order the posts are published, and only
posts from the last seven days are searchable, as on X.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

from monitor.models import Engagement
from monitor.sources.x.source import RECENT_SEARCH_DAYS, XSettings, XSource

from .fakes.x_api import FakeX


class XHarness:
    name = "x"
    page_size = 3

    def __init__(self) -> None:
        self.secret = f"x-bearer-{secrets.token_hex(12)}"
        self.fake = FakeX(token=self.secret, page_size=self.page_size)

    def start(self, tmp_path: Path) -> None:
        self.fake.start()

    def stop(self) -> None:
        self.fake.stop()

    def settings(self, **overrides: object) -> XSettings:
        values: dict[str, object] = {
            "api_base_url": self.fake.base_url,
            "max_pages": 100,  # one fetch drains what a test publishes
            "lookback_minutes": RECENT_SEARCH_DAYS * 24 * 60 - 5,
            "max_rate_limit_wait_seconds": 10,  # the fake's 429 resets within about a second
            "retry_backoff_seconds": 0.01,
            "server_error_retries": 2,
            "timeout_seconds": 5,
        }
        return XSettings.model_validate({**values, **overrides})

    def source(self, **overrides: object) -> XSource:
        return XSource(self.settings(**overrides), bearer_token=self.secret)

    @staticmethod
    def native_id_for(bare: str) -> str:
        """The native id of the mention that `publish(bare, ...)` produces: X ids are used as they are."""
        return bare

    def publish(self, native_id: str, text: str, created_at: datetime, likes: int = 0, *,
                author_missing: bool = False) -> None:
        self.fake.publish(native_id, text, created_at, likes, author_missing=author_missing)

    def set_likes(self, native_id: str, likes: int) -> None:
        self.fake.set_likes(native_id, likes)

    # -- issue 17's platform behaviours (tests/sources/test_contract.py)

    def remove(self, native_id: str) -> None:
        self.fake.delete(native_id)

    def hide_engagement(self, native_id: str) -> None:
        self.fake.tweets[native_id].metrics_hidden = True

    def edit(self, native_id: str, text: str) -> None:
        """An edit gets a new (larger) id; its history starts with `native_id`."""
        self.fake.edit(native_id, str(int(native_id) * 1000 + 1), text)

    def repost(self, native_id: str) -> None:
        original = self.fake.tweets[native_id]
        self.fake.add_user("202", "k_tanaka", followers=180)
        self.fake.publish(str(int(native_id) * 1000 + 2), original.text, original.created_at, author_id="202",
                          is_retweet=True, retweet_of=native_id)

    def fail_next(self, status: int, times: int = 1) -> None:
        self.fake.fail_next(status, times)

    def break_next_payload(self) -> None:
        self.fake.break_next_payload("html")

    @staticmethod
    def main_count(engagement: Engagement) -> int:
        """The count `set_likes` changes, as this source maps it."""
        return engagement.likes


def make_harness() -> XHarness:
    return XHarness()
