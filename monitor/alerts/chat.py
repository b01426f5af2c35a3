"""What the Slack and Teams channels share: one incoming webhook whose URL is the credential.

Both are named by the environment variable that holds the URL (so the outbox survives a
URL rotation) plus a fingerprint of the URL in logs, POST one JSON body per alert with
the same retries, and differ only in how they render an alert (`body`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

from monitor.alerts.render import AlertView, view
from monitor.alerts.routing import EVERYTHING, Route
from monitor.alerts.secret import fingerprint, from_env
from monitor.alerts.transport import HttpChannel, RetryPolicy, retry_policy
from monitor.models import Alert, Mention

if TYPE_CHECKING:
    from monitor.alerts.builtin import ChatSettings
    from monitor.alerts.channels import ChannelContext


class ChatWebhookChannel(HttpChannel):
    """One chat incoming webhook. `key` (the env variable's name) keeps the outbox across URL rotations."""

    kind: ClassVar[str]  # "slack": the first part of the name
    secret_what: ClassVar[str]  # how a missing-variable error names the URL

    def __init__(
        self, url: str, *, key: str | None = None, route: Route = EVERYTHING, inbox_url: str | None = None,
        timeout: float = 10.0, retry: RetryPolicy | None = None, client: httpx.Client | None = None,
    ) -> None:
        fp = fingerprint(url)
        super().__init__(url, name=f"{self.kind}:{key or fp}", label=f"{self.kind}:{key}#{fp}" if key else
                         f"{self.kind}:#{fp}", route=route, inbox_url=inbox_url, timeout=timeout, retry=retry,
                         client=client)

    @classmethod
    def from_settings(cls, settings: ChatSettings, context: ChannelContext) -> ChatWebhookChannel:
        url = from_env(settings.url_env, cls.secret_what, f"{context.key}.url_env")
        return cls(url, key=settings.url_env, route=context.route, inbox_url=context.inbox_url,
                   timeout=settings.timeout_seconds, retry=retry_policy(settings, context.sleep))

    def body(self, v: AlertView) -> dict[str, Any]:
        """The JSON document the chat service renders."""
        raise NotImplementedError

    def send(self, alert: Alert, mention: Mention | None) -> None:
        body = json.dumps(self.body(view(alert, mention, self.inbox_url)), ensure_ascii=False).encode()
        self._http.post(body, lambda: {"Content-Type": "application/json"})
