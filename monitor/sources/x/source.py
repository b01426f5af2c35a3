"""X (Twitter) recent search, through tweepy's API v2 client with an app bearer token.

One fetch runs every brand query (several queries when the terms do not fit X's
query-length limit) from the cursor onwards, newest page first, following `next_token`.

The cursor is JSON, one state per query. Recent search pages from the newest post
backwards, so a fetch that stops early (page budget spent, rate limit that cannot be
waited out, broken page) has stored the newest posts but not the older ones between
them and the previous cursor. The state then records that hole (`until_id`), and the
next fetch fills it before moving `since_id` forward: a cursor never claims posts that
were not stored.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
import tweepy
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from requests.adapters import HTTPAdapter

from monitor.config import BrandConfig
from monitor.query.platforms import UnsearchableQuery, compile_query, pack
from monitor.models import Engagement, EngagementSnapshot, Mention
from monitor.sources.base import Batch, Problem, SourceError
from monitor.sources.credentials import credential
from monitor.sources.registry import SourceContext
from monitor.sources.retries import RateLimitWaits, retrying
from monitor.sources.x.settings import RECENT_SEARCH_DAYS, TWEEPY_HOST, XSettings

log = logging.getLogger(__name__)

LOOKUP_BATCH = 100  # ids per tweet lookup request, X's maximum
UNAVAILABLE_AUTHOR = "[unavailable]"
TWEET_FIELDS = ["created_at", "public_metrics", "lang", "conversation_id", "referenced_tweets", "author_id"]
USER_FIELDS = ["public_metrics", "username"]
_TWITTER_EPOCH_MS = 1288834974657  # snowflake ids carry their creation time


# --- queries ------------------------------------------------------------------------------------


def _unique(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    return [i for i in items if not (i.lower() in seen or seen.add(i.lower()))]


def build_queries(brands: Sequence[BrandConfig], languages: Sequence[str] = (), max_length: int = 512) -> list[str]:
    """Recent-search queries that together cover every brand's query, each within `max_length`.

    Each brand's query is compiled to X's operators (monitor/query/platforms.py), split
    into several when too long; brands are then packed into as few queries as fit, each
    brand in its own parentheses so one brand's exclusions never hide another's posts.
    ValueError when a brand's query cannot be sent to X.
    """
    suffix = " -is:retweet"
    if languages:
        langs = [f"lang:{code}" for code in _unique(languages)]
        suffix += " " + (langs[0] if len(langs) == 1 else "(" + " OR ".join(langs) + ")")
    budget = max_length - len(suffix) - 4  # room for the parentheses around several groups
    groups: list[str] = []
    for brand in brands:
        try:
            groups += compile_query(brand.compiled.node, "x", max_length=budget).searches
        except UnsearchableQuery as exc:
            raise ValueError(f"brand {brand.name!r}: {exc}") from None
    return pack(groups, max_length, suffix)


# --- cursor -------------------------------------------------------------------------------------


@dataclass
class QueryState:
    """How far one query has been stored.

    Every post up to `since_id` is stored (before the first post: from `start_time`).
    While `until_id` is set, a fetch stopped early: posts from `until_id` up to
    `newest_id` are stored too, and those older than `until_id` are still to fetch.
    """

    since_id: str | None = None
    start_time: str | None = None
    until_id: str | None = None
    newest_id: str | None = None


def _max_id(*ids: str | None) -> str | None:
    present = [i for i in ids if i]
    return max(present, key=int) if present else None


def _min_id(*ids: str | None) -> str | None:
    present = [i for i in ids if i]
    return min(present, key=int) if present else None


def _is_id(value: object) -> bool:
    return isinstance(value, str) and value.isdigit()


def load_cursor(
    cursor: str | None, queries: Sequence[str], start: datetime
) -> tuple[dict[str, QueryState], list[Problem]]:
    """Each query's state; a query the cursor does not know starts at `start`.

    A bare post id (an older cursor format, or one set by hand) applies to every query.
    An unreadable cursor is reported and the lookback window used instead.
    """
    fresh = lambda: QueryState(start_time=_iso(start))  # noqa: E731
    if not cursor:
        return {q: fresh() for q in queries}, []
    if cursor.isdigit():
        return {q: QueryState(since_id=cursor) for q in queries}, []
    try:
        raw = json.loads(cursor)["queries"]
        known = {q: QueryState(**{k: v for k, v in s.items() if k in QueryState.__dataclass_fields__})
                 for q, s in raw.items()}
        for state in known.values():
            for value in (state.since_id, state.until_id, state.newest_id):
                if value is not None and not _is_id(value):
                    raise ValueError(f"not a post id: {value!r}")
            if state.start_time is not None:
                _parse_iso(state.start_time)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        problem = Problem("x cursor", f"unreadable cursor ({exc}); starting from the lookback window")
        return {q: fresh() for q in queries}, [problem]
    return {q: known.get(q) or fresh() for q in queries}, []


def dump_cursor(states: dict[str, QueryState]) -> str:
    return json.dumps({"v": 1, "queries": {q: asdict(s) for q, s in states.items()}}, sort_keys=True)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


# --- payloads -----------------------------------------------------------------------------------


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _TweetMetrics(_Loose):
    like_count: int = Field(0, ge=0)
    retweet_count: int = Field(0, ge=0)
    reply_count: int = Field(0, ge=0)
    quote_count: int = Field(0, ge=0)

    def engagement(self) -> Engagement:
        return Engagement(likes=self.like_count, reposts=self.retweet_count, replies=self.reply_count,
                          quotes=self.quote_count)


class _Tweet(_Loose):
    id: str = Field(pattern=r"^\d{1,20}$")
    text: str
    author_id: str | None = None
    created_at: datetime | None = None
    lang: str | None = None
    public_metrics: _TweetMetrics | None = None

    def created(self) -> datetime:
        """When posted; without `created_at`, read from the snowflake id, which encodes it."""
        if self.created_at is not None:
            return self.created_at
        return datetime.fromtimestamp(((int(self.id) >> 22) + _TWITTER_EPOCH_MS) / 1000, UTC)


class _UserMetrics(_Loose):
    followers_count: int = Field(0, ge=0)


class _User(_Loose):
    id: str
    username: str = Field(min_length=1)
    public_metrics: _UserMetrics | None = None


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "object"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{key}: {first['msg']}{more}"


def _label(item: object) -> str:
    native = item.get("id") if isinstance(item, dict) else None
    return f"post {native}" if isinstance(native, str | int) else "a post"


class BrokenPage(ValueError):
    """A response that is not shaped as X documents it; the whole page is skipped."""


def _page_parts(payload: object) -> tuple[list[object], dict[str, _User], dict[str, object]]:
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
    users: dict[str, _User] = {}
    for raw in includes.get("users") or []:
        try:
            user = _User.model_validate(raw)
        except ValidationError:
            continue  # the post still counts; its author shows as unavailable
        users[user.id] = user
    return data, users, meta


# --- transport ----------------------------------------------------------------------------------


class _BaseURLAdapter(HTTPAdapter):
    """Sends tweepy's requests to `base_url` instead of the host it hard-codes, with a timeout.

    tweepy exposes its `requests.Session` as `client.session`; mounting an adapter there
    is the library's own transport hook. tweepy passes no timeout, so a stalled
    connection would otherwise hang the fetch forever.
    """

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self.base = urlsplit(base_url)
        self.timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if (self.base.scheme, self.base.netloc) != ("https", urlsplit(TWEEPY_HOST).netloc):
            parts = urlsplit(request.url or "")
            request.url = urlunsplit((self.base.scheme, self.base.netloc, self.base.path + parts.path,
                                      parts.query, parts.fragment))
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)


class _Redact(logging.Filter):
    """tweepy logs request headers at DEBUG, bearer token included; blank the tokens out."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            if any(s in message for s in self.secrets):
                for secret in self.secrets:
                    message = message.replace(secret, "***")
                record.msg, record.args = message, None
        return True


