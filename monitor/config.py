"""Earshot's one YAML config file, validated with pydantic.

Every section forbids unknown keys, so a typo fails loudly with the key's dotted path
instead of being silently ignored. Secrets never live here: a source names the
environment variable (or Airflow connection) that holds its credential.
"""

from __future__ import annotations

import errno
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, SerializeAsAny, ValidationError, field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from monitor.health.settings import HealthConfig
from monitor.plugins import DETECTORS_GROUP, UnknownPlugin, installed
from monitor.noise.settings import NoiseConfig, SpamSettings

if TYPE_CHECKING:
    from monitor.query import BrandQuery

from monitor.replies.settings import RepliesConfig

class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the offending key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BrandConfig(_Strict):
    """A brand and the one query that says which posts are about it (monitor/query/).

    `query` is Lucene/Boolean syntax (`Brisa AND (bill OR billing) NOT giveaway`). The
    older form, `queries` (any of these) with `exclude` (none of these), still works: it
    is translated into the query it means.
    """

    name: str = Field(min_length=1)
    query: str | None = None
    queries: list[str] | None = Field(None, min_length=1)
    exclude: list[str] = Field(default_factory=list)
    exclude_nsfw: bool = False  # leave out posts the platform marks adult-only (Reddit's over_18)
    spam: SpamSettings = Field(default_factory=SpamSettings)  # how this brand's spam is scored (monitor/noise)
    _compiled_query: BrandQuery = PrivateAttr()

    @field_validator("query")
    @classmethod
    def _parse_query(cls, value: str | None) -> str | None:
        if value is not None:
            _compiled(value)
        return value

    @model_validator(mode="after")
    def _one_query(self) -> BrandConfig:
        if self.query is not None and self.queries is not None:
            raise PydanticCustomError("query_twice", "give either query or the older queries list, not both")
        if self.query is not None and self.exclude:
            raise PydanticCustomError(
                "query_exclude", "with query, write exclusions in it (... NOT (hiring OR giveaway)); "
                "exclude only goes with the older queries list")
        if self.query is None and self.queries is None:
            raise PydanticCustomError("missing_query", "give the brand a query (e.g. query: '\"my brand\" OR mybrand')")
        # Compiled once here (the older lists can also hold terms no query can use, "🔥"), not per post.
        self._compiled_query = _compiled(self.query_text)
        return self

    def __getstate__(self) -> dict[Any, Any]:
        # The compiled query is generated code, which does not pickle; it is compiled again on the
        # other side (a run's local workers get the config so: monitor/workers.py).
        state = super().__getstate__()
        private = {k: v for k, v in (state.get("__pydantic_private__") or {}).items() if k != "_compiled_query"}
        return {**state, "__pydantic_private__": private}

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        self._compiled_query = _compiled(self.query_text)

    @property
    def query_text(self) -> str:
        """The brand's query: as written, or translated from the older lists."""
        from monitor.query import legacy_query

        return self.query if self.query is not None else legacy_query(self.queries or [], self.exclude)

    @property
    def compiled(self) -> BrandQuery:
        return self._compiled_query

    def match(self, text: str, **fields: Any) -> str | None:
        """What `text` matched on (the query's first matching term), or None if the query does not match.

        `fields` are what the source knows of the post for field filters: lang, source,
        author, country, links.
        """
        return self.compiled.match(text, **fields)


@lru_cache(maxsize=1024)
def _compiled(text: str) -> BrandQuery:
    """Parsed and compiled once per query text, however often a config is loaded or copied."""
    from monitor.query import BrandQuery, QueryError

    try:
        return BrandQuery.parse(text)
    except QueryError as exc:
        raise PydanticCustomError("query_syntax", "{message}", {"message": str(exc)}) from None


