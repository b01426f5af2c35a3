"""Contract harness for the console channel: what it prints to standard output, alert by alert."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from tests.channels.harness import LocalHarness


class ConsoleHarness(LocalHarness):
    name = "console"
    can_fail = False  # the terminal has no outage to simulate

    def start(self, tmp_path: Path) -> None:
        self.stdout = io.StringIO()  # the suite points standard output here while it delivers

    def settings(self) -> dict[str, Any]:
        return {"type": "console"}

    def received(self) -> list[str]:
        alerts: list[str] = []
        for line in self.stdout.getvalue().splitlines():
            if line.startswith("ALERT "):
                alerts.append(line)
            elif alerts:
                alerts[-1] += "\n" + line
        return alerts

    def go_down(self) -> None:
        raise NotImplementedError

    def recover(self) -> None:
        raise NotImplementedError


def make_harness() -> ConsoleHarness:
    return ConsoleHarness()
