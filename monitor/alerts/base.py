"""The `AlertChannel` protocol, its errors, and the one payload machine receivers get."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from monitor.models import Alert, Mention

if TYPE_CHECKING:
    from monitor.alerts.routing import Route


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

    A channel plugin's factory returns one (monitor/alerts/channels.py); `deliver` needs
    exactly these four members, so a channel for everything uses `routing.EVERYTHING`.
    """

    # Stable per configured destination, and free of secrets: deliveries are recorded
    # under this name, and it appears in logs and reports.
    name: str
    # How logs and errors name it: the name plus what tells two secrets apart (a fingerprint).
    label: str
    # Which alerts it wants; the others are settled for it without being sent.
    route: Route

    def send(self, alert: Alert, mention: Mention | None) -> None:
        """Deliver one alert or raise DeliveryError. `mention` is None for storm alerts."""


IDEMPOTENCY_HEADER = "Idempotency-Key"


def idempotency_key(alert_id: str, channel: str) -> str:
    """The same for every attempt to send `alert_id` to `channel`, different for each other pair.

    Earshot claims each delivery before sending and records it after, so the one resend
    possible is a crash between a receiver accepting an alert and Earshot recording it;
    a receiver that drops a key it has seen drops exactly that resend.
    """
    return hashlib.sha256(f"{channel}\n{alert_id}".encode("utf-8", "backslashreplace")).hexdigest()[:32]


# Printable ASCII except "%" (the escape itself): kept as is in a header, so ordinary ids read plainly.
_HEADER_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) != "%")


def header_value(text: str) -> str:
    """`text` safe for an HTTP or mail header: control characters and non-ASCII percent-encoded (UTF-8).

    A header value with CR/LF would end the header (or let a crafted id inject one), and
    HTTP clients refuse non-ASCII: either would fail the send, every run, for that alert.
    """
    return quote(text.encode("utf-8", "backslashreplace"), safe=_HEADER_SAFE)


def alert_payload(alert: Alert, mention: Mention | None, inbox_url: str | None = None,
                  idempotency: str | None = None) -> dict[str, Any]:
    """Everything a receiver needs to act without opening Earshot: why, what, and where to click.

    Storm alerts concern a brand, not one post: `mention_id` and `mention` are then null.
    `idempotency_key` (when the channel gives one) is the same on a resend of this alert.
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
    if idempotency:
        payload["idempotency_key"] = idempotency
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
