"""Reddit through praw, read-only with an app-only OAuth client (client id and secret).

Each fetch searches the configured subreddits (or all of Reddit) for the brand terms,
newest first, and, if enabled, reads their newest comments, keeping those that match a
brand. Reddit's listings page from the newest item backwards, so the cursor keeps, per
listing, a watermark (the newest `created_utc` stored and the items at exactly that
second); a fetch that stops early also records where it stopped (`after`), and the next
fetch continues from there before it moves the watermark: a cursor never claims items
that were not stored.

All HTTP goes through `PacedTransport`, praw's documented `requestor_class` hook: it keeps
under `requests_per_minute`, waits out 429s up to a cap, retries 5xx and network errors
with backoff, and then gives up with a `SourceError` instead of prawcore's own retry
sleeps.

| module | what |
|---|---|
| queries.py | brand terms as search queries, the time window to ask for |
| cursor.py | per-listing watermarks (`Mark`, `ListingState`), the JSON cursor |
| things.py | submissions and comments as Reddit sends them, validated; links built and encoded |
| transport.py | `PacedTransport` and `RateLimiter`: every HTTP request praw makes |
| source.py | `RedditSource`: fetch, refresh, and errors that name their cause |
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import praw
import praw.exceptions
import prawcore
import requests

from monitor.config import BrandConfig
from monitor.models import EngagementSnapshot, Mention
from monitor.sources.base import Batch, Problem, Removal, SourceError
from monitor.sources.credentials import credential
from monitor.sources.reddit.cursor import ListingState, Mark, dump_cursor, load_cursor, newer
from monitor.sources.reddit.queries import build_queries, time_filter
from monitor.sources.reddit.settings import RedditSettings
from monitor.sources.reddit.things import (
    RedditComment,
    RedditSubmission,
    describe,
    fullname,
    parse_thing,
)
from monitor.sources.reddit.transport import PacedTransport, RateLimiter
from monitor.sources.registry import SourceContext

__all__ = ["RateLimiter", "RedditSource", "build_queries", "time_filter"]

log = logging.getLogger(__name__)

DELETED_AUTHOR = "[deleted]"
INFO_BATCH = 100  # fullnames per /api/info request, Reddit's maximum
PAGE_MAX = 100  # items per listing request, Reddit's maximum


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
            requestor_class=PacedTransport,
            requestor_kwargs={"settings": settings, "limiter": self.limiter, "sleep": sleep},
        )
        self.subreddit = self.reddit.subreddit("+".join(settings.subreddits) or "all")
        self.removals: list[Removal] = []  # items a refresh found gone, taken by the pipeline

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

    def _refusal(self, response: requests.Response, what: str) -> str:
        """What a 400/401/403/404 means, from the `reason` Reddit puts in the body: a private,
        banned or quarantined subreddit, a query Reddit cannot run, or the app's credentials."""
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        reason = str(body.get("reason") or "").lower() if isinstance(body, dict) else ""
        subs = f"r/{self.subreddit.display_name}"
        where = f"sources.reddit: Reddit answered HTTP {status} during {what}"
        if reason == "private":
            return f"{where}: {subs} is private (or one of them is); remove it from sources.reddit.subreddits"
        if reason == "banned":
            return f"{where}: {subs} is banned by Reddit (or one of them is); remove it from sources.reddit.subreddits"
        if reason == "quarantined":
            return (f"{where}: {subs} is quarantined (or one of them is): an app-only client cannot opt in to "
                    "quarantined subreddits; remove it from sources.reddit.subreddits")
        if reason in ("gold_only", "premium_only"):
            return f"{where}: {subs} is for premium members only; remove it from sources.reddit.subreddits"
        if status == 400:
            return (f"{where}: Reddit could not run the search (a bad query: check the brand terms in "
                    f"brands[].queries){': ' + str(body.get('message')) if isinstance(body, dict) and body.get('message') else ''}")
        if status == 404:
            return f"{where}: no such subreddit or listing in {subs}: check sources.reddit.subreddits"
        if status in (401, 403):
            return f"{where}: Reddit refused the app credentials in {self._credential_hint()}"
        return where

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
        except prawcore.Redirect:
            raise SourceError(
                f"sources.reddit: Reddit found no subreddit {self.subreddit.display_name!r} during {what}: "
                "check sources.reddit.subreddits"
            ) from None
        except prawcore.ResponseException as exc:
            raise SourceError(self._refusal(exc.response, what)) from None
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
        per_page = min(limit, PAGE_MAX)  # Reddit's maximum per request; praw would send all of `limit`
        try:
            queries = build_queries(brands)
        except ValueError as exc:
            raise SourceError(f"sources.reddit: {exc}") from None
        listings: dict[str, Callable[[dict[str, str], str], Any]] = {
            f"search:{q}": (lambda params, window, q=q: self.subreddit.search(
                q, sort="new", time_filter=window, limit=limit, params=params, request_limit=per_page))
            for q in queries
        }
        if self.settings.include_comments:
            listings["comments"] = lambda params, window: self.subreddit.comments(
                limit=limit, params=params, request_limit=per_page)
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
                    name = fullname(item)
                    batch.problems.append(Problem(where, f"skipped {name or 'an item'}: {describe(exc)}"))
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
                state.mark = newer(newer(state.mark, state.drained), newest) or state.mark
                state.after = state.drained = None
            elif last is not None:
                state.after = last
                state.drained = newer(state.drained, newest)

    def _add(self, thing: RedditSubmission | RedditComment, brands: Sequence[BrandConfig], batch: Batch,
             seen: set[str], observed: datetime) -> None:
        if thing.name in seen:
            return
        seen.add(thing.name)
        if (why := thing.gone()) is not None:
            # `[removed]` / `[deleted]` is no text: nothing to score or store, but if the item was
            # stored before, its copy must go (a tombstone, monitor/removals.py).
            batch.removals.append(Removal(Mention.make_id(self.name, thing.name), why))
            return
        mention = self._mention(thing, brands)
        if mention is not None:
            batch.mentions.append(mention)
            if mention.engagement_known:  # first sight is the first point of the engagement curve
                batch.snapshots.append(EngagementSnapshot(mention_id=mention.id, observed_at=observed,
                                                          engagement=mention.engagement))

    def _mention(self, thing: RedditSubmission | RedditComment, brands: Sequence[BrandConfig]) -> Mention | None:
        for brand in brands:
            if thing.over_18 and brand.exclude_nsfw:
                continue
            query = brand.match(thing.text, source=self.name, author=thing.author)
            if query is None:
                continue
            return Mention(
                id=Mention.make_id(self.name, thing.name), source=self.name, native_id=thing.name,
                url=thing.link(), author_handle=thing.author or DELETED_AUTHOR,
                author_followers=0,
                # A submission's title goes in `title` only: scoring and the UI join title and text.
                text=thing.selftext if isinstance(thing, RedditSubmission) else thing.text,
                title=thing.title if isinstance(thing, RedditSubmission) else None,
                created_at=datetime.fromtimestamp(thing.created_utc, UTC), brand=brand.name, query=query,
                engagement=thing.engagement(), engagement_known=thing.score_known(), nsfw=thing.over_18,
            )
        return None

    # -- refresh

    def refresh(self, mentions: Sequence[Mention]) -> list[EngagementSnapshot]:
        """Current score and comment count, 100 items per /api/info request.

        Items now removed or deleted (or that /api/info no longer returns) are reported in
        `removals`; a hidden score gives no snapshot (unknown is not zero).
        """
        names = list(dict.fromkeys(m.native_id for m in mentions if m.source == self.name and not m.removed))
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
            asked = set(names[start : start + INFO_BATCH])
            answered: set[str] = set()
            for item in items:
                answered.add(fullname(item) or "")
                try:
                    thing = parse_thing(item)
                except ValueError as exc:
                    log.warning("%s: skipped %s: %s", where, fullname(item) or "an item", describe(exc))
                    continue
                if (why := thing.gone()) is not None:
                    self.removals.append(Removal(Mention.make_id(self.name, thing.name), why))
                    continue
                if not thing.score_known():
                    continue
                snapshots.append(EngagementSnapshot(mention_id=Mention.make_id(self.name, thing.name),
                                                    observed_at=observed, engagement=thing.engagement()))
            # /api/info leaves out what no longer exists at all (a purged item, a banned subreddit's).
            self.removals += [Removal(Mention.make_id(self.name, n), "not_found")
                              for n in names[start : start + INFO_BATCH] if n in asked - answered]
        return snapshots
