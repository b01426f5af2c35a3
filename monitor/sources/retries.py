"""How sources retry a platform: exponential backoff for outages, the platform's own reset for rate limits.

Why one module: every platform sometimes fails for a moment (a 5xx, a dropped connection)
or asks to be left alone for a while (a 429 and when it resets), and the answer is the same
for all of them and easy to get subtly wrong. Retry a bounded number of times, doubling the
wait from `backoff_seconds` but never past a cap, so a lasting outage fails the run (and
Airflow retries it) instead of stalling it; and when the platform says when to come back,
wait that long instead, but never longer than the source is configured to. What differs per
platform stays in its source: which failures are transient, how a reset is announced, and
the wording of the messages.

Not here: pacing requests before they are refused (Reddit's `RateLimiter`), and what a
source does once it gives up (fail the run, skip one feed, store what it has so far): that is
each source's own call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import Field

from monitor.config import SourceSettings
from monitor.sources.base import SourceError

if TYPE_CHECKING:
    from tenacity import RetryCallState, Retrying

BACKOFF_CAP_SECONDS = 60.0  # the longest wait between two attempts at a failing platform

T = TypeVar("T")
Sleep = Callable[[float], None]


class Transient(Exception):
    """A failure worth another attempt: an outage, a dropped connection or a rate limit.

    `reason` completes a sentence about the platform ("is failing (HTTP 503)"), so messages
    and logs can name the platform first. `wait` is the platform's own word on when to come
    back (a rate limit's reset, in seconds), None to use the backoff.
    """

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date), None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, as RFC 5322 reads it
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def retrying(
    *,
    attempts: int,
    backoff_seconds: float,
    sleep: Sleep,
    before_sleep: Callable[[RetryCallState], None],
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = Transient,
    max_wait_seconds: float | None = None,
    max_backoff_seconds: float = BACKOFF_CAP_SECONDS,
    at_once: tuple[type[BaseException], ...] = (),
) -> Retrying:
    """A tenacity `Retrying` making at most `attempts` attempts while `retry_on` is raised.

    Between attempts it waits `backoff_seconds`, doubling each time up to
    `max_backoff_seconds`; a `Transient` that carries its own `wait` waits that instead,
    capped at `max_wait_seconds`. `at_once` failures (an expired session: log in again) are
    retried without waiting. The last failure is re-raised as it is, for the caller to word.
    """
    # Imported here: this module also holds `RetrySettings`, which the config validates with.
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Transient) and exc.wait is not None:
            return exc.wait if max_wait_seconds is None else min(exc.wait, max_wait_seconds)
        if at_once and isinstance(exc, at_once):
            return 0.0
        return min(backoff_seconds * 2 ** (state.attempt_number - 1), max_backoff_seconds)

    return Retrying(stop=stop_after_attempt(attempts), wait=wait, sleep=sleep, reraise=True,
                    retry=retry_if_exception_type((*_types(retry_on), *at_once)), before_sleep=before_sleep)


def _types(retry_on: type[BaseException] | tuple[type[BaseException], ...]) -> tuple[type[BaseException], ...]:
    return retry_on if isinstance(retry_on, tuple) else (retry_on,)


class RetrySettings(SourceSettings):
    """The retry options of a source whose calls go through `RetryPolicy`."""

    timeout_seconds: float = Field(30, gt=0)
    retries: int = Field(4, ge=1)  # attempts per request for outages and rate limits
    backoff_seconds: float = Field(2.0, ge=0)
    max_rate_limit_wait_seconds: float = Field(900, ge=0)


@dataclass(frozen=True)
class RetryPolicy:
    """A source's `RetrySettings` applied to its calls, with messages that name the platform.

    `call` retries on `Transient`, logging "<source>: <platform> <reason>; retrying in N s",
    and when the attempts are used up raises `SourceError` ("sources.<source>: <platform>
    <reason>; gave up after N attempts"), so the run fails and is retried as a whole.
    """

    settings: RetrySettings
    source: str  # the plugin name, e.g. "appstore"
    platform: str  # how messages name the other side, e.g. "the App Store feed"
    sleep: Sleep
    log: logging.Logger
    at_once: tuple[type[BaseException], ...] = ()  # also retried, without waiting (give it a `reason`)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        retry = retrying(attempts=self.settings.retries, backoff_seconds=self.settings.backoff_seconds,
                         max_wait_seconds=self.settings.max_rate_limit_wait_seconds, sleep=self.sleep,
                         at_once=self.at_once, before_sleep=self._log_retry)
        try:
            return retry(fn, *args)
        except Transient as exc:
            raise SourceError(
                f"sources.{self.source}: {self.platform} {exc.reason}; gave up after {self.settings.retries} attempts"
            ) from None

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        self.log.warning("%s: %s %s; retrying in %.1f s", self.source, self.platform, getattr(exc, "reason", exc),
                         state.next_action.sleep if state.next_action else 0)


class RateLimitWaits:
    """Waits out rate limits until they reset, up to `budget` seconds in all for one call.

    For sources that count a 429 apart from their retries: each wait is the platform's own
    reset, and a reset that is unknown or would take the call past its budget is not waited
    for, so the caller ends the fetch (or lets the client library report the 429) instead.
    """

    def __init__(self, budget: float, sleep: Sleep, log: logging.Logger, label: str) -> None:
        self.budget = budget
        self.waited = 0.0
        self._sleep = sleep
        self._log = log
        self._label = label  # completes "<label>; waiting N s for it to reset"

    def wait(self, seconds: float | None) -> bool:
        """Sleep `seconds` and return True, or return False when they are unknown or over budget."""
        if seconds is None or self.waited + seconds > self.budget:
            return False
        self._log.warning("%s; waiting %.1f s for it to reset", self._label, seconds)
        self._sleep(seconds)
        self.waited += seconds
        return True
