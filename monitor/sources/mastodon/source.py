"""Mastodon posts mentioning the brands: configured hashtag timelines and status search.

Uses Mastodon.py against one instance (`api_base_url`) with an access token from
`EARSHOT_MASTODON_ACCESS_TOKEN`. Hashtag timelines (`timeline_hashtag`) follow the listed
tags; `search_v2(q, result_type="statuses")` looks for every brand query (full-text search
only finds what the instance has indexed: opted-in public posts on Mastodon 4.2+). A post is
kept when `BrandConfig.match` finds a brand in its text, with the HTML of `content`
reduced to plain text.

Mastodon.py is told to throw on a rate limit (`ratelimit_method="throw"`) so the source
waits for `X-RateLimit-Reset` itself, with a sleep tests can replace; the instance version is
read once, up front and with retries, because Mastodon.py would otherwise ask for it in the
middle of a search and mistake a failed answer for a very old server.

Cursor (JSON), per timeline/query: `since`, the id of the newest post stored. A fetch reads
newest first down to `since` (`since_id` for timelines, `min_id` for search, `max_id` to page
down) and only then moves `since` up, so a page limit or a crash never leaves a gap. Ids are
compared by the server only: Mastodon documents them as opaque strings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from monitor.config import BrandConfig
from monitor.models import Engagement, EngagementSnapshot, Mention, utcnow
from monitor.sources.base import Batch, Problem, Removal, SourceError, first_match, searches
from monitor.sources.credentials import credential
from monitor.sources.cursors import ScanPage, fetch_streams, scan_pages
from monitor.sources.mastodon.settings import TOKEN_ENV, MastodonSettings
from monitor.sources.registry import SourceContext
from monitor.sources.retries import RetryPolicy, Transient

log = logging.getLogger(__name__)

DELETED_AUTHOR = "[deleted]"
STATUSES_BATCH = 20  # ids per GET /api/v1/statuses (Mastodon 4.3+)


# --- errors ---------------------------------------------------------------------------------


class _Unreadable(Exception):
    """A 200 whose body is not what the API documents: reported as a Problem, never stored."""


class _NotFound(Exception):
    """HTTP 404: a deleted post when refreshing; a missing endpoint anywhere else."""


def _status_code(exc: BaseException) -> int | None:
    # Mastodon.py raises ('Mastodon API returned error', status, reason, message).
    args = getattr(exc, "args", ())
    return args[1] if len(args) > 1 and isinstance(args[1], int) else None


def _classify(exc: BaseException, api: Mastodon | None) -> Exception:
    """The exception to raise for a Mastodon.py failure: Transient, _NotFound, _Unreadable or SourceError."""
    while not isinstance(exc, MastodonAPIError | MastodonNetworkError | MastodonRatelimitError) and exc.__cause__:
        exc = exc.__cause__  # MastodonVersionError wraps the real failure of the instance lookup
    status = _status_code(exc)
    if isinstance(exc, MastodonRatelimitError):
        reset = api.ratelimit_reset if api is not None else None
        return Transient("is rate limiting (HTTP 429)", wait=max(reset - time.time(), 0.0) if reset else None)
    if isinstance(exc, MastodonNetworkError):
        return Transient("could not be reached")
    if isinstance(exc, MastodonServerError):
        return Transient(f"is failing (HTTP {status})")
    if isinstance(exc, MastodonUnauthorizedError) or status == 403:
        return SourceError(
            f"sources.mastodon: the instance rejected the access token (HTTP {status}): check the environment "
            f"variable {TOKEN_ENV} (a token of this instance with the read:statuses scope)"
        )
    if isinstance(exc, MastodonNotFoundError):
        return _NotFound()
    if isinstance(exc, MastodonAPIError) and status is None:
        return _Unreadable("the reply is not valid JSON")
    if isinstance(exc, MastodonAPIError):
        return SourceError(f"sources.mastodon: the instance answered HTTP {status}")
    return SourceError(f"sources.mastodon: Mastodon.py failed ({type(exc).__name__})")


# --- mapping --------------------------------------------------------------------------------


class _PlainText(HTMLParser):
    """Mastodon's status HTML as text: paragraphs and line breaks kept, tags dropped, entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)  # includes the "invisible" spans: links come out whole


def html_to_text(content: str) -> str:
    parser = _PlainText()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts).strip()


