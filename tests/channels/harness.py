"""What the channel contract suite needs from each alert channel's test setup.

Every channel plugin registered in `earshot.channels` has a `tests/channels/harness_<type>.py`
exposing `make_harness() -> ChannelHarness`. The harness runs a real destination on loopback
(an HTTP receiver, an SMTP server, a file, the terminal) and says how the channel is
configured to reach it; `tests/channels/test_contract.py` builds the channel from that
config through the plugin registry, as `earshot run` does, and checks the same promises
against every channel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Protocol

from tests.test_alert_support import HttpReceiver


class ChannelHarness(Protocol):
    name: str  # the channel plugin's `type`
    can_fail: bool  # the destination can be made to fail (`go_down`/`recover`); False for the terminal

    def start(self, tmp_path: Path) -> None:
        """Start the destination (a receiver on loopback, a directory...)."""

    def stop(self) -> None: ...

    def env(self) -> dict[str, str]:
        """The environment variables the configured channel reads its secrets from, and their values."""

    def secrets(self) -> list[str]:
        """Values that must never appear in logs, errors, the channel's name, label or repr."""

    def settings(self) -> dict[str, Any]:
        """The `alerts.channels` item (its `type` and options; the suite adds a `route`)."""

    def received(self) -> list[str]:
        """Each alert the destination has accepted, as text (a request body, a message, a line)."""

    def go_down(self) -> None:
        """Make the destination fail every attempt (HTTP 503, connection refused, unwritable)."""

    def recover(self) -> None: ...


class ChatWebhookHarness:
    """A channel that POSTs to an incoming-webhook URL held by one environment variable (Slack, Teams...).

    The receiver's path carries a token, as real webhook URLs do: the URL is the credential.
    """

    name: ClassVar[str]
    url_env: ClassVar[str]
    token: ClassVar[str]
    can_fail = True

    def start(self, tmp_path: Path) -> None:
        self.receiver = HttpReceiver(f"/hooks/T000/B000/{self.token}")

    def stop(self) -> None:
        self.receiver.stop()

    def env(self) -> dict[str, str]:
        return {self.url_env: self.receiver.url}

    def secrets(self) -> list[str]:
        return [self.token]

    def settings(self) -> dict[str, Any]:
        return {"type": self.name, "url_env": self.url_env}

    def received(self) -> list[str]:
        return [request.body.decode() for request in self.receiver.received]

    def go_down(self) -> None:
        self.receiver.fail_with(503)

    def recover(self) -> None:
        self.receiver.recover()


class LocalHarness:
    """A destination on this machine (the terminal, a file): no secret to read from the environment."""

    def env(self) -> dict[str, str]:
        return {}

    def secrets(self) -> list[str]:
        return []

    def stop(self) -> None:
        pass


def chat_harness(name: str, url_env: str, token: str) -> type[ChatWebhookHarness]:
    """The harness of a chat channel whose only difference from the others is its type and webhook variable."""
    return type(f"{name.title().replace('_', '')}Harness", (ChatWebhookHarness,),
                {"name": name, "url_env": url_env, "token": token, "__module__": f"tests.channels.harness_{name}"})
