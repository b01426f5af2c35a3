"""A real SQLite store with one alert on one post of a platform's fake, and a desk that replies through it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor.config import Config
from monitor.models import Alert, Mention, Severity
from monitor.replies.desk import ReplyDesk
from monitor.store import SQLiteStore, Store
from tests.conftest import demo_config
from tests.replies.platforms import POSTED_AT, Platform

RAISED_AT = POSTED_AT + timedelta(minutes=10)


class StepClock:
    """A clock that moves one second per reading, from a fixed date: ordered, and never today's."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class Scene:
    store: Store
    config: Config
    platform: Platform
    desk: ReplyDesk
    clock: StepClock

    def post(self, text: str = "Brisa Mobile charged me twice this month", *, lang: str = "en",
             topic: str | None = "billing", severities: tuple[Severity, ...] = (Severity.warning,)) -> Alert:
        """A post on the platform, stored as a mention, with an alert per severity; the most severe is returned."""
        native_id, url = self.platform.publish(text)
        mention = Mention(id=Mention.make_id(self.platform.source, native_id), source=self.platform.source,
                          native_id=native_id, url=url, author_handle="ana_sousa", text=text, lang=lang,
                          created_at=POSTED_AT, brand="Brisa Mobile", query="brisa mobile", topic=topic)
        self.store.ingest([mention], [])
        alerts = [Alert(id=f"{mention.id}:{s.value}", mention_id=mention.id, brand="Brisa Mobile", severity=s,
                        created_at=RAISED_AT, reason="spreading fast", topic=topic) for s in severities]
        for alert in alerts:
            self.store.add_alert(alert)
        return alerts[-1]


def make_scene(tmp_path: Path, platform: Platform, store: Store | None = None) -> Iterator[Scene]:
    """The platform's scene on `store` (default: a new SQLite file, closed afterwards)."""
    config = demo_config(tmp_path)
    config.replies.platforms[platform.source] = platform.settings
    own = store is None
    active = SQLiteStore(tmp_path / "replies.db") if store is None else store
    try:
        yield Scene(active, config, platform, ReplyDesk(config, environ=platform.environ), StepClock(RAISED_AT))
    finally:
        if own:
            active.close()