def _count(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _when(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def engagement_of(status: Mapping[str, Any]) -> Engagement:
    return Engagement(likes=_count(status, "favourites_count"), reposts=_count(status, "reblogs_count"),
                      replies=_count(status, "replies_count"), quotes=_count(status, "quotes_count"))


@dataclass
class Status:
    """The parts of a Mastodon status Earshot uses."""

    id: str
    url: str
    text: str
    spoiler: str | None
    lang: str | None
    created_at: datetime
    handle: str
    followers: int
    engagement: Engagement
    sensitive: bool = False  # marked sensitive (a content warning, adult media): kept as the NSFW flag


def parse_status(raw: Any) -> Status:
    """One status as Mastodon.py returns it (a dict); ValueError names what is wrong with it."""
    if not isinstance(raw, Mapping):
        raise ValueError("a status is not an object")
    if isinstance(raw.get("reblog"), Mapping):
        raw = raw["reblog"]  # a boost: the boosted post is the mention
    status_id = raw.get("id")
    if status_id is None or isinstance(status_id, bool) or str(status_id) == "":
        raise ValueError("the status has no id")
    content = raw.get("content")
    if not isinstance(content, str):
        raise ValueError(f"status {status_id}: content is missing")
    created = _when(raw.get("created_at"))
    if created is None:
        raise ValueError(f"status {status_id}: created_at is not a timestamp")
    url = raw.get("url") or raw.get("uri")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"status {status_id}: neither url nor uri is a link")
    account = raw.get("account") if isinstance(raw.get("account"), Mapping) else {}
    handle = account.get("acct") or account.get("username")
    spoiler = raw.get("spoiler_text")
    lang = raw.get("language")
    return Status(
        id=str(status_id), url=url, text=html_to_text(content),
        spoiler=spoiler if isinstance(spoiler, str) and spoiler else None,
        lang=lang if isinstance(lang, str) and lang else None, created_at=created,
        handle=handle if isinstance(handle, str) and handle else DELETED_AUTHOR,
        followers=_count(account, "followers_count"), engagement=engagement_of(raw),
        sensitive=raw.get("sensitive") is True,
    )


def status_to_mention(status: Status, brand: BrandConfig, query: str) -> Mention:
    return Mention(
        id=Mention.make_id("mastodon", status.id), source="mastodon", native_id=status.id, url=status.url,
        author_handle=status.handle, author_followers=status.followers, text=status.text, title=status.spoiler,
        lang=status.lang, created_at=status.created_at, brand=brand.name, query=query, engagement=status.engagement,
        nsfw=status.sensitive,
    )


# --- cursor ---------------------------------------------------------------------------------


@dataclass
class _Since:
    """A mark by id alone: the instance answers only posts after `since_id`/`min_id`, so none it returns is stored.

    As a scan's top it keeps the first id the scan read: results come newest first.
    """

    at: str | None = None  # the id of the newest post stored (or, as a scan's top, read)

    def covers(self, at: object, native_id: str) -> bool:
        return False

    def passed(self, at: object) -> bool:
        return False  # the scan ends at the instance's last page instead

    def add(self, at: object, native_id: str) -> None:
        self.at = self.at or native_id


@dataclass
class _Stream:
    """One timeline's or query's part of the cursor, moved by `cursors.scan_pages`."""

    mark: _Since = field(default_factory=_Since)  # `since`: the newest post stored
    top: _Since | None = None  # the newest post of an unfinished scan; None: no scan in progress
    at: str | None = None  # max_id where the unfinished scan continues
    pages: int = 0

    def open(self) -> None:
        self.top = _Since()

    def finish(self) -> None:
        if self.top is not None:
            self.mark.at = self.top.at or self.mark.at
        self.top, self.at, self.pages = None, None, 0

    def dump(self) -> dict[str, Any]:
        scan = None if self.top is None else {"top": self.top.at, "max_id": self.at, "pages": self.pages}
        return {"since": self.mark.at, "scan": scan}

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> _Stream:
        scan = data.get("scan") or None
        if scan is None:
            return cls(_Since(data.get("since")))
        return cls(_Since(data.get("since")), _Since(scan.get("top")), scan.get("max_id"), int(scan.get("pages", 0)))


# --- the source -----------------------------------------------------------------------------


class MastodonSource:
    """A `Source` over one Mastodon instance's hashtag timelines and status search."""

    name = "mastodon"

    def __init__(
        self,
        settings: MastodonSettings,
        access_token: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self._token = access_token
        self._retry = RetryPolicy(settings, "mastodon", "the instance", sleep, log)
        self._now = now
        self._api: Mastodon | None = None
        self.removals: list[Removal] = []  # posts a refresh found deleted, taken by the pipeline

    def __repr__(self) -> str:
        return f"MastodonSource(api_base_url={self.settings.api_base_url!r})"

    @classmethod
    def from_settings(cls, settings: MastodonSettings, context: SourceContext) -> MastodonSource:
        return cls(settings, credential(settings, TOKEN_ENV, "password", source="mastodon"))

    # --- calls ---

    def _client(self) -> Mastodon:
        """The API wrapper, with the instance version read (and retried) before any other call."""
        if self._api is None:
            api = Mastodon(access_token=self._token, api_base_url=self.settings.api_base_url,
                           ratelimit_method="throw", request_timeout=self.settings.timeout_seconds,
                           version_check_mode="none", session=requests.Session())
            self._call(lambda: api.retrieve_mastodon_version(fail_hard=True), api)
            self._api = api
        return self._api

    def _call(self, action: Callable[[], Any], api: Mastodon | None = None, *, allow_missing: bool = False) -> Any:
        """One API call with retries; SourceError when the instance stays down or refuses.

        `allow_missing`: let a 404 through as _NotFound (a deleted post) instead of an error.
        """

        def attempt() -> Any:
            try:
                return action()
            except MastodonError as exc:
                raise _classify(exc, api or self._api) from None

        try:
            return self._retry.call(attempt)
        except _NotFound:
            if allow_missing:
                raise
            raise SourceError("sources.mastodon: the instance answered HTTP 404: check "
                              "sources.mastodon.api_base_url (is it a Mastodon instance?)") from None

    # --- fetch ---

    def _page(self, key: str, since: str | None, max_id: str | None) -> list[Any]:
        api = self._client()
        kind, _, term = key.partition(":")
        if kind == "tag":
            result = self._call(lambda: api.timeline_hashtag(term, since_id=since, max_id=max_id,
                                                              limit=self.settings.page_size))
        else:
            result = self._call(lambda: api.search_v2(term, result_type="statuses", resolve=False, min_id=since,
                                                      max_id=max_id, limit=self.settings.page_size))
            result = result.get("statuses") if isinstance(result, Mapping) else None
        if not isinstance(result, list):
            raise _Unreadable(f"the reply is not a list of statuses ({type(result).__name__})")
        return result

    def fetch(self, brands: Sequence[BrandConfig], cursor: str | None) -> Batch:
        keys = [f"tag:{tag}" for tag in self.settings.hashtags]
        if self.settings.search:
            keys += [f"q:{q}" for q in dict.fromkeys(q for brand in brands for q in searches(brand, "mastodon"))]
        batch = Batch()
        seen: set[str] = set()
        return fetch_streams(
            cursor, {key: f"mastodon {key}" for key in keys},
            lambda key, stream: self._scan(key, stream, brands, batch, seen), batch,
            load=_Stream.load, new=_Stream, source=self.name, unreadable=_Unreadable,
        )

    def _scan(self, key: str, stream: _Stream, brands: Sequence[BrandConfig], batch: Batch, seen: set[str]) -> bool:
        """Read a few pages down towards `since`; True if the scan is still unfinished."""

        def read(max_id: str | None) -> tuple[list[Any], str | None]:
            page = self._page(key, stream.mark.at, max_id)
            ids = [str(raw["id"]) for raw in page if isinstance(raw, Mapping) and raw.get("id") is not None]
            return page, ids[-1] if ids else None  # the next page ends below the last id; none: the end

        def take(raw: Any, scan: ScanPage) -> None:
            if isinstance(raw, Mapping) and raw.get("id") is not None:
                scan.is_new(None, str(raw["id"]))  # even a malformed status moves the scan's top
            try:
                status = parse_status(raw)
            except ValueError as exc:
                batch.problems.append(Problem(f"mastodon {key}", str(exc)))
                return
            self._keep(status, brands, batch, seen)

        return scan_pages(stream, read, take, pages=self.settings.pages_per_fetch,
                          backfill=self.settings.backfill_pages)

    def _keep(self, status: Status, brands: Sequence[BrandConfig], batch: Batch, seen: set[str]) -> None:
        found = (first_match(brands, f"{status.spoiler or ''} {status.text}", nsfw=status.sensitive,
                             lang=status.lang, source=self.name, author=status.handle)
                 if status.id not in seen else None)
        if found is not None:
            seen.add(status.id)
            batch.add(status_to_mention(status, *found), self._now())

    # --- refresh ---

    def refresh(self, mentions: Sequence[Mention]) -> list[EngagementSnapshot]:
        """Current counts of the mentions' posts: batches of 20 on Mastodon 4.3+, else one by one.

        Deleted posts (404) are left out.
        """
        wanted = {m.native_id: m for m in mentions if m.source == self.name}
        if not wanted:
            return []
        api = self._client()
        ids = list(wanted)
        found: list[Any] = []
        answered: set[str] = set()  # ids the instance answered for: absent from its answer means deleted
        if api.verify_minimum_version("4.3.0", cached=True):
            for start in range(0, len(ids), STATUSES_BATCH):
                chunk = ids[start : start + STATUSES_BATCH]
                try:
                    result = self._call(lambda chunk=chunk: api.statuses(chunk))
                except _Unreadable as exc:
                    log.warning("mastodon: refresh skipped an unreadable reply: %s", exc)
                    continue
                if isinstance(result, list):
                    found += result
                    answered.update(chunk)
        else:
            for status_id in ids:
                try:
                    found.append(self._call(lambda status_id=status_id: api.status(status_id), allow_missing=True))
                except _NotFound:
                    pass  # deleted since it was fetched
                except _Unreadable as exc:
                    log.warning("mastodon: refresh skipped an unreadable reply: %s", exc)
                    continue
                answered.add(status_id)
        present = {str(raw.get("id")) for raw in found if isinstance(raw, Mapping)}
        self.removals += [Removal(wanted[i].id, "deleted") for i in ids if i in answered and i not in present]
        snapshots = []
        for raw in found:
            raw_id = raw.get("id") if isinstance(raw, Mapping) else None
            mention = wanted.get(str(raw_id)) if raw_id is not None else None
            if mention is not None:
                snapshots.append(EngagementSnapshot(mention_id=mention.id, observed_at=self._now(),
                                                    engagement=engagement_of(raw)))
        return snapshots
