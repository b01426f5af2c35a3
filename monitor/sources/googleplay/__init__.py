"""The Google Play source: the newest reviews of the configured apps, through google-play-scraper.

| module | what |
|---|---|
| settings.py | `GooglePlaySettings` (`sources.googleplay`) and `PlayApp`, pydantic only |
| source.py | `GooglePlaySource`: the library, routed and retried (imports google-play-scraper); the loop is `monitor.sources.reviews` |

`SOURCE` is what the `earshot.sources` entry point names; the factory imports source.py.
"""

from __future__ import annotations

from monitor.plugins import Plugin, lazy
from monitor.sources.googleplay.settings import GooglePlaySettings, PlayApp

__all__ = ["SOURCE", "GooglePlaySettings", "PlayApp"]

SOURCE = Plugin("googleplay", GooglePlaySettings,
                lazy("monitor.sources.googleplay.source:GooglePlaySource.from_settings"))
