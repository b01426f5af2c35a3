"""POSTing to chat and webhook endpoints with retries that know which failures are worth retrying.

Transient failures — the connection failed or timed out, HTTP 408/429/5xx — are retried
with exponential backoff and jitter, honouring `Retry-After` up to a cap: a receiver
asking for a longer pause than the cap ends this run's attempts instead of stalling the
pipeline, and the outbox sends the alert next run. Permanent failures are never retried
in a loop: 400/413/422 reject only this alert (`AlertRejected`), any other 4xx means the
endpoint itself is wrong or revoked (`DeliveryError`). Errors name the channel's label,
never the URL, which for Slack and Teams is the credential.
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from typing import TYPE_CHECKING

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from monitor.alerts.base import AlertRejected, DeliveryError
from monitor.alerts.secret import redact

if TYPE_CHECKING:
    from monitor.alerts.builtin import HttpChannelSettings
    from monitor.alerts.routing import Route

USER_AGENT = "Earshot-Alerts/1"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one run tries a channel; `sleep` is injectable so tests do not wait."""

    attempts: int = 3
    initial_wait: float = 0.5
    max_wait: float = 8.0
    max_retry_after: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)


def retry_policy(settings: HttpChannelSettings, sleep: Callable[[float], None] = time.sleep) -> RetryPolicy:
    """The policy an HTTP channel's settings ask for (`attempts`, `max_retry_after_seconds`)."""
    return RetryPolicy(attempts=settings.attempts, max_retry_after=settings.max_retry_after_seconds, sleep=sleep)


class Transient(Exception):
    """A failure worth retrying soon; `retry_after` is the receiver's requested pause, if any."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def run_with_retries(attempt: Callable[[], object], policy: RetryPolicy, label: str) -> object:
    """Call `attempt` until it stops raising `Transient` or the policy's attempts are used up."""
    backoff = wait_exponential_jitter(initial=policy.initial_wait, max=policy.max_wait, jitter=policy.initial_wait)

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Transient) and exc.retry_after is not None:
            return exc.retry_after
        return backoff(state)

    retrying = Retrying(
        retry=retry_if_exception_type(Transient),
        stop=stop_after_attempt(policy.attempts),
        wait=wait,
        sleep=policy.sleep,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except Transient as exc:
        raise DeliveryError(f"{label} unreachable after {policy.attempts} attempt(s): {exc}") from None


@cache
def _tls() -> ssl.SSLContext:
    """One verified TLS context for every request (building one per request costs ~20 ms)."""
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:
        return ssl.create_default_context()


def _detail(response: httpx.Response) -> str:
    # Slack answers errors with short codes ("invalid_blocks", "no_service") worth showing.
    # Other bodies are not echoed: an error page may quote the request path, i.e. the token.
    text = response.text[:80].strip()
    return f" ({text})" if re.fullmatch(r"[a-z_]{2,60}", text) else ""


class HttpSender:
    """POSTs bytes to one URL with the retry rules above. The URL never leaves this object."""

    def __init__(
        self, url: str, label: str, *, timeout: float = 10.0, retry: RetryPolicy | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self._url = url
        self.label = label
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._client = client  # injected by tests; otherwise one short-lived client per alert

    def __repr__(self) -> str:
        return f"HttpSender({self.label})"

    def post(self, body: bytes, headers: Callable[[], Mapping[str, str]]) -> httpx.Response:
        """POST `body` as is; `headers` is called per attempt (a signature must carry a fresh timestamp)."""
        if self._client is not None:
            return self._post(self._client, body, headers)
        with httpx.Client(timeout=self.timeout, verify=_tls(), headers={"User-Agent": USER_AGENT}) as client:
            return self._post(client, body, headers)

    def _post(self, client: httpx.Client, body: bytes, headers: Callable[[], Mapping[str, str]]) -> httpx.Response:
        policy = self.retry

        def attempt() -> httpx.Response:
            try:
                response = client.post(self._url, content=body, headers=dict(headers()))
            except httpx.TransportError as exc:
                # str(exc) may contain the URL; the exception type says enough ("ConnectError").
                raise Transient(type(exc).__name__) from None
            status = response.status_code
            if 200 <= status < 300:
                return response
            detail = redact(_detail(response))
            if status in (408, 429) or status >= 500:
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if wait is not None and wait > policy.max_retry_after:
                    raise DeliveryError(
                        f"{self.label} answered HTTP {status}{detail} and asked to wait {wait:.0f}s, more than"
                        f" the {policy.max_retry_after:g}s cap; the alert waits in the outbox for the next run"
                    )
                raise Transient(f"HTTP {status}{detail}", wait)
            if status in (400, 413, 422):
                raise AlertRejected(f"{self.label} refused the alert: HTTP {status}{detail}")
            raise DeliveryError(f"{self.label} refused the alert: HTTP {status}{detail} (check the configured URL)")

        return run_with_retries(attempt, policy, self.label)  # type: ignore[return-value]


class HttpChannel:
    """What every channel that POSTs to one URL shares (the chat webhooks, the signed webhook).

    Its `name` and `label` never contain the URL, which often is the credential (each
    subclass derives them from the environment variable's name, a host, a fingerprint); the
    URL goes straight into the `HttpSender`.
    """

    def __init__(
        self, url: str, *, name: str, label: str, route: Route, inbox_url: str | None, timeout: float,
        retry: RetryPolicy | None, client: httpx.Client | None,
    ) -> None:
        self.name = name
        self.label = label
        self.route = route
        self.inbox_url = inbox_url
        self._http = HttpSender(url, label, timeout=timeout, retry=retry, client=client)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.label})"
