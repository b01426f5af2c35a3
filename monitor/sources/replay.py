"""Replay a recorded stream of posts and engagement snapshots as if it were live.

The demo scenario, tests and incident post-mortems all use it. Each line of the JSONL
file is one event:

    {"type": "post", "at": "...", "source": "x", "native_id": "1", "url": "...",
     "author": {"handle": "ana", "followers": 120}, "text": "...", "lang": "en",
     "engagement": {"likes": 3}, "rating": null, "title": null}
    {"type": "snapshot", "at": "...", "source": "x", "native_id": "1", "engagement": {"likes": 40}}

The cursor records the byte offset after the last line consumed (and its line number,
for messages), so a resumed run seeks straight to where the last stored batch ended
instead of re-reading the file. With `shift_to_now` the recording is dated as if it had
just happened: every timestamp moves by the same whole number of hours, chosen at the first
fetch so the last event falls within the hour before it, and kept in the cursor so a resumed run stays on the
same dates. A malformed line is reported with file and line number and skipped; it
never stops the rest of the file.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, BinaryIO, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from monitor.config import BrandConfig, SourceSettings
from monitor.models import Engagement, EngagementSnapshot, Mention, utcnow
from monitor.plugins import Plugin, lazy
from monitor.query import BrandQuery
from monitor.quarantine import HEAD_CHARS, record_head
from monitor.sources.base import Batch, Problem, SourceError
from monitor.sources.registry import SourceContext

log = logging.getLogger(__name__)


class _Author(BaseModel):
    model_config = ConfigDict(extra="forbid")
    handle: str
    followers: int = Field(0, ge=0)


class PostEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["post"]
    at: datetime
    source: str
    native_id: str
    url: str
    author: _Author
    text: str
    lang: str | None = None
    title: str | None = None
    rating: int | None = Field(None, ge=1, le=5)
    engagement: Engagement = Field(default_factory=Engagement)


class SnapshotEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["snapshot"]
    at: datetime
    source: str
    native_id: str
    engagement: Engagement


Event = Annotated[PostEvent | SnapshotEvent, Field(discriminator="type")]
_event = TypeAdapter(Event)


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "line"
    more = f" (+{error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{key}: {first['msg']}{more}"


def parse_line(line: str) -> PostEvent | SnapshotEvent:
    """One event from one line; ValueError with a readable message otherwise."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if "\\u" in line:  # only an escape can smuggle in a lone surrogate, which is not text to store
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"contains a lone surrogate ({exc.object[exc.start]!a}), which is not text") from None
    try:
        return _event.validate_python(data)
    except ValidationError as exc:
        raise ValueError(_describe(exc)) from None


class ReplaySettings(SourceSettings):
    """A recorded stream of posts and engagement snapshots, replayed as if live."""

    live: ClassVar[bool] = False

    path: Path | None = None  # None: the bundled demo scenario
    speed: float = Field(0, ge=0)  # 0: as fast as possible; 60: one recorded hour per real minute
    # Date the recording as if it had just happened (the demo): its last event lands at the
    # moment the replay starts. Off for an incident's recording, whose dates are the point.
    shift_to_now: bool = False
    # A longer line is quarantined without being read whole (a 50 MB line once took 7 GB).
    max_line_bytes: int = Field(1 << 20, ge=1024, le=1 << 30)

    def resolved_path(self) -> Path:
        if self.path is not None:
            return self.path
        return Path(str(resources.files("monitor") / "demo" / "scenario.jsonl"))

    def input_files(self) -> dict[str, Path]:
        return {"path": self.path} if self.path is not None else {}


