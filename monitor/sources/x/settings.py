"""`sources.x`: the X source's settings. Pydantic only, so validating the config never imports tweepy."""

from __future__ import annotations

from pydantic import Field, field_validator

from monitor.config import SourceSettings

TWEEPY_HOST = "https://api.twitter.com"  # the host tweepy.Client hard-codes
RECENT_SEARCH_DAYS = 7  # recent search only reaches this far back


class XSettings(SourceSettings):
    """X API v2 recent search with an app-only bearer token."""

    poll_seconds: int = Field(120, ge=10)
    credentials_env: list[str] = Field(default_factory=lambda: ["EARSHOT_X_BEARER_TOKEN"], min_length=1)
    # Another base URL sends tweepy's requests to a proxy or a local fake X.
    api_base_url: str = TWEEPY_HOST
    max_results: int = Field(100, ge=10, le=100)  # posts per page, as X allows
    max_pages: int = Field(10, ge=1, le=100)  # pages per query per fetch; the rest comes next fetch
    languages: list[str] = Field(default_factory=list)  # e.g. ["en", "es"]; empty: any language
    lookback_minutes: int = Field(60, ge=1, le=RECENT_SEARCH_DAYS * 24 * 60 - 5)  # first run only
    max_query_length: int = Field(512, ge=64, le=4096)  # 512 on Basic; Pro and Academic allow more
    max_rate_limit_wait_seconds: float = Field(60, ge=0)  # longer rate-limit waits end the fetch instead
    server_error_retries: int = Field(3, ge=0, le=10)
    retry_backoff_seconds: float = Field(2, ge=0)
    timeout_seconds: float = Field(30, gt=0)

    @field_validator("api_base_url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url.rstrip("/")

    @field_validator("languages")
    @classmethod
    def _codes(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if not code.replace("-", "").isalpha() or not 2 <= len(code) <= 8:
                raise ValueError(f"{code!r} is not a language code such as 'en'")
        return codes
