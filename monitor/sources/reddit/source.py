"""Reddit through praw, read-only with an app-only OAuth client (client id and secret).

Each fetch searches the configured subreddits (or all of Reddit) for the brand terms,
newest first, and, if enabled, reads their newest comments, keeping those that match a
brand. Reddit's listings page from the newest item backwards, so the cursor keeps, per
listing, a watermark (the newest `created_utc` stored and the items at exactly that
second); a fetch that stops early also records where it stopped (`after`), and the next
fetch continues from there before it moves the watermark: a cursor never claims items
that were not stored.

All HTTP goes through `_Transport`, praw's documented `requestor_class` hook: it keeps
under `requests_per_minute`, waits out 429s up to a cap, retries 5xx and network errors
with backoff, and then gives up with a `SourceError` instead of prawcore's own retry
sleeps.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import praw
import praw.exceptions
import prawcore
import requests
from praw.models import Comment, Redditor, Submission
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.config import BrandConfig
from monitor.query.platforms import UnsearchableQuery, compile_query, pack
from monitor.models import Engagement, EngagementSnapshot, Mention
from monitor.sources.base import Batch, Problem, SourceError
from monitor.sources.credentials import credential
from monitor.sources.reddit.settings import RedditSettings
from monitor.sources.registry import SourceContext
from monitor.sources.retries import RateLimitWaits, Transient, retrying

log = logging.getLogger(__name__)

PUBLIC_URL = "https://www.reddit.com"  # where a permalink opens in a browser
DELETED_AUTHOR = "[deleted]"
INFO_BATCH = 100  # fullnames per /api/info request, Reddit's maximum
RETRY_STATUSES = frozenset({500, 502, 503, 504, 520, 522})
# Reddit's search time windows, smallest first: (time_filter, seconds it reaches back).
TIME_FILTERS = (("hour", 3600), ("day", 86400), ("week", 7 * 86400), ("month", 31 * 86400), ("year", 366 * 86400))


# --- queries ------------------------------------------------------------------------------------


def build_queries(brands: Sequence[BrandConfig], max_length: int = 512) -> list[str]:
    """Search queries covering every brand's query in Reddit's syntax, each within `max_length`.

    Exclusions are not sent: Reddit applies `NOT` unevenly across its search backends,
    so they are applied here by the local matcher (`BrandConfig.match`), like the brand
    attribution. ValueError when a brand's query cannot be sent to Reddit.
    """
    groups: list[str] = []
    for brand in brands:
        try:
            groups += compile_query(brand.compiled.node, "reddit", max_length=max_length - 4).searches
        except UnsearchableQuery as exc:
            raise ValueError(f"brand {brand.name!r}: {exc}") from None
    return pack(groups, max_length)


def time_filter(seconds_back: float) -> str:
    """The smallest Reddit search window that reaches `seconds_back` into the past."""
    return next((name for name, span in TIME_FILTERS if seconds_back <= span), "all")


# --- cursor -------------------------------------------------------------------------------------


@dataclass
class Mark:
    """The newest creation time stored, and the fullnames created in exactly that second."""

    ts: float
    ids: list[str] = field(default_factory=list)

    def covers(self, created: float, fullname: str) -> bool:
        return created < self.ts or (created == self.ts and fullname in self.ids)

    def merged(self, created: float, fullname: str) -> Mark:
        if created > self.ts:
            return Mark(created, [fullname])
        if created == self.ts and fullname not in self.ids:
            return Mark(self.ts, [*self.ids, fullname])
        return self


def _newer(a: Mark | None, b: Mark | None) -> Mark | None:
    if a is None or b is None:
        return a or b
    if a.ts != b.ts:
        return a if a.ts > b.ts else b
    return Mark(a.ts, list(dict.fromkeys([*a.ids, *b.ids])))


@dataclass
class ListingState:
    """What one listing has stored: everything up to `mark`; while draining, also down to `after`."""

    mark: Mark
    after: str | None = None  # a fetch stopped here; older items down to `mark` are still to fetch
    drained: Mark | None = None  # the newest item stored since the drain began


def load_cursor(cursor: str | None, keys: Sequence[str], start: float) -> tuple[dict[str, ListingState], list[Problem]]:
    fresh = lambda: ListingState(Mark(start))  # noqa: E731
    if not cursor:
        return {k: fresh() for k in keys}, []
    try:
        raw = json.loads(cursor)["listings"]
        known = {}
        for key, value in raw.items():
            drained = value.get("drained")
            known[key] = ListingState(
                mark=Mark(float(value["mark"]["ts"]), [str(i) for i in value["mark"]["ids"]]),
                after=str(value["after"]) if value.get("after") else None,
                drained=Mark(float(drained["ts"]), [str(i) for i in drained["ids"]]) if drained else None,
            )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        problem = Problem("reddit cursor", f"unreadable cursor ({exc!r}); starting from the lookback window")
        return {k: fresh() for k in keys}, [problem]
    return {k: known.get(k) or fresh() for k in keys}, []


def dump_cursor(states: dict[str, ListingState]) -> str:
    return json.dumps({"v": 1, "listings": {k: asdict(s) for k, s in states.items()}}, sort_keys=True)


# --- things -------------------------------------------------------------------------------------


class _Thing(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(pattern=r"^t[13]_[0-9a-z]+$")
    created_utc: float
    permalink: str = Field(pattern=r"^/")
    author: str | None = None
    score: int = 0


class _Submission(_Thing):
    title: str
    selftext: str = ""
    num_comments: int = Field(0, ge=0)

    @property
    def text(self) -> str:
        return f"{self.title}\n\n{self.selftext}" if self.selftext else self.title

    def engagement(self) -> Engagement:
        return Engagement(score=self.score, replies=self.num_comments)


class _Comment(_Thing):
    body: str

    @property
    def text(self) -> str:
        return self.body

    def engagement(self) -> Engagement:
        return Engagement(score=self.score)


def _fields(item: object) -> dict[str, Any]:
    """The JSON fields praw stored on the object, read without triggering praw's lazy fetch."""
    data = {k: v for k, v in vars(item).items() if not k.startswith("_")}
    author = data.get("author")
    if isinstance(author, Redditor):
        data["author"] = vars(author).get("name")
    return data


