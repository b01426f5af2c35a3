"""Template of `monitor/sources/<name>/settings.py`: the source's settings, pydantic only."""

TEMPLATE = r'''"""`sources.${name}`: the ${title} source's settings.

Pydantic only (no HTTP client, no SDK): Earshot validates the config, and Airflow parses
the DAG files, with this module every few seconds; the client lives in source.py. The
retry options (timeout_seconds, retries, backoff_seconds, max_rate_limit_wait_seconds) are
the ones every source shares, from `RetrySettings`.
"""

from __future__ import annotations

from pydantic import Field

from monitor.sources.retries import RetrySettings

NAME = "${name}"
TOKEN_ENV = "${token_env}"  # where the credential lives; never in earshot.yaml


class ${cls}Settings(RetrySettings):
    """`sources.${name}` in earshot.yaml. TODO(new-source): add the platform's own options."""

    base_url: str = "https://api.example.com/v1"  # TODO(new-source): the platform's API root
    credentials_env: list[str] = Field(default_factory=lambda: [TOKEN_ENV])
    page_size: int = Field(100, ge=1, le=100)  # TODO(new-source): the platform's largest page
    pages_per_fetch: int = Field(5, ge=1)  # per query and fetch; a longer backlog is read by the next fetch
    backfill_pages: int = Field(5, ge=1)  # how far back the very first fetch of a query reads
'''
