"""Earshot's one YAML config file, validated with pydantic.

Every section forbids unknown keys, so a typo fails loudly with the key's dotted path
instead of being silently ignored. Secrets never live here: a source names the
environment variable (or Airflow connection) that holds its credential.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the offending key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BrandConfig(_Strict):
    name: str = Field(min_length=1)
    queries: list[str] = Field(min_length=1)
    exclude: list[str] = Field(default_factory=list)

    def match(self, text: str) -> str | None:
        """The first query the text matches (case-insensitive), or None if it matches none or an exclusion."""
        lowered = text.lower()
        if any(term.lower() in lowered for term in self.exclude):
            return None
        return next((q for q in self.queries if q.lower() in lowered), None)


class ReplaySourceConfig(_Strict):
    """A recorded stream of posts and engagement snapshots, replayed as if live."""

    enabled: bool = True
    path: Path | None = None  # None: the bundled demo scenario
    speed: float = Field(0, ge=0)  # 0: as fast as possible; 60: one recorded hour per real minute

    def resolved_path(self) -> Path:
        if self.path is not None:
            return self.path
        return Path(str(resources.files("monitor") / "demo" / "scenario.jsonl"))


class LiveSourceConfig(_Strict):
    """A platform API. Credentials come from the named environment variables or an Airflow connection."""

    enabled: bool = False
    credentials_env: list[str] = Field(default_factory=list)
    airflow_conn_id: str | None = None
    poll_seconds: int = Field(300, ge=10)
    options: dict[str, object] = Field(default_factory=dict)

    def missing_credentials(self) -> list[str]:
        return [name for name in self.credentials_env if not os.environ.get(name)]


class XConfig(LiveSourceConfig):
    credentials_env: list[str] = Field(default_factory=lambda: ["EARSHOT_X_BEARER_TOKEN"])


class RedditConfig(LiveSourceConfig):
    credentials_env: list[str] = Field(
        default_factory=lambda: ["EARSHOT_REDDIT_CLIENT_ID", "EARSHOT_REDDIT_CLIENT_SECRET"]
    )


class BlueskyConfig(LiveSourceConfig):
    credentials_env: list[str] = Field(
        default_factory=lambda: ["EARSHOT_BLUESKY_HANDLE", "EARSHOT_BLUESKY_APP_PASSWORD"]
    )


class MastodonConfig(LiveSourceConfig):
    credentials_env: list[str] = Field(default_factory=lambda: ["EARSHOT_MASTODON_ACCESS_TOKEN"])


class SourcesConfig(_Strict):
    replay: ReplaySourceConfig = Field(default_factory=ReplaySourceConfig)
    x: XConfig = Field(default_factory=XConfig)
    reddit: RedditConfig = Field(default_factory=RedditConfig)
    appstore: LiveSourceConfig = Field(default_factory=LiveSourceConfig)  # public feeds: no credentials
    googleplay: LiveSourceConfig = Field(default_factory=LiveSourceConfig)
    bluesky: BlueskyConfig = Field(default_factory=BlueskyConfig)
    mastodon: MastodonConfig = Field(default_factory=MastodonConfig)

    def enabled(self) -> dict[str, ReplaySourceConfig | LiveSourceConfig]:
        return {name: cfg for name, cfg in self if cfg.enabled}

    def live_enabled(self) -> dict[str, LiveSourceConfig]:
        return {name: cfg for name, cfg in self if isinstance(cfg, LiveSourceConfig) and cfg.enabled}


class SentimentConfig(_Strict):
    # "bundled": the model that ships with Earshot; otherwise a local path or a Hugging Face model id.
    model: str = "bundled"
    batch_size: int = Field(32, ge=1, le=1024)
    max_length: int = Field(128, ge=8, le=512)


class DetectionConfig(_Strict):
    """When a negative post counts as spreading.

    Velocity is weighted engagement per minute between snapshots; the baseline is the
    brand's typical velocity, so a brand that always gets a lot of engagement needs more.
    """

    min_velocity_per_min: float = Field(2.0, gt=0)
    baseline_multiplier: float = Field(5.0, gt=0)
    warning_factor: float = Field(3.0, gt=1)
    critical_factor: float = Field(10.0, gt=1)
    window_minutes: int = Field(30, ge=1)
    baseline_hours: int = Field(24, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> DetectionConfig:
        if self.critical_factor <= self.warning_factor:
            raise ValueError("critical_factor must be greater than warning_factor")
        return self


class ConsoleChannel(_Strict):
    type: Literal["console"] = "console"


class JsonlChannel(_Strict):
    type: Literal["jsonl"] = "jsonl"
    path: Path = Path("alerts.jsonl")


class WebhookChannel(_Strict):
    type: Literal["webhook"] = "webhook"
    url: str
    timeout_seconds: float = Field(10, gt=0)

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url


Channel = Annotated[ConsoleChannel | JsonlChannel | WebhookChannel, Field(discriminator="type")]


class AlertsConfig(_Strict):
    channels: list[Channel] = Field(default_factory=lambda: [ConsoleChannel()])


class StoreConfig(_Strict):
    backend: Literal["sqlite"] = "sqlite"
    path: Path = Path("earshot.db")


class WebConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)


class Config(_Strict):
    brands: list[BrandConfig] = Field(min_length=1)
    sources: SourcesConfig = Field(default_factory=SourcesConfig)
    sentiment: SentimentConfig = Field(default_factory=SentimentConfig)
    detection: DetectionConfig = Field(default_factory=DetectionConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    web: WebConfig = Field(default_factory=WebConfig)

    # Where relative paths in the file are resolved; set by load_config, not by the file.
    base_dir: Path = Field(default=Path("."), exclude=True)

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.base_dir / path)

    def brand(self, name: str) -> BrandConfig:
        for brand in self.brands:
            if brand.name == name:
                return brand
        raise KeyError(name)


def _format_errors(source: str, error: ValidationError) -> str:
    lines = [f"{source}: {error.error_count()} problem(s) in the config"]
    for err in error.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        lines.append(f"  {key}: {err['msg']}")
    return "\n".join(lines)


def parse_config(data: object, source: str = "<config>", base_dir: Path | None = None) -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of sections (brands, sources, ...)")
    if "base_dir" in data:
        raise ConfigError(f"{source}: base_dir: not a config key")
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from None
    if base_dir is not None:
        config.base_dir = base_dir
    return config


def load_config(path: Path | str) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    # The bundled demo config lives inside the installed package; its relative paths
    # (the SQLite file, the alerts log) belong in the user's data directory instead.
    is_demo = path.resolve() == demo_config_path().resolve()
    return parse_config(data, source=str(path), base_dir=data_home() if is_demo else path.resolve().parent)


def data_home() -> Path:
    """Where the demo keeps its database and logs: `$EARSHOT_HOME`, else ./earshot-data."""
    return Path(os.environ.get("EARSHOT_HOME", "earshot-data")).resolve()


def demo_config_path() -> Path:
    return Path(str(resources.files("monitor") / "demo" / "earshot.yaml"))


def default_config_path() -> Path:
    """`$EARSHOT_CONFIG`, else ./earshot.yaml, else the bundled demo config."""
    if env := os.environ.get("EARSHOT_CONFIG"):
        return Path(env)
    local = Path("earshot.yaml")
    return local if local.exists() else demo_config_path()
