"""Alerts appended to a JSON Lines file, for scripts and log shippers.

A line is written whole or not at all: on any write error (a full disk) the file is cut
back to where it was, so a reader never meets half a line and the alert stays in the
outbox. Each line is flushed and fsynced before the alert counts as delivered.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.alerts.base import DeliveryError, alert_payload, idempotency_key
from monitor.alerts.render import inbox_link
from monitor.alerts.routing import EVERYTHING, Route
from monitor.models import Alert, Mention

if TYPE_CHECKING:
    from monitor.alerts.builtin import JsonlSettings
    from monitor.alerts.channels import ChannelContext


class JsonlChannel:
    def __init__(self, path: Path, *, route: Route = EVERYTHING, inbox_url: str | None = None) -> None:
        self.path = path
        self.name = self.label = f"jsonl:{path}"
        self.route = route
        self.inbox_url = inbox_url

    @classmethod
    def from_settings(cls, settings: JsonlSettings, context: ChannelContext) -> JsonlChannel:
        return cls(context.resolve(settings.path), route=context.route, inbox_url=context.inbox_url)

    def send(self, alert: Alert, mention: Mention | None) -> None:
        key = idempotency_key(alert.id, self.name)
        payload = alert_payload(alert, mention, inbox_link(self.inbox_url, alert.id), idempotency=key)
        line = (json.dumps(payload, ensure_ascii=False) + "\n").encode("utf-8", "backslashreplace")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DeliveryError(f"cannot append to {self.path}: {exc.strerror}") from None
        try:
            start = os.lseek(fd, 0, os.SEEK_END)
            try:
                written = 0
                while written < len(line):
                    written += os.write(fd, line[written:])
                os.fsync(fd)
            except OSError as exc:
                _cut_back(fd, start)
                raise DeliveryError(f"cannot append to {self.path}: {exc.strerror}") from None
        finally:
            os.close(fd)


def _cut_back(fd: int, size: int) -> None:
    """Drop a partial line; if even that fails, end it so the next line starts clean."""
    try:
        os.ftruncate(fd, size)
    except OSError:
        try:
            os.write(fd, b"\n")
        except OSError:
            pass
