"""Contract harness for the Google Play source: the real google-play-scraper against a loopback fake.

The source's urllib handler sends the library's play.google.com requests to the fake, so
everything between the library and the wire is the production path. Google Play needs no
credential (`secret` is empty). Reviews are not matched by text: every review of the
configured app is a mention of the app's brand (`matches_text = False`).
"""

from __future__ import annotations

from datetime import datetime

from monitor.sources.googleplay.source import GooglePlaySettings, GooglePlaySource
from tests.sources.fakes.googleplay_api import FakeGooglePlay, Review
from tests.sources.harness import BRAND, FAST_RETRIES, FakeHarness

APP_ID = "com.acme.app"


class GooglePlayHarness(FakeHarness):
    name = "googleplay"
    page_size = 5
    secret = ""  # Google Play takes no credential
    matches_text = False  # the brand comes from the app's configuration, not from the text

    def __init__(self) -> None:
        super().__init__(FakeGooglePlay(page_size=self.page_size))

    def settings(self) -> GooglePlaySettings:
        return GooglePlaySettings(
            apps=[{"app_id": APP_ID, "brand": BRAND.name}], base_url=self.fake.url, page_size=self.page_size,
            **FAST_RETRIES,
        )

    def source(self) -> GooglePlaySource:
        return GooglePlaySource(self.settings(), sleep=self.sleeps)

    def publish(self, native_id: str, text: str, created_at: datetime, likes: int = 0, *,
                author_missing: bool = False) -> None:
        self.fake.publish(APP_ID, Review(native_id, text, created_at, score=2, helpful=likes,
                                         user=None if author_missing else f"user{native_id}"))

    def set_likes(self, native_id: str, likes: int) -> None:
        self.fake.set_helpful(native_id, likes)


def make_harness() -> GooglePlayHarness:
    return GooglePlayHarness()