@dataclass(frozen=True)
class ReplayCursor:
    """Where a replay stands: the byte offset and number of the last line consumed, and the date shift."""

    offset: int = 0
    line: int = 0
    shift_seconds: float | None = None  # None: not chosen yet (or not shifting)

    def dump(self) -> str:
        data: dict[str, float] = {"offset": self.offset, "line": self.line}
        if self.shift_seconds is not None:
            data["shift"] = self.shift_seconds
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def load(cls, raw: str | None, path: Path) -> ReplayCursor:
        """A cursor from the store; a bare number is an older cursor (lines consumed), found by counting."""
        if not raw:
            return cls()
        if raw.strip().isdigit():
            return cls(offset=_offset_after_lines(path, int(raw)), line=int(raw))
        try:
            data = json.loads(raw)
            return cls(int(data["offset"]), int(data["line"]),
                       None if data.get("shift") is None else float(data["shift"]))
        except (ValueError, KeyError, TypeError):
            raise SourceError(f"replay cursor {raw!r} for {path} is not one Earshot wrote; "
                              "reset it (delete the 'source:replay' cursor) to replay from the start") from None


def _offset_after_lines(path: Path, lines: int) -> int:
    with path.open("rb") as fh:
        for _ in range(lines):
            if not fh.readline():
                break
        return fh.tell()


def _lines(fh: BinaryIO, max_bytes: int) -> Iterator[tuple[bytes, int, bool]]:
    """(raw line, offset after it, whole) from the current position; a line over `max_bytes` is
    not whole: only its first bytes are returned (for the quarantine), the rest skipped in
    chunks, never held whole in memory.
    """
    while True:
        raw = fh.readline(max_bytes + 1)
        if not raw:
            return
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            while (chunk := fh.readline(1 << 20)) and not chunk.endswith(b"\n"):
                pass
            yield raw[:HEAD_CHARS * 4], fh.tell(), False
            continue
        yield raw, fh.tell(), True


def last_event_time(path: Path, tail_bytes: int = 1 << 16) -> datetime | None:
    """Time of the last readable event in the file, read from its end (the file is in time order)."""
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        span = tail_bytes
        while True:
            start = max(size - span, 0)
            fh.seek(start)
            lines = fh.read(size - start).split(b"\n")
            if start > 0:
                lines = lines[1:]  # the first piece may be the end of a longer line
            for raw in reversed(lines):
                try:
                    return parse_line(raw.decode("utf-8")).at
                except (ValueError, UnicodeDecodeError):
                    continue
            if start == 0:
                return None
            span *= 4


