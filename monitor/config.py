"""Earshot's one YAML config file, validated with pydantic.

Every section forbids unknown keys, so a typo fails loudly with the key's dotted path
instead of being silently ignored. Secrets never live here: a source names the
environment variable (or Airflow connection) that holds its credential.
"""

from __future__ import annotations

import os
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError


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


class SourceSettings(_Strict):
    """Settings every source has; a source plugin subclasses this with its own options.

    Credentials are never values here: `credentials_env` names the environment variables
    that hold them (or `airflow_conn_id` an Airflow connection), so the file can be shared.
    """

    # False for recordings (the replay): they run when triggered, not on a poll schedule.
    live: ClassVar[bool] = True

    enabled: bool = True  # listing a source means using it; `enabled: false` pauses it
    poll_seconds: int = Field(300, ge=10)
    credentials_env: list[str] = Field(default_factory=list)
    airflow_conn_id: str | None = None

    def missing_credentials(self) -> list[str]:
        return [name for name in self.credentials_env if not os.environ.get(name)]


SOURCE_PLUGINS = "earshot.sources"


def source_settings_model(name: str) -> type[SourceSettings]:
    """The settings class the installed plugin `name` declares (its `settings_model`)."""
    found = entry_points(group=SOURCE_PLUGINS, name=name)
    if not found:
        installed = ", ".join(sorted(ep.name for ep in entry_points(group=SOURCE_PLUGINS))) or "none"
        raise PydanticCustomError(
            "unknown_source",
            "no source plugin named '{name}' is installed (installed: {installed})",
            {"name": name, "installed": installed},
        )
    return getattr(next(iter(found)).load(), "settings_model", SourceSettings)


def _validate_sources(raw: object) -> dict[str, SourceSettings]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PydanticCustomError("sources_mapping", "must map source names to their settings")
    settings: dict[str, SourceSettings] = {}
    errors: list[dict[str, Any]] = []
    for name, value in raw.items():
        try:
            settings[name] = source_settings_model(name).model_validate(value or {})
        except PydanticCustomError as exc:
            errors.append({"type": exc, "loc": (name,), "input": value})
        except ValidationError as exc:
            errors += [
                {"type": e["type"], "loc": (name, *e["loc"]), "input": e["input"], **({"ctx": e["ctx"]} if "ctx" in e else {})}
                for e in exc.errors()
            ]
    if errors:
        raise ValidationError.from_exception_data("sources", errors)
    return settings


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
    # Keyed by source plugin name; each value is validated by that plugin's settings model.
    sources: Annotated[dict[str, SourceSettings], BeforeValidator(_validate_sources)] = Field(default_factory=dict)
    sentiment: SentimentConfig = Field(default_factory=SentimentConfig)
    detection: DetectionConfig = Field(default_factory=DetectionConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    web: WebConfig = Field(default_factory=WebConfig)

    # Where relative paths in the file are resolved; set by load_config, not by the file.
    base_dir: Path = Field(default=Path("."), exclude=True)

    def resolve(self, path: Path) -> Path:
        return path if path.is_absolute() else (self.base_dir / path)

    def enabled_sources(self) -> dict[str, SourceSettings]:
        return {name: cfg for name, cfg in self.sources.items() if cfg.enabled}

    def live_sources(self) -> dict[str, SourceSettings]:
        """Enabled sources that poll a platform (everything but recordings)."""
        return {name: cfg for name, cfg in self.enabled_sources().items() if cfg.live}

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