class SourceSettings(_Strict):
    """Settings every source has; a source plugin subclasses this with its own options.

    Credentials are never values here: `credentials_env` names the environment variables
    that hold them (or `airflow_conn_id` an Airflow connection), so the file can be shared.
    """

    # False for recordings (the replay): they run when triggered, not on a poll schedule.
    live: ClassVar[bool] = True

    enabled: bool = True  # listing a source means using it; `enabled: false` pauses it
    poll_seconds: int = Field(300, ge=10)
    # How long after posting a mention's engagement keeps being refreshed: spread is followed
    # while it can still matter, without re-polling old posts forever.
    follow_hours: int = Field(24, ge=0, le=24 * 14)
    credentials_env: list[str] = Field(default_factory=list)
    airflow_conn_id: str | None = None

    def missing_credentials(self) -> list[str]:
        return [name for name in self.credentials_env if not os.environ.get(name)]

    def input_files(self) -> dict[str, Path]:
        """Files this source reads that must exist before a run, by setting name (a recording's `path`).

        Checked up front by `earshot run`, so a wrong path is bad input (exit 2), not an outage.
        """
        return {}


def _relocated(error: ValidationError, *prefix: str | int) -> list[dict[str, Any]]:
    """A plugin's own validation errors, placed under its key in the config (`sources.x.<key>`)."""
    return [
        {"type": e["type"], "loc": (*prefix, *e["loc"]), "input": e["input"], **({"ctx": e["ctx"]} if "ctx" in e else {})}
        for e in error.errors()
    ]


def _unknown(kind: str, exc: UnknownPlugin) -> PydanticCustomError:
    return PydanticCustomError(kind, "{message}", {"message": str(exc)})


def _validate_sources(raw: object) -> dict[str, SourceSettings]:
    """Each `sources.<name>` validated by the settings model of the source plugin called `name`."""
    from monitor.sources.registry import find_source  # the registry imports this module

    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PydanticCustomError("sources_mapping", "must map source names to their settings")
    settings: dict[str, SourceSettings] = {}
    errors: list[dict[str, Any]] = []
    for name, value in raw.items():
        try:
            settings[name] = find_source(name).settings(value)
        except UnknownPlugin as exc:
            errors.append({"type": _unknown("unknown_source", exc), "loc": (name,), "input": value})
        except ValidationError as exc:
            errors += _relocated(exc, name)
    if errors:
        raise ValidationError.from_exception_data("sources", errors)
    return settings


class SentimentConfig(_Strict):
    """`sentiment`: which backend scores posts (`earshot.sentiment`, sentiment/backends.py) and its settings.

    A backend plugin's settings model subclasses this one and validates the whole section.
    """

    backend: str = "transformer"
    # "bundled": the model that ships with Earshot; otherwise a local path or a Hugging Face model id.
    model: str = "bundled"
    batch_size: int = Field(32, ge=1, le=1024)
    max_length: int = Field(128, ge=8, le=512)


def _validate_sentiment(raw: object) -> SentimentConfig:
    """`sentiment` validated by the settings model of the backend plugin its `backend` names."""
    from sentiment.backends import find_backend  # the registry imports this module

    if isinstance(raw, SentimentConfig):
        return raw
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise PydanticCustomError("sentiment_mapping", "must be a mapping of sentiment settings")
    try:
        return find_backend(str(raw.get("backend", "transformer"))).settings(raw)
    except UnknownPlugin as exc:
        raise _unknown("unknown_sentiment_backend", exc) from None


class StormScale(_Strict):
    """One time scale storms are judged at: a window of `minutes`, unusual from `z` robust spreads."""

    minutes: int = Field(ge=1, le=24 * 60)
    z: float = Field(gt=0)