def parse_thing(item: object) -> _Submission | _Comment:
    """A submission or comment as Earshot needs it; ValueError says what is wrong with it."""
    if isinstance(item, Submission):
        return _Submission.model_validate(_fields(item))
    if isinstance(item, Comment):
        return _Comment.model_validate(_fields(item))
    raise ValueError(f"not a submission or comment but {type(item).__name__}")


def _describe(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "item"
        more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
        return f"{key}: {first['msg']}{more}"
    return str(error)


def _fullname(item: object) -> str | None:
    name = vars(item).get("name") if hasattr(item, "__dict__") else None
    return name if isinstance(name, str) and re.match(r"^t[13]_[0-9a-z]+$", name) else None


# --- transport ----------------------------------------------------------------------------------


class RateLimiter:
    """At most `per_minute` requests in any 60 seconds, so the OAuth client never earns a 429."""

    def __init__(self, per_minute: int, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()

    def acquire(self) -> None:
        while True:
            now = self._clock()
            while self._sent and now - self._sent[0] >= 60:
                self._sent.popleft()
            if len(self._sent) < self.per_minute:
                self._sent.append(now)
                return
            self._sleep(60 - (now - self._sent[0]))


class _Transport(prawcore.Requestor):
    """Every HTTP request praw makes (token included): paced, retried, given up on cleanly."""

    def __init__(self, *args: Any, settings: RedditSettings, limiter: RateLimiter,
                 sleep: Callable[[float], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings
        self.limiter = limiter
        self.sleep = sleep

    def _send(self, *args: Any, **kwargs: Any) -> requests.Response:
        self.limiter.acquire()
        try:
            response = super().request(*args, **kwargs)
        except prawcore.RequestException as exc:
            raise Transient(f"unreachable ({type(exc.original_exception).__name__})") from None
        if response.status_code in RETRY_STATUSES:
            raise Transient(f"unavailable (HTTP {response.status_code})")
        return response

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        attempts = self.settings.server_error_retries + 1
        retry = retrying(
            attempts=attempts, backoff_seconds=self.settings.retry_backoff_seconds, sleep=self.sleep,
            before_sleep=lambda state: log.warning("Reddit API %s (attempt %d), retrying",
                                                   state.outcome.exception(), state.attempt_number),
        )
        rate_limits = RateLimitWaits(self.settings.max_rate_limit_wait_seconds, self.sleep, log,
                                     "Reddit rate limit reached")
        while True:
            try:
                response = retry(lambda: self._send(*args, **kwargs))
            except Transient as exc:
                raise SourceError(
                    f"sources.reddit: Reddit API {exc} after {attempts} attempts; Airflow will retry the task"
                ) from None
            if response.status_code != 429 or not rate_limits.wait(_reset_seconds(response)):
                return response  # a 429 not waited out: prawcore raises TooManyRequests, which the source reports


def _reset_seconds(response: requests.Response) -> float | None:
    for header in ("retry-after", "x-ratelimit-reset"):
        try:
            return float(response.headers[header]) + 0.2
        except (KeyError, ValueError):
            continue
    return None


# --- the source ---------------------------------------------------------------------------------

_PARSE_ERRORS = (prawcore.BadJSON, ValueError, TypeError, KeyError, AttributeError)


class RedditSource:
    """A `Source` over Reddit search and comment listings; see the module docstring for the cursor."""

    name = "reddit"

    def __init__(
        self,
        settings: RedditSettings,
        client_id: str,
        client_secret: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self.limiter = RateLimiter(settings.requests_per_minute, clock, sleep)
        self.reddit = praw.Reddit(
            client_id=client_id, client_secret=client_secret, user_agent=settings.user_agent,
            oauth_url=settings.oauth_url, reddit_url=settings.reddit_url, timeout=settings.timeout_seconds,
            username=None, password=None, refresh_token=None,  # app-only, whatever praw.ini says
            check_for_updates=False, check_for_async=False,
            requestor_class=_Transport,
            requestor_kwargs={"settings": settings, "limiter": self.limiter, "sleep": sleep},
        )
        self.subreddit = self.reddit.subreddit("+".join(settings.subreddits) or "all")

    @classmethod
    def from_settings(cls, settings: RedditSettings, context: SourceContext) -> RedditSource:
        id_env, secret_env = settings.credentials_env
        return cls(
            settings,
            credential(settings, id_env, "login", source="reddit"),
            credential(settings, secret_env, "password", source="reddit"),
        )

    # -- errors

    def _credential_hint(self) -> str:
        hint = " and ".join(self.settings.credentials_env)
        if self.settings.airflow_conn_id:
            hint += f" (or Airflow connection {self.settings.airflow_conn_id!r})"
        return hint

    @contextmanager
    def _platform_errors(self, what: str) -> Iterator[None]:
        """prawcore's exceptions as `SourceError`s that say what to fix, secrets left out."""
        try:
            yield
        except prawcore.TooManyRequests:
            raise SourceError(
                f"sources.reddit: Reddit rate limit hit during {what} and it resets later than "
                f"max_rate_limit_wait_seconds ({self.settings.max_rate_limit_wait_seconds:g} s); "
                "lower requests_per_minute if this repeats. Airflow will retry the task"
            ) from None
        except prawcore.OAuthException as exc:
            raise SourceError(
                f"sources.reddit: Reddit refused the app credentials in {self._credential_hint()} ({exc.error}): "
                "use the client id and secret of a 'script' or 'web' app"
            ) from None
        except (prawcore.Redirect, prawcore.NotFound):
            raise SourceError(
                f"sources.reddit: Reddit found no subreddit {self.subreddit.display_name!r} during {what}: "
                "check sources.reddit.subreddits"
            ) from None
        except prawcore.ResponseException as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise SourceError(
                    f"sources.reddit: Reddit answered HTTP {status} during {what}: check the app credentials in "
                    f"{self._credential_hint()}, and that r/{self.subreddit.display_name} is public"
                ) from None
            raise SourceError(f"sources.reddit: Reddit answered HTTP {status} during {what}") from None
        except prawcore.RequestException as exc:
            raise SourceError(
                f"sources.reddit: Reddit API unreachable during {what} ({type(exc.original_exception).__name__}); "
                "Airflow will retry the task"
            ) from None
        except praw.exceptions.RedditAPIException as exc:
            raise SourceError(f"sources.reddit: Reddit refused {what}: {exc}") from None

    # -- fetch

    def _listings(self, brands: Sequence[BrandConfig]) -> dict[str, Callable[[dict[str, str], str], Any]]:
        """Each listing by cursor key: a function of (extra params, time filter) giving a generator."""
        limit = self.settings.limit + 1  # one more than the budget shows whether more is waiting
        try:
            queries = build_queries(brands)
        except ValueError as exc:
            raise SourceError(f"sources.reddit: {exc}") from None
        listings: dict[str, Callable[[dict[str, str], str], Any]] = {
            f"search:{q}": (lambda params, window, q=q: self.subreddit.search(
                q, sort="new", time_filter=window, limit=limit, params=params))
            for q in queries
        }
        if self.settings.include_comments:
            listings["comments"] = lambda params, window: self.subreddit.comments(limit=limit, params=params)
        return listings

    def fetch(self, brands: Sequence[BrandConfig], cursor: str | None) -> Batch:
        listings = self._listings(brands)
        now = self._clock()
        states, problems = load_cursor(cursor, list(listings), now - self.settings.lookback_minutes * 60)
        batch = Batch(problems=problems)
        seen: set[str] = set()
        observed = datetime.fromtimestamp(now, UTC)
        for key, listing in listings.items():
            with self._platform_errors("search" if key.startswith("search:") else "reading new comments"):
                if self._read(key, listing, states[key], brands, batch, seen, now, observed):
                    batch.exhausted = False
        batch.cursor = dump_cursor(states)
        return batch

    def _read(self, key: str, listing: Callable[[dict[str, str], str], Any], state: ListingState,
              brands: Sequence[BrandConfig], batch: Batch, seen: set[str], now: float, observed: datetime) -> bool:
        """Read one listing down to the watermark and update `state`; True if the budget ran out first."""
        where = f"reddit {key.split(':', 1)[0]}"
        params = {"after": state.after} if state.after else {}
        generator = listing(params, time_filter(now - state.mark.ts))
        newest: Mark | None = None
        last: str | None = None
        complete = False
        try:
            for index in range(self.settings.limit + 1):
                try:
                    item = next(generator)
                except StopIteration:
                    complete = True
                    return False
                except _PARSE_ERRORS as exc:  # praw could not make sense of a page
                    message = f"skipped a page Reddit did not answer as documented: {exc!r}"
                    batch.problems.append(Problem(where, message))
                    log.warning("%s: skipped a malformed page: %r", where, exc)
                    return False
                if index == self.settings.limit:
                    return True  # more than the budget is waiting: continue after `last` next fetch
                try:
                    thing = parse_thing(item)
                except ValueError as exc:
                    name = _fullname(item)
                    batch.problems.append(Problem(where, f"skipped {name or 'an item'}: {_describe(exc)}"))
                    last = name or last
                    continue
                if state.mark.covers(thing.created_utc, thing.name):
                    complete = True
                    return False
                newest = (newest or Mark(thing.created_utc, [thing.name])).merged(thing.created_utc, thing.name)
                last = thing.name
                self._add(thing, brands, batch, seen, observed)
            return False  # not reached: the loop always returns
        finally:
            if complete:
                state.mark = _newer(_newer(state.mark, state.drained), newest) or state.mark
                state.after = state.drained = None
            elif last is not None:
                state.after = last
                state.drained = _newer(state.drained, newest)

    def _add(self, thing: _Submission | _Comment, brands: Sequence[BrandConfig], batch: Batch,
             seen: set[str], observed: datetime) -> None:
        if thing.name in seen:
            return
        seen.add(thing.name)
        mention = self._mention(thing, brands)
        if mention is not None:
            batch.mentions.append(mention)
            # First sight is the first point of the post's engagement curve.
            batch.snapshots.append(EngagementSnapshot(mention_id=mention.id, observed_at=observed,
                                                      engagement=mention.engagement))

    def _mention(self, thing: _Submission | _Comment, brands: Sequence[BrandConfig]) -> Mention | None:
        for brand in brands:
            query = brand.match(thing.text, source=self.name, author=thing.author)
            if query is None:
                continue
            return Mention(
                id=Mention.make_id(self.name, thing.name), source=self.name, native_id=thing.name,
                url=PUBLIC_URL + thing.permalink, author_handle=thing.author or DELETED_AUTHOR,
                author_followers=0,
                # A submission's title goes in `title` only: scoring and the UI join title and text.
                text=thing.selftext if isinstance(thing, _Submission) else thing.text,
                title=thing.title if isinstance(thing, _Submission) else None,
                created_at=datetime.fromtimestamp(thing.created_utc, UTC), brand=brand.name, query=query,
                engagement=thing.engagement(),
            )
        return None

    # -- refresh

    def refresh(self, mentions: Sequence[Mention]) -> list[EngagementSnapshot]:
        """Current score and comment count, 100 items per /api/info request; removed items are skipped."""
        names = list(dict.fromkeys(m.native_id for m in mentions if m.source == self.name))
        snapshots: list[EngagementSnapshot] = []
        for start in range(0, len(names), INFO_BATCH):
            where = f"reddit info {start // INFO_BATCH + 1}/{math.ceil(len(names) / INFO_BATCH)}"
            with self._platform_errors("refreshing engagement"):
                try:
                    items = list(self.reddit.info(fullnames=names[start : start + INFO_BATCH]))
                except prawcore.TooManyRequests:
                    log.warning("%s: rate limited; the remaining engagement refreshes wait for the next run", where)
                    break
                except _PARSE_ERRORS as exc:
                    log.warning("%s: skipped a malformed response: %r", where, exc)
                    continue
            observed = datetime.fromtimestamp(self._clock(), UTC)
            for item in items:
                try:
                    thing = parse_thing(item)
                except ValueError as exc:
                    log.warning("%s: skipped %s: %s", where, _fullname(item) or "an item", _describe(exc))
                    continue
                snapshots.append(EngagementSnapshot(mention_id=Mention.make_id(self.name, thing.name),
                                                    observed_at=observed, engagement=thing.engagement()))
        return snapshots
