"""Contract harness for the Mastodon source: the real Mastodon.py against a loopback REST fake.

The contract's posts carry no hashtag, so they reach the source through status search
(`search_v2`); the source also follows #acme, which the platform tests exercise. Each fresh
source reads the instance version first (`/api/v1/instance`), so that is the request
`fail_next` and `break_next_payload` land on for a new source.
"""

from __future__ import annotations

from datetime import datetime

from monitor.sources.mastodon.source import MastodonSettings, MastodonSource
from tests.sources.fakes.mastodon_api import Account, FakeMastodon, Status
from tests.sources.harness import FAST_RETRIES, FakeHarness

AUTHORS = [Account("1", "ana", 1200), Account("2", "ben", 40, domain="other.example")]


class MastodonHarness(FakeHarness):
    name = "mastodon"
    page_size = 5
    secret = "mastodon-token-Zq81xx"  # the access token the source is given
    matches_text = True

    def __init__(self) -> None:
        super().__init__(FakeMastodon(token=self.secret, page_size=self.page_size))

    def settings(self) -> MastodonSettings:
        return MastodonSettings(api_base_url=self.fake.url, hashtags=["acme"], page_size=self.page_size,
                                **FAST_RETRIES)

    def source(self) -> MastodonSource:
        return MastodonSource(self.settings(), self.secret, sleep=self.sleeps)

    def publish(self, native_id: str, text: str, created_at: datetime, likes: int = 0, *,
                author_missing: bool = False) -> None:
        account = None if author_missing else AUTHORS[sum(map(ord, native_id)) % len(AUTHORS)]
        self.fake.publish(Status(native_id, account, text, created_at, favourites=likes))

    def set_likes(self, native_id: str, likes: int) -> None:
        self.fake.status(native_id).favourites = likes

    def remove(self, native_id: str) -> None:
        """Deleted by its author: the platform no longer returns it (tests/sources/test_contract.py)."""
        self.fake.delete(native_id)


def make_harness() -> MastodonHarness:
    return MastodonHarness()