class StormConfig(_Strict):
    """When a brand's mention volume, complaints or negative share count as a storm.

    Each bucket is compared, at each of `scales`, with the same time of day over the last
    `history_days` (and, after two weeks, the same weekday), in robust standard
    deviations of the brand's own history (`monitor/storm.py`). Defaults are the ones
    `benchmarks/storms_nab.py` measures on real Twitter mention series.
    """

    enabled: bool = True
    bucket_minutes: Literal[1, 5, 10, 15, 30, 60] = 5
    scales: list[StormScale] = Field(
        default_factory=lambda: [StormScale(minutes=5, z=15.0), StormScale(minutes=60, z=7.0),
                                 StormScale(minutes=360, z=4.5)],
        min_length=1,
    )
    history_days: int = Field(7, ge=1, le=28)  # the same time of day on this many previous days
    neighbour_minutes: int = Field(30, ge=0, le=180)  # ... within this many minutes of it
    min_history_days: float = Field(2.0, gt=0)  # the minimum-data rule: no storm alerts before this much
    min_mentions: int = Field(5, ge=1)  # a window with fewer mentions (or negatives) is never a storm
    share_z: float = Field(5.0, gt=0)  # negative-share storms: this unusual an hourly share ...
    min_share_increase: float = Field(0.15, gt=0, lt=1)  # ... and this much above the usual share
    cooldown_hours: int = Field(24, ge=1)  # unusual buckets this close together are one storm, one alert

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: Any) -> Any:
        if isinstance(data, dict):
            old = sorted(k for k in ("z_threshold", "min_ratio") if k in data)
            if old:
                raise ValueError(f"{', '.join(old)}: retired; storms are judged at several time scales, each with its "
                                 "own z (scales: [{minutes: 60, z: 7}, ...]). Delete these keys.")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> StormConfig:
        if self.min_history_days > self.history_days:
            raise ValueError("min_history_days must not exceed history_days")
        for scale in self.scales:
            if scale.minutes % self.bucket_minutes:
                raise ValueError(f"scale of {scale.minutes} min is not a whole number of "
                                 f"{self.bucket_minutes}-minute buckets")
        return self


class SpreadSettings(_Strict):
    """When a negative post counts as spreading: the `spread` detector's settings.

    At every snapshot a post's final size is forecast (`monitor/forecast.py`, fitted on
    real retweet cascades) and compared with the brand's own normal: the reach of its top
    `reach_top_share` of posts over the last `baseline_hours`. A negative post alerts when
    it is at least `alert_probability` likely to end above that (info), above
    `warning_factor` times it (warning) or `critical_factor` times it (critical).
    Defaults are the ones `benchmarks/spread_real.py` measures on real cascades.
    """

    reach_top_share: float = Field(0.005, gt=0, lt=0.5)  # the brand's top 0.5% of posts by reach
    alert_probability: float = Field(0.7, gt=0, lt=1)  # chosen out of fold by benchmarks/fit_spread.py
    warning_factor: float = Field(3.0, gt=1)
    critical_factor: float = Field(10.0, gt=1)
    window_minutes: int = Field(30, ge=1)  # recent gain quoted in the alert
    baseline_hours: int = Field(168, ge=1)
    max_post_age_hours: int = Field(48, ge=1)  # older posts no longer alert

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: Any) -> Any:
        if isinstance(data, dict):
            old = sorted(k for k in RETIRED_DETECTION_KEYS if k in data)
            if old:
                raise ValueError(
                    f"{', '.join(old)}: retired, because absolute floors fitted to a simulator made the detector alert "
                    "on most real posts; thresholds are now relative to the brand (reach_top_share, "
                    "alert_probability). Delete these keys."
                )
        return data

    @model_validator(mode="after")
    def _ordered(self) -> SpreadSettings:
        if self.critical_factor <= self.warning_factor:
            raise ValueError("critical_factor must be greater than warning_factor")
        return self


