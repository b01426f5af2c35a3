"""The Reddit source: search (and optionally new comments) through praw, read-only.

| module | what |
|---|---|
| settings.py | `RedditSettings` (`sources.reddit`), pydantic only |
| source.py | `RedditSource`, the client: queries, listings, cursor, pacing (imports praw) |

`SOURCE` is what the `earshot.sources` entry point names; the factory imports source.py.
"""

from __future__ import annotations

from monitor.plugins import Plugin, lazy
from monitor.sources.reddit.settings import RedditSettings

__all__ = ["SOURCE", "RedditSettings"]

SOURCE = Plugin("reddit", RedditSettings, lazy("monitor.sources.reddit.source:RedditSource.from_settings"))
