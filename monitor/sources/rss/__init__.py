"""The RSS/Atom source: news sites, blogs, status pages, alert feeds.

| module | what |
|---|---|
| settings.py | `RSSSettings` (`sources.rss`) and `FeedSettings`, pydantic only |
| source.py | `RSSSource`: conditional GETs, paging, the per-feed cursor (imports feedparser, httpx) |

`SOURCE` is what the `earshot.sources` entry point names; the factory imports source.py.
"""

from __future__ import annotations

from monitor.plugins import Plugin, lazy
from monitor.sources.rss.settings import FeedSettings, RSSSettings

__all__ = ["SOURCE", "FeedSettings", "RSSSettings"]

SOURCE = Plugin("rss", RSSSettings, lazy("monitor.sources.rss.source:RSSSource.from_settings"))
