"""Contract harness for the App Store source: the real httpx client against a loopback feed fake.

The feed needs no credential (`secret` is empty). Reviews are not matched by text: every
review of the configured app is a mention of the app's brand (`matches_text = False`).
The fake puts the app's own entry first on page 1, as Apple's feed sometimes does.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from monitor.sources.appstore.source import AppStoreSettings, AppStoreSource
from tests.sources.fakes.appstore_api import FakeAppStore, Review
from tests.sources.harness import BRAND
from tests.sources.sleeps import CappedSleeps

APP_ID = "123456789"


class AppStoreHarness:
    name = "appstore"
    page_size = 5
    secret = ""  # the feed takes no credential
    matches_text = False  # the brand comes from the app's configuration, not from the text
    network_failures = True
    engagement = "refresh"

    def __init__(self) -> None:
        self.fake = FakeAppStore(page_size=self.page_size)
        self.sleeps = CappedSleeps()  # every wait the source asked for, in order

    def start(self, tmp_path: Path) -> None:
        self.fake.start()

    def stop(self) -> None:
        self.fake.stop()

    def settings(self) -> AppStoreSettings:
        return AppStoreSettings(apps=[{"app_id": APP_ID, "brand": BRAND.name}], base_url=self.fake.url,
                                backoff_seconds=0.01, retries=3, max_rate_limit_wait_seconds=5)

    def source(self) -> AppStoreSource:
        return AppStoreSource(self.settings(), sleep=self.sleeps)

    def publish(self, native_id: str, text: str, created_at: datetime, likes: int = 0, *,
                author_missing: bool = False) -> None:
        self.fake.publish(APP_ID, Review(native_id, text, created_at, rating=2, title="Support", votes=likes,
                                         author=None if author_missing else f"user{native_id}"))

    def set_likes(self, native_id: str, likes: int) -> None:
        self.fake.set_votes(native_id, likes)

    def fail_next(self, status: int, times: int = 1) -> None:
        self.fake.fail_next(status, times)

    def break_next_payload(self) -> None:
        self.fake.break_next_payload()


def make_harness() -> AppStoreHarness:
    return AppStoreHarness()
