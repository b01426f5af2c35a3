"""Contract harness for the Bluesky source: the real atproto SDK against a loopback XRPC fake.

Each source instance logs in (createSession) on its first call, as each Airflow task run
does, so the first request a fresh source makes is the login: `fail_next` and
`break_next_payload` land on it then. A post's native id is its record key; the fake
files it under one of a few authors' DIDs.
"""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.sources.bluesky.source import BlueskySettings, BlueskySource
from tests.sources.fakes.bluesky_api import Author, FakeBluesky, Post
from tests.sources.harness import FAST_RETRIES, FakeHarness

AUTHORS = [Author("did:plc:ana0000000000000000000000", "ana.bsky.social", "Ana"),
           Author("did:plc:ben0000000000000000000000", "ben.bsky.social", None)]
GONE = Author("did:plc:gone000000000000000000000", "handle.invalid")  # deactivated: the PDS no longer vouches


class BlueskyHarness(FakeHarness):
    name = "bluesky"
    page_size = 5
    secret = "s3cret-app-pass-x9z"  # the app password the source is given
    matches_text = True

    def __init__(self) -> None:
        super().__init__(FakeBluesky(handle="earshot.test", password=self.secret, page_size=self.page_size))

    def settings(self) -> BlueskySettings:
        return BlueskySettings(base_url=self.fake.url, page_size=self.page_size, **FAST_RETRIES)

    def source(self) -> BlueskySource:
        return BlueskySource(self.settings(), self.fake.handle, self.secret, sleep=self.sleeps)

    def publish(self, native_id: str, text: str, created_at: datetime, likes: int = 0, *,
                author_missing: bool = False) -> None:
        author = GONE if author_missing else AUTHORS[sum(map(ord, native_id)) % len(AUTHORS)]
        self.fake.publish(Post(native_id, author, text, created_at, datetime.now(UTC), likes=likes))

    def set_likes(self, native_id: str, likes: int) -> None:
        self.fake.find(native_id).likes = likes

    def remove(self, native_id: str) -> None:
        """Deleted by its author: the platform no longer returns it (tests/sources/test_contract.py)."""
        self.fake.delete(native_id)


def make_harness() -> BlueskyHarness:
    return BlueskyHarness()
