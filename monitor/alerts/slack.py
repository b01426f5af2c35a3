"""Slack incoming webhooks, rendered as Block Kit.

Layout: a header with severity and brand, a section with the one-sentence reason, the
post quoted, a context line (author, followers, sentiment, velocity, topic) and buttons to
the post and, when `alerts.inbox_url` is set, to the alert in Earshot.

Everything that comes from a post is escaped (`&`, `<`, `>`): Slack reads `<!channel>`
or `<https://evil|bank>` in message text as a mention or a disguised link, and a post
must never be able to ping a whole channel.
"""

from __future__ import annotations

from typing import Any

from monitor.alerts.chat import ChatWebhookChannel
from monitor.alerts.render import AlertView, truncate

HEADER_LIMIT = 150  # Block Kit limits
TEXT_LIMIT = 3000
CONTEXT_ELEMENTS = 10


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _button(text: str, url: str, action_id: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button", "text": {"type": "plain_text", "text": text}, "url": url, "action_id": action_id,
    }
    if style:
        button["style"] = style
    return button


def blocks(v: AlertView) -> dict[str, Any]:
    """The webhook body: Block Kit blocks plus `text`, which Slack shows in notifications."""
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(f"{v.emoji} {v.headline}", HEADER_LIMIT),
                                    "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(truncate(v.reason, TEXT_LIMIT // 2))}},
    ]
    if v.quote:
        lines = ([f"*{escape(v.quote_title)}*"] if v.quote_title else []) + escape(v.quote).splitlines()
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(f">{line}" for line in lines)}})
    if v.facts:
        out.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"*{f.label}:* {escape(f.value)}"} for f in v.facts[:CONTEXT_ELEMENTS]
        ]})
    actions = []
    if v.post_url and len(v.post_url) <= TEXT_LIMIT:
        actions.append(_button("Open post", v.post_url, "open_post", "primary"))
    if v.inbox_url:
        actions.append(_button("Open in Earshot", v.inbox_url, "open_inbox"))
    if actions:
        out.append({"type": "actions", "elements": actions})
    return {"text": escape(truncate(v.fallback, TEXT_LIMIT)), "blocks": out}


class SlackChannel(ChatWebhookChannel):
    """One Slack incoming webhook, rendered as Block Kit."""

    kind = "slack"
    secret_what = "the Slack incoming-webhook URL"

    def body(self, v: AlertView) -> dict[str, Any]:
        return blocks(v)
