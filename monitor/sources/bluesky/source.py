"""Bluesky posts mentioning the brands, from `app.bsky.feed.searchPosts` through the atproto SDK.

Logs in with a handle and an app password (`EARSHOT_BLUESKY_HANDLE`,
`EARSHOT_BLUESKY_APP_PASSWORD`), searches each brand query newest first (`sort=latest`) and
keeps a post when `BrandConfig.match` finds the brand in its text. Engagement is refreshed
with `app.bsky.feed.getPosts`, 25 URIs per call (the API's limit).

Why raw XRPC calls (`invoke_query`) and not the SDK's typed `search_posts`: the SDK
validates a whole page at once, so one malformed post would lose its 99 neighbours. Here
the page is checked, then each post on its own; a bad post becomes a `Problem`.

Ids: a post's native id is its record key and its URL names the author's DID
(`https://bsky.app/profile/{did}/post/{rkey}`): DID links survive handle changes, and
`refresh` rebuilds the post's AT-URI from them.

Cursor (JSON), per query: the newest `sortAt` seen (what `since` filters on) and the posts
seen in the `overlap_minutes` before it, plus an unfinished newest-first scan (the search
cursor and what it has seen). Posts can be indexed minutes after they were written, so each
search re-reads that overlap and drops what it has already seen; the mark only moves up
once a scan is complete, so a page limit or a crash never leaves a gap.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from atproto import Client, models
from atproto_client import exceptions as atx
from atproto_client.request import Request

from monitor.config import BrandConfig
from monitor.models import Engagement, EngagementSnapshot, Mention, utcnow
from monitor.sources.base import Batch, Problem, Removal, SourceError, first_match, searches
from monitor.sources.bluesky.settings import HANDLE_ENV, PASSWORD_ENV, BlueskySettings
from monitor.sources.credentials import credential
from monitor.sources.cursors import ScanPage, fetch_streams, scan_pages
from monitor.sources.registry import SourceContext
from monitor.sources.retries import RetryPolicy, Transient

log = logging.getLogger(__name__)

GET_POSTS_LIMIT = 25  # app.bsky.feed.getPosts takes at most this many URIs
_POST_URL = re.compile(r"/profile/(?P<did>did:[a-z0-9]+:[A-Za-z0-9._:%-]+)/post/(?P<rkey>[A-Za-z0-9._:~-]+)$")


# --- errors ---------------------------------------------------------------------------------


class _Unreadable(Exception):
    """A 200 whose body is not what the lexicon documents: reported as a Problem, never stored."""


class _SessionExpired(Exception):
    """The access token is no longer accepted: log in again and retry (at once)."""

    reason = "session expired"


def _xrpc_error(exc: atx.RequestErrorBase) -> str:
    """The XRPC error name of a failed call (e.g. "RateLimitExceeded"); never the request."""
    content = exc.response.content if exc.response is not None else None
    return getattr(content, "error", None) or ""


def _status(exc: atx.RequestErrorBase) -> int | None:
    return exc.response.status_code if exc.response is not None else None


def _rate_limit_wait(exc: atx.RateLimitExceededError) -> float | None:
    if exc.retry_after is not None:
        return exc.retry_after
    if exc.reset_at is not None:
        return max((exc.reset_at - datetime.now(UTC)).total_seconds(), 0.0)
    return None


def _auth_error(status: int | None, error: str) -> SourceError:
    what = f"HTTP {status} {error}".strip() if status else error or "rejected"
    return SourceError(
        f"sources.bluesky: Bluesky rejected the credentials ({what}): check the environment variables "
        f"{HANDLE_ENV} and {PASSWORD_ENV} (an app password, not the account password)"
    )


def _classify(exc: Exception, *, login: bool) -> Exception:
    """The exception to raise for an SDK failure: Transient, _SessionExpired, _Unreadable or SourceError."""
    if isinstance(exc, atx.RateLimitExceededError):
        return Transient("is rate limiting (HTTP 429)", wait=_rate_limit_wait(exc))
    if isinstance(exc, atx.LoginRequiredError):
        return _SessionExpired()
    if isinstance(exc, atx.RequestErrorBase):
        status, error = _status(exc), _xrpc_error(exc)
        if error in ("ExpiredToken", "InvalidToken") and not login:
            return _SessionExpired()
        if isinstance(exc, atx.UnauthorizedError) or (login and status == 400):
            return _auth_error(status, error)
        if isinstance(exc, atx.NetworkError) or (status is not None and status >= 500):
            if status is None:
                return Transient(f"could not be reached ({error or type(exc).__name__})")
            return Transient(f"is failing (HTTP {status})")
        return SourceError(f"sources.bluesky: Bluesky answered HTTP {status} {error}".rstrip())
    if isinstance(exc, ValueError | atx.ModelError):  # a body that is not JSON, or not the lexicon's shape
        return _Unreadable(f"the reply is not valid XRPC JSON ({type(exc).__name__})")
    return SourceError(f"sources.bluesky: the atproto SDK failed ({type(exc).__name__})")


# --- cursor ---------------------------------------------------------------------------------


@dataclass
class _Mark:
    """The newest sort time seen, and the posts seen within `overlap` before it."""

    overlap: timedelta
    at: datetime | None = None
    recent: dict[str, datetime] = field(default_factory=dict)  # AT-URI -> sortAt

    @property
    def floor(self) -> datetime | None:
        """Posts sorted before this are stored already: searches start here, scans stop here."""
        return self.at - self.overlap if self.at is not None else None

    def covers(self, at: datetime, uri: str) -> bool:
        return uri in self.recent or self.passed(at)

    def passed(self, at: datetime) -> bool:
        """Sorted before the re-read window: a newest-first scan that gets here has caught up."""
        floor = self.floor
        return floor is not None and at < floor

    def add(self, at: datetime, uri: str) -> None:
        self.recent[uri] = at
        if self.at is None or at > self.at:
            self.at = at
            floor = self.floor
            self.recent = {u: t for u, t in self.recent.items() if floor is None or t >= floor}

    def merge(self, other: _Mark) -> None:
        for uri, when in other.recent.items():
            self.add(when, uri)

    def dump(self) -> dict[str, Any]:
        return {"at": self.at.isoformat() if self.at else None,
                "recent": {uri: at.isoformat() for uri, at in sorted(self.recent.items())}}

    @classmethod
    def load(cls, data: Mapping[str, Any] | None, overlap: timedelta) -> _Mark:
        if not data or not data.get("at"):
            return cls(overlap)
        recent = {uri: datetime.fromisoformat(at) for uri, at in (data.get("recent") or {}).items()}
        return cls(overlap, datetime.fromisoformat(data["at"]), recent)


@dataclass
class _Stream:
    """One query's part of the cursor, moved by `cursors.scan_pages`."""

    mark: _Mark
    at: str | None = None  # searchPosts cursor of an unfinished scan
    top: _Mark | None = None  # None: no scan in progress
    pages: int = 0

    def open(self) -> None:
        self.top = _Mark(self.mark.overlap)

    def finish(self) -> None:
        if self.top is not None:
            self.mark.merge(self.top)
        self.top, self.at, self.pages = None, None, 0

    def dump(self) -> dict[str, Any]:
        scan = None
        if self.top is not None:
            scan = {"cursor": self.at, "top": self.top.dump(), "pages": self.pages}
        return {"mark": self.mark.dump(), "scan": scan}

    @classmethod
    def load(cls, data: Mapping[str, Any], overlap: timedelta) -> _Stream:
        scan = data.get("scan") or None
        if scan is None:
            return cls(_Mark.load(data.get("mark"), overlap))
        return cls(_Mark.load(data.get("mark"), overlap), scan.get("cursor"), _Mark.load(scan.get("top"), overlap),
                   int(scan.get("pages", 0)))


