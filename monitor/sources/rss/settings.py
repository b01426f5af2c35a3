"""`sources.rss`: the feeds to poll and how patiently. Pydantic only, so validating the config never imports feedparser."""

from __future__ import annotations

import os
from typing import Annotated

from typing import Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from monitor.sources.retries import RetrySettings

NAME = "rss"


class FeedSettings(BaseModel):
    """One feed. A plain URL string in the config is shorthand for `{url: ...}`."""

    model_config = ConfigDict(extra="forbid")

    url: str
    brand: str | None = None  # only match this brand (a brand's own status page or alert feed)
    token_env: str | None = None  # environment variable holding a bearer token, for private feeds

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url


def _url_shorthand(value: object) -> object:
    return {"url": value} if isinstance(value, str) else value


# The retry options before every source shared `RetrySettings`' names.
RENAMED = {"max_attempts": "retries", "max_wait_seconds": "max_rate_limit_wait_seconds"}


class RSSSettings(RetrySettings):
    """`sources.rss` in earshot.yaml: the feeds to poll and how patiently (the retry options every source has)."""

    feeds: list[Annotated[FeedSettings, BeforeValidator(_url_shorthand)]] = Field(min_length=1)
    timeout_seconds: float = Field(20, gt=0)
    max_rate_limit_wait_seconds: float = Field(120, ge=0)  # longest Retry-After honoured inside one run
    max_pages: int = Field(10, ge=1)  # of a paged feed, per run
    retention_days: int = Field(30, ge=1)  # entries older than this are not news any more

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict):
            old = sorted(k for k in RENAMED if k in data)
            if old:
                raise ValueError("; ".join(f"{k}: renamed to {RENAMED[k]} (the name every source uses)" for k in old))
        return data

    def missing_credentials(self) -> list[str]:
        """Also the feeds' token variables, unless an Airflow connection may hold them."""
        missing = super().missing_credentials()
        if self.airflow_conn_id is None:
            missing += [f.token_env for f in self.feeds if f.token_env and not os.environ.get(f.token_env)]
        return sorted(set(missing))
