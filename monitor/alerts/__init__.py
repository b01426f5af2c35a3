"""Alert delivery: channels behind one protocol, and an outbox so nothing is sent twice.

| module | what |
|---|---|
| base.py | the `AlertChannel` protocol (`name`, `label`, `route`, `send`), its errors, the JSON payload |
| channels.py | channels are plugins (`earshot.channels`): `build_channels` builds the configured ones |
| builtin.py | Earshot's own channels as plugins: settings models and descriptors (pydantic only) |
| delivery.py | `deliver`: each alert to each channel once, in parallel, with an outbox |
| console.py, jsonl.py, webhook.py, slack.py, teams.py, mail.py | the channels themselves |
| chat.py | what the Slack and Teams incoming webhooks share |
| render.py, routing.py, secret.py, transport.py | what every channel uses: the view of an alert, routes, secrets, HTTP retries |

Importing this package stays light (no HTTP client, no SMTP): the config validates
`alerts.channels` through it, and a channel's own module is imported only when it is built.
Secrets come from the environment variables the config names; `build_channels` fails with
the variable's name when one is missing.
"""

from __future__ import annotations

from monitor.alerts.base import AlertChannel, AlertRejected, DeliveryError, alert_payload
from monitor.alerts.channels import ChannelContext, available_channels, build_channels, find_channel
from monitor.alerts.delivery import LEASE, DeliveryReport, deliver, sender_id
from monitor.alerts.routing import Route
from monitor.alerts.secret import ChannelConfigError

__all__ = [
    "AlertChannel", "AlertRejected", "ChannelConfigError", "ChannelContext", "DeliveryError", "DeliveryReport",
    "LEASE", "Route", "alert_payload", "available_channels", "build_channels", "deliver", "find_channel",
    "sender_id",
]
