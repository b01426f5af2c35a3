"""`sources.mastodon`: the Mastodon source's settings. Pydantic only, so validating the config never imports Mastodon.py."""

from __future__ import annotations

from pydantic import Field, field_validator

from monitor.sources.retries import RetrySettings

TOKEN_ENV = "EARSHOT_MASTODON_ACCESS_TOKEN"


class MastodonSettings(RetrySettings):
    """One Mastodon instance: hashtag timelines plus status search for every brand query."""

    credentials_env: list[str] = Field(default_factory=lambda: [TOKEN_ENV])
    api_base_url: str = "https://mastodon.social"  # the instance the token belongs to; a fake for tests
    hashtags: list[str] = Field(default_factory=list)  # followed tags, without '#'
    search: bool = True  # also run search_v2 for every brand query
    page_size: int = Field(40, ge=1, le=40)
    pages_per_fetch: int = Field(5, ge=1)  # per timeline/query and fetch; more waits for the next fetch
    backfill_pages: int = Field(5, ge=1)  # how far back the very first fetch of a timeline reads

    @field_validator("hashtags")
    @classmethod
    def _bare(cls, tags: list[str]) -> list[str]:
        return [tag.lstrip("#") for tag in tags if tag.lstrip("#")]
