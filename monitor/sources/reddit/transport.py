"""All of praw's HTTP, through prawcore's documented `requestor_class` hook: paced under
`requests_per_minute`, 429s waited out up to a cap, 5xx and network errors retried with
backoff, then a `SourceError` instead of prawcore's own retry sleeps."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import prawcore
import requests

from monitor.sources.base import SourceError
from monitor.sources.reddit.settings import RedditSettings
from monitor.sources.retries import RateLimitWaits, Transient, retrying

log = logging.getLogger("monitor.sources.reddit.source")

RETRY_STATUSES = frozenset({500, 502, 503, 504, 520, 522})


class RateLimiter:
    """At most `per_minute` requests in any 60 seconds, so the OAuth client never earns a 429."""

    def __init__(self, per_minute: int, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()

    def acquire(self) -> None:
        while True:
            now = self._clock()
            while self._sent and now - self._sent[0] >= 60:
                self._sent.popleft()
            if len(self._sent) < self.per_minute:
                self._sent.append(now)
                return
            self._sleep(60 - (now - self._sent[0]))


class PacedTransport(prawcore.Requestor):
    """Every HTTP request praw makes (token included): paced, retried, given up on cleanly."""

    def __init__(self, *args: Any, settings: RedditSettings, limiter: RateLimiter,
                 sleep: Callable[[float], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.limiter = limiter
        self.sleep = sleep

    def _send(self, *args: Any, **kwargs: Any) -> requests.Response:
        self.limiter.acquire()
        try:
            response = super().request(*args, **kwargs)
        except prawcore.RequestException as exc:
            raise Transient(f"unreachable ({type(exc.original_exception).__name__})") from None
        if response.status_code in RETRY_STATUSES:
            raise Transient(f"unavailable (HTTP {response.status_code})")
        return response

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        attempts = self.settings.server_error_retries + 1
        retry = retrying(
            attempts=attempts, backoff_seconds=self.settings.retry_backoff_seconds, sleep=self.sleep,
            before_sleep=lambda state: log.warning("Reddit API %s (attempt %d), retrying",
                                                   state.outcome.exception(), state.attempt_number),
        )
        rate_limits = RateLimitWaits(self.settings.max_rate_limit_wait_seconds, self.sleep, log,
                                     "Reddit rate limit reached")
        while True:
            try:
                response = retry(lambda: self._send(*args, **kwargs))
            except Transient as exc:
                raise SourceError(
                    f"sources.reddit: Reddit API {exc} after {attempts} attempts; Airflow will retry the task"
                ) from None
            if response.status_code != 429 or not rate_limits.wait(_reset_seconds(response)):
                return response  # a 429 not waited out: prawcore raises TooManyRequests, which the source reports


def _reset_seconds(response: requests.Response) -> float | None:
    for header in ("retry-after", "x-ratelimit-reset"):
        try:
            return float(response.headers[header]) + 0.2
        except (KeyError, ValueError):
            continue
    return None
