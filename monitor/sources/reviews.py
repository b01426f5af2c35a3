"""What the app-store review sources share: reviews tied to apps, read newest first per stream.

Why one module: Google Play and the App Store differ in how a page of reviews is fetched
and what a review looks like, not in how Earshot follows them. In both, a review belongs
to the brand configured for its app (no text matching; its query is the app id); each
app's reviews come in streams (per country, and for Play per language) listed newest
first; a fetch scans each stream down to what is stored (`cursors.TimeMark`, moved up only
once a scan reaches it, so a page limit or a crash never leaves a gap); and engagement is
refreshed by reading the newest pages again, since neither store looks a review up by id.

`ReviewSource` is that loop; a subclass says how to read one page (`_read`), how a raw
review becomes a `Mention` (`_mention`) and what its engagement is (`_engagement`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from monitor.config import BrandConfig
from monitor.models import Engagement, EngagementSnapshot, Mention, utcnow
from monitor.sources.base import Batch, Problem, SourceError
from monitor.sources.cursors import ScanPage, ScanState, dump_streams, load_streams, scan_pages
from monitor.sources.retries import RetryPolicy, Transient

log = logging.getLogger(__name__)


def status_failure(status: int, wait: float | None, *, source: str, store: str) -> Exception | None:
    """What an error status means from a store that needs no credential; None leaves it to the caller.

    429 and 5xx are worth retrying (`wait`: the store's Retry-After); 401/403 cannot be a bad
    credential, so the address is blocked.
    """
    if status == 429:
        return Transient("is rate limiting (HTTP 429)", wait=wait)
    if status >= 500:
        return Transient(f"is failing (HTTP {status})")
    if status in (401, 403):
        return SourceError(
            f"sources.{source}: {store} refused the request (HTTP {status}); it needs no credential, so this "
            f"address is probably blocked: check sources.{source}.base_url or route it through a proxy"
        )
    return None


class ReviewApp(Protocol):
    """One followed app: the settings model's entry for it."""

    app_id: str
    brand: str
    countries: list[str]


class ReviewSettings(Protocol):
    """What the loop reads from a review source's settings (besides `RetrySettings`)."""

    apps: Sequence[ReviewApp]
    pages_per_fetch: int
    refresh_pages: int


A = TypeVar("A", bound=ReviewApp)


@dataclass(frozen=True)
class Stream(Generic[A]):
    """One list of an app's reviews, newest first: a country, and for Play a language."""

    app: A
    country: str
    lang: str | None = None

    @property
    def key(self) -> str:
        """Its key in the cursor: `app/country[/lang]`."""
        return "/".join([self.app.app_id, self.country, *([self.lang] if self.lang else [])])

    def where(self, source: str) -> str:
        return f"{source} {self.app.app_id} {self.country}" + (f"/{self.lang}" if self.lang else "")


@dataclass
class ReviewPage:
    """One page as read: its raw reviews, where the next page is (None: the end), or why it is unreadable."""

    reviews: list[Any]
    next: int | str | None
    broken: str | None = None  # a reply that is not the documented shape: read again next fetch


class _BrokenPage(Exception):
    """A page that is not the documented shape (`ReviewPage.broken`): the scan stops before it."""


class ReviewSource(Generic[A]):
    """A `Source` over the newest reviews of the configured apps; subclasses speak the store's API."""

    name: ClassVar[str]
    platform: ClassVar[str]  # how messages name the store, e.g. "the App Store feed"
    state: ClassVar[type[ScanState]]  # the source's cursor shape for one stream

    def __init__(
        self,
        settings: Any,  # the source's RetrySettings subclass, with the `ReviewSettings` fields
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self._retry = RetryPolicy(settings, self.name, self.platform, sleep, log)
        self._now = now

    # --- what a subclass provides -----------------------------------------------------------

    def _streams(self, app: A) -> list[Stream[A]]:
        return [Stream(app, country) for country in app.countries]

    def _read(self, stream: Stream[A], at: int | str | None) -> ReviewPage:
        """The page at `at` (None: the newest); SourceError when the store stays down."""
        raise NotImplementedError

    def _mention(self, raw: Any, stream: Stream[A]) -> Mention | None:
        """A review as a mention; None for an item that is not a review; ValueError saying what is wrong."""
        raise NotImplementedError

    def _engagement(self, raw: Any) -> tuple[str | None, Engagement]:
        """(review id, its engagement) of a raw review, for refreshing; id None if it has none."""
        raise NotImplementedError

    def _backfill_pages(self) -> int | None:
        """How far back the very first scan of a stream reads; None: until the store's own end."""
        return None

    @contextmanager
    def _session(self) -> Iterator[None]:
        """Around one fetch or refresh (a connection pool, say)."""
        yield

    # --- fetch --------------------------------------------------------------------------------

    def fetch(self, brands: Sequence[BrandConfig], cursor: str | None) -> Batch:
        streams = load_streams(cursor, self.state.load, source=self.name)
        batch = Batch()
        known = {brand.name for brand in brands}
        seen: set[str] = set()
        with self._session():
            for app in self.settings.apps:
                if app.brand not in known:
                    batch.problems.append(Problem(f"{self.name} app {app.app_id}",
                                                  f"brand {app.brand!r} is not one of the configured brands; skipped"))
                    continue
                for stream in self._streams(app):
                    if self._scan(stream, streams.setdefault(stream.key, self.state()), batch, seen):
                        batch.exhausted = False
        batch.cursor = dump_streams(streams)
        return batch

    def _scan(self, stream: Stream[A], state: ScanState, batch: Batch, seen: set[str]) -> bool:
        """Read a few pages of one stream's scan; True if the scan is still unfinished."""
        where = stream.where(self.name)

        def read(at: int | str | None) -> tuple[list[Any], int | str | None]:
            page = self._read(stream, at)
            if page.broken is not None:
                raise _BrokenPage(page.broken)
            return page.reviews, page.next

        def take(raw: Any, scan: ScanPage) -> None:
            try:
                mention = self._mention(raw, stream)
            except ValueError as exc:
                batch.problems.append(Problem(f"{where} page {state.pages + 1}", str(exc)))
                return
            if mention is not None and scan.is_new(mention.created_at, mention.native_id) and mention.id not in seen:
                seen.add(mention.id)
                batch.add(mention, self._now())

        try:
            return scan_pages(state, read, take, pages=self.settings.pages_per_fetch, backfill=self._backfill_pages())
        except _BrokenPage as exc:
            number = state.pages + 1
            batch.problems.append(Problem(f"{where} page {number}", f"{exc}; will retry next fetch", transient=True))
            log.warning("%s: skipped an unreadable page %d of %s: %s", self.name, number, where, exc)
            return False  # the scan stays where it was; the next fetch reads this page again

    # --- refresh ------------------------------------------------------------------------------

    def refresh(self, mentions: Sequence[Mention]) -> list[EngagementSnapshot]:
        """Engagement of recent reviews, read again from the newest `refresh_pages` pages of their apps.

        Neither store looks a review up by id, so older reviews are not refreshed; that is
        where engagement still changes anyway.
        """
        wanted: dict[str, dict[str, Mention]] = {}
        for m in mentions:
            if m.source == self.name:
                wanted.setdefault(m.query, {})[m.native_id] = m
        snapshots: list[EngagementSnapshot] = []
        if not wanted:
            return snapshots
        with self._session():
            for app in self.settings.apps:
                remaining = wanted.get(app.app_id)
                for stream in self._streams(app):
                    snapshots += self._refresh_stream(stream, remaining)
        return snapshots

    def _refresh_stream(self, stream: Stream[A], remaining: dict[str, Mention] | None) -> list[EngagementSnapshot]:
        snapshots: list[EngagementSnapshot] = []
        at: int | str | None = None
        for _ in range(self.settings.refresh_pages):
            if not remaining:
                break
            page = self._read(stream, at)
            if page.broken is not None:
                log.warning("%s: refresh skipped an unreadable page of %s: %s", self.name,
                            stream.where(self.name), page.broken)
                break
            for raw in page.reviews:
                review_id, engagement = self._engagement(raw)
                found = remaining.pop(review_id, None) if review_id is not None else None
                if found is not None:
                    snapshots.append(EngagementSnapshot(mention_id=found.id, observed_at=self._now(),
                                                        engagement=engagement))
            if page.next is None:
                break
            at = page.next
        return snapshots

