"""X API v2 responses as X documents them, validated, and a post turned into a `Mention`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.config import BrandConfig
from monitor.models import Engagement, Mention

SOURCE_NAME = "x"
UNAVAILABLE_AUTHOR = "[unavailable]"
TWEET_FIELDS = ["created_at", "public_metrics", "lang", "conversation_id", "referenced_tweets", "author_id"]
USER_FIELDS = ["public_metrics", "username"]
_TWITTER_EPOCH_MS = 1288834974657  # snowflake ids carry their creation time


class Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TweetMetrics(Loose):
    like_count: int = Field(0, ge=0)
    retweet_count: int = Field(0, ge=0)
    reply_count: int = Field(0, ge=0)
    quote_count: int = Field(0, ge=0)

    def engagement(self) -> Engagement:
        return Engagement(likes=self.like_count, reposts=self.retweet_count, replies=self.reply_count,
                          quotes=self.quote_count)


class Tweet(Loose):
    id: str = Field(pattern=r"^\d{1,20}$")
    text: str
    author_id: str | None = None
    created_at: datetime | None = None
    lang: str | None = None
    public_metrics: TweetMetrics | None = None

    def created(self) -> datetime:
        """When posted; without `created_at`, read from the snowflake id, which encodes it."""
        if self.created_at is not None:
            return self.created_at
        return datetime.fromtimestamp(((int(self.id) >> 22) + _TWITTER_EPOCH_MS) / 1000, UTC)


class UserMetrics(Loose):
    followers_count: int = Field(0, ge=0)


class User(Loose):
    id: str
    username: str = Field(min_length=1)
    public_metrics: UserMetrics | None = None


def describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "object"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{key}: {first['msg']}{more}"


def label(item: object) -> str:
    native = item.get("id") if isinstance(item, dict) else None
    return f"post {native}" if isinstance(native, str | int) else "a post"


class BrokenPage(ValueError):
    """A response that is not shaped as X documents it; the whole page is skipped."""


def page_parts(payload: object) -> tuple[list[object], dict[str, User], dict[str, object]]:
    """The raw posts, the valid users by id, and `meta` of one response."""
    if not isinstance(payload, dict):
        raise BrokenPage("the response is not a JSON object")
    data = payload.get("data", [])
    if not isinstance(data, list):
        raise BrokenPage("'data' is not a list of posts")
    includes = payload.get("includes") or {}
    meta = payload.get("meta") or {}
    if not isinstance(includes, dict) or not isinstance(meta, dict):
        raise BrokenPage("'includes' or 'meta' is not an object")
    users: dict[str, User] = {}
    for raw in includes.get("users") or []:
        try:
            user = User.model_validate(raw)
        except ValidationError:
            continue  # the post still counts; its author shows as unavailable
        users[user.id] = user
    return data, users, meta


def to_mention(tweet: Tweet, author: User | None, brands: Sequence[BrandConfig]) -> Mention | None:
    """The mention of the first brand the post's text matches; None when none does."""
    for brand in brands:
        query = brand.match(tweet.text)
        if query is None:
            continue
        handle = author.username if author else UNAVAILABLE_AUTHOR
        followers = author.public_metrics.followers_count if author and author.public_metrics else 0
        url = f"https://x.com/{author.username}/status/{tweet.id}" if author else f"https://x.com/i/web/status/{tweet.id}"
        metrics = tweet.public_metrics or TweetMetrics()
        return Mention(
            id=Mention.make_id(SOURCE_NAME, tweet.id), source=SOURCE_NAME, native_id=tweet.id, url=url,
            author_handle=handle, author_followers=followers, text=tweet.text, lang=tweet.lang,
            created_at=tweet.created(), brand=brand.name, query=query, engagement=metrics.engagement(),
        )
    return None