class DetectionConfig(SpreadSettings):
    """`detection`: which detectors run, in order, and each one's settings.

    Detectors are plugins (`earshot.detectors`, `monitor/detection.py`). The spread
    detector's settings are this section's own keys (above), the storm detector's are
    `detection.storm`, and any other detector's are `detection.<its name>`, validated by
    its settings model.
    """

    detectors: list[str] = Field(default_factory=lambda: ["spread", "storm"])
    storm: StormConfig = Field(default_factory=StormConfig)
    # Filled from `detection.<name>` sections of installed detector plugins; not a key of its own.
    plugin_settings: dict[str, SerializeAsAny[BaseModel]] = Field(default_factory=dict, exclude=True)

    @field_validator("detectors")
    @classmethod
    def _installed(cls, names: list[str]) -> list[str]:
        for name in names:
            if name not in installed(DETECTORS_GROUP):
                raise _unknown("unknown_detector", UnknownPlugin(DETECTORS_GROUP, name))
        if len(set(names)) != len(names):
            raise ValueError("list each detector once")
        return names

    @model_validator(mode="before")
    @classmethod
    def _plugin_sections(cls, data: Any) -> Any:
        """`detection.<name>` of an installed detector plugin, validated by that plugin's settings model."""
        if not isinstance(data, dict):
            return data
        from monitor.detection import find_detector  # the registry imports this module

        own = set(cls.model_fields) - {"plugin_settings"}
        plugins = [key for key in data if key not in own and key in installed(DETECTORS_GROUP)]
        if not plugins and "plugin_settings" not in data:
            return data
        settings: dict[str, BaseModel] = {}
        errors: list[dict[str, Any]] = []
        if "plugin_settings" in data:
            errors.append({"type": "extra_forbidden", "loc": ("plugin_settings",), "input": data["plugin_settings"]})
        for name in plugins:
            try:
                settings[name] = find_detector(name).settings(data[name])
            except ValidationError as exc:
                errors += _relocated(exc, name)
        if errors:
            raise ValidationError.from_exception_data("detection", errors)
        return {key: value for key, value in data.items() if key not in plugins} | {"plugin_settings": settings}


RETIRED_DETECTION_KEYS = ("min_velocity_per_min", "baseline_multiplier", "min_predicted_reach", "reach_quantile",
                          "min_baseline_posts")


# -- alert channels ----------------------------------------------------------------
# Secrets (chat webhook URLs, the SMTP password, the webhook signing key) are never
# values here: a channel names the environment variable that holds each one, so the
# file can be committed and shared. Each channel's own settings model sits next to its
# plugin descriptor (the built-in ones in monitor/alerts/builtin.py); channels are built
# by monitor.alerts.build_channels, which names any variable that is missing.

def _env_name(value: object) -> object:
    # The message never echoes the value: someone may have pasted the secret itself here.
    if isinstance(value, str) and not (value.isascii() and value.isidentifier()):
        raise ValueError("must be the NAME of an environment variable (like EARSHOT_SLACK_WEBHOOK_URL), not its value")
    return value


EnvName = Annotated[str, BeforeValidator(_env_name)]


class ChannelRoute(_Strict):
    """Which alerts a channel receives. Each list empty means "all"; all conditions must hold."""

    brands: list[str] = Field(default_factory=list)
    min_severity: Literal["info", "warning", "critical"] = "info"
    topics: list[str] = Field(default_factory=list)  # an alert without a topic matches only an empty list
    # Pipeline-health alerts (a failing or silent source, ...) ignore brands/topics: their own minimum, or off.
    health: Literal["off", "info", "warning", "critical"] = "info"


class ChannelSettings(_Strict):
    """Settings every alert channel has; a channel plugin subclasses this with its own options.

    `type` names the channel plugin (`earshot.channels`) whose settings model validates the
    rest of the item, so `alerts.channels.<i>.<type>.<key>` names a wrong key.
    """

    type: str
    route: ChannelRoute = Field(default_factory=ChannelRoute)
    # Inside Airflow: the connection (Earshot Slack/Teams, or the SMTP provider's) holding the secret
    # when its environment variable is not set.
    airflow_conn_id: str | None = None

    def secret_env_names(self) -> list[str]:
        """The environment variables this channel reads its secrets from."""
        return []

    def missing_secrets(self) -> list[str]:
        return [name for name in self.secret_env_names() if not os.environ.get(name)]


