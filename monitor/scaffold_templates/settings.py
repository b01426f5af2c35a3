"""Template of `monitor/sources/<name>/settings.py`: the source's settings, pydantic only."""

TEMPLATE = r'''"""`sources.${name}`: the ${title} source's settings.

Pydantic only (no HTTP client, no SDK): Earshot validates the config, and Airflow parses
the DAG files, with this module every few seconds; the client lives in source.py.
"""

from __future__ import annotations

from pydantic import Field

from monitor.config import SourceSettings

NAME = "${name}"
TOKEN_ENV = "${token_env}"  # where the credential lives; never in earshot.yaml


class ${cls}Settings(SourceSettings):
    """`sources.${name}` in earshot.yaml. TODO(new-source): add the platform's own options."""

    base_url: str = "https://api.example.com/v1"  # TODO(new-source): the platform's API root
    credentials_env: list[str] = Field(default_factory=lambda: [TOKEN_ENV])
    page_size: int = Field(100, ge=1, le=100)
    max_pages: int = Field(10, ge=1)  # per query and run; more means a backlog, fetched next run
    timeout_seconds: float = Field(20, gt=0)
    max_attempts: int = Field(4, ge=1)
    backoff_seconds: float = Field(2.0, gt=0)  # first retry wait; doubles each attempt
    max_wait_seconds: float = Field(900, gt=0)  # longest rate-limit wait honoured inside one run
'''
