"""`sources.rss`: the feeds to poll and how patiently. Pydantic only, so validating the config never imports feedparser."""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from monitor.config import SourceSettings

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


class RSSSettings(SourceSettings):
    """`sources.rss` in earshot.yaml: the feeds to poll and how patiently."""

    feeds: list[Annotated[FeedSettings, BeforeValidator(_url_shorthand)]] = Field(min_length=1)
    timeout_seconds: float = Field(20, gt=0)
    max_attempts: int = Field(4, ge=1)
    backoff_seconds: float = Field(2.0, gt=0)  # first retry wait; doubles each attempt
    max_wait_seconds: float = Field(120, gt=0)  # longest Retry-After honoured inside one run
    max_pages: int = Field(10, ge=1)  # of a paged feed, per run
    retention_days: int = Field(30, ge=1)  # entries older than this are not news any more

    def missing_credentials(self) -> list[str]:
        """Also the feeds' token variables, unless an Airflow connection may hold them."""
        missing = super().missing_credentials()
        if self.airflow_conn_id is None:
            missing += [f.token_env for f in self.feeds if f.token_env and not os.environ.get(f.token_env)]
        return sorted(set(missing))
