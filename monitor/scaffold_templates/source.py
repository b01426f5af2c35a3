"""Template of `monitor/sources/<name>/source.py`: wire models and a working source class."""

TEMPLATE = r'''"""${title} as an Earshot source: posts that mention a brand become mentions.

TODO(new-source): say which ${title} endpoint this reads and why that one (search, stream,
reviews...), and link its API reference. Until then this module speaks the generic wire
format the scaffold's fake server (tests/sources/fakes/${name}_api.py) speaks:

    GET {base_url}/search?q=<query>&limit=<n>[&since_id=<id>][&page_token=<t>]
        -> {"data": [post, ...], "next_token": "<t>" | null}        newest first
    GET {base_url}/posts?ids=<id>,<id>
        -> {"data": [post, ...]}
    post = {"id": "123", "text": "...", "created_at": "2026-01-01T10:00:00Z",
            "url": "https://...", "lang": "en", "likes": 3,
            "author": {"handle": "ana", "followers": 120} | null}

Replace it with the platform's documented format here and in the fake, keeping the
structure: it is what the contract suite (tests/sources/test_contract.py) checks.

Cursor: JSON {query: newest post id seen}. The batch returned with it holds exactly the
posts up to those ids, and pipeline.ingest stores both in one transaction, so the cursor
only moves once the posts are stored.

Failures: 429 and 5xx are retried with backoff (a rate limit's reset is honoured), by the
retry policy all sources share (monitor/sources/retries.py); when retries run out the fetch
raises SourceError, so nothing of it is stored and Airflow retries the run. A payload that is not the documented shape becomes a Problem, never a
KeyError. The token is sent in a header and never logged or put in a message.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tenacity import RetryCallState

from monitor.config import BrandConfig
from monitor.models import Engagement, EngagementSnapshot, Mention
from monitor.sources.base import Batch, Problem, SourceError, searches
from monitor.sources.credentials import credential
from monitor.sources.registry import SourceContext
from monitor.sources.retries import Transient, retry_after_seconds, retrying
from monitor.sources.${name}.settings import NAME, TOKEN_ENV, ${cls}Settings

log = logging.getLogger(__name__)

REFRESH_CHUNK = 100  # ids per /posts request; TODO(new-source): the platform's limit


# --- the wire format: validated, so a changed payload is a Problem and not a KeyError -----------
# TODO(new-source): model the fields the platform documents; ignore the ones Earshot does not use.


class _Author(BaseModel):
    model_config = ConfigDict(extra="ignore")
    handle: str
    followers: int = Field(0, ge=0)


class _Post(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    text: str
    created_at: datetime
    url: str
    lang: str | None = None
    likes: int = Field(0, ge=0)
    author: _Author | None = None  # None: deleted or suspended account


class _Page(BaseModel):
    model_config = ConfigDict(extra="ignore")
    data: list[dict[str, Any]]
    next_token: str | None = None


class _Unusable(Exception):
    """A 200 whose body is not the documented shape: reported as a Problem."""


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


class ${cls}Source:
    """A `Source` over the ${title} API, built by the plugin's factory: `from_settings`."""

    name = NAME

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        page_size: int = 100,
        max_pages: int = 10,
        timeout_seconds: float = 20,
        max_attempts: int = 4,
        backoff_seconds: float = 2.0,
        max_wait_seconds: float = 900,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token  # private: never logged, never in repr or messages
        self.page_size = page_size
        self.max_pages = max_pages
        self.timeout_seconds = timeout_seconds
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.max_wait_seconds = max_wait_seconds
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    @classmethod
    def from_settings(cls, settings: ${cls}Settings, context: SourceContext) -> ${cls}Source:
        """Called in the task that fetches (never at config validation): the SDK, if any, is imported here."""
        env = settings.credentials_env[0] if settings.credentials_env else TOKEN_ENV
        token = credential(settings, env, "password", source=NAME)
        return cls(
            settings.base_url, token, page_size=settings.page_size, max_pages=settings.max_pages,
            timeout_seconds=settings.timeout_seconds, max_attempts=settings.max_attempts,
            backoff_seconds=settings.backoff_seconds, max_wait_seconds=settings.max_wait_seconds,
        )

    # --- Source protocol ----------------------------------------------------------------------

    def fetch(self, brands: Sequence[BrandConfig], cursor: str | None) -> Batch:
        since = self._load_cursor(cursor)
        batch = Batch()
        seen: set[str] = set()
        with self._client() as client:
            for brand in brands:
                for query in searches(brand, "generic", NAME):  # the brand's query as plain keyword searches
                    newest = self._search(client, brand, query, since.get(query), batch, seen)
                    if newest is not None:
                        since[query] = newest
        batch.cursor = json.dumps(since, sort_keys=True)
        return batch

    def refresh(self, mentions: Sequence[Mention]) -> list[EngagementSnapshot]:
        ours = [m for m in mentions if m.source == NAME]
        snapshots: list[EngagementSnapshot] = []
        now = datetime.now(UTC)
        with self._client() as client:
            for start in range(0, len(ours), REFRESH_CHUNK):
                ids = [m.native_id for m in ours[start : start + REFRESH_CHUNK]]
                where = f"{NAME} refresh of {len(ids)} post(s)"
                try:
                    page = self._page(self._get_json(client, "/posts", {"ids": ",".join(ids)}, where), where)
                except _Unusable as exc:  # engagement is refreshed again next run; no need to fail
                    log.warning("skipped %s", exc)
                    continue
                for raw in page.data:
                    try:
                        post = _Post.model_validate(raw)
                    except ValidationError as exc:
                        log.warning("skipped a post in %s: %s", where, _describe(exc))
                        continue
                    snapshots.append(EngagementSnapshot(
                        mention_id=Mention.make_id(NAME, post.id), observed_at=now, engagement=self._engagement(post),
                    ))
        return snapshots

    # --- search and mapping -------------------------------------------------------------------

    def _search(
        self, client: httpx.Client, brand: BrandConfig, query: str, since_id: str | None, batch: Batch, seen: set[str],
    ) -> str | None:
        """Add the query's new posts to the batch; return the newest id (None: keep the old cursor)."""
        params: dict[str, str | int] = {"q": query, "limit": self.page_size}
        if since_id:
            params["since_id"] = since_id
        newest: str | None = None
        now = datetime.now(UTC)
        for page_no in range(1, self.max_pages + 1):
            where = f"{NAME} search {query!r} page {page_no}"
            try:
                page = self._page(self._get_json(client, "/search", params, where), where)
            except _Unusable as exc:
                # Keep this query's cursor: the next run asks again. Posts already added are upserts then.
                batch.problems.append(Problem(where, str(exc)))
                return None
            for index, raw in enumerate(page.data):
                try:
                    post = _Post.model_validate(raw)
                except ValidationError as exc:
                    batch.problems.append(Problem(f"{where} item {index}", _describe(exc)))
                    continue
                if newest is None:
                    newest = post.id  # results come newest first
                self._add(post, brand, batch, seen, now)
            if not page.next_token:
                return newest
            params["page_token"] = page.next_token
        batch.problems.append(Problem(f"{NAME} search {query!r}", f"stopped after {self.max_pages} pages; older posts skipped"))
        return newest

    def _add(self, post: _Post, brand: BrandConfig, batch: Batch, seen: set[str], now: datetime) -> None:
        mention_id = Mention.make_id(NAME, post.id)
        if mention_id in seen:
            return
        matched = brand.match(post.text, source=NAME)  # the platform's search is looser than Earshot's matching
        if matched is None:
            return
        seen.add(mention_id)
        engagement = self._engagement(post)
        batch.mentions.append(Mention(
            id=mention_id, source=NAME, native_id=post.id, url=post.url,
            author_handle=post.author.handle if post.author else "[deleted]",
            author_followers=post.author.followers if post.author else 0,
            text=post.text, lang=post.lang, created_at=post.created_at,
            brand=brand.name, query=matched, engagement=engagement,
        ))
        # First sight is the first point of the post's engagement curve.
        batch.snapshots.append(EngagementSnapshot(mention_id=mention_id, observed_at=now, engagement=engagement))

    @staticmethod
    def _engagement(post: _Post) -> Engagement:
        return Engagement(likes=post.likes)  # TODO(new-source): reposts, replies, quotes, score

    @staticmethod
    def _page(payload: Any, where: str) -> _Page:
        try:
            return _Page.model_validate(payload)
        except ValidationError as exc:
            raise _Unusable(f"{where}: unexpected response shape ({_describe(exc)})") from None

    @staticmethod
    def _load_cursor(cursor: str | None) -> dict[str, str]:
        if not cursor:
            return {}  # first run: the platform's default window (TODO(new-source): say what it is)
        try:
            data = json.loads(cursor)
        except json.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise SourceError(f"sources.{NAME}: the saved cursor is unreadable; delete it to start over")
        return {str(k): str(v) for k, v in data.items()}

    # --- HTTP: retries, rate limits, errors -----------------------------------------------------

    def _client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self._token}", "User-Agent": "Earshot (+https://github.com/earshot)"},
            timeout=self.timeout_seconds,
        )

    def _get_json(self, client: httpx.Client, path: str, params: dict[str, Any], where: str) -> Any:
        response = self._get(client, path, params, where)
        try:
            return response.json()
        except ValueError:
            raise _Unusable(f"{where}: the response is not JSON") from None

    def _get(self, client: httpx.Client, path: str, params: dict[str, Any], where: str) -> httpx.Response:
        """One request: backoff doubling from backoff_seconds, a rate limit's reset honoured, both capped."""
        retry = retrying(attempts=self.max_attempts, backoff_seconds=self.backoff_seconds, sleep=self._sleep,
                         max_wait_seconds=self.max_wait_seconds, max_backoff_seconds=self.max_wait_seconds,
                         before_sleep=self._log_retry)
        try:
            return retry(self._get_once, client, path, params, where)
        except Transient as exc:
            raise SourceError(
                f"sources.{NAME}: {exc}; gave up after {self.max_attempts} attempts, the next run resumes from the saved cursor"
            ) from None

    def _get_once(self, client: httpx.Client, path: str, params: dict[str, Any], where: str) -> httpx.Response:
        try:
            response = client.get(path, params=params)
        except httpx.TransportError as exc:
            raise Transient(f"{where}: {type(exc).__name__} ({exc})") from None
        status = response.status_code
        if status == 429:
            wait = _reset_wait(response)
            if wait is not None and wait > self.max_wait_seconds:
                raise SourceError(
                    f"sources.{NAME}: rate limited (HTTP 429) for {wait:.0f} s, longer than max_wait_seconds; "
                    "the next run resumes from the saved cursor"
                )
            raise Transient(f"{where}: rate limited (HTTP 429)", wait)
        if status >= 500:
            raise Transient(f"{where}: server error (HTTP {status} {response.reason_phrase})")
        if status in (401, 403):
            raise SourceError(
                f"sources.{NAME}: the API refused the credentials (HTTP {status}); "
                f"check the token in {TOKEN_ENV} or the Airflow connection"
            )
        if response.is_error:
            raise SourceError(f"sources.{NAME}: {where}: unexpected HTTP {status} {response.reason_phrase}")
        return response

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0
        log.warning("%s; retrying in %.1f s (attempt %d of %d)", error, delay, state.attempt_number, self.max_attempts)


def _reset_wait(response: httpx.Response) -> float | None:
    """Seconds until the rate limit resets: Retry-After (seconds or a date) or an epoch reset header."""
    # TODO(new-source): the platform's header, e.g. x-rate-limit-reset (epoch) or x-ratelimit-reset (seconds).
    if response.headers.get("retry-after"):
        return retry_after_seconds(response.headers["retry-after"])
    reset = response.headers.get("x-rate-limit-reset")
    if reset:
        try:
            return max(float(reset) - time.time(), 0.0) + 0.1
        except ValueError:
            return None
    return None
'''
