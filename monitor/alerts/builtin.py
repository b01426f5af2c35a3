"""Earshot's own alert channels as plugins: each one's settings model and its descriptor.

pyproject.toml registers these descriptors in the `earshot.channels` group, like any
third-party channel. This module imports pydantic and the config's base classes only:
validating `alerts.channels` loads it, and the channel itself (httpx, rich, smtplib) is
imported by the factory, when `build_channels` builds the channels for a delivery run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from monitor.config import ChannelSettings, EnvName
from monitor.plugins import Plugin, lazy

__all__ = [
    "CONSOLE", "EMAIL", "JSONL", "SLACK", "TEAMS", "WEBHOOK", "ConsoleSettings", "EmailSettings",
    "HttpChannelSettings", "JsonlSettings", "SlackSettings", "TeamsSettings", "WebhookSettings",
]


class HttpChannelSettings(ChannelSettings):
    """What every channel that POSTs over HTTP has: how long and how often to try per run."""

    timeout_seconds: float = Field(10, gt=0, le=120)
    attempts: int = Field(3, ge=1, le=10)  # per alert and run; then it waits in the outbox for the next run
    # A 429/503 asking to wait longer than this ends the run's attempts (the outbox keeps the alert).
    max_retry_after_seconds: float = Field(30, ge=0, le=600)


class ConsoleSettings(ChannelSettings):
    type: Literal["console"] = "console"


class JsonlSettings(ChannelSettings):
    type: Literal["jsonl"] = "jsonl"
    path: Path = Path("alerts.jsonl")


class WebhookSettings(HttpChannelSettings):
    """Any HTTP endpoint; each POST is signed with HMAC-SHA256 (see monitor/alerts/webhook.py)."""

    type: Literal["webhook"] = "webhook"
    url: str | None = None  # a plain endpoint; use url_env instead if the URL embeds a token
    url_env: EnvName | None = None
    secret_env: EnvName = "EARSHOT_WEBHOOK_SECRET"

    @field_validator("url")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url

    @model_validator(mode="after")
    def _one_url(self) -> WebhookSettings:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("set exactly one of url or url_env")
        return self

    def secret_env_names(self) -> list[str]:
        return [name for name in (self.url_env, self.secret_env) if name]


class ChatSettings(HttpChannelSettings):
    """A chat incoming webhook (Slack, Teams): its URL is itself the credential, read from `url_env`."""

    url_env: EnvName

    def secret_env_names(self) -> list[str]:
        return [self.url_env]


class SlackSettings(ChatSettings):
    type: Literal["slack"] = "slack"
    url_env: EnvName = "EARSHOT_SLACK_WEBHOOK_URL"


class TeamsSettings(ChatSettings):
    type: Literal["teams"] = "teams"
    url_env: EnvName = "EARSHOT_TEAMS_WEBHOOK_URL"  # a Workflows (or legacy connector) webhook URL


class EmailSettings(ChannelSettings):
    type: Literal["email"] = "email"
    host: str = Field(min_length=1)
    port: int | None = Field(None, ge=1, le=65535)  # default: 587 starttls, 465 ssl, 25 none
    security: Literal["starttls", "ssl", "none"] = "starttls"
    ca_file: Path | None = None  # a private CA for the relay's certificate; default: the system's
    username: str | None = None
    password_env: EnvName | None = None
    sender: str
    to: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(10, gt=0, le=120)
    attempts: int = Field(3, ge=1, le=10)

    @field_validator("sender", "to")
    @classmethod
    def _address(cls, value: str | list[str]) -> str | list[str]:
        for address in [value] if isinstance(value, str) else value:
            if "@" not in address or any(c in address for c in "\r\n"):
                raise ValueError(f"not an email address: {address!r}")
        return value

    @model_validator(mode="after")
    def _auth(self) -> EmailSettings:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("set both username and password_env, or neither")
        if self.password_env and self.security == "none":
            raise ValueError("password_env needs security starttls or ssl: a password is never sent in clear text")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or {"starttls": 587, "ssl": 465, "none": 25}[self.security]

    def secret_env_names(self) -> list[str]:
        return [self.password_env] if self.password_env else []


# Each factory is the channel class's `from_settings(settings, context)`, imported when called.
CONSOLE = Plugin("console", ConsoleSettings, lazy("monitor.alerts.console:ConsoleChannel.from_settings"))
JSONL = Plugin("jsonl", JsonlSettings, lazy("monitor.alerts.jsonl:JsonlChannel.from_settings"))
WEBHOOK = Plugin("webhook", WebhookSettings, lazy("monitor.alerts.webhook:WebhookChannel.from_settings"))
SLACK = Plugin("slack", SlackSettings, lazy("monitor.alerts.slack:SlackChannel.from_settings"))
TEAMS = Plugin("teams", TeamsSettings, lazy("monitor.alerts.teams:TeamsChannel.from_settings"))
EMAIL = Plugin("email", EmailSettings, lazy("monitor.alerts.mail:EmailChannel.from_settings"))
