"""Alerts appended to a JSON Lines file, for scripts and log shippers."""

from __future__ import annotations

import json
import os
from pathlib import Path

from monitor.alerts.base import DeliveryError, alert_payload
from monitor.models import Alert, Mention


class JsonlChannel:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"jsonl:{path}"

    def send(self, alert: Alert, mention: Mention | None) -> None:
        line = json.dumps(alert_payload(alert, mention), ensure_ascii=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise DeliveryError(f"cannot append to {self.path}: {exc.strerror}") from exc
