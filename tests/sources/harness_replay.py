"""Contract harness for the replay source: the "platform" is a JSONL recording on disk.

A recording has no server, so there is nothing to rate-limit or take down: the harness
declares `network_failures = False` and the contract skips those cases rather than
pretending. Engagement arrives as recorded snapshot events that later fetches read
(`engagement = "fetch"`), and a broken payload is a malformed line, which the replay
reports as a Problem with file and line number.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from monitor.sources.replay import ReplaySource


class ReplayHarness:
    name = "replay"
    page_size = 5  # the source's batch_size: lines per fetch
    secret = ""  # a recording needs no credential
    network_failures = False
    engagement = "fetch"

    def __init__(self) -> None:
        self.path: Path | None = None

    def start(self, tmp_path: Path) -> None:
        self.path = tmp_path / "recording.jsonl"
        self.path.write_text("", encoding="utf-8")

    def stop(self) -> None:
        pass

    def source(self) -> ReplaySource:
        assert self.path is not None, "start() first"
        return ReplaySource(self.path, batch_size=self.page_size)

    def _append(self, line: str) -> None:
        assert self.path is not None, "start() first"
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def publish(self, native_id: str, text: str, created_at: datetime, likes: int = 0, *,
                author_missing: bool = False) -> None:
        # A recorder stores what the live source produced; for a deleted author that is a placeholder handle.
        author = {"handle": "[deleted]", "followers": 0} if author_missing else {"handle": f"user{native_id}", "followers": 10}
        self._append(json.dumps({
            "type": "post", "at": created_at.isoformat(), "source": self.name, "native_id": native_id,
            "url": f"https://replay.example/posts/{native_id}", "author": author, "text": text,
            "lang": "en", "engagement": {"likes": likes},
        }))

    def set_likes(self, native_id: str, likes: int) -> None:
        self._append(json.dumps({
            "type": "snapshot", "at": datetime.now(UTC).isoformat(), "source": self.name,
            "native_id": native_id, "engagement": {"likes": likes},
        }))

    def fail_next(self, status: int, times: int = 1) -> None:
        raise NotImplementedError("a recording makes no requests (network_failures = False)")

    def break_next_payload(self) -> None:
        self._append('{"type": "post", "at": "2026-01-01T10:00:00Z", "source": "replay", "native_id": ')


def make_harness() -> ReplayHarness:
    return ReplayHarness()
