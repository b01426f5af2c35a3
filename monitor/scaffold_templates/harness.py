"""Template of `tests/sources/harness_<name>.py`: registers the source with the contract suite."""

TEMPLATE = r'''"""Contract harness for the ${title} source: the real source against the fake API on loopback.

tests/sources/test_contract.py finds this module by its name and runs every contract case
through `make_harness()`. TODO(new-source): when the wire format changes, keep `publish`,
`set_likes`, `fail_next` and `break_next_payload` meaning what tests/sources/harness.py
documents; if the platform has no engagement counts set `engagement = "none"`.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from monitor.sources import SourceContext
from monitor.sources.${name} import TOKEN_ENV, ${cls}Settings
from monitor.sources.${name}.source import ${cls}Source
from tests.sources.fakes.${name}_api import FakePost, Fake${cls}API


class ${cls}Harness:
    name = "${name}"
    page_size = 5
    secret = "${name}-contract-secret-9f3c1e"  # must never show up in logs or errors
    engagement = "refresh"

    def __init__(self) -> None:
        self.api = Fake${cls}API(token=self.secret, page_size=self.page_size, rate_limit_reset_s=0.5)
        self._saved_env: str | None = None

    def start(self, tmp_path: Path) -> None:
        self.api.start()
        # The source reads its token from the environment, as in production (credential()).
        self._saved_env = os.environ.get(TOKEN_ENV)
        os.environ[TOKEN_ENV] = self.secret

    def stop(self) -> None:
        self.api.stop()
        if self._saved_env is None:
            os.environ.pop(TOKEN_ENV, None)
        else:
            os.environ[TOKEN_ENV] = self._saved_env

    def source(self) -> ${cls}Source:
        settings = ${cls}Settings(
            base_url=f"{self.api.url}/v1", page_size=self.page_size,
            backoff_seconds=0.01, max_wait_seconds=5,  # waits short enough for tests
        )
        return ${cls}Source.from_settings(settings, SourceContext())

    def publish(self, native_id: str, text: str, created_at: datetime, likes: int = 0, *,
                author_missing: bool = False) -> None:
        author = None if author_missing else f"user{native_id}"
        self.api.publish(FakePost(id=native_id, text=text, created_at=created_at, likes=likes, author=author))

    def set_likes(self, native_id: str, likes: int) -> None:
        self.api.set_likes(native_id, likes)

    def fail_next(self, status: int, times: int = 1) -> None:
        self.api.fail_next(status, times)

    def break_next_payload(self) -> None:
        self.api.break_next_payload()


def make_harness() -> ${cls}Harness:
    return ${cls}Harness()
'''
