"""`replies`: saved replies, and how Earshot reaches each platform to post a reply. Pydantic only.

Posting needs *user* credentials (an account that speaks for the brand), which the sources,
reading public posts with app-only tokens, do not have. So each platform's reply settings
name their own environment variables (or fields of an Airflow connection); the values never
appear in the config file, a log line or a message.
"""

from __future__ import annotations

import string
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# What a saved reply may say about the post it answers (filled by monitor/replies/saved.py).
PLACEHOLDERS: dict[str, str] = {
    "author": "the author's handle, without @",
    "brand": "the brand the post is about",
    "topic": "the post's topic",
    "agent": "the name of the agent replying",
    "team": "the team that owns the topic",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SavedReply(_Strict):
    """A reply an agent starts from, offered on posts in its language and about its topic."""

    name: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=4000)
    lang: str = ""  # empty: any language
    topic: str = ""  # empty: any topic

    @field_validator("text")
    @classmethod
    def _known_placeholders(cls, text: str) -> str:
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError as exc:
            raise ValueError(f"not a valid template ({exc}); write a literal brace as {{{{ or }}}}") from None
        unknown = sorted(fields - set(PLACEHOLDERS))
        if unknown:
            raise ValueError(f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
                             f"use {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
        return text


class ReplySettings(_Strict):
    """What every platform's reply settings have; a platform subclasses it with its defaults.

    `credentials_env` maps each credential the platform needs to the environment variable that
    holds it; `conn_fields` maps it to the field of `airflow_conn_id`'s connection (a Connection
    attribute such as "login" or "password", or a key of its `extra`).
    """

    platform: ClassVar[str] = ""  # how people call it: "X", "Reddit"...
    default_base_url: ClassVar[str] = ""
    max_chars: ClassVar[int] = 280  # the longest reply the platform takes (characters; Bluesky: graphemes)
    # The source's setting that points at the same API (a proxy, a local fake): replies follow it.
    # Empty when the source reads another host than the one replies go to (the app stores).
    source_url_field: ClassVar[str] = "api_base_url"

    enabled: bool = True
    api_base_url: str = ""  # empty: the platform's own (or the source's, when it points elsewhere)
    credentials_env: dict[str, str] = Field(default_factory=dict)
    airflow_conn_id: str | None = None
    conn_fields: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: float = Field(20, gt=0, le=120)

    @field_validator("api_base_url")
    @classmethod
    def _http(cls, url: str) -> str:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _every_credential_named(self) -> ReplySettings:
        defaults = type(self).model_fields["credentials_env"].get_default(call_default_factory=True)
        missing = sorted(set(defaults) - set(self.credentials_env))
        if missing:  # a partial mapping given in the file: keep the defaults for the rest
            self.credentials_env = {**{k: defaults[k] for k in missing}, **self.credentials_env}
        unknown = sorted(set(self.credentials_env) - set(defaults))
        if unknown:
            raise ValueError(f"credentials_env: unknown credential(s) {unknown}; expected {sorted(defaults)}")
        return self

    def base_url(self, source_settings: Any = None) -> str:
        """Where to send requests: this setting, else the source's own base URL, else the platform's."""
        if self.api_base_url:
            return self.api_base_url
        source_url = str(getattr(source_settings, self.source_url_field, "") or "") if self.source_url_field else ""
        return source_url.rstrip("/") if source_url else self.default_base_url


def _env(**names: str) -> Any:
    return Field(default_factory=lambda: dict(names))


class XReplySettings(ReplySettings):
    """X API v2 `POST /2/tweets` with OAuth 1.0a user context (the brand account's access token)."""

    platform: ClassVar[str] = "X"
    default_base_url: ClassVar[str] = "https://api.twitter.com"
    max_chars: ClassVar[int] = 280
    credentials_env: dict[str, str] = _env(
        consumer_key="EARSHOT_X_CONSUMER_KEY", consumer_secret="EARSHOT_X_CONSUMER_SECRET",
        access_token="EARSHOT_X_ACCESS_TOKEN", access_token_secret="EARSHOT_X_ACCESS_TOKEN_SECRET")
    conn_fields: dict[str, str] = Field(default_factory=lambda: {
        "consumer_key": "login", "consumer_secret": "password",
        "access_token": "access_token", "access_token_secret": "access_token_secret"})


class RedditReplySettings(ReplySettings):
    """Reddit's `POST /api/comment` as a script app acting for the brand's account (password grant)."""

    platform: ClassVar[str] = "Reddit"
    default_base_url: ClassVar[str] = "https://oauth.reddit.com"
    max_chars: ClassVar[int] = 10000
    source_url_field: ClassVar[str] = "oauth_url"
    credentials_env: dict[str, str] = _env(
        client_id="EARSHOT_REDDIT_CLIENT_ID", client_secret="EARSHOT_REDDIT_CLIENT_SECRET",
        username="EARSHOT_REDDIT_USERNAME", password="EARSHOT_REDDIT_PASSWORD")
    conn_fields: dict[str, str] = Field(default_factory=lambda: {
        "client_id": "login", "client_secret": "password", "username": "username", "password": "user_password"})
    token_url: str = ""  # empty: www.reddit.com's, or the base URL's host when it is not Reddit's
    user_agent: str = "earshot-replies/0.1 (by the brand's care team)"


class MastodonReplySettings(ReplySettings):
    """Mastodon's `POST /api/v1/statuses` with an access token that has the `write:statuses` scope."""

    platform: ClassVar[str] = "Mastodon"
    default_base_url: ClassVar[str] = "https://mastodon.social"
    max_chars: ClassVar[int] = 500
    credentials_env: dict[str, str] = _env(access_token="EARSHOT_MASTODON_REPLY_TOKEN")
    conn_fields: dict[str, str] = Field(default_factory=lambda: {"access_token": "password"})
    visibility: str = Field("public", pattern="^(public|unlisted|private|direct)$")


class BlueskyReplySettings(ReplySettings):
    """A post with reply refs (`com.atproto.repo.createRecord`) by the brand's account (app password)."""

    platform: ClassVar[str] = "Bluesky"
    default_base_url: ClassVar[str] = "https://bsky.social"
    max_chars: ClassVar[int] = 300
    source_url_field: ClassVar[str] = "base_url"
    credentials_env: dict[str, str] = _env(handle="EARSHOT_BLUESKY_HANDLE", app_password="EARSHOT_BLUESKY_APP_PASSWORD")
    conn_fields: dict[str, str] = Field(default_factory=lambda: {"handle": "login", "app_password": "password"})


class GooglePlayReplySettings(ReplySettings):
    """The Google Play Developer API's `reviews.reply`, with a service account's key (JSON)."""

    platform: ClassVar[str] = "Google Play"
    default_base_url: ClassVar[str] = "https://androidpublisher.googleapis.com"
    max_chars: ClassVar[int] = 350
    source_url_field: ClassVar[str] = ""  # the source reads the public store, not this API
    credentials_env: dict[str, str] = _env(service_account_json="EARSHOT_GOOGLEPLAY_SERVICE_ACCOUNT_JSON")
    conn_fields: dict[str, str] = Field(default_factory=lambda: {"service_account_json": "keyfile_dict"})


class AppStoreReplySettings(ReplySettings):
    """App Store Connect's customer review responses, with an API key (issuer, key id, .p8 key)."""

    platform: ClassVar[str] = "App Store"
    default_base_url: ClassVar[str] = "https://api.appstoreconnect.apple.com"
    max_chars: ClassVar[int] = 5970
    source_url_field: ClassVar[str] = ""  # the source reads the public store, not this API
    credentials_env: dict[str, str] = _env(
        issuer_id="EARSHOT_APPSTORE_ISSUER_ID", key_id="EARSHOT_APPSTORE_KEY_ID",
        private_key="EARSHOT_APPSTORE_PRIVATE_KEY")
    conn_fields: dict[str, str] = Field(default_factory=lambda: {
        "issuer_id": "login", "key_id": "key_id", "private_key": "password"})


class RepliesConfig(_Strict):
    """The `replies` section: saved replies, and per-platform settings (validated by each platform's model)."""

    saved: list[SavedReply] = Field(default_factory=list)
    platforms: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("platforms")
    @classmethod
    def _known_platforms(cls, platforms: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        from pydantic import ValidationError

        from monitor.plugins import UnknownPlugin
        from monitor.replies import reply_plugin  # light: descriptors and these models only

        for name, raw in platforms.items():
            try:
                reply_plugin(name).settings(raw or {})
            except UnknownPlugin as exc:
                raise ValueError(str(exc)) from None
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or name}: {e['msg']}" for e in exc.errors())
                raise ValueError(f"{name}: {problems}") from None
        return platforms
