"""The Mastodon source: one instance's hashtag timelines and status search, through Mastodon.py.

| module | what |
|---|---|
| settings.py | `MastodonSettings` (`sources.mastodon`) and its credential variable, pydantic only |
| source.py | `MastodonSource`: timelines, search, cursor, refresh (imports Mastodon.py) |

`SOURCE` is what the `earshot.sources` entry point names; the factory imports source.py.
"""

from __future__ import annotations

from monitor.plugins import Plugin, lazy
from monitor.sources.mastodon.settings import TOKEN_ENV, MastodonSettings

__all__ = ["SOURCE", "TOKEN_ENV", "MastodonSettings"]

SOURCE = Plugin("mastodon", MastodonSettings, lazy("monitor.sources.mastodon.source:MastodonSource.from_settings"))