# --- mapping --------------------------------------------------------------------------------


@dataclass
class Post:
    """The parts of an `app.bsky.feed.defs#postView` Earshot uses."""

    uri: str
    did: str
    rkey: str
    handle: str
    text: str
    lang: str | None
    created_at: datetime
    sort_at: datetime  # what searchPosts orders and filters by: the earlier of createdAt and indexedAt
    engagement: Engagement
    nsfw: bool = False  # an adult-content label, the author's own or a moderation service's
    quotes: str | None = None  # the AT-URI of the post this one quotes

    @property
    def url(self) -> str:
        return f"https://bsky.app/profile/{self.did}/post/{self.rkey}"


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _count(view: Mapping[str, Any], key: str) -> int:
    value = view.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def parse_post(view: Any) -> Post:
    """One post view from searchPosts or getPosts; ValueError names what is wrong with it."""
    if not isinstance(view, Mapping):
        raise ValueError("a post is not an object")
    uri = view.get("uri")
    parts = uri.removeprefix("at://").split("/") if isinstance(uri, str) and uri.startswith("at://") else []
    if len(parts) != 3 or parts[1] != "app.bsky.feed.post" or not parts[0].startswith("did:"):
        raise ValueError(f"post uri {uri!r} is not an app.bsky.feed.post AT-URI")
    did, _, rkey = parts
    record = view.get("record")
    if not isinstance(record, Mapping) or not isinstance(record.get("text"), str):
        raise ValueError(f"{uri}: the post record has no text")
    indexed = _timestamp(view.get("indexedAt"))
    created = _timestamp(record.get("createdAt")) or indexed
    if created is None:
        raise ValueError(f"{uri}: neither createdAt nor indexedAt is a timestamp")
    sort_at = min(created, indexed) if indexed else created
    author = view.get("author") if isinstance(view.get("author"), Mapping) else {}
    handle = author.get("handle")
    if not isinstance(handle, str) or not handle or handle == "handle.invalid":
        handle = did  # deactivated or broken handles: the DID still names the account
    langs = record.get("langs")
    quoted = _quoted_uri(record.get("embed"))
    return Post(
        uri=uri, did=did, rkey=rkey, handle=handle, text=record["text"],
        lang=langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else None,
        # A post dated in the future (clock skew, backdating tools) counts from when Bluesky saw it.
        created_at=sort_at, sort_at=sort_at,
        engagement=Engagement(likes=_count(view, "likeCount"), reposts=_count(view, "repostCount"),
                              replies=_count(view, "replyCount"), quotes=_count(view, "quoteCount")),
        nsfw=bool(_label_values(view, record) & ADULT_LABELS),
        quotes=quoted,
    )


