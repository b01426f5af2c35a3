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

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from monitor.models import Engagement, Mention
from monitor.sources.appstore.settings import APPLE_MAX_PAGES, AppStoreSettings, StoreApp
from monitor.sources.base import SourceError
from monitor.sources.cursors import TimeMark
from monitor.sources.registry import SourceContext
from monitor.sources.retries import Transient, retry_after_seconds
from monitor.sources.reviews import ReviewPage, ReviewSource, ScanState, Stream, status_failure

DELETED_AUTHOR = "[deleted]"


# --- transport ------------------------------------------------------------------------------


class _Unreadable(Exception):
    """A 200 whose body is not the documented feed: reported as a Problem, never stored."""


# --- cursor ---------------------------------------------------------------------------------


class _Stream(ScanState):
    """`{"mark": ..., "scan": {"page": n, "top": ...}}`: the open scan continues at page n."""

    def dump(self) -> dict[str, Any]:
        scan = None if self.top is None else {"page": self.pages + 1, "top": self.top.dump()}
        return {"mark": self.mark.dump(), "scan": scan}

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> _Stream:
        scan = data.get("scan") or None
        if scan is None:
            return cls(TimeMark.load(data.get("mark")))
        page = int(scan["page"])
        return cls(TimeMark.load(data.get("mark")), TimeMark.load(scan.get("top")), page, page - 1)


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


class AppStoreSource(ReviewSource[StoreApp]):
    """A `Source` over the most recent App Store reviews of the configured apps (the loop: reviews.py)."""

    name = "appstore"
    platform = "the App Store feed"
    state = _Stream
    _http: httpx.Client | None = None  # open during a fetch or refresh (`_session`)

    @classmethod
    def from_settings(cls, settings: AppStoreSettings, context: SourceContext) -> AppStoreSource:
        return cls(settings)

    @contextmanager
    def _session(self) -> Iterator[None]:
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
        assert self._http is not None, "only inside _session()"
        try:
            response = self._http.get(path)
        except httpx.HTTPError as exc:  # refused, reset, timeout
            raise Transient(f"could not be reached ({type(exc).__name__})") from None
        status = response.status_code
        if status < 400:
            return response
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        if failure := status_failure(status, wait, source="appstore", store="Apple"):
            raise failure
        if status == 404:
            raise _Unreadable("Apple has no review feed for this app in this country (HTTP 404)")
        raise SourceError(f"sources.appstore: the App Store feed answered HTTP {status}")

    def _read(self, stream: Stream[StoreApp], at: int | str | None) -> ReviewPage:
        page = int(at or 1)
        path = f"/{stream.country}/rss/customerreviews/page={page}/id={stream.app.app_id}/sortby=mostrecent/json"
        try:
            entries = _entries(self._get(path))
        except _Unreadable as exc:
            return ReviewPage([], None, str(exc))
        reviews = sum(1 for e in entries if isinstance(e, Mapping) and not is_app_entry(e))
        return ReviewPage(entries, None if reviews == 0 or page >= APPLE_MAX_PAGES else page + 1)

    def _mention(self, raw: Any, stream: Stream[StoreApp]) -> Mention | None:
        if not isinstance(raw, Mapping):
            raise ValueError("an entry is not an object")
        return None if is_app_entry(raw) else entry_to_mention(raw, stream.app, stream.country)

    def _engagement(self, raw: Any) -> tuple[str | None, Engagement]:
        if not isinstance(raw, Mapping):
            return None, Engagement()
        return _label(raw, "id"), votes(raw)
