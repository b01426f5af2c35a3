"""Templates `earshot new-channel` renders: an alert channel laid out like a source package.

`monitor/alerts/<name>/__init__.py` (the descriptor the `earshot.channels` entry point
names), `settings.py` (pydantic only: the config is validated with it), `channel.py` (the
channel, imported only when `build_channels` builds it) and `tests/channels/harness_<name>.py`
(the channel contract suite's way in). The channel starts as an incoming webhook, the way
most chat services take messages (Slack, Teams, Discord, Google Chat, Mattermost...), built
on `monitor.alerts.chat.ChatWebhookChannel` like the Slack and Teams channels: the shared
retries, secret handling and naming, and only the message format of its own.
"""

PACKAGE = r'''"""The ${title} alert channel. TODO(new-channel): one line on where alerts go.

| module | what |
|---|---|
| settings.py | `${cls}Settings` (`alerts.channels` items with `type: ${name}`), pydantic only |
| channel.py | `${cls}Channel`, the message format (imports httpx through monitor.alerts.chat) |

`CHANNEL` is what the `earshot.channels` entry point names: light to import (the config is
validated with its settings model), and its factory imports channel.py only when it runs.
"""

from __future__ import annotations

from monitor.alerts.${name}.settings import URL_ENV, ${cls}Settings
from monitor.plugins import Plugin, lazy

__all__ = ["CHANNEL", "URL_ENV", "${cls}Settings"]

CHANNEL = Plugin("${name}", ${cls}Settings, lazy("monitor.alerts.${name}.channel:${cls}Channel.from_settings"))
'''

SETTINGS = r'''"""`alerts.channels` items with `type: ${name}`: the ${title} channel's settings.

Pydantic only (no HTTP client): Earshot validates the config, and Airflow parses the DAG
files, with this module every few seconds; the channel lives in channel.py. The options
every HTTP channel has (timeout_seconds, attempts, max_retry_after_seconds) and `route` come
from the shared settings; the webhook URL is a credential, so the file names the environment
variable holding it, never the URL.
"""

from __future__ import annotations

from typing import Literal

from monitor.alerts.builtin import ChatSettings
from monitor.config import EnvName

URL_ENV = "${url_env}"  # where the webhook URL lives; never in earshot.yaml


class ${cls}Settings(ChatSettings):
    """One ${title} incoming webhook. TODO(new-channel): add the service's own options (a username, an icon...)."""

    type: Literal["${name}"] = "${name}"
    url_env: EnvName = URL_ENV
'''

CHANNEL = r'''"""${title} incoming webhooks: each alert POSTed as one JSON message.

TODO(new-channel): say which ${title} API this posts to and link its reference. Until then it
sends the commonest incoming-webhook body, `{"text": "..."}`, with the alert's headline,
reason, the post quoted, its facts and links, one per line; `message` is the one function to
change for the service's own format (blocks, cards, embeds).

Everything else is shared with the Slack and Teams channels (monitor/alerts/chat.py): the
URL read from the environment and never logged (the channel is named by the variable's
name and a fingerprint), retries with backoff honouring Retry-After, 400/413/422 rejecting
only that alert, and delivery once per alert through the outbox.
"""

from __future__ import annotations

from typing import Any

from monitor.alerts.chat import ChatWebhookChannel
from monitor.alerts.render import AlertView, truncate

TEXT_LIMIT = 4000  # TODO(new-channel): the longest message the service takes


def message(v: AlertView) -> dict[str, Any]:
    """The JSON body the service renders. TODO(new-channel): the service's format, and its escaping of post text."""
    lines = [f"{v.emoji} {v.headline}", v.reason]
    if v.quote:
        lines += [""] + ([v.quote_title] if v.quote_title else []) + [f"> {line}" for line in v.quote.splitlines()]
    lines += [""] + [f"{fact.label}: {fact.value}" for fact in v.facts]
    if v.post_url:
        lines.append(f"Open post: {v.post_url}")
    if v.inbox_url:
        lines.append(f"Open in Earshot: {v.inbox_url}")
    return {"text": truncate("\n".join(lines), TEXT_LIMIT)}


class ${cls}Channel(ChatWebhookChannel):
    """One ${title} incoming webhook, built by the plugin's factory (`from_settings`, from monitor.alerts.chat)."""

    kind = "${name}"
    secret_what = "the ${title} webhook URL"

    def body(self, v: AlertView) -> dict[str, Any]:
        return message(v)
'''

HARNESS = r'''"""Contract harness for the ${title} channel: its webhook is a real HTTP receiver on loopback.

tests/channels/test_contract.py finds this module by its name and runs every contract case
through `make_harness()`. TODO(new-channel): if the channel stops being a plain incoming
webhook, write a harness class instead, keeping `received`, `go_down` and `recover` meaning
what tests/channels/harness.py says (harness_email.py is one for another transport).
"""

from tests.channels.harness import chat_harness

# The token is part of the webhook URL, the channel's credential: it must never reach logs or errors.
${cls}Harness = chat_harness("${name}", url_env="EARSHOT_CONTRACT_${upper}_URL", token="${name}-contract-token-3c9e")
make_harness = ${cls}Harness
'''
