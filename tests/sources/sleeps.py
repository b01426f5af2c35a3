"""Sleeps to inject into sources, so tests see every wait a source asks for without waiting it out.

Sources take `sleep` as a constructor argument for exactly this: backoff and rate-limit
waits are behaviour worth asserting on, and real waits would make the suite slow.
"""

from __future__ import annotations

import time


class Sleeps(list[float]):
    """Records each wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class CappedSleeps(Sleeps):
    """Records each wait and honours it, capped, so a fake's ~1 s rate-limit reset really passes."""

    def __init__(self, cap: float = 1.5) -> None:
        super().__init__()
        self.cap = cap

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        time.sleep(min(seconds, self.cap))
