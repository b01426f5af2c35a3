"""The X (Twitter) source: recent search through tweepy's API v2 client.

| module | what |
|---|---|
| settings.py | `XSettings` (`sources.x`), pydantic only |
| queries.py | `build_queries`: brand terms packed into recent-search queries within the length limit |
| cursor.py | `QueryState` per query, the JSON cursor, ids and times |
| client.py | `XClient`: tweepy pointed at the configured host, retries, rate limits, errors (imports tweepy) |
| payloads.py | X API v2 responses validated, a post turned into a `Mention` |
| refresh.py | current engagement of stored posts, 100 ids per lookup |
| source.py | `XSource`: fetch (paging, the cursor's holes) and refresh, wired from the above |

`SOURCE` is what the `earshot.sources` entry point names; the factory imports source.py.
"""

from __future__ import annotations

from monitor.plugins import Plugin, lazy
from monitor.sources.x.settings import RECENT_SEARCH_DAYS, XSettings

__all__ = ["RECENT_SEARCH_DAYS", "SOURCE", "XSettings"]

SOURCE = Plugin("x", XSettings, lazy("monitor.sources.x.source:XSource.from_settings"))
