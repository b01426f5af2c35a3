"""`sources.bluesky`: the Bluesky source's settings. Pydantic only, so validating the config never imports atproto."""

from __future__ import annotations

from pydantic import Field

from monitor.sources.retries import RetrySettings

HANDLE_ENV = "EARSHOT_BLUESKY_HANDLE"
PASSWORD_ENV = "EARSHOT_BLUESKY_APP_PASSWORD"


class BlueskySettings(RetrySettings):
    """Search Bluesky for every brand query. Log-in credentials come from the environment."""

    credentials_env: list[str] = Field(default_factory=lambda: [HANDLE_ENV, PASSWORD_ENV])
    # Each run logs in once, and Bluesky allows 300 logins a day per account: poll every 10 minutes.
    poll_seconds: int = Field(600, ge=60)
    base_url: str = "https://bsky.social"  # the account's PDS (or an entryway); a fake for tests
    lang: str | None = None  # only posts in this language, e.g. "en"
    page_size: int = Field(100, ge=1, le=100)
    pages_per_fetch: int = Field(5, ge=1)  # per query and fetch; more waits for the next fetch
    backfill_pages: int = Field(5, ge=1)  # how far back the very first fetch of a query reads
    overlap_minutes: float = Field(10, ge=0)  # re-read window for posts indexed late