_REDACT = _Redact()


def _protect(secret: str) -> None:
    _REDACT.secrets.add(secret)
    tweepy_log = logging.getLogger("tweepy.client")
    if _REDACT not in tweepy_log.filters:
        tweepy_log.addFilter(_REDACT)


class _RateLimited(Exception):
    """The rate limit resets later than the configured wait allows."""


class _StaleCursor(Exception):
    """X refused `since_id`/`until_id`: they point before recent search's seven-day horizon."""


T = TypeVar("T")


# --- the source ---------------------------------------------------------------------------------


class XSource:
    """A `Source` over X API v2 recent search; see the module docstring for the cursor."""

    name = "x"

    def __init__(
        self,
        settings: XSettings,
        bearer_token: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._clock = clock
        _protect(bearer_token)
        self.client = tweepy.Client(bearer_token=bearer_token, return_type=dict, wait_on_rate_limit=False)
        self.client.session.mount(TWEEPY_HOST, _BaseURLAdapter(settings.api_base_url, settings.timeout_seconds))

    @classmethod
    def from_settings(cls, settings: XSettings, context: SourceContext) -> XSource:
        token = credential(settings, settings.credentials_env[0], "password", source="x")
        return cls(settings, token)

    # -- errors

    def _credential_hint(self) -> str:
        hint = f"the bearer token in {self.settings.credentials_env[0]}"
        if self.settings.airflow_conn_id:
            hint += f" (or Airflow connection {self.settings.airflow_conn_id!r})"
        return hint

    def _error(self, exc: tweepy.HTTPException, what: str) -> SourceError:
        status = exc.response.status_code
        detail = "; ".join(str(m) for m in exc.api_messages)[:300]
        if status == 453 or 453 in exc.api_codes:
            return SourceError(
                f"sources.x: X refused {what} (error 453): the access level of the app behind "
                f"{self._credential_hint()} covers only a subset of API v2 endpoints; recent search "
                "needs the Basic tier or higher (upgrade in the X developer portal)"
            )
        if status == 401:
            return SourceError(
                f"sources.x: X rejected {self._credential_hint()} (HTTP 401 Unauthorized) during {what}: "
                "set a valid app bearer token"
            )
        if status == 403:
            return SourceError(
                f"sources.x: X refused {what} (HTTP 403 Forbidden) for {self._credential_hint()}: "
                f"check that the app is attached to a Project with API v2 access ({detail or 'no detail'})"
            )
        return SourceError(f"sources.x: X rejected {what} (HTTP {status}): {detail or exc.response.reason}")

    def _rate_limit_wait(self, response: requests.Response) -> float | None:
        reset = response.headers.get("x-rate-limit-reset", "")
        try:
            return max(0.0, float(reset) - self._clock()) + 0.5  # a little slack for clock skew
        except ValueError:
            return None

    def _call(self, what: str, request: Callable[[], T]) -> T:
        """One API request: 5xx and network errors retried with backoff, 429 waited out up to the cap."""
        retry = retrying(
            attempts=self.settings.server_error_retries + 1, backoff_seconds=self.settings.retry_backoff_seconds,
            retry_on=(tweepy.TwitterServerError, requests.ConnectionError, requests.Timeout), sleep=self._sleep,
            before_sleep=lambda state: log.warning("X API failed during %s (attempt %d), retrying: %s",
                                                   what, state.attempt_number, state.outcome.exception()),
        )
        rate_limits = RateLimitWaits(self.settings.max_rate_limit_wait_seconds, self._sleep, log,
                                     f"X rate limit reached during {what}")
        while True:
            try:
                return retry(request)
            except tweepy.TooManyRequests as exc:
                if not rate_limits.wait(self._rate_limit_wait(exc.response)):
                    raise _RateLimited() from None
            except tweepy.TwitterServerError as exc:
                raise SourceError(
                    f"sources.x: X API unavailable (HTTP {exc.response.status_code}) during {what} after "
                    f"{self.settings.server_error_retries + 1} attempts; Airflow will retry the task"
                ) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise SourceError(
                    f"sources.x: X API unreachable at {self.settings.api_base_url} during {what} after "
                    f"{self.settings.server_error_retries + 1} attempts ({type(exc).__name__}); "
                    "Airflow will retry the task"
                ) from None
            except tweepy.BadRequest as exc:
                stale = any(isinstance(e, dict) and {"since_id", "until_id"} & set(e.get("parameters") or {})
                            for e in exc.api_errors)
                raise (_StaleCursor() if stale else self._error(exc, what)) from None
            except tweepy.HTTPException as exc:
                raise self._error(exc, what) from None

    # -- fetch

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def fetch(self, brands: Sequence[BrandConfig], cursor: str | None) -> Batch:
        try:
            queries = build_queries(brands, self.settings.languages, self.settings.max_query_length)
        except ValueError as exc:
            raise SourceError(f"sources.x: {exc}") from None
        now = self._now()
        lookback = now - timedelta(minutes=self.settings.lookback_minutes)
        states, problems = load_cursor(cursor, queries, lookback)
        batch = Batch(problems=problems)
        seen: set[str] = set()
        for number, query in enumerate(queries, start=1):
            label = f"x search {number}/{len(queries)}" if len(queries) > 1 else "x search"
            try:
                try:
                    more = self._search(query, states[query], brands, batch, seen, now, label)
                except _StaleCursor:
                    # Down for more than a week: what X no longer serves cannot be fetched anyway.
                    batch.problems.append(Problem(label, "the cursor is older than the 7 days recent search "
                                                         "covers; restarting from the lookback window"))
                    states[query] = QueryState(start_time=_iso(lookback))
                    more = self._search(query, states[query], brands, batch, seen, now, label)
            except _RateLimited:
                log.warning("%s: rate limited beyond %.0f s; the rest waits for the next run",
                            label, self.settings.max_rate_limit_wait_seconds)
                batch.exhausted = True  # fetching again at once would only meet the limit again
                break
            if more:
                batch.exhausted = False
        batch.cursor = dump_cursor(states)
        return batch

    def _search(self, query: str, state: QueryState, brands: Sequence[BrandConfig], batch: Batch,
                seen: set[str], now: datetime, label: str) -> bool:
        """Page through one query and update `state` to what the batch covers.

        True when the page budget ran out with posts still waiting: fetch again at once.
        A broken page stops the query with False, so a persistently broken API cannot
        keep the pipeline fetching in a loop; the next poll tries again.
        """
        params: dict[str, Any] = {
            "max_results": self.settings.max_results, "tweet_fields": TWEET_FIELDS,
            "expansions": ["author_id"], "user_fields": USER_FIELDS,
        }
        if state.since_id:
            params["since_id"] = state.since_id
        else:  # never before recent search's horizon, which X would reject
            horizon = now - timedelta(days=RECENT_SEARCH_DAYS) + timedelta(minutes=5)
            params["start_time"] = max(_parse_iso(state.start_time), horizon) if state.start_time else horizon
        if state.until_id:
            params["until_id"] = state.until_id
        newest = oldest = None
        complete = False
        try:
            for page in range(1, self.settings.max_pages + 1):
                where = f"{label} page {page}"
                try:
                    payload = self._call(where, lambda: self.client.search_recent_tweets(query, **params))
                    data, users, meta = _page_parts(payload)
                except ValueError as exc:  # BrokenPage, or a body that is not JSON at all
                    batch.problems.append(Problem(where, f"skipped a page X did not answer as documented: {exc}"))
                    log.warning("%s: skipped a malformed page: %s", where, exc)
                    return False
                for tweet_id in self._add_page(data, users, brands, batch, seen, now, where):
                    newest, oldest = _max_id(newest, tweet_id), _min_id(oldest, tweet_id)
                for key in ("newest_id", "oldest_id"):  # ids of posts skipped as malformed count too
                    if _is_id(meta.get(key)):
                        newest, oldest = _max_id(newest, meta[key]), _min_id(oldest, meta[key])
                token = meta.get("next_token")
                if not token:
                    complete = True
                    return False
                params["next_token"] = token
            return True
        finally:
            self._advance(state, newest, oldest, complete)

    @staticmethod
    def _advance(state: QueryState, newest: str | None, oldest: str | None, complete: bool) -> None:
        if complete:
            state.since_id = _max_id(state.since_id, state.newest_id, newest)
            state.until_id = state.newest_id = None
            if state.since_id:
                state.start_time = None
        elif oldest is not None:  # a hole remains below the oldest post stored
            state.newest_id = _max_id(state.newest_id, newest)
            state.until_id = _min_id(state.until_id, oldest)

    def _add_page(self, data: list[object], users: dict[str, _User], brands: Sequence[BrandConfig],
                  batch: Batch, seen: set[str], now: datetime, where: str) -> list[str]:
        """Turn a page's posts into mentions; returns the ids of the valid posts."""
        ids = []
        for raw in data:
            try:
                tweet = _Tweet.model_validate(raw)
            except ValidationError as exc:
                batch.problems.append(Problem(where, f"skipped {_label(raw)}: {_describe(exc)}"))
                continue
            ids.append(tweet.id)
            if tweet.id in seen:
                continue
            seen.add(tweet.id)
            mention = self._mention(tweet, users.get(tweet.author_id or ""), brands)
            if mention is None:
                continue  # X matched something outside the text (a link, a handle) or an exclusion
            batch.mentions.append(mention)
            # First sight is the first point of the post's engagement curve.
            batch.snapshots.append(EngagementSnapshot(mention_id=mention.id, observed_at=now,
                                                      engagement=mention.engagement))
        return ids

    def _mention(self, tweet: _Tweet, author: _User | None, brands: Sequence[BrandConfig]) -> Mention | None:
        for brand in brands:
            query = brand.match(tweet.text, lang=tweet.lang, source=self.name,
                                author=author.username if author else None)
            if query is None:
                continue
            handle = author.username if author else UNAVAILABLE_AUTHOR
            followers = author.public_metrics.followers_count if author and author.public_metrics else 0
            url = f"https://x.com/{author.username}/status/{tweet.id}" if author else f"https://x.com/i/web/status/{tweet.id}"
            metrics = tweet.public_metrics or _TweetMetrics()
            return Mention(
                id=Mention.make_id(self.name, tweet.id), source=self.name, native_id=tweet.id, url=url,
                author_handle=handle, author_followers=followers, text=tweet.text, lang=tweet.lang,
                created_at=tweet.created(), brand=brand.name, query=query, engagement=metrics.engagement(),
            )
        return None

    # -- refresh

    def refresh(self, mentions: Sequence[Mention]) -> list[EngagementSnapshot]:
        """Current public metrics, looked up 100 posts per request; deleted posts are skipped."""
        ids = list(dict.fromkeys(m.native_id for m in mentions if m.source == self.name))
        snapshots: list[EngagementSnapshot] = []
        for start in range(0, len(ids), LOOKUP_BATCH):
            chunk = ids[start : start + LOOKUP_BATCH]
            where = f"x lookup {start // LOOKUP_BATCH + 1}/{math.ceil(len(ids) / LOOKUP_BATCH)}"
            try:
                payload = self._call(
                    where, lambda ids=chunk: self.client.get_tweets(ids=ids, tweet_fields=["public_metrics"])
                )
                data, _, _ = _page_parts(payload)
            except _RateLimited:
                log.warning("%s: rate limited; the remaining engagement refreshes wait for the next run", where)
                break
            except ValueError as exc:  # BrokenPage, or a body that is not JSON at all
                log.warning("%s: skipped a malformed response: %s", where, exc)
                continue
            now = self._now()
            for raw in data:  # deleted or protected posts come back in `errors`, not here
                try:
                    tweet = _Tweet.model_validate(raw)
                except ValidationError as exc:
                    log.warning("%s: skipped %s: %s", where, _label(raw), _describe(exc))
                    continue
                metrics = tweet.public_metrics or _TweetMetrics()
                snapshots.append(EngagementSnapshot(mention_id=Mention.make_id(self.name, tweet.id),
                                                    observed_at=now, engagement=metrics.engagement()))
        return snapshots
