"""The Reddit source: search (and optionally new comments) through praw, read-only.

| module | what |
|---|---|
| settings.py | `RedditSettings` (`sources.reddit`), pydantic only |
| queries.py, cursor.py | search queries and windows; per-listing watermarks, the JSON cursor |
| things.py | submissions and comments as Reddit sends them, validated (imports praw) |
| transport.py | every HTTP request praw makes: paced, retried, given up on cleanly |
| source.py | `RedditSource`: fetch, refresh, errors that name their cause |

`SOURCE` is what the `earshot.sources` entry point names; the factory imports source.py.
"""

from __future__ import annotations

from monitor.plugins import Plugin, lazy
from monitor.sources.reddit.settings import RedditSettings

__all__ = ["SOURCE", "RedditSettings"]

SOURCE = Plugin("reddit", RedditSettings, lazy("monitor.sources.reddit.source:RedditSource.from_settings"))