def _validate_channels(raw: object) -> list[ChannelSettings]:
    """Each item of `alerts.channels` validated by the settings model of the channel plugin its `type` names."""
    from monitor.alerts.channels import find_channel  # the registry imports this module

    if not isinstance(raw, list):
        raise PydanticCustomError("channels_list", "must be a list of channels, each with a type")
    channels: list[ChannelSettings] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(raw):
        if isinstance(item, ChannelSettings):
            channels.append(item)
            continue
        if not isinstance(item, dict) or "type" not in item:
            errors.append({"type": "missing", "loc": (index, "type"), "input": item})
            continue
        kind = str(item["type"])
        try:
            channels.append(find_channel(kind).settings(item))
        except UnknownPlugin as exc:
            errors.append({"type": _unknown("unknown_channel", exc), "loc": (index,), "input": item})
        except ValidationError as exc:
            errors += _relocated(exc, index, kind)
    if errors:
        raise ValidationError.from_exception_data("channels", errors)
    return channels


class AlertsConfig(_Strict):
    # The public address of the Earshot UI; when set, chat and email alerts link to the alert there.
    inbox_url: str | None = None
    channels: Annotated[list[SerializeAsAny[ChannelSettings]], BeforeValidator(_validate_channels)] = Field(
        default_factory=lambda: _validate_channels([{"type": "console"}]))
    # How long a run's claim on one delivery lasts (monitor/alerts/delivery.py): longer than
    # one send with its retries; a killed run's alerts go out this long after it died.
    delivery_lease_seconds: int = Field(300, ge=10, le=86400)

    @field_validator("inbox_url")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url


class ElasticsearchStoreConfig(_Strict):
    """`store.elasticsearch`: where the Elasticsearch store is and how long it keeps data.

    Credentials are never values here: `url_env`, `api_key_env` and `password_env` name
    environment variables; inside Airflow tasks `airflow_conn_id` names a connection
    (apache-airflow-providers-elasticsearch), used instead of the URL.
    """

    url_env: EnvName = "ELASTICSEARCH_URL"  # the URL may carry user:password; it is never logged
    api_key_env: EnvName | None = None
    username: str | None = None
    password_env: EnvName | None = None
    index_prefix: str = Field("earshot", pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$")
    retention_days: int | None = Field(365, ge=1)  # mentions and snapshots, by post date; None keeps all
    airflow_conn_id: str | None = None
    ca_certs: Path | None = None  # CA bundle for an https URL; relative to this file
    verify_certs: bool = True

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> ElasticsearchStoreConfig:
        if self.username and not self.password_env:
            raise ValueError("username needs password_env (the variable that holds the password)")
        if self.api_key_env and self.username:
            raise ValueError("use api_key_env or username + password_env, not both")
        return self


class StoreConfig(_Strict):
    backend: Literal["sqlite", "elasticsearch"] = "sqlite"
    path: Path = Path("earshot.db")  # the SQLite file (and what `earshot reindex` copies from)
    # SQLite: mentions and snapshots older than this are purged (monitor/removals.py); None keeps all.
    # Elasticsearch: store.elasticsearch.retention_days (ILM, and the same purge).
    retention_days: int | None = Field(365, ge=1)
    elasticsearch: ElasticsearchStoreConfig = Field(default_factory=ElasticsearchStoreConfig)


class WebUser(_Strict):
    """A person who signs in to the UI with a password, read from the variable `password_env`."""

    username: str = Field(min_length=1, max_length=100, pattern=r"^[^\s:]+$")
    password_env: EnvName
    display_name: str | None = Field(None, min_length=1, max_length=100)  # in the audit trail; default: username

    @property
    def actor(self) -> str:
        return self.display_name or self.username


class WebAuthConfig(_Strict):
    """Who may read the inbox and act on alerts: every page and API call needs one of these.

    * a token from the environment variable `token_env`: `Authorization: Bearer <token>`
      for the API, or the login page for the UI;
    * users with passwords from environment variables, for the login form.

    With neither set (the demo), the CLI prints a one-time sign-in link at each start.
    Secrets are never values in this file.
    """

    token_env: EnvName = "EARSHOT_WEB_TOKEN"
    token_actor: str = Field("token", min_length=1, max_length=100)  # who token sign-ins are in the audit trail
    users: list[WebUser] = Field(default_factory=list)
    session_hours: float = Field(12, gt=0, le=24 * 30)
    # A stable key for signing session cookies, so sessions survive a restart; default: random per start.
    secret_key_env: EnvName | None = None
    secure_cookies: bool = False  # true when the UI is served over HTTPS (e.g. behind a TLS proxy)

    @field_validator("users")
    @classmethod
    def _unique(cls, users: list[WebUser]) -> list[WebUser]:
        names = [u.username.casefold() for u in users]
        if len(names) != len(set(names)):
            raise ValueError("usernames must be unique")
        return users


class WebConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_body_bytes: int = Field(1_000_000, ge=1024, le=100_000_000)  # larger request bodies are refused (413)
    auth: WebAuthConfig = Field(default_factory=WebAuthConfig)


class TeamConfig(_Strict):
    name: str = Field(min_length=1, max_length=100)
    members: list[str] = Field(default_factory=list)  # people, suggested when assigning


class TopicConfig(_Strict):
    """One topic of the taxonomy: the keywords that say a post is about it, and who owns it.

    `keywords` maps a language code (en, es, id, ...; `any` for every language) to words
    or phrases. Matching ignores case and accents and respects word boundaries; a
    trailing `*` matches any word starting with it (`refund*`: refund, refunds, refunded).
    """

    name: str = Field(min_length=1, max_length=60)
    team: str | None = Field(None, min_length=1, max_length=100)
    keywords: dict[str, list[str]] = Field(min_length=1)

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, keywords: dict[str, list[str]]) -> dict[str, list[str]]:
        for lang, words in keywords.items():
            if not words:
                raise ValueError(f"{lang}: list at least one keyword")
            for word in words:
                stripped = word.strip()
                if len(stripped.rstrip("*")) < 2 or "*" in stripped.rstrip("*") or stripped.endswith("**"):
                    raise ValueError(f"{lang}: {word!r} is not a keyword (2+ characters; '*' only at the end)")
        return keywords


