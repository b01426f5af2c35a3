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

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import tweepy
from pydantic import ValidationError

from monitor.config import BrandConfig
from monitor.models import EngagementSnapshot, Mention
from monitor.sources.base import Batch, Problem, Removal, SourceError
from monitor.sources.credentials import credential
from monitor.sources.registry import SourceContext
from monitor.sources.x.client import RateLimited, StaleCursor, XClient
from monitor.sources.x.cursor import QueryState, dump_cursor, is_id, iso, load_cursor, max_id, min_id, parse_iso
from monitor.sources.x.payloads import (
    EXPANSIONS,
    TWEET_FIELDS,
    USER_FIELDS,
    Tweet,
    User,
    describe,
    included_tweets,
    page_parts,
    to_mention,
    voice_of,
)
from monitor.sources.x.payloads import label as post_label
from monitor.sources.x.queries import build_queries
from monitor.sources.x.refresh import refresh
from monitor.sources.x.settings import RECENT_SEARCH_DAYS, XSettings

__all__ = ["RECENT_SEARCH_DAYS", "XSettings", "XSource", "build_queries"]

log = logging.getLogger(__name__)


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
        self._clock = clock
        self.api = XClient(settings, bearer_token, sleep=sleep, clock=clock)
        self.removals: list[Removal] = []  # posts a refresh found gone, taken by the pipeline

    @property
    def client(self) -> tweepy.Client:
        """The tweepy client underneath (its session is where the transport is mounted)."""
        return self.api.tweepy

    @classmethod
    def from_settings(cls, settings: XSettings, context: SourceContext) -> XSource:
        token = credential(settings, settings.credentials_env[0], "password", source="x")
        return cls(settings, token)

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
        seen: dict[str, int] = {}  # mention id -> the post id it was made from, for edits within a batch
        for number, query in enumerate(queries, start=1):
            label = f"x search {number}/{len(queries)}" if len(queries) > 1 else "x search"
            try:
                try:
                    more = self._search(query, states[query], brands, batch, seen, now, label)
                except StaleCursor:
                    # Down for more than a week: what X no longer serves cannot be fetched anyway.
                    batch.problems.append(Problem(label, "the cursor is older than the 7 days recent search "
                                                         "covers; restarting from the lookback window"))
                    states[query] = QueryState(start_time=iso(lookback))
                    more = self._search(query, states[query], brands, batch, seen, now, label)
            except RateLimited:
                log.warning("%s: rate limited beyond %.0f s; the rest waits for the next run",
                            label, self.settings.max_rate_limit_wait_seconds)
                batch.exhausted = True  # fetching again at once would only meet the limit again
                break
            if more:
                batch.exhausted = False
        batch.cursor = dump_cursor(states)
        return batch

    def _search(self, query: str, state: QueryState, brands: Sequence[BrandConfig], batch: Batch,
                seen: dict[str, int], now: datetime, label: str) -> bool:
        """Page through one query and update `state` to what the batch covers.

        True when the page budget ran out with posts still waiting: fetch again at once.
        A broken page stops the query with False, so a persistently broken API cannot
        keep the pipeline fetching in a loop; the next poll tries again.
        """
        params: dict[str, Any] = {
            "max_results": self.settings.max_results, "tweet_fields": TWEET_FIELDS,
            "expansions": EXPANSIONS, "user_fields": USER_FIELDS,
        }
        if state.since_id:
            params["since_id"] = state.since_id
        else:  # never before recent search's horizon, which X would reject
            horizon = now - timedelta(days=RECENT_SEARCH_DAYS) + timedelta(minutes=5)
            params["start_time"] = max(parse_iso(state.start_time), horizon) if state.start_time else horizon
        if state.until_id:
            params["until_id"] = state.until_id
        newest = oldest = None
        complete = False
        try:
            for page in range(1, self.settings.max_pages + 1):
                where = f"{label} page {page}"
                try:
                    payload = self.api.call(where, lambda: self.api.tweepy.search_recent_tweets(query, **params))
                    data, users, meta = page_parts(payload)
                except ValueError as exc:  # BrokenPage, or a body that is not JSON at all
                    batch.problems.append(Problem(where, f"skipped a page X did not answer as documented: {exc}"))
                    log.warning("%s: skipped a malformed page: %s", where, exc)
                    return False
                included = included_tweets(payload)
                for tweet_id in self._add_page(data, users, included, brands, batch, seen, now, where):
                    newest, oldest = max_id(newest, tweet_id), min_id(oldest, tweet_id)
                for key in ("newest_id", "oldest_id"):  # ids of posts skipped as malformed count too
                    if is_id(meta.get(key)):
                        newest, oldest = max_id(newest, meta[key]), min_id(oldest, meta[key])
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
            state.since_id = max_id(state.since_id, state.newest_id, newest)
            state.until_id = state.newest_id = None
            if state.since_id:
                state.start_time = None
        elif oldest is not None:  # a hole remains below the oldest post stored
            state.newest_id = max_id(state.newest_id, newest)
            state.until_id = min_id(state.until_id, oldest)

    def _add_page(self, data: list[object], users: dict[str, User], included: dict[str, Tweet],
                  brands: Sequence[BrandConfig], batch: Batch, seen: dict[str, int], now: datetime,
                  where: str) -> list[str]:
        """Turn a page's posts into mentions; returns the ids of the valid posts.

        A retweet stands for its original (`voice_of`); two versions of an edited post are one
        mention, the newest version's.
        """
        ids = []
        for raw in data:
            try:
                tweet = Tweet.model_validate(raw)
            except ValidationError as exc:
                batch.problems.append(Problem(where, f"skipped {post_label(raw)}: {describe(exc)}"))
                continue
            ids.append(tweet.id)
            voice = voice_of(tweet, included)
            if voice is None:
                continue  # a retweet whose original X did not include: engagement of a post we cannot see
            mention = to_mention(voice, users.get(voice.author_id or ""), brands)
            if mention is None:
                continue  # X matched something outside the text (a link, a handle) or an exclusion
            if mention.id in seen:
                if int(voice.id) <= seen[mention.id]:
                    continue
                # A later version of an edited post: it replaces the earlier one in the batch.
                batch.mentions = [m for m in batch.mentions if m.id != mention.id]
                batch.snapshots = [s for s in batch.snapshots if s.mention_id != mention.id]
            seen[mention.id] = int(voice.id)
            batch.mentions.append(mention)
            if mention.engagement_known:  # first sight is the first point of the engagement curve
                batch.snapshots.append(EngagementSnapshot(mention_id=mention.id, observed_at=now,
                                                          engagement=mention.engagement))
        return ids

    def refresh(self, mentions: Sequence[Mention]) -> list[EngagementSnapshot]:
        """Current public metrics of `mentions` (refresh.py)."""
        snapshots, removals = refresh(self.api, mentions, self._now)
        self.removals += removals
        return snapshots
