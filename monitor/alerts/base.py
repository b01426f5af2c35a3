"""The `AlertChannel` protocol and the one payload every channel renders from."""

from __future__ import annotations

from typing import Any, Protocol

from monitor.models import Alert, Mention


class DeliveryError(RuntimeError):
    """A channel could not deliver; the alert stays in the outbox and is retried next run."""


class AlertChannel(Protocol):
    # Stable per configured channel: deliveries are recorded under this name.
    name: str

    def send(self, alert: Alert, mention: Mention | None) -> None:
        """Deliver one alert or raise DeliveryError."""


def alert_payload(alert: Alert, mention: Mention | None) -> dict[str, Any]:
    """Everything a receiver needs to act without opening Earshot: why, what, and where to click."""
    payload: dict[str, Any] = {
        "id": alert.id,
        "severity": alert.severity.value,
        "brand": alert.brand,
        "created_at": alert.created_at.isoformat(),
        "reason": alert.reason,
        "velocity_per_min": alert.velocity_per_min,
        "baseline_per_min": alert.baseline_per_min,
        "mention_id": alert.mention_id,
    }
    if mention is not None:
        payload["mention"] = {
            "url": mention.url,
            "source": mention.source,
            "author": mention.author_handle,
            "author_followers": mention.author_followers,
            "text": mention.text,
            "lang": mention.lang,
            "rating": mention.rating,
            "sentiment": mention.sentiment.model_dump(mode="json") if mention.sentiment else None,
        }
    return payload
