"""X API v2 responses as X documents them, validated, and a post turned into a `Mention`."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.config import BrandConfig
from monitor.models import Engagement, Mention

SOURCE_NAME = "x"
UNAVAILABLE_AUTHOR = "[unavailable]"
# note_tweet: the full text of a long post (`text` stops at 280 characters); edit_history_tweet_ids:
# the first id is the post's identity across edits.
TWEET_FIELDS = ["created_at", "public_metrics", "lang", "conversation_id", "referenced_tweets", "author_id",
                "note_tweet", "edit_history_tweet_ids", "possibly_sensitive"]
USER_FIELDS = ["public_metrics", "username", "verified"]
# The author, and the posts a retweet or quote refers to (a retweet's original is the voice).
EXPANSIONS = ["author_id", "referenced_tweets.id", "referenced_tweets.id.author_id"]
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




class NoteTweet(Loose):
    text: str


class Reference(Loose):
    type: str  # retweeted / quoted / replied_to
    id: str = Field(pattern=r"^\d{1,20}$")


class Tweet(Loose):
    id: str = Field(pattern=r"^\d{1,20}$")
    text: str
    author_id: str | None = None
    created_at: datetime | None = None
    lang: str | None = None
    public_metrics: TweetMetrics | None = None
    note_tweet: NoteTweet | None = None
    edit_history_tweet_ids: list[str] = Field(default_factory=list)
    referenced_tweets: list[Reference] = Field(default_factory=list)

    @property
    def key(self) -> str:
        """The post's identity across edits: an edit arrives under a new id, its history starts with the first."""
        first = self.edit_history_tweet_ids[0] if self.edit_history_tweet_ids else self.id
        return first if first.isdigit() else self.id

    def full_text(self) -> str:
        """What the user wrote: the long post's full text when there is one, HTML-unescaped once
        (X escapes `&`, `<` and `>` in `text`)."""
        return html.unescape(self.note_tweet.text if self.note_tweet else self.text)

    def referenced(self, kind: str) -> str | None:
        return next((r.id for r in self.referenced_tweets if r.type == kind), None)

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
    verified: bool | None = None


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
    """The raw posts, the valid users by id, and `meta` of one response (`included_tweets` for the rest)."""
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


def included_tweets(payload: object) -> dict[str, Tweet]:
    """The posts `includes.tweets` carries (the originals of retweets and quotes), valid ones by id."""
    includes = payload.get("includes") if isinstance(payload, dict) else None
    found: dict[str, Tweet] = {}
    for raw in (includes.get("tweets") or []) if isinstance(includes, dict) else []:
        try:
            tweet = Tweet.model_validate(raw)
        except ValidationError:
            continue
        found[tweet.id] = tweet
    return found


def to_mention(tweet: Tweet, author: User | None, brands: Sequence[BrandConfig]) -> Mention | None:
    """The mention of the first brand the post's text matches; None when none does.

    Keyed by the first id of the edit history, so an edit updates the mention in place. A quote
    is a mention that refers to its original. (A retweet is no mention: see `voice_of`.)
    """
    text = tweet.full_text()
    for brand in brands:
        query = brand.match(text, lang=tweet.lang, source=SOURCE_NAME, author=author.username if author else None)
        if query is None:
            continue
        handle = author.username if author else UNAVAILABLE_AUTHOR
        followers = author.public_metrics.followers_count if author and author.public_metrics else 0
        key = tweet.key
        url = f"https://x.com/{author.username}/status/{key}" if author else f"https://x.com/i/web/status/{key}"
        quoted = tweet.referenced("quoted")
        return Mention(
            id=Mention.make_id(SOURCE_NAME, key), source=SOURCE_NAME, native_id=key, url=url,
            author_handle=handle, author_followers=followers, text=text, lang=tweet.lang,
            created_at=tweet.created(), brand=brand.name, query=query,
            engagement=(tweet.public_metrics or TweetMetrics()).engagement(),
            engagement_known=tweet.public_metrics is not None,
            refers_to=Mention.make_id(SOURCE_NAME, quoted) if quoted else None,
            author_verified=author.verified if author else None,
        )
    return None


def voice_of(tweet: Tweet, included: dict[str, Tweet]) -> Tweet | None:
    """The post that speaks: the post itself, or for a retweet its original (when X included it).

    A retweet is engagement of the original, not a new voice: its own text is a truncated
    `RT @user: ...` copy. Without the original at hand there is nothing to store.
    """
    original = tweet.referenced("retweeted")
    if original is None:
        return tweet
    return included.get(original)
