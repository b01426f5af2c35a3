"""The health checks as pure functions: a history in, a `Finding` (or None) out.

Kept free of the store and the clock so each rule can be read, and tested, on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from statistics import median

from monitor.health.settings import HealthConfig
from monitor.models import Severity


class Check(StrEnum):
    source_failed = "source_failed"
    source_silent = "source_silent"
    error_rate = "error_rate"
    outbox_growing = "outbox_growing"
    task_failed = "task_failed"  # an Airflow task other than an ingest gave up (score, detect, notify)


SEVERITY = {
    Check.source_failed: Severity.critical,  # nothing arrives from that platform until someone acts
    Check.source_silent: Severity.warning,
    Check.error_rate: Severity.warning,
    Check.outbox_growing: Severity.warning,
    Check.task_failed: Severity.critical,
}


@dataclass(frozen=True)
class Finding:
    """Something wrong with one source or channel (`subject`), in words a care lead can act on."""

    check: Check
    subject: str
    reason: str

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.check]

    @property
    def key(self) -> str:
        return f"{self.check.value}:{self.subject}"


@dataclass(frozen=True)
class Run:
    """One ingest run of a source: when it ended and whether it failed (and why)."""

    at: datetime
    ok: bool
    error: str = ""


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def usual_gap(post_times: Sequence[datetime]) -> float | None:
    """The median time between consecutive posts, in seconds; None for fewer than two."""
    times = sorted(post_times)
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    return median(gaps) if gaps else None


def silence(source: str, post_times: Sequence[datetime], now: datetime, settings: HealthConfig,
            poll_seconds: int = 0) -> Finding | None:
    """Silent: no new post for `silence_factor` x the source's usual gap (never under the floors).

    The floors keep a busy source from being called silent between two polls
    (`poll_seconds`) or over a quiet lunch hour (`min_silence_minutes`). Without enough
    history the usual gap is unknown, and nothing is said.
    """
    if len(post_times) < settings.min_history_posts:
        return None
    gap = usual_gap(post_times)
    if gap is None:
        return None
    limit = max(settings.silence_factor * gap, settings.min_silence_minutes * 60, 2 * poll_seconds)
    quiet = (now - max(post_times)).total_seconds()
    if quiet < limit:
        return None
    return Finding(Check.source_silent, source,
                   f"source {source} has been silent for {_duration(quiet)}: no new post since "
                   f"{max(post_times):%Y-%m-%d %H:%M} UTC, while it usually brings one every {_duration(gap)} "
                   f"(alerting after {_duration(limit)}); check the platform, the query and the credentials")


def failing(source: str, runs: Sequence[Run], settings: HealthConfig) -> Finding | None:
    """Failing: the last `failures_in_a_row` runs all failed."""
    last = runs[-settings.failures_in_a_row:]
    if len(last) < settings.failures_in_a_row or any(r.ok for r in last):
        return None
    return failed(source, last[-1].error, len(last))


def failed(source: str, error: str, attempts: int = 1) -> Finding:
    """A source that failed for good: after its retries, or at once for what retrying cannot fix."""
    times = f" ({attempts} attempts in a row)" if attempts > 1 else ""
    return Finding(Check.source_failed, source, f"source {source} is failing{times}: {error}")


def task_failed(task: str, error: str, attempts: int = 1) -> Finding:
    times = f" after {attempts} attempts" if attempts > 1 else ""
    return Finding(Check.task_failed, task, f"Airflow task {task} failed{times}: {error}")


def error_rate(source: str, runs: Sequence[Run], settings: HealthConfig) -> Finding | None:
    """Climbing: many recent runs failed, a larger share than before them."""
    recent = runs[-settings.error_window:]
    if len(recent) < settings.error_window:
        return None
    errors = sum(not r.ok for r in recent)
    share = errors / len(recent)
    earlier = runs[: -settings.error_window]
    before = sum(not r.ok for r in earlier) / len(earlier) if earlier else 0.0
    if errors < settings.min_errors or share < settings.error_rate or share <= before:
        return None
    last_error = next((r.error for r in reversed(recent) if not r.ok), "")
    was = f"{before:.0%} before" if earlier else "none before"
    return Finding(Check.error_rate, source,
                   f"source {source}: {errors} of its last {len(recent)} runs failed ({share:.0%}, {was}); "
                   f"last error: {last_error}")


def outbox(channel: str, sizes: Sequence[int], settings: HealthConfig) -> Finding | None:
    """Growing: at least `outbox_min` undelivered alerts, and more at each of the last checks."""
    last = list(sizes[-settings.outbox_checks:])
    if len(last) < settings.outbox_checks or last[-1] < settings.outbox_min:
        return None
    if any(b <= a for a, b in zip(last, last[1:], strict=False)):
        return None
    return Finding(Check.outbox_growing, channel,
                   f"alert channel {channel} is not delivering: {last[-1]} alert(s) wait in its outbox, "
                   f"growing over the last {len(last)} checks ({' -> '.join(map(str, last))}); check the channel's "
                   "destination and credentials")

