"""The Bluesky source: posts mentioning the brands, from `app.bsky.feed.searchPosts` through atproto.

| module | what |
|---|---|
| settings.py | `BlueskySettings` (`sources.bluesky`) and its credential variables, pydantic only |
| source.py | `BlueskySource`: log-in, search, cursor, refresh (imports atproto) |

`SOURCE` is what the `earshot.sources` entry point names; the factory imports source.py.
"""

from __future__ import annotations

from monitor.plugins import Plugin, lazy
from monitor.sources.bluesky.settings import HANDLE_ENV, PASSWORD_ENV, BlueskySettings

__all__ = ["HANDLE_ENV", "PASSWORD_ENV", "SOURCE", "BlueskySettings"]

SOURCE = Plugin("bluesky", BlueskySettings, lazy("monitor.sources.bluesky.source:BlueskySource.from_settings"))
