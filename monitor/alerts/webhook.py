"""Alerts POSTed as JSON to any HTTP endpoint (chat bridges, ticketing, automation)."""

from __future__ import annotations

import hashlib

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from monitor.alerts.base import DeliveryError, alert_payload
from monitor.models import Alert, Mention


class _Retryable(Exception):
    pass


class WebhookChannel:
    def __init__(self, url: str, timeout: float = 10.0, attempts: int = 3, client: httpx.Client | None = None) -> None:
        self.url = url
        # Webhook URLs often embed a secret token: names and messages show only the host
        # and a fingerprint, so deliveries stay traceable without leaking it to logs.
        host = httpx.URL(url).host
        self.label = f"{host}#{hashlib.sha256(url.encode()).hexdigest()[:8]}"
        self.name = f"webhook:{self.label}"
        self.attempts = attempts
        self._client = client or httpx.Client(timeout=timeout)

    def send(self, alert: Alert, mention: Mention | None) -> None:
        payload = alert_payload(alert, mention)

        @retry(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=0.5, max=8),
            reraise=True,
        )
        def post() -> None:
            try:
                response = self._client.post(self.url, json=payload, headers={"X-Earshot-Alert": alert.id})
            except httpx.HTTPError as exc:
                raise _Retryable(type(exc).__name__) from exc  # str(exc) may echo the URL
            if response.status_code >= 500 or response.status_code == 429:
                raise _Retryable(f"HTTP {response.status_code}")
            if response.status_code >= 400:
                raise DeliveryError(f"webhook {self.label} refused the alert: HTTP {response.status_code}")

        try:
            post()
        except _Retryable as exc:
            raise DeliveryError(f"webhook {self.label} unreachable after {self.attempts} attempts: {exc}") from exc
