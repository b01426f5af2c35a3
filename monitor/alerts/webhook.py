"""Alerts POSTed as signed JSON to any HTTP endpoint (ticketing, automation, chat bridges).

The body is `alert_payload` as UTF-8 JSON. Each request carries

    X-Earshot-Alert:      the alert id, percent-encoded where not printable ASCII
    Idempotency-Key:      the same on every attempt to deliver this alert here (also in the
                          body as `idempotency_key`): drop a request whose key you have seen
    X-Earshot-Timestamp:  Unix time in seconds when this attempt was signed
    X-Earshot-Signature:  sha256=<hex HMAC-SHA256 of  timestamp + "." + body  under the secret>

The timestamp is inside the signed material, so a captured request cannot be replayed
later with a new timestamp, and a receiver rejects old ones. Each retry is signed afresh.

How a receiver verifies a request (the secret is the exact text of the environment
variable named by `secret_env`, UTF-8 encoded; `body` is the raw request body bytes,
before any JSON parsing):

    import hashlib, hmac, time

    def verify(secret: bytes, body: bytes, timestamp: str, signature: str, tolerance: int = 300) -> bool:
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance:
            return False  # too old (or from the future): possibly a replay
        expected = "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

Or in a shell, with the raw body saved to body.json:

    { printf '%s.' "$TIMESTAMP"; cat body.json; } | openssl dgst -sha256 -hmac "$EARSHOT_WEBHOOK_SECRET"

To also reject a replay inside the tolerance window, remember the `Idempotency-Key`s
seen in the last `tolerance` seconds. Earshot sends each alert to each receiver once; the
one exception is a crash between your 2xx and Earshot recording it, after which the
alert is sent again with the same key, so a receiver that remembers keys (for a day,
say) sees every alert exactly once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx

from monitor.alerts.base import IDEMPOTENCY_HEADER, alert_payload, header_value, idempotency_key
from monitor.alerts.render import inbox_link
from monitor.alerts.routing import EVERYTHING, Route
from monitor.alerts.secret import ChannelConfigError, fingerprint, from_env
from monitor.alerts.transport import HttpChannel, RetryPolicy, retry_policy
from monitor.models import Alert, Mention

if TYPE_CHECKING:
    from monitor.alerts.builtin import WebhookSettings
    from monitor.alerts.channels import ChannelContext

SIGNATURE_HEADER = "X-Earshot-Signature"
TIMESTAMP_HEADER = "X-Earshot-Timestamp"
ALERT_HEADER = "X-Earshot-Alert"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The `X-Earshot-Signature` value for `body` sent at `timestamp`."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(
    secret: str | bytes, body: bytes, timestamp: str, signature: str, *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS, now: float | None = None,
) -> bool:
    """The receiver's check, for Python receivers (the recipe above, as a function)."""
    if not timestamp.isdigit() or abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookChannel(HttpChannel):
    """One endpoint. Named by host and URL fingerprint, or by `key` (the env variable holding the URL)."""

    def __init__(
        self, url: str, *, secret: str, key: str | None = None, route: Route = EVERYTHING,
        inbox_url: str | None = None, timeout: float = 10.0, retry: RetryPolicy | None = None,
        client: httpx.Client | None = None, clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("a webhook needs a signing secret")
        fp = fingerprint(url)
        # Webhook URLs often embed a token: names and messages show only the host (or the
        # env variable's name) and a fingerprint, traceable without leaking it to logs.
        name = f"webhook:{key}" if key else f"webhook:{httpx.URL(url).host}#{fp}"
        super().__init__(url, name=name, label=f"webhook:{key}#{fp}" if key else name, route=route,
                         inbox_url=inbox_url, timeout=timeout, retry=retry, client=client)
        self._secret = secret.encode()
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: WebhookSettings, context: ChannelContext) -> WebhookChannel:
        """Both secrets are read before failing, so one error names every variable to set."""
        errors = []
        url, secret = settings.url, ""
        if settings.url_env:
            try:
                url = from_env(settings.url_env, "the webhook URL", f"{context.key}.url_env")
            except ChannelConfigError as exc:
                errors.append(str(exc))
        try:
            secret = from_env(settings.secret_env, "the webhook signing secret", f"{context.key}.secret_env")
        except ChannelConfigError as exc:
            errors.append(str(exc))
        if errors or url is None:
            raise ChannelConfigError("\n  ".join(errors))
        return cls(url, secret=secret, key=settings.url_env, route=context.route, inbox_url=context.inbox_url,
                   timeout=settings.timeout_seconds, retry=retry_policy(settings, context.sleep))

    def send(self, alert: Alert, mention: Mention | None) -> None:
        key = idempotency_key(alert.id, self.name)
        payload = alert_payload(alert, mention, inbox_link(self.inbox_url, alert.id), idempotency=key)
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8", "backslashreplace")

        def headers() -> dict[str, str]:
            timestamp = str(int(self._clock()))
            return {
                "Content-Type": "application/json",
                ALERT_HEADER: header_value(alert.id),
                IDEMPOTENCY_HEADER: key,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            }

        self._http.post(body, headers)
