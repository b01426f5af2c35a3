"""`sources.appstore`: the apps whose App Store reviews to follow. Pydantic only."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from monitor.sources.retries import RetrySettings

APPLE_MAX_PAGES = 10  # the feed serves no more than this


class StoreApp(BaseModel):
    """One app to follow, and the brand its reviews belong to."""

    model_config = ConfigDict(extra="forbid")

    app_id: str = Field(min_length=1, pattern=r"^\d+$")  # the numeric id in the app's store URL
    brand: str = Field(min_length=1)
    countries: list[str] = Field(default_factory=lambda: ["us"], min_length=1)


class AppStoreSettings(RetrySettings):
    """Reviews of the listed apps; the feed needs no credential."""

    apps: list[StoreApp] = Field(default_factory=list)
    base_url: str = "https://itunes.apple.com"  # a proxy or a local fake instead of Apple
    pages_per_fetch: int = Field(5, ge=1, le=APPLE_MAX_PAGES)  # per stream and fetch
    refresh_pages: int = Field(2, ge=1, le=APPLE_MAX_PAGES)  # newest pages re-read for vote counts
