"""Earshot as an Airflow provider: connection types for each platform, so credentials live in Airflow.

pyproject.toml registers `get_provider_info` in the `apache_airflow_provider` entry-point
group; Airflow then lists Earshot under `airflow providers list` and offers an "Earshot X"
(Reddit, Bluesky, ...) connection type in the connection form. Each type's form shows
exactly the fields its source or channel reads, labelled in its own terms:

* the secret fields stand in for the environment variables the source names
  (`credentials_env`); the source reads them through `sources.<name>.airflow_conn_id`
  (monitor/sources/credentials.py) when the variable is not set;
* `host` and the extra fields set the source's settings of the same meaning (its base URL,
  Reddit's user agent), applied by `apply_connection` when the source is built in Airflow.

SMTP and Elasticsearch reuse the connection types of the providers that exist for them
(`smtp`, `elasticsearch`). This module is pure data plus one function: Airflow's providers
manager imports it at start-up, and the hooks (monitor/airflow_hooks.py) only when asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = ["CONNECTION_TYPES", "REUSED", "ConnectionType", "apply_connection", "find_type", "get_provider_info",
           "pool_name"]

STANDARD = ("host", "port", "login", "password", "schema", "extra", "description")


@dataclass(frozen=True)
class ConnectionType:
    conn_type: str  # e.g. earshot_x
    hook_name: str  # the name in the connection form's type list
    config_key: str  # what it serves: sources.x, or alerts.channels[type=slack]
    hook_class: str
    labels: dict[str, str]  # standard field -> label in the form; the other standard fields are hidden
    env: dict[str, str] = field(default_factory=dict)  # standard field -> environment variable it replaces
    settings: dict[str, str] = field(default_factory=dict)  # standard field -> the setting it sets
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)  # extra field (= setting name) -> conn-field
    placeholders: dict[str, str] = field(default_factory=dict)

    @property
    def default_conn_id(self) -> str:
        return f"{self.conn_type}_default"

    def provider_entry(self) -> dict[str, Any]:
        hidden = [f for f in STANDARD if f not in self.labels and f not in ("description", "extra")]
        if not self.extras:
            hidden.append("extra")
        entry: dict[str, Any] = {
            "connection-type": self.conn_type,
            "hook-class-name": self.hook_class,
            "hook-name": self.hook_name,
            "ui-field-behaviour": {"hidden-fields": hidden, "relabeling": dict(self.labels),
                                   "placeholders": dict(self.placeholders)},
        }
        if self.extras:
            entry["conn-fields"] = self.extras
        return entry


def _type(name: str, hook_name: str, config_key: str, **kwargs: Any) -> ConnectionType:
    cls = "".join(part.title() for part in name.split("_"))
    return ConnectionType(f"earshot_{name}", hook_name, config_key, f"monitor.airflow_hooks.Earshot{cls}Hook",
                          **kwargs)


CONNECTION_TYPES: tuple[ConnectionType, ...] = (
    _type("x", "Earshot X", "sources.x",
          labels={"password": "Bearer token", "host": "API base URL (optional)"},
          env={"password": "EARSHOT_X_BEARER_TOKEN"}, settings={"host": "api_base_url"},
          placeholders={"host": "https://api.twitter.com"}),
    _type("reddit", "Earshot Reddit", "sources.reddit",
          labels={"login": "Client ID", "password": "Client secret"},
          env={"login": "EARSHOT_REDDIT_CLIENT_ID", "password": "EARSHOT_REDDIT_CLIENT_SECRET"},
          extras={"user_agent": {"label": "User agent",
                                 "description": "Reddit asks for platform:app-id:version (by /u/owner)",
                                 "schema": {"type": ["string", "null"]}}}),
    _type("bluesky", "Earshot Bluesky", "sources.bluesky",
          labels={"login": "Handle", "password": "App password", "host": "PDS URL (optional)"},
          env={"login": "EARSHOT_BLUESKY_HANDLE", "password": "EARSHOT_BLUESKY_APP_PASSWORD"},
          settings={"host": "base_url"}, placeholders={"login": "brand.bsky.social", "host": "https://bsky.social"}),
    _type("mastodon", "Earshot Mastodon", "sources.mastodon",
          labels={"password": "Access token (read:statuses)", "host": "Instance URL"},
          env={"password": "EARSHOT_MASTODON_ACCESS_TOKEN"}, settings={"host": "api_base_url"},
          placeholders={"host": "https://mastodon.social"}),
    _type("appstore", "Earshot App Store", "sources.appstore",
          labels={"host": "Feed base URL (a proxy; no credential needed)"}, settings={"host": "base_url"},
          placeholders={"host": "https://itunes.apple.com"}),
    _type("googleplay", "Earshot Google Play", "sources.googleplay",
          labels={"host": "Base URL (a proxy; no credential needed)"}, settings={"host": "base_url"},
          placeholders={"host": "https://play.google.com"}),
    _type("slack", "Earshot Slack", "alerts.channels (type: slack)",
          labels={"password": "Incoming webhook URL"}, env={"password": "EARSHOT_SLACK_WEBHOOK_URL"}),
    _type("teams", "Earshot Teams", "alerts.channels (type: teams)",
          labels={"password": "Workflows webhook URL"}, env={"password": "EARSHOT_TEAMS_WEBHOOK_URL"}),
)

# Connection types of existing providers Earshot reads as they are: (type, provider, what uses it).
REUSED = (
    ("smtp", "apache-airflow-providers-smtp", "alerts.channels (type: email): password"),
    ("elasticsearch", "apache-airflow-providers-elasticsearch", "store.elasticsearch"),
)


def pool_name(source: str) -> str:
    """The Airflow pool a live source's ingest runs in: one per platform, so its rate limit is shared.

    Create them with `earshot airflow pools --apply` (docs/operations.md).
    """
    return f"earshot_{source}"


def find_type(conn_type: str) -> ConnectionType | None:
    return next((t for t in CONNECTION_TYPES if t.conn_type == conn_type), None)


def for_config_key(key: str) -> ConnectionType | None:
    return next((t for t in CONNECTION_TYPES if t.config_key == key), None)


def _version() -> str:
    try:
        return version("earshot")
    except PackageNotFoundError:
        return "0.0.0"


def get_provider_info() -> dict[str, Any]:
    """What Airflow's providers manager reads (the runtime provider-info schema)."""
    return {
        "package-name": "earshot",
        "name": "Earshot",
        "description": "Social listening and customer-care alerting: connection types for the platforms "
                       "Earshot reads and the chat tools it alerts.",
        "versions": [_version()],
        "integrations": [{"integration-name": "Earshot", "external-doc-url": "https://github.com/earshot/earshot",
                          "tags": ["service"]}],
        "hooks": [{"integration-name": "Earshot", "python-modules": ["monitor.airflow_hooks"]}],
        "connection-types": [t.provider_entry() for t in CONNECTION_TYPES],
    }


def apply_connection(source: str, settings: Any) -> Any:
    """`settings` with the values its Airflow connection's host and extra fields set; unchanged outside Airflow.

    Only the fields the connection actually fills are applied, so an empty host keeps the
    config's (or the default) URL. Secrets are not copied here: they are read when needed
    (monitor/sources/credentials.py), never stored on the settings.
    """
    conn_id = getattr(settings, "airflow_conn_id", None)
    kind = for_config_key(f"sources.{source}")
    if not conn_id or kind is None or not (kind.settings or kind.extras):
        return settings
    from monitor.sources.credentials import from_airflow

    update: dict[str, Any] = {}
    for conn_field, setting in kind.settings.items():
        if value := from_airflow(conn_id, conn_field):
            update[setting] = value
    for setting in kind.extras:
        if value := from_airflow(conn_id, setting):
            update[setting] = value
    if not update:
        return settings
    return type(settings).model_validate({**settings.model_dump(), **update})
