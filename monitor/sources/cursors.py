"""Cursor pieces shared by sources that read streams newest first, down to what is stored.

Why: a platform that lists newest first (reviews, search results) cannot be asked "what came
after X" reliably, so these sources keep, per stream, a mark of what is stored and scan down
from the top until they reach it. Two rules keep that from losing or repeating items, and
they are the same for every such source, so they live here once:

* The mark is the newest time seen plus the ids seen at exactly that time (`TimeMark`):
  timestamps tie, and an id alone says nothing about order.
* The mark only moves up once a scan has reached it (`ScanPage.caught_up`): a scan cut short
  by a page limit or a crash resumes where it stopped instead of leaving a gap below the new
  top. Each source keeps where its scan continues (a page number, a token), since that is
  the platform's own.

The saved cursor is `{"v": 1, "streams": {key: state}}` (`load_streams` / `dump_streams`);
`fetch_streams` is the fetch loop over such streams that the search sources share, and
`scan_pages` the loop over one stream's pages (with `ScanState`, a stream's part of the
cursor), which the review sources, Bluesky and every scaffolded source share.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from monitor.sources.base import Batch, Problem, SourceError

log = logging.getLogger(__name__)


@dataclass
class TimeMark:
    """The newest time seen and the ids seen at that time."""

    at: datetime | None = None
    ids: set[str] = field(default_factory=set)

    def covers(self, at: datetime, native_id: str) -> bool:
        """Already stored: older than the mark, or at the mark and already seen."""
        return self.at is not None and (at < self.at or (at == self.at and native_id in self.ids))

    def passed(self, at: datetime) -> bool:
        """Strictly older than the mark: a newest-first scan that gets here has caught up."""
        return self.at is not None and at < self.at

    def add(self, at: datetime, native_id: str) -> None:
        if self.at is None or at > self.at:
            self.at, self.ids = at, {native_id}
        elif at == self.at:
            self.ids.add(native_id)

    def merge(self, other: TimeMark) -> None:
        if other.at is not None:
            for native_id in other.ids:
                self.add(other.at, native_id)

    def dump(self) -> dict[str, Any]:
        return {"at": self.at.isoformat() if self.at else None, "ids": sorted(self.ids)}

    @classmethod
    def load(cls, data: Mapping[str, Any] | None) -> TimeMark:
        if not data or not data.get("at"):
            return cls()
        return cls(datetime.fromisoformat(data["at"]), set(data.get("ids", [])))


class Mark(Protocol):
    """What `ScanPage` needs of a mark: `TimeMark`, or a source's own (Bluesky's re-read window)."""

    def covers(self, at: datetime, native_id: str) -> bool: ...

    def passed(self, at: datetime) -> bool: ...

    def add(self, at: datetime, native_id: str) -> None: ...


class ScanPage:
    """One page of a newest-first scan, checked item by item against the stored `mark`.

    Every item goes into `top`, the newest the whole scan has seen, which becomes the mark
    once the scan is done; `caught_up` turns True when an item is older than the mark, so
    everything below it is stored already and the scan can end.
    """

    def __init__(self, mark: Mark, top: Mark) -> None:
        self.mark = mark
        self.top = top
        self.caught_up = False

    def is_new(self, at: datetime, native_id: str) -> bool:
        """Note an item the scan read; True if it is not stored yet."""
        self.top.add(at, native_id)
        if self.mark.covers(at, native_id):
            self.caught_up = self.caught_up or self.mark.passed(at)
            return False
        return True


class Scan(Protocol):
    """A stream's open newest-first scan, as `scan_pages` moves it: `ScanState`, or a source's own."""

    mark: Any  # a `Mark`: what is stored
    top: Any  # a `Mark`, the newest the open scan has seen; None: no scan in progress
    at: Any  # where the open scan continues (a page number, a token); None: the newest page
    pages: int  # pages the open scan has read

    def open(self) -> None:
        """Start a scan: a fresh `top`."""

    def finish(self) -> None:
        """The scan reached the mark (or the end): what it saw is stored, so the mark moves up to `top`."""


@dataclass
class ScanState:
    """A stream's part of the cursor: what is stored (`mark`) and the newest-first scan under way.

    Saved as `{"mark": ..., "scan": {"at": ..., "top": ..., "pages": n} | null}`; a source
    whose cursors predate this shape keeps its own `dump`/`load` (the review sources).
    """

    mark: TimeMark = field(default_factory=TimeMark)
    top: TimeMark | None = None
    at: int | str | None = None
    pages: int = 0

    def open(self) -> None:
        self.top = TimeMark()

    def finish(self) -> None:
        if self.top is not None:
            self.mark.merge(self.top)
        self.top, self.at, self.pages = None, None, 0

    def dump(self) -> dict[str, Any]:
        scan = None if self.top is None else {"at": self.at, "top": self.top.dump(), "pages": self.pages}
        return {"mark": self.mark.dump(), "scan": scan}

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> ScanState:
        scan = data.get("scan") or None
        if scan is None:
            return cls(TimeMark.load(data.get("mark")))
        return cls(TimeMark.load(data.get("mark")), TimeMark.load(scan.get("top")), scan.get("at"),
                   int(scan.get("pages", 0)))


Item = TypeVar("Item")
Position = Any  # a page number or a token: whatever the platform pages by


def scan_pages(
    state: Scan,
    read: Callable[[Position], tuple[list[Item], Position]],
    take: Callable[[Item, ScanPage], None],
    *,
    pages: int,
    backfill: int | None = None,
) -> bool:
    """Read up to `pages` pages of one stream's newest-first scan; True if the scan is still unfinished.

    `read(at)` returns a page's items and where the next page is (None: this is the last);
    `take(item, page)` maps one item and keeps it if `page.is_new(...)` says it is not stored
    yet (a malformed item is the caller's Problem). The scan ends when it reaches the stored
    mark, the last page, or, on a stream's very first scan, `backfill` pages: then the mark
    moves up. A `read` that raises leaves the scan where it was, so the next fetch reads that
    page again.
    """
    for _ in range(pages):
        items, following = read(state.at)
        if state.top is None:
            state.open()
        page = ScanPage(state.mark, state.top)
        for item in items:
            take(item, page)
        state.pages += 1
        backfilled = backfill is not None and state.mark.at is None and state.pages >= backfill
        if page.caught_up or following is None or backfilled:
            state.finish()
            return False
        state.at = following
    return True


class _State(Protocol):
    def dump(self) -> dict[str, Any]: ...


S = TypeVar("S")
St = TypeVar("St", bound=_State)


def load_streams(cursor: str | None, load: Callable[[Mapping[str, Any]], S], *, source: str) -> dict[str, S]:
    """Each stream's state in a saved cursor ({} for none); SourceError if it cannot be read."""
    if not cursor:
        return {}
    try:
        return {key: load(value) for key, value in json.loads(cursor)["streams"].items()}
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SourceError(f"sources.{source}: the saved cursor is not readable ({type(exc).__name__})") from None


def dump_streams(streams: Mapping[str, _State]) -> str:
    return json.dumps({"v": 1, "streams": {key: s.dump() for key, s in sorted(streams.items())}}, sort_keys=True)


def fetch_streams(
    cursor: str | None,
    streams: Mapping[str, str],
    scan: Callable[[str, St], bool],
    batch: Batch,
    *,
    load: Callable[[Mapping[str, Any]], St],
    new: Callable[[], St],
    source: str,
    unreadable: type[Exception],
) -> Batch:
    """One fetch over independent streams (search queries, timelines), each with its part of the cursor.

    `streams` maps each stream's cursor key to how messages name it; `scan(key, state)` reads
    a few pages of that stream into `batch`, and returns True if more is ready right now. An
    `unreadable` reply (a 200 that is not the documented shape) skips only that stream, as
    a transient Problem: it is read again on the next fetch. The batch gets the new cursor.
    """
    states = load_streams(cursor, load, source=source)
    for key, where in streams.items():
        state = states.setdefault(key, new())
        try:
            unfinished = scan(key, state)
        except unreadable as exc:
            batch.problems.append(Problem(where, f"{exc}; will retry next fetch", transient=True))
            log.warning("%s: skipped an unreadable reply for %s: %s", source, where, exc)
            continue
        if unfinished:
            batch.exhausted = False
    batch.cursor = dump_streams(states)
    return batch