class TopicsConfig(_Strict):
    """What negative posts are about, and which team owns each topic (routing).

    `backend: keywords` (the default) works offline from `taxonomy`; other backends
    (a zero-shot classifier, say) plug in behind `monitor.topics.TopicClassifier`.
    """

    backend: Literal["keywords"] = "keywords"
    taxonomy: list[TopicConfig] = Field(default_factory=list)
    teams: list[TeamConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> TopicsConfig:
        names = [t.name.casefold() for t in self.taxonomy]
        if len(names) != len(set(names)):
            raise ValueError("taxonomy: topic names must be unique")
        if self.teams:
            known = {t.name for t in self.teams}
            for topic in self.taxonomy:
                if topic.team is not None and topic.team not in known:
                    raise ValueError(f"taxonomy: topic {topic.name!r} names team {topic.team!r}, not in teams")
        return self

    def team_names(self) -> list[str]:
        """Declared teams, then any team a topic names without declaring it."""
        names = [t.name for t in self.teams]
        return names + [t.team for t in self.taxonomy if t.team and t.team not in names]


class ScaleConfig(_Strict):
    """How scoring and detection are cut into bounded chunks (monitor/partitions.py): what one Airflow
    task instance does, and so what a worker holds at once."""

    score_chunk_posts: int = Field(20_000, ge=100, le=10_000_000)  # pending posts per scoring chunk, about
    detect_partition_hours: int = Field(6, ge=0, le=24 * 7)  # detection's time partitions; 0: one
    max_detect_partitions: int = Field(24, ge=1, le=1000)  # per brand; the first takes everything older
    # Processes `earshot run` works with at once, its own included (monitor/workers.py): noise and
    # detection beside scoring. 1: everything in the run's own process. On Airflow, the DAG's mapped tasks.
    workers: int = Field(1, ge=1, le=64)
    # What the run's processes hold together, about: the workers detect as many brands at once as fits.
    memory_mb: int = Field(700, ge=100, le=1_000_000)


class Config(_Strict):
    brands: list[BrandConfig] = Field(min_length=1)
    # Keyed by source plugin name; each value is validated by that plugin's settings model.
    sources: Annotated[dict[str, SerializeAsAny[SourceSettings]], BeforeValidator(_validate_sources)] = Field(
        default_factory=dict)
    sentiment: Annotated[SerializeAsAny[SentimentConfig], BeforeValidator(_validate_sentiment)] = Field(
        default_factory=SentimentConfig)
    detection: DetectionConfig = Field(default_factory=DetectionConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    topics: TopicsConfig = Field(default_factory=TopicsConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)  # pipeline-health alerts (monitor/health)
    noise: NoiseConfig = Field(default_factory=NoiseConfig)  # near-duplicate clustering (monitor/noise)
    scale: ScaleConfig = Field(default_factory=ScaleConfig)
    replies: RepliesConfig = Field(default_factory=RepliesConfig)  # monitor/replies/settings.py

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


# Pydantic's wording for these says what is wrong but not what to do about it.
_FIXES = {
    "extra_forbidden": "not a config key; remove it or fix its spelling",
    "missing": "required; add it",
}


def _format_errors(source: str, error: ValidationError) -> str:
    """One line per problem, each naming the file and the key, so each is readable on its own.

    The offending value is never quoted: a secret pasted under the wrong key must not end
    up in a terminal, a log or the Airflow UI.
    """
    lines = []
    for err in error.errors():
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        message = _FIXES.get(err["type"], err["msg"]).replace("\n", " ")
        lines.append(f"{source}: {key}: {message}")
    return "\n".join(lines)


def parse_config(data: object, source: str = "<config>", base_dir: Path | None = None) -> Config:
    if data is None:
        raise ConfigError(f"{source}: the config is empty; list at least brands (see the demo config)")
    if not isinstance(data, dict):
        found = {list: "a list", str: "a single value"}.get(type(data), f"a {type(data).__name__}")
        raise ConfigError(f"{source}: the top level must be a mapping of sections (brands, sources, ...), not {found}")
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
    """Read, parse and validate a config file; any failure is a one-line ConfigError per problem."""
    path = Path(path)
    data = _parse_yaml(path, _read_text(path))
    # The bundled demo config lives inside the installed package; its relative paths
    # (the SQLite file, the alerts log) belong in the user's data directory instead.
    is_demo = path.resolve() == demo_config_path().resolve()
    return parse_config(data, source=str(path), base_dir=data_home() if is_demo else path.resolve().parent)


def _read_fix(path: Path, exc: OSError) -> str:
    """Why a config file cannot be read, and what to do, in the user's terms rather than errno's."""
    if exc.errno == errno.ENOENT:
        return f"no such file; check the path, or start from a copy of the demo config {demo_config_path()}"
    if exc.errno == errno.EISDIR:
        return "it is a directory; pass the YAML file itself"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied; make it readable by this user (chmod u+r {path})"
    if exc.errno == errno.ENOTDIR:
        return "part of the path is a file, not a directory; check the path"
    return f"{(exc.strerror or type(exc).__name__).lower()}; check the file and its disk"


def _read_text(path: Path) -> str:
    """The file as text; bytes that are not UTF-8 are named by line, not left to a traceback."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {_read_fix(path, exc)}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line}); save the file as UTF-8"
        ) from None


def _parse_yaml(path: Path, text: str) -> object:
    """The YAML document, or a ConfigError naming the line and column where parsing stopped."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: {_yaml_problem(exc)}; fix the syntax there") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's several-line report as one line: position first, then what the parser expected."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    context, started = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and started is not None and (mark is None or started.line != mark.line):
        problem += f" ({context} started on line {started.line + 1})"
    return f"{where}not valid YAML: {problem}"


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
