"""What the shared source contract suite needs from each source's test setup.

Every source module in `monitor/sources/` has a `tests/sources/harness_<name>.py` that
exposes `make_harness() -> SourceHarness`. The harness runs a real HTTP server on
loopback speaking that platform's wire format (JSON shaped as in the platform's API
reference) and builds the real source, with the real client library, pointed at it.
`tests/sources/test_contract.py` runs the same behaviour checks against every harness.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from monitor import pipeline
from monitor.config import BrandConfig, parse_config
from monitor.sources import Source
from monitor.store import Store
from tests.sources.sleeps import CappedSleeps

BRAND = BrandConfig(name="Acme", queries=["acme"], exclude=["hiring"])


class SourceHarness(Protocol):
    name: str  # the entry-point name of the source under test
    page_size: int  # how many posts the fake returns per page, so tests can force pagination
    secret: str  # the credential value the source was given; must never appear in logs or errors

    def start(self, tmp_path: Path) -> None:
        """Start the fake platform server (and anything else the source needs)."""

    def stop(self) -> None: ...

    def source(self) -> Source:
        """A fresh source instance configured (credentials included) against the fake server."""

    def publish(self, native_id: str, text: str, created_at: datetime, likes: int = 0, *,
                author_missing: bool = False) -> None:
        """Make a post visible to the source's search. `author_missing`: a deleted/suspended author."""

    def set_likes(self, native_id: str, likes: int) -> None:
        """Change a published post's engagement (likes/favourites/score/helpful: the platform's main count)."""

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next `times` requests with this HTTP status (429 with a reset ~1 s ahead)."""

    def break_next_payload(self) -> None:
        """Answer the next request 200 with a body that is not what the platform documents."""


# Retry settings (`RetrySettings`) that keep the contract fast: waits of hundredths of a second,
# three attempts, and a fake's ~1 s rate-limit reset honoured.
FAST_RETRIES: dict[str, Any] = {"backoff_seconds": 0.01, "retries": 3, "max_rate_limit_wait_seconds": 5}


class FakeHarness:
    """A harness whose platform is one fake server of tests/sources/fakes/ (a `FakeAPI`).

    Starting, stopping and failure injection go to the fake; `sleeps` records every wait the
    source asks for (and honours it, capped), for sources built with `sleep=self.sleeps`.
    A subclass says how to build the source and how to publish a post on its fake.
    """

    network_failures = True
    engagement = "refresh"

    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.sleeps = CappedSleeps()  # every wait the source asked for, in order

    def start(self, tmp_path: Path) -> None:
        self.fake.start()

    def stop(self) -> None:
        self.fake.stop()

    def fail_next(self, status: int, times: int = 1) -> None:
        self.fake.fail_next(status, times)

    def break_next_payload(self) -> None:
        self.fake.break_next_payload()


def ingest(source: Source, store: Store) -> pipeline.IngestStats:
    """One `pipeline.ingest` run of `source` into `store`, the contract's brand configured: what a platform test runs."""
    return pipeline.ingest(parse_config({"brands": [BRAND.model_dump()]}, source="tests"), store, source.name,
                           source=source)


def stored_cursor(store: Store, source: str) -> str | None:
    """The cursor `pipeline.ingest` stored for `source`."""
    return store.get_cursor(pipeline.cursor_key(source))
