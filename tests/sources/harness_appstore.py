"""Contract harness for the App Store source: the real httpx client against a loopback feed fake.

The feed needs no credential (`secret` is empty). Reviews are not matched by text: every
review of the configured app is a mention of the app's brand (`matches_text = False`).
The fake puts the app's own entry first on page 1, as Apple's feed sometimes does.
"""

from __future__ import annotations

from datetime import datetime

from monitor.sources.appstore.source import AppStoreSettings, AppStoreSource
from tests.sources.fakes.appstore_api import FakeAppStore, Review
from tests.sources.harness import BRAND, FAST_RETRIES, FakeHarness

APP_ID = "123456789"


class AppStoreHarness(FakeHarness):
    name = "appstore"
    page_size = 5
    secret = ""  # the feed takes no credential
    matches_text = False  # the brand comes from the app's configuration, not from the text

    def __init__(self) -> None:
        super().__init__(FakeAppStore(page_size=self.page_size))

    def settings(self) -> AppStoreSettings:
        return AppStoreSettings(apps=[{"app_id": APP_ID, "brand": BRAND.name}], base_url=self.fake.url,
                                **FAST_RETRIES)

    def source(self) -> AppStoreSource:
        return AppStoreSource(self.settings(), sleep=self.sleeps)

    def publish(self, native_id: str, text: str, created_at: datetime, likes: int = 0, *,
                author_missing: bool = False) -> None:
        self.fake.publish(APP_ID, Review(native_id, text, created_at, rating=2, title="Support", votes=likes,
                                         author=None if author_missing else f"user{native_id}"))

    def set_likes(self, native_id: str, likes: int) -> None:
        self.fake.set_votes(native_id, likes)


def make_harness() -> AppStoreHarness:
    return AppStoreHarness()
