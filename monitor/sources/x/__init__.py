"""The X (Twitter) source: recent search through tweepy's API v2 client.

| module | what |
|---|---|
| settings.py | `XSettings` (`sources.x`), pydantic only |
| source.py | `XSource`, the client: queries, cursor, rate limits (imports tweepy) |

`SOURCE` is what the `earshot.sources` entry point names; the factory imports source.py.
"""

from __future__ import annotations

from monitor.plugins import Plugin, lazy
from monitor.sources.x.settings import RECENT_SEARCH_DAYS, XSettings

__all__ = ["RECENT_SEARCH_DAYS", "SOURCE", "XSettings"]

SOURCE = Plugin("x", XSettings, lazy("monitor.sources.x.source:XSource.from_settings"))
