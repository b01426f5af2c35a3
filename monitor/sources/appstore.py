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

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from monitor.config import BrandConfig, Config
from monitor.models import Engagement, EngagementSnapshot, Mention, utcnow
from monitor.sources.base import Batch, Problem, SourceError
from monitor.sources.cursors import ScanPage, TimeMark, dump_streams, load_streams
from monitor.sources.retries import RetryPolicy, RetrySettings, Transient, retry_after_seconds

log = logging.getLogger(__name__)

APPLE_MAX_PAGES = 10  # the feed serves no more than this
DELETED_AUTHOR = "[deleted]"


class StoreApp(BaseModel):
    """One app to follow, and the brand its reviews belong to."""

    model_config = ConfigDict(extra="forbid")

    app_id: str = Field(min_length=1, pattern=r"^\d+$")  # the numeric id in the app's store URL
    brand: str = Field(min_length=1)
    countries: list[str] = Field(default_factory=lambda: ["us"], min_length=1)


class AppStoreSettings(RetrySettings):
    """Reviews of the listed apps; the feed needs no credential."""

    apps: list[StoreApp] = Field(default_factory=list)
    base_url: str = "https://itunes.apple.com"  # a proxy or a local fake instead of Apple
    pages_per_fetch: int = Field(5, ge=1, le=APPLE_MAX_PAGES)  # per stream and fetch
    refresh_pages: int = Field(2, ge=1, le=APPLE_MAX_PAGES)  # newest pages re-read for vote counts


# --- transport ------------------------------------------------------------------------------


class _Unreadable(Exception):
    """A 200 whose body is not the documented feed: reported as a Problem, never stored."""


# --- cursor ---------------------------------------------------------------------------------


@dataclass
class _Stream:
    mark: TimeMark = field(default_factory=TimeMark)
    scan_page: int = 1  # next page of an unfinished scan
    scan_top: TimeMark | None = None  # None: no scan in progress

    def dump(self) -> dict[str, Any]:
        scan = None if self.scan_top is None else {"page": self.scan_page, "top": self.scan_top.dump()}
        return {"mark": self.mark.dump(), "scan": scan}

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> _Stream:
        scan = data.get("scan") or None
        if scan is None:
            return cls(TimeMark.load(data.get("mark")))
        return cls(TimeMark.load(data.get("mark")), int(scan["page"]), TimeMark.load(scan.get("top")))


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
        self._retry = RetryPolicy(settings, "appstore", "the App Store feed", sleep, log)
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
        response = self._retry.call(self._send, path)
        try:
            return response.json()
        except ValueError:
            raise _Unreadable("the reply is not JSON") from None

    def _send(self, path: str) -> httpx.Response:
        assert self._http is not None, "only inside _connected()"
        try:
            response = self._http.get(path)
        except httpx.HTTPError as exc:  # refused, reset, timeout
            raise Transient(f"could not be reached ({type(exc).__name__})") from None
        status = response.status_code
        if status == 429:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            raise Transient("is rate limiting (HTTP 429)", wait=wait)
        if status >= 500:
            raise Transient(f"is failing (HTTP {status})")
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
        return _entries(self._get(f"/{country}/rss/customerreviews/page={page}/id={app.app_id}/sortby=mostrecent/json"))

    def fetch(self, brands: Sequence[BrandConfig], cursor: str | None) -> Batch:
        streams = load_streams(cursor, _Stream.load, source=self.name)
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
        batch.cursor = dump_streams(streams)
        return batch

    def _scan(self, app: StoreApp, country: str, stream: _Stream, batch: Batch, seen: set[str]) -> bool:
        """Read a few pages of one stream's scan; True if the scan is still unfinished."""
        where = f"appstore {app.app_id} {country}"
        for _ in range(self.settings.pages_per_fetch):
            page = stream.scan_page
            try:
                entries = self._page(app, country, page)
            except _Unreadable as exc:
                batch.problems.append(Problem(f"{where} page {page}", f"{exc}; will retry next fetch", transient=True))
                log.warning("appstore: skipped an unreadable page of %s %s: %s", app.app_id, country, exc)
                return False  # the scan stays where it was; the next fetch reads this page again
            if stream.scan_top is None:
                stream.scan_top = TimeMark()
            scan = ScanPage(stream.mark, stream.scan_top)
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
                if scan.is_new(mention.created_at, mention.native_id) and mention.id not in seen:
                    seen.add(mention.id)
                    batch.mentions.append(mention)
                    batch.snapshots.append(
                        EngagementSnapshot(mention_id=mention.id, observed_at=self._now(),
                                           engagement=mention.engagement)
                    )
            if scan.caught_up or reviews == 0 or page >= APPLE_MAX_PAGES:
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
