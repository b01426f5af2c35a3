"""The HTTP side of the X source: tweepy's client pointed at the configured host, with a timeout,
redacted logs, retries on server errors, rate limits waited out, and errors that name their cause."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
import tweepy
from requests.adapters import HTTPAdapter

from monitor.sources.base import SourceError
from monitor.sources.retries import RateLimitWaits, retrying
from monitor.sources.x.settings import TWEEPY_HOST, XSettings

log = logging.getLogger("monitor.sources.x.source")

T = TypeVar("T")


class _BaseURLAdapter(HTTPAdapter):
    """Sends tweepy's requests to `base_url` instead of the host it hard-codes, with a timeout.

    tweepy exposes its `requests.Session` as `client.session`; mounting an adapter there
    is the library's own transport hook. tweepy passes no timeout, so a stalled
    connection would otherwise hang the fetch forever.
    """

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self.base = urlsplit(base_url)
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if (self.base.scheme, self.base.netloc) != ("https", urlsplit(TWEEPY_HOST).netloc):
            parts = urlsplit(request.url or "")
            request.url = urlunsplit((self.base.scheme, self.base.netloc, self.base.path + parts.path,
                                      parts.query, parts.fragment))
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


class _Redact(logging.Filter):
    """tweepy logs request headers at DEBUG, bearer token included; blank the tokens out."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            if any(s in message for s in self.secrets):
                for secret in self.secrets:
                    message = message.replace(secret, "***")
                record.msg, record.args = message, None
        return True


_REDACT = _Redact()


def _protect(secret: str) -> None:
    _REDACT.secrets.add(secret)
    tweepy_log = logging.getLogger("tweepy.client")
    if _REDACT not in tweepy_log.filters:
        tweepy_log.addFilter(_REDACT)


class RateLimited(Exception):
    """The rate limit resets later than the configured wait allows."""


class StaleCursor(Exception):
    """X refused `since_id`/`until_id`: they point before recent search's seven-day horizon."""


class XClient:
    """tweepy's API v2 client, and `call`, which makes one request the way the source needs it."""

    def __init__(self, settings: XSettings, bearer_token: str, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._sleep = sleep
        self._clock = clock
        _protect(bearer_token)
        self.tweepy = tweepy.Client(bearer_token=bearer_token, return_type=dict, wait_on_rate_limit=False)
        self.tweepy.session.mount(TWEEPY_HOST, _BaseURLAdapter(settings.api_base_url, settings.timeout_seconds))

    # -- errors

    def _credential_hint(self) -> str:
        hint = f"the bearer token in {self.settings.credentials_env[0]}"
        if self.settings.airflow_conn_id:
            hint += f" (or Airflow connection {self.settings.airflow_conn_id!r})"
        return hint

    def _error(self, exc: tweepy.HTTPException, what: str) -> SourceError:
        status = exc.response.status_code
        detail = "; ".join(str(m) for m in exc.api_messages)[:300]
        if status == 453 or 453 in exc.api_codes:
            return SourceError(
                f"sources.x: X refused {what} (error 453): the access level of the app behind "
                f"{self._credential_hint()} covers only a subset of API v2 endpoints; recent search "
                "needs the Basic tier or higher (upgrade in the X developer portal)"
            )
        if status == 401:
            return SourceError(
                f"sources.x: X rejected {self._credential_hint()} (HTTP 401 Unauthorized) during {what}: "
                "set a valid app bearer token"
            )
        if status == 403:
            return SourceError(
                f"sources.x: X refused {what} (HTTP 403 Forbidden) for {self._credential_hint()}: "
                f"check that the app is attached to a Project with API v2 access ({detail or 'no detail'})"
            )
        return SourceError(f"sources.x: X rejected {what} (HTTP {status}): {detail or exc.response.reason}")

    def _rate_limit_wait(self, response: requests.Response) -> float | None:
        reset = response.headers.get("x-rate-limit-reset", "")
        try:
            return max(0.0, float(reset) - self._clock()) + 0.5  # a little slack for clock skew
        except ValueError:
            return None

    def call(self, what: str, request: Callable[[], T]) -> T:
        """One API request: 5xx and network errors retried with backoff, 429 waited out up to the cap."""
        retry = retrying(
            attempts=self.settings.server_error_retries + 1, backoff_seconds=self.settings.retry_backoff_seconds,
            retry_on=(tweepy.TwitterServerError, requests.ConnectionError, requests.Timeout), sleep=self._sleep,
            before_sleep=lambda state: log.warning("X API failed during %s (attempt %d), retrying: %s",
                                                   what, state.attempt_number, state.outcome.exception()),
        )
        rate_limits = RateLimitWaits(self.settings.max_rate_limit_wait_seconds, self._sleep, log,
                                     f"X rate limit reached during {what}")
        while True:
            try:
                return retry(request)
            except tweepy.TooManyRequests as exc:
                if not rate_limits.wait(self._rate_limit_wait(exc.response)):
                    raise RateLimited() from None
            except tweepy.TwitterServerError as exc:
                raise SourceError(
                    f"sources.x: X API unavailable (HTTP {exc.response.status_code}) during {what} after "
                    f"{self.settings.server_error_retries + 1} attempts; Airflow will retry the task"
                ) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise SourceError(
                    f"sources.x: X API unreachable at {self.settings.api_base_url} during {what} after "
                    f"{self.settings.server_error_retries + 1} attempts ({type(exc).__name__}); "
                    "Airflow will retry the task"
                ) from None
            except tweepy.BadRequest as exc:
                stale = any(isinstance(e, dict) and {"since_id", "until_id"} & set(e.get("parameters") or {})
                            for e in exc.api_errors)
                raise (StaleCursor() if stale else self._error(exc, what)) from None
            except tweepy.HTTPException as exc:
                raise self._error(exc, what) from None
