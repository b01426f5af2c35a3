"""Alerts printed to the terminal running Earshot: the zero-setup channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from monitor.alerts.routing import EVERYTHING, Route
from monitor.models import Alert, AlertKind, Mention, Severity

if TYPE_CHECKING:
    from monitor.alerts.builtin import ConsoleSettings
    from monitor.alerts.channels import ChannelContext

_STYLE = {Severity.info: "cyan", Severity.warning: "yellow", Severity.critical: "bold red"}


class ConsoleChannel:
    name = label = "console"

    def __init__(self, console: Console | None = None, *, route: Route = EVERYTHING) -> None:
        self.console = console or Console(stderr=False, highlight=False)
        self.route = route

    @classmethod
    def from_settings(cls, settings: ConsoleSettings, context: ChannelContext) -> ConsoleChannel:
        return cls(route=context.route)

    def send(self, alert: Alert, mention: Mention | None) -> None:
        style = _STYLE[alert.severity]
        kind = "" if alert.kind == AlertKind.spread else f" {alert.kind.value.upper()}"
        # Post text and reasons are data, not markup: "[bold]" in a post must print as is.
        self.console.print(f"[{style}]ALERT {alert.severity.value.upper()}{kind}[/] [{escape(alert.brand)}] "
                           f"{escape(alert.reason)}")
        if alert.topic:
            team = f" → {alert.team}" if alert.team else ""
            self.console.print(f"    topic: {escape(alert.topic + team)}")
        if mention is not None:
            self.console.print(f"    {escape(repr(mention.text[:200]))}\n    {escape(mention.url)}", soft_wrap=True)
