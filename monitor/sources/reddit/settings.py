"""`sources.reddit`: the Reddit source's settings. Pydantic only, so validating the config never imports praw."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from monitor.config import SourceSettings

_SUBREDDIT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_]{1,20}$")


class RedditSettings(SourceSettings):
    """Reddit search (and optionally new comments) with a read-only, app-only OAuth client."""

    poll_seconds: int = Field(180, ge=10)
    credentials_env: list[str] = Field(
        default_factory=lambda: ["EARSHOT_REDDIT_CLIENT_ID", "EARSHOT_REDDIT_CLIENT_SECRET"], min_length=2, max_length=2
    )
    # Reddit asks for "<platform>:<app id>:<version> (by /u/<username>)" and throttles generic ones.
    user_agent: str = Field("python:earshot:v0.1 (social listening, read-only)", min_length=10)
    subreddits: list[str] = Field(default_factory=list)  # empty: all of Reddit
    include_comments: bool = False  # new comments in `subreddits`; on all of Reddit that is a firehose
    limit: int = Field(100, ge=1, le=1000)  # items per listing per fetch; the rest comes next fetch
    lookback_minutes: int = Field(60, ge=1)  # first run only
    # praw's endpoint settings, for a proxy or a local fake Reddit.
    oauth_url: str = "https://oauth.reddit.com"
    reddit_url: str = "https://www.reddit.com"
    requests_per_minute: int = Field(60, ge=1, le=100)  # Reddit allows 100 per OAuth client
    max_rate_limit_wait_seconds: float = Field(60, ge=0)
    server_error_retries: int = Field(3, ge=0, le=10)
    retry_backoff_seconds: float = Field(2, ge=0)
    timeout_seconds: int = Field(16, ge=1)

    @field_validator("subreddits")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        cleaned = [n.removeprefix("r/").removeprefix("/r/") for n in names]
        for name in cleaned:
            if not _SUBREDDIT.match(name):
                raise ValueError(f"{name!r} is not a subreddit name")
        return cleaned

    @field_validator("oauth_url", "reddit_url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url.rstrip("/")
