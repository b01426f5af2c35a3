"""Contract harness for the JSON Lines channel: a file in the test's directory; a directory in its place fails it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.channels.harness import LocalHarness


class JsonlHarness(LocalHarness):
    name = "jsonl"
    can_fail = True

    def start(self, tmp_path: Path) -> None:
        self.path = tmp_path / "out" / "alerts.jsonl"

    def settings(self) -> dict[str, Any]:
        return {"type": "jsonl", "path": str(self.path)}

    def received(self) -> list[str]:
        return self.path.read_text(encoding="utf-8").splitlines() if self.path.is_file() else []

    def go_down(self) -> None:
        self.path.mkdir(parents=True)  # a directory where the file belongs: every append fails

    def recover(self) -> None:
        self.path.rmdir()


def make_harness() -> JsonlHarness:
    return JsonlHarness()
