"""Apple App Store reviews of the configured apps, from Apple's public customer-reviews feed.

`{base_url}/{country}/rss/customerreviews/page={n}/id={app_id}/sortby=mostrecent/json`
serves up to ten pages of the most recent reviews, newest first. A review is about the app
it was left on, so its brand is the one configured for that app and its query is the app id.

The feed's quirks handled here: page 1 may start with an entry describing the app itself
(no rating); a page holding a single entry gives `entry` as an object instead of a list;
`content` is either one object or a list of text and HTML variants; a page past the end has
no `entry` at all.

Cursor (JSON), per app/country stream: the newest `updated` time seen and the review ids at
that time (`mark`), plus an unfinished newest-first scan (next page and what it has seen).
The mark only moves up when a scan reaches it, so a page limit or a crash never leaves a
gap. An edited review comes back to the top with a new `updated` time and is fetched again,
which updates the stored mention.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from monitor.config import BrandConfig, Config, SourceSettings
from monitor.models import Engagement, EngagementSnapshot, Mention, utcnow
from monitor.sources.base import Batch, Problem, SourceError

log = logging.getLogger(__name__)

APPLE_MAX_PAGES = 10  # the feed serves no more than this
DELETED_AUTHOR = "[deleted]"


class StoreApp(BaseModel):
    """One app to follow, and the brand its reviews belong to."""

    model_config = ConfigDict(extra="forbid")

    app_id: str = Field(min_length=1, pattern=r"^\d+$")  # the numeric id in the app's store URL
    brand: str = Field(min_length=1)
    countries: list[str] = Field(default_factory=lambda: ["us"], min_length=1)


class AppStoreSettings(SourceSettings):
    """Reviews of the listed apps; the feed needs no credential."""

    apps: list[StoreApp] = Field(default_factory=list)
    base_url: str = "https://itunes.apple.com"  # a proxy or a local fake instead of Apple
    pages_per_fetch: int = Field(5, ge=1, le=APPLE_MAX_PAGES)  # per stream and fetch
    refresh_pages: int = Field(2, ge=1, le=APPLE_MAX_PAGES)  # newest pages re-read for vote counts
    timeout_seconds: float = Field(30, gt=0)
    retries: int = Field(4, ge=1)  # attempts per request for outages and rate limits
    backoff_seconds: float = Field(2.0, ge=0)
    max_rate_limit_wait_seconds: float = Field(900, ge=0)


# --- transport ------------------------------------------------------------------------------


class _Transient(Exception):
    """Worth another attempt: an outage, a dropped connection or a rate limit (`wait`: its reset)."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


