"""Alerts appended to a JSON Lines file, for scripts and log shippers."""

from __future__ import annotations

import json
import os
from pathlib import Path

from monitor.alerts.base import DeliveryError, alert_payload
from monitor.alerts.render import inbox_link
from monitor.alerts.routing import EVERYTHING, Route
from monitor.models import Alert, Mention


class JsonlChannel:
    def __init__(self, path: Path, *, route: Route = EVERYTHING, inbox_url: str | None = None) -> None:
        self.path = path
        self.name = f"jsonl:{path}"
        self.route = route
        self.inbox_url = inbox_url

    def send(self, alert: Alert, mention: Mention | None) -> None:
        payload = alert_payload(alert, mention, inbox_link(self.inbox_url, alert.id))
        line = json.dumps(payload, ensure_ascii=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise DeliveryError(f"cannot append to {self.path}: {exc.strerror}") from None