class ReplaySource:
    """A `Source` over a JSONL recording. `speed` 0 replays instantly; 60 plays an hour per minute."""

    name = "replay"

    def __init__(
        self,
        path: Path,
        speed: float = 0,
        batch_size: int = 5000,
        clock: Callable[[], float] = time.monotonic,
        shift_to_now: bool = False,
        now: Callable[[], datetime] = utcnow,
        max_line_bytes: int = 1 << 20,
    ) -> None:
        self.path = Path(path)
        self.speed = speed
        self.batch_size = batch_size
        self.shift_to_now = shift_to_now
        self.max_line_bytes = max_line_bytes
        self._clock = clock
        self._now = now
        self._started: tuple[float, datetime] | None = None  # (wall clock, recorded time) at first fetch
        if not self.path.is_file():
            raise SourceError(f"replay file not found: {self.path}")

    @classmethod
    def from_settings(cls, settings: ReplaySettings, context: SourceContext,
                      now: Callable[[], datetime] = utcnow) -> ReplaySource:
        return cls(context.resolve(settings.resolved_path()), speed=settings.speed,
                   shift_to_now=settings.shift_to_now, now=now, max_line_bytes=settings.max_line_bytes)

    def _released_until(self, first_event: datetime) -> datetime | None:
        """Recorded time the replay clock has reached; None means everything is released."""
        if self.speed <= 0:
            return None
        if self._started is None:
            self._started = (self._clock(), first_event)
        wall0, recorded0 = self._started
        return recorded0 + timedelta(seconds=(self._clock() - wall0) * self.speed)

    def _shift(self, cursor: ReplayCursor) -> float | None:
        if not self.shift_to_now or cursor.shift_seconds is not None:
            return cursor.shift_seconds
        last = last_event_time(self.path)
        if last is None:
            return None
        # Whole hours, so every event keeps its minute of the hour: detection reads a brand's level
        # per clock hour, and a demo dated to the exact second would alert differently by the minute
        # it is run. The last event so falls within the hour before now.
        return (self._now() - last) // timedelta(hours=1) * 3600.0

    def fetch(self, brands: Sequence[BrandConfig], cursor: str | None) -> Batch:
        position = ReplayCursor.load(cursor, self.path)
        shift_seconds = self._shift(position)
        shift = timedelta(seconds=shift_seconds or 0)
        batch = Batch(cursor=cursor)
        consumed, lineno, offset = 0, position.line, position.offset
        released: datetime | None | Literal["unset"] = "unset"

        def skip(message: str, raw: bytes) -> None:
            problem = Problem(f"{self.path}:{lineno}", message, head=record_head(raw))
            log.warning("quarantined malformed replay line %s", problem)
            batch.problems.append(problem)

        queries = [(brand, brand.compiled) for brand in brands]  # looked up once, not per post and brand
        with self.path.open("rb") as fh:
            fh.seek(offset)
            for raw, end, whole in _lines(fh, self.max_line_bytes):
                if consumed >= self.batch_size:
                    batch.exhausted = False
                    break
                lineno += 1
                if not whole:
                    skip(f"line longer than {self.max_line_bytes:,} bytes, not read", raw)
                elif raw.strip():
                    try:
                        event = parse_line(raw.decode("utf-8").rstrip("\r\n"))
                    except UnicodeDecodeError as exc:
                        skip(f"not valid UTF-8 (byte {exc.start + 1})", raw)
                    except ValueError as exc:
                        skip(str(exc), raw)
                    else:
                        if released == "unset":
                            released = self._released_until(event.at)
                        if released is not None and event.at > released:
                            lineno -= 1
                            break  # recorded in the future of the replay clock: nothing more is ready now
                        self._apply(event.model_copy(update={"at": event.at + shift}) if shift else event, queries,
                                    batch)
                consumed += 1
                offset = end
        if consumed:  # where the next fetch starts: after the last line read (a stop leaves the rest)
            batch.cursor = ReplayCursor(offset, lineno, shift_seconds).dump()
        return batch
    @staticmethod
    def _apply(event: PostEvent | SnapshotEvent, queries: Sequence[tuple[BrandConfig, BrandQuery]],
               batch: Batch) -> None:
        mention_id = Mention.make_id(event.source, event.native_id)
        if isinstance(event, SnapshotEvent):
            batch.snapshots.append(
                EngagementSnapshot(mention_id=mention_id, observed_at=event.at, engagement=event.engagement)
            )
            return
        searchable = f"{event.title or ''} {event.text}"
        for brand, compiled in queries:
            query = compiled.match(searchable, lang=event.lang, source=event.source, author=event.author.handle)
            if query is None:
                continue
            batch.mentions.append(
                Mention(
                    id=mention_id, source=event.source, native_id=event.native_id, url=event.url,
                    author_handle=event.author.handle, author_followers=event.author.followers,
                    text=event.text, title=event.title, lang=event.lang, created_at=event.at,
                    brand=brand.name, query=query, engagement=event.engagement, rating=event.rating,
                )
            )
            # First sight is the first point of the post's engagement curve.
            batch.snapshots.append(
                EngagementSnapshot(mention_id=mention_id, observed_at=event.at, engagement=event.engagement)
            )
            return

    def refresh(self, mentions: Sequence[Mention]) -> list[EngagementSnapshot]:
        # Engagement arrives in the recording itself, as snapshot events.
        return []


# What the `earshot.sources` entry point names. The replay needs no SDK, but its factory is
# lazy like every other's, so all sources are found, validated and built the same way.
SOURCE = Plugin("replay", ReplaySettings, lazy("monitor.sources.replay:ReplaySource.from_settings"))