class _Unreadable(Exception):
    """A 200 whose body is not the documented feed: reported as a Problem, never stored."""


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date), None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _retrying(settings: AppStoreSettings, sleep: Callable[[float], None]) -> Retrying:
    """Exponential backoff for outages; a rate limit waits for its reset instead (capped)."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.wait is not None:
            return min(exc.wait, settings.max_rate_limit_wait_seconds)
        return min(settings.backoff_seconds * 2 ** (state.attempt_number - 1), 60.0)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("appstore: the App Store feed %s; retrying in %.1f s", getattr(exc, "reason", exc),
                    state.next_action.sleep if state.next_action else 0)

    return Retrying(stop=stop_after_attempt(settings.retries), wait=wait, sleep=sleep, reraise=True,
                    retry=retry_if_exception_type(_Transient), before_sleep=before_sleep)


# --- cursor ---------------------------------------------------------------------------------


@dataclass
class _Mark:
    """The newest `updated` time seen and the review ids seen at that time."""

    at: datetime | None = None
    ids: set[str] = field(default_factory=set)

    def covers(self, at: datetime, review_id: str) -> bool:
        """Already stored: older than the mark, or at the mark and already seen."""
        return self.at is not None and (at < self.at or (at == self.at and review_id in self.ids))

    def add(self, at: datetime, review_id: str) -> None:
        if self.at is None or at > self.at:
            self.at, self.ids = at, {review_id}
        elif at == self.at:
            self.ids.add(review_id)

    def merge(self, other: _Mark) -> None:
        if other.at is not None:
            for review_id in other.ids:
                self.add(other.at, review_id)

    def dump(self) -> dict[str, Any]:
        return {"at": self.at.isoformat() if self.at else None, "ids": sorted(self.ids)}

    @classmethod
    def load(cls, data: Mapping[str, Any] | None) -> _Mark:
        if not data or not data.get("at"):
            return cls()
        return cls(datetime.fromisoformat(data["at"]), set(data.get("ids", [])))


@dataclass
class _Stream:
    mark: _Mark = field(default_factory=_Mark)
    scan_page: int = 1  # next page of an unfinished scan
    scan_top: _Mark | None = None  # None: no scan in progress

    def dump(self) -> dict[str, Any]:
        scan = None if self.scan_top is None else {"page": self.scan_page, "top": self.scan_top.dump()}
        return {"mark": self.mark.dump(), "scan": scan}

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> _Stream:
        scan = data.get("scan") or None
        if scan is None:
            return cls(_Mark.load(data.get("mark")))
        return cls(_Mark.load(data.get("mark")), int(scan["page"]), _Mark.load(scan.get("top")))


def _load_cursor(cursor: str | None) -> dict[str, _Stream]:
    if not cursor:
        return {}
    try:
        return {key: _Stream.load(value) for key, value in json.loads(cursor)["streams"].items()}
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SourceError(f"sources.appstore: the saved cursor is not readable ({type(exc).__name__})") from None


def _dump_cursor(streams: Mapping[str, _Stream]) -> str:
    return json.dumps({"v": 1, "streams": {key: s.dump() for key, s in sorted(streams.items())}}, sort_keys=True)


# --- mapping --------------------------------------------------------------------------------


def _label(entry: Mapping[str, Any], key: str) -> str | None:
    """`entry[key].label`, the feed's way of carrying every scalar; None when absent."""
    value = entry.get(key)
    if isinstance(value, Mapping) and isinstance(value.get("label"), str):
        return value["label"]
    return None


def _content(entry: Mapping[str, Any]) -> str:
    """The review's plain text: `content` is one object, or a list of text and HTML variants."""
    content = entry.get("content")
    variants = content if isinstance(content, list) else [content]
    texts = [v for v in variants if isinstance(v, Mapping) and isinstance(v.get("label"), str)]
    plain = [v for v in texts if (v.get("attributes") or {}).get("type", "text") == "text"]
    chosen = (plain or texts or [None])[0]
    return chosen["label"] if chosen else ""


def _count(entry: Mapping[str, Any], key: str) -> int:
    try:
        return max(int(_label(entry, key) or 0), 0)
    except ValueError:
        return 0


def is_app_entry(entry: Mapping[str, Any]) -> bool:
    """The entry describing the app itself, which some pages put first: not a review."""
    return "im:rating" not in entry and ("im:name" in entry or "im:artist" in entry or "im:image" in entry)


def votes(entry: Mapping[str, Any]) -> Engagement:
    """How many people voted on the review's helpfulness: the feed's only engagement count."""
    return Engagement(likes=_count(entry, "im:voteCount"))


def entry_to_mention(entry: Mapping[str, Any], app: StoreApp, country: str) -> Mention:
    """One review entry of the feed; ValueError names what is wrong with it."""
    review_id = _label(entry, "id")
    if not review_id:
        raise ValueError("the entry has no id")
    try:
        rating = int(_label(entry, "im:rating") or "")
    except ValueError:
        raise ValueError(f"review {review_id}: im:rating {_label(entry, 'im:rating')!r} is not a number") from None
    if not 1 <= rating <= 5:
        raise ValueError(f"review {review_id}: rating {rating} is not 1-5")
    try:
        updated = datetime.fromisoformat(_label(entry, "updated") or "")
    except ValueError:
        raise ValueError(f"review {review_id}: updated {_label(entry, 'updated')!r} is not a timestamp") from None
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=UTC)
    author = entry.get("author")
    handle = _label(author, "name") if isinstance(author, Mapping) else None
    link = entry.get("link")
    attributes = link.get("attributes") if isinstance(link, Mapping) else None
    href = attributes.get("href") if isinstance(attributes, Mapping) else None
    if not isinstance(href, str) or not href.startswith(("http://", "https://")):
        href = f"https://apps.apple.com/{country}/app/id{app.app_id}?see-all=reviews"
    version = _label(entry, "im:version")
    return Mention(
        id=Mention.make_id("appstore", review_id),
        source="appstore",
        native_id=review_id,
        url=href,
        author_handle=handle or DELETED_AUTHOR,
        text=_content(entry),
        title=_label(entry, "title") or None,
        created_at=updated,
        brand=app.brand,
        query=app.app_id,
        engagement=votes(entry),
        rating=rating,
        # Mention has no app-version field yet (requested from the models owner); fill it once it does.
        **({"app_version": version} if "app_version" in Mention.model_fields else {}),
    )


