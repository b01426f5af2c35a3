"""Replay a recorded stream of posts and engagement snapshots as if it were live.

The demo scenario, tests and incident post-mortems all use it. Each line of the JSONL
file is one event:

    {"type": "post", "at": "...", "source": "x", "native_id": "1", "url": "...",
     "author": {"handle": "ana", "followers": 120}, "text": "...", "lang": "en",
     "engagement": {"likes": 3}, "rating": null, "title": null}
    {"type": "snapshot", "at": "...", "source": "x", "native_id": "1", "engagement": {"likes": 40}}

The cursor is the number of the last line consumed, so a resumed run continues exactly
where the last stored batch ended. A malformed line is reported with file and line
number and skipped; it never stops the rest of the file.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from importlib import resources
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from monitor.config import BrandConfig, Config, SourceSettings
from monitor.models import Engagement, EngagementSnapshot, Mention
from monitor.sources.base import Batch, Problem, SourceError

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
    try:
        return _event.validate_python(data)
    except ValidationError as exc:
        raise ValueError(_describe(exc)) from None


class ReplaySettings(SourceSettings):
    """A recorded stream of posts and engagement snapshots, replayed as if live."""

    live: ClassVar[bool] = False

    path: Path | None = None  # None: the bundled demo scenario
    speed: float = Field(0, ge=0)  # 0: as fast as possible; 60: one recorded hour per real minute

    def resolved_path(self) -> Path:
        if self.path is not None:
            return self.path
        return Path(str(resources.files("monitor") / "demo" / "scenario.jsonl"))


class ReplaySource:
    """A `Source` over a JSONL recording. `speed` 0 replays instantly; 60 plays an hour per minute."""

    name = "replay"
    settings_model = ReplaySettings

    def __init__(
        self,
        path: Path,
        speed: float = 0,
        batch_size: int = 500,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.speed = speed
        self.batch_size = batch_size
        self._clock = clock
        self._started: tuple[float, datetime] | None = None  # (wall clock, recorded time) at first fetch
        if not self.path.is_file():
            raise SourceError(f"replay file not found: {self.path}")

    @classmethod
    def from_config(cls, config: Config) -> ReplaySource:
        settings = config.sources["replay"]
        assert isinstance(settings, ReplaySettings)
        return cls(config.resolve(settings.resolved_path()), speed=settings.speed)

    def _released_until(self, first_event: datetime) -> datetime | None:
        """Recorded time the replay clock has reached; None means everything is released."""
        if self.speed <= 0:
            return None
        if self._started is None:
            self._started = (self._clock(), first_event)
        wall0, recorded0 = self._started
        return recorded0 + timedelta(seconds=(self._clock() - wall0) * self.speed)

    def fetch(self, brands: Sequence[BrandConfig], cursor: str | None) -> Batch:
        done = int(cursor) if cursor else 0
        batch = Batch(cursor=cursor)
        consumed = 0
        released: datetime | None | Literal["unset"] = "unset"
        with self.path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if lineno <= done:
                    continue
                if consumed >= self.batch_size:
                    batch.exhausted = False
                    break
                if not line.strip():
                    consumed += 1
                    batch.cursor = str(lineno)
                    continue
                try:
                    event = parse_line(line.rstrip("\r\n"))
                except ValueError as exc:
                    problem = Problem(f"{self.path}:{lineno}", str(exc))
                    log.warning("skipped malformed replay line %s", problem)
                    batch.problems.append(problem)
                    consumed += 1
                    batch.cursor = str(lineno)
                    continue
                if released == "unset":
                    released = self._released_until(event.at)
                if released is not None and event.at > released:
                    break  # recorded in the future of the replay clock: nothing more is ready now
                self._apply(event, brands, batch)
                consumed += 1
                batch.cursor = str(lineno)
        return batch

    @staticmethod
    def _apply(event: PostEvent | SnapshotEvent, brands: Sequence[BrandConfig], batch: Batch) -> None:
        mention_id = Mention.make_id(event.source, event.native_id)
        if isinstance(event, SnapshotEvent):
            batch.snapshots.append(
                EngagementSnapshot(mention_id=mention_id, observed_at=event.at, engagement=event.engagement)
            )
            return
        searchable = f"{event.title or ''} {event.text}"
        for brand in brands:
            query = brand.match(searchable)
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
