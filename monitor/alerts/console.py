"""Alerts printed to the terminal running Earshot: the zero-setup channel."""

from __future__ import annotations

from rich.console import Console

from monitor.models import Alert, Mention, Severity

_STYLE = {Severity.info: "cyan", Severity.warning: "yellow", Severity.critical: "bold red"}


class ConsoleChannel:
    name = "console"

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=False, highlight=False)

    def send(self, alert: Alert, mention: Mention | None) -> None:
        style = _STYLE[alert.severity]
        self.console.print(f"[{style}]ALERT {alert.severity.value.upper()}[/] [{alert.brand}] {alert.reason}")
        if mention is not None:
            self.console.print(f"    {mention.text[:200]!r}\n    {mention.url}", soft_wrap=True)