def _entries(data: Any) -> list[Any]:
    """The page's entries; _Unreadable if the body is not the documented feed."""
    feed = data.get("feed") if isinstance(data, Mapping) else None
    if not isinstance(feed, Mapping):
        raise _Unreadable("the reply has no feed object")
    entries = feed.get("entry", [])
    if isinstance(entries, Mapping):
        return [entries]  # a page with a single entry
    if not isinstance(entries, list):
        raise _Unreadable(f"feed.entry is a {type(entries).__name__}, not a list")
    return entries


# --- the source -----------------------------------------------------------------------------


class AppStoreSource:
    """A `Source` over the most recent App Store reviews of the configured apps."""

    name = "appstore"
    settings_model = AppStoreSettings

    def __init__(
        self,
        settings: AppStoreSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._now = now
        self._http: httpx.Client | None = None

    @classmethod
    def from_config(cls, config: Config) -> AppStoreSource:
        settings = config.sources.get("appstore")
        if not isinstance(settings, AppStoreSettings):
            raise SourceError("sources.appstore: not configured (list the apps to follow under sources.appstore.apps)")
        return cls(settings)

    @contextmanager
    def _connected(self) -> Iterator[None]:
        """One HTTP connection pool per fetch or refresh, closed when it is done."""
        self._http = httpx.Client(base_url=self.settings.base_url.rstrip("/"), timeout=self.settings.timeout_seconds,
                                  follow_redirects=True,
                                  headers={"Accept": "application/json", "User-Agent": "earshot"})
        try:
            yield
        finally:
            self._http.close()
            self._http = None

    def _get(self, path: str) -> Any:
        response = _retrying(self.settings, self._sleep)(self._send, path)
        try:
            return response.json()
        except ValueError:
            raise _Unreadable("the reply is not JSON") from None

    def _send(self, path: str) -> httpx.Response:
        assert self._http is not None, "only inside _connected()"
        try:
            response = self._http.get(path)
        except httpx.HTTPError as exc:  # refused, reset, timeout
            raise _Transient(f"could not be reached ({type(exc).__name__})") from None
        status = response.status_code
        if status == 429:
            raise _Transient("is rate limiting (HTTP 429)", wait=_retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            raise _Transient(f"is failing (HTTP {status})")
        if status in (401, 403):
            raise SourceError(
                f"sources.appstore: Apple refused the request (HTTP {status}); the feed needs no credential, so this "
                "address is probably blocked: check sources.appstore.base_url or route it through a proxy"
            )
        if status == 404:
            raise _Unreadable("Apple has no review feed for this app in this country (HTTP 404)")
        if status >= 400:
            raise SourceError(f"sources.appstore: the App Store feed answered HTTP {status}")
        return response

    def _page(self, app: StoreApp, country: str, page: int) -> list[Any]:
        path = f"/{country}/rss/customerreviews/page={page}/id={app.app_id}/sortby=mostrecent/json"
        try:
            return _entries(self._get(path))
        except _Transient as exc:
            raise SourceError(
                f"sources.appstore: the App Store feed {exc.reason}; gave up after {self.settings.retries} attempts"
            ) from None

    def fetch(self, brands: Sequence[BrandConfig], cursor: str | None) -> Batch:
        streams = _load_cursor(cursor)
        batch = Batch()
        known = {brand.name for brand in brands}
        seen: set[str] = set()
        with self._connected():
            for app in self.settings.apps:
                if app.brand not in known:
                    batch.problems.append(Problem(f"appstore app {app.app_id}",
                                                  f"brand {app.brand!r} is not one of the configured brands; skipped"))
                    continue
                for country in app.countries:
                    stream = streams.setdefault(f"{app.app_id}/{country}", _Stream())
                    if self._scan(app, country, stream, batch, seen):
                        batch.exhausted = False
        batch.cursor = _dump_cursor(streams)
        return batch

    def _scan(self, app: StoreApp, country: str, stream: _Stream, batch: Batch, seen: set[str]) -> bool:
        """Read a few pages of one stream's scan; True if the scan is still unfinished."""
        where = f"appstore {app.app_id} {country}"
        for _ in range(self.settings.pages_per_fetch):
            page = stream.scan_page
            try:
                entries = self._page(app, country, page)
            except _Unreadable as exc:
                batch.problems.append(Problem(f"{where} page {page}", f"{exc}; will retry next fetch"))
                log.warning("appstore: skipped an unreadable page of %s %s: %s", app.app_id, country, exc)
                return False  # the scan stays where it was; the next fetch reads this page again
            if stream.scan_top is None:
                stream.scan_top = _Mark()
            reached_mark = False
            reviews = 0
            for index, entry in enumerate(entries):
                if not isinstance(entry, Mapping):
                    batch.problems.append(Problem(f"{where} page {page} entry {index}", "not an object"))
                    continue
                if is_app_entry(entry):
                    continue
                reviews += 1
                try:
                    mention = entry_to_mention(entry, app, country)
                except ValueError as exc:
                    batch.problems.append(Problem(f"{where} page {page}", str(exc)))
                    continue
                stream.scan_top.add(mention.created_at, mention.native_id)
                if stream.mark.covers(mention.created_at, mention.native_id):
                    reached_mark = reached_mark or mention.created_at != stream.mark.at  # strictly older
                    continue
                if mention.id not in seen:
                    seen.add(mention.id)
                    batch.mentions.append(mention)
                    batch.snapshots.append(
                        EngagementSnapshot(mention_id=mention.id, observed_at=self._now(),
                                           engagement=mention.engagement)
                    )
            if reached_mark or reviews == 0 or page >= APPLE_MAX_PAGES:
                stream.mark.merge(stream.scan_top)
                stream.scan_page, stream.scan_top = 1, None
                return False
            stream.scan_page = page + 1
        return True

    def refresh(self, mentions: Sequence[Mention]) -> list[EngagementSnapshot]:
        """Vote counts of recent reviews, read again from the newest pages of their apps' feeds.

        The feed has no lookup by review id, so reviews older than `refresh_pages` pages
        are not refreshed; that is where votes still change anyway.
        """
        wanted: dict[str, dict[str, Mention]] = {}
        for m in mentions:
            if m.source == self.name:
                wanted.setdefault(m.query, {})[m.native_id] = m
        snapshots: list[EngagementSnapshot] = []
        if not wanted:
            return snapshots
        with self._connected():
            for app in self.settings.apps:
                for country in app.countries:
                    snapshots += self._refresh_stream(app, country, wanted.get(app.app_id))
        return snapshots

    def _refresh_stream(
        self, app: StoreApp, country: str, remaining: dict[str, Mention] | None
    ) -> list[EngagementSnapshot]:
        snapshots: list[EngagementSnapshot] = []
        for page in range(1, self.settings.refresh_pages + 1):
            if not remaining:
                break
            try:
                entries = self._page(app, country, page)
            except _Unreadable as exc:
                log.warning("appstore: refresh skipped an unreadable page of %s %s: %s", app.app_id, country, exc)
                break
            for entry in entries:
                found = remaining.pop(_label(entry, "id") or "", None) if isinstance(entry, Mapping) else None
                if found is not None:
                    snapshots.append(
                        EngagementSnapshot(mention_id=found.id, observed_at=self._now(), engagement=votes(entry))
                    )
            if not entries:
                break
        return snapshots
