"""Per-channel routing: which alerts a channel wants, by brand, minimum severity and topic.

An alert a channel's route turns away is recorded as handled for that channel (see
`deliver`), so it is decided once instead of being re-read from the outbox every run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.models import Alert, AlertKind, Severity


@dataclass(frozen=True)
class Route:
    """Empty brand/topic sets mean "all"; matching is case-insensitive."""

    brands: frozenset[str] = frozenset()
    min_severity: Severity = Severity.info
    topics: frozenset[str] = frozenset()
    # Pipeline-health alerts (monitor/health) concern no brand or topic: they have their own
    # minimum severity, and None keeps them away from this channel.
    health: Severity | None = Severity.info

    @classmethod
    def of(
        cls, brands: Iterable[str] = (), min_severity: Severity | str = Severity.info, topics: Iterable[str] = (),
        health: Severity | str | None = Severity.info,
    ) -> Route:
        return cls(
            frozenset(b.casefold() for b in brands),
            Severity(min_severity),
            frozenset(t.casefold() for t in topics),
            None if health in (None, "off") else Severity(health),
        )

    def accepts(self, alert: Alert) -> bool:
        if alert.kind == AlertKind.health:
            return self.health is not None and alert.severity.rank >= self.health.rank
        if self.brands and alert.brand.casefold() not in self.brands:
            return False
        if alert.severity.rank < self.min_severity.rank:
            return False
        # A topic filter asks for alerts known to be about that topic; an alert without one
        # (not classified yet, or a storm across topics) does not qualify.
        return not self.topics or (alert.topic is not None and alert.topic.casefold() in self.topics)

    def describe(self) -> str:
        parts = []
        if self.brands:
            parts.append(f"brands {sorted(self.brands)}")
        if self.min_severity != Severity.info:
            parts.append(f">= {self.min_severity.value}")
        if self.topics:
            parts.append(f"topics {sorted(self.topics)}")
        if self.health is None:
            parts.append("no pipeline-health alerts")
        elif self.health != Severity.info:
            parts.append(f"pipeline health >= {self.health.value}")
        return ", ".join(parts) or "all alerts"


EVERYTHING = Route()
