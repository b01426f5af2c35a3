"""`sources.googleplay`: the apps whose Google Play reviews to follow. Pydantic only, so validating the
config never imports google-play-scraper (which, imported, turns off TLS verification process-wide)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from monitor.sources.retries import RetrySettings

PLAY_HOST = "play.google.com"


class PlayApp(BaseModel):
    """One app to follow, and the brand its reviews belong to."""

    model_config = ConfigDict(extra="forbid")

    app_id: str = Field(min_length=1)  # the package name, e.g. com.acme.app
    brand: str = Field(min_length=1)
    countries: list[str] = Field(default_factory=lambda: ["us"], min_length=1)
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)


class GooglePlaySettings(RetrySettings):
    """Reviews of the listed apps; Google Play needs no credential."""

    apps: list[PlayApp] = Field(default_factory=list)
    base_url: str = f"https://{PLAY_HOST}"  # a proxy or a local fake instead of Google
    page_size: int = Field(100, ge=1, le=4500)
    pages_per_fetch: int = Field(5, ge=1)  # per stream and fetch; more waits for the next fetch
    backfill_pages: int = Field(10, ge=1)  # how far back the very first fetch of a stream reads
    refresh_pages: int = Field(2, ge=1)  # newest pages re-read to update helpful counts