# Bluesky's adult-content label values (com.atproto.label.defs; the app's moderation settings).
ADULT_LABELS = frozenset({"porn", "sexual", "nudity", "graphic-media", "gore"})


def _label_values(view: Mapping[str, Any], record: Mapping[str, Any]) -> set[str]:
    """Labels on the post view (moderation services) and the record's self-labels."""
    values = [label.get("val") for label in view.get("labels") or [] if isinstance(label, Mapping)]
    own = record.get("labels")
    if isinstance(own, Mapping):
        values += [v.get("val") for v in own.get("values") or [] if isinstance(v, Mapping)]
    return {v for v in values if isinstance(v, str)}


def _quoted_uri(embed: Any) -> str | None:
    """The quoted post of an `app.bsky.embed.record` (or `recordWithMedia`) embed in the record."""
    if not isinstance(embed, Mapping):
        return None
    ref = embed.get("record")
    if isinstance(ref, Mapping) and isinstance(ref.get("record"), Mapping):  # recordWithMedia
        ref = ref["record"]
    uri = ref.get("uri") if isinstance(ref, Mapping) else None
    return uri if isinstance(uri, str) and "/app.bsky.feed.post/" in uri else None


def post_to_mention(post: Post, brand: BrandConfig, query: str) -> Mention:
    return Mention(
        id=Mention.make_id("bluesky", post.rkey), source="bluesky", native_id=post.rkey, url=post.url,
        author_handle=post.handle, text=post.text, lang=post.lang, created_at=post.created_at,
        brand=brand.name, query=query, engagement=post.engagement, nsfw=post.nsfw,
        refers_to=Mention.make_id("bluesky", post.quotes.rsplit("/", 1)[-1]) if post.quotes else None,
    )


def uri_of(mention: Mention) -> str | None:
    """The post's AT-URI, rebuilt from the DID in its URL."""
    match = _POST_URL.search(mention.url)
    return f"at://{match['did']}/app.bsky.feed.post/{match['rkey']}" if match else None


def _posts(content: Any) -> tuple[list[Any], str | None]:
    if not isinstance(content, Mapping) or not isinstance(content.get("posts"), list):
        raise _Unreadable("the reply has no list of posts")
    cursor = content.get("cursor")
    return content["posts"], cursor if isinstance(cursor, str) and cursor else None


# --- the source -----------------------------------------------------------------------------


