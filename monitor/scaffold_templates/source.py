"""Template of `monitor/sources/<name>/source.py`: the client, built like the built-in sources.

It uses what every built-in source uses: `RetryPolicy`/`Transient` (monitor/sources/retries.py)
for outages and rate limits, `fetch_streams`/`scan_pages`/`ScanState` (monitor/sources/cursors.py)
for a cursor that neither loses nor repeats posts, and `credential` for the secret.
"""

TEMPLATE = r'''"""${title} as an Earshot source: posts that mention a brand become mentions.

TODO(new-source): say which ${title} endpoint this reads and why that one (search, stream,
reviews...), and link its API reference. Until then this module speaks the generic wire
format the scaffold's fake server (tests/sources/fakes/${name}_api.py) speaks:

    GET {base_url}/search?q=<query>&limit=<n>[&page_token=<t>]
        -> {"data": [post, ...], "next_token": "<t>" | null}        newest first
    GET {base_url}/posts?ids=<id>,<id>
        -> {"data": [post, ...]}
    post = {"id": "123", "text": "...", "created_at": "2026-01-01T10:00:00Z",
            "url": "https://...", "lang": "en", "likes": 3,
            "author": {"handle": "ana", "followers": 120} | null}

Replace it with the platform's documented format here and in the fake, keeping the
structure: it is what the contract suite (tests/sources/test_contract.py) checks.

Cursor (JSON), per query: the newest post time stored and the ids at that time, plus an
unfinished newest-first scan (`cursors.ScanState`). A fetch reads each query's results
newest first down to what is stored and only then moves the mark up (`cursors.scan_pages`),
so a page limit or a crash never leaves a gap; pipeline.ingest stores the batch and its
cursor in one transaction.

Failures: 429 and 5xx are retried with backoff, a rate limit's reset honoured, by the policy
all sources share (`retries.RetryPolicy`); when retries run out the fetch raises SourceError,
nothing of it is stored and Airflow retries the run. A reply that is not the documented shape
skips that query until the next fetch (a transient Problem); a malformed post is a Problem,
never a KeyError. The token is sent in a header, never logged or put in a message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.config import BrandConfig
from monitor.models import Engagement, EngagementSnapshot, Mention, utcnow
from monitor.sources.base import Batch, Problem, SourceError, first_match, searches
from monitor.sources.credentials import credential
from monitor.sources.cursors import ScanPage, ScanState, fetch_streams, scan_pages
from monitor.sources.registry import SourceContext
from monitor.sources.retries import RetryPolicy, Transient, retry_after_seconds
from monitor.sources.${name}.settings import NAME, TOKEN_ENV, ${cls}Settings

log = logging.getLogger(__name__)

DELETED_AUTHOR = "[deleted]"
REFRESH_CHUNK = 100  # ids per /posts request; TODO(new-source): the platform's limit


# --- the wire format: validated, so a changed payload is a Problem and not a KeyError -----------
# TODO(new-source): model the fields the platform documents; ignore the ones Earshot does not use.


class _Author(BaseModel):
    model_config = ConfigDict(extra="ignore")
    handle: str
    followers: int = Field(0, ge=0)


class _Post(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str = Field(min_length=1)
    text: str
    created_at: datetime
    url: str = Field(pattern=r"^https?://")
    lang: str | None = None
    likes: int = Field(0, ge=0)
    author: _Author | None = None  # None: deleted or suspended account


class _Unreadable(Exception):
    """A 200 whose body is not the documented shape: that query is read again next fetch."""


def parse_post(raw: Any) -> _Post:
    """One post of a reply; ValueError names what is wrong with it."""
    try:
        post = _Post.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "post"
        raise ValueError(f"{where}: {first['msg']}") from None
    if post.created_at.tzinfo is None:
        post.created_at = post.created_at.replace(tzinfo=UTC)
    return post


def engagement_of(post: _Post) -> Engagement:
    return Engagement(likes=post.likes)  # TODO(new-source): reposts, replies, quotes, score


def post_to_mention(post: _Post, brand: BrandConfig, query: str) -> Mention:
    return Mention(
        id=Mention.make_id(NAME, post.id), source=NAME, native_id=post.id, url=post.url,
        author_handle=post.author.handle if post.author else DELETED_AUTHOR,
        author_followers=post.author.followers if post.author else 0,
        text=post.text, lang=post.lang, created_at=post.created_at, brand=brand.name, query=query,
        engagement=engagement_of(post),
    )


def _posts(payload: Any) -> tuple[list[Any], str | None]:
    """A reply's posts and its next-page token; _Unreadable if it is not the documented shape."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("data"), list):
        raise _Unreadable("the reply has no list of posts (data)")
    token = payload.get("next_token")
    return payload["data"], token if isinstance(token, str) and token else None


# --- the source -----------------------------------------------------------------------------


class ${cls}Source:
    """A `Source` over the ${title} API, built by the plugin's factory: `from_settings`."""

    name = NAME

    def __init__(
        self,
        settings: ${cls}Settings,
        token: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self._token = token  # private: never logged, never in repr or messages
        self._retry = RetryPolicy(settings, NAME, "the ${title} API", sleep, log)
        self._now = now
        self._http: httpx.Client | None = None  # open during a fetch or refresh (`_session`)

    def __repr__(self) -> str:
        return f"${cls}Source(base_url={self.settings.base_url!r})"

    @classmethod
    def from_settings(cls, settings: ${cls}Settings, context: SourceContext) -> ${cls}Source:
        """Called in the task that fetches (never at config validation): the SDK, if any, is imported here."""
        env = settings.credentials_env[0] if settings.credentials_env else TOKEN_ENV
        return cls(settings, credential(settings, env, "password", source=NAME))

    # --- calls ---

    @contextmanager
    def _session(self) -> Iterator[None]:
        """One HTTP connection pool per fetch or refresh, closed when it is done."""
        self._http = httpx.Client(
            base_url=self.settings.base_url.rstrip("/"), timeout=self.settings.timeout_seconds,
            headers={"Authorization": f"Bearer {self._token}", "User-Agent": "Earshot"},
        )
        try:
            yield
        finally:
            self._http.close()
            self._http = None

    def _get(self, path: str, params: Mapping[str, Any]) -> Any:
        """One GET with the shared retries; SourceError when the platform stays down or refuses."""
        response = self._retry.call(self._send, path, params)
        try:
            return response.json()
        except ValueError:
            raise _Unreadable("the reply is not JSON") from None

    def _send(self, path: str, params: Mapping[str, Any]) -> httpx.Response:
        assert self._http is not None, "only inside _session()"
        try:
            response = self._http.get(path, params=dict(params))
        except httpx.HTTPError as exc:  # refused, reset, timeout
            raise Transient(f"could not be reached ({type(exc).__name__})") from None
        status = response.status_code
        if status < 400:
            return response
        if status == 429:  # TODO(new-source): the platform's own reset header, if it has one
            raise Transient("is rate limiting (HTTP 429)", wait=retry_after_seconds(response.headers.get("Retry-After")))
        if status >= 500:
            raise Transient(f"is failing (HTTP {status})")
        if status in (401, 403):
            raise SourceError(f"sources.{NAME}: the ${title} API refused the token (HTTP {status}): check the "
                              f"environment variable {TOKEN_ENV} or the Airflow connection")
        raise SourceError(f"sources.{NAME}: the ${title} API answered HTTP {status}")

    # --- fetch ---

    def fetch(self, brands: Sequence[BrandConfig], cursor: str | None) -> Batch:
        # Each brand's query as plain keyword searches; the local matcher (first_match) has the final say.
        queries = {f"q:{q}": q for q in dict.fromkeys(q for brand in brands for q in searches(brand, "generic", NAME))}
        batch = Batch()
        seen: set[str] = set()
        with self._session():
            return fetch_streams(
                cursor, {key: f"{NAME} search {q!r}" for key, q in queries.items()},
                lambda key, state: self._scan(queries[key], state, brands, batch, seen), batch,
                load=ScanState.load, new=ScanState, source=NAME, unreadable=_Unreadable,
            )

    def _scan(self, query: str, state: ScanState, brands: Sequence[BrandConfig], batch: Batch, seen: set[str]) -> bool:
        """Read a few pages of one query's newest-first scan; True if the scan is still unfinished."""

        def read(at: str | None) -> tuple[list[Any], str | None]:
            params = {"q": query, "limit": self.settings.page_size, **({"page_token": at} if at else {})}
            return _posts(self._get("/search", params))

        def take(raw: Any, page: ScanPage) -> None:
            try:
                post = parse_post(raw)
            except ValueError as exc:
                batch.problems.append(Problem(f"{NAME} search {query!r}", str(exc)))
                return
            if page.is_new(post.created_at, post.id):
                self._keep(post, brands, batch, seen)

        return scan_pages(state, read, take, pages=self.settings.pages_per_fetch,
                          backfill=self.settings.backfill_pages)

    def _keep(self, post: _Post, brands: Sequence[BrandConfig], batch: Batch, seen: set[str]) -> None:
        # The platform's search is looser than Earshot's matching (exclusions, several brands).
        found = first_match(brands, post.text, source=NAME) if post.id not in seen else None
        if found is not None:
            seen.add(post.id)
            batch.add(post_to_mention(post, *found), self._now())

    # --- refresh ---

    def refresh(self, mentions: Sequence[Mention]) -> list[EngagementSnapshot]:
        """Current counts of the mentions' posts, REFRESH_CHUNK per request; deleted posts are left out."""
        ours = {m.native_id: m for m in mentions if m.source == NAME}
        ids = list(ours)
        snapshots: list[EngagementSnapshot] = []
        with self._session():
            for start in range(0, len(ids), REFRESH_CHUNK):
                try:
                    posts, _ = _posts(self._get("/posts", {"ids": ",".join(ids[start : start + REFRESH_CHUNK])}))
                except _Unreadable as exc:  # engagement is refreshed again next run; no need to fail
                    log.warning("%s: refresh skipped an unreadable reply: %s", NAME, exc)
                    continue
                for raw in posts:
                    try:
                        post = parse_post(raw)
                    except ValueError as exc:
                        log.warning("%s: refresh skipped a post: %s", NAME, exc)
                        continue
                    if (mention := ours.get(post.id)) is not None:
                        snapshots.append(EngagementSnapshot(mention_id=mention.id, observed_at=self._now(),
                                                            engagement=engagement_of(post)))
        return snapshots
'''
