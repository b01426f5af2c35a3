"""Microsoft Teams incoming webhooks (Workflows or legacy connectors), as an Adaptive Card.

The message is `{"type": "message", "attachments": [<card>]}` with the card's content type
`application/vnd.microsoft.card.adaptive`: the shape both Teams Workflows ("post to a
channel when a webhook request is received") and the older connectors accept. Same
content as Slack: headline, reason, the post quoted, facts, and Action.OpenUrl buttons.

Text from a post goes into `TextRun`s, which Teams renders literally; a `TextBlock`
would interpret markdown and let a post smuggle in a disguised link.
"""

from __future__ import annotations

from typing import Any

from monitor.alerts.chat import ChatWebhookChannel
from monitor.alerts.render import AlertView
from monitor.models import Severity

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
_COLOR = {Severity.info: "Accent", Severity.warning: "Warning", Severity.critical: "Attention"}


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text, **style}]}


def card(v: AlertView) -> dict[str, Any]:
    """The Adaptive Card (schema 1.4, which every Teams client renders)."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": f"{v.emoji} {v.headline}", "size": "Large", "weight": "Bolder",
         "color": _COLOR[v.alert.severity], "wrap": True},
        _text(v.reason),
    ]
    if v.quote:
        quote = ([_text(v.quote_title, weight="Bolder")] if v.quote_title else []) + [_text(v.quote, italic=True)]
        body.append({"type": "Container", "style": "emphasis", "items": quote})
    for fact in v.facts:
        body.append({"type": "RichTextBlock", "spacing": "None", "inlines": [
            {"type": "TextRun", "text": f"{fact.label}: ", "weight": "Bolder", "isSubtle": True},
            {"type": "TextRun", "text": fact.value},
        ]})
    actions = []
    if v.post_url:
        actions.append({"type": "Action.OpenUrl", "title": "Open post", "url": v.post_url})
    if v.inbox_url:
        actions.append({"type": "Action.OpenUrl", "title": "Open in Earshot", "url": v.inbox_url})
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "fallbackText": v.fallback,
        "msteams": {"width": "Full"},
        "body": body,
    }
    if actions:
        content["actions"] = actions
    return content


def message(v: AlertView) -> dict[str, Any]:
    return {
        "type": "message",
        "summary": v.subject,
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card(v)}],
    }


class TeamsChannel(ChatWebhookChannel):
    """One Teams webhook, rendered as an Adaptive Card."""

    kind = "teams"
    secret_what = "the Teams webhook URL"

    def body(self, v: AlertView) -> dict[str, Any]:
        return message(v)
