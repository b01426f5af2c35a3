"""The `AlertChannel` protocol, its errors, and the one payload machine receivers get."""

from __future__ import annotations

from typing import Any, Protocol

from monitor.models import Alert, Mention


class DeliveryError(RuntimeError):
    """The channel cannot deliver right now: this alert and the ones after it stay in the outbox.

    Raised for outages (after the in-run retries) and for problems of the channel itself
    (a revoked webhook, a wrong SMTP password): sending the next alert would fail the same
    way, so `deliver` stops the channel for this run and keeps the order for the next one.
    Messages name the channel by its label, never by a secret.
    """


class AlertRejected(DeliveryError):
    """The receiver refused this one alert (HTTP 400/413/422): retrying it now cannot help.

    The alert stays in the outbox (tried once more per run, never in a loop) while the
    alerts after it still go out, so one alert a receiver dislikes cannot block a channel.
    """


class AlertChannel(Protocol):
    """Somewhere alerts go. Implementations raise DeliveryError (or AlertRejected) to keep an alert.

    A channel may also carry a `route` attribute (`monitor.alerts.routing.Route`); `deliver`
    reads it with getattr, so a channel without one receives every alert.
    """

    # Stable per configured destination, and free of secrets: deliveries are recorded
    # under this name, and it appears in logs and reports.
    name: str

    def send(self, alert: Alert, mention: Mention | None) -> None:
        """Deliver one alert or raise DeliveryError. `mention` is None for storm alerts."""


def alert_payload(alert: Alert, mention: Mention | None, inbox_url: str | None = None) -> dict[str, Any]:
    """Everything a receiver needs to act without opening Earshot: why, what, and where to click.

    Storm alerts concern a brand, not one post: `mention_id` and `mention` are then null.
    """
    payload: dict[str, Any] = {
        "id": alert.id,
        "kind": alert.kind.value,
        "severity": alert.severity.value,
        "brand": alert.brand,
        "created_at": alert.created_at.isoformat(),
        "reason": alert.reason,
        "topic": alert.topic,
        "team": alert.team,
        "velocity_per_min": alert.velocity_per_min,
        "baseline_per_min": alert.baseline_per_min,
        "mention_id": alert.mention_id,
    }
    if inbox_url:
        payload["inbox_url"] = inbox_url
    if mention is not None:
        payload["mention"] = {
            "url": mention.url,
            "source": mention.source,
            "author": mention.author_handle,
            "author_followers": mention.author_followers,
            "title": mention.title,
            "text": mention.text,
            "lang": mention.lang,
            "rating": mention.rating,
            "sentiment": mention.sentiment.model_dump(mode="json") if mention.sentiment else None,
        }
    return payload