class BlueskySource:
    """A `Source` over Bluesky's post search."""

    name = "bluesky"

    def __init__(
        self,
        settings: BlueskySettings,
        handle: str,
        password: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self._handle = handle
        self._password = password
        self._retry = RetryPolicy(settings, "bluesky", "Bluesky", sleep, log, at_once=(_SessionExpired,))
        self._now = now
        self._client: Client | None = None
        self.removals: list[Removal] = []  # posts a refresh found deleted or taken down, taken by the pipeline

    def __repr__(self) -> str:
        return f"BlueskySource(handle={self._handle!r}, base_url={self.settings.base_url!r})"

    @classmethod
    def from_settings(cls, settings: BlueskySettings, context: SourceContext) -> BlueskySource:
        handle = credential(settings, HANDLE_ENV, "login", source="bluesky")
        password = credential(settings, PASSWORD_ENV, "password", source="bluesky")
        return cls(settings, handle, password)

    # --- calls ---

    def _session(self) -> Client:
        if self._client is None:
            client = Client(base_url=self.settings.base_url, request=Request(timeout=self.settings.timeout_seconds))
            try:
                client.login(self._handle, self._password, fetch_bsky_profile=False)
            except Exception as exc:  # noqa: BLE001 - classified, never re-raised with the request
                raise _classify(exc, login=True) from None
            self._client = client
        return self._client

    def _query(self, nsid: str, params: Any) -> Any:
        try:
            return self._session().invoke_query(nsid, params=params).content
        except (Transient, _Unreadable, _SessionExpired, SourceError):  # already classified by _session()
            raise
        except Exception as exc:  # noqa: BLE001 - classified below
            classified = _classify(exc, login=False)
            if isinstance(classified, _SessionExpired):
                self._client = None  # log in again on the next attempt
            raise classified from None

    def _call(self, nsid: str, params: Any) -> Any:
        """One XRPC query with retries; SourceError when Bluesky stays down."""
        try:
            return self._retry.call(self._query, nsid, params)
        except _SessionExpired:
            raise _auth_error(None, "session kept expiring") from None

    # --- fetch ---

    def fetch(self, brands: Sequence[BrandConfig], cursor: str | None) -> Batch:
        overlap = timedelta(minutes=self.settings.overlap_minutes)
        queries = {f"q:{q}": q for q in dict.fromkeys(q for brand in brands for q in searches(brand, "bluesky"))}
        batch = Batch()
        seen: set[str] = set()
        return fetch_streams(
            cursor, {key: f"bluesky search {q!r}" for key, q in queries.items()},
            lambda key, stream: self._scan(queries[key], stream, brands, batch, seen), batch,
            load=lambda state: _Stream.load(state, overlap), new=lambda: _Stream(_Mark(overlap)),
            source=self.name, unreadable=_Unreadable,
        )

    def _scan(self, query: str, stream: _Stream, brands: Sequence[BrandConfig], batch: Batch, seen: set[str]) -> bool:
        """Read a few pages of one query's scan; True if the scan is still unfinished."""
        floor = stream.mark.floor

        def read(at: str | None) -> tuple[list[Any], str | None]:
            params = models.AppBskyFeedSearchPosts.Params(
                q=query, sort="latest", limit=self.settings.page_size,
                cursor=at, lang=self.settings.lang, since=floor.isoformat().replace("+00:00", "Z") if floor else None,
            )
            posts, following = _posts(self._call("app.bsky.feed.searchPosts", params))
            return posts, following if posts else None

        def take(raw: Any, scan: ScanPage) -> None:
            try:
                post = parse_post(raw)
            except ValueError as exc:
                batch.problems.append(Problem(f"bluesky search {query!r}", str(exc)))
                return
            if scan.is_new(post.sort_at, post.uri):
                self._keep(post, brands, batch, seen)

        return scan_pages(stream, read, take, pages=self.settings.pages_per_fetch,
                          backfill=self.settings.backfill_pages)

    def _keep(self, post: Post, brands: Sequence[BrandConfig], batch: Batch, seen: set[str]) -> None:
        found = (first_match(brands, post.text, nsfw=post.nsfw, lang=post.lang, source=self.name, author=post.handle)
                 if post.uri not in seen else None)
        if found is not None:
            seen.add(post.uri)
            batch.add(post_to_mention(post, *found), self._now())

    # --- refresh ---

    def refresh(self, mentions: Sequence[Mention]) -> list[EngagementSnapshot]:
        """Current counts of the mentions' posts, 25 per getPosts call; deleted posts are left out."""
        by_uri = {uri: m for m in mentions if m.source == self.name and (uri := uri_of(m)) is not None}
        uris = list(by_uri)
        snapshots: list[EngagementSnapshot] = []
        for start in range(0, len(uris), GET_POSTS_LIMIT):
            chunk = uris[start : start + GET_POSTS_LIMIT]
            try:
                posts, _ = _posts(self._call("app.bsky.feed.getPosts", models.AppBskyFeedGetPosts.Params(uris=chunk)))
            except _Unreadable as exc:
                log.warning("bluesky: refresh skipped an unreadable getPosts reply: %s", exc)
                continue
            # getPosts leaves out posts that were deleted or taken down: their copies must go too.
            returned = {raw.get("uri") for raw in posts if isinstance(raw, Mapping)}
            self.removals += [Removal(by_uri[uri].id, "deleted") for uri in chunk if uri not in returned]
            for raw in posts:
                try:
                    post = parse_post(raw)
                except ValueError as exc:
                    log.warning("bluesky: refresh skipped a post: %s", exc)
                    continue
                mention = by_uri.get(post.uri)
                if mention is not None:
                    snapshots.append(
                        EngagementSnapshot(mention_id=mention.id, observed_at=self._now(), engagement=post.engagement)
                    )
        return snapshots
