"""Template of `tests/sources/harness_<name>.py`: registers the source with the contract suite."""

TEMPLATE = r'''"""Contract harness for the ${title} source: the real source against the fake API on loopback.

tests/sources/test_contract.py finds this module by its name and runs every contract case
through `make_harness()`. TODO(new-source): when the wire format changes, keep `publish`,
`set_likes`, `fail_next` and `break_next_payload` meaning what tests/sources/harness.py
documents; if the platform has no engagement counts set `engagement = "none"`.
"""

from __future__ import annotations

from datetime import datetime

from monitor.sources.${name}.settings import ${cls}Settings
from monitor.sources.${name}.source import ${cls}Source
from tests.sources.fakes.${name}_api import Fake${cls}API, FakePost
from tests.sources.harness import FAST_RETRIES, FakeHarness


class ${cls}Harness(FakeHarness):
    """Starting, stopping and failure injection go to the fake (`FakeHarness`); `sleeps` records the waits."""

    name = "${name}"
    page_size = 5
    secret = "${name}-contract-secret-9f3c1e"  # the token the source is given; never in logs or errors

    def __init__(self) -> None:
        super().__init__(Fake${cls}API(token=self.secret, page_size=self.page_size, rate_limit_reset_s=0.5))

    def settings(self) -> ${cls}Settings:
        return ${cls}Settings(base_url=f"{self.fake.url}/v1", page_size=self.page_size, **FAST_RETRIES)

    def source(self) -> ${cls}Source:
        return ${cls}Source(self.settings(), self.secret, sleep=self.sleeps)

    def publish(self, native_id: str, text: str, created_at: datetime, likes: int = 0, *,
                author_missing: bool = False) -> None:
        author = None if author_missing else f"user{native_id}"
        self.fake.publish(FakePost(id=native_id, text=text, created_at=created_at, likes=likes, author=author))

    def set_likes(self, native_id: str, likes: int) -> None:
        self.fake.set_likes(native_id, likes)


def make_harness() -> ${cls}Harness:
    return ${cls}Harness()
'''
