"""Alert delivery: channels behind one protocol, and an outbox so nothing is sent twice.

Every alert is stored first; `deliver` then sends each channel what it has not yet
received. A channel that is down keeps its alerts in the outbox (retried next run)
and never blocks the others.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from monitor.alerts.base import AlertChannel, DeliveryError, alert_payload
from monitor.alerts.console import ConsoleChannel
from monitor.alerts.jsonl import JsonlChannel
from monitor.alerts.webhook import WebhookChannel
from monitor.config import Config
from monitor.config import ConsoleChannel as ConsoleSettings
from monitor.config import JsonlChannel as JsonlSettings
from monitor.store import Store

__all__ = ["AlertChannel", "DeliveryError", "DeliveryReport", "alert_payload", "build_channels", "deliver"]

log = logging.getLogger(__name__)


def build_channels(config: Config) -> list[AlertChannel]:
    channels: list[AlertChannel] = []
    for settings in config.alerts.channels:
        if isinstance(settings, ConsoleSettings):
            channels.append(ConsoleChannel())
        elif isinstance(settings, JsonlSettings):
            channels.append(JsonlChannel(config.resolve(settings.path)))
        else:
            channels.append(WebhookChannel(settings.url, timeout=settings.timeout_seconds))
    return channels


@dataclass
class DeliveryReport:
    sent: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def deliver(store: Store, channels: Sequence[AlertChannel]) -> DeliveryReport:
    report = DeliveryReport()
    for channel in channels:
        pending = store.undelivered_alerts(channel.name)
        mentions = store.get_mentions(a.mention_id for a in pending if a.mention_id)
        sent = 0
        for alert in pending:
            try:
                channel.send(alert, mentions.get(alert.mention_id))
            except DeliveryError as exc:
                # Stop this channel for now; order is kept and the rest goes out next run.
                log.warning("alert channel %s is failing, %d alert(s) kept in the outbox: %s",
                            channel.name, len(pending) - sent, exc)
                report.failed[channel.name] = str(exc)
                break
            store.mark_delivered(alert.id, channel.name)
            sent += 1
        report.sent[channel.name] = sent
    return report
